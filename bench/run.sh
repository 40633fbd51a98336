#!/usr/bin/env bash
# The load benchmark: seeds a database, starts Docket on it, drives it over HTTP with many
# users' access tokens (scenarios a–d at 16 and 64 connections), runs pgbench on the same SQL
# as scenario (a) for the ceiling, and repeats the list scenario on a 10,000-task database.
#
#   bench/run.sh          full run: release build, 1,000,000 tasks, 10 s per scenario
#   bench/run.sh --smoke  seconds-long run on tiny data with the debug build (CI)
# Knobs (environment): DOCKET_LOG (default warn; `info` writes the access log),
# DATASETS=small to skip the 1,000,000-task set, SMALL_SCENARIOS (a,b), BIG_SCENARIOS
# (a,b,c,d,pg; also w: writes only, half PATCH half create), DURATION, WARMUP,
# CONNS, USERS, SERVER_LOG (where the server's standard output goes; /dev/null), BIN (a server
# binary to measure instead of building one).
# The client is its own crate (bench/client), built here and never with the server.
set -euo pipefail
cd "$(dirname "$0")/.."

# With BIN given, only the client is built.
SERVER_PACKAGE="-p docket"; [ -n "${BIN:-}" ] && SERVER_PACKAGE=
if [ "${1:-}" = "--smoke" ]; then
  PROFILE=debug; DURATION=2; WARMUP=1; CONNS=4; USERS=10
  BIG=(-v users=30 -v projects=60 -v tasks=3000); SMALL=(-v users=30 -v projects=20 -v tasks=500)
  BIG_LABEL="3,000 tasks (smoke)"; SMALL_LABEL="500 tasks (smoke)"
  cargo build --quiet -p docket-bench $SERVER_PACKAGE --bins
else
  PROFILE=release; DURATION=${DURATION:-10}; WARMUP=${WARMUP:-3}; CONNS=${CONNS:-16,64}; USERS=${USERS:-50}
  BIG=(-v users=1000 -v projects=10000 -v tasks=1000000); SMALL=(-v users=1000 -v projects=100 -v tasks=10000)
  BIG_LABEL="1,000,000 tasks, 10,000 projects, 1,000 users"; SMALL_LABEL="10,000 tasks, 100 projects"
  cargo build --release --quiet -p docket-bench $SERVER_PACKAGE --bins
fi
BIN=${BIN:-target/$PROFILE/docket}
BENCH=target/$PROFILE/docket-bench

source bench/pg.sh
SERVER=
cleanup() { [ -n "$SERVER" ] && kill -TERM "$SERVER" 2>/dev/null && wait "$SERVER" 2>/dev/null; stop_pg; }
trap cleanup EXIT
export PATH="$PG_BIN:$PATH"
export DOCKET_JWT_SECRET=benchmark-secret-0123456789abcdefghijklmnop \
  DOCKET_ENCRYPTION_KEY=benchmark-key-0123456789abcdefghijklmnopq \
  DOCKET_LOG=${DOCKET_LOG:-warn} DOCKET_RATE_LIMIT_PER_MINUTE=1000000 \
  DOCKET_TRUSTED_PROXIES=127.0.0.1/32 DOCKET_DB_MAX_CONNECTIONS=${DOCKET_DB_MAX_CONNECTIONS:-10}

run_on() { # database-name label scenarios seed-args...
  local db=$1 label=$2 scenarios=$3; shift 3
  psql -h "$PG_DIR" -U docket -d postgres -qc "CREATE DATABASE $db" >/dev/null
  local url="postgresql://docket@localhost/$db?host=$PG_DIR"
  DATABASE_URL="$url" "$BIN" migrate >/dev/null
  local started=$SECONDS
  psql -h "$PG_DIR" -U docket -d "$db" -q -v ON_ERROR_STOP=1 "$@" -f scripts/seed.sql >/dev/null
  echo "seeded $label in $((SECONDS - started)) s" >&2
  local port
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  DATABASE_URL="$url" "$BIN" serve --listen "127.0.0.1:$port" >"${SERVER_LOG:-/dev/null}" 2>&1 &
  SERVER=$!
  for _ in $(seq 1 200); do curl -sf "http://127.0.0.1:$port/readyz" >/dev/null && break; sleep 0.1; done
  "$BENCH" --url "http://127.0.0.1:$port" --database-url "$url" --server-pid "$SERVER" \
    --duration-s "$DURATION" --warmup-s "$WARMUP" --connections "$CONNS" --users "$USERS" \
    --scenarios "$scenarios" --label "$label"
  kill -TERM "$SERVER"; wait "$SERVER" || true; SERVER=
}

echo "machine: $(nproc) cores, $(free -g | awk '/Mem/ {print $2}') GiB, $(uname -r); profile $PROFILE"
run_on bench_small "$SMALL_LABEL" "${SMALL_SCENARIOS:-a,b}" "${SMALL[@]}"
if [ "${DATASETS:-all}" != small ]; then
  run_on bench_big "$BIG_LABEL" "${BIG_SCENARIOS:-a,b,c,d,pg}" "${BIG[@]}"
fi
