#!/usr/bin/env bash
# Attachment throughput and memory (issue 22), local storage on loopback:
#  - upload and download of one 25 MiB file with curl, next to the ceiling: curl copying the
#    same bytes (file://) to the same disk, into the same directory the server writes to (and
#    that copy plus an fsync, since the server makes a file durable before its row commits);
#  - the server's RSS while 20 clients upload 25 MiB each at once (sampled every 10 ms, and
#    the kernel's high-water mark reset just before), beside its idle RSS.
# Usage: bench/attachments.sh [runs]   (BIN=... to pick a binary; BENCH_DIR=... for the disk,
# default /var/tmp: a real disk, not tmpfs)
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-9}
if [ -z "${BIN:-}" ]; then cargo build --release --quiet; BIN=target/release/docket; fi
source bench/pg.sh
WORK=$(mktemp -d "${BENCH_DIR:-/var/tmp}/docket-bench-files.XXXXXX")
SERVER=
cleanup() {
  [ -n "$SERVER" ] && kill "$SERVER" 2>/dev/null && wait "$SERVER" 2>/dev/null
  rm -rf "$WORK"
  stop_pg
}
trap cleanup EXIT
export DATABASE_URL="$PG_URL" DOCKET_JWT_SECRET=attachment-benchmark-secret-0123456789abcdef \
  DOCKET_ENCRYPTION_KEY=attachment-benchmark-key-0123456789abcdefghij DOCKET_LOG=warn \
  DOCKET_DATA_DIR="$WORK/data" DOCKET_RATE_LIMIT_PER_MINUTE=100000
"$BIN" migrate >/dev/null
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$BIN" serve --listen "127.0.0.1:$PORT" >"$WORK/server.log" 2>&1 &
SERVER=$!
API="http://127.0.0.1:$PORT"
until curl -sf "$API/readyz" >/dev/null; do sleep 0.05; done

json() { python3 -c "import json,sys; print(json.load(sys.stdin)$1)"; }
curl -sf "$API/api/v1/auth/register" -H 'content-type: application/json' \
  -d '{"email":"bench@example.com","password":"a long passphrase","name":"Bench"}' >/dev/null
TOKEN=$(curl -sf "$API/api/v1/auth/token" -H 'content-type: application/json' \
  -d '{"grant_type":"password","email":"bench@example.com","password":"a long passphrase"}' | json '["access_token"]')
AUTH="authorization: Bearer $TOKEN"
PROJECT=$(curl -sf "$API/api/v1/projects" -H "$AUTH" -H 'content-type: application/json' \
  -d '{"name":"Files"}' | json '["id"]')
TASK=$(curl -sf "$API/api/v1/projects/$PROJECT/tasks" -H "$AUTH" -H 'content-type: application/json' \
  -d '{"title":"Holds files"}' | json '["id"]')

SIZE=$((25 * 1024 * 1024))
head -c "$SIZE" /dev/urandom >"$WORK/file.bin"
mkdir -p "$WORK/data/attachments"
# Every figure is curl's own `time_total` (no process start-up in it); curl streams the file
# (`-T`) as a browser does, without `Expect: 100-continue` (browsers do not send it).
upload() { # $1 name, $2 where the answer goes; prints the seconds
  curl -sf -X POST -T "$WORK/file.bin" "$API/api/v1/tasks/$TASK/attachments?name=$1" -H "$AUTH" \
    -H 'content-type: application/octet-stream' -H 'Expect:' -o "$2" -w '%{time_total}'
}

declare -a ceiling durable up down
for i in $(seq "$RUNS"); do
  sync
  ceiling+=("$(curl -sf "file://$WORK/file.bin" -o "$WORK/data/attachments/copy.bin" -w '%{time_total}')")
  rm -f "$WORK/data/attachments/copy.bin"
  # Docket fsyncs a file before its row commits (object_store's `with_fsync`): the same
  # copy followed by an fsync of it (coreutils `sync FILE`) is the ceiling for that.
  start=$(date +%s.%N)
  curl -sf "file://$WORK/file.bin" -o "$WORK/data/attachments/copy.bin"
  sync "$WORK/data/attachments/copy.bin"
  durable+=("$(echo "$(date +%s.%N) - $start" | bc -l)")
  rm -f "$WORK/data/attachments/copy.bin"
  up+=("$(upload "run-$i.bin" "$WORK/answer.json")")
  ID=$(json '["id"]' <"$WORK/answer.json")
  down+=("$(curl -sf "$API/api/v1/attachments/$ID/content" -H "$AUTH" -o "$WORK/down.bin" -w '%{time_total}')")
  cmp -s "$WORK/file.bin" "$WORK/down.bin" || { echo "download $i differs from the upload" >&2; exit 1; }
  rm -f "$WORK/down.bin"
done

rss_kib() { awk '/^VmRSS/ {print $2}' "/proc/$SERVER/status"; }
sleep 1
IDLE=$(rss_kib)
echo 5 >"/proc/$SERVER/clear_refs" # resets VmHWM to the current RSS
(while kill -0 "$SERVER" 2>/dev/null; do rss_kib; sleep 0.01; done) >"$WORK/rss.log" 2>/dev/null &
SAMPLER=$!
start=$(date +%s.%N)
UPLOADS=()
for i in $(seq 20); do upload "parallel-$i.bin" "$WORK/parallel-$i.json" >/dev/null & UPLOADS+=($!); done
wait "${UPLOADS[@]}"
end=$(date +%s.%N)
kill "$SAMPLER"; wait "$SAMPLER" 2>/dev/null || true
HWM=$(awk '/^VmHWM/ {print $2}' "/proc/$SERVER/status")
STORED=$(cat "$WORK"/parallel-*.json | grep -o '"sha256"' | wc -l)

python3 - "$SIZE" "$IDLE" "$HWM" "$WORK/rss.log" "$(echo "$end - $start" | bc -l)" "$STORED" \
  "${ceiling[*]}" "${durable[*]}" "${up[*]}" "${down[*]}" <<'PY'
import statistics, sys
size, idle, hwm, log, parallel, stored = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], float(sys.argv[5]), int(sys.argv[6])
ceiling, durable, up, down = ([float(x) for x in arg.split()] for arg in sys.argv[7:11])
mib = size / 2**20
rate = lambda times: mib / statistics.median(times)
c = rate(ceiling)
print(f"one 25 MiB file, {len(up)} runs, median (MiB/s):")
d = rate(durable)
print("| what | MiB/s | of the ceiling | of the ceiling with fsync |")
print("|---|---|---|---|")
print(f"| curl file:// → same disk (ceiling) | {c:.0f} | 1.00 | {c / d:.2f} |")
print(f"| the same, then fsync of the copy | {d:.0f} | {d / c:.2f} | 1.00 |")
print(f"| upload (POST, streamed to the local store, fsynced) | {rate(up):.0f} | {rate(up) / c:.2f} | {rate(up) / d:.2f} |")
print(f"| download (GET content) | {rate(down):.0f} | {rate(down) / c:.2f} | |")
samples = [int(l) for l in open(log) if l.strip()]
peak = max(samples + [hwm])
print(f"20 concurrent 25 MiB uploads: {stored}/20 stored in {parallel:.1f} s; RSS idle {idle / 1024:.1f} MiB, "
      f"peak {peak / 1024:.1f} MiB (+{(peak - idle) / 1024:.1f} MiB; {len(samples)} samples + VmHWM)")
PY
