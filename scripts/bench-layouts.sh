#!/usr/bin/env bash
# A/B timing of two sluice-bench builds on the objmode benchmark, averaged over code layouts
# (docs/benchmarks.md, "Code layout").
#
#   scripts/bench-layouts.sh OLD_BUILD_DIR NEW_BUILD_DIR [ROUNDS]
#
# On the machine these benchmarks run on, where the linker happens to place the hot loops moves
# objmode by up to ±6 %: the same objects, relinked with 0 to 112 bytes of padding in front of
# them, ran at 92 to 104 M items/s. So one binary against another compares two layouts as much
# as two versions of the code. This script relinks each build's sluice-bench eight times, with
# 0, 16, ..., 112 bytes of padding before the first object file (the code is otherwise
# unchanged), alternates all sixteen binaries ROUNDS times (default 4), each time best of 5 runs
# of 5 M items through 3 stages, and prints the best of each binary, the mean, min and max of
# each build over its eight layouts, and the ratio of the means.
#
# Both build directories must be Ninja builds (the link command is read with `ninja -t
# commands`) with sluice-bench built, e.g.
#
#   git worktree add /tmp/sluice-old <rev>
#   cmake -S /tmp/sluice-old -B /tmp/sluice-old/build -G Ninja -DCMAKE_BUILD_TYPE=Release
#   cmake --build /tmp/sluice-old/build --target sluice-bench
#   cmake --build build/gcc --target sluice-bench
#   scripts/bench-layouts.sh /tmp/sluice-old/build build/gcc
#
# Environment: ITEMS (default 5000000), STAGES (default 3), API (typed or spec, default typed).
set -euo pipefail

if [[ $# -lt 2 ]]; then
  echo "usage: scripts/bench-layouts.sh OLD_BUILD_DIR NEW_BUILD_DIR [ROUNDS]" >&2
  exit 2
fi
old_dir="$(cd "$1" && pwd)"
new_dir="$(cd "$2" && pwd)"
rounds="${3:-4}"
pads=(0 16 32 48 64 80 96 112)
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# The padding: an object file whose text is `pad` bytes of nops, linked first.
for pad in "${pads[@]}"; do
  {
    printf '.text\n'
    if ((pad > 0)); then printf '.skip %d, 0x90\n' "$pad"; fi
    printf '.section .note.GNU-stack,"",@progbits\n'
  } >"$work/pad$pad.s"
  as -o "$work/pad$pad.o" "$work/pad$pad.s"
done

# relink DIR NAME: NAME-<pad> binaries in $work, from DIR's objects and link command.
relink() {
  local dir="$1" name="$2" cmd pad c
  [[ -x "$dir/sluice-bench" ]] || {
    echo "bench-layouts.sh: $dir/sluice-bench is missing (build the sluice-bench target)" >&2
    exit 2
  }
  cmd="$(ninja -C "$dir" -t commands sluice-bench | tail -n 1)"
  cmd="${cmd#: && }"
  cmd="${cmd% && :}"
  [[ "$cmd" == *" -o sluice-bench "* ]] || {
    echo "bench-layouts.sh: cannot read the link command of $dir/sluice-bench" >&2
    exit 2
  }
  for pad in "${pads[@]}"; do
    c="${cmd/ -o sluice-bench / -o $work/$name-$pad }"
    # The padding goes in front of the first object file.
    c="$(sed -E "s| (CMakeFiles/sluice-bench\.dir/)| $work/pad$pad.o \1|" <<<"$c")"
    (cd "$dir" && eval "$c")
  done
}
relink "$old_dir" old
relink "$new_dir" new

best_of() {
  "$1" objmode --items "${ITEMS:-5000000}" --stages "${STAGES:-3}" --api "${API:-typed}" \
    --repeat 5 --warmup 1 | awk '/^RESULT/ { for (i = 1; i <= NF; i++) if ($i ~ /^items_per_s=/) { sub(/^items_per_s=/, "", $i); print $i } }'
}

declare -A best
for ((r = 1; r <= rounds; r++)); do
  for name in old new; do
    for pad in "${pads[@]}"; do
      b="$name-$pad"
      v="$(best_of "$work/$b")"
      if [[ -z "${best[$b]:-}" ]] || ((v > best[$b])); then best[$b]=$v; fi
    done
  done
  echo "round $r of $rounds done" >&2
done

for name in old new; do
  for pad in "${pads[@]}"; do
    printf '%s %d %s\n' "$name" "$pad" "${best[$name-$pad]}"
  done
done | awk '
  { v = $3 / 1e6; printf "%s, padding %3d bytes: %7.2f M items/s\n", $1, $2, v
    s[$1] += v; n[$1]++
    if (!($1 in lo) || v < lo[$1]) lo[$1] = v
    if (v > hi[$1]) hi[$1] = v }
  END {
    for (k = 0; k < 2; k++) {
      name = k == 0 ? "old" : "new"
      printf "%s: mean %.2f M, min %.2f M, max %.2f M items/s over %d layouts\n", name,
             s[name] / n[name], lo[name], hi[name], n[name]
    }
    printf "new / old (means) = %.3f\n", (s["new"] / n["new"]) / (s["old"] / n["old"])
  }'
