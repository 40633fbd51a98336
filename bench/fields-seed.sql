-- Ten custom fields on the project "Board" of bench/workflow-seed.sql (a select of five
-- options, a number, a date, a checkbox, a user, two texts, a multi_select, a url, a second
-- number), each task holding values for most of them. Used by bench/fields.sh,
-- bench/fields-http.sh and bench/templates.sh:
--   psql "$DATABASE_URL" -v ON_ERROR_STOP=1 -f bench/fields-seed.sql
SELECT setseed(0.24);
CREATE TEMP TABLE p AS SELECT id FROM projects WHERE name = 'Board';
INSERT INTO custom_fields (id, project_id, name, kind, options, position)
SELECT gen_random_uuid(), (SELECT id FROM p), k.name, k.kind,
       CASE WHEN k.kind IN ('select', 'multi_select') THEN
         (SELECT jsonb_agg(jsonb_build_object('id', gen_random_uuid(), 'name', 'o' || i, 'color', '#6b7280'))
          FROM generate_series(1, 5) i) ELSE '[]' END, k.n
FROM (VALUES (0, 'Size', 'select'), (1, 'Points', 'number'), (2, 'Due', 'date'),
             (3, 'Done', 'checkbox'), (4, 'Owner', 'user'), (5, 'Notes', 'text'),
             (6, 'Summary', 'text'), (7, 'Tags', 'multi_select'), (8, 'Link', 'url'),
             (9, 'Cost', 'number')) k(n, name, kind);
CREATE TEMP TABLE f AS SELECT name, id::text AS id, options FROM custom_fields WHERE project_id = (SELECT id FROM p);
UPDATE tasks t SET fields = jsonb_strip_nulls(jsonb_build_object(
  (SELECT id FROM f WHERE name = 'Size'), (SELECT options -> (floor(random() * 5))::int ->> 'id' FROM f WHERE name = 'Size' AND t.id IS NOT NULL),
  (SELECT id FROM f WHERE name = 'Points'), CASE WHEN random() < 0.9 THEN round((random() * 100)::numeric, 1) END,
  (SELECT id FROM f WHERE name = 'Due'), CASE WHEN random() < 0.7 THEN to_char(date '2026-01-01' + (random() * 365)::int, 'YYYY-MM-DD') END,
  (SELECT id FROM f WHERE name = 'Done'), random() < 0.5,
  (SELECT id FROM f WHERE name = 'Owner'), t.created_by::text,
  (SELECT id FROM f WHERE name = 'Notes'), 'note ' || t.number,
  (SELECT id FROM f WHERE name = 'Summary'), CASE WHEN random() < 0.5 THEN 'summary of ' || t.title END,
  (SELECT id FROM f WHERE name = 'Tags'), (SELECT jsonb_build_array(options -> (floor(random() * 5))::int ->> 'id') FROM f WHERE name = 'Tags' AND t.id IS NOT NULL),
  (SELECT id FROM f WHERE name = 'Link'), 'https://example.com/' || t.number,
  (SELECT id FROM f WHERE name = 'Cost'), (random() * 1000)::int));
