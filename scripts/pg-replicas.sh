#!/usr/bin/env bash
# The production database topology in miniature (M11), for drills and tests: three PostgreSQL 15
# clusters on loopback ports, joined by streaming replication.
#
#   primary  (default port 54340)  wal_level=replica, synchronous_standby_names='FIRST 1 (standby)'
#   standby  (default port 54341)  synchronous standby: a commit is acknowledged only after the
#                                  standby has flushed its WAL (synchronous_commit=on)
#   remote   (default port 54342)  asynchronous replica, "at another site"
#
#   scripts/pg-replicas.sh start            create (first time) and start all three; prints the URLs
#   scripts/pg-replicas.sh stop             stop all three (data kept)
#   scripts/pg-replicas.sh destroy          stop hard and remove the data
#   scripts/pg-replicas.sh status           role of each node, pg_stat_replication (sync_state, lag)
#   scripts/pg-replicas.sh urls             the multi-host URL the app uses, then one URL per node
#   scripts/pg-replicas.sh url              only the multi-host URL (primary and standby)
#   scripts/pg-replicas.sh kill-primary     stop the original primary hard (pg_ctl stop -m immediate)
#   scripts/pg-replicas.sh promote-standby  promote the synchronous standby (pg_ctl promote)
#   scripts/pg-replicas.sh follow-remote    point the remote replica at the promoted standby
#                                           (re-made from a base backup if it cannot follow)
#
# Settings (environment): PG_BIN (default /usr/lib/postgresql/15/bin), PG_REPLICAS_DIR (default
# <project>/.pg/replicas, ignored by git), PG_PRIMARY_PORT / PG_STANDBY_PORT / PG_REMOTE_PORT
# (defaults 54340/54341/54342; a busy port is replaced by the next free one), PG_REPLICAS_DB
# (default postgres; created when missing), PG_REPLICAS_FSYNC (default off; on for a slower,
# power-loss-proof run). Trust authentication on 127.0.0.1 only: never for real
# data. As root the servers run as the `postgres` user (initdb refuses root).
set -euo pipefail

PG_BIN="${PG_BIN:-/usr/lib/postgresql/15/bin}"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DIR="${PG_REPLICAS_DIR:-$ROOT/.pg/replicas}"
DB="${PG_REPLICAS_DB:-postgres}"
NODES=(primary standby remote)
cmd="${1:-start}"

die() { echo "pg-replicas: $*" >&2; exit 1; }
say() { echo "pg-replicas: $*" >&2; }

if [ "$(id -u)" = 0 ]; then
  id postgres >/dev/null 2>&1 || die "running as root but there is no 'postgres' user (install postgresql-15)"
  as_pg() { runuser -u postgres -- "$@"; }
  PG_OWNER=postgres
else
  as_pg() { "$@"; }
  PG_OWNER="$(id -un)"
fi

[ -x "$PG_BIN/pg_ctl" ] || die "no PostgreSQL binaries in $PG_BIN (apt-get install postgresql-15)"

data() { echo "$DIR/$1/data"; }
port_of() { cat "$DIR/$1/port" 2>/dev/null || true; }
running() { [ -f "$(data "$1")/postmaster.pid" ] && as_pg "$PG_BIN/pg_ctl" -D "$(data "$1")" status >/dev/null 2>&1; }
psql_on() { local p="$1"; shift; as_pg "$PG_BIN/psql" -X -q -h 127.0.0.1 -p "$p" -U postgres -d postgres -v ON_ERROR_STOP=1 "$@"; }
port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") >/dev/null 2>&1; }

# The next free port from $1, skipping the ones already handed out in this run.
TAKEN=" "
free_port() {
  local port="$1" tries=0
  while port_busy "$port" || [[ "$TAKEN" == *" $port "* ]]; do
    port=$((port + 1)); tries=$((tries + 1))
    [ "$tries" -lt 100 ] || die "no free port found from $1"
  done
  TAKEN="$TAKEN$port "
  echo "$port"
}

# Per-node settings appended to the node's postgresql.conf (later lines win over copied ones).
node_settings() {
  local node="$1" port="$2"
  cat <<EOF

# --- pg-replicas.sh: $node ---
port = $port
listen_addresses = '127.0.0.1'
unix_socket_directories = '$(data "$node")'
cluster_name = '$node'
max_connections = 100
shared_buffers = 32MB
# Off by default to keep drills and CI fast: a killed server process loses nothing the operating
# system has, so the drill's claim (synchronous replication) holds. Production keeps fsync on.
fsync = ${PG_REPLICAS_FSYNC:-off}
EOF
  if [ "$node" = primary ]; then
    cat <<'EOF'
wal_level = replica
max_wal_senders = 10
wal_keep_size = 256MB
hot_standby = on
synchronous_commit = on
synchronous_standby_names = 'FIRST 1 (standby)'
EOF
  else
    # A promoted node must not wait for a synchronous standby it does not have: after a failover
    # the cluster runs asynchronously until a new standby is built (Patroni's non-strict mode).
    cat <<'EOF'
synchronous_standby_names = ''
EOF
  fi
}

conninfo() { echo "host=127.0.0.1 port=$1 user=replicator application_name=$2"; }

wait_sql() { # port seconds sql expected
  local p="$1" secs="$2" q="$3" want="$4" got=""
  for _ in $(seq 1 $((secs * 5))); do
    got="$(psql_on "$p" -tAc "$q" 2>/dev/null || true)"
    [ "$got" = "$want" ] && return 0
    sleep 0.2
  done
  return 1
}

start_node() {
  local node="$1"
  running "$node" && return 0
  as_pg "$PG_BIN/pg_ctl" -D "$(data "$node")" -l "$DIR/$node/server.log" -w -t 60 start >/dev/null \
    || { tail -n 30 "$DIR/$node/server.log" >&2 || true; die "$node did not start"; }
}

base_backup() { # node primary_port
  local node="$1" from="$2" port
  port="$(port_of "$node")"
  rm -rf "$(data "$node")"
  as_pg "$PG_BIN/pg_basebackup" -h 127.0.0.1 -p "$from" -U replicator -D "$(data "$node")" -R -X stream --no-sync -c fast \
    >"$DIR/$node/basebackup.log" 2>&1 || { cat "$DIR/$node/basebackup.log" >&2; die "base backup for $node failed"; }
  node_settings "$node" "$port" | as_pg tee -a "$(data "$node")/postgresql.conf" >/dev/null
  # -R wrote a primary_conninfo without our application_name; the later line wins.
  echo "primary_conninfo = '$(conninfo "$from" "$node")'" | as_pg tee -a "$(data "$node")/postgresql.auto.conf" >/dev/null
}

multi_url() { echo "postgres://postgres@127.0.0.1:$(port_of primary),127.0.0.1:$(port_of standby)/$DB?target_session_attrs=read-write"; }

print_urls() {
  echo "multi $(multi_url)"
  for n in "${NODES[@]}"; do echo "$n postgres://postgres@127.0.0.1:$(port_of "$n")/$DB"; done
}

# The node that is primary now (not in recovery), or nothing.
current_primary() {
  for n in "${NODES[@]}"; do
    if running "$n" && [ "$(psql_on "$(port_of "$n")" -tAc 'select pg_is_in_recovery()' 2>/dev/null || true)" = f ]; then
      echo "$n"; return 0
    fi
  done
}

case "$cmd" in
  start)
    if [ -f "$(data primary)/PG_VERSION" ] && [ -f "$(data standby)/PG_VERSION" ] && [ -f "$(data remote)/PG_VERSION" ]; then
      for n in "${NODES[@]}"; do
        # Fencing, in miniature: once the standby was promoted, the old primary must not come
        # back as a second writable server. Rebuild with destroy + start.
        if [ "$n" = primary ] && [ ! -f "$(data standby)/standby.signal" ] && ! running primary; then
          say "not starting the old primary: the standby was promoted (destroy and start to rebuild)"
          continue
        fi
        start_node "$n"
      done
      print_urls
      exit 0
    fi
    rm -rf "$DIR"
    mkdir -p "$DIR"
    for n in "${NODES[@]}"; do mkdir -p "$DIR/$n"; done
    if [ "$PG_OWNER" = postgres ]; then
      chown -R postgres: "$DIR"
      d="$DIR"
      while [ "$d" != / ]; do
        d="$(dirname "$d")"
        as_pg test -x "$d" || chmod o+x "$d"
      done
    fi
    free_port "${PG_PRIMARY_PORT:-54340}" >"$DIR/primary/port"
    free_port "${PG_STANDBY_PORT:-54341}" >"$DIR/standby/port"
    free_port "${PG_REMOTE_PORT:-54342}" >"$DIR/remote/port"
    as_pg "$PG_BIN/initdb" -D "$(data primary)" -U postgres -A trust -E UTF8 --locale=C.UTF-8 --no-sync >"$DIR/primary/initdb.log" 2>&1 \
      || { cat "$DIR/primary/initdb.log" >&2; die "initdb failed"; }
    node_settings primary "$(port_of primary)" | as_pg tee -a "$(data primary)/postgresql.conf" >/dev/null
    # initdb -A trust already lets 127.0.0.1 in for replication; said again here on purpose.
    echo "host replication replicator 127.0.0.1/32 trust" | as_pg tee -a "$(data primary)/pg_hba.conf" >/dev/null
    start_node primary
    # No standby exists yet: these commits must not wait for one.
    psql_on "$(port_of primary)" -c "set synchronous_commit = local" -c "create role replicator with login replication"
    if [ "$DB" != postgres ]; then psql_on "$(port_of primary)" -c "set synchronous_commit = local" -c "create database \"$DB\""; fi
    base_backup standby "$(port_of primary)"
    base_backup remote "$(port_of primary)"
    start_node standby
    start_node remote
    wait_sql "$(port_of primary)" 30 "select string_agg(application_name || ':' || sync_state, ',' order by application_name) from pg_stat_replication where state = 'streaming'" "remote:async,standby:sync" \
      || { say "replication did not come up:"; psql_on "$(port_of primary)" -c "select application_name, state, sync_state from pg_stat_replication" >&2; die "replication not streaming"; }
    print_urls
    ;;
  stop)
    for n in "${NODES[@]}"; do
      if running "$n"; then as_pg "$PG_BIN/pg_ctl" -D "$(data "$n")" -m fast -w stop >/dev/null || true; fi
    done
    ;;
  destroy)
    for n in "${NODES[@]}"; do
      if running "$n"; then as_pg "$PG_BIN/pg_ctl" -D "$(data "$n")" -m immediate -w stop >/dev/null || true; fi
    done
    rm -rf "$DIR"
    ;;
  urls)
    [ -f "$DIR/primary/port" ] || die "not created (run start)"
    print_urls
    ;;
  url)
    [ -f "$DIR/primary/port" ] || die "not created (run start)"
    multi_url
    ;;
  status)
    [ -f "$DIR/primary/port" ] || die "not created (run start)"
    for n in "${NODES[@]}"; do
      p="$(port_of "$n")"
      if running "$n"; then
        role="$(psql_on "$p" -tAc "select case when pg_is_in_recovery() then 'replica' else 'PRIMARY' end" 2>/dev/null || echo unknown)"
        timeline="$(psql_on "$p" -tAc "select case when pg_is_in_recovery() then (select received_tli from pg_stat_wal_receiver)
          else ('x' || substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8))::bit(32)::int end" 2>/dev/null || echo '?')"
        printf '%-8s port %-6s running  %-8s timeline %s\n' "$n" "$p" "$role" "$timeline"
      else
        printf '%-8s port %-6s stopped\n' "$n" "$p"
      fi
    done
    prim="$(current_primary)"
    if [ -n "$prim" ]; then
      echo
      echo "pg_stat_replication on $prim:"
      psql_on "$(port_of "$prim")" -c "select application_name, state, sync_state,
          pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn) as replay_lag_bytes,
          coalesce(replay_lag, interval '0') as replay_lag
        from pg_stat_replication order by application_name"
      psql_on "$(port_of "$prim")" -tAc "show synchronous_standby_names" | sed 's/^/synchronous_standby_names: /'
    else
      echo "no node is primary right now"
    fi
    ;;
  kill-primary)
    running primary || die "the original primary is not running"
    as_pg "$PG_BIN/pg_ctl" -D "$(data primary)" -m immediate -w stop >/dev/null
    say "primary (port $(port_of primary)) stopped hard"
    ;;
  promote-standby)
    running standby || die "the standby is not running"
    as_pg "$PG_BIN/pg_ctl" -D "$(data standby)" -w -t 60 promote >/dev/null
    wait_sql "$(port_of standby)" 30 "select pg_is_in_recovery()" f || die "the standby did not leave recovery"
    say "standby (port $(port_of standby)) is the primary now"
    ;;
  follow-remote)
    running remote || die "the remote replica is not running"
    new="$(port_of standby)"
    # primary_conninfo is reloadable; recovery_target_timeline defaults to 'latest', so the
    # replica switches to the new timeline when it has not received WAL past the fork point.
    echo "primary_conninfo = '$(conninfo "$new" remote)'" | as_pg tee -a "$(data remote)/postgresql.auto.conf" >/dev/null
    psql_on "$(port_of remote)" -c "select pg_reload_conf()" >/dev/null
    if wait_sql "$new" 15 "select count(*) from pg_stat_replication where application_name = 'remote' and state = 'streaming'" 1; then
      say "remote replica follows the new primary"
    else
      # It had WAL from the old primary beyond the fork point (possible for an async replica):
      # make it again from the new primary (pg_rewind would do in production).
      say "remote replica cannot follow; re-making it from a base backup of the new primary"
      as_pg "$PG_BIN/pg_ctl" -D "$(data remote)" -m immediate -w stop >/dev/null || true
      base_backup remote "$new"
      start_node remote
      wait_sql "$new" 30 "select count(*) from pg_stat_replication where application_name = 'remote' and state = 'streaming'" 1 \
        || die "remote replica does not stream from the new primary"
      say "remote replica re-made and streaming"
    fi
    ;;
  *)
    die "usage: $0 start|stop|destroy|status|urls|url|kill-primary|promote-standby|follow-remote"
    ;;
esac
