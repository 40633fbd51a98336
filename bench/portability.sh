#!/usr/bin/env bash
# Issue 25's figures, printed: `docket backup`/`docket restore` next to plain pg_dump/pg_restore
# of the same database (time, size), project export throughput and the server's peak RSS while
# exporting the largest project, and an import of 100,000 CSV rows (time, peak RSS).
#
#   bench/portability.sh                 # scripts/seed.sql at 1,000,000 tasks
#   TASKS=100000 bench/portability.sh    # smaller
#   DOCKET=target/release/docket bench/portability.sh
#
# Everything lives under one directory in /dev/shm (or $WORK) and is removed at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
TASKS=${TASKS:-1000000}
DOCKET=${DOCKET:-target/debug/docket}
WORK=$(mktemp -d "${WORK_ROOT:-/dev/shm}/docket-portability.XXXXXX")
chmod 755 "$WORK"
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
BASE="http://127.0.0.1:$PORT"
SERVER=
cleanup() {
  [ -n "$SERVER" ] && kill -TERM "$SERVER" 2>/dev/null && wait "$SERVER" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT
now() { date +%s.%N; }
secs() { python3 -c "print(f'{$2 - $1:.1f}')"; }
mb() { python3 -c "import os; print(f'{os.path.getsize(\"$1\")/1e6:.1f}')"; }
# Peak resident memory of pid $1 while the command after it runs (sampled every 50 ms), in MB.
peak_rss() {
  local pid=$1; shift
  local file="$WORK/rss.$RANDOM"
  ( peak=0; while [ -e "/proc/$pid" ] && [ ! -e "$file.stop" ]; do
      rss=$(awk '/VmRSS/ {print $2}' "/proc/$pid/status" 2>/dev/null || echo 0)
      [ "${rss:-0}" -gt "$peak" ] && peak=$rss; echo "$peak" >"$file"; sleep 0.05; done ) &
  local sampler=$!
  "$@"
  touch "$file.stop"; wait "$sampler"
  python3 -c "print(f'{int(open(\"$file\").read())/1024:.0f}')"
}

echo "== $TASKS tasks ($DOCKET; $(nproc) cores)"
DATA="$WORK/data"
"$DOCKET" migrate --data-dir "$DATA" >/dev/null
DOCKET_DATA_DIR="$DATA" DOCKET_LISTEN="127.0.0.1:$PORT" DOCKET_LOG=warn \
  DOCKET_RATE_LIMIT_PER_MINUTE=1000000 "$DOCKET" serve >"$WORK/server.log" 2>&1 &
SERVER=$!
for _ in $(seq 1 120); do curl -sf "$BASE/readyz" >/dev/null && break; sleep 0.5; done
URL=$("$DOCKET" db url --data-dir "$DATA")
t0=$(now)
psql "$URL" -q -v tasks="$TASKS" -v users=1000 -v projects=10000 -f scripts/seed.sql >/dev/null
echo "seeded in $(secs "$t0" "$(now)") s"
psql "$URL" -qc "VACUUM ANALYZE" >/dev/null

echo "-- backup (while the server serves)"
t0=$(now); "$DOCKET" backup --data-dir "$DATA" --output "$WORK/docket.backup" >/dev/null; t1=$(now)
echo "docket backup   $(secs "$t0" "$t1") s  $(mb "$WORK/docket.backup") MB"
PG_BIN=$(dirname "$(readlink -f "$(command -v initdb)")")
t0=$(now); "$PG_BIN/pg_dump" --format=custom --no-owner --no-privileges --file "$WORK/plain.dump" "$URL"; t1=$(now)
echo "plain pg_dump   $(secs "$t0" "$t1") s  $(mb "$WORK/plain.dump") MB"

echo "-- restore into an empty database of the same cluster"
psql "$URL" -qc "CREATE DATABASE restore_docket" -c "CREATE DATABASE restore_plain"
t0=$(now)
DATABASE_URL="$(echo "$URL" | sed "s#/docket?#/restore_docket?#")" DOCKET_JWT_SECRET=bench-secret-0123456789abcdefghijklmnop \
  DOCKET_ENCRYPTION_KEY=bench-key-0123456789abcdefghijklmnopqrstu "$DOCKET" restore "$WORK/docket.backup" >/dev/null
t1=$(now)
echo "docket restore  $(secs "$t0" "$t1") s (pg_restore in one transaction, then migrate)"
t0=$(now)
"$PG_BIN/pg_restore" --no-owner --no-privileges --exit-on-error --single-transaction \
  --dbname "$(echo "$URL" | sed "s#/docket?#/restore_plain?#")" "$WORK/plain.dump"
t1=$(now)
echo "plain pg_restore $(secs "$t0" "$t1") s (--single-transaction)"
rm -f "$WORK/docket.backup" "$WORK/plain.dump"
psql "$URL" -qc "DROP DATABASE restore_docket" -c "DROP DATABASE restore_plain"

echo "-- export of the largest project"
read -r PROJECT OWNER COUNT < <(psql "$URL" -At -F ' ' -c \
  "SELECT t.project_id, u.email, count(*) FROM tasks t JOIN memberships m ON m.project_id = t.project_id AND m.role = 'owner' JOIN users u ON u.id = m.user_id GROUP BY 1, 2 ORDER BY 3 DESC LIMIT 1")
TOKEN=$(curl -sf -X POST "$BASE/api/v1/auth/token" -H 'content-type: application/json' \
  -d "{\"grant_type\":\"password\",\"email\":\"$OWNER\",\"password\":\"benchmark passphrase\"}" |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
idle=$(awk '/VmRSS/ {print int($2/1024)}' "/proc/$SERVER/status")
t0=$(now)
peak=$(peak_rss "$SERVER" curl -sf -o "$WORK/export.json" -H "authorization: Bearer $TOKEN" "$BASE/api/v1/projects/$PROJECT/export")
t1=$(now)
python3 -c "import json; d=json.load(open('$WORK/export.json')); assert len(d['tasks']) == $COUNT"
echo "export          $COUNT tasks in $(secs "$t0" "$t1") s = $(python3 -c "print(int($COUNT/($t1-$t0)))") tasks/s, $(mb "$WORK/export.json") MB; server RSS ${idle} MB before, peak ${peak} MB"
rm -f "$WORK/export.json"

echo "-- import of 100,000 CSV rows"
python3 - "$WORK/rows.csv" <<'PY'
import sys, random
random.seed(1)
with open(sys.argv[1], "w", newline="") as f:
    f.write("title,description,status,priority,due_date,labels\r\n")
    for n in range(1, 100001):
        f.write(f'"Task {n}, imported","Line one\nline two of {n}",{random.choice(["todo","in_progress","done"])},{n % 5},2027-0{1 + n % 9}-1{n % 10},"bench,csv"\r\n')
PY
idle=$(awk '/VmRSS/ {print int($2/1024)}' "/proc/$SERVER/status")
t0=$(now)
peak=$(peak_rss "$SERVER" curl -sf -o /dev/null -X POST -H "authorization: Bearer $TOKEN" -H 'content-type: text/csv' \
  --data-binary "@$WORK/rows.csv" "$BASE/api/v1/projects/import?name=Imported")
t1=$(now)
echo "import          100000 rows ($(mb "$WORK/rows.csv") MB) in $(secs "$t0" "$t1") s; server RSS ${idle} MB before, peak ${peak} MB"
imported=$(psql "$URL" -At -c "SELECT count(*) FROM tasks t JOIN projects p ON p.id = t.project_id WHERE p.name = 'Imported'")
echo "                (the imported project holds $imported tasks)"
