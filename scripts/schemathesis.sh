#!/usr/bin/env bash
# Runs schemathesis over every operation of the OpenAPI document against a real server on the
# embedded database, authenticated as a registered user: every check (`--checks all`) in every
# phase (examples, coverage, fuzzing, and the stateful phase that follows the document's links).
# Fails on any 5xx, any response that does not match the document, and any request the
# document calls valid that the server refuses (or the reverse).
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=${SCHEMATHESIS_VENV:-target/schemathesis-venv}
# A virtualenv's scripts name its python by absolute path: one that was moved (a build
# directory renamed or linked elsewhere) has an `st` that cannot start, so it is made again.
if ! "$VENV/bin/st" --version >/dev/null 2>&1; then
  rm -rf "$VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet 'schemathesis>=4,<5'
fi

cargo build --quiet
DATA=$(mktemp -d /tmp/docket-st.XXXXXX)
chmod 755 "$DATA"
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
BASE="http://127.0.0.1:$PORT"
DOCKET_DATA_DIR="$DATA/data" DOCKET_LISTEN="127.0.0.1:$PORT" DOCKET_LOG=warn \
  DOCKET_RATE_LIMIT_PER_MINUTE=100000 ./target/debug/docket serve >"$DATA/server.log" 2>&1 &
SERVER=$!
cleanup() { kill -TERM "$SERVER" 2>/dev/null || true; wait "$SERVER" 2>/dev/null || true; rm -rf "$DATA"; }
trap cleanup EXIT

for _ in $(seq 1 120); do
  curl -sf "$BASE/readyz" >/dev/null && break
  sleep 0.5
done
curl -sf "$BASE/readyz" >/dev/null || { cat "$DATA/server.log"; exit 1; }

ST_USER_ID=$(curl -sf -X POST "$BASE/api/v1/auth/register" -H 'content-type: application/json' \
  -d '{"email":"st@example.com","password":"schemathesis passphrase","name":"Schemathesis"}' |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
export ST_USER_ID
TOKEN=$(curl -sf -X POST "$BASE/api/v1/auth/token" -H 'content-type: application/json' \
  -d '{"grant_type":"password","email":"st@example.com","password":"schemathesis passphrase"}' |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')

if [ -n "${OPENAPI_OUT:-}" ]; then curl -sf "$BASE/api/v1/openapi.json" >"$OPENAPI_OUT"; fi

# schemathesis.toml: the one relaxation (412 for If-Match; see there). The hooks give
# state-dependent values (idempotency keys, cursors, a member's email) valid values.
SCHEMATHESIS_HOOKS=schemathesis_hooks PYTHONPATH="scripts${PYTHONPATH:+:$PYTHONPATH}" \
"$VENV/bin/st" --config-file scripts/schemathesis.toml run "$BASE/api/v1/openapi.json" \
  --header "Authorization: Bearer $TOKEN" \
  --checks all \
  --phases examples,coverage,fuzzing,stateful \
  --max-examples "${SCHEMATHESIS_MAX_EXAMPLES:-40}" \
  --seed 1 "$@"
