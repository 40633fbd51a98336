#!/usr/bin/env bash
# What a table CHECK costs a write against a domain's (V20270102000001, docs/performance.md "What
# the history costs, by profile"): the journal's append statement, by pgbench on one connection,
# into three copies of `activity_pending` — kinds as the domain (today's), kinds as a table
# CHECK (before), no check. Prints latency per append, ROUNDS (3) times each.
# usage: bench/kinds-check.sh (BIN: the build that migrates, target/release/docket by default)
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-target/release/docket}; ROUNDS=${ROUNDS:-3}
[ -x "$BIN" ] || cargo build --release --quiet -p docket --bin docket
source bench/pg.sh
trap stop_pg EXIT
export PATH="$PG_BIN:$PATH"
DATABASE_URL=$PG_URL DOCKET_JWT_SECRET=benchmark-secret-0123456789abcdefghijklmnop \
  DOCKET_ENCRYPTION_KEY=benchmark-key-0123456789abcdefghijklmnopq "$BIN" migrate >/dev/null
psql -h "$PG_DIR" -U docket -d docket -q -v ON_ERROR_STOP=1 <<'SQL'
CREATE TABLE kinds_domain (LIKE activity_pending INCLUDING DEFAULTS INCLUDING IDENTITY);
CREATE TABLE kinds_check (LIKE activity_pending INCLUDING DEFAULTS INCLUDING IDENTITY);
CREATE TABLE kinds_none (LIKE activity_pending INCLUDING DEFAULTS INCLUDING IDENTITY);
ALTER TABLE kinds_domain ADD PRIMARY KEY (id);
ALTER TABLE kinds_check ADD PRIMARY KEY (id), ALTER COLUMN kind TYPE text;
ALTER TABLE kinds_none ADD PRIMARY KEY (id), ALTER COLUMN kind TYPE text;
DO $$ DECLARE def text; BEGIN
  SELECT pg_get_constraintdef(oid) INTO def FROM pg_constraint WHERE conname = 'activity_kind_known';
  EXECUTE 'ALTER TABLE kinds_check ADD ' || replace(def, 'VALUE', 'kind');
END $$;
SQL
SCRIPT=$(mktemp)
for round in $(seq 1 "$ROUNDS"); do
  for table in kinds_domain kinds_check kinds_none; do
    # The statement of activity::store's APPEND_SQL, with one entry.
    cat >"$SCRIPT" <<EOF
INSERT INTO $table (actor_id, kind, project_id, task_id, comment_id, user_id, changes, counts) SELECT e.actor_id, e.kind, e.project_id, e.task_id, e.comment_id, e.user_id, e.changes, e.counts FROM ROWS FROM (jsonb_to_recordset('[{"actor_id":null,"kind":"task.created","project_id":"0193a9b0-0000-7000-8000-000000000001","task_id":null,"comment_id":null,"user_id":null,"changes":[{"field":"title","from":null,"to":"x"}],"counts":null}]') AS (actor_id uuid, kind text, project_id uuid, task_id uuid, comment_id uuid, user_id uuid, changes jsonb, counts jsonb)) WITH ORDINALITY AS e(actor_id, kind, project_id, task_id, comment_id, user_id, changes, counts, ord) ORDER BY e.ord;
EOF
    psql -h "$PG_DIR" -U docket -d docket -qc "TRUNCATE $table"
    latency=$(pgbench -h "$PG_DIR" -U docket -n -c 1 -T 4 -f "$SCRIPT" docket 2>/dev/null | sed -n 's/latency average = //p')
    echo "round $round, $table: $latency per append"
  done
done
rm -f "$SCRIPT"
