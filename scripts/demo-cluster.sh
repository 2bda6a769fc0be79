#!/usr/bin/env bash
# The durable-log demo (issue 19; docs/distributed.md): two producers and two consumers around a
# three-node NATS JetStream cluster, on two "hosts" (network namespaces joined by a veth pair),
# one consumer throttled. Every second it prints each process's throughput and memory and the
# stream's backlog; at the end it checks that every message reached a consumer.
#
#   scripts/demo-cluster.sh
#
# Host A (namespace PREFIX-a, 10.77.0.1): the cluster (s1, s2, s3, a stream DEMO with three
# replicas) and the producers, each `seq -f 'pN-%010g' 1 N | sluice run 'stdin | nats-pub URL
# demo.events --stream DEMO --replicas 3'`: a line is consumed from seq once the cluster stored
# it, so a producer goes at the pace the cluster acknowledges.
# Host B (PREFIX-b, 10.77.0.2): two `nats-sub URL DEMO workers` sharing one durable consumer (a
# work queue: each message goes to one of them). c1 writes its file directly; c2 writes to a pipe
# that a second process drains at THROTTLE bytes/s (`stdin | throttle THROTTLE | write`), so c2 fetches
# only as fast as its pipe empties and c1 takes the rest. Each acknowledges a message once its
# line is written (docs/cli.md, "nats-sub acknowledgements").
#
# Needs root for the namespaces (ip netns); otherwise every process runs on 127.0.0.1 and the
# demo says so. Knobs: N (messages per producer, 200000), THROTTLE (c2's bytes/s, 64K), IDLE
# (seconds without a message after which a consumer ends, 3), SLUICE (the sluice binary,
# default build/gcc/tools/sluice/sluice), DIR (work directory, default a new temporary one,
# removed at the end unless KEEP=1). Exit status 0 when every message arrived.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
n="${N:-200000}"
throttle="${THROTTLE:-64K}"
idle="${IDLE:-3}"
sluice="${SLUICE:-$root/build/gcc/tools/sluice/sluice}"
dir="${DIR:-$(mktemp -d)}"
line_bytes=14 # "p1-0000000001\n"

[[ -x $sluice ]] || {
  echo "demo-cluster.sh: no sluice binary at $sluice (cmake --build build/gcc, or set SLUICE)" >&2
  exit 1
}
command -v nats-server >/dev/null || {
  echo "demo-cluster.sh: nats-server not found (apt-get install nats-server)" >&2
  exit 1
}

prefix="" # the namespaces' prefix once made
pids=()
cleanup() {
  local pid
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  "$root/scripts/nats-cluster.sh" stop "$dir/cluster" >/dev/null 2>&1 || true
  [[ -n $prefix ]] && "$root/scripts/netns.sh" down "$prefix" >/dev/null 2>&1 || true
  [[ ${KEEP:-0} == 1 ]] || rm -rf "$dir"
}
trap cleanup EXIT
mkdir -p "$dir"

# Two namespaces when allowed; otherwise one host.
on_a=() on_b=() host=127.0.0.1
if prefix=$(env -u RATE "$root/scripts/netns.sh" up "demo-$$" 2>"$dir/netns.err"); then
  on_a=("$root/scripts/netns.sh" exec "$prefix-a")
  on_b=("$root/scripts/netns.sh" exec "$prefix-b")
  host=10.77.0.1
  where="host A = namespace $prefix-a (10.77.0.1: cluster, producers), host B = $prefix-b"
  where+=" (10.77.0.2: consumers), one veth pair between them"
else
  prefix=""
  where="one host, 127.0.0.1 ($(sed 's/^netns.sh: skipped: //' "$dir/netns.err"))"
fi

echo "== sluice JetStream demo: $where"
NATS_HOST=$host "${on_a[@]}" "$root/scripts/nats-cluster.sh" start "$dir/cluster" >/dev/null
url="$(cat "$dir/cluster/urls")"
monitor="http://$host:$(cat "$dir/cluster/s1/monitor")" # (for wait_for)
echo "== cluster: $url; $n messages from each producer; consumer c2 throttled to $throttle/s"

# The stream's and the consumer's numbers from the servers' monitoring endpoints: "stored pending
# unacked" (messages in the stream, not yet delivered, delivered and not acknowledged; 0 for
# what does not exist yet). A consumer's numbers are current only on the server leading it
# (server sN is named sN).
jsz() {
  local n out=()
  for n in 1 2 3; do
    out+=("s$n" "$("${on_a[@]}" curl -fsS "http://$host:$(cat "$dir/cluster/s$n/monitor")/jsz?accounts=true&streams=true&consumers=true" 2>/dev/null || echo '{}')")
  done
  python3 - "${out[@]}" <<'PY' || echo "0 0 0"
import json, sys
messages = pending = unacked = 0
args = sys.argv[1:]
for name, text in zip(args[0::2], args[1::2]):
    try:
        doc = json.loads(text)
    except ValueError:
        continue
    for acc in doc.get("account_details", []):
        for st in acc.get("stream_detail", []):
            if st.get("name") != "DEMO":
                continue
            messages = max(messages, st.get("state", {}).get("messages", 0))
            for c in st.get("consumer_detail", []):
                if c.get("name") == "workers" and c.get("cluster", {}).get("leader") == name:
                    pending = c.get("num_pending", 0)
                    unacked = c.get("num_ack_pending", 0)
print(messages, pending, unacked)
PY
}

# wait_for stream|consumer: waits until the stream DEMO (the consumer workers) exists, at most
# 30 s.
wait_for() {
  local what=$1 i
  for ((i = 0; i < 300; ++i)); do
    if [[ $what == stream ]] && "${on_a[@]}" curl -fsS "$monitor/jsz?streams=true" 2>/dev/null |
      grep -q '"name": *"DEMO"'; then return 0; fi
    if [[ $what == consumer ]] && "${on_a[@]}" curl -fsS "$monitor/jsz?consumers=true" 2>/dev/null |
      grep -q '"name": *"workers"'; then return 0; fi
    sleep 0.1
  done
  echo "demo-cluster.sh: the $what did not appear within 30 s" >&2
  return 1
}

producer() { # producer K: publishes pK-0000000001 .. pK-N
  seq -f "p$1-%010g" 1 "$n" |
    "${on_a[@]}" "$sluice" run --stats "stdin | nats-pub $url demo.events --stream DEMO --replicas 3" \
      2>"$dir/p$1.err" &
  pid[p$1]=$!
  pids+=("$!")
}
declare -A pid # process name (p1, p2, c1, c2) -> pid
producer 1
wait_for stream
producer 2

# c1: straight into its file. c2: into a pipe drained at $throttle by another process. The
# consumer lets 20,000 messages be unacknowledged at once: each nats-sub holds up to about
# 4,700 of these lines in its pipeline (64 KiB), and at the server's default bound (1,000) two
# processes sharing a consumer hit the libnats 3.4.1 heap corruption docs/messaging.md lists
# under Limits.
"${on_b[@]}" "$sluice" run --stats \
  "nats-sub $url DEMO workers --idle $idle --max-ack-pending 20000 | write --no-atomic $dir/c1.txt" 2>"$dir/c1.err" &
pid[c1]=$!
pids+=("${pid[c1]}")
wait_for consumer
mkfifo "$dir/c2.pipe"
"${on_b[@]}" "$sluice" run --stats "stdin | throttle $throttle | write --no-atomic $dir/c2.txt" \
  <"$dir/c2.pipe" 2>"$dir/c2-throttle.err" &
pid_t2=$!
pids+=("$pid_t2")
"${on_b[@]}" "$sluice" run --stats "nats-sub $url DEMO workers --idle $idle --max-ack-pending 20000" \
  >"$dir/c2.pipe" 2>"$dir/c2.err" &
pid[c2]=$!
pids+=("${pid[c2]}")

rss() { awk '/^VmRSS/ {printf "%.1f", $2 / 1024}' "/proc/$1/status" 2>/dev/null || echo "-"; }
peak() { awk '/^VmHWM/ {printf "%.1f", $2 / 1024}' "/proc/$1/status" 2>/dev/null || echo "-"; }
read_bytes() { awk '/^rchar/ {print $2}' "/proc/$1/io" 2>/dev/null || echo ""; }
size_of() { stat -c %s "$1" 2>/dev/null || echo 0; }
alive() { kill -0 "$1" 2>/dev/null; }

printf '\n%5s | %-17s | %-17s | %-17s | %-17s | %-24s\n' "" "producer p1" "producer p2" \
  "consumer c1" "consumer c2 ($throttle/s)" "stream DEMO (R3)"
printf '%5s | %8s %8s | %8s %8s | %8s %8s | %8s %8s | %8s %7s %7s\n' "t (s)" "msg/s" "RSS MiB" \
  "msg/s" "RSS MiB" "msg/s" "RSS MiB" "msg/s" "RSS MiB" "stored" "pending" "unacked"
declare -A last peak_seen now shown m
last[p1]=0 last[p2]=0 last[c1]=0 last[c2]=0
start_ms=$(date +%s%3N)
last_ms=$start_ms
# One line a second while anything runs (rates over the time since the last line).
while alive "${pid[p1]}" || alive "${pid[p2]}" || alive "${pid[c1]}" || alive "${pid[c2]}"; do
  sleep 1
  now_ms=$(date +%s%3N)
  elapsed_ms=$((now_ms - last_ms))
  last_ms=$now_ms
  for k in 1 2; do
    b=$(read_bytes "${pid[p$k]}")
    now[p$k]=${b:-${last[p$k]}}
  done
  now[c1]=$(size_of "$dir/c1.txt")
  now[c2]=$(size_of "$dir/c2.txt")
  for k in p1 p2 c1 c2; do
    shown[$k]=$(((now[$k] - last[$k]) * 1000 / line_bytes / elapsed_ms))
    ((shown[$k] >= 0)) || shown[$k]=0
    last[$k]=${now[$k]}
  done
  for k in p1 p2 c1 c2; do
    if alive "${pid[$k]}"; then
      m[$k]=$(rss "${pid[$k]}")
      peak_seen[$k]=$(peak "${pid[$k]}")
    else m[$k]="ended"; fi
  done
  read -r stored pending unacked <<<"$(jsz)"
  printf '%5.1f | %8d %8s | %8d %8s | %8d %8s | %8d %8s | %8d %7d %7d\n' "$(((now_ms - start_ms) / 100))e-1" "${shown[p1]}" "${m[p1]}" \
    "${shown[p2]}" "${m[p2]}" "${shown[c1]}" "${m[c1]}" "${shown[c2]}" "${m[c2]}" \
    "$stored" "$pending" "$unacked"
done

status=0
for who in p1 p2 c1 c2; do
  if ! wait "${pid[$who]}"; then
    echo "demo-cluster.sh: $who failed: $(tail -n 3 "$dir/$who.err")" >&2
    status=1
  fi
done
wait "$pid_t2" || {
  echo "demo-cluster.sh: c2's throttled writer failed: $(tail -n 3 "$dir/c2-throttle.err")" >&2
  status=1
}

# Every message at least once: the union of the two files against what was sent.
got1=$(wc -l <"$dir/c1.txt" 2>/dev/null || echo 0)
got2=$(wc -l <"$dir/c2.txt" 2>/dev/null || echo 0)
distinct=$(cat "$dir/c1.txt" "$dir/c2.txt" 2>/dev/null | sort -u | wc -l)
missing=$(( 2 * n - distinct ))
echo
echo "== sent $((2 * n)) ($n per producer); c1 wrote $got1 lines, c2 $got2 ($(( (100 * got2) / (got1 + got2 > 0 ? got1 + got2 : 1) ))% of them)"
echo "== peak RSS (MiB, last seen VmHWM): p1 ${peak_seen[p1]:--}, p2 ${peak_seen[p2]:--}, c1 ${peak_seen[c1]:--}, c2 ${peak_seen[c2]:--}"
for who in c1 c2; do grep -h '^nats-sub:' "$dir/$who.err" | sed "s/^/== $who: /" || true; done
if ((missing != 0)); then
  echo "demo-cluster.sh: $missing of $((2 * n)) messages reached no consumer" >&2
  status=1
else
  echo "== every message reached a consumer; $((got1 + got2 - distinct)) twice (delivered again after an acknowledgement was lost)"
fi
exit $status
