#!/usr/bin/env bash
# The memory benchmark (docs/benchmarks.md): a producer writes N chunks into a slow writable
# (each write completes on a later tick), respecting write()'s return value or ignoring it.
# Prints the peak buffered length (the writable's counters().peak_writable_length) for growing
# N, in object mode (int64 items) and in byte mode (buffers): respecting write() keeps it at most
# hwm + 1 chunk whatever N is; ignoring it buffers all N. (In byte mode every chunk is the same
# shared buffer, so the buffered bytes are logical: the RSS grows only by the queue entries.)
# Builds sluice-bench (Release, build/gcc) first. Takes a few seconds.
#
# Environment knobs:
#   ITEMS="1000 10000 100000 1000000"   the Ns to try
#   HWM=16                               object mode: the writable's highWaterMark, in items
#   CHUNK=10K                            byte mode: chunk size (one shared buffer, never copied)
#   BYTE_HWM=64K                         byte mode: the writable's highWaterMark, in bytes
#   COMPLETE=defer                       defer (next tick) or timer (0 ms timer)
#   LOOP=manual                          manual or asio
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

items="${ITEMS:-1000 10000 100000 1000000}"
hwm="${HWM:-16}"
chunk="${CHUNK:-10K}"
byte_hwm="${BYTE_HWM:-64K}"
complete="${COMPLETE:-defer}"
loop="${LOOP:-manual}"

echo "==> building sluice-bench (Release, build/gcc)"
CXX=g++ cmake -S "$root" -B build/gcc -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
if ! cmake --build build/gcc -j2 --target sluice-bench; then
  echo "bench-memory.sh: building sluice-bench failed (it needs Google Benchmark:" \
    "libbenchmark-dev, and CLI11: libcli11-dev; scripts/setup.sh installs both)" >&2
  exit 1
fi
bench=build/gcc/sluice-bench

# field <RESULT line> <key>
field() {
  awk -v key="$2" '{ for (i = 3; i <= NF; i++) { split($i, kv, "="); if (kv[1] == key) print kv[2] } }' \
    <<<"$1"
}

# table <title> <hwm> <bound unit> <extra sluice-bench args...>
status=0
table() {
  local title="$1" hwm="$2"
  shift 2
  echo
  echo "==> memory, $title: completions: $complete, $loop loop"
  printf '%10s  %-10s %14s %12s %8s %12s %14s\n' chunks producer "peak length" "hwm + chunk" \
    within "write false" "max RSS (MiB)"
  for n in $items; do
    for mode in respects ignores; do
      local args=(memory --items "$n" --hwm "$hwm" --complete "$complete" --loop "$loop" "$@")
      if [[ "$mode" == ignores ]]; then args+=(--ignore-backpressure); fi
      local rc=0 line
      line="$("$bench" "${args[@]}" | grep '^RESULT ')" || rc=$?
      if ((rc != 0)); then status=1; fi
      printf '%10s  %-10s %14s %12s %8s %12s %14s\n' "$n" "$mode" \
        "$(field "$line" peak_writable_length)" "$(field "$line" bound)" \
        "$([[ "$(field "$line" within_bound)" == 1 ]] && echo yes || echo NO)" \
        "$(field "$line" backpressure_episodes)" \
        "$(awk -v k="$(field "$line" max_rss_kib)" 'BEGIN { printf "%.1f", k / 1024 }')"
    done
  done
}

table "object mode (int64 items, hwm $hwm items)" "$hwm"
table "byte mode ($chunk chunks, hwm $byte_hwm bytes)" "$byte_hwm" --chunk "$chunk"

echo
echo "target: a producer that respects write() buffers at most hwm + 1 chunk"
if ((status == 0)); then echo "  met in every run above"; else echo "  NOT met (see above)"; fi
exit "$status"
