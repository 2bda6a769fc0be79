#!/usr/bin/env bash
# Sending a file over TCP: `sluice run 'read FILE | tcp-connect HOST:PORT'` against the same
# transfer by `nc -N HOST PORT < FILE` (netcat-openbsd) and by Node's
# pipeline(fs.createReadStream(FILE), net.connect(PORT, HOST)) (bench/node/tcp-send.js).
# The receiver is the same for every contender, `nc -d -l HOST PORT > /dev/null`, so only the
# sender differs. The file (SIZE bytes of /dev/urandom, made once per invocation in a temporary
# directory) is in the page cache.
#
#   scripts/bench-tcp.sh [loopback|stopped|veth]
#
#   loopback  (default) 127.0.0.1. Per run: MB/s (10^6 bytes/s, from the sender's start until the
#             receiver has read the last byte and exited) and the sender's peak RSS
#             (/usr/bin/time -v, "Maximum resident set size").
#   stopped   127.0.0.1; once a quarter of the file has reached the receiver, the receiver is
#             SIGSTOPped for STOP_SECS (10) seconds, then continued. The sender's VmRSS is sampled
#             every 0.5 s from /proc/PID/status: the value just before the stop, the highest value
#             while stopped and over the whole run, and whether the sender stayed flat (highest
#             while stopped - before <= FLAT_KIB, 1024 KiB). A sender that honours backpressure
#             blocks once the socket buffers are full; one that does not reads on into memory.
#             (The 1 MiB threshold is meant for the default SIZE: with a small file the stop
#             comes a few tens of milliseconds in, while Node is still growing its heap, and a
#             few MiB of growth show up that are not buffered data.)
#   veth      as loopback, but across two network namespaces joined by a veth pair
#             (scripts/netns.sh; needs root, else exits 77): sender in PREFIX-a (10.77.0.1),
#             receiver in PREFIX-b (10.77.0.2). RATE=100mbit adds a token bucket on both ends
#             (then SIZE defaults to 32M). The namespaces are removed at the end.
#
# Every run order is rotated round by round (paired runs); the table gives every run, the median
# and spread (min-max) per contender, and the ratios sluice/baseline. Before the timed runs every
# contender sends a 16 MiB file once to `nc -l | cmp`, so a sender that loses or corrupts data
# fails the benchmark instead of winning it.
#
# Environment knobs:
#   SLUICE=build/gcc/tools/sluice/sluice  the sluice command line (may hold words: 'taskset -c 1 …')
#   SIZE=1G  ROUNDS=5  STOP_SECS=10  FLAT_KIB=1024  RATE=  WORK=/var/tmp
#   PORT=   (default: a free port, found by binding port 0)
#   RECEIVER=nc  (or sluice: `sluice run 'tcp-listen HOST:PORT | write /dev/null'` receives;
#                or same: each contender's own kind receives, sluice for sluice and nc for the
#                others, so the sluice row is a whole `run` pipeline split in two. The receiver's
#                peak RSS is reported too, as "receiver RSS MiB")
#   CONTENDERS="nc node sluice"   (stopped: "nc node node-naive sluice"; node-naive is
#                                 tcp-send.js --naive, which ignores write()'s return value: the
#                                 control that shows what growth looks like)
# If the sluice binary has no tcp-connect stage, the script says "sluice side: not available"
# and measures the baselines alone.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
mode="${1:-loopback}"
case "$mode" in loopback | stopped | veth) ;; *) sed -n '2,40p' "$0" >&2; exit 2 ;; esac
SLUICE="${SLUICE:-build/gcc/tools/sluice/sluice}"
read -ra sluice <<<"$SLUICE"
if [[ "$mode" == veth && -n "${RATE:-}" ]]; then size="${SIZE:-32M}"; else size="${SIZE:-1G}"; fi
bytes="$(numfmt --from=iec "$size")"
rounds="${ROUNDS:-5}"
stop_secs="${STOP_SECS:-10}"
flat_kib="${FLAT_KIB:-1024}"
if [[ "$mode" == stopped ]]; then default="nc node node-naive sluice"; else default="nc node sluice"; fi
read -ra contenders <<<"${CONTENDERS:-$default}"
for tool in nc node python3 ss /usr/bin/time; do
  command -v "$tool" >/dev/null || { echo "bench-tcp.sh: needs $tool (scripts/setup.sh)" >&2; exit 1; }
done

work="$(mktemp -d "${WORK:-/var/tmp}/sluice-bench-tcp-XXXXXX")"
pids=()
netns=""
cleanup() {
  local p
  for p in "${pids[@]}"; do
    kill -CONT "$p" 2>/dev/null || true
    kill "$p" 2>/dev/null || true
  done
  wait 2>/dev/null || true
  if [[ -n "$netns" ]]; then scripts/netns.sh down "$netns" || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Where the sender and the receiver run, and the address the receiver listens on.
ns_a=() ns_b=() host=127.0.0.1
if [[ "$mode" == veth ]]; then
  rc=0
  netns="$(scripts/netns.sh up "sluice-bench-$$")" || rc=$?
  if ((rc != 0)); then netns=""; echo "bench-tcp.sh: veth mode: scripts/netns.sh up failed ($rc)" >&2; exit "$rc"; fi
  ns_a=(ip netns exec "$netns-a") ns_b=(ip netns exec "$netns-b") host=10.77.0.2
fi
port="${PORT:-$(python3 scripts/bench-net.py port)}"

# The sluice side: a `run` with a tcp-connect stage.
sluice_note=""
if ! [[ -x "${sluice[0]}" ]] && ! command -v "${sluice[0]}" >/dev/null; then
  sluice_note="no binary at '${sluice[0]}' (set SLUICE)"
elif ! "${sluice[@]}" run --help 2>/dev/null | grep -q 'tcp-connect'; then
  sluice_note="'$SLUICE run --help' lists no tcp-connect stage"
fi
if [[ -n "$sluice_note" ]]; then
  mapfile -t contenders < <(printf '%s\n' "${contenders[@]}" | grep -vx sluice || true)
fi

echo "== bench-tcp.sh $mode: $size ($bytes bytes) over TCP to $host:$port, $rounds rounds;" \
  "$(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg), $(date -u '+%F %H:%M UTC')"
[[ -z "$netns" ]] || echo "   namespaces $netns-a -> $netns-b (veth)${RATE:+, tbf rate $RATE}"
if [[ -n "$sluice_note" ]]; then echo "sluice side: not available ($sluice_note)"; else echo "sluice side: $SLUICE"; fi
echo "nc: netcat-openbsd $(dpkg-query -W -f='${Version}' netcat-openbsd 2>/dev/null || echo '?'), node $(node --version)"

file="$work/data.bin"
head -c "$bytes" /dev/urandom >"$file"
check="$work/check.bin"
head -c 16M /dev/urandom >"$check"

wait_listen() { # wait until something listens on $port (in the receiver's namespace)
  local i
  for ((i = 0; i < 500; i++)); do
    [[ -n "$("${ns_b[@]}" ss -Hltn "sport = :$port")" ]] && return 0
    sleep 0.01
  done
  echo "bench-tcp.sh: nothing listens on $host:$port after 5 s" >&2
  return 1
}

# receiver_kind CONTENDER: who receives for that sender (RECEIVER).
receiver_kind() {
  case "${RECEIVER:-nc}" in
  same) if [[ "$1" == sluice ]]; then echo sluice; else echo nc; fi ;;
  *) echo "${RECEIVER:-nc}" ;;
  esac
}

# start_receiver KIND [OUTPUT-FILTER]: sets recv_pid (the receiver's own pid: the stopped mode
# signals it). Without a filter, and not in the stopped mode, it runs under /usr/bin/time -v,
# which writes $work/recv-time.txt.
start_receiver() {
  local kind="$1" timer=()
  shift
  rm -f "$work/recv-time.txt"
  [[ "$mode" == stopped ]] || timer=(/usr/bin/time -v -o "$work/recv-time.txt")
  if [[ "$kind" == sluice ]]; then
    if [[ $# -eq 0 ]]; then
      "${ns_b[@]}" "${timer[@]}" "${sluice[@]}" run -q "tcp-listen $host:$port | write /dev/null" &
    else
      "${ns_b[@]}" sh -c '"$@" | cmp - "$0"' "$1" "${sluice[@]}" run -q "tcp-listen $host:$port" &
    fi
  elif [[ $# -eq 0 ]]; then
    "${ns_b[@]}" "${timer[@]}" nc -d -l "$host" "$port" >/dev/null &
  else
    "${ns_b[@]}" sh -c 'nc -d -l "$1" "$2" | cmp - "$3"' sh "$host" "$port" "$1" &
  fi
  recv_pid=$!
  pids+=("$recv_pid")
  wait_listen
}

# sender NAME FILE [time -v output]: the sender's command, exec'd in the sender's namespace
sender() {
  local name="$1" f="$2" timer=()
  [[ $# -lt 3 ]] || timer=(/usr/bin/time -v -o "$3")
  case "$name" in
  nc) exec "${ns_a[@]}" "${timer[@]}" nc -N "$host" "$port" <"$f" ;;
  node) exec "${ns_a[@]}" "${timer[@]}" node bench/node/tcp-send.js "$f" "$host:$port" ;;
  node-naive) exec "${ns_a[@]}" "${timer[@]}" node bench/node/tcp-send.js "$f" "$host:$port" --naive ;;
  sluice) exec "${ns_a[@]}" "${timer[@]}" "${sluice[@]}" run -q "read $f | tcp-connect $host:$port" ;;
  esac
}

status=0
echo "-- check: every sender sends 16 MiB to 'nc -l | cmp'"
for c in "${contenders[@]}"; do
  start_receiver "$(receiver_kind "$c")" "$check"
  rc=0
  (sender "$c" "$check") || rc=$?
  wait "$recv_pid" || rc=$((rc ? rc : 99))
  if ((rc != 0)); then echo "   $c: FAILED (status $rc)"; status=1; else echo "   $c: ok"; fi
done

raw="$work/raw.tsv"
: >"$raw"
now() { date +%s.%N; }
kib() { awk -v k="$2" '$1 == k":" { print $2 }' "/proc/$1/status" 2>/dev/null || true; }

for ((r = 1; r <= rounds; r++)); do
  n=${#contenders[@]}
  for ((i = 0; i < n; i++)); do
    c="${contenders[$(((i + r - 1) % n))]}"
    start_receiver "$(receiver_kind "$c")"
    if [[ "$mode" != stopped ]]; then
      t0="$(now)"
      rc=0
      (sender "$c" "$file" "$work/time.txt") || rc=$?
      wait "$recv_pid" || true
      t1="$(now)"
      if ((rc != 0)); then echo "   round $r $c: sender failed (status $rc)"; status=1; continue; fi
      rss="$(awk -F': ' '/Maximum resident set size/ { print $2 }' "$work/time.txt")"
      recv_rss="$(awk -F': ' '/Maximum resident set size/ { print $2 }' "$work/recv-time.txt" 2>/dev/null || true)"
      printf '%s\t%s\tmbps=%s secs=%s rss_mib=%s recv_rss_mib=%s\n' "$r" "$c" \
        "$(awk -v b="$bytes" -v t0="$t0" -v t1="$t1" 'BEGIN { print b / (t1 - t0) / 1e6 }')" \
        "$(awk -v t0="$t0" -v t1="$t1" 'BEGIN { print t1 - t0 }')" \
        "$(awk -v k="$rss" 'BEGIN { print k / 1024 }')" \
        "$(awk -v k="${recv_rss:-0}" 'BEGIN { print k / 1024 }')" >>"$raw"
      continue
    fi
    # stopped: sender in the background, receiver stopped once a quarter has arrived.
    t0="$(now)"
    sender "$c" "$file" &
    spid=$!
    pids+=("$spid")
    waited=0
    while kill -0 "$spid" 2>/dev/null; do
      got="$(awk '$1 == "wchar:" { print $2 }' "/proc/$recv_pid/io" 2>/dev/null || echo 0)"
      ((got * 4 < bytes)) || break
      sleep 0.01
      ((++waited < 1000)) || break
    done
    before="$(kib "$spid" VmRSS)"
    kill -STOP "$recv_pid"
    at_stop="$(awk '$1 == "wchar:" { print $2 }' "/proc/$recv_pid/io" 2>/dev/null || echo 0)"
    max_stop="$before"
    for ((k = 0; k < stop_secs * 2; k++)); do
      sleep 0.5
      v="$(kib "$spid" VmRSS)"
      [[ -z "$v" ]] || ((v <= max_stop)) || max_stop="$v"
    done
    kill -CONT "$recv_pid"
    max_all="$max_stop"
    while kill -0 "$spid" 2>/dev/null; do
      v="$(kib "$spid" VmRSS)"
      [[ -z "$v" ]] || ((v <= max_all)) || max_all="$v"
      sleep 0.5
    done
    rc=0
    wait "$spid" || rc=$?
    wait "$recv_pid" || true
    if ((rc != 0)); then echo "   round $r $c: sender failed (status $rc)"; status=1; continue; fi
    if [[ -z "$before" ]]; then echo "   round $r $c: sender ended before the stop"; status=1; continue; fi
    growth=$((max_stop - before))
    flat=yes
    ((growth <= flat_kib)) || flat=NO
    t1="$(now)"
    printf '%s\t%s\tat_stop=%s secs=%s before=%s max_stop=%s max_all=%s growth=%s flat=%s\n' "$r" "$c" \
      "$(awk -v b="$at_stop" 'BEGIN { print b / 1048576 }')" \
      "$(awk -v t0="$t0" -v t1="$t1" 'BEGIN { print t1 - t0 }')" \
      "$(awk -v k="$before" 'BEGIN { print k / 1024 }')" \
      "$(awk -v k="$max_stop" 'BEGIN { print k / 1024 }')" \
      "$(awk -v k="$max_all" 'BEGIN { print k / 1024 }')" \
      "$(awk -v k="$growth" 'BEGIN { print k / 1024 }')" "$flat" >>"$raw"
  done
done

if [[ "$mode" != stopped ]]; then
  python3 scripts/bench-net.py table "$raw" --ratio mbps \
    --cols 'mbps:MB/s:.0f,secs:seconds:.3f,rss_mib:sender RSS MiB:.1f,recv_rss_mib:receiver RSS MiB:.1f' \
    --title "$mode: sender throughput (MB/s = 10^6 bytes/s) and peak RSS"
else
  python3 scripts/bench-net.py table "$raw" --ratio max_stop --lower-is-better \
    --cols "at_stop:received at stop MiB:.0f,secs:seconds:.1f,before:RSS before MiB:.1f,max_stop:max stopped MiB:.1f,max_all:max run MiB:.1f,growth:growth MiB:.2f,flat:flat:s" \
    --title "stopped receiver: sender VmRSS, sampled every 0.5 s; receiver SIGSTOPped ${stop_secs} s; flat = growth <= ${flat_kib} KiB"
fi
exit "$status"
