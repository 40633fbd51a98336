#!/usr/bin/env bash
# The due reminders' scan (notifications::due, tasks::store::due_assignments) on a seeded
# database of 1,000,000 tasks: EXPLAIN (ANALYZE, BUFFERS) of one page (1,000 rows, as the job
# reads them) and of the whole day's range in one statement, for everyone (a job for a date)
# and for the zones whose day begins in one hour (10% of users in Europe/Berlin), to show a
# range scan of tasks_open_due and its cost. Then the task reminders' scan
# (tasks::store::reminders::claim_due) over task_reminders seeded for those tasks: one relative
# reminder per task with a due date and an absolute one for one task in five, those more than 6
# hours past already sent, the last 6 hours' pending (a 6-hour outage's backlog): one batch
# (500) claimed with the backlog, and the claim when nothing is due (every scan period's cost).
#
#   bench/due-scan.sh         scripts/seed.sql at 1,000,000 tasks
# Knobs (environment): TASKS (1000000), BIN (a docket binary for `migrate`; the debug build).
set -euo pipefail
cd "$(dirname "$0")/.."
TASKS=${TASKS:-1000000}
if [ -z "${BIN:-}" ]; then cargo build --quiet --bin docket; BIN=target/debug/docket; fi
source bench/pg.sh
trap stop_pg EXIT
export PATH="$PG_BIN:$PATH"
export DOCKET_JWT_SECRET=benchmark-secret-0123456789abcdefghijklmnop \
  DOCKET_ENCRYPTION_KEY=benchmark-key-0123456789abcdefghijklmnopq
DATABASE_URL="$PG_URL" "$BIN" migrate >/dev/null
psql() { command psql -h "$PG_DIR" -U docket -d docket -q -v ON_ERROR_STOP=1 "$@"; }
start=$(date +%s)
psql -v tasks="$TASKS" -f scripts/seed.sql >/dev/null
echo "seeded $TASKS tasks in $(( $(date +%s) - start )) s"
psql -c "UPDATE users SET time_zone = 'Europe/Berlin' WHERE random() < 0.1" \
     -c "VACUUM (ANALYZE) tasks, users"
psql -c "SELECT count(*) AS tasks,
                count(*) FILTER (WHERE assignee_id IS NOT NULL AND due_date IS NOT NULL
                                 AND status IN ('todo', 'in_progress')) AS open_assigned_due,
                count(*) FILTER (WHERE assignee_id IS NOT NULL AND status IN ('todo', 'in_progress')
                                 AND due_date <= current_date + 1) AS due_by_tomorrow
         FROM tasks"
# The statement of tasks::store::due_assignments; $zones is NULL (everyone) or an array.
scan() { # label, zones, limit
  local sql="SELECT t.id, t.assignee_id, t.due_date FROM tasks t
     WHERE t.assignee_id IS NOT NULL AND t.due_date IS NOT NULL
       AND t.status IN ('todo', 'in_progress')
       AND t.due_date <= current_date + 1 AND (t.due_date, t.id) > ('4001-01-01 BC'::date, '00000000-0000-0000-0000-000000000000'::uuid)
       AND ($2::text[] IS NULL OR EXISTS (SELECT 1 FROM users u
           WHERE u.id = t.assignee_id AND u.time_zone = ANY($2::text[])))
     ORDER BY t.due_date, t.id LIMIT $3"
  echo "== $1"
  psql -c "EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) $sql" \
    | grep -E 'Scan|Index Cond|Buffers|Execution Time|Limit|Join|rows=' | sed 's/^ */   /' | head -12
}
scan "one page, everyone (a job for a date)" "NULL" 1000
scan "the whole day, everyone, one statement" "NULL" "ALL"
scan "one page, the zones whose day begins this hour" "'{Europe/Berlin}'" 1000
scan "the whole hour's zones, one statement" "'{Europe/Berlin}'" "ALL"

# Task reminders (API.md §19): fire times as UTC 09:00 of the due date less an hour (the zone
# does not change the index's work), the absolute ones anywhere in ±30 days.
psql -c "INSERT INTO task_reminders (id, task_id, position, before_minutes, at, fire_at, state, sent_at)
         SELECT gen_random_uuid(), r.task_id, r.position, r.before_minutes, r.at, r.fire_at,
                CASE WHEN r.fire_at < now() - interval '6 hours' THEN 'sent' ELSE 'pending' END,
                CASE WHEN r.fire_at < now() - interval '6 hours' THEN r.fire_at END
         FROM (SELECT id AS task_id, 0 AS position, 60 AS before_minutes, NULL::timestamptz AS at,
                      (due_date + time '09:00') AT TIME ZONE 'UTC' - interval '60 minutes' AS fire_at
               FROM tasks WHERE due_date IS NOT NULL
               UNION ALL
               SELECT id, 1, NULL, a, a
               FROM (SELECT id, now() + (random() * 60 - 30) * interval '1 day' AS a
                     FROM tasks WHERE random() < 0.2) x) r" \
     -c "VACUUM (ANALYZE) task_reminders"
psql -c "SELECT count(*) AS reminders,
                count(*) FILTER (WHERE state = 'pending') AS pending,
                count(*) FILTER (WHERE state = 'pending' AND fire_at <= now()) AS due_now
         FROM task_reminders"
# The statement of tasks::store::reminders::claim_due, in a transaction rolled back.
CLAIM="WITH due AS (
         SELECT id FROM task_reminders WHERE state = 'pending' AND fire_at <= now()
         ORDER BY fire_at LIMIT 500 FOR UPDATE SKIP LOCKED)
       UPDATE task_reminders r
       SET state = CASE WHEN s.sendable THEN 'sent' ELSE 'passed' END,
           sent_at = CASE WHEN s.sendable THEN now() END
       FROM due, tasks t, LATERAL (SELECT t.status IN ('todo', 'in_progress') AND EXISTS (
           SELECT 1 FROM memberships m WHERE m.project_id = t.project_id
               AND m.user_id = coalesce(t.assignee_id, t.created_by)) AS sendable) s
       WHERE r.id = due.id AND t.id = r.task_id
       RETURNING r.id, r.task_id, coalesce(t.assignee_id, t.created_by) AS recipient, r.fire_at, r.state"
claim() { # label, SQL run first in the same transaction
  echo "== $1"
  psql -c "BEGIN" -c "$2" -c "EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) $CLAIM" -c "ROLLBACK" \
    | grep -E 'Scan|Index Cond|Buffers|Execution Time|Limit|Update|rows=' | sed 's/^ */   /' \
    | awk 'NR <= 9 || /Execution Time/'
}
claim "reminders: one batch of 500 from a 6-hour outage's backlog" "SELECT 1"
claim "reminders: a scan with nothing due (every DOCKET_REMINDER_SCAN_S)" \
  "UPDATE task_reminders SET state = 'sent', sent_at = now() WHERE state = 'pending' AND fire_at <= now()"
