#!/usr/bin/env bash
# A throwaway PostgreSQL 15 cluster for tests and CI.
#
#   scripts/pg-cluster.sh [start]   start (or reuse) the cluster; prints its connection URL
#   scripts/pg-cluster.sh stop      stop it (the data directory is kept for a quick restart)
#   scripts/pg-cluster.sh destroy   stop it and remove its data directory
#   scripts/pg-cluster.sh url       print the connection URL
#
# Settings (environment): PG_BIN (default /usr/lib/postgresql/15/bin), PG_PORT (default 54329,
# the next free port is taken when it is busy), PG_DIR (default <project>/.pg/cluster, ignored by git).
# Trust auth, listening on 127.0.0.1 only, unix socket inside the data directory.
# As root the server runs as the `postgres` user (initdb refuses root); otherwise as yourself.
set -euo pipefail

PG_BIN="${PG_BIN:-/usr/lib/postgresql/15/bin}"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PG_DIR="${PG_DIR:-$ROOT/.pg/cluster}"
DATA="$PG_DIR/data"
LOG="$PG_DIR/server.log"
PORT_FILE="$PG_DIR/port"
cmd="${1:-start}"

die() { echo "pg-cluster: $*" >&2; exit 1; }

if [ "$(id -u)" = 0 ]; then
  id postgres >/dev/null 2>&1 || die "running as root but there is no 'postgres' user (install postgresql-15)"
  as_pg() { runuser -u postgres -- "$@"; }
  PG_OWNER=postgres
else
  as_pg() { "$@"; }
  PG_OWNER="$(id -un)"
fi

[ -x "$PG_BIN/pg_ctl" ] || die "no PostgreSQL binaries in $PG_BIN (apt-get install postgresql-15)"

url() { echo "postgres://postgres@127.0.0.1:$1/postgres"; }

running() { [ -f "$DATA/postmaster.pid" ] && as_pg "$PG_BIN/pg_ctl" -D "$DATA" status >/dev/null 2>&1; }

port_busy() {
  # bash's /dev/tcp: a successful connect means something listens there.
  (exec 3<>"/dev/tcp/127.0.0.1/$1") >/dev/null 2>&1
}

case "$cmd" in
  start)
    if running && [ -f "$PORT_FILE" ]; then
      url "$(cat "$PORT_FILE")"
      exit 0
    fi
    mkdir -p "$PG_DIR"
    # The postgres user must be able to reach the data directory through every parent.
    if [ "$PG_OWNER" = postgres ]; then
      chown postgres: "$PG_DIR"
      d="$PG_DIR"
      while [ "$d" != / ]; do
        d="$(dirname "$d")"
        as_pg test -x "$d" || chmod o+x "$d"
      done
    fi
    if [ ! -f "$DATA/PG_VERSION" ]; then
      rm -rf "$DATA"
      as_pg "$PG_BIN/initdb" -D "$DATA" -U postgres -A trust -E UTF8 --locale=C.UTF-8 --no-sync >"$PG_DIR/initdb.log" 2>&1 \
        || { cat "$PG_DIR/initdb.log" >&2; die "initdb failed"; }
    fi
    port="${PG_PORT:-54329}"
    tries=0
    while port_busy "$port"; do
      port=$((port + 1)); tries=$((tries + 1))
      [ "$tries" -lt 50 ] || die "no free port found from ${PG_PORT:-54329}"
    done
    # Test-only settings: durability off for speed (a crash only loses throwaway data).
    as_pg "$PG_BIN/pg_ctl" -D "$DATA" -l "$LOG" -w -t 60 \
      -o "-p $port -k $DATA -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" \
      start >/dev/null || { tail -n 30 "$LOG" >&2 || true; die "server did not start"; }
    echo "$port" >"$PORT_FILE"
    url "$port"
    ;;
  stop)
    if running; then
      as_pg "$PG_BIN/pg_ctl" -D "$DATA" -m fast -w stop >/dev/null
      echo "pg-cluster: stopped" >&2
    fi
    ;;
  destroy)
    if running; then as_pg "$PG_BIN/pg_ctl" -D "$DATA" -m immediate -w stop >/dev/null || true; fi
    rm -rf "$PG_DIR"
    ;;
  url)
    running && [ -f "$PORT_FILE" ] || die "not running"
    url "$(cat "$PORT_FILE")"
    ;;
  *)
    die "usage: $0 [start|stop|destroy|url]"
    ;;
esac
