#!/usr/bin/env bash
# Where the CPU goes per write, by process and by function (issue 28): scenario w through each
# build in turn while `perf record -a` samples every core for the middle of the run; prints CPU
# µs per write by process (PostgreSQL, Docket, the bench client, idle), the PostgreSQL time spent
# reading stored expressions back from text (CHECK constraints, defaults: `pg_strtok` and kin),
# and the functions that differ most from the first build. Builds are target/bench-bins/docket-NAME
# (see bench/journal.sh). Needs `perf` (linux-perf) and root or perf_event_paranoid <= 1.
# usage: bench/cpu-profile.sh NAME... (knobs DURATION 12, CONNS 16, PROJECTS 64, ROUNDS 1, TOP 15)
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${DURATION:-12}; CONNS=${CONNS:-16}; PROJECTS=${PROJECTS:-64}; WARMUP=3
command -v perf >/dev/null || { echo "perf is missing: apt-get install linux-perf" >&2; exit 2; }
PG_EXTRA_OPTS="-c max_wal_size=8GB -c checkpoint_timeout=1h" source bench/pg.sh
SERVER=
OUT=$(mktemp -d)
cleanup() { [ -n "$SERVER" ] && kill -TERM "$SERVER" 2>/dev/null && wait "$SERVER" 2>/dev/null; stop_pg; rm -rf "$OUT"; }
trap cleanup EXIT
source bench/journal-seed.sh
seed_journal "target/bench-bins/docket-$1"
echo "machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg); $CONNS connections, $PROJECTS project(s)"
for round in $(seq 1 "${ROUNDS:-1}"); do
  order=0
  for build in "$@"; do
    order=$((order + 1))
    bin=target/bench-bins/docket-$build
    db=cpu_${build//-/_}_$round
    copy "$db" "$bin"
    serve "$db" "$bin"
    psql_on postgres -c CHECKPOINT >/dev/null
    # Sampling starts a second after the warm-up ends (the client says when it has logged in)
    # and stops a second before the measured part does.
    ( until grep -q "logged in" "$OUT/client.err" 2>/dev/null; do sleep 0.05; done
      sleep $((WARMUP + 1))
      perf record -q -a -F 1999 -o "$OUT/$build-$round.data" -- sleep $((DURATION - 2)) >/dev/null 2>&1 ) &
    sampler=$!
    rm -f "$OUT/client.err"
    line=$(target/release/docket-bench --url "http://127.0.0.1:$PORT" --database-url "$(url_of "$db")" \
      --server-pid "$SERVER" --duration-s "$DURATION" --warmup-s "$WARMUP" --connections "$CONNS" \
      --users 50 --scenarios w --write-projects "$PROJECTS" --label "$build" 2>"$OUT/client.err" | grep '^BENCH')
    wait "$sampler"
    stop
    psql_on postgres -c "DROP DATABASE $db"
    rps=$(sed -E 's/.* rps=([0-9.]+).*/\1/' <<<"$line")
    perf script -i "$OUT/$build-$round.data" -F comm,pid,ip,sym,dso 2>/dev/null \
      | python3 bench/cpu-profile.py summarize "$build" "$order" "$round" "$rps" $((DURATION - 2)) >"$OUT/$build-$round.json"
    rm -f "$OUT/$build-$round.data"
  done
done
python3 bench/cpu-profile.py report "${TOP:-15}" "$OUT"/*.json
