#!/usr/bin/env bash
# `sluice serve` against nginx (one worker, sendfile on, access_log off) and Node's http server,
# on 127.0.0.1, every server started afresh for every run, the contenders' order rotated round by
# round (paired runs). Prints every run, the median and spread (min-max) per contender and the
# ratios sluice/baseline.
#
#   scripts/bench-http.sh small|download|idle|slow|all
#
#   small     a 13-byte file, keep-alive: `wrk -t1 -c50 -d$DURATION` (10s), after a 1 s warm-up;
#             req/s (and wrk's non-2xx and socket errors, which must be 0). Node:
#             bench/node/http-hello.js (http.createServer answering the same 13 bytes, held in
#             memory). Also the server's peak RSS (VmHWM).
#   download  a SIZE (1G) file with `curl -s -o /dev/null -w '%{speed_download}'`: MB/s (10^6
#             bytes/s) and the server's peak RSS (VmHWM). Node: bench/node/http-file.js
#             (pipeline(fs.createReadStream(f), res)).
#   idle      IDLE_CONNS (10000) keep-alive connections, each sends one GET for the 13-byte file,
#             reads the response and stays open, idle (scripts/bench-net.py idle, asyncio, 256
#             connects at a time). The server's VmRSS before (after one warm-up request) and
#             after, the connections the server still holds (ss), and (after - before) / held.
#             Node: http-hello.js, keep-alive timeout 300 s; nginx: keepalive_timeout 300s.
#   slow      SLOW_CLIENTS (200) `curl --limit-rate $SLOW_RATE (1M)` clients each downloading a
#             SLOW_SIZE (16M) file, for DURATION (20s), then killed: the server's peak RSS
#             (VmHWM) and its RSS at the end, the connections open halfway. Node:
#             http-file.js (pipeline) and http-file.js --naive (res.write() ignoring its return
#             value). At 1 MiB/s a client reads about DURATION MiB, so with the default 16 MiB
#             file most clients finish near 16 s; a server that ignores backpressure reads each
#             file into memory at once, up to SLOW_CLIENTS x SLOW_SIZE (3.2 GiB): that, and
#             not the 100 MiB file of the plan, is why the file is small. The naive server is
#             skipped when MemAvailable is below twice that.
#
# Servers' RSS: the sum over the server's processes (nginx: master and worker), from
# /proc/PID/status. Before the timed runs of small and download each server's answer is
# compared with the file (curl | cmp), so a server that sends the wrong bytes fails the run.
#
# Environment knobs:
#   SLUICE=build/gcc/tools/sluice/sluice   the sluice command line; its side is
#                                          `$SLUICE serve DIR --port P --host 127.0.0.1 --quiet`
#                                          (no request log, as nginx runs with access_log off)
#                                          (idle: with --keep-alive 300, as the others)
#   ROUNDS=5  DURATION=10s (small) / 20s (slow)  SIZE=1G  IDLE_CONNS=10000
#   SLOW_CLIENTS=200  SLOW_RATE=1M  SLOW_SIZE=16M  WORK=/var/tmp
#   SLUICE_HELLO=build/gcc/example-16-http-hello   the `sluice-lib` contender of small and idle:
#                                          the library's http server answering the 13 bytes
#                                          from memory, as http-hello.js does (examples/16-http-hello.cpp)
#   CONTENDERS="nginx node sluice sluice-lib" (small, idle; sluice-lib only when SLUICE_HELLO is
#             built), "nginx node sluice" (download), "nginx node node-naive sluice" (slow)
# If the sluice binary has no serve command, the script says "sluice side: not available" and
# measures the baselines alone.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
mode="${1:-}"
case "$mode" in small | download | idle | slow) ;;
all) for m in small download idle slow; do "$0" "$m" || exit; done; exit 0 ;;
*) sed -n '2,45p' "$0" >&2; exit 2 ;;
esac
SLUICE="${SLUICE:-build/gcc/tools/sluice/sluice}"
read -ra sluice <<<"$SLUICE"
rounds="${ROUNDS:-5}"
size="${SIZE:-1G}"
if [[ "$mode" == slow ]]; then duration="${DURATION:-20s}"; else duration="${DURATION:-10s}"; fi
duration="${duration%s}"
idle_conns="${IDLE_CONNS:-10000}"
slow_clients="${SLOW_CLIENTS:-200}"
slow_rate="${SLOW_RATE:-1M}"
slow_size="${SLOW_SIZE:-16M}"
if [[ "$mode" == slow ]]; then
  read -ra contenders <<<"${CONTENDERS:-nginx node node-naive sluice}"
elif [[ ( "$mode" == small || "$mode" == idle ) && -x "${SLUICE_HELLO:-build/gcc/example-16-http-hello}" ]]; then
  read -ra contenders <<<"${CONTENDERS:-nginx node sluice sluice-lib}"
else
  read -ra contenders <<<"${CONTENDERS:-nginx node sluice}"
fi
sluice_hello="${SLUICE_HELLO:-build/gcc/example-16-http-hello}"
for tool in nginx node curl wrk python3 ss; do
  command -v "$tool" >/dev/null || { echo "bench-http.sh: needs $tool (scripts/setup.sh)" >&2; exit 1; }
done

work="$(mktemp -d "${WORK:-/var/tmp}/sluice-bench-http-XXXXXX")"
chmod 755 "$work" # nginx's worker runs as nobody
www="$work/www"
mkdir -p "$www" "$work/nginx"
pids=()
server_pids=()
cleanup() {
  local p
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

sluice_note=""
if ! [[ -x "${sluice[0]}" ]] && ! command -v "${sluice[0]}" >/dev/null; then
  sluice_note="no binary at '${sluice[0]}' (set SLUICE)"
elif ! "${sluice[@]}" serve --help 2>&1 | grep -q 'Usage:.* serve'; then
  sluice_note="'$SLUICE serve --help' does not describe a serve command"
fi
if [[ -n "$sluice_note" ]]; then
  mapfile -t contenders < <(printf '%s\n' "${contenders[@]}" | grep -vx sluice || true)
fi

echo "== bench-http.sh $mode: $rounds rounds; $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)," \
  "$(date -u '+%F %H:%M UTC')"
if [[ -n "$sluice_note" ]]; then echo "sluice side: not available ($sluice_note)"; else echo "sluice side: $SLUICE serve"; fi
echo "nginx $(nginx -v 2>&1 | sed 's|.*/||'), node $(node --version), $(wrk --version 2>&1 | head -1 | cut -d' ' -f1-2)," \
  "$(curl --version | head -1 | cut -d' ' -f1-2)"

printf 'Hello, world\n' >"$www/hello.txt" # 13 bytes
head -c 1M /dev/urandom >"$www/check.bin"
case "$mode" in
download) head -c "$(numfmt --from=iec "$size")" /dev/urandom >"$www/big.bin" ;;
slow) head -c "$(numfmt --from=iec "$slow_size")" /dev/urandom >"$www/slow.bin" ;;
esac
chmod -R a+rX "$www"

port=""
wait_listen() {
  local i
  for ((i = 0; i < 1000; i++)); do
    [[ -n "$(ss -Hltn "sport = :$port")" ]] && return 0
    kill -0 "${server_pids[0]}" 2>/dev/null || { echo "bench-http.sh: the server exited" >&2; return 1; }
    sleep 0.01
  done
  echo "bench-http.sh: nothing listens on port $port after 10 s" >&2
  return 1
}

nginx_conf() {
  cat <<EOF
worker_processes 1;
daemon off;
pid $work/nginx/nginx.pid;
error_log $work/nginx/error.log warn;
worker_rlimit_nofile 20000;
events { worker_connections 20000; }
http {
  access_log off;
  sendfile on;
  tcp_nopush on;
  keepalive_timeout 300s;
  keepalive_requests 1000000000;
  default_type application/octet-stream;
  server {
    listen 127.0.0.1:$port backlog=4096;
    root $www;
  }
}
EOF
}

# start_server NAME: a fresh server on a fresh port; sets port and server_pids
start_server() {
  port="$(python3 scripts/bench-net.py port)"
  case "$1" in
  nginx)
    nginx_conf >"$work/nginx/nginx.conf"
    nginx -p "$work/nginx" -c "$work/nginx/nginx.conf" -e "$work/nginx/error.log" &
    ;;
  node)
    if [[ "$mode" == small || "$mode" == idle ]]; then
      node bench/node/http-hello.js "$www/hello.txt" "$port" &
    else
      node bench/node/http-file.js "$www" "$port" &
    fi
    ;;
  node-naive) node bench/node/http-file.js "$www" "$port" --naive & ;;
  sluice-lib) "$sluice_hello" "$www/hello.txt" "$port" 127.0.0.1 & ;;
  sluice)
    if [[ "$mode" == idle ]]; then # as nginx's and Node's: idle connections stay 300 s
      "${sluice[@]}" serve "$www" --port "$port" --host 127.0.0.1 --quiet --keep-alive 300 &
    else
      "${sluice[@]}" serve "$www" --port "$port" --host 127.0.0.1 --quiet &
    fi
    ;;
  esac
  server_pids=($!)
  pids+=("$!")
  wait_listen
  if [[ "$1" == nginx ]]; then mapfile -t -O 1 server_pids < <(pgrep -P "${server_pids[0]}"); fi
}

stop_server() {
  kill "${server_pids[0]}" 2>/dev/null || true
  wait "${server_pids[0]}" 2>/dev/null || true
}

# server_kib FIELD: FIELD (VmRSS, VmHWM) summed over the server's processes, in KiB
server_kib() {
  local p sum=0 v
  for p in "${server_pids[@]}"; do
    v="$(awk -v k="$1:" '$1 == k { print $2 }' "/proc/$p/status" 2>/dev/null || true)"
    sum=$((sum + ${v:-0}))
  done
  echo "$sum"
}
mib() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }

status=0
check_servers() { # every contender serves FILE byte for byte
  local c
  echo "-- check: every server's GET /$1 compared with the file"
  for c in "${contenders[@]}"; do
    start_server "$c"
    if curl -sf "http://127.0.0.1:$port/$1" | cmp -s - "$www/$1"; then
      echo "   $c: ok"
    else
      echo "   $c: FAILED"
      status=1
    fi
    stop_server
  done
}

raw="$work/raw.tsv"
: >"$raw"

run_small() {
  local c="$1" r="$2" out req non2xx errors
  wrk -t1 -c50 -d1s "http://127.0.0.1:$port/hello.txt" >/dev/null
  # In the background and waited for, so that a signal to the script stops it at once.
  wrk -t1 -c50 "-d${duration}s" "http://127.0.0.1:$port/hello.txt" >"$work/wrk.out" &
  pids+=("$!")
  wait "$!"
  out="$(cat "$work/wrk.out")"
  req="$(awk '/^Requests\/sec:/ { print $2 }' <<<"$out")"
  non2xx="$(awk '/Non-2xx or 3xx responses:/ { print $NF }' <<<"$out")"
  errors="$(awk '/Socket errors:/ { s = 0; for (i = 4; i <= NF; i += 2) s += $i; print s }' <<<"$out" | tr -d ,)"
  printf '%s\t%s\treq_s=%s non2xx=%s errors=%s rss_mib=%s\n' "$r" "$c" "$req" "${non2xx:-0}" \
    "${errors:-0}" "$(mib "$(server_kib VmHWM)")" >>"$raw"
}

run_download() {
  local c="$1" r="$2" out speed got code
  out="$(curl -s -o /dev/null -w '%{speed_download} %{size_download} %{http_code}' \
    "http://127.0.0.1:$port/big.bin")"
  read -r speed got code <<<"$out"
  if [[ "$code" != 200 || "$got" != "$(stat -c %s "$www/big.bin")" ]]; then
    echo "   round $r $c: HTTP $code, $got bytes: FAILED"
    status=1
    return
  fi
  printf '%s\t%s\tmbps=%s rss_mib=%s\n' "$r" "$c" "$(awk -v s="$speed" 'BEGIN { print s / 1e6 }')" \
    "$(mib "$(server_kib VmHWM)")" >>"$raw"
}

run_idle() {
  local c="$1" r="$2" before after held client ready i
  curl -sf -o /dev/null "http://127.0.0.1:$port/hello.txt"
  sleep 0.5
  before="$(server_kib VmRSS)"
  python3 scripts/bench-net.py idle 127.0.0.1 "$port" /hello.txt "$idle_conns" >"$work/idle.out" &
  client=$!
  pids+=("$client")
  for ((i = 0; i < 1200; i++)); do
    ready="$(grep '^ready' "$work/idle.out" || true)"
    [[ -z "$ready" ]] || break
    kill -0 "$client" 2>/dev/null || break
    sleep 0.1
  done
  sleep 1
  held="$(ss -Htn state established "( sport = :$port )" | wc -l)"
  after="$(server_kib VmRSS)"
  kill "$client" 2>/dev/null || true
  wait "$client" 2>/dev/null || true
  read -r _ opened failed <<<"${ready:-ready 0 $idle_conns}"
  if ((failed > 0)); then echo "   round $r $c: $failed of $idle_conns connections failed"; status=1; fi
  printf '%s\t%s\topened=%s held=%s before_mib=%s after_mib=%s per_conn_kib=%s\n' "$r" "$c" \
    "$opened" "$held" "$(mib "$before")" "$(mib "$after")" \
    "$(awk -v a="$after" -v b="$before" -v n="$held" 'BEGIN { printf "%.2f", n ? (a - b) / n : 0 }')" \
    >>"$raw"
}

run_slow() {
  local c="$1" r="$2" i k curls=() half=0 peak
  for ((i = 0; i < slow_clients; i++)); do
    curl -s -o /dev/null --limit-rate "$slow_rate" "http://127.0.0.1:$port/slow.bin" &
    curls+=("$!")
    pids+=("$!")
  done
  for ((k = 1; k <= duration * 2; k++)); do
    sleep 0.5
    if ((k == duration)); then half="$(ss -Htn state established "( sport = :$port )" | wc -l)"; fi
  done
  peak="$(server_kib VmHWM)"
  local end_rss
  end_rss="$(server_kib VmRSS)"
  kill "${curls[@]}" 2>/dev/null || true
  wait "${curls[@]}" 2>/dev/null || true
  printf '%s\t%s\tpeak_mib=%s end_mib=%s open_half=%s\n' "$r" "$c" "$(mib "$peak")" \
    "$(mib "$end_rss")" "$half" >>"$raw"
}

case "$mode" in
small)
  echo "-- wrk -t1 -c50 -d${duration}s http://127.0.0.1:PORT/hello.txt (13 bytes), after wrk -d1s"
  check_servers hello.txt
  ;;
download)
  echo "-- curl -s -o /dev/null -w '%{speed_download}' http://127.0.0.1:PORT/big.bin ($size)"
  check_servers check.bin
  ;;
idle)
  want=$((idle_conns + 200))
  if (($(ulimit -Hn) < want)); then
    echo "bench-http.sh idle: the hard limit on open files is $(ulimit -Hn), under $want: IDLE_CONNS=$idle_conns does not fit" >&2
    exit 1
  fi
  ulimit -n "$(ulimit -Hn)"
  echo "-- $idle_conns idle keep-alive connections (one GET /hello.txt each), ulimit -n $(ulimit -n)"
  ;;
slow)
  need=$(($(numfmt --from=iec "$slow_size") * slow_clients * 2 / 1024))
  avail="$(awk '$1 == "MemAvailable:" { print $2 }' /proc/meminfo)"
  if ((avail < need)) && printf '%s\n' "${contenders[@]}" | grep -qx node-naive; then
    echo "-- node-naive skipped: MemAvailable $((avail / 1024)) MiB < 2 x $slow_clients x $slow_size"
    mapfile -t contenders < <(printf '%s\n' "${contenders[@]}" | grep -vx node-naive)
  fi
  echo "-- $slow_clients x curl --limit-rate $slow_rate of a $slow_size file for ${duration} s, then killed"
  ;;
esac

for ((r = 1; r <= rounds; r++)); do
  n=${#contenders[@]}
  for ((i = 0; i < n; i++)); do
    c="${contenders[$(((i + r - 1) % n))]}"
    start_server "$c"
    "run_$mode" "$c" "$r"
    stop_server
  done
done

case "$mode" in
small)
  python3 scripts/bench-net.py table "$raw" --ratio req_s \
    --cols 'req_s:req/s:.0f,non2xx:non-2xx:.0f,errors:sock errors:.0f,rss_mib:server RSS MiB:.1f' \
    --title "small: 13-byte file, keep-alive, wrk -t1 -c50 -d${duration}s; server peak RSS (VmHWM)"
  ;;
download)
  python3 scripts/bench-net.py table "$raw" --ratio mbps \
    --cols 'mbps:MB/s:.0f,rss_mib:server RSS MiB:.1f' \
    --title "download: $size with curl (MB/s = 10^6 bytes/s); server peak RSS (VmHWM)"
  ;;
idle)
  python3 scripts/bench-net.py table "$raw" --ratio per_conn_kib --lower-is-better \
    --cols 'opened:opened:.0f,held:held:.0f,before_mib:RSS before MiB:.1f,after_mib:RSS after MiB:.1f,per_conn_kib:KiB/conn:.2f' \
    --title "idle: $idle_conns keep-alive connections; server VmRSS before and after"
  ;;
slow)
  python3 scripts/bench-net.py table "$raw" --ratio peak_mib --lower-is-better \
    --cols 'peak_mib:peak RSS MiB:.1f,end_mib:RSS at end MiB:.1f,open_half:open halfway:.0f' \
    --title "slow: $slow_clients clients at $slow_rate/s, $slow_size file, ${duration} s; server VmHWM"
  ;;
esac
exit "$status"
