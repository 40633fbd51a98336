#!/usr/bin/env bash
# Three Docket instances on one PostgreSQL behind nginx (round robin) on loopback: sessions,
# rate limits, idempotency keys and jobs must behave as one service. Run by CI.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v nginx >/dev/null; then
  apt-get update -qq && apt-get install -y -qq nginx >/dev/null
fi
cargo build --quiet
BIN=$PWD/target/debug/docket
WORK=$(mktemp -d /tmp/docket-multi.XXXXXX)
chmod 755 "$WORK"
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  [ -f "$WORK/nginx.pid" ] && kill -QUIT "$(cat "$WORK/nginx.pid")" 2>/dev/null || true
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_ready() {
  for _ in $(seq 1 120); do curl -sf "http://127.0.0.1:$1/readyz" >/dev/null && return 0; sleep 0.25; done
  echo "instance on port $1 never became ready" >&2; cat "$WORK"/*.log >&2; return 1
}

FAKE_PORT=$(free_port)
python3 scripts/fake_github.py "$FAKE_PORT" >"$WORK/fake.log" 2>&1 &
PIDS+=($!)

# Instance A runs the embedded cluster; B and C share it through DATABASE_URL.
PORTS=()
PORT_A=$(free_port); PORTS+=("$PORT_A")
COMMON=(DOCKET_TRUSTED_PROXIES=127.0.0.1/32 DOCKET_GITHUB_API_URL="http://127.0.0.1:$FAKE_PORT"
        DOCKET_LOG_FORMAT=json DOCKET_GITHUB_SYNC_INTERVAL_S=3600 DOCKET_RATE_LIMIT_PER_MINUTE=60)
env "${COMMON[@]}" DOCKET_DATA_DIR="$WORK/data" DOCKET_LISTEN="127.0.0.1:$PORT_A" \
  "$BIN" serve >"$WORK/a.log" 2>&1 &
PIDS+=($!)
wait_ready "$PORT_A"
DB_URL=$("$BIN" db url --data-dir "$WORK/data")
JWT=$(cat "$WORK/data/secrets/jwt_secret")
KEY=$(cat "$WORK/data/secrets/encryption_key")
for name in b c; do
  port=$(free_port); PORTS+=("$port")
  env "${COMMON[@]}" DATABASE_URL="$DB_URL" DOCKET_JWT_SECRET="$JWT" DOCKET_ENCRYPTION_KEY="$KEY" \
    DOCKET_LISTEN="127.0.0.1:$port" "$BIN" serve >"$WORK/$name.log" 2>&1 &
  PIDS+=($!)
  wait_ready "$port"
done

LB_PORT=$(free_port)
cat >"$WORK/nginx.conf" <<NGINX
daemon on;
pid $WORK/nginx.pid;
error_log $WORK/nginx-error.log;
events { worker_connections 256; }
http {
  access_log off;
  upstream docket { $(for p in "${PORTS[@]}"; do echo "server 127.0.0.1:$p;"; done) }
  server {
    listen 127.0.0.1:$LB_PORT;
    location / {
      proxy_pass http://docket;
      proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;
      proxy_set_header Host \$host;
    }
  }
}
NGINX
nginx -c "$WORK/nginx.conf" -p "$WORK"
for _ in $(seq 1 40); do curl -sf "http://127.0.0.1:$LB_PORT/healthz" >/dev/null && break; sleep 0.1; done

python3 scripts/multi_instance_check.py "http://127.0.0.1:$LB_PORT" "${PORTS[@]}"
