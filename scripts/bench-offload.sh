#!/usr/bin/env bash
# The offload benchmarks (issue 17; docs/benchmarks.md, "Metrics and offload"), side by side in
# one run, ROUNDS rounds alternating:
#
#   sluice_1     `sluice-bench offload sha` on 1 thread: SHA-256 of each 64 KiB chunk of SIZE
#   sluice_2     the same on 2 threads (target: >= 1.8x sluice_1)
#   node_pool    bench/node/offload.js --mode pool: 2 worker_threads, 8 chunks in flight
#                (target: sluice_2 >= 2x)
#   node_naive   bench/node/offload.js --mode naive on NAIVE_SIZE: a new Worker per chunk, the
#                backpressure guide's example (target: sluice_2 >= 20x, as MB/s)
# and the per-item cost of offload over a plain transform (`sluice-bench offload overhead`,
# target <= 2 us).
#
#   scripts/bench-offload.sh
#
# Knobs: SIZE (1G), NAIVE_SIZE (16M: 256 Workers, about 12 s), ROUNDS (3), BENCH (a built
# sluice-bench; unset: built, Release, in build/gcc).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
size="${SIZE:-1G}"
naive_size="${NAIVE_SIZE:-16M}"
rounds="${ROUNDS:-3}"
if [[ -z "${BENCH:-}" ]]; then
  echo "==> building sluice-bench (Release, build/gcc)"
  CXX=g++ cmake -S "$root" -B build/gcc -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
  cmake --build build/gcc -j2 --target sluice-bench >/dev/null
fi
bench="${BENCH:-build/gcc/sluice-bench}"
results="$(mktemp)"
trap 'rm -f "$results"' EXIT
echo "== $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg), $(date -u '+%Y-%m-%d %H:%M UTC')," \
  "node $(node --version)"

mbps() { sed -n 's/^RESULT .* mb_per_s=\([0-9.]*\).*/\1/p'; }
run() {
  local name="$1" v
  case "$name" in
    sluice_1) v="$("$bench" offload sha --size "$size" --threads 1 --repeat 1 | mbps)" ;;
    sluice_2) v="$("$bench" offload sha --size "$size" --threads 2 --repeat 1 | mbps)" ;;
    sluice_2n) v="$("$bench" offload sha --size "$naive_size" --threads 2 --repeat 1 | mbps)" ;;
    node_pool) v="$(node bench/node/offload.js --mode pool --size "$size" | mbps)" ;;
    node_naive) v="$(node bench/node/offload.js --mode naive --size "$naive_size" | mbps)" ;;
  esac
  printf '  round %d  %-10s %8s MB/s\n' "$2" "$name" "$v"
  echo "$name $v" >>"$results"
}
for ((r = 1; r <= rounds; ++r)); do
  for name in sluice_1 sluice_2 node_pool sluice_2n node_naive; do run "$name" "$r"; done
done

med() {
  awk -v n="$1" '$1 == n {print $2}' "$results" | sort -n |
    awk '{a[NR] = $1} END {print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}'
}
echo
echo "-- medians (MB/s)"
for name in sluice_1 sluice_2 node_pool sluice_2n node_naive; do
  printf '  %-10s %8s\n' "$name" "$(med "$name")"
done
awk -v a="$(med sluice_2)" -v b="$(med sluice_1)" -v c="$(med node_pool)" \
  -v d="$(med sluice_2n)" -v e="$(med node_naive)" 'BEGIN {
  printf "  sluice 2 threads / 1 thread:            %.2fx (target >= 1.8x)\n", a / b
  printf "  sluice 2 threads / Node pool of 2:       %.2fx (target >= 2x)\n", a / c
  printf "  sluice 2 threads / Node Worker per chunk: %.2fx (target >= 20x; %s each)\n", d / e, "'"$naive_size"'"
}'
echo
echo "-- per-item cost of offload over a transform on the loop"
"$bench" offload overhead --items 1000000 --repeat 3
