#!/usr/bin/env bash
# Sourced by .ci/run (bash, set -euo pipefail, as root, CI=true): starts a
# throw-away PostgreSQL for the SQL ERP adapter's tests, exports its DSN and
# stops it when the calling shell exits.
#
# Exports:
#   ERPCONNECTOR_TEST_POSTGRES_DSN  postgres://postgres@127.0.0.1:PORT/erpconnector_test?sslmode=disable
#   ERPCONNECTOR_REQUIRE_POSTGRES=1 (the PostgreSQL tests fail instead of skipping)

_erpc_pg_bindir() {
  local d
  for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
    if [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ] && [ -x "$d/postgres" ]; then
      echo "$d"
      return 0
    fi
  done
  return 1
}

_erpc_pg_free_port() {
  python3 - <<'PY' 2>/dev/null || echo 55432
import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()
PY
}

_erpc_pg_start() {
  local bindir
  if ! bindir=$(_erpc_pg_bindir); then
    echo "services: PostgreSQL server binaries not found; installing with apt-get"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq postgresql >/dev/null
    bindir=$(_erpc_pg_bindir) || { echo "services: PostgreSQL install failed" >&2; return 1; }
  fi
  if ! id postgres >/dev/null 2>&1; then
    useradd --system --home-dir /var/lib/postgresql --shell /bin/bash postgres
  fi

  ERPC_PG_DIR=$(mktemp -d /tmp/erpconnector-pg.XXXXXX)
  chown postgres: "$ERPC_PG_DIR"
  chmod 700 "$ERPC_PG_DIR"
  ERPC_PG_BINDIR=$bindir
  local port
  port=$(_erpc_pg_free_port)

  echo "services: PostgreSQL $("$bindir/postgres" --version | awk '{print $3}') in $ERPC_PG_DIR on 127.0.0.1:$port"
  runuser -u postgres -- "$bindir/initdb" -D "$ERPC_PG_DIR/data" -U postgres --auth=trust \
    --encoding=UTF8 --locale=C.UTF-8 >"$ERPC_PG_DIR/initdb.log" 2>&1 ||
    runuser -u postgres -- "$bindir/initdb" -D "$ERPC_PG_DIR/data" -U postgres --auth=trust \
      --encoding=UTF8 --no-locale >"$ERPC_PG_DIR/initdb.log" 2>&1 ||
    { cat "$ERPC_PG_DIR/initdb.log" >&2; return 1; }
  # Keep whatever EXIT trap the caller already had.
  local prev
  prev=$(trap -p EXIT | sed -e "s/^trap -- '\\(.*\\)' EXIT\$/\\1/")
  trap "_erpc_pg_stop${prev:+; $prev}" EXIT
  runuser -u postgres -- "$bindir/pg_ctl" -D "$ERPC_PG_DIR/data" -l "$ERPC_PG_DIR/server.log" -w -t 60 \
    -o "-c listen_addresses=127.0.0.1 -p $port -k $ERPC_PG_DIR -c fsync=off -c synchronous_commit=off -c full_page_writes=off" \
    start >/dev/null || { cat "$ERPC_PG_DIR/server.log" >&2; return 1; }
  runuser -u postgres -- "$bindir/createdb" -h 127.0.0.1 -p "$port" -U postgres erpconnector_test

  export ERPCONNECTOR_TEST_POSTGRES_DSN="postgres://postgres@127.0.0.1:$port/erpconnector_test?sslmode=disable"
  export ERPCONNECTOR_REQUIRE_POSTGRES=1
}

_erpc_pg_stop() {
  if [ -n "${ERPC_PG_DIR:-}" ] && [ -d "$ERPC_PG_DIR/data" ]; then
    runuser -u postgres -- "$ERPC_PG_BINDIR/pg_ctl" -D "$ERPC_PG_DIR/data" -m fast -w stop >/dev/null 2>&1 || true
    rm -rf "$ERPC_PG_DIR"
    echo "services: PostgreSQL stopped"
  fi
}

_erpc_pg_start
