#!/usr/bin/env bash
# The count endpoint's statement (GET /api/v1/projects/{id}/tasks/counts, tasks::store::list::count)
# at 100,000 tasks in one project: EXPLAIN (ANALYZE, BUFFERS) of the counts a board asks for —
# no filter, and each kind of filter — on a seeded database, to show that they are answered from
# the tasks_project_status index (an index-only scan) in milliseconds.
#
#   bench/counts.sh            scripts/seed.sql at 200,000 tasks, plus one project of 100,000
# Knobs (environment): BIG (tasks of the big project, 100000), BIN (a docket binary for
# `migrate`; the debug build by default).
set -euo pipefail
cd "$(dirname "$0")/.."
BIG=${BIG:-100000}
if [ -z "${BIN:-}" ]; then cargo build --quiet --bin docket; BIN=target/debug/docket; fi
source bench/pg.sh
trap stop_pg EXIT
export PATH="$PG_BIN:$PATH"
export DOCKET_JWT_SECRET=benchmark-secret-0123456789abcdefghijklmnop \
  DOCKET_ENCRYPTION_KEY=benchmark-key-0123456789abcdefghijklmnopq
DATABASE_URL="$PG_URL" "$BIN" migrate >/dev/null
psql() { command psql -h "$PG_DIR" -U docket -d docket -q -v ON_ERROR_STOP=1 "$@"; }
psql -v users=200 -v projects=500 -v tasks=200000 -f scripts/seed.sql >/dev/null
# One project of $BIG tasks among the others, with the seed's mix: 5 members, a third
# unassigned, statuses a quarter each, 30% without a due date, labels on some.
psql <<SQL
BEGIN;
INSERT INTO projects (id, name, next_task_number) VALUES ('00000000-0000-7000-8000-000000000100', 'Big', $BIG + 1);
INSERT INTO memberships (project_id, user_id, role)
SELECT '00000000-0000-7000-8000-000000000100', id, CASE WHEN row_number() OVER (ORDER BY email) = 1 THEN 'owner' ELSE 'editor' END
FROM (SELECT id, email FROM users ORDER BY email LIMIT 5) u;
COMMIT;
INSERT INTO tasks (id, project_id, number, title, status, priority, due_date, labels, assignee_id, created_by, completed_at)
SELECT gen_random_uuid(), '00000000-0000-7000-8000-000000000100', g,
       'Task ' || g || CASE WHEN g % 7 = 0 THEN ' deploy the release' ELSE ' write the notes' END,
       (ARRAY['todo', 'in_progress', 'done', 'canceled'])[1 + g % 4],
       (g % 5)::smallint,
       CASE WHEN g % 10 < 3 THEN NULL ELSE current_date + (g % 731 - 365) END,
       CASE WHEN g % 4 = 1 THEN ARRAY['bug'] WHEN g % 9 = 0 THEN ARRAY['ops'] ELSE '{}' END,
       CASE WHEN g % 3 = 0 THEN NULL ELSE (SELECT user_id FROM memberships m
            WHERE m.project_id = '00000000-0000-7000-8000-000000000100' ORDER BY user_id OFFSET g % 5 LIMIT 1) END,
       (SELECT user_id FROM memberships WHERE project_id = '00000000-0000-7000-8000-000000000100' AND role = 'owner'),
       CASE WHEN g % 4 = 2 THEN now() END
FROM generate_series(1, $BIG) g;
VACUUM (ANALYZE) tasks;
SQL
psql -c "SELECT count(*) AS tasks, count(*) FILTER (WHERE project_id = '00000000-0000-7000-8000-000000000100') AS in_big FROM tasks"
user=$(psql -Atc "SELECT user_id FROM memberships WHERE project_id = '00000000-0000-7000-8000-000000000100' AND role = 'owner'")
# The statement as tasks::store::list::count builds it: the project, the filters, GROUP BY.
# The plan is EXPLAIN (ANALYZE, BUFFERS); the time is the fastest of five runs of the statement
# itself (EXPLAIN ANALYZE's per-row timing inflates a 100,000-row scan).
count() { # label, extra conditions
  local sql="SELECT t.status AS key, count(*) AS n FROM tasks t
             WHERE t.project_id = '00000000-0000-7000-8000-000000000100' $2 GROUP BY t.status"
  echo "== $1"
  psql -c "EXPLAIN (ANALYZE, BUFFERS, COSTS OFF, TIMING OFF) $sql" \
    | grep -E 'Scan|Aggregate|Heap Fetches|rows=' | sed 's/^ */   /' | sort -u
  { echo '\timing on'; for _ in 1 2 3 4 5; do echo "$sql;"; done; } | psql -o /dev/null \
    | awk '/^Time:/ { if (best == "" || $2 < best) best = $2 } END { printf "   fastest of 5: %.1f ms\n", best }'
}
for _ in 1 2; do psql -c "SELECT count(*) FROM tasks WHERE project_id = '00000000-0000-7000-8000-000000000100'" >/dev/null; done
count "no filter (a board)" ""
count "open tasks (a list hiding done)" "AND t.status = ANY('{todo,in_progress}'::text[])"
count "assignee=me" "AND t.assignee_id = '$user'"
count "assignee=none, priority_min=3" "AND t.assignee_id IS NULL AND t.priority >= 3"
count "due_after/due_before" "AND t.due_date >= current_date AND t.due_date <= current_date + 30"
count "label=bug" "AND t.labels @> ARRAY['bug']::text[]"
count "q=deploy" "AND t.search @@ websearch_to_tsquery('english', 'deploy')"
