#!/usr/bin/env bash
# What metrics cost while nobody scrapes them (issue 17: within 2 % of a pipeline without them;
# docs/benchmarks.md, "Metrics"), each beside its baseline in the same run, alternated pair by
# pair:
#
#   objmode  the objmode pipeline (3 transforms, ITEMS items) with every stream watched by a
#            monitor registered with a sluice::metrics::registry, against the same pipeline with
#            neither (`sluice-bench objmode [--metrics]`)
#   gzip     `sluice run 'read F | gzip | write F.gz'` on SIZE of generated log lines, with
#            `--metrics 127.0.0.1:0` (a monitor of every stage, a registry and an HTTP server
#            listening, never asked) and without
#
#   scripts/bench-metrics.sh [objmode|gzip|all]
#
# Knobs: ITEMS (5000000), SIZE (256M), REPEAT (7 pairs), SLUICE and BENCH (built binaries;
# unset: both are built, Release, in build/gcc).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
what="${1:-all}"
items="${ITEMS:-5000000}"
size="${SIZE:-256M}"
repeat="${REPEAT:-7}"
if [[ -z "${SLUICE:-}" || -z "${BENCH:-}" ]]; then
  echo "==> building sluice and sluice-bench (Release, build/gcc)"
  CXX=g++ cmake -S "$root" -B build/gcc -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
  cmake --build build/gcc -j2 --target sluice-tool sluice-bench >/dev/null
fi
sluice="${SLUICE:-build/gcc/tools/sluice/sluice}"
bench="${BENCH:-build/gcc/sluice-bench}"
dir="$(mktemp -d)"
trap 'rm -rf "$dir"' EXIT
echo "== $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg), $(date -u '+%Y-%m-%d %H:%M UTC')"

# summary NAME: the pairs' ratios (with / without, as rates) in $dir/NAME.txt, one a line.
summary() {
  sort -n "$dir/$1.txt" | awk -v n="$1" '{ r[NR] = $1 } END {
    m = NR % 2 ? r[(NR + 1) / 2] : (r[NR / 2] + r[NR / 2 + 1]) / 2
    printf "  %s with metrics / without: median %.3f (min %.3f, max %.3f); cost %.1f %%\n", n, m, r[1], r[NR], 100 * (1 - m)
    printf "RESULT metrics_cost bench=%s ratio=%.4f ratio_min=%.4f ratio_max=%.4f pairs=%d\n", n, m, r[1], r[NR], NR }'
}

if [[ "$what" == objmode || "$what" == all ]]; then
  echo
  echo "== objmode, 3 stages, $items items: plain vs metrics registered (not scraped), $repeat pairs"
  : >"$dir/objmode.txt"
  rate() {
    "$bench" objmode --items "$items" --stages 3 --repeat 1 --warmup 1 "$@" |
      sed -n 's/^RESULT .* items_per_s=\([0-9]*\).*/\1/p'
  }
  for ((i = 1; i <= repeat; i++)); do
    if ((i % 2)); then p="$(rate)"; m="$(rate --metrics)"; else m="$(rate --metrics)"; p="$(rate)"; fi
    awk -v i="$i" -v p="$p" -v m="$m" 'BEGIN {
      printf "  pair %d: plain %.0f items/s, metrics %.0f items/s, ratio %.3f\n", i, p, m, m / p }'
    awk -v p="$p" -v m="$m" 'BEGIN { printf "%.6f\n", m / p }' >>"$dir/objmode.txt"
  done
  summary objmode
fi

if [[ "$what" == gzip || "$what" == all ]]; then
  echo
  # Log-like lines (gzip compresses them about 4:1), SIZE bytes.
  awk -v n="$(numfmt --from=iec "$size")" 'BEGIN {
    srand(7)
    split("INFO WARN ERROR DEBUG", lv, " ")
    while (bytes < n) {
      line = sprintf("2026-12-06T10:%02d:%02dZ %s request id=%d path=/api/v1/items/%d status=%d ms=%d",
                     int(rand() * 60), int(rand() * 60), lv[1 + int(rand() * 4)], int(rand() * 1e9),
                     int(rand() * 1e5), 200 + 100 * int(rand() * 4), int(rand() * 900))
      print line
      bytes += length(line) + 1
    }
  }' >"$dir/in.log"
  echo "== sluice run 'read | gzip | write', $(du -h "$dir/in.log" | cut -f1) of text:" \
    "plain vs --metrics 127.0.0.1:0, $repeat pairs"
  : >"$dir/gzip.txt"
  seconds() {
    local t0="$EPOCHREALTIME"
    "$sluice" run -q "$@" "read $dir/in.log | gzip | write $dir/out.gz" 2>/dev/null
    awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.3f", b - a }'
  }
  for ((i = 1; i <= repeat; i++)); do
    if ((i % 2)); then
      p="$(seconds)"
      m="$(seconds --metrics 127.0.0.1:0)"
    else
      m="$(seconds --metrics 127.0.0.1:0)"
      p="$(seconds)"
    fi
    awk -v i="$i" -v p="$p" -v m="$m" 'BEGIN {
      printf "  pair %d: plain %.3f s, metrics %.3f s, ratio (as rates) %.3f\n", i, p, m, p / m }'
    awk -v p="$p" -v m="$m" 'BEGIN { printf "%.6f\n", p / m }' >>"$dir/gzip.txt"
  done
  summary gzip
fi
