#!/usr/bin/env bash
# Type-checks the web client (plain ES modules with JSDoc types) with TypeScript's checker.
# TypeScript comes from npm, pinned, installed once into target/web-tools.
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
