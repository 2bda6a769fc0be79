#!/usr/bin/env bash
# The writers' benchmarks (issue 15; docs/benchmarks.md, "Writers and monitoring"), each beside
# its baseline in the same run:
#
#   overhead  batch_writer (1,000 items a batch, a flush that completes at once) against a plain
#             writable, paired runs: the cost ratio per item (`sluice-bench sinks overhead`).
#   memory    10 M items through a batch_writer whose flush completes 1 ms later on a real timer:
#             RSS at 10 %, 50 % and 100 % of the items (`sluice-bench sinks memory`).
#   monitor   the objmode pipeline (3 transforms) with every stream watched by a sluice::monitor
#             against the same pipeline unwatched, alternated run by run
#             (`sluice-bench objmode [--monitor]`).
#   tutorial  the tutorial's backpressure demo: its own manager in Node
#             (bench/node/backpressure-manager.js) with a producer that ignores write() and with
#             one that respects it, and sluice's monitor (examples/25-tutorial-backpressure-demo.cpp):
#             episodes, timeouts, most bytes held, peak RSS.
#
#   scripts/bench-writers.sh [overhead|memory|monitor|tutorial|all]
#
# Knobs: ITEMS (overhead, monitor: 5000000), MEMORY_ITEMS (10000000), REPEAT (5),
# SECONDS_TUTORIAL (3).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
what="${1:-all}"
items="${ITEMS:-5000000}"
memory_items="${MEMORY_ITEMS:-10000000}"
repeat="${REPEAT:-5}"
seconds="${SECONDS_TUTORIAL:-3}"

echo "==> building sluice-bench and example 25 (Release, build/gcc)"
CXX=g++ cmake -S "$root" -B build/gcc -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build/gcc -j2 --target sluice-bench example-25-tutorial-backpressure-demo >/dev/null
bench=build/gcc/sluice-bench
echo "== $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg), $(date -u '+%Y-%m-%d %H:%M UTC')"

if [[ "$what" == overhead || "$what" == all ]]; then
  echo
  "$bench" sinks overhead --items "$items" --batch 1000 --repeat "$repeat"
fi

if [[ "$what" == memory || "$what" == all ]]; then
  echo
  "$bench" sinks memory --items "$memory_items" --batch 1000 --flush-ms 1
fi

if [[ "$what" == monitor || "$what" == all ]]; then
  echo
  echo "== objmode, 3 stages, unwatched vs every stream monitored, alternated ($repeat pairs)"
  plain=()
  watched=()
  for ((i = 1; i <= repeat; i++)); do
    p="$("$bench" objmode --items "$items" --stages 3 --repeat 1 --warmup 1 |
      sed -n 's/^RESULT .* items_per_s=\([0-9]*\).*/\1/p')"
    m="$("$bench" objmode --items "$items" --stages 3 --repeat 1 --warmup 1 --monitor |
      sed -n 's/^RESULT .* items_per_s=\([0-9]*\).*/\1/p')"
    plain+=("$p")
    watched+=("$m")
    awk -v i="$i" -v p="$p" -v m="$m" \
      'BEGIN { printf "  pair %d: unwatched %.0f items/s, monitored %.0f items/s, ratio %.3f\n", i, p, m, m / p }'
  done
  paste <(printf '%s\n' "${plain[@]}") <(printf '%s\n' "${watched[@]}") |
    awk '{ printf "%.6f\n", $2 / $1 }' | sort -n |
    awk '{ r[NR] = $1 } END {
      n = NR; med = n % 2 ? r[(n + 1) / 2] : (r[n / 2] + r[n / 2 + 1]) / 2
      printf "  monitored / unwatched items/s: median %.3f (min %.3f, max %.3f); cost %.1f %%\n", med, r[1], r[n], 100 * (1 - med)
      printf "RESULT monitor_cost ratio=%.4f ratio_min=%.4f ratio_max=%.4f pairs=%d\n", med, r[1], r[n], n }'
fi

if [[ "$what" == tutorial || "$what" == all ]]; then
  echo
  echo "== the tutorial's demo: slow writer (100 ms a write, hwm 1024 B), 2000 chunks of 64 KiB, ${seconds} s"
  echo "-- Node $(node --version), the tutorial's manager, producer ignores write():"
  node bench/node/backpressure-manager.js --mode ignore --seconds "$seconds" | tail -n 2
  echo "-- Node, the tutorial's manager, producer waits for 'drain':"
  node bench/node/backpressure-manager.js --mode respect --seconds "$seconds" | tail -n 2
  echo "-- sluice, monitor (one timer), producer waits for 'drain':"
  build/gcc/example-25-tutorial-backpressure-demo "$seconds" | tail -n 2
fi
