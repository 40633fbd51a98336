#!/usr/bin/env bash
# Issue 28, the history without one lock for the whole database: every figure of
# docs/performance.md's section on it, from one run (release builds, a throwaway PostgreSQL).
#
#   1. The designs at the database (bench/client/src/journal.rs): the same write transactions
#      with no history, main's lock, NOTIFY alone, (a) xid + xmin, (b) the sequencer (and, by
#      hand with `--designs wm`, entries written once under a shared lock); 16 and 64
#      connections, 1 and 64 projects, ROUNDS runs of each in turn; then commit → readable
#      delays at 100 and 1,000 changes/s, and at 100/s with a transaction held open a second.
#   2. The server over HTTP (scenario w, half PATCH half create, bench/client): Docket without
#      history, with main's lock, with the sequencer; 16 and 64 connections, 1 and 64 projects,
#      ROUNDS rounds in turn. With the sequencer also creates only, and pgbench on the same
#      create transaction (the ceiling).
#   3. Commit → delivery over HTTP (bench/client/src/events.rs): event streams open while
#      writers change tasks at 100 and 1,000 changes/s, on the lock build and the sequencer's.
#   Then the ratios (medians of the rounds; CPU per write beside them: on a shared machine
#   throughput moves with whatever else runs, CPU per write much less).
#
# Builds: the working tree (release) twice, as is and with `--features bench-without-history`;
# BIN_LOCK is main before the journal (default target/bench-bins/docket-lock, built from dde89c0;
# the first figures used 560077f). Knobs: ROUNDS (3), DURATION (10, HTTP), WARMUP (3),
# DESIGN_DURATION (5), STREAMS (20), SKIP_BUILD=1, SKIP_DESIGNS=1, SKIP_HTTP=1, SKIP_EVENTS=1,
# HTTP_PROJECTS ("1 64"), HTTP_BUILDS ("without-history lock sequencer"; another NAME runs
# target/bench-bins/docket-NAME, to compare variants of the sequencer), BIN_SEQUENCER
# (target/release/docket), SEQUENCER_SCENARIOS ("w,cr,pgw"), KEEP_RAW (a directory: the raw
# BENCH lines are copied there, for per-round pairs).
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${DURATION:-10}; WARMUP=${WARMUP:-3}; STREAMS=${STREAMS:-20}; ROUNDS=${ROUNDS:-3}
DESIGN_DURATION=${DESIGN_DURATION:-5}
BIN_LOCK=${BIN_LOCK:-target/bench-bins/docket-lock}
[ -x "$BIN_LOCK" ] || { echo "BIN_LOCK=$BIN_LOCK: build main (dde89c0) in release and copy it there" >&2; exit 2; }
mkdir -p target/bench-bins
# Both builds select the same packages, so that their dependencies are built once.
# SKIP_BUILD=1 runs the binaries already there (each build is minutes on a loaded machine).
if [ -z "${SKIP_BUILD:-}" ]; then
  cargo build --release --quiet -p docket -p docket-bench --bins --features docket/bench-without-history
  cp target/release/docket target/bench-bins/docket-without-history
  cargo build --release --quiet -p docket -p docket-bench --bins
fi
BIN=${BIN_SEQUENCER:-target/release/docket}
OUT=$(mktemp -d)

# No checkpoint during a run: one that falls inside a build's run makes it write every page it
# touches whole into the WAL again (full-page writes) and costs it ~10-30% of its writes, which
# was most of the spread between rounds. Each run starts right after one instead (below).
PG_EXTRA_OPTS="-c max_wal_size=8GB -c checkpoint_timeout=1h ${PG_EXTRA_OPTS:-}"
source bench/pg.sh
SERVER=
cleanup() { [ -n "$SERVER" ] && kill -TERM "$SERVER" 2>/dev/null && wait "$SERVER" 2>/dev/null; stop_pg; [ -n "${KEEP_RAW:-}" ] && cp "$OUT"/*.txt "$KEEP_RAW"/ 2>/dev/null; rm -rf "$OUT"; }
trap cleanup EXIT
source bench/journal-seed.sh

echo "machine: $(nproc) cores, $(free -g | awk '/Mem/ {print $2}') GiB, load $(cut -d' ' -f1-3 /proc/loadavg); $(date -u +%FT%TZ)"
echo "builds: sequencer $(git rev-parse --short HEAD)$(git diff --quiet || echo +changes), lock $(cat "$BIN_LOCK.commit" 2>/dev/null || echo '?')"

# The data: 64 projects, 64,000 tasks, every user an editor of every project; migrated by the
# lock build (the others add their migrations to their copy).
seed_journal "$BIN_LOCK"

if [ -z "${SKIP_DESIGNS:-}" ]; then
  copy journal_designs "$BIN"
  designs() { target/release/docket-journal-bench --database-url "$(url_of journal_designs)" \
    --duration-s "$DESIGN_DURATION" --warmup-s 2 "$@"; }
  designs --rounds "$ROUNDS"
  designs --designs lock,xid,seq --connections 16 --projects 64 --rate 100
  designs --designs lock,xid,seq --connections 16 --projects 64 --rate 1000
  designs --designs lock,xid,seq --connections 16 --projects 64 --rate 100 --hold
fi

if [ -z "${SKIP_HTTP:-}" ]; then
  bin_of() { case $1 in
    without-history) echo target/bench-bins/docket-without-history ;;
    lock) echo "$BIN_LOCK" ;;
    sequencer) echo "$BIN" ;;
    *) echo "target/bench-bins/docket-$1" ;;
  esac; }
  for round in $(seq 1 "$ROUNDS"); do
    for build in ${HTTP_BUILDS:-without-history lock sequencer}; do
      for projects in ${HTTP_PROJECTS:-1 64}; do
        # A fresh copy each time: creates pile up in one project (up to its 100,000 quota).
        db=journal_${build//-/_}_${projects}_$round
        copy "$db" "$(bin_of $build)"
        serve "$db" "$(bin_of $build)"
        scenarios=w; [ $build = sequencer ] && scenarios=${SEQUENCER_SCENARIOS:-w,cr,pgw}
        echo "round $round, $build, $projects project(s):"
        psql_on postgres -c CHECKPOINT >/dev/null
        target/release/docket-bench --url "http://127.0.0.1:$PORT" --database-url "$(url_of "$db")" \
          --server-pid "$SERVER" --duration-s "$DURATION" --warmup-s "$WARMUP" --connections 16,64 \
          --users 50 --scenarios "$scenarios" --write-projects "$projects" --label "$build" 2>/dev/null \
          | tee -a "$OUT/http.txt" | grep -v '^BENCH' | grep '^| [a-z]' || true
        stop
        psql_on postgres -c "DROP DATABASE $db"
      done
    done
  done
fi

if [ -z "${SKIP_EVENTS:-}" ]; then
  for build in lock sequencer; do
    bin=$BIN; [ $build = lock ] && bin=$BIN_LOCK
    for rate in 100 1000; do
      db=journal_events_${build}_$rate
      psql_on postgres -c "CREATE DATABASE $db"
      DATABASE_URL=$(url_of "$db") "$bin" migrate >/dev/null
      serve "$db" "$bin"
      echo "commit → delivery, $build build, $rate changes/s, $STREAMS streams:"
      target/release/docket-events-bench --url "http://127.0.0.1:$PORT" --streams "$STREAMS" \
        --users $(( (STREAMS + 9) / 10 )) --writers 16 --duration-s "$DURATION" --rate "$rate" \
        | sed "s/^EVENTS /EVENTS build=$build /" | tee -a "$OUT/events.txt" | grep -v '^EVENTS' || true
      stop
    done
  done
fi

python3 - "$OUT" <<'PY'
import os, re, statistics, sys
out = sys.argv[1]
def rows(name, tag):
    path = os.path.join(out, name)
    if not os.path.exists(path):
        return []
    return [dict((k, v.strip('"')) for k, v in re.findall(r'(\w+)=("[^"]*"|\S+)', line))
            for line in open(path) if line.startswith(tag + " ")]
http = rows("http.txt", "BENCH")
if http:
    runs = {}
    for r in http:
        key = (r["label"], r["scenario"], int(r["conns"]), int(r["write_projects"]))
        runs.setdefault(key, []).append(r)
    def med(key, field):
        values = [float(r[field]) for r in runs.get(key, [])]
        return statistics.median(values) if values else None
    def rate(key):
        values = sorted(float(r["rps"]) for r in runs.get(key, []))
        if not values:
            return "–"
        spread = f" ({values[0]:,.0f}–{values[-1]:,.0f})" if len(values) > 1 else ""
        return f"{statistics.median(values):,.0f}{spread}"
    def cpu(key):
        s, p = med(key, "cpu_server_us"), med(key, "cpu_pg_us")
        return None if s is None else s + p
    ratio = lambda a, b: "–" if a is None or not b else f"{a / b:.2f}"
    print("\n## HTTP, scenario w (half PATCH, half create): writes/s, median of the rounds (range)\n")
    print("| conns | projects | without history | lock (main) | sequencer | lock ÷ without | sequencer ÷ without | CPU µs/write (server + PostgreSQL) without / lock / sequencer | sequencer ÷ without, by CPU |")
    print("|---|---|---|---|---|---|---|---|---|")
    for conns in (16, 64):
        for projects in (1, 64):
            k = lambda build: (build, "w", conns, projects)
            none, lock, seq = (med(k(b), "rps") for b in ("without-history", "lock", "sequencer"))
            cpus = [cpu(k(b)) for b in ("without-history", "lock", "sequencer")]
            cpu_text = " / ".join("–" if c is None else f"{c:.0f}" for c in cpus)
            by_cpu = ratio(cpus[0], cpus[2])
            print(f"| {conns} | {projects} | {rate(k('without-history'))} | {rate(k('lock'))} | {rate(k('sequencer'))} | {ratio(lock, none)} | {ratio(seq, none)} | {cpu_text} | {by_cpu} |")
    print("\n## HTTP, scenario w, every build: writes/s, median (range); ÷ without history; CPU µs/write\n")
    print("| build | conns | projects | writes/s | ÷ without | CPU µs/write |")
    print("|---|---|---|---|---|---|")
    for label in dict.fromkeys(r["label"] for r in http):
        for conns in (16, 64):
            for projects in sorted({k[3] for k in runs}):
                key, base = (label, "w", conns, projects), ("without-history", "w", conns, projects)
                if key in runs:
                    c = cpu(key)
                    print(f"| {label} | {conns} | {projects} | {rate(key)} | {ratio(med(key, 'rps'), med(base, 'rps'))} | {'–' if c is None else f'{c:.0f}'} |")
    print("\n## HTTP creates against pgbench on the same transaction (sequencer build), median of the rounds\n")
    print("| conns | projects | Docket creates/s | pgbench creates/s | Docket ÷ pgbench | CPU µs/create: Docket server + PostgreSQL / PostgreSQL under pgbench |")
    print("|---|---|---|---|---|---|")
    for conns in (16, 64):
        for projects in (1, 64):
            cr, pg = ("sequencer", "cr", conns, projects), ("sequencer", "pgw", conns, projects)
            c, p = cpu(cr), med(pg, "cpu_pg_us")
            cpu_text = "–" if c is None or p is None else f"{med(cr, 'cpu_server_us'):.0f} + {med(cr, 'cpu_pg_us'):.0f} / {p:.0f}"
            print(f"| {conns} | {projects} | {rate(cr)} | {rate(pg)} | {ratio(med(cr, 'rps'), med(pg, 'rps'))} | {cpu_text} |")
events = rows("events.txt", "EVENTS")
if events:
    print("\n## Commit → delivery over HTTP\n")
    print("| build | target changes/s | achieved | delivered | p50 ms | p99 ms | max ms |")
    print("|---|---|---|---|---|---|---|")
    for e in events:
        print(f"| {e['build']} | {e['rate']} | {e['entries_per_s']} | {e['delivered']} of {e['expected']} | {e['p50']} | {e['p99']} | {e['max']} |")
PY
