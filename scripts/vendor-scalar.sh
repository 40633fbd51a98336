#!/usr/bin/env bash
# Refreshes the API reference renderer that /docs serves from the binary (no CDN): the
# standalone bundle of @scalar/api-reference from npm, pinned. Usage:
#   scripts/vendor-scalar.sh [VERSION]
# Writes vendor/scalar/scalar-standalone.js and vendor/scalar/VERSION (version and sha256).
set -euo pipefail
cd "$(dirname "$0")/.."
version="${1:-$(sed -n 's/^version=//p' vendor/scalar/VERSION)}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent "@scalar/api-reference@$version" >/dev/null && tar xzf ./*.tgz)
cp "$work/package/dist/browser/standalone.js" vendor/scalar/scalar-standalone.js
sha="$(sha256sum vendor/scalar/scalar-standalone.js | cut -d' ' -f1)"
printf 'package=@scalar/api-reference\nversion=%s\nfile=dist/browser/standalone.js\nsha256=%s\nlicense=MIT\n' \
  "$version" "$sha" > vendor/scalar/VERSION
echo "vendored @scalar/api-reference $version ($sha)"
