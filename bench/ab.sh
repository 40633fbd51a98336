#!/usr/bin/env bash
# A/B of two server builds on one database: the same data, the same logged-in tokens, the
# binaries swapped in place between rounds, so that only the build differs. Prints req/s, p99,
# and CPU per request of Docket and of PostgreSQL (from /proc) for each build, round and
# concurrency. Runs alternate (A B A B ...) so that drift of the machine hits both.
#
# usage: bench/ab.sh BIN_A BIN_B [ROUNDS (2)] [SECONDS per run (10)]
# Needs ../shared/bench/docket-target.sh (the side-by-side benchmark's Docket set-up: its own
# PostgreSQL on port 55433, 100,000 tasks, 300 logins whose tokens live 15 minutes) and wrk.
set -Eeuo pipefail
cd "$(dirname "$0")/.."
A=$(realpath "$1"); B=$(realpath "$2"); ROUNDS=${3:-2}; SECS=${4:-10}
TARGET=${DOCKET_TARGET_SCRIPT:-../shared/bench/docket-target.sh}
WRK_SCRIPT=$(dirname "$TARGET")/wrk/get_task.lua
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
WORK=$(mktemp -d); OUT=$WORK/target-out
mkdir -p "$WORK/project/target/release" "$WORK/project/scripts"
cp scripts/seed.sql "$WORK/project/scripts/"
cp "$A" "$WORK/project/target/release/docket"
trap '"$TARGET" --stop "$OUT" >/dev/null 2>&1 || true; rm -rf "$WORK"' EXIT
"$TARGET" "$WORK/project" "$OUT" >&2
URL=$(cat "$OUT/url"); PORT=${URL##*:}
tr '\0' '\n' <"/proc/$(cat "$OUT/docket.pid")/environ" | grep -E '^(DATABASE_URL|DOCKET_)' >"$WORK/env"
PG_PORT=$(sed -n 's/^DATABASE_URL=.*:\([0-9]*\)\/.*/\1/p' "$WORK/env")
TICK=$(getconf CLK_TCK)

serve() { # binary: restarts the server with the same environment and port
  local old; old=$(cat "$OUT/docket.pid")
  kill -TERM "$old" 2>/dev/null || true
  while kill -0 "$old" 2>/dev/null; do sleep 0.1; done
  (set -a; . "$WORK/env"; set +a; exec setsid "$1" serve --listen "127.0.0.1:$PORT" >"$OUT/server.log" 2>&1) &
  echo $! >"$OUT/docket.pid"
  for _ in $(seq 1 100); do curl -sf "$URL/readyz" >/dev/null && break; sleep 0.1; done
  wrk -t2 -c16 -d3s -s "$WRK_SCRIPT" "$URL" -- "$OUT/pairs.txt" >/dev/null 2>&1  # warm-up
}
ticks() { awk '{s += $14 + $15} END {print s + 0}' "$@" 2>/dev/null; }
pg_ticks() { ticks $(pgrep -f "postgres: .*127.0.0.1" | sed 's|.*|/proc/&/stat|'); }

echo "build  round  conns    req/s   p99 ms  docket µs/req  postgres µs/req"
for round in $(seq 1 "$ROUNDS"); do
  for build in A B; do
    bin=$A; [ $build = B ] && bin=$B
    serve "$bin"
    pid=$(cat "$OUT/docket.pid")
    for conns in 16 64; do
      a=$(ticks "/proc/$pid/stat"); pa=$(pg_ticks)
      result=$(wrk -t2 -c"$conns" -d"${SECS}s" --timeout 5s -s "$WRK_SCRIPT" "$URL" -- "$OUT/pairs.txt" 2>&1 | grep '^BENCH_RESULT')
      b=$(ticks "/proc/$pid/stat"); pb=$(pg_ticks)
      python3 - "$result" "$build" "$round" "$conns" "$a" "$b" "$pa" "$pb" "$TICK" <<'PY'
import sys
result, build, rnd, conns, a, b, pa, pb, tick = sys.argv[1:]
f = dict(kv.split("=", 1) for kv in result.split()[1:])
n = int(f["requests"]); t = float(tick)
if f["non2xx"] != "0": print(f"warning: {f['non2xx']} non-2xx", file=sys.stderr)
print(f"{build:>5}  {rnd:>5}  {conns:>5}  {float(f['rps']):>7.0f}  {float(f['p99_ms']):>7.2f}"
      f"  {(float(b) - float(a)) / t / n * 1e6:>13.1f}  {(float(pb) - float(pa)) / t / n * 1e6:>15.1f}")
PY
    done
  done
done
