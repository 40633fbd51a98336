"""Checks that several Docket instances behind one load balancer behave as one service."""
import json
import sys
import threading
import time
import urllib.error
import urllib.request

LB = sys.argv[1]
PORTS = sys.argv[2:]
PASSWORD = "multi instance passphrase"


def call(method, url, body=None, headers=None):
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    if data is not None:
        request.add_header("content-type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            raw = response.read()
            return response.status, response.headers, json.loads(raw) if raw else None
    except urllib.error.HTTPError as error:
        raw = error.read()
        return error.code, error.headers, json.loads(raw) if raw else None


def check(condition, message):
    if not condition:
        print(f"FAIL: {message}")
        sys.exit(1)
    print(f"ok: {message}")


def bearer(token):
    return {"authorization": f"Bearer {token}"}


status, _, _ = call("POST", f"{LB}/api/v1/auth/register",
                    {"email": "multi@example.com", "password": PASSWORD, "name": "Multi"})
check(status == 201, "register through the balancer")

# Sessions: a cookie from one instance works on every instance, and logout ends it everywhere.
status, headers, body = call("POST", f"{LB}/api/v1/auth/session",
                             {"email": "multi@example.com", "password": PASSWORD})
cookie = headers.get("set-cookie").split(";")[0]
csrf = body["csrf_token"]
statuses = [call("GET", f"http://127.0.0.1:{p}/api/v1/auth/session", headers={"cookie": cookie})[0]
            for p in PORTS]
check(statuses == [200] * len(PORTS), f"the session is valid on every instance {statuses}")
status, _, _ = call("DELETE", f"{LB}/api/v1/auth/session",
                    headers={"cookie": cookie, "x-csrf-token": csrf})
check(status == 204, "logout through the balancer")
statuses = [call("GET", f"http://127.0.0.1:{p}/api/v1/auth/session", headers={"cookie": cookie})[0]
            for p in PORTS]
check(statuses == [401] * len(PORTS), f"logout holds on every instance {statuses}")

# Rate limits: failed logins are counted across instances (10 per account and client address
# in 15 minutes; the account must exist, an unknown email counts only against the address).
call("POST", f"{LB}/api/v1/auth/register",
     {"email": "victim@example.com", "password": PASSWORD, "name": "Victim"})
statuses = [call("POST", f"{LB}/api/v1/auth/token",
                 {"grant_type": "password", "email": "victim@example.com", "password": "wrong guess 123"})[0]
            for _ in range(12)]
check(statuses[:10] == [401] * 10 and statuses[10:] == [429, 429],
      f"the login limit holds across instances {statuses}")

# The per-principal request limit (DOCKET_RATE_LIMIT_PER_MINUTE=60 here) holds across instances.
call("POST", f"{LB}/api/v1/auth/register",
     {"email": "busy@example.com", "password": PASSWORD, "name": "Busy"})
_, _, busy = call("POST", f"{LB}/api/v1/auth/token",
                  {"grant_type": "password", "email": "busy@example.com", "password": PASSWORD})
if time.time() % 60 > 45:  # stay inside one minute window
    time.sleep(61 - time.time() % 60)
_, probe_headers, _ = call("GET", f"{LB}/api/v1/me", headers=bearer(busy["access_token"]))
print("policy:", probe_headers.get("ratelimit-policy"), probe_headers.get("ratelimit"))
statuses = []
for _ in range(100):
    statuses.append(call("GET", f"{LB}/api/v1/me", headers=bearer(busy["access_token"]))[0])
    time.sleep(0.02)
print("statuses:", "".join("." if s == 200 else "x" for s in statuses))
allowed = statuses.count(200)
# Counts are shared four times a second, so a burst may overshoot by what arrives in between.
check(55 <= allowed <= 85 and statuses[-10:] == [429] * 10,
      f"about 60 requests a minute over three instances, not 180: {allowed} allowed")

# Idempotency: a retried create reaching other instances creates nothing more.
_, _, tokens = call("POST", f"{LB}/api/v1/auth/token",
                    {"grant_type": "password", "email": "multi@example.com", "password": PASSWORD})
token = tokens["access_token"]
_, _, project = call("POST", f"{LB}/api/v1/projects", {"name": "Shared"}, bearer(token))
tasks_url = f"{LB}/api/v1/projects/{project['id']}/tasks"
results = [call("POST", tasks_url, {"title": "Only once"}, {**bearer(token), "idempotency-key": "multi-1"})
           for _ in range(len(PORTS) * 2)]
check(all(r[0] == 201 for r in results), "every repeat answered 201")
check(len({r[2]["id"] for r in results}) == 1, "every repeat returned the same task")
_, _, page = call("GET", tasks_url, headers=bearer(token))
check(len(page["items"]) == 1, "exactly one task was created")

# Jobs: syncs triggered on every instance at once import each issue exactly once.
status, _, _ = call("PUT", f"{LB}/api/v1/projects/{project['id']}/github",
                    {"repository": "octo/repo"}, bearer(token))
check(status == 201, "link a repository")
threads = [threading.Thread(target=call, args=(
    "POST", f"http://127.0.0.1:{p}/api/v1/projects/{project['id']}/github/sync", None, bearer(token)))
    for p in PORTS for _ in range(3)]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
deadline = time.time() + 20
link = None
while time.time() < deadline:
    _, _, link = call("GET", f"{LB}/api/v1/projects/{project['id']}/github", headers=bearer(token))
    if link["state"] == "idle" and link["imported_count"] == 5:
        break
    time.sleep(0.2)
check(link["state"] == "idle", f"the sync finished: {link}")
time.sleep(1.0)  # let any further queued sync run too
_, _, page = call("GET", f"{tasks_url}?limit=100", headers=bearer(token))
numbers = sorted(t["source"]["number"] for t in page["items"] if t["source"])
check(numbers == [1, 2, 3, 4, 5], f"each issue imported exactly once: {numbers}")
print("multi-instance: all checks passed")
