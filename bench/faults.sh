#!/usr/bin/env bash
# The fault suite against a release build, printing issue 26's table: for each fault, what the
# four writers got and how soon the server was ready and writing again. Then the recovery after
# kill -9 of the postmaster with a seeded database (default 100,000 tasks), after a checkpoint
# and right after the bulk load (crash recovery replays it).
# Usage: bench/faults.sh [tasks]   (BIN=... to pick a server binary; needs root for the tmpfs)
set -euo pipefail
cd "$(dirname "$0")/.."
TASKS=${1:-100000}
if [ -z "${BIN:-}" ]; then cargo build --release --quiet; BIN=target/release/docket; fi
export DOCKET_TEST_BIN="$(realpath "$BIN")" DOCKET_SKIP_BROWSER_TESTS=1
run() { # filter, extra env...
  local filter=$1; shift
  env "$@" cargo test --quiet --test api "$filter" -- --nocapture --test-threads=1 2>&1 \
    | grep -E 'FAULT-ROW|seeded|SKIPPED|panicked|test result' | sed 's/^FAULT-ROW //'
}
echo "binary: $DOCKET_TEST_BIN"
echo "| fault | writes | ready / writing again after the fault ends | slowest request | answers |"
echo "|---|---|---|---|---|"
run faults::
echo
echo "kill -9 of the postmaster with $TASKS tasks (seed, then CHECKPOINT):"
run faults::kill_9_of_the_postmaster DOCKET_FAULTS_SEED_TASKS="$TASKS"
echo "kill -9 of the postmaster with $TASKS tasks, right after the bulk load (no checkpoint):"
run faults::kill_9_of_the_postmaster DOCKET_FAULTS_SEED_TASKS="$TASKS" DOCKET_FAULTS_NO_CHECKPOINT=1
