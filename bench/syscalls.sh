#!/usr/bin/env bash
# System calls per request of GET /api/v1/tasks/{id}: starts Docket on a throwaway cluster,
# creates a user and a task through the API, then counts the server's system calls with
# `strace -c -f` while wrk sends requests (16 connections), and divides by the requests.
# Usage: bench/syscalls.sh   (BIN=... picks a binary; DOCKET_LOG=warn turns the access log off)
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${BIN:-}" ]; then cargo build --release --quiet --bin docket; BIN=target/release/docket; fi
DURATION=${DURATION:-5}
source bench/pg.sh
SERVER=
cleanup() { [ -n "$SERVER" ] && kill -TERM "$SERVER" 2>/dev/null && wait "$SERVER" 2>/dev/null; stop_pg; }
trap cleanup EXIT
export DATABASE_URL="$PG_URL" DOCKET_JWT_SECRET=syscalls-secret-0123456789abcdefghijklmno \
  DOCKET_ENCRYPTION_KEY=syscalls-key-0123456789abcdefghijklmnopq DOCKET_LOG=${DOCKET_LOG:-info} \
  DOCKET_LOG_FORMAT=json DOCKET_RATE_LIMIT_PER_MINUTE=1000000
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
URL="http://127.0.0.1:$PORT"
# Standard output into a pipe, as under a container runtime or journald.
"$BIN" serve --listen "127.0.0.1:$PORT" > >(cat >/dev/null) 2>&1 &
SERVER=$!
for _ in $(seq 1 300); do curl -sf "$URL/readyz" >/dev/null && break; sleep 0.1; done
json() { python3 -c "import json,sys; print(json.load(sys.stdin)$1)"; }
curl -sS -H 'content-type: application/json' -H "x-forwarded-for: 10.9.9.9" -d '{"email":"bench@example.com","password":"benchmark passphrase","name":"Bench"}' "$URL/api/v1/auth/register" >/dev/null
TOKEN=$(curl -sf -H 'content-type: application/json' -d '{"grant_type":"password","email":"bench@example.com","password":"benchmark passphrase"}' "$URL/api/v1/auth/token" | json '["access_token"]')
PROJECT=$(curl -sf -H "authorization: Bearer $TOKEN" -H 'content-type: application/json' -d '{"name":"Bench"}' "$URL/api/v1/projects" | json '["id"]')
TASK=$(curl -sf -H "authorization: Bearer $TOKEN" -H 'content-type: application/json' -d '{"title":"Bench task"}' "$URL/api/v1/projects/$PROJECT/tasks" | json '["id"]')
wrk -t2 -c16 -d2s -H "Authorization: Bearer $TOKEN" "$URL/api/v1/tasks/$TASK" >/dev/null
OUT=$(mktemp)
strace -c -f -o "$OUT" -p "$SERVER" 2>/dev/null &
TRACER=$!
sleep 1
WRK=$(wrk -t2 -c16 -d"${DURATION}s" -H "Authorization: Bearer $TOKEN" "$URL/api/v1/tasks/$TASK")
kill -INT "$TRACER"; wait "$TRACER" 2>/dev/null || true
REQUESTS=$(echo "$WRK" | awk '/requests in/ {print $1}')
echo "binary: $BIN; DOCKET_LOG=$DOCKET_LOG; $REQUESTS requests under strace ($(echo "$WRK" | awk '/Non-2xx/ {print $5}') non-2xx)"
python3 - "$OUT" "$REQUESTS" <<'PY'
import sys
path, requests = sys.argv[1], int(sys.argv[2])
rows = []
for line in open(path):
    parts = line.split()
    if len(parts) >= 5 and parts[0][0].isdigit() and parts[-1] not in ("total",):
        calls = int(parts[3])
        rows.append((calls, parts[-1]))
total = sum(c for c, _ in rows)
print(f"system calls per request: {total / requests:.2f} (total {total})")
for calls, name in sorted(rows, reverse=True)[:10]:
    print(f"  {name:<16} {calls / requests:6.2f}")
PY
rm -f "$OUT"
