-- Benchmark data for the workflow benchmark (bench/workflow.sh): one project with many tasks,
-- in the style of scripts/seed.sql (the same users and password, word lists, and status, due
-- date, label and assignee distributions), so that a list or board read pages through a
-- 100,000-task project.
--
--   psql "$DATABASE_URL" -v tasks=100000 -v users=20 -f bench/workflow-seed.sql
--
-- The database must be migrated and empty. Every user is bench-<n>@example.com with the password
-- "benchmark passphrase"; bench-1 owns the project "Board", the others are editors. On a schema
-- with the workflow (states, subtasks, relations: V20261220000001), one task in fifty gets four
-- subtasks and one in twenty is blocked by another, so that bodies carry real counts; the
-- tasks themselves are the same on either schema.

\set ON_ERROR_STOP on
\if :{?tasks}
\else
  \set tasks 100000
\endif
\if :{?users}
\else
  \set users 20
\endif
\set password_hash '$argon2id$v=19$m=19456,t=2,p=1$2DBWzH2J+0BbnyGfm8biAA$cI6CMrdzr54+1Xfsxn3o57B4LadRcoee4aL4oj3zCRM'

BEGIN;
SET LOCAL synchronous_commit = off;
SET LOCAL gin_pending_list_limit = '64MB';
SELECT setseed(0.42);

CREATE FUNCTION pg_temp.seed_uuid_v7(ts timestamptz) RETURNS uuid
LANGUAGE sql VOLATILE AS $$
    SELECT encode(
        set_bit(set_bit(
            overlay(uuid_send(gen_random_uuid())
                    PLACING substring(int8send(floor(extract(epoch FROM ts) * 1000)::bigint) FROM 3)
                    FROM 1 FOR 6),
            52, 1), 53, 1),
        'hex')::uuid
$$;

CREATE FUNCTION pg_temp.seed_pick(words text[]) RETURNS text
LANGUAGE sql VOLATILE AS $$
    SELECT words[1 + floor(random() * cardinality(words))::int]
$$;

CREATE TEMP TABLE seed_vocab ON COMMIT DROP AS SELECT
    ARRAY['Fix', 'Add', 'Update', 'Remove', 'Refactor', 'Investigate', 'Document', 'Deploy',
          'Migrate', 'Optimize', 'Review', 'Test', 'Design', 'Implement', 'Upgrade', 'Configure']
        AS verbs,
    ARRAY['the login page', 'the search index', 'the payment flow', 'the database migration',
          'the API rate limiter', 'the onboarding email', 'the dashboard charts', 'the cache layer',
          'CSV export', 'the user settings page', 'the notification service', 'the release notes',
          'the backup job', 'dark mode', 'the mobile layout', 'the webhook handler',
          'the audit log', 'password reset', 'the invoice generator', 'the CI pipeline']
        AS objects,
    ARRAY['', '', '', ' before the release', ' on staging', ' for mobile users',
          ' in the admin panel', ' behind a feature flag']
        AS contexts,
    ARRAY['Customers reported this twice last week.',
          'Steps to reproduce are in the support ticket.',
          'This blocks the next release.',
          'We agreed on the approach in the planning meeting.',
          'The current behaviour times out under load.',
          'Needs a review from the security team before merging.',
          'The logs show intermittent failures since the last deploy.',
          'Keep the old endpoint working until clients have migrated.',
          'Performance regressed by about thirty percent.',
          'The error message is confusing for new users.',
          'Low risk, but touches the billing code.',
          'Remember to update the changelog.']
        AS sentences;

CREATE TEMP TABLE seed_users ON COMMIT DROP AS
SELECT i, pg_temp.seed_uuid_v7(now() - interval '400 days' + i * interval '1 hour') AS id
FROM generate_series(1, :users) AS i;

INSERT INTO users (id, email, name, password_hash, role)
SELECT id, 'bench-' || i || '@example.com', 'Bench ' || i, :'password_hash',
       CASE WHEN i = 1 THEN 'admin' ELSE 'user' END
FROM seed_users ORDER BY i;

INSERT INTO projects (id, name, next_task_number, task_count, created_at, updated_at)
VALUES (pg_temp.seed_uuid_v7(now() - interval '365 days'), 'Board', :tasks + 1, :tasks,
        now() - interval '365 days', now() - interval '365 days');
INSERT INTO memberships (project_id, user_id, role)
SELECT p.id, u.id, CASE WHEN u.i = 1 THEN 'owner' ELSE 'editor' END
FROM projects p CROSS JOIN seed_users u;

-- Tasks in creation order over a year; statuses by age as in scripts/seed.sql.
INSERT INTO tasks (id, project_id, number, title, description, status, priority, due_date,
                   labels, assignee_id, created_by, completed_at, created_at, updated_at)
SELECT pg_temp.seed_uuid_v7(t.created_at), t.project_id, t.number,
       pg_temp.seed_pick(v.verbs) || ' ' || pg_temp.seed_pick(v.objects)
           || pg_temp.seed_pick(v.contexts),
       CASE WHEN t.r_desc < 0.25 THEN ''
            WHEN t.r_desc < 0.6 THEN pg_temp.seed_pick(v.sentences)
            ELSE pg_temp.seed_pick(v.sentences) || ' ' || pg_temp.seed_pick(v.sentences)
       END,
       t.status, t.priority, t.due_date, t.labels, t.assignee_id, t.created_by,
       CASE WHEN t.status = 'done' THEN t.created_at + interval '1 day' END,
       t.created_at, t.created_at
FROM (
    SELECT s.*,
           CASE WHEN s.r_status < 0.06 THEN 'canceled'
                WHEN s.r_status < 0.06 + s.p_done THEN 'done'
                WHEN s.r_status < 0.06 + s.p_done + 0.3 * (0.94 - s.p_done) THEN 'in_progress'
                ELSE 'todo'
           END AS status
    FROM (
        SELECT p.id AS project_id, g AS number,
               now() - interval '365 days' + (g - 1) * (interval '365 days' / :tasks) AS created_at,
               random() AS r_status, random() AS r_desc,
               0.15 + 0.6 * least((:tasks - g)::float8 / (:tasks / 2.0), 1) AS p_done,
               (ARRAY[0, 0, 0, 0, 0, 1, 1, 2, 3, 4])[1 + floor(random() * 10)::int]::smallint
                   AS priority,
               CASE WHEN random() < 0.3 THEN NULL
                    ELSE current_date + floor(random() * 731 - 365)::int END AS due_date,
               (array_remove(ARRAY[
                   CASE WHEN random() < 0.15 THEN 'backend' END,
                   CASE WHEN random() < 0.25 THEN 'bug' END,
                   CASE WHEN random() < 0.20 THEN 'feature' END,
                   CASE WHEN random() < 0.12 THEN 'frontend' END], NULL)) AS labels,
               CASE WHEN random() < 0.35 THEN NULL
                    ELSE (SELECT id FROM seed_users WHERE i = 1 + (g % :users)) END AS assignee_id,
               (SELECT id FROM seed_users WHERE i = 1 + ((g * 7) % :users)) AS created_by
        FROM projects p CROSS JOIN generate_series(1, :tasks) AS g
    ) s
) t
CROSS JOIN seed_vocab v
ORDER BY t.created_at;

SELECT to_regclass('task_relations') IS NOT NULL AS workflow \gset
\if :workflow
-- Subtasks spread over the whole project as people make them: one task in fifty has four
-- (the tasks numbered 10, 20, 30 and 40 after it; the counting triggers keep its counts), and
-- one task in twenty is blocked by the task created just before it.
UPDATE tasks SET parent_id = p.id
FROM tasks p
WHERE tasks.number % 10 = 0 AND tasks.number % 50 <> 0
  AND p.project_id = tasks.project_id AND p.number = tasks.number - tasks.number % 50 + 1;
INSERT INTO task_relations (id, kind, source_id, target_id)
SELECT gen_random_uuid(), 'blocks', b.id, t.id
FROM tasks t JOIN tasks b ON b.project_id = t.project_id AND b.number = t.number - 1
WHERE t.number % 20 = 7;
\endif
COMMIT;

-- The same physical order on either schema (the workflow's updates above moved some rows to the
-- table's end): creation order, as the seed inserted them.
CLUSTER tasks USING tasks_project_created;
VACUUM (ANALYZE) users, projects, memberships, tasks;
SELECT count(*) AS tasks, count(*) FILTER (WHERE status = 'todo') AS todo FROM tasks;
