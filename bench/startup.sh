#!/usr/bin/env bash
# Start-up cost: time from exec to /readyz 200 with an external database whose migrations are
# current, and the idle RSS. Usage: bench/startup.sh [runs]   (BIN=... to pick a binary)
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-10}
if [ -z "${BIN:-}" ]; then cargo build --release --quiet; BIN=target/release/docket; fi
source bench/pg.sh
trap stop_pg EXIT
export DATABASE_URL="$PG_URL" DOCKET_JWT_SECRET=startup-benchmark-secret-0123456789abcdef \
  DOCKET_ENCRYPTION_KEY=startup-benchmark-key-0123456789abcdefghij DOCKET_LOG=warn
"$BIN" migrate >/dev/null
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
python3 - "$BIN" "$PORT" "$RUNS" <<'PY'
import os, signal, statistics, subprocess, sys, time, urllib.request
binary, port, runs = sys.argv[1], sys.argv[2], int(sys.argv[3])
times, rss = [], []
for _ in range(runs):
    start = time.perf_counter()
    proc = subprocess.Popen([binary, "serve", "--listen", f"127.0.0.1:{port}"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=1) as r:
                if r.status == 200:
                    break
        except Exception:
            pass
        time.sleep(0.002)
    times.append((time.perf_counter() - start) * 1000)
    time.sleep(1.0)
    with open(f"/proc/{proc.pid}/status") as status:
        rss.append(next(int(l.split()[1]) for l in status if l.startswith("VmRSS")) / 1024)
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=30)
print(f"binary: {binary} ({os.path.getsize(binary) / 1e6:.1f} MB)")
print(f"| runs | exec → /readyz 200 p50 | min | max | idle RSS (MiB) |")
print(f"|---|---|---|---|---|")
print(f"| {runs} | {statistics.median(times):.1f} ms | {min(times):.1f} ms | {max(times):.1f} ms | {statistics.median(rss):.1f} |")
PY
