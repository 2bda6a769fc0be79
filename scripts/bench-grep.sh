#!/usr/bin/env bash
# The grep engines benchmark (docs/benchmarks.md, "grep engines"): RE2 (what `grep` in
# `sluice run` uses), std::regex (what it used) and PCRE2 with its JIT (when libpcre2-dev is
# installed) against `LC_ALL=C grep -E -c` on the same file, in the same run.
#
# Inputs, cached under build/bench-grep/:
#   text     SIZE bytes of the CLI's log-like text (lines of about 100 bytes)
#   hostile  lines of 26 (and 34) 'a's and an 'x', for the backtracking blow-up of '^(a|aa)*$'
#            (std::regex is left out of the 34: it would take minutes)
#   long     lines of 40,001 bytes ('ab'... 'x'), for '(a|b)*c' and '^(a|b)*$' (std::regex
#            overflowed its stack there, so sluice-grep-bench gives it lines of at most 4 KiB)
# A line an engine could not decide (std::regex: too long; PCRE2: match limit or JIT stack
# exhausted) is counted as "undecided": a grep built on it would fail or miss the line.
#
# Each round times `grep -E` (wall clock of the process: start, reading the cached file,
# matching) and then sluice-grep-bench (the matching of every line of the file, held in
# memory). The figure printed is each engine's time over grep's in the same round: the median
# over REPEAT rounds, and the lowest and highest. Below 1: faster than grep -E.
#
# Environment knobs: SIZE=32M  REPEAT=5  BUILD=build/gcc (a Release build directory)
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
size="${SIZE:-32M}"
repeat="${REPEAT:-5}"
build="${BUILD:-build/gcc}"
work=build/bench-grep
mkdir -p "$work"

nice ninja -C "$build" sluice-grep-bench >/dev/null
bench="$build/bench/grep/sluice-grep-bench"

bytes="$(numfmt --from=iec "$size")"
text="$work/text-$size.txt"
[[ -f "$text" ]] || "$bench" generate "$bytes" "$text"
hostile="$work/hostile-26.txt"
[[ -f "$hostile" ]] || python3 -c "print(('a' * 26 + 'x\n') * 20, end='')" >"$hostile"
hostile34="$work/hostile-34.txt"
[[ -f "$hostile34" ]] || python3 -c "print(('a' * 34 + 'x\n') * 5, end='')" >"$hostile34"
long="$work/long-ab-x.txt"
[[ -f "$long" ]] || python3 -c "print(('ab' * 20000 + 'x\n') * 50, end='')" >"$long"

now() { date +%s.%N; }

# bench_case LABEL FILE PATTERN [-i]
bench_case() {
  local label="$1" file="$2" pattern="$3" icase="${4:-}"
  local raw="$work/raw.txt"
  : >"$raw"
  for ((r = 1; r <= repeat; r++)); do
    local t0 t1 grep_matches
    t0="$(now)"
    grep_matches="$(LC_ALL=C grep -E -c $icase -- "$pattern" "$file" || true)"
    t1="$(now)"
    echo "$r grep_E $(awk "BEGIN { print $t1 - $t0 }") $grep_matches 0" >>"$raw"
    "$bench" match "$file" "$pattern" $icase | sed "s/^/$r /" >>"$raw"
  done
  python3 - "$label" "$raw" <<'PY'
import sys, statistics
label, raw = sys.argv[1], sys.argv[2]
rounds = {}
for line in open(raw):
    r, engine, secs, matches, errors = line.split()
    rounds.setdefault(r, {})[engine] = (float(secs), int(matches), int(errors))
engines = [e for e in next(iter(rounds.values()))]
for e in engines:
    ratios = [rd[e][0] / rd["grep_E"][0] for rd in rounds.values()]
    secs = statistics.median(rd[e][0] for rd in rounds.values())
    _, matches, errors = next(iter(rounds.values()))[e]
    note = f"  ({errors} lines undecided)" if errors else ""
    print(f"{label:<28} {e:<10} {secs*1000:9.1f} ms  x{statistics.median(ratios):7.2f}"
          f"  [{min(ratios):.2f} .. {max(ratios):.2f}]  {matches} lines{note}")
PY
}

echo "sluice-grep-bench vs LC_ALL=C grep -E -c: median time, median ratio to grep -E [min .. max]"
echo "over $repeat rounds; text: $size of log-like lines; $(nproc) cores, load $(cut -d' ' -f1 /proc/loadavg)"
bench_case "ERROR" "$text" 'ERROR'
bench_case "timeout|expired|drained" "$text" 'timeout|expired|drained'
bench_case "ERROR.*disk" "$text" 'ERROR.*disk'
bench_case "-i error.*timeout" "$text" 'error.*timeout' -i
bench_case "26 a's: ^(a|aa)*$" "$hostile" '^(a|aa)*$'
SLUICE_BENCH_STD_REGEX_MAX=0 bench_case "34 a's: ^(a|aa)*$" "$hostile34" '^(a|aa)*$'
bench_case "40 KB lines: (a|b)*c" "$long" '(a|b)*c'
bench_case "40 KB lines: ^(a|b)*$" "$long" '^(a|b)*$'
