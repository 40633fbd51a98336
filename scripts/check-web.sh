#!/usr/bin/env bash
# Checks the web client: types (plain ES modules with JSDoc types, with TypeScript's checker,
# pinned, installed once into target/web-tools), then the property tests of its parsers
# (tests/web/js, `node --test`: Node 20.19 or later, which loads the client's modules as they
# are). A failing property test prints its seed; DOCKET_JS_SEED=<seed> repeats the run.
set -euo pipefail
cd "$(dirname "$0")/.."
version=5.9.3
tools="${CARGO_TARGET_DIR:-target}/web-tools"
tsc="$tools/node_modules/.bin/tsc"
if [ ! -x "$tsc" ] || [ "$("$tsc" --version)" != "Version $version" ]; then
  npm install --silent --no-save --no-audit --no-fund --prefix "$tools" "typescript@$version"
fi
"$tsc" -p tsconfig.json
echo "web client: types check"
# --expose-gc: the time budgets measure after a collection, so less noise on a busy machine.
node --expose-gc --test --test-reporter=spec tests/web/js/*.test.mjs
echo "web client: property tests pass"
