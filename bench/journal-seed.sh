# Sourced by the history benchmarks (journal.sh, journal-profile.sh, cpu-profile.sh) after
# bench/pg.sh: the servers' environment, psql_on and url_of, seed_journal, which makes the
# database they copy for each run, and copy, serve and stop for each build's run (the caller's
# cleanup stops $SERVER if the script ends early).
export PATH="$PG_BIN:$PATH"
export DOCKET_JWT_SECRET=benchmark-secret-0123456789abcdefghijklmnop \
  DOCKET_ENCRYPTION_KEY=benchmark-key-0123456789abcdefghijklmnopq \
  DOCKET_LOG=${DOCKET_LOG:-warn} DOCKET_RATE_LIMIT_PER_MINUTE=1000000 \
  DOCKET_TRUSTED_PROXIES=127.0.0.1/32 DOCKET_DB_MAX_CONNECTIONS=${DOCKET_DB_MAX_CONNECTIONS:-10}
psql_on() { psql -h "$PG_DIR" -U docket -d "$1" -q -v ON_ERROR_STOP=1 "${@:2}"; }
url_of() { echo "postgresql://docket@localhost/$1?host=$PG_DIR"; }

# seed_journal BINARY: `journal_seed`, migrated by BINARY (its migrations must be a prefix of
# every build's that copies it), 64 users, 64 projects, 64,000 tasks, each user an editor of
# every project.
seed_journal() {
  psql_on postgres -c "CREATE DATABASE journal_seed"
  DATABASE_URL=$(url_of journal_seed) "$1" migrate >/dev/null
  psql_on journal_seed -v users=64 -v projects=64 -v tasks=64000 -f scripts/seed.sql >/dev/null
  psql_on journal_seed -c "INSERT INTO memberships (project_id, user_id, role) \
    SELECT p.id, u.id, 'editor' FROM projects p CROSS JOIN users u WHERE p.inbox_of IS NULL \
    ON CONFLICT (project_id, user_id) DO UPDATE SET role = 'editor' WHERE memberships.role = 'viewer'" \
    -c "VACUUM ANALYZE memberships" >/dev/null
}

copy() { # name binary: a fresh copy of the seed, migrated by that binary
  psql_on postgres -c "CREATE DATABASE $1 TEMPLATE journal_seed"
  DATABASE_URL=$(url_of "$1") "$2" migrate >/dev/null
}
serve() { # database binary: a server on a free port (PORT), its pid in SERVER
  local port; port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  DATABASE_URL=$(url_of "$1") "$2" serve --listen "127.0.0.1:$port" >/dev/null 2>&1 &
  SERVER=$!
  for _ in $(seq 1 200); do curl -sf "http://127.0.0.1:$port/readyz" >/dev/null && break; sleep 0.1; done
  PORT=$port
}
stop() { kill -TERM "$SERVER"; wait "$SERVER" || true; SERVER=; }
