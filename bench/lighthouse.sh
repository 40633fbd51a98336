#!/usr/bin/env bash
# Lighthouse (npm `lighthouse`, pinned, installed under target/lighthouse) on the web client of
# a release server: the list and the board of a 1,000-task project, signed in, each with the
# mobile emulation (Lighthouse's default: a Moto G Power on slow 4G, simulated) and the desktop
# preset, in Debian's headless Chromium. Prints the performance, accessibility and
# best-practices scores (docs/performance.md), keeps the reports in target/lighthouse/reports.
#
#   bench/lighthouse.sh
# Knobs (environment): BIN (a docket binary; the release build by default), CHROME_PATH
# (/usr/bin/chromium), RUNS (each page and form factor is run this many times and the median
# kept; 1).
set -euo pipefail
cd "$(dirname "$0")/.."
LIGHTHOUSE=lighthouse@12.8.2   # 13.x needs Node 22; this machine has Node 20
RUNS=${RUNS:-1}
tools=${CARGO_TARGET_DIR:-target}/lighthouse
mkdir -p "$tools/reports"
if [ "$(node -p 'try { require(process.argv[1]).version } catch { "" }' "$PWD/$tools/node_modules/lighthouse/package.json")" != "${LIGHTHOUSE#*@}" ]; then
  npm install --silent --no-save --no-audit --no-fund --prefix "$tools" "$LIGHTHOUSE"
fi
export CHROME_PATH=${CHROME_PATH:-/usr/bin/chromium}
[ -x "$CHROME_PATH" ] || { echo "Chromium is missing: apt-get install -y chromium (or set CHROME_PATH)" >&2; exit 1; }
if [ -z "${BIN:-}" ]; then cargo build --release --quiet --bin docket; BIN=target/release/docket; fi

source bench/pg.sh
SERVER=
cleanup() { [ -n "$SERVER" ] && kill -TERM "$SERVER" 2>/dev/null && wait "$SERVER" 2>/dev/null; stop_pg; }
trap cleanup EXIT
export DOCKET_JWT_SECRET=lighthouse-secret-0123456789abcdefghijklmnop \
  DOCKET_ENCRYPTION_KEY=lighthouse-key-0123456789abcdefghijklmnopq \
  DOCKET_LOG=warn DOCKET_RATE_LIMIT_PER_MINUTE=1000000
DATABASE_URL="$PG_URL" "$BIN" migrate >/dev/null
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
DATABASE_URL="$PG_URL" "$BIN" serve --listen "127.0.0.1:$port" >/dev/null 2>&1 &
SERVER=$!
for _ in $(seq 1 200); do curl -sf "http://127.0.0.1:$port/readyz" >/dev/null && break; sleep 0.1; done
URL="http://127.0.0.1:$port"

# A user, a project of 1,000 tasks (a fifth of them done, some labelled, some due), through
# the API; the session cookie for Lighthouse.
read -r PROJECT COOKIE < <(python3 - "$URL" <<'PY'
import concurrent.futures, datetime, json, sys, urllib.request
base = sys.argv[1] + "/api/v1"
def call(method, path, body=None, token=None):
    req = urllib.request.Request(base + path, method=method, data=None if body is None else json.dumps(body).encode())
    req.add_header("content-type", "application/json")
    if token:
        req.add_header("authorization", "Bearer " + token)
    with urllib.request.urlopen(req) as r:
        return r.headers, json.loads(r.read() or b"null")
who = {"email": "lighthouse@example.com", "password": "correct horse battery staple", "name": "Lee House"}
call("POST", "/auth/register", who)
token = call("POST", "/auth/token", {"grant_type": "password", "email": who["email"], "password": who["password"]})[1]["access_token"]
project = call("POST", "/projects", {"name": "Thousand"}, token)[1]
today = datetime.date.today()
def make(i):
    body = {"title": f"Task number {i}: check the {('release notes', 'billing page', 'login form', 'deploy script')[i % 4]}",
            "priority": i % 5, "status": ("todo", "todo", "in_progress", "todo", "done")[i % 5]}
    if i % 3 == 0:
        body["labels"] = ["bulk"]
    if i % 4 == 0:
        body["due_date"] = (today + datetime.timedelta(days=i % 30 - 10)).isoformat()
    call("POST", f"/projects/{project['id']}/tasks", body, token)
with concurrent.futures.ThreadPoolExecutor(8) as pool:
    list(pool.map(make, range(1000)))
headers, _ = call("POST", "/auth/session", {"email": who["email"], "password": who["password"]})
cookie = headers["set-cookie"].split(";")[0]
print(project["id"], cookie)
PY
)

lh="$tools/node_modules/.bin/lighthouse"
flags="--headless=new --no-sandbox --disable-gpu"
run() { # page-name path form-factor
  local out="$tools/reports/$1-$3"
  for r in $(seq 1 "$RUNS"); do
    local preset=()
    [ "$3" = desktop ] && preset=(--preset=desktop)
    "$lh" "$URL$2" "${preset[@]}" --quiet --chrome-flags="$flags" \
      --only-categories=performance,accessibility,best-practices \
      --extra-headers="{\"Cookie\": \"$COOKIE\"}" \
      --output=json --output=html --output-path="$out-$r" >/dev/null
  done
  python3 - "$1" "$3" "$out" "$RUNS" <<'PY'
import json, statistics, sys
name, form, out, runs = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
reports = [json.load(open(f"{out}-{r}.report.json")) for r in range(1, runs + 1)]
def score(cat):
    return round(statistics.median(rep["categories"][cat]["score"] * 100 for rep in reports))
def metric(audit):
    return statistics.median(rep["audits"][audit]["numericValue"] for rep in reports)
print(f"{name:6} {form:8} performance {score('performance'):3}  accessibility {score('accessibility'):3}  "
      f"best-practices {score('best-practices'):3}   FCP {metric('first-contentful-paint'):5.0f} ms  "
      f"LCP {metric('largest-contentful-paint'):5.0f} ms  TBT {metric('total-blocking-time'):4.0f} ms  CLS {metric('cumulative-layout-shift'):.3f}")
for rep in reports[:1]:
    for cat in ("performance", "accessibility", "best-practices"):
        for ref in rep["categories"][cat]["auditRefs"]:
            a = rep["audits"][ref["id"]]
            if ref["weight"] and a.get("score") is not None and a["score"] < 0.9:
                print(f"    {cat}: {ref['id']} {a['score']} {a.get('displayValue', '')}")
PY
}
echo "Lighthouse ${LIGHTHOUSE#*@}, $(${CHROME_PATH} --version 2>/dev/null), $RUNS run(s) each, median:"
for form in mobile desktop; do
  run list "/p/$PROJECT" "$form"
  run board "/p/$PROJECT/board" "$form"
done
