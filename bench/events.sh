#!/usr/bin/env bash
# The live-events benchmark: a throwaway PostgreSQL, Docket (release build) on it, and the
# client (bench/client/src/events.rs), which opens STREAMS event streams spread over USERS users
# of one project while WRITERS writers PATCH tasks for DURATION seconds. Prints a Markdown row:
# entries committed per second, events delivered per second to all streams, and the delay from
# the entry's commit to its delivery (p50/p99/max).
#
#   bench/events.sh                      200 streams, 4 writers, 10 s
#   STREAMS=1000 USERS=100 bench/events.sh
# Knobs (environment): STREAMS, USERS, WRITERS, DURATION, WRITE_PAUSE_MS (between one
# writer's changes; 0 = flat out), DOCKET_LOG (default warn), BIN (a server binary to use).
set -euo pipefail
cd "$(dirname "$0")/.."

STREAMS=${STREAMS:-200}; USERS=${USERS:-$(( (STREAMS + 9) / 10 ))}; WRITERS=${WRITERS:-4}
DURATION=${DURATION:-10}; WRITE_PAUSE_MS=${WRITE_PAUSE_MS:-0}
SERVER_PACKAGE="-p docket"; [ -n "${BIN:-}" ] && SERVER_PACKAGE=
cargo build --release --quiet -p docket-bench $SERVER_PACKAGE --bins
BIN=${BIN:-target/release/docket}

source bench/pg.sh
SERVER=
cleanup() { [ -n "$SERVER" ] && kill -TERM "$SERVER" 2>/dev/null && wait "$SERVER" 2>/dev/null; stop_pg; }
trap cleanup EXIT
export PATH="$PG_BIN:$PATH"
export DOCKET_JWT_SECRET=benchmark-secret-0123456789abcdefghijklmnop \
  DOCKET_ENCRYPTION_KEY=benchmark-key-0123456789abcdefghijklmnopq \
  DOCKET_LOG=${DOCKET_LOG:-warn} DOCKET_RATE_LIMIT_PER_MINUTE=1000000 \
  DOCKET_TRUSTED_PROXIES=127.0.0.1/32 DATABASE_URL="$PG_URL"
"$BIN" migrate >/dev/null
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$BIN" serve --listen "127.0.0.1:$PORT" >"${SERVER_LOG:-/dev/null}" 2>&1 &
SERVER=$!
for _ in $(seq 1 200); do curl -sf "http://127.0.0.1:$PORT/readyz" >/dev/null && break; sleep 0.1; done
echo "machine: $(nproc) cores, $(free -g | awk '/Mem/ {print $2}') GiB, load $(cut -d' ' -f1-3 /proc/loadavg); release build"
target/release/docket-events-bench --url "http://127.0.0.1:$PORT" --streams "$STREAMS" \
  --users "$USERS" --writers "$WRITERS" --duration-s "$DURATION" --write-pause-ms "$WRITE_PAUSE_MS"
