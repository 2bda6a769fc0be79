#!/usr/bin/env bash
# `sluice copy` against cp on one big file, repeated, reported as the median and the spread of
# each and their ratio. Both use copy_file_range(2), so on one file system they are level, and
# the run-to-run spread (page cache, freeing the blocks of the previous copy) is larger than any
# difference: read the spread before the ratio.
#
#   scripts/bench-copy.sh [SLUICE_BINARY]      SIZE=1G RUNS=15 WORK=/var/tmp
set -euo pipefail
sluice="${1:-build/gcc/tools/sluice/sluice}"
size="${SIZE:-1G}"
runs="${RUNS:-15}"
work=$(mktemp -d "${WORK:-/var/tmp}/sluice-bench-copy-XXXXXX")
trap 'rm -rf "$work"' EXIT
command -v hyperfine >/dev/null || { echo "bench-copy.sh: needs hyperfine (apt-get install hyperfine)" >&2; exit 1; }
# Text-like, incompressible enough that no file system trick applies.
# (The last head closes the pipe early on purpose: base64's SIGPIPE is not a failure here.)
set +o pipefail
head -c "$size" /dev/urandom | base64 -w 100 | head -c "$size" >"$work/in"
set -o pipefail
sync
# Each run writes a fresh file: the previous copy is removed (and synced) before the clock starts,
# so neither side pays for freeing the other's blocks.
hyperfine -N --warmup 2 --runs "$runs" --export-json "$work/copy.json" \
  --prepare "sh -c 'rm -f $work/out; sync'" \
  -n cp "cp $work/in $work/out" \
  -n "sluice copy" "$sluice copy -q $work/in $work/out" >/dev/null
cmp "$work/in" "$work/out"
python3 - "$work/copy.json" <<'PY'
import json, statistics, sys
r = {x["command"]: sorted(x["times"]) for x in json.load(open(sys.argv[1]))["results"]}
cp, sl = r["cp"], r["sluice copy"]
for name, t in (("cp", cp), ("sluice copy", sl)):
    print(f"{name:12s} median {statistics.median(t):.3f} s  min {t[0]:.3f}  max {t[-1]:.3f}  (n={len(t)})")
print(f"ratio cp/sluice (median): {statistics.median(cp) / statistics.median(sl):.2f}x  "
      f"(min/min {cp[0] / sl[0]:.2f}x, max/max {cp[-1] / sl[-1]:.2f}x)")
PY
