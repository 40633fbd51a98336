#!/usr/bin/env bash
# Checks the web client (plain ES modules with JSDoc types):
#   - its types, with TypeScript's checker (tsc --checkJs, tsconfig.json);
#   - no import cycle among its modules (madge --circular);
#   - its layers and function sizes (scripts/web-layers.cjs: nothing imports app.js, views are
#     imported only by the router, no function over 150 lines);
#   - its unit and property tests (tests/web/js, `node --test`: Node 20.19 or later, which
#     loads the client's modules as they are): the quick-add grammar, fuzzy matching, and the
#     parsers' properties. A failing property test prints its seed; DOCKET_JS_SEED=<seed>
#     repeats the run.
# The tools come from npm, pinned, installed once into target/web-tools (one install for all:
# a later `npm install --no-save` of one package would prune the others).
set -euo pipefail
cd "$(dirname "$0")/.."
packages=(typescript@5.9.3 madge@8.0.0 acorn@8.15.0 acorn-walk@8.3.4)
tools="${CARGO_TARGET_DIR:-target}/web-tools"
modules="$tools/node_modules"
installed() {
  local spec name version
  for spec in "${packages[@]}"; do
    name="${spec%@*}" version="${spec##*@}"
    [ -f "$modules/$name/package.json" ] || return 1
    [ "$(node -p 'require(require("path").resolve(process.argv[1])).version' "$modules/$name/package.json")" = "$version" ] || return 1
  done
}
if ! installed; then
  npm install --silent --no-save --no-audit --no-fund --prefix "$tools" "${packages[@]}"
fi
"$modules/.bin/tsc" -p tsconfig.json
echo "web client: types check"
"$modules/.bin/madge" --circular --no-spinner --extensions js --exclude '^docs/' web/
NODE_PATH="$modules" node scripts/web-layers.cjs
# --expose-gc: the time budgets measure after a collection, so less noise on a busy machine.
node --expose-gc --test --test-reporter=spec tests/web/js/*.test.mjs >"${tools}/node-tests.log" 2>&1 || { cat "${tools}/node-tests.log"; exit 1; }
grep -E '^ℹ (tests|pass|fail)' "${tools}/node-tests.log" | tr '\n' ' '
echo
echo "web client: unit and property tests pass"
