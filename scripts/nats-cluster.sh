#!/usr/bin/env bash
# A throwaway three-node NATS JetStream cluster for the tests:
# usage: nats-cluster.sh start|stop|kill|restart|status DIR [N]
#
#   start      picks free ports on 127.0.0.1 (or NATS_HOST), writes a configuration per server
#              (DIR/sN/nats.conf: JetStream with its own store directory DIR/sN/store, a client
#              port, a cluster port with routes to the two others, a monitoring port in
#              DIR/sN/monitor), starts the three servers
#              (s1, s2, s3) and waits until each reports JetStream healthy and the cluster has a
#              meta leader. Writes the client URLs, comma-separated, to DIR/urls, and each
#              server's client port and pid to DIR/sN/port and DIR/sN/pid. Does nothing if the
#              cluster already runs.
#   stop       kills the three servers (SIGKILL), then removes DIR.
#              Works whatever state DIR is in (absent, after a failed start, servers gone).
#   kill N     SIGKILLs server N (1, 2 or 3), as a crash would; its store stays.
#   restart N  starts server N again on the same ports and store if it is not running (after
#              kill), and waits until it is healthy and has caught up with the cluster.
#   status     exits 0 if all three servers run.
#
# NATS_HOST (start only; default 127.0.0.1): the address every server listens on, for a cluster
# reached from another network namespace (scripts/demo-cluster.sh). Kept in DIR/host.
# NATS_MAX_FILE_STORE (start only; default 1GB): each server's JetStream file storage limit.
#
# The tests read DIR from SLUICE_NATS_DIR (set by the ctest fixture "nats"). nats-server runs as
# whoever calls this script (it does not refuse root).
set -euo pipefail

usage() {
  echo "usage: $0 start|stop|kill N|restart N|status DIR" >&2
  echo "       (kill and restart take DIR then N: $0 kill DIR 2)" >&2
  exit 2
}
[[ $# -ge 2 ]] || usage
verb=$1
dir=$2
n=${3:-}

server=$(command -v nats-server || true)
[[ -n $server ]] || [[ $verb == stop ]] || {
  echo "$0: nats-server not found on PATH (Debian package nats-server)" >&2
  exit 1
}

# The address the servers listen on: DIR/host once started, else NATS_HOST.
host=$(cat "$dir/host" 2>/dev/null || echo "${NATS_HOST:-127.0.0.1}")

# n free TCP ports on $host (bound by the kernel's choice, then released).
free_ports() {
  python3 - "$1" "$host" <<'EOF'
import socket, sys
socks = []
for _ in range(int(sys.argv[1])):
    s = socket.socket()
    s.bind((sys.argv[2], 0))
    socks.append(s)
print(" ".join(str(s.getsockname()[1]) for s in socks))
EOF
}

pid_of() { cat "$dir/s$1/pid" 2>/dev/null || true; }

alive() {
  local pid
  pid=$(pid_of "$1")
  [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null &&
    [[ $(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null) != Z ]]
}

# Starts server $1 from its configuration, in the background, in a session of its own: a
# server restarted from inside a test must outlive the test's process group.
launch() {
  local i=$1
  setsid "$server" -c "$dir/s$i/nats.conf" >>"$dir/s$i/server.log" 2>&1 </dev/null &
  echo $! >"$dir/s$i/pid"
}

# Waits until server $1 answers /healthz with 200 (JetStream enabled and current).
wait_healthy() {
  local i=$1 mport deadline
  mport=$(cat "$dir/s$i/monitor")
  deadline=$((SECONDS + 30))
  until curl -fsS -o /dev/null "http://$host:$mport/healthz" 2>/dev/null; do
    if ! alive "$i"; then
      echo "$0: server s$i exited; its log:" >&2
      tail -n 30 "$dir/s$i/server.log" >&2 || true
      return 1
    fi
    if ((SECONDS >= deadline)); then
      echo "$0: server s$i not healthy after 30 s; its log:" >&2
      tail -n 30 "$dir/s$i/server.log" >&2 || true
      return 1
    fi
    sleep 0.1
  done
}

# Waits until server $1 knows a JetStream meta leader (streams can be created).
wait_meta_leader() {
  local i=$1 mport deadline
  mport=$(cat "$dir/s$i/monitor")
  deadline=$((SECONDS + 30))
  until curl -fsS "http://$host:$mport/jsz" 2>/dev/null | grep -q '"leader": *"s[123]"'; do
    if ((SECONDS >= deadline)); then
      echo "$0: no JetStream meta leader after 30 s" >&2
      return 1
    fi
    sleep 0.1
  done
}

# SIGKILL: the cluster and its stores are thrown away, so nothing needs a graceful shutdown
# (SIGTERM costs each server about two seconds).
stop_all() {
  local i
  for i in 1 2 3; do
    alive "$i" && kill -KILL "$(pid_of "$i")" 2>/dev/null || true
  done
  for i in 1 2 3; do
    while alive "$i"; do sleep 0.02; done
  done
}

case $verb in
start)
  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd)
  if alive 1 && alive 2 && alive 3; then
    exit 0
  fi
  stop_all
  rm -rf "$dir"/s1 "$dir"/s2 "$dir"/s3 "$dir/urls"
  host="${NATS_HOST:-127.0.0.1}"
  echo "$host" >"$dir/host"
  read -r -a ports <<<"$(free_ports 9)"
  urls=()
  for i in 1 2 3; do
    base=$(((i - 1) * 3))
    client=${ports[$base]} route=${ports[$((base + 1))]} monitor=${ports[$((base + 2))]}
    mkdir -p "$dir/s$i/store"
    echo "$client" >"$dir/s$i/port"
    echo "$route" >"$dir/s$i/route"
    echo "$monitor" >"$dir/s$i/monitor"
    urls+=("nats://$host:$client")
  done
  for i in 1 2 3; do
    routes=()
    for j in 1 2 3; do
      [[ $j == "$i" ]] || routes+=("nats://$host:$(cat "$dir/s$j/route")")
    done
    cat >"$dir/s$i/nats.conf" <<EOF
server_name: s$i
listen: $host:$(cat "$dir/s$i/port")
http: $host:$(cat "$dir/s$i/monitor")
jetstream {
  store_dir: "$dir/s$i/store"
  max_memory_store: 64MB
  max_file_store: ${NATS_MAX_FILE_STORE:-1GB}
}
cluster {
  name: sluice
  listen: $host:$(cat "$dir/s$i/route")
  routes: [$(IFS=,; echo "${routes[*]}")]
}
EOF
    launch "$i"
  done
  for i in 1 2 3; do
    wait_healthy "$i" || { stop_all; exit 1; }
  done
  wait_meta_leader 1 || { stop_all; exit 1; }
  (IFS=,; echo "${urls[*]}") >"$dir/urls"
  ;;
stop)
  if [[ -d $dir ]]; then
    stop_all
    rm -rf "$dir"
  fi
  ;;
kill)
  [[ $n == 1 || $n == 2 || $n == 3 ]] || usage
  pid=$(pid_of "$n")
  if [[ -n $pid ]]; then
    kill -KILL "$pid" 2>/dev/null || true
    # (Gone, or a zombie waiting for whoever adopted it to reap it: dead either way.)
    while kill -0 "$pid" 2>/dev/null && [[ $(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null) != Z ]]; do
      sleep 0.02
    done
  fi
  ;;
restart)
  [[ $n == 1 || $n == 2 || $n == 3 ]] || usage
  [[ -f $dir/s$n/nats.conf ]] || {
    echo "$0: no server s$n in $dir (start the cluster first)" >&2
    exit 1
  }
  if ! alive "$n"; then
    launch "$n"
  fi
  wait_healthy "$n"
  ;;
status)
  alive 1 && alive 2 && alive 3
  ;;
*)
  usage
  ;;
esac
