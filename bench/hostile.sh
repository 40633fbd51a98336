#!/usr/bin/env bash
# Hostile bodies against a release build (issue 18; API.md §9 "Work is linear in what was sent").
# Prints three tables:
#  1. the issue's: POST /api/v1/auth/session (no account needed) with 10 … 32,000 unknown
#     members, status and time of one request (median of three when quick);
#  2. the other worst shapes of a maximum-size body, unauthenticated and authenticated;
#  3. floods: CLIENTS (16) connections sending a worst body back to back (wrk and
#     bench/hostile.lua) for SECONDS — the 32,000-member login, then the costliest body per byte
#     (60,000 empty labels: 60,000 field errors, for an account) — while /healthz is asked every
#     10 ms on a connection of its own: /healthz p50/p99/max (also for 3 s without a flood), and
#     what the flood got (requests, statuses, server CPU per request).
# Usage: bench/hostile.sh [SECONDS (10)]   (BIN=... to pick a binary, CLIENTS=... connections)
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${1:-10}
CLIENTS=${CLIENTS:-16}
if [ -z "${BIN:-}" ]; then cargo build --release --quiet --bin docket; BIN=target/release/docket; fi
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
source bench/pg.sh
SERVER=
WORK=$(mktemp -d)
cleanup() {
  if [ -n "$SERVER" ]; then
    # A server still inside a quadratic loop would make a drain wait: give it 10 s.
    kill -TERM "$SERVER" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$SERVER" 2>/dev/null || break; sleep 0.2; done
    kill -KILL "$SERVER" 2>/dev/null || true
    wait "$SERVER" 2>/dev/null || true
  fi
  stop_pg
  rm -rf "$WORK"
}
trap cleanup EXIT
# The per-account limit is raised so that the authenticated flood measures parsing, not 429s.
export DATABASE_URL="$PG_URL" DOCKET_JWT_SECRET=hostile-bench-secret-0123456789abcdefghijk \
  DOCKET_ENCRYPTION_KEY=hostile-bench-key-0123456789abcdefghijklmno DOCKET_LOG=${DOCKET_LOG:-warn} \
  DOCKET_RATE_LIMIT_PER_MINUTE=1000000
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$BIN" serve --listen "127.0.0.1:$PORT" >"$WORK/server.log" 2>&1 &
SERVER=$!
for _ in $(seq 1 200); do curl -sf "http://127.0.0.1:$PORT/readyz" >/dev/null && break; sleep 0.1; done
echo "binary: $BIN; machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
python3 - "$PORT" "$SERVER" "$SECS" "$CLIENTS" "$WORK" <<'PY'
import http.client, json, os, statistics, subprocess, sys, threading, time

port, pid, secs, clients, work = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
LIMIT = 255 * 1024
DIGITS = "0123456789abcdefghijklmnopqrstuvwxyz"

def name(i):
    return DIGITS[i // 1296 % 36] + DIGITS[i // 36 % 36] + DIGITS[i % 36]

def obj(members):
    """Members as written (a name may repeat), as many as fit under the limit."""
    out, size = [], 2
    for member in members:
        if size + len(member) + 1 > LIMIT:
            break
        out.append(member)
        size += len(member) + 1
    return ("{" + ",".join(out) + "}").encode()

def unknown(n):
    return obj(f'"{name(i)}":1' for i in range(n))

def post(path, body, headers=None, timeout=600):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    start = time.perf_counter()
    conn.request("POST", path, body=body, headers={"Content-Type": "application/json", **(headers or {})})
    response = conn.getresponse()
    data = response.read()
    elapsed = time.perf_counter() - start
    conn.close()
    return response.status, elapsed, data

def timed(path, body, headers=None):
    times, status = [], None
    for _ in range(3):
        status, elapsed, _ = post(path, body, headers)
        times.append(elapsed)
        if elapsed > 1:
            break
    return status, statistics.median(times)

def kib(body):
    return f"{len(body)} B" if len(body) < 1024 else f"{len(body) / 1024:.0f} KiB"

def took(seconds):
    return f"{seconds * 1000:.1f} ms" if seconds < 1 else f"{seconds:.2f} s"

print("\n## POST /api/v1/auth/session with unknown members (the issue's table)\n")
print("| unknown members in the body | body | status | time |")
print("|---|---|---|---|")
for n in [10, 1_000, 4_000, 8_000, 16_000, 32_000]:
    body = unknown(n)
    status, elapsed = timed("/api/v1/auth/session", body)
    print(f"| {n:,} | {kib(body)} | {status} | {took(elapsed)} |", flush=True)

# A user and a project, for the authenticated shapes.
account = {"email": "bench@example.com", "password": "correct horse battery staple", "name": "Bench"}
post("/api/v1/auth/register", json.dumps(account).encode())
grant = {"grant_type": "password", "email": account["email"], "password": account["password"]}
token = json.loads(post("/api/v1/auth/token", json.dumps(grant).encode())[2])["access_token"]
bearer = {"Authorization": f"Bearer {token}"}
project = json.loads(post("/api/v1/projects", b'{"name": "Bench"}', bearer)[2])["id"]
tasks = f"/api/v1/projects/{project}/tasks"
long = "a" * (250 * 1024)
shapes = [
    ("/api/v1/auth/session", None, "email and password over and over, as objects",
     obj(f'"{("email", "password")[i % 2]}":{{}}' for i in range(40_000))),
    ("/api/v1/auth/session", None, "nesting 125,000 deep",
     ('{"email":' + "[" * 125_000 + "]" * 125_000 + "}").encode()),
    ("/api/v1/auth/session", None, "an array of 60,000 items",
     ('{"email":[' + ",".join(['""'] * 60_000) + "]}").encode()),
    ("/api/v1/auth/session", None, "a 250 KiB email (a login: one password check)",
     json.dumps({"email": long, "password": "x"}).encode()),
    (tasks, bearer, "30,000 unknown members", unknown(30_000)),
    (tasks, bearer, "60,000 empty labels (60,000 field errors)",
     ('{"title":"t","labels":[' + ",".join(['""'] * 60_000) + "]}").encode()),
    (tasks, bearer, "title and labels over and over, as objects",
     obj(f'"{("title", "labels")[i % 2]}":{{}}' for i in range(40_000))),
    (tasks, bearer, "a 250 KiB title", json.dumps({"title": long}).encode()),
]
print("\n## Other worst shapes of a maximum-size body\n")
print("| operation | shape | body | status | time |")
print("|---|---|---|---|---|")
for path, headers, shape, body in shapes:
    status, elapsed = timed(path, body, headers)
    operation = "POST /auth/session" if path.endswith("session") else "POST /projects/{id}/tasks"
    print(f"| {operation} | {shape} | {kib(body)} | {status} | {took(elapsed)} |", flush=True)

# The floods.
def cpu_seconds():
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

PROBE_TIMEOUT = 10

def probe(waits, stop):
    """Asks /healthz every 10 ms; a probe that got no answer in 10 s counts as 10 s."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=PROBE_TIMEOUT)
    while not stop.is_set():
        start = time.perf_counter()
        try:
            conn.request("GET", "/healthz")
            conn.getresponse().read()
        except Exception:
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=PROBE_TIMEOUT)
        waits.append(time.perf_counter() - start)
        time.sleep(0.01)

def ms(seconds):
    return f"{seconds * 1000:.1f} ms"

def percentiles(waits):
    waits = sorted(waits)
    at = lambda p: waits[min(len(waits) - 1, int(len(waits) * p))]
    shown = lambda w: f"≥ {PROBE_TIMEOUT} s (no answer)" if w >= PROBE_TIMEOUT else ms(w)
    return f"{len(waits)} | {shown(at(0.5))} | {shown(at(0.99))} | {shown(waits[-1])}"

def flood(name, path, body, token=None):
    file = os.path.join(work, "flood.json")
    with open(file, "wb") as f:
        f.write(body)
    waits, stop = [], threading.Event()
    cpu_before = cpu_seconds()
    prober = threading.Thread(target=probe, args=(waits, stop))
    prober.start()
    run = subprocess.run(
        ["wrk", "-t2", f"-c{clients}", f"-d{secs}s", "--timeout", "30s", "-s", "bench/hostile.lua",
         f"http://127.0.0.1:{port}", "--", file, path] + ([token] if token else []),
        capture_output=True, text=True)
    stop.set()
    prober.join()
    cpu = cpu_seconds() - cpu_before
    line = next((l for l in run.stdout.splitlines() if l.startswith("HOSTILE_RESULT")), "")
    if not line:
        print(run.stdout, run.stderr, file=sys.stderr)
    f = dict(kv.split("=", 1) for kv in line.split()[1:]) if line else {}
    requests = int(f.get("requests", 0))
    per_request = ms(cpu / requests) if requests else "n/a"
    p99 = f"{f['p99_ms']} ms" if requests else "-"
    print(f"| {name} | {percentiles(waits)} | {requests} | {f.get('rps', '0')} | {p99}"
          f" | {f.get('statuses') or '-'} | {f.get('errors', '-')} | {per_request} |", flush=True)

print(f"\n## {clients} clients sending a worst body back to back for {secs} s, /healthz every 10 ms\n")
print("| flood | /healthz probes | p50 | p99 | max | flood requests | req/s | flood p99 | statuses | socket errors | server CPU a request |")
print("|---|---|---|---|---|---|---|---|---|---|---|")
quiet, stop = [], threading.Event()
prober = threading.Thread(target=probe, args=(quiet, stop))
prober.start()
time.sleep(3)
stop.set()
prober.join()
print(f"| none (3 s) | {percentiles(quiet)} | - | - | - | - | - | - |", flush=True)
flood("32,000 unknown members, POST /auth/session", "/api/v1/auth/session", unknown(32_000))
flood("60,000 empty labels, POST /projects/{id}/tasks", tasks,
      ('{"title":"t","labels":[' + ",".join(['""'] * 60_000) + "]}").encode(), token)
PY
