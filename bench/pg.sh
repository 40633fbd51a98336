# Sourced by the benchmark scripts: a throwaway PostgreSQL cluster on /dev/shm (or /tmp) that
# stops when the script exits. Sets PG_URL and PG_DIR.
PG_BIN=${PG_BIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1)}
PG_DIR=$(mktemp -d "${BENCH_TMP:-/dev/shm}/docket-bench-pg.XXXXXX")
chmod 755 "$PG_DIR"
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
[ "$(id -u)" = 0 ] && chown postgres "$PG_DIR"
as_pg "$PG_BIN/initdb" -D "$PG_DIR/data" -U docket --auth=trust --no-sync >/dev/null
as_pg "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/log" -w -s start -o \
  "-c listen_addresses='' -c unix_socket_directories=$PG_DIR -c shared_buffers=256MB -c max_connections=200 ${PG_EXTRA_OPTS:-}"
stop_pg() { as_pg "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m fast -w -s stop || true; rm -rf "$PG_DIR"; }
psql -h "$PG_DIR" -U docket -d postgres -qc 'CREATE DATABASE docket' >/dev/null
PG_URL="postgresql://docket@localhost/docket?host=$PG_DIR"
export PG_URL PG_DIR PG_BIN
