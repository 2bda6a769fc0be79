#!/usr/bin/env bash
# The objmode benchmark, sluice against Node.js, in one run (docs/benchmarks.md):
#
#   source (0 .. N-1) -> K object-mode transforms (x + 1) -> summing sink, K = 3
#
# Builds sluice-bench (Release, build/gcc), runs bench/node/objmode.js and `sluice-bench objmode`
# with the streams built both ways (typed: make_transform(loop, options, lambda); spec: the
# options struct of std::function hooks) on the manual loop, and the typed form on the asio
# loop, and prints items/s, ns per item per stage and the ratio sluice / Node of items/s. Takes
# well under a minute on 2 cores.
#
# The item counts differ because Node is slower; both rates are flat in N (the per-item work does
# not depend on how many items came before), so the ratio does not depend on the choice.
#
# Environment knobs:
#   SLUICE_ITEMS=N   items through sluice (default 5000000)
#   NODE_ITEMS=N     items through Node (default 2000000)
#   STAGES=K         transforms (default 3)
#   REPEAT=R         timed runs of each, best and median reported (default 5)
#   WARMUP=W         untimed warm-up runs first (default 1)
#   HWM=H            highWaterMark of every stream, both sides (default: each library's, 16)
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

sluice_items="${SLUICE_ITEMS:-5000000}"
node_items="${NODE_ITEMS:-2000000}"
stages="${STAGES:-3}"
repeat="${REPEAT:-5}"
warmup="${WARMUP:-1}"
hwm_args=()
if [[ -n "${HWM:-}" ]]; then hwm_args=(--hwm "$HWM"); fi

command -v node >/dev/null 2>&1 || {
  echo "bench-objmode.sh: 'node' is not on PATH (Node.js 20 is needed for the comparison)" >&2
  exit 1
}

echo "==> building sluice-bench (Release, build/gcc)"
CXX=g++ cmake -S "$root" -B build/gcc -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
if ! cmake --build build/gcc -j2 --target sluice-bench; then
  echo "bench-objmode.sh: building sluice-bench failed (it needs Google Benchmark:" \
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

echo
echo "==> Node.js $(node --version): $node_items items, $stages stages"
node bench/node/objmode.js --items "$node_items" --stages "$stages" --repeat "$repeat" \
  --warmup "$warmup" "${hwm_args[@]}" | tee "$out/node"

for run in typed:manual spec:manual typed:asio; do
  api="${run%%:*}"
  loop="${run##*:}"
  echo
  echo "==> sluice ($api api, $loop loop): $sluice_items items, $stages stages"
  "$bench" objmode --items "$sluice_items" --stages "$stages" --repeat "$repeat" \
    --warmup "$warmup" --api "$api" --loop "$loop" "${hwm_args[@]}" |
    tee "$out/sluice-$api-$loop"
done

# field <file> <key>: the value of key=value on the file's RESULT line.
field() {
  awk -v key="$2" '$1 == "RESULT" {
    for (i = 3; i <= NF; i++) { split($i, kv, "="); if (kv[1] == key) print kv[2] }
  }' "$1"
}

node_rate="$(field "$out/node" items_per_s)"
node_median="$(field "$out/node" median_items_per_s)"

echo
echo "==> objmode, K=$stages: best of $repeat runs (median in parentheses)"
printf '%-18s %10s %28s %26s %18s\n' "" items "items/s" "ns/item/stage" "sluice/node"
row() {
  local name="$1" file="$2" items="$3"
  local rate median ns ns_median
  rate="$(field "$file" items_per_s)"
  median="$(field "$file" median_items_per_s)"
  ns="$(field "$file" ns_per_item_stage)"
  ns_median="$(field "$file" median_ns_per_item_stage)"
  awk -v name="$name" -v items="$items" -v r="$rate" -v m="$median" -v ns="$ns" \
    -v nsm="$ns_median" -v nr="$node_rate" -v nm="$node_median" 'BEGIN {
      printf "%-18s %10d %13.0f (%12.0f) %11.2f (%11.2f) %7.2fx (%6.2fx)\n",
             name, items, r, m, ns, nsm, r / nr, m / nm
    }'
}
row "node $(node --version)" "$out/node" "$node_items"
row "sluice typed" "$out/sluice-typed-manual" "$sluice_items"
row "sluice spec" "$out/sluice-spec-manual" "$sluice_items"
row "sluice typed asio" "$out/sluice-typed-asio" "$sluice_items"

echo
if [[ "$stages" != 3 ]]; then
  echo "(the targets are defined for K=3; this run used K=$stages)"
  exit 0
fi
echo "targets (K=3, typed, manual loop, best run): >= 20x Node's items/s and <= 5 ns per item" \
  "per stage"
awk -v r="$(field "$out/sluice-typed-manual" items_per_s)" -v nr="$node_rate" \
  -v ns="$(field "$out/sluice-typed-manual" ns_per_item_stage)" 'BEGIN {
    printf "  ratio %.2fx: %s\n", r / nr, (r / nr >= 20 ? "met" : "NOT met")
    printf "  %.2f ns/item/stage: %s\n", ns, (ns <= 5 ? "met" : "NOT met")
  }'
