#!/usr/bin/env bash
# Where the database time goes per write (issue 28, the one-project case): scenario w through
# each build in turn, then its statements by total time from pg_stat_statements (the time a
# statement waits for a row lock counts: on one project the create's project-counter UPDATE
# shows the queue). Builds are target/bench-bins/docket-NAME (see bench/journal.sh).
# usage: bench/journal-profile.sh NAME... (knobs DURATION 10, CONNS 16, PROJECTS 1, ROUNDS 1, TOP 14)
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${DURATION:-10}; CONNS=${CONNS:-16}; PROJECTS=${PROJECTS:-1}
PG_EXTRA_OPTS="-c shared_preload_libraries=pg_stat_statements -c pg_stat_statements.track=all" source bench/pg.sh
SERVER=
cleanup() { [ -n "$SERVER" ] && kill -TERM "$SERVER" 2>/dev/null && wait "$SERVER" 2>/dev/null; stop_pg; }
trap cleanup EXIT
source bench/journal-seed.sh
bin_of() { echo "target/bench-bins/docket-$1"; }
psql_on postgres -c "CREATE EXTENSION pg_stat_statements"
seed_journal target/bench-bins/docket-lock
for round in $(seq 1 "${ROUNDS:-1}"); do
for build in "$@"; do
  bin=$(bin_of "$build"); db=p_${build//-/_}_$round
  copy "$db" "$bin"
  serve "$db" "$bin"
  psql_on postgres -c "SELECT pg_stat_statements_reset()" >/dev/null
  echo "== round $round $build ($CONNS conns, $PROJECTS project(s), load $(cut -d' ' -f1 /proc/loadavg))"
  target/release/docket-bench --url "http://127.0.0.1:$PORT" --database-url "$(url_of "$db")" \
    --server-pid "$SERVER" --duration-s "$DURATION" --warmup-s 3 --connections "$CONNS" \
    --users 50 --scenarios w --write-projects "$PROJECTS" --label "$build" 2>/dev/null | grep '^BENCH' || true
  psql_on postgres -P pager=off -c "SELECT calls, round(total_exec_time::numeric,0) AS ms, \
      round(mean_exec_time::numeric*1000,0) AS mean_us, left(regexp_replace(query, '\s+', ' ', 'g'), 90) AS q \
    FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid WHERE d.datname = '$db' \
    ORDER BY total_exec_time DESC LIMIT ${TOP:-14}"
  stop
  psql_on postgres -c "DROP DATABASE $db"
done
done
