#!/usr/bin/env bash
# The layering rules of ARCHITECTURE.md, held by CI:
#  1. no cycle among the crate's modules (cargo-modules' module graph, checked by
#     scripts/module_cycles.py: its own --acyclic flag also counts a type and its methods as a
#     cycle, which every crate has);
#  2. no file outside src/server/ names AppState (handlers and workers take parts);
#  3. the lower layers (http, db, jobs, telemetry and the other infrastructure) name no domain
#     and not the composition root.
# The web client's rules are checked by scripts/check-web.sh.
set -euo pipefail
cd "$(dirname "$0")/.."

CARGO_MODULES_VERSION=0.27.0 # the newest that builds on this Rust (0.28 needs 1.98)
if ! cargo modules --version 2>/dev/null | grep -qF "$CARGO_MODULES_VERSION"; then
  echo "installing cargo-modules $CARGO_MODULES_VERSION (once per machine)"
  cargo install --locked --quiet cargo-modules --version "$CARGO_MODULES_VERSION"
fi

failed=0

echo "-- module cycles (cargo-modules)"
cargo modules dependencies --lib --package docket \
  --no-fns --no-traits --no-types --no-externs --no-sysroot --layout dot \
  | python3 scripts/module_cycles.py || failed=1

echo "-- AppState only in src/server/"
if grep -rnw AppState src --include='*.rs' | grep -v '^src/server/'; then
  echo "AppState is named outside src/server/: take the part you need (State<Db>, ...)"
  failed=1
fi

echo "-- the lower layers name no domain"
domains='auth|activity|calendar|comments|events|fields|github|idempotency|notifications|ops|portability|projects|server|states|tasks|templates|timesheets|views|web|webhooks|cli'
lower='src/http src/db src/jobs src/telemetry src/email src/config.rs src/error.rs src/pagination.rs src/quotas.rs src/tokens.rs src/secrets.rs src/memory.rs src/sealing.rs'
# shellcheck disable=SC2086
if grep -rnE "crate::($domains)\b" $lower --include='*.rs' | grep -vE '^[^:]+:[0-9]+:\s*//'; then
  echo "a lower layer names a domain or the composition root: pass it a part instead"
  failed=1
fi

exit $failed
