#!/usr/bin/env bash
# What the access log costs: two servers on one database, one with DOCKET_LOG=info (a JSON line
# per request into a pipe) and one with DOCKET_LOG=warn, driven in alternation by wrk
# (GET /api/v1/tasks/{id}, 16 connections). Prints each round's req/s and the server's CPU time
# per request (user + system, from /proc), which is far less sensitive than req/s to other load
# on a shared machine. Usage: bench/log-cost.sh [rounds]   (BIN=... picks a binary)
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${1:-5}
DURATION=${DURATION:-5}
if [ -z "${BIN:-}" ]; then cargo build --release --quiet --bin docket; BIN=target/release/docket; fi
source bench/pg.sh
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done; wait 2>/dev/null; stop_pg; }
trap cleanup EXIT
export DATABASE_URL="$PG_URL" DOCKET_JWT_SECRET=log-cost-secret-0123456789abcdefghijklmnop \
  DOCKET_ENCRYPTION_KEY=log-cost-key-0123456789abcdefghijklmnopqrs DOCKET_LOG_FORMAT=json \
  DOCKET_RATE_LIMIT_PER_MINUTE=1000000
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
"$BIN" migrate >/dev/null
ON=$(port); OFF=$(port)
DOCKET_LOG=info "$BIN" serve --listen "127.0.0.1:$ON" > >(cat >/dev/null) 2>&1 &
PIDS+=($!); ON_PID=$!
DOCKET_LOG=warn "$BIN" serve --listen "127.0.0.1:$OFF" > >(cat >/dev/null) 2>&1 &
PIDS+=($!); OFF_PID=$!
for p in $ON $OFF; do
  for _ in $(seq 1 300); do curl -sf "http://127.0.0.1:$p/readyz" >/dev/null && break; sleep 0.1; done
done
URL="http://127.0.0.1:$ON"
json() { python3 -c "import json,sys; print(json.load(sys.stdin)$1)"; }
curl -sf -H 'content-type: application/json' -d '{"email":"logcost@example.com","password":"benchmark passphrase","name":"Bench"}' "$URL/api/v1/auth/register" >/dev/null
TOKEN=$(curl -sf -H 'content-type: application/json' -d '{"grant_type":"password","email":"logcost@example.com","password":"benchmark passphrase"}' "$URL/api/v1/auth/token" | json '["access_token"]')
PROJECT=$(curl -sf -H "authorization: Bearer $TOKEN" -H 'content-type: application/json' -d '{"name":"Bench"}' "$URL/api/v1/projects" | json '["id"]')
TASK=$(curl -sf -H "authorization: Bearer $TOKEN" -H 'content-type: application/json' -d '{"title":"Bench task"}' "$URL/api/v1/projects/$PROJECT/tasks" | json '["id"]')
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
run() { # port pid → "req/s cpu-µs-per-request"
  local before after out requests rps
  before=$(ticks "$2")
  out=$(wrk -t2 -c16 -d"${DURATION}s" -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$1/api/v1/tasks/$TASK")
  after=$(ticks "$2")
  requests=$(echo "$out" | awk '/requests in/ {print $1}')
  rps=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
  python3 -c "print(f'{float(\"$rps\"):.0f} {($after - $before) * 1e6 / $(getconf CLK_TCK) / $requests:.1f}')"
}
run "$ON" "$ON_PID" >/dev/null; run "$OFF" "$OFF_PID" >/dev/null   # warm-up
echo "binary: $BIN; $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "| round | log on req/s | log off req/s | on CPU µs/req | off CPU µs/req |"
echo "|---|---|---|---|---|"
RESULTS=()
for i in $(seq 1 "$ROUNDS"); do
  if [ $((i % 2)) = 1 ]; then a=$(run "$ON" "$ON_PID"); b=$(run "$OFF" "$OFF_PID");
  else b=$(run "$OFF" "$OFF_PID"); a=$(run "$ON" "$ON_PID"); fi
  echo "| $i | ${a% *} | ${b% *} | ${a#* } | ${b#* } |"
  RESULTS+=("$a $b")
done
printf '%s\n' "${RESULTS[@]}" | python3 -c '
import statistics, sys
rows = [list(map(float, l.split())) for l in sys.stdin if l.strip()]
on_rps, off_rps = statistics.median(r[0] for r in rows), statistics.median(r[2] for r in rows)
on_cpu, off_cpu = statistics.median(r[1] for r in rows), statistics.median(r[3] for r in rows)
print(f"median: log on {on_rps:.0f} req/s, off {off_rps:.0f} req/s: on/off = {on_rps / off_rps:.3f}")
print(f"median CPU per request: on {on_cpu:.1f} µs, off {off_cpu:.1f} µs: the log costs {100 * (on_cpu / off_cpu - 1):+.1f}%")
'
