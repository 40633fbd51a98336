#!/usr/bin/env bash
# Custom fields over HTTP (issue 24 item 6): a running Docket on a project of 100,000 tasks with
# ten fields (bench/workflow-seed.sql + bench/fields-seed.sql), `GET /api/v1/projects/{id}/tasks`
#   base    the plain list (default order), limit=50
#   select  filtered by the select field `Size` (one option of five: ~20% of the tasks)
#   number  sorted by the number field `Points` (nulls last)
# each at page 1 and at a page deep in the list (`deep`: the cursor of a page ~90% through the
# plain and the filtered list, ~80% through the sorted one, reached by paging with limit=100 —
# cursors are opaque and bound to their query). Each scenario runs SECS seconds under wrk
# (bench/wrk/requests.lua, CONNS connections, the ten seeded users' tokens); the six run one
# after the other, round after round, so that a field query and its base see the same machine.
# Prints req/s and p50/p99 per run, then the median over the rounds of p99(field) / p99(base)
# at the same depth (the goal: ≤ 1.5).
#
#   bench/fields-http.sh [DOCKET_BIN (target/debug/docket)] [ROUNDS (3)] [SECS (5)]
# Knobs: TASKS (100000), CONNS (4), DOCKET_DB_MAX_CONNECTIONS (10), DOCKET_LOG (warn).
set -Eeuo pipefail
cd "$(dirname "$0")/.."
BIN=$(realpath "${1:-target/debug/docket}"); ROUNDS=${2:-3}; SECS=${3:-5}
TASKS=${TASKS:-100000}; CONNS=${CONNS:-4}
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
source bench/pg.sh
WORK=$(mktemp -d); SERVER=
cleanup() {
  [ -n "$SERVER" ] && kill -TERM "$SERVER" 2>/dev/null && wait "$SERVER" 2>/dev/null
  stop_pg; rm -rf "$WORK"
}
trap cleanup EXIT
export PATH="$PG_BIN:$PATH"
export DOCKET_JWT_SECRET=benchmark-secret-0123456789abcdefghijklmnop \
  DOCKET_ENCRYPTION_KEY=benchmark-key-0123456789abcdefghijklmnopq \
  DOCKET_LOG=${DOCKET_LOG:-warn} DOCKET_RATE_LIMIT_PER_MINUTE=1000000 \
  DOCKET_DB_MAX_CONNECTIONS=${DOCKET_DB_MAX_CONNECTIONS:-10}
DB="postgresql://docket@localhost/fields?host=$PG_DIR"
psql -h "$PG_DIR" -U docket -d postgres -qc "CREATE DATABASE fields"
DATABASE_URL=$DB "$BIN" migrate >/dev/null
started=$SECONDS
psql "$DB" -q -v tasks="$TASKS" -f bench/workflow-seed.sql >/dev/null
psql "$DB" -q -v ON_ERROR_STOP=1 -f bench/fields-seed.sql >/dev/null
psql "$DB" -qc "VACUUM ANALYZE" >/dev/null
echo "seeded $TASKS tasks with 10 fields in $((SECONDS - started)) s" >&2

q() { psql "$DB" -qAtc "$1"; }
PROJECT=$(q "SELECT id FROM projects WHERE name = 'Board'")
SIZE=$(q "SELECT id FROM custom_fields WHERE name = 'Size'")
POINTS=$(q "SELECT id FROM custom_fields WHERE name = 'Points'")
OPTION=$(q "SELECT options -> 2 ->> 'id' FROM custom_fields WHERE name = 'Size'")

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
URL="http://127.0.0.1:$PORT"
DATABASE_URL=$DB "$BIN" serve --listen "127.0.0.1:$PORT" >>"$WORK/server.log" 2>&1 &
SERVER=$!
for _ in $(seq 1 300); do curl -sf "$URL/readyz" >/dev/null && break; sleep 0.1; done
curl -sf "$URL/readyz" >/dev/null || { echo "server not ready" >&2; cat "$WORK/server.log" >&2; exit 1; }
for n in $(seq 1 10); do
  curl -sf "$URL/api/v1/auth/token" -H 'content-type: application/json' \
    -d "{\"grant_type\":\"password\",\"email\":\"bench-$n@example.com\",\"password\":\"benchmark passphrase\"}" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])' >>"$WORK/tokens"
done

# The request files: page 1, and the deep page's cursor found by paging through the API.
python3 - "$URL" "$WORK" "$PROJECT" "$SIZE" "$OPTION" "$POINTS" "$TASKS" <<'PY'
import json, random, sys, time, urllib.parse, urllib.request
url, work, project, size, option, points, tasks = sys.argv[1:]
tasks = int(tasks)
tokens = open(f"{work}/tokens").read().split()
base = f"/api/v1/projects/{project}/tasks"
queries = {"base": "", "select": f"&field.{size}={option}", "number": f"&sort=field.{points}"}
share = {"base": 0.9, "select": 0.9 * 0.2, "number": 0.8}  # Size: one option of five
random.seed(24)
def get(path):
    r = urllib.request.Request(url + path, headers={"Authorization": f"Bearer {tokens[0]}"})
    return json.load(urllib.request.urlopen(r))
for name, extra in queries.items():
    cursor, seen, started = None, 0, time.time()
    while seen < tasks * share[name]:
        page = get(f"{base}?limit=100{extra}" + (f"&cursor={urllib.parse.quote(cursor)}" if cursor else ""))
        seen += len(page["items"])
        cursor = page["next_cursor"]
        assert cursor, (name, seen)
    first = get(f"{base}?limit=50{extra}")["items"]
    deep = get(f"{base}?limit=50{extra}&cursor={urllib.parse.quote(cursor)}")["items"]
    assert len(first) == 50 and len(deep) == 50, (name, len(first), len(deep))
    if name == "select":
        assert all(t["fields"].get(size) == option for t in first + deep)
    print(f"  {name}: deep cursor after {seen} tasks ({time.time() - started:.0f} s of paging)", file=sys.stderr)
    for depth, tail in (("page1", ""), ("deep", f"&cursor={urllib.parse.quote(cursor)}")):
        with open(f"{work}/{name}_{depth}.txt", "w") as f:
            f.write("".join(f"GET\t{base}?limit=50{extra}{tail}\t{random.choice(tokens)}\n" for _ in range(100)))
PY

SCENARIOS="base_page1 select_page1 number_page1 base_deep select_deep number_deep"
for s in $SCENARIOS; do # warm-up
  wrk -t1 -c2 -d1s -s bench/wrk/requests.lua "$URL" -- "$WORK/$s.txt" >/dev/null 2>&1
done
echo "machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg); binary $BIN; $TASKS tasks; $CONNS connections; ${SECS} s per run"
printf '%-14s %5s %8s %8s %8s %6s\n' scenario round req/s p50_ms p99_ms non2xx
for round in $(seq 1 "$ROUNDS"); do
  for s in $SCENARIOS; do
    out=$(wrk -t2 -c"$CONNS" -d"${SECS}s" --timeout 10s -s bench/wrk/requests.lua "$URL" -- "$WORK/$s.txt" 2>"$WORK/wrk.err" | grep '^BENCH_RESULT')
    [ -s "$WORK/wrk.err" ] && cat "$WORK/wrk.err" >&2
    echo "$s $round $out" >>"$WORK/results"
    python3 - "$s" "$round" "$out" <<'PY'
import sys
s, rnd, line = sys.argv[1:]
f = dict(kv.split("=", 1) for kv in line.split()[1:])
print(f"{s:<14} {rnd:>5} {float(f['rps']):>8.0f} {float(f['p50_ms']):>8.2f} {float(f['p99_ms']):>8.2f} {f['non2xx']:>6}")
PY
  done
done
python3 - "$WORK/results" <<'PY'
import statistics, sys
runs = {}
for line in open(sys.argv[1]):
    s, rnd, result = line.split(" ", 2)
    f = dict(kv.split("=", 1) for kv in result.split()[1:])
    assert f["non2xx"] == "0", line
    runs[(s, rnd)] = (float(f["p50_ms"]), float(f["p99_ms"]))
rounds = sorted({r for _, r in runs})
print("\nfield query / the plain list at the same depth, median over the rounds (p50, p99; goal p99 <= 1.5)")
for kind in ("select", "number"):
    for depth in ("page1", "deep"):
        ratio = lambda i: statistics.median(runs[(f"{kind}_{depth}", r)][i] / runs[(f"base_{depth}", r)][i] for r in rounds)
        p99 = statistics.median(runs[(f"{kind}_{depth}", r)][1] for r in rounds)
        print(f"  {kind:>6} {depth:<5}  p50 {ratio(0):5.2f}  p99 {ratio(1):5.2f}   (p99 {p99:.2f} ms)")
PY
