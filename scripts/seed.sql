-- Benchmark data for Docket: users, their Inboxes, shared projects with members, and tasks.
--
--   psql "$DATABASE_URL" -v users=1000 -v projects=10000 -v tasks=1000000 -f scripts/seed.sql
--
-- Every -v is optional (the values above are the defaults; -v seed=0.42 fixes the random
-- sequence). The database must be migrated (`docket migrate`) and hold no users, projects or
-- tasks: the script refuses otherwise, and it runs in one transaction, so a failure leaves
-- nothing behind. The default size takes about a minute and a half (docs/performance.md).
--
-- Every user can log in as bench-<n>@example.com with the password "benchmark passphrase";
-- bench-1 is the instance admin. All users share one argon2id hash (m=19456, t=2, p=1, the
-- server's own parameters, so no rehash happens on login).
--
-- Shape: each user has an Inbox; the regular projects have 1–5 members (one owner, the others
-- viewer/editor/admin), and members are drawn with a skew, so a few users belong to hundreds
-- of projects and most to a few dozen. Tasks are spread over projects with a heavy tail
-- (Pareto): most projects hold tens of tasks, the biggest tens of thousands. Within a project,
-- `number` is 1..n in creation order and ids are UUIDv7 built from `created_at`. Tasks are
-- inserted in global `created_at` order, as a live instance would have written them.

\set ON_ERROR_STOP on
\timing on
\if :{?users}
\else
  \set users 1000
\endif
\if :{?projects}
\else
  \set projects 10000
\endif
\if :{?tasks}
\else
  \set tasks 1000000
\endif
\if :{?seed}
\else
  \set seed 0.42
\endif
\set password_hash '$argon2id$v=19$m=19456,t=2,p=1$2DBWzH2J+0BbnyGfm8biAA$cI6CMrdzr54+1Xfsxn3o57B4LadRcoee4aL4oj3zCRM'

\echo seeding :users users, :projects projects, :tasks tasks

BEGIN;
SET LOCAL work_mem = '256MB';
SET LOCAL synchronous_commit = off;
-- Fewer, larger merges of the full-text GIN index's pending list during the bulk insert.
SET LOCAL gin_pending_list_limit = '64MB';

DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM users) OR EXISTS (SELECT 1 FROM projects)
       OR EXISTS (SELECT 1 FROM tasks) THEN
        RAISE EXCEPTION 'scripts/seed.sql needs a migrated database without users, projects or tasks';
    END IF;
END $$;

SELECT (:users)::int >= 1 AND (:projects)::int >= 0 AND (:tasks)::bigint >= 0 AS seed_args_ok \gset
\if :seed_args_ok
\else
  DO $$ BEGIN RAISE EXCEPTION 'seed.sql: users must be >= 1, projects and tasks >= 0'; END $$;
\endif

SELECT setseed(:seed) \gset

-- PostgreSQL 15 has no uuidv7(): 48 bits of Unix milliseconds over a random v4, whose version
-- nibble 0100 becomes 0111 by setting two bits. Session-local: nothing is left in the schema.
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

-- Word lists for names, titles and descriptions: real words, so that full-text search has
-- something to find (q=deploying finds "Deploy ...").
CREATE TEMP TABLE seed_vocab ON COMMIT DROP AS SELECT
    ARRAY['Ada', 'Ben', 'Chloe', 'Dev', 'Elena', 'Farid', 'Grace', 'Hiro', 'Ines', 'Jonas',
          'Kemi', 'Lars', 'Mei', 'Nora', 'Omar', 'Priya', 'Quinn', 'Rosa', 'Sam', 'Tomas']
        AS first_names,
    ARRAY['Almeida', 'Brown', 'Chen', 'Dubois', 'Eriksen', 'Fischer', 'García', 'Haddad',
          'Ivanova', 'Jensen', 'Kowalski', 'Lopez', 'Müller', 'Nakamura', 'Okafor', 'Patel',
          'Rossi', 'Singh', 'Tanaka', 'Weber']
        AS last_names,
    ARRAY['Apollo', 'Atlas', 'Beacon', 'Billing', 'Checkout', 'Comet', 'Data platform',
          'Design system', 'Docs', 'Falcon', 'Growth', 'Helios', 'Infrastructure', 'Marketing site',
          'Mobile app', 'Onboarding', 'Orion', 'Payments', 'Phoenix', 'Search', 'Security',
          'Support tools', 'Website', 'Warehouse']
        AS project_prefixes,
    ARRAY['backlog', 'launch', 'roadmap', 'migration', 'v2', 'redesign', 'cleanup',
          'sprint board', 'quarterly goals', 'maintenance']
        AS project_suffixes,
    ARRAY['Fix', 'Add', 'Update', 'Remove', 'Refactor', 'Investigate', 'Document', 'Deploy',
          'Migrate', 'Optimize', 'Review', 'Test', 'Design', 'Implement', 'Upgrade', 'Configure',
          'Clean up', 'Write', 'Improve', 'Debug', 'Automate', 'Monitor', 'Translate', 'Archive']
        AS verbs,
    ARRAY['the login page', 'the search index', 'the payment flow', 'the database migration',
          'the API rate limiter', 'the onboarding email', 'the dashboard charts', 'the cache layer',
          'error handling in the importer', 'CSV export', 'the user settings page',
          'the notification service', 'the release notes', 'the unit tests', 'the backup job',
          'dark mode', 'the mobile layout', 'the webhook handler', 'the audit log',
          'password reset', 'the invoice generator', 'the signup form', 'the billing report',
          'the Kubernetes manifests', 'the CI pipeline', 'the staging environment',
          'the image uploader', 'session timeouts', 'the pricing page', 'the GraphQL schema',
          'the customer survey', 'the accessibility audit', 'the load balancer config',
          'the SSO integration', 'the analytics events', 'the feature flags',
          'the error budget alerts', 'the sitemap', 'the Terraform modules', 'the PDF renderer']
        AS objects,
    ARRAY['', '', '', '', ' before the release', ' on staging', ' for mobile users',
          ' after the outage', ' in the admin panel', ' for enterprise customers', ' in Safari',
          ' behind a feature flag', ' for the new region', ' before the audit',
          ' for the marketing launch', ' on Android']
        AS contexts,
    ARRAY['Customers reported this twice last week.',
          'Steps to reproduce are in the support ticket.',
          'This blocks the next release.',
          'We agreed on the approach in the planning meeting.',
          'The current behaviour times out under load.',
          'See the design mockups in the shared folder.',
          'Needs a review from the security team before merging.',
          'The logs show intermittent failures since the last deploy.',
          'Keep the old endpoint working until clients have migrated.',
          'Add tests that cover the edge cases.',
          'Performance regressed by about thirty percent.',
          'Check with the data team whether the schema can change.',
          'The error message is confusing for new users.',
          'This was flagged during the accessibility review.',
          'Estimate is two days, including documentation.',
          'Only affects accounts created before March.',
          'Low risk, but touches the billing code.',
          'Pair with someone from the platform team.',
          'The dashboard should update without a page reload.',
          'Remember to update the changelog.',
          'Translations are missing for German and Japanese.',
          'The cron job runs every night at two.',
          'Monitoring alerts fired three times yesterday.',
          'Refactoring first will make the fix much smaller.',
          'Roll out gradually and watch the error rate.']
        AS sentences;

-- Users: bench-1 .. bench-N, created over a month a little more than a year ago.
CREATE TEMP TABLE seed_users ON COMMIT DROP AS
SELECT i, pg_temp.seed_uuid_v7(created_at) AS id, created_at
FROM (SELECT i, now() - interval '400 days' + (i - 1) * (interval '30 days' / :users) AS created_at
      FROM generate_series(1, :users) AS i) s;
ALTER TABLE seed_users ADD PRIMARY KEY (i);

INSERT INTO users (id, email, name, password_hash, role, created_at)
SELECT u.id, 'bench-' || u.i || '@example.com',
       v.first_names[1 + u.i % 20] || ' ' || v.last_names[1 + (u.i / 20) % 20],
       :'password_hash', CASE WHEN u.i = 1 THEN 'admin' ELSE 'user' END, u.created_at
FROM seed_users u CROSS JOIN seed_vocab v
ORDER BY u.i;

-- Projects: regular ones 1..P created over the past year, then one Inbox per user.
-- `weight` decides each project's share of the tasks: Pareto (alpha 1.2, capped) for regular
-- projects, a small uniform share for Inboxes.
CREATE TEMP TABLE seed_projects (
    i           int PRIMARY KEY,
    id          uuid NOT NULL,
    inbox_of    int,
    owner_i     int NOT NULL,
    created_at  timestamptz NOT NULL,
    weight      bigint NOT NULL,
    n           bigint,
    members     uuid[],
    writers     uuid[]
) ON COMMIT DROP;

INSERT INTO seed_projects (i, id, inbox_of, owner_i, created_at, weight)
SELECT i, pg_temp.seed_uuid_v7(created_at), NULL, owner_i, created_at, weight
FROM (SELECT i,
             now() - interval '365 days' * random() AS created_at,
             -- skewed: low-numbered users own (and below, join) far more projects
             1 + floor(:users * random() ^ 2)::int AS owner_i,
             round(1000 * least((1 - random()) ^ (-1 / 1.2), 3000))::bigint AS weight
      FROM generate_series(1, :projects) AS i) s;

INSERT INTO seed_projects (i, id, inbox_of, owner_i, created_at, weight)
SELECT :projects + u.i, pg_temp.seed_uuid_v7(u.created_at), u.i, u.i, u.created_at,
       round(1000 * 2 * random())::bigint
FROM seed_users u;

-- Task counts: each project's share of the exact total, by integer arithmetic on cumulative
-- weights, so the counts add up to :tasks.
WITH cumulative AS (
    SELECT i, (sum(weight) OVER (ORDER BY i))::bigint AS upto, (sum(weight) OVER ())::bigint AS total
    FROM seed_projects
)
UPDATE seed_projects p
SET n = (:tasks::bigint * c.upto) / greatest(c.total, 1)
        - (:tasks::bigint * (c.upto - p.weight)) / greatest(c.total, 1)
FROM cumulative c
WHERE c.i = p.i;

INSERT INTO projects (id, name, description, inbox_of, next_task_number, created_at, updated_at)
SELECT p.id,
       CASE WHEN p.inbox_of IS NOT NULL THEN 'Inbox'
            ELSE pg_temp.seed_pick(v.project_prefixes) || ' ' || pg_temp.seed_pick(v.project_suffixes)
       END,
       CASE WHEN p.inbox_of IS NOT NULL OR random() < 0.4 THEN ''
            ELSE pg_temp.seed_pick(v.sentences)
       END,
       u.id, p.n + 1, p.created_at, p.created_at
FROM seed_projects p
CROSS JOIN seed_vocab v
LEFT JOIN seed_users u ON u.i = p.inbox_of
ORDER BY p.created_at;

-- Members: the owner, then 0–4 others drawn with the same skew (duplicates dropped, so a
-- project ends up with 1–5 members). Roles of the others: 30% viewer, 50% editor, 20% admin.
CREATE TEMP TABLE seed_members ON COMMIT DROP AS
SELECT p.i AS project_i, p.id AS project_id, u.id AS user_id, 'owner'::text AS role,
       p.created_at AS added_at
FROM seed_projects p JOIN seed_users u ON u.i = p.owner_i;

INSERT INTO seed_members
SELECT DISTINCT ON (s.project_i, u.id) s.project_i, s.project_id, u.id, s.role, s.added_at
FROM (SELECT p.i AS project_i, p.id AS project_id, p.owner_i,
             1 + floor(:users * random() ^ 2)::int AS user_i,
             CASE WHEN r < 0.3 THEN 'viewer' WHEN r < 0.8 THEN 'editor' ELSE 'admin' END AS role,
             p.created_at + (now() - p.created_at) * 0.2 * random() AS added_at
      FROM (SELECT p.*, random() AS r, floor(random() * 5)::int AS extra
            FROM seed_projects p WHERE p.inbox_of IS NULL) p
      CROSS JOIN LATERAL generate_series(1, p.extra) AS k) s
JOIN seed_users u ON u.i = s.user_i
WHERE s.user_i <> s.owner_i
ORDER BY s.project_i, u.id;

INSERT INTO memberships (project_id, user_id, role, added_at)
SELECT project_id, user_id, role, added_at FROM seed_members ORDER BY added_at;

UPDATE seed_projects p
SET members = m.members, writers = m.writers
FROM (SELECT project_i,
             array_agg(user_id ORDER BY role <> 'owner', user_id) AS members,
             array_agg(user_id ORDER BY role <> 'owner', user_id) FILTER (WHERE role <> 'viewer')
                 AS writers
      FROM seed_members GROUP BY project_i) m
WHERE m.project_i = p.i;

-- Tasks. Within a project, number k is created in the k-th slice of the project's lifetime,
-- so numbers follow creation order. Creators are owners, admins or editors; assignees any
-- member (35% unassigned). Statuses depend on age (old tasks are mostly done); completed_at is
-- set exactly for done tasks. Due dates: 30% none, else within a year either side of today.
-- Labels: each of ten (sorted) with its own frequency, at most three.
INSERT INTO tasks (id, project_id, number, title, description, status, priority, due_date,
                   labels, assignee_id, created_by, completed_at, created_at, updated_at)
SELECT pg_temp.seed_uuid_v7(t.created_at), t.project_id, t.number,
       pg_temp.seed_pick(v.verbs) || ' ' || pg_temp.seed_pick(v.objects)
           || pg_temp.seed_pick(v.contexts),
       CASE WHEN t.r_desc < 0.25 THEN ''
            WHEN t.r_desc < 0.55 THEN pg_temp.seed_pick(v.sentences)
            WHEN t.r_desc < 0.85 THEN pg_temp.seed_pick(v.sentences) || ' '
                                      || pg_temp.seed_pick(v.sentences)
            ELSE pg_temp.seed_pick(v.sentences) || ' ' || pg_temp.seed_pick(v.sentences) || ' '
                 || pg_temp.seed_pick(v.sentences)
       END,
       t.status, t.priority, t.due_date, t.labels, t.assignee_id, t.created_by,
       CASE WHEN t.status = 'done'
            THEN t.updated_at - (t.updated_at - t.created_at) * 0.05 * t.r_done END,
       t.created_at, t.updated_at
FROM (
    SELECT s.*,
           s.created_at + (now() - s.created_at) * s.r_updated ^ 3 AS updated_at,
           CASE WHEN s.r_status < 0.06 THEN 'canceled'
                WHEN s.r_status < 0.06 + d.p_done THEN 'done'
                WHEN s.r_status < 0.06 + d.p_done + 0.3 * (0.94 - d.p_done) THEN 'in_progress'
                ELSE 'todo'
           END AS status
    FROM (
        SELECT p.id AS project_id, g.number,
               p.created_at + (now() - p.created_at) * ((g.number - 1 + random()) / p.n)
                   AS created_at,
               random() AS r_updated, random() AS r_status, random() AS r_desc,
               random() AS r_done,
               (ARRAY[0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 4])
                   [1 + floor(random() * 20)::int]::smallint AS priority,
               CASE WHEN random() < 0.3 THEN NULL
                    ELSE current_date + floor(random() * 731 - 365)::int END AS due_date,
               (array_remove(ARRAY[
                   CASE WHEN random() < 0.15 THEN 'backend' END,
                   CASE WHEN random() < 0.25 THEN 'bug' END,
                   CASE WHEN random() < 0.08 THEN 'chore' END,
                   CASE WHEN random() < 0.08 THEN 'docs' END,
                   CASE WHEN random() < 0.20 THEN 'feature' END,
                   CASE WHEN random() < 0.12 THEN 'frontend' END,
                   CASE WHEN random() < 0.05 THEN 'infra' END,
                   CASE WHEN random() < 0.03 THEN 'performance' END,
                   CASE WHEN random() < 0.01 THEN 'security' END,
                   CASE WHEN random() < 0.06 THEN 'ux' END], NULL))[1:3] AS labels,
               CASE WHEN random() < 0.35 THEN NULL
                    ELSE p.members[1 + floor(random() * cardinality(p.members))::int]
               END AS assignee_id,
               p.writers[1 + floor(random() * cardinality(p.writers))::int] AS created_by
        FROM seed_projects p
        CROSS JOIN LATERAL generate_series(1, p.n) AS g(number)
        WHERE p.n > 0
    ) s
    -- done: 15% of today's tasks, rising to 75% of those older than half a year
    CROSS JOIN LATERAL (
        SELECT 0.15 + 0.6 * least(extract(epoch FROM now() - s.created_at)::float8
                                  / (180 * 86400), 1) AS p_done
    ) d
) t
CROSS JOIN seed_vocab v
ORDER BY t.created_at;

COMMIT;

-- Statistics for the planner, and the visibility map and hint bits a live database has.
VACUUM (ANALYZE) users, projects, memberships, tasks;

SELECT (SELECT count(*) FROM users) AS users,
       (SELECT count(*) FROM projects) AS projects,
       (SELECT count(*) FROM memberships) AS memberships,
       (SELECT count(*) FROM tasks) AS tasks;
