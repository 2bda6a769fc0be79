#!/usr/bin/env bash
# A throwaway PostgreSQL server for the tests: usage: pg-server.sh start|stop|crash|status DIR
#
#   start   initdb in DIR/data if it is not there yet (trust authentication, superuser "sluice",
#           UTF8), then start a server listening only on a Unix socket in DIR (no TCP) and wait
#           until it accepts connections. Does nothing if the server already runs; after a crash,
#           starts it again on the same data (the server's own recovery).
#   stop    pg_ctl stop -m fast, then removes DIR. Works whatever state DIR is in (absent, after
#           a failed start, server already gone).
#   crash   pg_ctl stop -m immediate (as a power loss would), keeping DIR: for tests of a lost
#           connection. `start` brings it back.
#   status  exits 0 if the server runs.
#
# initdb and postgres refuse to run as root: as root, the server runs as the user nobody, which
# owns DIR; root's test process reaches the socket anyway. Connection string for clients:
#   host=DIR user=sluice dbname=postgres
set -euo pipefail

usage() {
  echo "usage: $0 start|stop|crash|status DIR" >&2
  exit 2
}
[[ $# -eq 2 ]] || usage
verb=$1
dir=$2

bindir=/usr/lib/postgresql/15/bin
if [[ ! -x $bindir/pg_ctl ]] && command -v pg_config >/dev/null; then
  bindir=$(pg_config --bindir)
fi
[[ -x $bindir/pg_ctl ]] || {
  echo "$0: PostgreSQL server binaries not found (looked in $bindir)" >&2
  exit 1
}

user_id=65534
as_server() {
  if [[ $(id -u) -eq 0 ]]; then
    setpriv --reuid="$user_id" --regid="$user_id" --clear-groups -- "$@"
  else
    "$@"
  fi
}

running() {
  [[ -f $dir/data/postmaster.pid ]] && as_server "$bindir/pg_ctl" status -D "$dir/data" >/dev/null 2>&1
}

case $verb in
start)
  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd)
  [[ $(id -u) -eq 0 ]] && chown "$user_id:$user_id" "$dir"
  chmod 755 "$dir"
  if running; then
    exit 0
  fi
  if [[ ! -f $dir/data/PG_VERSION ]]; then
    rm -rf "$dir/data"
    as_server "$bindir/initdb" -D "$dir/data" -U sluice --auth=trust -E UTF8 --locale=C.UTF-8 \
      --no-sync >"$dir/initdb.log" 2>&1 || {
      cat "$dir/initdb.log" >&2
      exit 1
    }
  fi
  # Only the Unix socket in DIR; fsync off: the tests' durability is the server's word (a crash
  # with -m immediate keeps the OS's page cache, so committed rows survive it).
  as_server "$bindir/pg_ctl" start -w -t 60 -D "$dir/data" -l "$dir/server.log" \
    -o "-c listen_addresses='' -k '$dir' -c fsync=off -c full_page_writes=off" >/dev/null || {
    cat "$dir/server.log" >&2 || true
    exit 1
  }
  ;;
stop)
  if [[ -d $dir/data ]] && running; then
    as_server "$bindir/pg_ctl" stop -w -t 60 -m fast -D "$dir/data" >/dev/null || true
  fi
  rm -rf "$dir"
  ;;
crash)
  if running; then
    as_server "$bindir/pg_ctl" stop -m immediate -D "$dir/data" >/dev/null
  fi
  ;;
status)
  running
  ;;
*)
  usage
  ;;
esac
