#!/usr/bin/env bash
# A/B timing of two sluice-bench binaries on the objmode benchmark (docs/benchmarks.md, objmode).
#
#   scripts/bench-ab.sh OLD_BINARY NEW_BINARY [ROUNDS]
#
# Alternates the two, ROUNDS times (default 6), each time best of 5 runs of 5 M items through
# 3 stages, and prints the best of each and the ratio NEW / OLD. Alternating matters on a shared
# machine: the load changes from minute to minute, and two runs far apart in time compare the
# load as much as the code. Build the two binaries from the two trees first, e.g.
#
#   git stash && cmake --build build/gcc --target sluice-bench && cp build/gcc/sluice-bench /tmp/old
#   git stash pop && cmake --build build/gcc --target sluice-bench
#   scripts/bench-ab.sh /tmp/old build/gcc/sluice-bench
#
# One binary against another also compares their code layouts, which move objmode by up to
# ±6 % on the benchmark machine: scripts/bench-layouts.sh averages over eight layouts per build
# and is the one to judge a change by (docs/benchmarks.md, "Code layout").
#
# Environment: ITEMS (default 5000000), STAGES (default 3), API (typed or spec, default typed).
set -euo pipefail

if [[ $# -lt 2 ]]; then
  echo "usage: scripts/bench-ab.sh OLD_BINARY NEW_BINARY [ROUNDS]" >&2
  exit 2
fi
old="$1"
new="$2"
rounds="${3:-6}"
for b in "$old" "$new"; do
  [[ -x "$b" ]] || { echo "bench-ab.sh: '$b' is not an executable" >&2; exit 2; }
done

best_of() {
  "$1" objmode --items "${ITEMS:-5000000}" --stages "${STAGES:-3}" --api "${API:-typed}" \
    --repeat 5 --warmup 1 | awk '/^RESULT/ { for (i = 1; i <= NF; i++) if ($i ~ /^items_per_s=/) { sub(/^items_per_s=/, "", $i); print $i } }'
}

best_old=0
best_new=0
for ((i = 1; i <= rounds; i++)); do
  a="$(best_of "$old")"
  b="$(best_of "$new")"
  printf 'round %2d: old %12s  new %12s items/s\n' "$i" "$a" "$b"
  ((a > best_old)) && best_old=$a
  ((b > best_new)) && best_new=$b
done
awk -v o="$best_old" -v n="$best_new" 'BEGIN {
  printf "best: old %d, new %d items/s; new / old = %.3f\n", o, n, n / o }'
