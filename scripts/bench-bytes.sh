#!/usr/bin/env bash
# The bytes benchmark, sluice against Node.js, in one run (docs/benchmarks.md):
#
#   source (one pre-allocated 64 KiB buffer, pushed again and again) -> 3 passthroughs
#     -> byte-counting sink
#
# Builds sluice-bench (Release, build/gcc), runs bench/node/bytes.js and `sluice-bench bytes` on
# both loops (manual and asio), and prints GB/s (1e9 bytes/s), ns per chunk and the ratio
# sluice / Node. Takes well under a minute on 2 cores.
#
# No byte is copied or read on the way (both libraries pass the same buffer by reference), so
# GB/s here is chunk size / per-chunk cost of the stream machinery, not a memory bandwidth.
# The default size is 64 GiB = 1048576 chunks: at 1 GiB (16384 chunks) a sluice run takes about
# 2 ms and Node's JIT has not warmed up, so the numbers are noise. The rate does not depend on
# the size otherwise.
#
# Environment knobs:
#   SIZE=64G      bytes through each run (K/M/G/T suffixes are binary)
#   CHUNK=64K     chunk size
#   STAGES=3      passthroughs
#   REPEAT=5      timed runs, best and median reported
#   WARMUP=1      untimed warm-up runs first
#   HWM=64K       highWaterMark of every stream (sluice's default for byte streams; Node 20's
#                 default is 16K, so bytes.js sets it explicitly)
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

size="${SIZE:-64G}"
chunk="${CHUNK:-64K}"
stages="${STAGES:-3}"
repeat="${REPEAT:-5}"
warmup="${WARMUP:-1}"
hwm="${HWM:-64K}"

command -v node >/dev/null 2>&1 || {
  echo "bench-bytes.sh: 'node' is not on PATH (Node.js 20 is needed for the comparison)" >&2
  exit 1
}

echo "==> building sluice-bench (Release, build/gcc)"
CXX=g++ cmake -S "$root" -B build/gcc -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
if ! cmake --build build/gcc -j2 --target sluice-bench; then
  echo "bench-bytes.sh: building sluice-bench failed (it needs Google Benchmark:" \
    "libbenchmark-dev, and CLI11: libcli11-dev; scripts/setup.sh installs both)" >&2
  exit 1
fi
bench=build/gcc/sluice-bench

# How busy the machine is (percent of all cores, over one second): the numbers below are only
# meaningful on an otherwise idle machine, so say so when it is not.
check_idle() {
  local a b
  read -r -a a < /proc/stat || return 0
  sleep 1
  read -r -a b < /proc/stat || return 0
  awk -v a="${a[*]}" -v b="${b[*]}" -v cores="$(nproc)" 'BEGIN {
    n = split(a, x, " "); split(b, y, " ")
    total = 0; for (i = 2; i <= 9 && i <= n; i++) total += y[i] - x[i]  # guest time is in user
    idle = (y[5] - x[5]) + (y[6] - x[6])
    busy = total > 0 ? 100 * (total - idle) / total : 0
    printf "machine load before the runs: %.0f%% of %d cores busy\n", busy, cores
    if (busy > 10) print "WARNING: the machine is busy; the numbers below will be low and noisy" > "/dev/stderr"
  }'
}

echo
check_idle

out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT

common=(--size "$size" --chunk "$chunk" --stages "$stages" --repeat "$repeat" --warmup "$warmup"
  --hwm "$hwm")

echo
echo "==> Node.js $(node --version)"
node bench/node/bytes.js "${common[@]}" | tee "$out/node"

for loop in manual asio; do
  echo
  echo "==> sluice ($loop loop)"
  "$bench" bytes "${common[@]}" --loop "$loop" | tee "$out/sluice-$loop"
done

# field <file> <key>: the value of key=value on the file's RESULT line.
field() {
  awk -v key="$2" '$1 == "RESULT" {
    for (i = 3; i <= NF; i++) { split($i, kv, "="); if (kv[1] == key) print kv[2] }
  }' "$1"
}

node_rate="$(field "$out/node" gb_per_s)"
node_median="$(field "$out/node" median_gb_per_s)"

echo
echo "==> bytes: $size in $chunk chunks, $stages passthroughs, hwm $hwm:" \
  "best of $repeat runs (median in parentheses)"
printf '%-16s %22s %12s %18s\n' "" "GB/s" "ns/chunk" "sluice/node"
row() {
  local name="$1" file="$2"
  awk -v name="$name" -v r="$(field "$file" gb_per_s)" -v m="$(field "$file" median_gb_per_s)" \
    -v ns="$(field "$file" ns_per_chunk)" -v nr="$node_rate" -v nm="$node_median" 'BEGIN {
      printf "%-16s %9.2f (%9.2f) %12.1f %7.2fx (%6.2fx)\n", name, r, m, ns, r / nr, m / nm
    }'
}
row "node $(node --version)" "$out/node"
row "sluice manual" "$out/sluice-manual"
row "sluice asio" "$out/sluice-asio"

echo
echo "target: >= 10 GB/s through 3 passthroughs (64 KiB chunks)"
for loop in manual asio; do
  awk -v loop="$loop" -v r="$(field "$out/sluice-$loop" gb_per_s)" \
    -v m="$(field "$out/sluice-$loop" median_gb_per_s)" 'BEGIN {
      printf "  %s loop: best %.2f GB/s, median %.2f GB/s: %s\n", loop, r, m,
             (m >= 10 ? "met" : "NOT met")
    }'
done
