#!/usr/bin/env bash
# The calendar feed (API.md §19) of a user with 5,000 due tasks: latency (p50, p99) and size of
# `GET /api/v1/calendar/<secret>.ics`, of its 304 answer, and, for comparison, of reading the
# same user's tasks as JSON (`GET /api/v1/tasks?assignee=me`, every page of 100). The tasks are inserted
# by SQL into a project made through the API: 5,000 assigned to the user, due over two years,
# 30% at a time of day, 10% repeating weekly from their due date; the user in Europe/Berlin.
#
#   bench/calendar-feed.sh       (the debug build unless BIN names another)
# Knobs (environment): TASKS (5000), RUNS (60 feed requests), BIN.
set -euo pipefail
cd "$(dirname "$0")/.."
TASKS=${TASKS:-5000}
RUNS=${RUNS:-60}
if [ -z "${BIN:-}" ]; then cargo build --quiet --bin docket; BIN=target/debug/docket; fi
source bench/pg.sh
SERVER=
cleanup() { [ -n "$SERVER" ] && kill -TERM "$SERVER" 2>/dev/null && wait "$SERVER" 2>/dev/null; stop_pg; }
trap cleanup EXIT
export DOCKET_JWT_SECRET=benchmark-secret-0123456789abcdefghijklmnop \
  DOCKET_ENCRYPTION_KEY=benchmark-key-0123456789abcdefghijklmnopq
export DATABASE_URL="$PG_URL" DOCKET_LOG=warn DOCKET_RATE_LIMIT_PER_MINUTE=1000000
"$BIN" migrate >/dev/null
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
BASE="http://127.0.0.1:$PORT"
"$BIN" serve --listen "127.0.0.1:$PORT" >"$PG_DIR/server.log" 2>&1 &
SERVER=$!
for _ in $(seq 1 200); do curl -sf "$BASE/readyz" >/dev/null && break; sleep 0.5; done
echo "machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg); $BIN"
BASE="$BASE" TASKS="$TASKS" RUNS="$RUNS" PSQL_HOST="$PG_DIR" python3 - <<'PY'
import json, os, statistics, subprocess, time, urllib.request

base, tasks, runs = os.environ["BASE"], int(os.environ["TASKS"]), int(os.environ["RUNS"])

def call(method, path, body=None, token=None, headers=None):
    request = urllib.request.Request(base + path, method=method,
                                     data=json.dumps(body).encode() if body is not None else None)
    request.add_header("content-type", "application/json")
    if token:
        request.add_header("authorization", "Bearer " + token)
    for k, v in (headers or {}).items():
        request.add_header(k, v)
    try:
        with urllib.request.urlopen(request) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read()

def psql(sql):
    subprocess.run(["psql", "-h", os.environ["PSQL_HOST"], "-U", "docket", "-d", "docket",
                    "-q", "-v", "ON_ERROR_STOP=1", "-c", sql], check=True)

_, _, user = call("POST", "/api/v1/auth/register",
                  {"email": "bench@example.com", "password": "benchmark passphrase", "name": "Bench"})
user = json.loads(user)
_, _, tokens = call("POST", "/api/v1/auth/token", {"grant_type": "password",
                    "email": "bench@example.com", "password": "benchmark passphrase"})
token = json.loads(tokens)["access_token"]
call("PATCH", "/api/v1/me", {"time_zone": "Europe/Berlin"}, token)
_, _, project = call("POST", "/api/v1/projects", {"name": "Feed"}, token)
project = json.loads(project)["id"]
psql(f"""
INSERT INTO tasks (id, project_id, number, title, status, state_id, due_date, due_time,
                   recurrence_rule, recurrence_from, assignee_id, created_by)
SELECT gen_random_uuid(), '{project}', n,
       'Task ' || n || ': call the supplier, check the invoice; file it',
       'todo', (SELECT id FROM states WHERE project_id = '{project}' AND category = 'todo' AND is_default),
       current_date + (n % 730) - 365,
       CASE WHEN n % 10 < 3 THEN time '09:00' + (n % 20) * interval '30 minutes' END,
       CASE WHEN n % 10 = 9 THEN 'FREQ=WEEKLY;BYDAY=MO,WE' END,
       CASE WHEN n % 10 = 9 THEN 'due' END,
       '{user["id"]}', '{user["id"]}'
FROM generate_series(1, {tasks}) n;
UPDATE projects SET next_task_number = {tasks} + 1 WHERE id = '{project}';""")
psql("VACUUM ANALYZE tasks")
_, _, feed = call("POST", "/api/v1/me/calendar-feed", {}, token)
feed = json.loads(feed)["url"]
feed = feed[feed.index("/api/v1/"):]

def timed(fn, n):
    times, size = [], 0
    for _ in range(n):
        start = time.perf_counter()
        size = fn()
        times.append((time.perf_counter() - start) * 1000)
    times.sort()
    return times[len(times) // 2], times[min(len(times) - 1, int(len(times) * 0.99))], size

def read_feed():
    status, headers, body = call("GET", feed)
    assert status == 200, status
    return len(body)

status, headers, body = call("GET", feed)
etag = headers["ETag"]
entries = body.count(b"BEGIN:VEVENT")
assert entries == tasks, entries

def read_304():
    status, _, _ = call("GET", feed, headers={"if-none-match": etag})
    assert status == 304, status
    return 0

def read_json():
    size, cursor, rows = 0, None, 0
    while True:
        path = "/api/v1/tasks?assignee=me&limit=100" + (f"&cursor={cursor}" if cursor else "")
        status, _, body = call("GET", path, token=token)
        assert status == 200, status
        size += len(body)
        page = json.loads(body)
        rows += len(page["items"])
        cursor = page["next_cursor"]
        if not cursor:
            assert rows == tasks, rows
            return size

feed_p50, feed_p99, feed_size = timed(read_feed, runs)
nm_p50, nm_p99, _ = timed(read_304, runs)
json_p50, json_p99, json_size = timed(read_json, max(5, runs // 6))
print(f"tasks: {tasks} due, assigned (30% timed, 10% weekly RRULE), {runs} sequential requests each")
print(f"feed (VEVENT):        p50 {feed_p50:7.1f} ms  p99 {feed_p99:7.1f} ms  size {feed_size/1024:7.0f} KiB ({feed_size/tasks:.0f} B/task)")
print(f"feed 304 (If-None-Match): p50 {nm_p50:7.1f} ms  p99 {nm_p99:7.1f} ms")
print(f"JSON /tasks?assignee=me, all {tasks//100} pages of 100: p50 {json_p50:7.1f} ms  p99 {json_p99:7.1f} ms  size {json_size/1024:7.0f} KiB")
print(f"ratios feed/JSON: time p50 {feed_p50/json_p50:.2f}, size {feed_size/json_size:.2f}; 304/feed p50 {nm_p50/feed_p50:.2f}")
PY
