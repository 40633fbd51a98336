#!/usr/bin/env bash
# Issue 23, webhooks: deliveries per second to a receiver that answers at once, from one
# instance and from two; the commit → delivery delay at RATE changes/s; and the write path with
# WEBHOOKS webhooks subscribed against none. Release builds, a throwaway PostgreSQL; the
# receiver runs inside the client (bench/client/src/webhooks.rs). Prints Markdown rows.
# Knobs: WEBHOOKS (5), BACKLOG (4000 events per webhook), RATE (100), DURATION (10);
# PHASES=writes runs only the write-path pairs, ROUNDS (1) times (0 webhooks, then WEBHOOKS).
set -euo pipefail
cd "$(dirname "$0")/.."
WEBHOOKS=${WEBHOOKS:-5}; ROUNDS=${ROUNDS:-1}; PHASES=${PHASES:-all}; BACKLOG=${BACKLOG:-4000}; RATE=${RATE:-100}; DURATION=${DURATION:-10}
# BIN=path runs that build instead of building the working tree (to compare two builds).
[ -n "${BIN:-}" ] || cargo build --release --quiet -p docket -p docket-bench --bins
BIN=${BIN:-target/release/docket}
CLIENT=target/release/docket-webhooks-bench

source bench/pg.sh
SERVERS=()
cleanup() {
  for pid in "${SERVERS[@]}"; do kill -TERM "$pid" 2>/dev/null && wait "$pid" 2>/dev/null; done
  stop_pg
}
trap cleanup EXIT
export PATH="$PG_BIN:$PATH"
export DOCKET_JWT_SECRET=benchmark-secret-0123456789abcdefghijklmnop \
  DOCKET_ENCRYPTION_KEY=benchmark-key-0123456789abcdefghijklmnopq \
  DOCKET_LOG=${DOCKET_LOG:-warn} DOCKET_RATE_LIMIT_PER_MINUTE=1000000 \
  DOCKET_TRUSTED_PROXIES=127.0.0.1/32 DATABASE_URL="$PG_URL" DOCKET_WEBHOOK_ALLOW_PRIVATE=true
"$BIN" migrate >/dev/null
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
serve() { # port
  "$BIN" serve --listen "127.0.0.1:$1" >/dev/null 2>&1 &
  SERVERS+=($!)
  for _ in $(seq 1 200); do curl -sf "http://127.0.0.1:$1/readyz" >/dev/null && return; sleep 0.1; done
  echo "no server on $1" >&2; exit 1
}
PORT=$(free_port); serve "$PORT"
URL="http://127.0.0.1:$PORT"
echo "machine: $(nproc) cores, $(free -g | awk '/Mem/ {print $2}') GiB, load $(cut -d' ' -f1-3 /proc/loadavg); $(git rev-parse --short HEAD)"
echo "| phase | what | | |"
echo "|---|---|---|---|"
for _ in $(seq 1 "$ROUNDS"); do
  "$CLIENT" --url "$URL" --phase writes --webhooks 0 --duration-s "$DURATION"
  "$CLIENT" --url "$URL" --phase writes --webhooks "$WEBHOOKS" --duration-s "$DURATION"
done
[ "$PHASES" = writes ] && exit 0
"$CLIENT" --url "$URL" --phase delay --webhooks "$WEBHOOKS" --rate "$RATE" --duration-s "$DURATION"
"$CLIENT" --url "$URL" --phase drain --webhooks 1 --backlog "$BACKLOG"
"$CLIENT" --url "$URL" --phase drain --webhooks "$WEBHOOKS" --backlog "$BACKLOG"
echo "| (a second instance on the same database) | | | |"
PORT2=$(free_port); serve "$PORT2"
"$CLIENT" --url "$URL" --phase drain --webhooks "$WEBHOOKS" --backlog "$BACKLOG"
