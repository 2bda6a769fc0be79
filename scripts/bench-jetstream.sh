#!/usr/bin/env bash
# The JetStream benchmark (issue 19; docs/benchmarks.md): N small messages through
# writer -> a three-node cluster (three replicas, file storage) -> reader -> a file, by sluice
# (build/gcc/bench/jetstream/sluice-jetstream-bench: jetstream_writer; jetstream_reader ->
# acknowledging_writer -> file writer) and by a program on libnats alone (nats-baseline-bench,
# the same work straight against the C client: Debian packages no `nats` CLI, so no `nats
# bench`), side by side on the same cluster, each round a fresh stream per contender.
# Messages/s, the ratio sluice/baseline, and each process's peak RSS (/usr/bin/time -v).
#
#   scripts/bench-jetstream.sh
#
# Knobs: N (10000000), SIZE (16 bytes), ROUNDS (3), DIR (a temporary directory: the cluster's
# stores and the output files).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
n="${N:-10000000}"
size="${SIZE:-16}"
rounds="${ROUNDS:-3}"
dir="${DIR:-$(mktemp -d)}"

echo "==> building the two programs (Release, build/gcc)"
CXX=g++ cmake -S "$root" -B build/gcc -G Ninja -DCMAKE_BUILD_TYPE=Release -DSLUICE_BUILD_BENCH=ON >/dev/null
cmake --build build/gcc -j1 --target sluice-jetstream-bench nats-baseline-bench >/dev/null
bin=build/gcc/bench/jetstream

cluster="$dir/cluster"
trap 'scripts/nats-cluster.sh stop "$cluster" >/dev/null 2>&1 || true' EXIT
# (Each server stores every message of both contenders' streams, about 100 bytes each.)
NATS_MAX_FILE_STORE="$((n * rounds * 2 * 128 / 1048576 + 1024))MB" scripts/nats-cluster.sh start "$cluster" >/dev/null
urls="$(cat "$cluster/urls")"
echo "== $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg), $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "== $(nats-server --version), libnats $(pkg-config --modversion libnats); $n messages of $size bytes"

# timed LABEL CMD...: runs CMD under /usr/bin/time -v; sets $rate (msg/s, from the program's
# own line) and $rss (MiB).
timed() {
  local label="$1"
  shift
  local log="$dir/time.log" out
  out="$(/usr/bin/time -v "$@" 2>"$log")" || {
    cat "$log" >&2
    echo "$label failed" >&2
    exit 1
  }
  rate="$(sed -n 's/.*: \([0-9]*\) msg\/s$/\1/p' <<<"$out")"
  rss="$(awk -F': ' '/Maximum resident set size/ {printf "%.1f", $2 / 1024}' "$log")"
  printf '  %-18s %9s msg/s  peak RSS %6s MiB\n' "$label" "$rate" "$rss"
}

for ((r = 1; r <= rounds; ++r)); do
  echo "round $r"
  declare -A pub sub
  for who in sluice baseline; do
    prog="$bin/sluice-jetstream-bench"
    [[ $who == baseline ]] && prog="$bin/nats-baseline-bench"
    stream="B${r}_${who}"
    timed "$who pub" "$prog" pub "$urls" "$stream" "b.$r.$who" "$n" "$size"
    pub[$who]=$rate
    timed "$who sub" "$prog" sub "$urls" "$stream" reader "$n" "$dir/out-$who"
    sub[$who]=$rate
    got="$(wc -l <"$dir/out-$who")"
    [[ "$got" == "$n" ]] || { echo "$who sub wrote $got lines, not $n" >&2; exit 1; }
    rm -f "$dir/out-$who"
  done
  awk -v a="${pub[sluice]}" -v b="${pub[baseline]}" -v c="${sub[sluice]}" -v d="${sub[baseline]}" \
    'BEGIN {printf "  sluice/baseline: publish %.2fx, consume %.2fx\n", a / b, c / d}'
done
