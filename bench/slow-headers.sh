#!/usr/bin/env bash
# A slow-header flood against a release build: 2,000 sockets that each send a request line and
# then one header line a second, never ending their headers (scripts/slow_headers.py), while
# /healthz is probed every 50 ms. Prints how long the server took to close them and the
# /healthz latencies. Usage: bench/slow-headers.sh [sockets]   (BIN=... to pick a binary)
set -euo pipefail
cd "$(dirname "$0")/.."
SOCKETS=${1:-2000}
if [ -z "${BIN:-}" ]; then cargo build --release --quiet --bin docket; BIN=target/release/docket; fi
source bench/pg.sh
SERVER=
cleanup() { [ -n "$SERVER" ] && kill -TERM "$SERVER" 2>/dev/null && wait "$SERVER" 2>/dev/null; stop_pg; }
trap cleanup EXIT
export DATABASE_URL="$PG_URL" DOCKET_JWT_SECRET=slow-headers-secret-0123456789abcdefghijk \
  DOCKET_ENCRYPTION_KEY=slow-headers-key-0123456789abcdefghijklmn DOCKET_LOG=${DOCKET_LOG:-warn}
ulimit -n "$(ulimit -Hn)"
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$BIN" serve --listen "127.0.0.1:$PORT" >/dev/null 2>&1 &
SERVER=$!
for _ in $(seq 1 200); do curl -sf "http://127.0.0.1:$PORT/readyz" >/dev/null && break; sleep 0.1; done
echo "binary: $BIN; machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
python3 scripts/slow_headers.py --url "http://127.0.0.1:$PORT" --sockets "$SOCKETS"
