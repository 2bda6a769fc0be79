#!/usr/bin/env bash
# The soak benchmark (docs/reliability.md, "Long runs"; not in CI): the same pipeline in sluice
# and in Node.js, side by side, fed from /dev/urandom and held to RATE bytes a second by their
# last stage, for MINUTES minutes:
#   sluice run 'stdin | gzip --threads 1 | gunzip | throttle RATE | stdout'
#   node bench/soak/node-soak.js RATE    (stdin -> gzip -> gunzip -> throttle -> stdout)
# Every second it samples each process's resident memory (VmRSS) and the bytes it has read
# (rchar, /proc/PID/io), writes them to OUT/soak.csv, and at the end prints, per process, the
# RSS over the run (min, median, max after the first 10 s), its drift (the last minute's mean
# minus the first full minute's) and the mean input rate. With PLOT=FILE it also draws the RSS
# curves with gnuplot (scripts/plot-soak.gp), e.g. PLOT=docs/img/soak.png.
#
# Knobs: MINUTES=10  RATE=1M  OUT=build/soak  SLUICE=build/gcc/tools/sluice/sluice  PLOT=
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
minutes="${MINUTES:-10}"
rate="${RATE:-1M}"
out="${OUT:-build/soak}"
sluice="${SLUICE:-build/gcc/tools/sluice/sluice}"
plot="${PLOT:-}"

if [[ ! -x "$sluice" ]]; then
  echo "soak.sh: no sluice binary at $sluice (build it: cmake --build build/gcc)" >&2
  exit 1
fi
command -v node >/dev/null || { echo "soak.sh: node is not installed" >&2; exit 1; }
rate_bytes="$(numfmt --from=iec "$rate")"
mkdir -p "$out"
csv="$out/soak.csv"

"$sluice" run "stdin | gzip --threads 1 | gunzip | throttle $rate | stdout" \
  </dev/urandom >/dev/null 2>"$out/sluice.err" &
sluice_pid=$!
node bench/soak/node-soak.js "$rate_bytes" </dev/urandom >/dev/null 2>"$out/node.err" &
node_pid=$!
cleanup() { kill "$sluice_pid" "$node_pid" 2>/dev/null || true; }
trap cleanup EXIT

rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status" 2>/dev/null || echo 0; }
read_bytes() { awk '/^rchar:/ { print $2 }' "/proc/$1/io" 2>/dev/null || echo 0; }

echo "second,sluice_rss_kib,node_rss_kib,sluice_read_bytes,node_read_bytes" >"$csv"
echo "==> soak: $minutes min at $rate/s; sluice pid $sluice_pid, node pid $node_pid; $csv"
start=$(date +%s)
for ((s = 1; s <= minutes * 60; s++)); do
  # Sleep to the next whole second of the run, so the samples do not drift.
  sleep "$(awk -v s="$s" -v t0="$start" -v now="$(date +%s.%N)" \
    'BEGIN { d = t0 + s - now; print (d > 0 ? d : 0) }')"
  for pid in "$sluice_pid" "$node_pid"; do
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "soak.sh: process $pid ended early:" >&2
      cat "$out/sluice.err" "$out/node.err" >&2
      exit 1
    fi
  done
  echo "$s,$(rss_kib "$sluice_pid"),$(rss_kib "$node_pid"),$(read_bytes "$sluice_pid"),$(read_bytes "$node_pid")" >>"$csv"
  if ((s % 60 == 0)); then echo "    $((s / 60)) min: $(tail -1 "$csv")"; fi
done

# summary <RSS column> <read column> <name>
summary() {
  local sorted
  sorted="$(tail -n +12 "$csv" | cut -d, -f"$1" | sort -n)"  # RSS from second 11
  awk -F, -v c="$1" -v r="$2" -v name="$3" \
    -v min="$(head -1 <<<"$sorted")" -v max="$(tail -1 <<<"$sorted")" \
    -v median="$(awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }' <<<"$sorted")" '
    NR == 1 { next }
    { n++; rss[n] = $c; rd[n] = $r }
    END {
      f = 0; l = 0; fn = 0; ln = 0
      for (i = 61; i <= 120 && i <= n; i++) { f += rss[i]; fn++ }
      for (i = n - 59; i <= n; i++) if (i > 0) { l += rss[i]; ln++ }
      printf "%-7s RSS MiB: min %.1f, median %.1f, max %.1f; drift (last minute - second minute) %+.2f MiB; read %.2f MiB/s\n",
        name, min / 1024, median / 1024, max / 1024,
        (fn && ln ? (l / ln - f / fn) / 1024 : 0), (rd[n] - rd[1]) / (n - 1) / 1048576
    }' "$csv"
}
echo "==> over $minutes min (RSS from second 11):"
summary 2 4 sluice
summary 3 5 node

if [[ -n "$plot" ]]; then
  gnuplot -e "data='$csv'; out='$plot'; rate='$rate'" scripts/plot-soak.gp
  echo "==> plot: $plot"
fi
