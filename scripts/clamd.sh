#!/usr/bin/env bash
# A throwaway ClamAV daemon (clamd from Debian) for tests and CI, with the project's tiny test
# signature database (resources/clamav/) instead of the official one: no download, starts in
# well under a second.
#
#   scripts/clamd.sh [start]   start (or reuse) clamd; prints its address as tcp://127.0.0.1:PORT
#   scripts/clamd.sh stop      stop it
#   scripts/clamd.sh url       print the address of the running clamd
#
# Settings (environment): CLAMD_BIN (default /usr/sbin/clamd), CLAMD_PORT (default 53310; the
# next free port is taken when it is busy), CLAMD_DIR (default <project>/.test-data/clamd, ignored by git).
# Listens on 127.0.0.1 only (and a unix socket in CLAMD_DIR). As root the daemon runs as the
# `clamav` user that Debian's package creates; otherwise as yourself.
set -euo pipefail

CLAMD_BIN="${CLAMD_BIN:-/usr/sbin/clamd}"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DIR="${CLAMD_DIR:-$ROOT/.test-data/clamd}"
CONF="$DIR/clamd.conf"
PID_FILE="$DIR/clamd.pid"
PORT_FILE="$DIR/port"
LOG="$DIR/clamd.log"
cmd="${1:-start}"

die() { echo "clamd.sh: $*" >&2; exit 1; }

if [ "$(id -u)" = 0 ]; then
  id clamav >/dev/null 2>&1 || die "running as root but there is no 'clamav' user (apt-get install clamav-daemon)"
  as_clam() { runuser -u clamav -- "$@"; }
  OWNER=clamav
else
  as_clam() { "$@"; }
  OWNER="$(id -un)"
fi

url() { echo "tcp://127.0.0.1:$1"; }

running() {
  [ -f "$PID_FILE" ] || return 1
  local pid
  pid="$(cat "$PID_FILE" 2>/dev/null || true)"
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null
}

port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") >/dev/null 2>&1; }

# True when clamd on $1 answers PING with PONG (bash's /dev/tcp; no extra tools needed).
pong() {
  local reply=''
  exec 3<>"/dev/tcp/127.0.0.1/$1" || return 1
  printf 'zPING\0' >&3
  IFS= read -r -d '' -t 2 reply <&3 || true
  exec 3<&- 3>&-
  [ "$reply" = "PONG" ]
}

case "$cmd" in
  start)
    if running && [ -f "$PORT_FILE" ] && pong "$(cat "$PORT_FILE")" 2>/dev/null; then
      url "$(cat "$PORT_FILE")"
      exit 0
    fi
    [ -x "$CLAMD_BIN" ] || die "no clamd at $CLAMD_BIN (apt-get install --no-install-recommends clamav clamav-daemon)"
    mkdir -p "$DIR/db"
    # The test signatures only: never the official ones, never a download.
    cp "$ROOT"/resources/clamav/*.hdb "$ROOT"/resources/clamav/*.ndb "$DIR/db/"
    if [ "$OWNER" = clamav ]; then
      chown -R clamav: "$DIR"
      d="$DIR"
      while [ "$d" != / ]; do
        d="$(dirname "$d")"
        as_clam test -x "$d" || chmod o+x "$d"
      done
    fi
    port="${CLAMD_PORT:-53310}"
    tries=0
    while port_busy "$port"; do
      port=$((port + 1)); tries=$((tries + 1))
      [ "$tries" -lt 50 ] || die "no free port found from ${CLAMD_PORT:-53310}"
    done
    # Limits close to production's, so the size-limit and archive rules are tested as they run.
    cat >"$CONF" <<EOF
Foreground no
PidFile $PID_FILE
LogFile $LOG
LogTime yes
DatabaseDirectory $DIR/db
LocalSocket $DIR/clamd.sock
LocalSocketMode 660
TCPSocket $port
TCPAddr 127.0.0.1
StreamMaxLength 40M
MaxFileSize 40M
MaxScanSize 200M
MaxFiles 10000
MaxRecursion 16
ScanArchive yes
ScanOLE2 yes
ScanPDF yes
AlertExceedsMax yes
SelfCheck 0
EOF
    chown "$OWNER" "$CONF" 2>/dev/null || true
    rm -f "$PID_FILE"
    as_clam "$CLAMD_BIN" -c "$CONF" >>"$DIR/start.log" 2>&1 || { tail -n 20 "$DIR/start.log" "$LOG" >&2 2>/dev/null || true; die "clamd did not start"; }
    for _ in $(seq 1 100); do
      if pong "$port" 2>/dev/null; then
        echo "$port" >"$PORT_FILE"
        url "$port"
        exit 0
      fi
      sleep 0.1
    done
    tail -n 20 "$LOG" >&2 2>/dev/null || true
    die "clamd did not answer PING on 127.0.0.1:$port"
    ;;
  stop)
    if running; then
      kill "$(cat "$PID_FILE")" 2>/dev/null || true
      for _ in $(seq 1 50); do running || break; sleep 0.1; done
      echo "clamd.sh: stopped" >&2
    fi
    rm -f "$PID_FILE"
    ;;
  url)
    running && [ -f "$PORT_FILE" ] || die "not running"
    url "$(cat "$PORT_FILE")"
    ;;
  *)
    die "usage: $0 [start|stop|url]"
    ;;
esac
