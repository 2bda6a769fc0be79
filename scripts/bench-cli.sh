#!/usr/bin/env bash
# The files/compression/CLI benchmark (docs/benchmarks.md, "issue 4"): the `sluice` CLI against
# Node 20, the igzip CLI and cp, on 1 GiB of real text, side by side in one run.
#
#   gzip    node bench/node/gzip.js (pipeline(createReadStream, createGzip, createWriteStream))
#           vs `sluice gzip --level 6` (the CLI default: blocks on one thread per core), and
#           `--threads 1` (one piece, on the loop thread) as an extra row
#   isal    `sluice gzip --engine isal` vs `igzip` (both at ISA-L level 1, igzip's default),
#           and `--threads 1` as an extra row
#   copy    `sluice copy` (copy_file_range) vs cp vs node bench/node/copy.js; and
#           `sluice copy --stream` (file_reader → file_writer) for reference
#   memory  peak RSS of the gzip runs at 256 MiB and 1 GiB, with backpressure respected (sluice
#           gzip, node gzip.js) and ignored (sluice demo-child --mode ignore, node gzip-nobp.js)
#           -> build/bench-cli/memory.dat, plotted to docs/img/memory.png (gnuplot)
#
# Time and peak RSS come from /usr/bin/time -v; every figure is the best of REPEAT runs. The
# input: the text under /usr/share/doc (plain files and decompressed .gz), concatenated and
# repeated until SIZE bytes, cached as build/bench-cli/text-<SIZE>.txt. Every output is checked
# (gzip -t or cmp). Takes a few minutes on 2 cores; the figures are only comparable within one
# run (the script warns when the machine is busy).
#
# Environment knobs:
#   SIZE=1G     the main input size        SMALL=256M  the second size of the memory plot
#   LEVEL=6     zlib level for gzip        REPEAT=1    timed runs per figure (best is kept)
#   MEMORY_REPEAT=1  runs per figure of the memory section (RSS hardly varies)
#   PLOT=1      write docs/img/memory.png (needs gnuplot)
#   SECTIONS="gzip isal copy memory"  which parts to run
#   BUILD=build/gcc  the (Release) build directory to build the CLI in
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

size="${SIZE:-1G}"
small="${SMALL:-256M}"
level="${LEVEL:-6}"
repeat="${REPEAT:-1}"
plot="${PLOT:-1}"
build="${BUILD:-build/gcc}"
sections=" ${SECTIONS:-gzip isal copy memory} "
want() { [[ "$sections" == *" $1 "* ]]; }
work=build/bench-cli
mkdir -p "$work"

to_bytes() {
  local v="${1%[bB]}" mult=1
  v="${v%i}"
  case "$v" in
    *[kK]) mult=1024; v="${v%?}" ;;
    *[mM]) mult=$((1024 * 1024)); v="${v%?}" ;;
    *[gG]) mult=$((1024 * 1024 * 1024)); v="${v%?}" ;;
  esac
  echo $((v * mult))
}

for tool in node /usr/bin/time gzip; do
  command -v "$tool" >/dev/null 2>&1 || {
    echo "bench-cli.sh: '$tool' is needed (scripts/setup.sh installs the Debian packages)" >&2
    exit 1
  }
done
have_igzip=1
command -v igzip >/dev/null 2>&1 || {
  have_igzip=0
  echo "bench-cli.sh: note: no igzip (Debian package 'isal'); skipping the igzip comparison" >&2
}

echo "==> building the sluice CLI (Release, $build)"
CXX=g++ cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$build" -j2 --target sluice-tool
sluice="$root/$build/tools/sluice/sluice"

# ---- input ---------------------------------------------------------------------------------------
# make_corpus <bytes> <file>: Debian's documentation text, repeated to the size.
make_corpus() {
  # `f` is local: the loop below would otherwise overwrite input_for's `f` (bash scoping is
  # dynamic), and the first run, which builds the corpus, would return an empty file name.
  local bytes="$1" out="$2" docs="$work/docs.txt" f
  if [[ ! -s "$docs" ]]; then
    echo "==> collecting the text under /usr/share/doc into $docs" >&2
    : >"$docs.tmp"
    while IFS= read -r -d '' f; do
      case "$f" in
        *.gz) gzip -dc -- "$f" >>"$docs.tmp" 2>/dev/null || true ;;
        *) if LC_ALL=C grep -Iq . -- "$f" 2>/dev/null; then cat -- "$f" >>"$docs.tmp"; fi ;;
      esac
    done < <(find /usr/share/doc -type f \( -name '*.gz' -o -name 'copyright' -o -name '*.txt' \
      -o -name 'README*' -o -name 'NEWS*' -o -name 'changelog*' \) -print0 | sort -z)
    mv "$docs.tmp" "$docs"
  fi
  local have
  have="$(stat -c %s "$docs")"
  if ((have == 0)); then
    echo "bench-cli.sh: found no text under /usr/share/doc" >&2
    exit 1
  fi
  echo "==> building $out: $(numfmt --to=iec "$bytes") from $(numfmt --to=iec "$have") of docs" >&2
  : >"$out.tmp"
  local n=0
  while ((n < bytes)); do
    cat "$docs" >>"$out.tmp"
    n=$((n + have))
  done
  truncate -s "$bytes" "$out.tmp"
  mv "$out.tmp" "$out"
}

input_for() {
  local bytes f
  bytes="$(to_bytes "$1")"
  f="$work/text-$1.txt"
  if [[ ! -f "$f" || "$(stat -c %s "$f")" != "$bytes" ]]; then make_corpus "$bytes" "$f"; fi
  echo "$f"
}

big="$(input_for "$size")"
small_in="$(input_for "$small")"

# ---- measuring -----------------------------------------------------------------------------------
busy_check() {
  local a b
  read -r -a a </proc/stat
  sleep 1
  read -r -a b </proc/stat
  awk -v a="${a[*]}" -v b="${b[*]}" 'BEGIN {
    split(a, x, " "); split(b, y, " "); t = 0
    for (i = 2; i <= 9; i++) t += y[i] - x[i]
    idle = (y[5] - x[5]) + (y[6] - x[6])
    busy = t > 0 ? 100 * (t - idle) / t : 0
    if (busy > 10) printf "bench-cli.sh: warning: the machine is %.0f%% busy; figures will be low\n", busy
  }' >&2
}

# measure <label> <cmd...>: runs the command `runs` times (default REPEAT) under
# /usr/bin/time -v and records, for the run with the best wall time, the wall time (T), the CPU
# time, user + system, of all its threads (C) and the peak RSS (R).
declare -A T C R
measure() {
  local label="$1"
  shift
  local best="" best_rss="" best_cpu="" i tf="$work/time.txt"
  for ((i = 0; i < ${runs:-$repeat}; i++)); do
    # Every run writes a fresh file (replacing one costs freeing its blocks, not the copy's).
    if [[ -n "${fresh:-}" ]]; then rm -f "$fresh"; fi
    sync
    /usr/bin/time -v -o "$tf" "$@" || {
      echo "bench-cli.sh: '$label' failed: $*" >&2
      exit 1
    }
    local wall rss
    wall="$(awk -F': ' '/Elapsed \(wall clock\)/ {
      n = split($2, p, ":"); s = 0; for (k = 1; k <= n; k++) s = s * 60 + p[k]; print s }' "$tf")"
    rss="$(awk -F': ' '/Maximum resident set size/ { print $2 }' "$tf")"
    cpu="$(awk -F': ' '/(User|System) time \(seconds\)/ { s += $2 } END { print s }' "$tf")"
    if [[ -z "$best" ]] || awk -v a="$wall" -v b="$best" 'BEGIN { exit !(a < b) }'; then
      best="$wall"
      best_rss="$rss"
      best_cpu="$cpu"
    fi
  done
  T[$label]="$best"
  C[$label]="$best_cpu"
  R[$label]="$best_rss"
  printf '  %-34s %8.2f s  %9.1f MiB/s  CPU %7.2f s  peak RSS %8.1f MiB\n' "$label" "$best" \
    "$(awk -v s="$best" -v b="$cur_bytes" 'BEGIN { print (s > 0 ? b / s / 1048576 : 0) }')" \
    "$best_cpu" "$(awk -v k="$best_rss" 'BEGIN { print k / 1024 }')"
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }'; }

# size_row <label> <file...>: the files' sizes, to compare compression ratios.
size_row() {
  local label="$1" f
  shift
  printf '  %-34s' "$label"
  for f in "$@"; do printf ' %s' "$(stat -c %s "$f")"; done
  printf ' bytes\n'
}

check_gzip() { gzip -t "$1" || { echo "bench-cli.sh: $1 is not valid gzip" >&2; exit 1; }; }

busy_check
out="$work/out"
cur_bytes="$(stat -c %s "$big")"
if want gzip || want memory; then
  echo
  echo "==> gzip -$level, $(numfmt --to=iec "$cur_bytes") ($big)"
  measure "node gzip.js" node bench/node/gzip.js "$big" "$out.node.gz" --level "$level"
  check_gzip "$out.node.gz"
  measure "sluice gzip" "$sluice" gzip -q -f --level "$level" "$big" -o "$out.sluice.gz"
  check_gzip "$out.sluice.gz"
  if want gzip; then
    measure "sluice gzip --threads 1" "$sluice" gzip -q -f --threads 1 --level "$level" "$big" \
      -o "$out.sluice1.gz"
    check_gzip "$out.sluice1.gz"
    size_row "sizes: node, sluice, --threads 1" "$out.node.gz" "$out.sluice.gz" "$out.sluice1.gz"
  fi
fi

if want isal; then
  echo
  echo "==> gzip with ISA-L (level 1)"
  measure "sluice gzip --engine isal" "$sluice" gzip -q -f --engine isal "$big" -o "$out.isal.gz"
  check_gzip "$out.isal.gz"
  measure "sluice gzip --engine isal --threads 1" "$sluice" gzip -q -f --engine isal --threads 1 \
    "$big" -o "$out.isal1.gz"
  check_gzip "$out.isal1.gz"
  if ((have_igzip)); then
    # (igzip will not replace an existing -o file even with -f: write through stdout)
    measure "igzip" sh -c 'exec igzip -c "$0" >"$1"' "$big" "$out.igzip.gz"
    check_gzip "$out.igzip.gz"
    size_row "sizes: isal, --threads 1, igzip" "$out.isal.gz" "$out.isal1.gz" "$out.igzip.gz"
  else
    size_row "sizes: isal, --threads 1" "$out.isal.gz" "$out.isal1.gz"
  fi
fi

if want copy; then
  echo
  echo "==> copy"
  fresh="$out.copy"
  measure "cp" cp "$big" "$out.copy"
  measure "node copy.js" node bench/node/copy.js "$big" "$out.copy"
  measure "sluice copy" "$sluice" copy -q "$big" "$out.copy"
  cmp "$big" "$out.copy"
  # The same copy through a file_reader → file_writer stream pair, for reference.
  measure "sluice copy --stream" "$sluice" copy -q --stream "$big" "$out.copy"
  cmp "$big" "$out.copy"
  fresh=""
  rm -f "$out.copy"
fi

if want memory; then
  echo
  echo "==> memory: peak RSS of gzip -$level, backpressure respected and ignored"
  runs="${MEMORY_REPEAT:-1}"
  mem="$work/memory.dat"
  {
    echo "# size_mib sluice node sluice_ignored node_ignored  (peak RSS, MiB)"
  } >"$mem"
  for in_file in "$small_in" "$big"; do
    cur_bytes="$(stat -c %s "$in_file")"
    mib=$((cur_bytes / 1048576))
    echo "  -- $mib MiB"
    if [[ "$in_file" == "$big" ]]; then
      # Already measured above.
      printf '  %-34s (above)\n' "sluice gzip" "node gzip.js"
      R["sluice gzip $mib"]="${R[sluice gzip]}"
      R["node gzip.js $mib"]="${R[node gzip.js]}"
    else
      measure "sluice gzip $mib" "$sluice" gzip -q -f --level "$level" "$in_file" -o "$out.m.gz"
      measure "node gzip.js $mib" node bench/node/gzip.js "$in_file" "$out.m.gz" --level "$level"
    fi
    # (sh execs the CLI, so /usr/bin/time measures it; its RESULT line is not wanted here)
    measure "sluice, backpressure ignored $mib" sh -c 'exec "$0" "$@" >/dev/null' \
      "$sluice" demo-child --mode ignore --in "$in_file" --out "$out.m.gz" --level "$level"
    measure "node gzip-nobp.js $mib" node bench/node/gzip-nobp.js "$in_file" "$out.m.gz" \
      --level "$level"
    check_gzip "$out.m.gz"
    awk -v m="$mib" -v a="${R[sluice gzip $mib]}" -v b="${R[node gzip.js $mib]}" \
      -v c="${R[sluice, backpressure ignored $mib]}" -v d="${R[node gzip-nobp.js $mib]}" \
      'BEGIN { printf "%d %.1f %.1f %.1f %.1f\n", m, a / 1024, b / 1024, c / 1024, d / 1024 }' >>"$mem"
  done
fi
rm -f "$out".*

if want memory && [[ "$plot" == "1" ]]; then
  if command -v gnuplot >/dev/null 2>&1; then
    mkdir -p docs/img
    gnuplot -e "data='$mem'; out='docs/img/memory.png'" scripts/plot-memory.gp
    echo "==> wrote docs/img/memory.png"
  else
    echo "bench-cli.sh: note: no gnuplot (Debian package gnuplot-nox); no plot" >&2
  fi
fi

echo
echo "==> results (ratios: higher is better for sluice)"
val() { local v="${1:-}"; echo "${v:--}"; }
r() { if [[ -n "${1:-}" && -n "${2:-}" ]]; then ratio "$1" "$2"; else echo "-"; fi; }
gz_ratio="$(r "${T[node gzip.js]:-}" "${T[sluice gzip]:-}")"
gz_cpu="$(r "${C[node gzip.js]:-}" "${C[sluice gzip]:-}")"
gz1_ratio="$(r "${T[node gzip.js]:-}" "${T[sluice gzip --threads 1]:-}")"
isal1_igzip="$(r "${T[igzip]:-}" "${T[sluice gzip --engine isal --threads 1]:-}")"
isal_node="$(r "${T[node gzip.js]:-}" "${T[sluice gzip --engine isal]:-}")"
isal_igzip="$(r "${T[igzip]:-}" "${T[sluice gzip --engine isal]:-}")"
copy_cp="$(r "${T[cp]:-}" "${T[sluice copy]:-}")"
copy_node="$(r "${T[node copy.js]:-}" "${T[sluice copy]:-}")"
printf '  gzip:  sluice / node = %sx  (target >= 1.0x); in CPU time %sx\n' "$gz_ratio" "$gz_cpu"
printf '  isal:  sluice isal / node gzip = %sx  (target >= 8x)\n' "$isal_node"
printf '  isal:  sluice isal / igzip = %sx  (target >= 0.9x)\n' "$isal_igzip"
printf '  one thread: gzip / node = %sx, isal / igzip = %sx\n' "$gz1_ratio" "$isal1_igzip"
printf '  copy:  sluice / cp = %sx  (target >= 0.9x);  sluice / node = %sx  (target >= 3x)\n' \
  "$copy_cp" "$copy_node"
if want memory; then
  small_mib=$(($(to_bytes "$small") / 1048576))
  printf '  peak RSS of sluice gzip: %s MiB at %s, %s MiB at %s  (target <= 9 MiB, size-independent)\n' \
    "$(awk -v k="${R[sluice gzip $small_mib]}" 'BEGIN { printf "%.1f", k / 1024 }')" "$small" \
    "$(awk -v k="${R[sluice gzip]}" 'BEGIN { printf "%.1f", k / 1024 }')" "$size"
fi
echo "RESULT cli gzip_ratio=$gz_ratio gzip_cpu_ratio=$gz_cpu isal_vs_node=$isal_node" \
  "isal_vs_igzip=$isal_igzip copy_vs_cp=$copy_cp copy_vs_node=$copy_node"
