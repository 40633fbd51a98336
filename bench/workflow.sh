#!/usr/bin/env bash
# The workflow benchmark: two server builds side by side on a project of 100,000 tasks, each on
# its own database seeded the same way (bench/workflow-seed.sql; the newer schema also gets
# subtasks and blocking relations). Both servers run at once, idle but for the run aimed at
# one of them: each scenario runs on A and then at once on B, round after round, so that the
# two runs of a pair see the same machine (a busy shared machine drifts by the minute). Prints
# req/s, p50/p99 and the CPU time per request of Docket and of its database's PostgreSQL
# processes (from /proc: what a request costs, which contention disturbs far less than
# throughput), then the medians over the rounds of the pairs' ratios B/A.
#
#   bench/workflow.sh BIN_A BIN_B [ROUNDS (5)] [SECONDS per run (5)]
#
# Scenarios (16 connections, wrk with bench/wrk/requests.lua, random users' tokens):
#   list   GET /projects/{id}/tasks?limit=50, the default sort and `sort=position` (half each)
#   board  GET /projects/{id}/tasks?status=S&sort=position&limit=50, the four columns
#   state  (B only) the same columns read by `state=` instead of `status=`
#   move   POST /tasks/{id}/move next to a random task, half of them to another status
# Knobs: TASKS (100000), CONNS (16), DOCKET_DB_MAX_CONNECTIONS (10), DOCKET_LOG (warn),
# STATEMENTS=1 (also print each database's statements by time per call, from
# pg_stat_statements), BENCH_LOGS (where the servers' logs are kept; /tmp).
set -Eeuo pipefail
cd "$(dirname "$0")/.."
A=$(realpath "$1"); B=$(realpath "$2"); ROUNDS=${3:-5}; SECS=${4:-5}
TASKS=${TASKS:-100000}; CONNS=${CONNS:-16}
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
[ -n "${STATEMENTS:-}" ] && export PG_EXTRA_OPTS="${PG_EXTRA_OPTS:-} -c shared_preload_libraries=pg_stat_statements -c pg_stat_statements.track=all"
source bench/pg.sh
WORK=$(mktemp -d); SERVER=; SERVERS=
cleanup() {
  for pid in $SERVER $SERVERS; do kill -TERM "$pid" 2>/dev/null && wait "$pid" 2>/dev/null; done
  cp "$WORK"/server-*.log "${BENCH_LOGS:-/tmp}/" 2>/dev/null; stop_pg; rm -rf "$WORK"
}
trap cleanup EXIT
export PATH="$PG_BIN:$PATH"
export DOCKET_JWT_SECRET=benchmark-secret-0123456789abcdefghijklmnop \
  DOCKET_ENCRYPTION_KEY=benchmark-key-0123456789abcdefghijklmnopq \
  DOCKET_LOG=${DOCKET_LOG:-warn} DOCKET_RATE_LIMIT_PER_MINUTE=1000000 \
  DOCKET_DB_MAX_CONNECTIONS=${DOCKET_DB_MAX_CONNECTIONS:-10}
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
declare -A PORTS=([a]=$(free_port) [b]=$(free_port)) PIDS
url() { echo "http://127.0.0.1:${PORTS[$1]}"; }

serve() { # build
  local bin=$A; [ "$1" = b ] && bin=$B
  DATABASE_URL="postgresql://docket@localhost/wf_$1?host=$PG_DIR" "$bin" serve --listen "127.0.0.1:${PORTS[$1]}" >>"$WORK/server-$1.log" 2>&1 &
  SERVER=$!
  for _ in $(seq 1 200); do curl -sf "$(url "$1")/readyz" >/dev/null && return; sleep 0.1; done
  echo "server $1 not ready" >&2; exit 1
}
stop() { kill -TERM "$SERVER"; wait "$SERVER" || true; SERVER=; }

for build in a b; do
  bin=$A; [ $build = b ] && bin=$B
  psql -h "$PG_DIR" -U docket -d postgres -qc "CREATE DATABASE wf_$build"
  DATABASE_URL="postgresql://docket@localhost/wf_$build?host=$PG_DIR" "$bin" migrate >/dev/null
  started=$SECONDS
  psql -h "$PG_DIR" -U docket -d "wf_$build" -q -v tasks="$TASKS" -f bench/workflow-seed.sql >/dev/null
  echo "build $build: seeded $TASKS tasks in $((SECONDS - started)) s" >&2
  # Requests: ten users' tokens, the project, its tasks and states.
  serve $build
  : >"$WORK/tokens-$build"
  for n in $(seq 1 10); do
    curl -sf "$(url $build)/api/v1/auth/token" -H 'content-type: application/json' \
      -d "{\"grant_type\":\"password\",\"email\":\"bench-$n@example.com\",\"password\":\"benchmark passphrase\"}" |
      python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])' >>"$WORK/tokens-$build"
  done
  stop
  psql -h "$PG_DIR" -U docket -d "wf_$build" -Atc "SELECT id FROM projects WHERE name = 'Board'" >"$WORK/project-$build"
  psql -h "$PG_DIR" -U docket -d "wf_$build" -Atc "SELECT id FROM tasks ORDER BY random() LIMIT 20000" >"$WORK/tasks-$build"
  if [ $build = b ]; then
    psql -h "$PG_DIR" -U docket -d wf_b -Atc "SELECT id FROM states ORDER BY position" >"$WORK/states-b"
  fi
  python3 - "$WORK" "$build" <<'PY'
import random, sys
work, build = sys.argv[1], sys.argv[2]
random.seed(42)
tokens = open(f"{work}/tokens-{build}").read().split()
project = open(f"{work}/project-{build}").read().strip()
tasks = open(f"{work}/tasks-{build}").read().split()
base = f"/api/v1/projects/{project}/tasks"
def write(name, lines):
    with open(f"{work}/{name}-{build}.txt", "w") as f:
        f.write("\n".join(lines) + "\n")
write("list", [f"GET\t{base}?limit=50{q}\t{random.choice(tokens)}"
               for q in ["", "&sort=position"] for _ in range(200)])
statuses = ["todo", "in_progress", "done", "canceled"]
write("board", [f"GET\t{base}?status={s}&sort=position&limit=50\t{random.choice(tokens)}"
                for s in statuses for _ in range(100)])
if build == "b":
    states = open(f"{work}/states-b").read().split()
    write("state", [f"GET\t{base}?state={s}&sort=position&limit=50\t{random.choice(tokens)}"
                    for s in states for _ in range(100)])
moves = []
for _ in range(20000):
    task, neighbour = random.sample(tasks, 2)
    status = f',"status":"{random.choice(statuses)}"' if random.random() < 0.5 else ""
    moves.append(f'POST\t/api/v1/tasks/{task}/move\t{random.choice(tokens)}\t{{"before_id":"{neighbour}"{status}}}')
write("move", moves)
PY
done

TICK=$(getconf CLK_TCK)
ticks() { awk '{s += $14 + $15} END {print s + 0}' "$@" 2>/dev/null; }
pg_ticks() { # build: the PostgreSQL processes working for its database (backends, autovacuum)
  local pids
  pids=$(for pid in $(pgrep -P "$(head -n1 "$PG_DIR/data/postmaster.pid")"); do
    tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q " wf_$1 " && echo "/proc/$pid/stat"; done)
  ticks $pids
}

run() { # build scenario round
  local out a b pa pb pid=${PIDS[$1]}
  a=$(ticks "/proc/$pid/stat"); pa=$(pg_ticks "$1")
  out=$(wrk -t2 -c"$CONNS" -d"${SECS}s" --timeout 10s -s bench/wrk/requests.lua "$(url "$1")" -- "$WORK/$2-$1.txt" 2>"$WORK/wrk.err" | grep '^BENCH_RESULT' || true)
  b=$(ticks "/proc/$pid/stat"); pb=$(pg_ticks "$1")
  [ -s "$WORK/wrk.err" ] && cat "$WORK/wrk.err" >&2
  echo "$1 $2 $3 $out docket_ticks=$((b - a)) pg_ticks=$((pb - pa))" >>"$WORK/results"
  python3 - "$1" "$2" "$3" "$out" "$((b - a))" "$((pb - pa))" "$TICK" <<'PY'
import sys
build, scenario, rnd, line, dt, pt, tick = sys.argv[1:]
f = dict(kv.split("=", 1) for kv in line.split()[1:])
n = int(f["requests"]); us = lambda t: int(t) / float(tick) / n * 1e6
print(f"{build.upper():>5}  {scenario:>6}  {rnd:>5}  {float(f['rps']):>8.0f}  {float(f['p50_ms']):>7.2f}  "
      f"{float(f['p99_ms']):>7.2f}  {us(dt):>10.0f}  {us(pt):>11.0f}  {f['non2xx']:>6}")
PY
}

echo "machine: $(nproc) cores; $TASKS tasks in one project; $CONNS connections; ${SECS} s per run"
echo "build  scenario  round     req/s   p50 ms   p99 ms  docket µs  postgres µs  non2xx"
for build in a b; do
  serve $build; PIDS[$build]=$SERVER; SERVERS="$SERVERS $SERVER"; SERVER=
  wrk -t2 -c"$CONNS" -d3s -s bench/wrk/requests.lua "$(url $build)" -- "$WORK/list-$build.txt" >/dev/null 2>&1 # warm-up
done
for round in $(seq 1 "$ROUNDS"); do
  for scenario in list board move; do
    run a $scenario "$round"
    run b $scenario "$round"
    [ $scenario = board ] && run b state "$round"
  done
done

if [ -n "${STATEMENTS:-}" ]; then
  for build in a b; do
    echo "-- $build: statements by total time (ms per call, calls, shared blocks hit per call)"
    psql -h "$PG_DIR" -U docket -d "wf_$build" -qAt -F ' | ' -c "CREATE EXTENSION IF NOT EXISTS pg_stat_statements" \
      -c "SELECT round((total_exec_time / calls)::numeric, 3), calls, round(shared_blks_hit::numeric / calls, 1), \
            left(regexp_replace(coalesce(substring(query from 'FROM tasks t.*'), query), '\s+', ' ', 'g'), 160) FROM pg_stat_statements \
          WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database()) \
          ORDER BY total_exec_time DESC LIMIT 30"
  done
fi

python3 - "$WORK/results" "$TICK" <<'PY'
import sys, statistics
tick = float(sys.argv[2])
runs = {}
for line in open(sys.argv[1]):
    build, scenario, rnd, result = line.split(" ", 3)
    f = dict(kv.split("=", 1) for kv in result.split()[1:])
    n = int(f["requests"])
    cpu = (int(f["docket_ticks"]) + int(f["pg_ticks"])) / tick / n * 1e6
    runs[(build, scenario, rnd)] = (float(f["rps"]), float(f["p99_ms"]), cpu)
def line(label, a_scenario, b_scenario):
    pairs = [(runs[("a", a_scenario, r)], b) for (build, s, r), b in runs.items()
             if build == "b" and s == b_scenario and ("a", a_scenario, r) in runs]
    ratio = lambda i: statistics.median(b[i] / a[i] for a, b in pairs)
    print(f"  {label}: req/s {ratio(0):.3f}, p99 {ratio(1):.3f}, "
          f"CPU per request (Docket + PostgreSQL) {ratio(2):.3f}   ({len(pairs)} pairs)")
print("\nB / A, the median of the pairs' ratios")
for scenario in ["list", "board", "move"]:
    line(f"{scenario:>6}", scenario, scenario)
line("board by state (B) / by status (A)", "board", "state")
PY
