#!/usr/bin/env bash
# Template copies (issue 24 item 4): the time of `POST /api/v1/projects` with `from_project_id`
# copying a project of TASKS tasks (default 1,000; bench/workflow-seed.sql: one in fifty with
# four subtasks, one in twenty blocked by another) with ten custom fields and their values
# (bench/fields-seed.sql), its four states and a shared view. Each copy is measured over HTTP
# (curl's time_total, the server on the same machine) and checked (its task count); prints the
# p50 and max of RUNS copies.
#
#   bench/templates.sh [DOCKET_BIN (target/debug/docket)] [RUNS (20)]
set -Eeuo pipefail
cd "$(dirname "$0")/.."
BIN=$(realpath "${1:-target/debug/docket}"); RUNS=${2:-20}; TASKS=${TASKS:-1000}
source bench/pg.sh
SERVER=
trap '[ -n "$SERVER" ] && kill "$SERVER" 2>/dev/null; wait 2>/dev/null; [ -n "${KEEP_LOG:-}" ] && cp "$PG_DIR/log" "$KEEP_LOG"; stop_pg' EXIT
export PATH="$PG_BIN:$PATH"
DB="postgresql://docket@localhost/docket?host=$PG_DIR"
export DOCKET_JWT_SECRET=benchmark-secret-0123456789abcdefghijklmnop \
  DOCKET_ENCRYPTION_KEY=benchmark-key-0123456789abcdefghijklmnopq \
  DOCKET_LOG=warn DOCKET_RATE_LIMIT_PER_MINUTE=1000000
DATABASE_URL=$DB "$BIN" migrate >/dev/null
psql "$DB" -q -v tasks="$TASKS" -v users=2 -f bench/workflow-seed.sql >/dev/null
psql "$DB" -q -v ON_ERROR_STOP=1 -f bench/fields-seed.sql >/dev/null
q() { psql "$DB" -qAtc "$1"; }
PROJECT=$(q "SELECT id FROM projects WHERE name = 'Board'")
OWNER=$(q "SELECT user_id FROM memberships WHERE project_id = '$PROJECT' AND role = 'owner'")
q "INSERT INTO saved_views (id, project_id, owner_id, name, shared, kind, query, position)
   SELECT gen_random_uuid(), '$PROJECT', '$OWNER', 'Big', true, 'list',
          jsonb_build_object('field.' || id, options -> 0 ->> 'id'), 0
   FROM custom_fields WHERE name = 'Size'" >/dev/null
q "VACUUM ANALYZE" >/dev/null
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
API="http://127.0.0.1:$PORT"
DATABASE_URL=$DB "$BIN" serve --listen "127.0.0.1:$PORT" >"$PG_DIR/server.log" 2>&1 &
SERVER=$!
for _ in $(seq 1 120); do curl -sf "$API/readyz" >/dev/null && break; sleep 0.5; done
TOKEN=$(curl -sf "$API/api/v1/auth/token" -H 'content-type: application/json' \
  -d '{"grant_type":"password","email":"bench-1@example.com","password":"benchmark passphrase"}' |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
COUNT=$(q "SELECT count(*) FROM tasks WHERE project_id = '$PROJECT'")
RELATIONS=$(q "SELECT count(*) FROM task_relations r JOIN tasks t ON t.id = r.source_id WHERE t.project_id = '$PROJECT'")
echo "== copying a project of $COUNT tasks ($RELATIONS relations, 10 fields with values) $RUNS times; $BIN"
TIMES=()
for i in $(seq 1 "$RUNS"); do
  out=$(curl -s -o "$PG_DIR/copy.json" -w '%{http_code} %{time_total}' "$API/api/v1/projects" \
    -H "authorization: Bearer $TOKEN" -H 'content-type: application/json' \
    -d "{\"name\":\"Copy $i\",\"from_project_id\":\"$PROJECT\"}")
  read -r code secs <<<"$out"
  [ "$code" = 201 ] || { echo "copy $i: HTTP $code $(cat "$PG_DIR/copy.json")" >&2; exit 1; }
  copy=$(python3 -c "import json; print(json.load(open('$PG_DIR/copy.json'))['id'])")
  copied=$(q "SELECT count(*) FROM tasks WHERE project_id = '$copy'")
  [ "$copied" = "$COUNT" ] || { echo "copy $i holds $copied tasks, not $COUNT" >&2; exit 1; }
  TIMES+=("$secs")
done
printf '%s\n' "${TIMES[@]}" | sort -n | awk '{a[NR]=$1*1000} END {printf "copy of %d tasks: p50 %.0f ms, max %.0f ms (%d runs)\n", '"$COUNT"', a[int((NR+1)/2)], a[NR], NR}'
