#!/usr/bin/env bash
# A throwaway PostgreSQL 15 cluster for the test suite (the ctest fixture "pg").
#   cluster.sh start DIR   fresh cluster in DIR/data, socket in DIR/sock; prints its URL
#   cluster.sh stop DIR    stops it and removes DIR
# Unix socket only (listen_addresses=''), trust auth, user postgres. Any failure exits
# non-zero with the reason: the tests that need PostgreSQL must fail, never skip.
set -euo pipefail

readonly PG_BIN=/usr/lib/postgresql/15/bin
# Only names the socket file (no TCP listener); the tests' SOTONG_TEST_PG uses the same.
readonly PORT=54329
# initdb plus a start take a few seconds on a loaded two-core machine; this is far beyond.
readonly START_WAIT_SECONDS=60

die() {
  echo "cluster.sh: $*" >&2
  exit 1
}

[ $# -eq 2 ] || die "usage: cluster.sh start|stop DIR"
action=$1
dir=$(realpath -m -- "$2")
[ "$dir" != "/" ] || die "refusing to use / as the cluster directory"
data="$dir/data"
sock="$dir/sock"
log="$dir/server.log"

[ -x "$PG_BIN/initdb" ] && [ -x "$PG_BIN/pg_ctl" ] ||
  die "PostgreSQL 15 is not installed ($PG_BIN/initdb missing): apt-get install postgresql-15 (see .ci/setup)"

# PostgreSQL refuses to run as root: then the cluster belongs to the postgres system user.
as_owner=()
if [ "$(id -u)" -eq 0 ]; then
  id postgres >/dev/null 2>&1 || die "running as root but there is no postgres user (it comes with postgresql-15)"
  as_owner=(runuser -u postgres --)
fi
run() { "${as_owner[@]}" "$@"; }

# The server must reach DIR: as the postgres user that needs search permission on each parent.
make_reachable() {
  [ ${#as_owner[@]} -gt 0 ] || return 0
  local p
  p=$(dirname "$dir")
  while [ "$p" != "/" ]; do
    if ! run test -x "$p"; then
      chmod o+x "$p" || die "cannot let the postgres user into $p"
      echo "cluster.sh: gave others search permission on $p so the postgres user reaches $dir" >&2
    fi
    p=$(dirname "$p")
  done
}

# Whether this cluster's postmaster runs. A postmaster.pid left by a killed server may name a
# process id reused by something else, which pg_ctl would take for the server and signal.
server_running() {
  local pid
  [ -f "$data/postmaster.pid" ] || return 1
  pid=$(head -n 1 "$data/postmaster.pid" 2>/dev/null || true)
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$data" || return 1
  run "$PG_BIN/pg_ctl" -D "$data" status >/dev/null 2>&1
}

stop_server() {
  if server_running; then
    run "$PG_BIN/pg_ctl" -D "$data" -m fast -w -t "$START_WAIT_SECONDS" stop >/dev/null ||
      die "pg_ctl stop failed for $data"
  fi
}

start() {
  # A cluster left by an earlier run (running, or killed with a stale postmaster.pid) is
  # replaced, so every run starts from an empty database.
  stop_server
  rm -rf -- "$dir" || die "cannot remove the old cluster in $dir"
  mkdir -p -- "$sock" || die "cannot create $sock"
  # The socket path must fit in sun_path (107 bytes).
  local socket_file="$sock/.s.PGSQL.$PORT"
  [ ${#socket_file} -le 107 ] ||
    die "socket path $socket_file is longer than 107 bytes; use a shorter build directory"
  if [ ${#as_owner[@]} -gt 0 ]; then
    chown -R postgres: "$dir" || die "cannot give $dir to the postgres user"
    make_reachable
  fi

  run "$PG_BIN/initdb" -D "$data" --auth=trust --username=postgres --encoding=UTF8 \
    --locale=C --no-sync >"$dir/initdb.log" 2>&1 ||
    die "initdb failed; its output:"$'\n'"$(cat "$dir/initdb.log")"

  if ! run "$PG_BIN/pg_ctl" -D "$data" -l "$log" -w -t "$START_WAIT_SECONDS" \
    -o "-k '$sock' -c listen_addresses='' -p $PORT -c fsync=on -c max_connections=100" \
    start >/dev/null; then
    die "the server did not start; its log:"$'\n'"$(tail -n 30 "$log" 2>/dev/null)"
  fi
  run "$PG_BIN/pg_isready" -q -h "$sock" -p "$PORT" -t 10 ||
    die "the server started but does not answer on $sock"
  echo "postgresql:///postgres?host=$sock&port=$PORT&user=postgres"
}

stop() {
  stop_server
  rm -rf -- "$dir" || die "cannot remove $dir"
}

case "$action" in
  start) start ;;
  stop) stop ;;
  *) die "unknown action '$action' (start or stop)" ;;
esac
