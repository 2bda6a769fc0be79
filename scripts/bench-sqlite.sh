#!/usr/bin/env bash
# The SQLite benchmarks (issue 16; docs/benchmarks.md), each beside its baselines in the same run:
#
#   write  ROWS rows of (bigint, text, double, timestamp) into a new file, WAL, synchronous=FULL
#          (SYNC), 1,000 rows per commit (BATCH): `sluice-bench sqlite write` against the sqlite3
#          CLI's `.import --csv` of the same rows under the same pragmas (one transaction: the
#          CLI's own way) and against Node's better-sqlite3 v12 (bench/node/sqlite.js: the same
#          transactions and prepared statement). Rows/s, ratios and peak RSS (/usr/bin/time -v).
#   read   the file read back: `sluice-bench sqlite read` against `sqlite3 -csv` to /dev/null.
#
#   scripts/bench-sqlite.sh [write|read|all]
#
# Knobs: ROWS (10000000), BATCH (1000), SYNC (full|normal), DIR (a temporary directory: the
# files are large), NODE_DIR (where better-sqlite3 is installed with npm: build/node-sqlite).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
what="${1:-all}"
rows="${ROWS:-10000000}"
batch="${BATCH:-1000}"
sync="${SYNC:-full}"
dir="${DIR:-$(mktemp -d)}"
node_dir="${NODE_DIR:-$root/build/node-sqlite}"

echo "==> building sluice-bench (Release, build/gcc)"
CXX=g++ cmake -S "$root" -B build/gcc -G Ninja -DCMAKE_BUILD_TYPE=Release -DSLUICE_BUILD_BENCH=ON >/dev/null
cmake --build build/gcc -j1 --target sluice-bench >/dev/null
bench=build/gcc/sluice-bench
if [[ ! -d "$node_dir/node_modules/better-sqlite3" ]]; then
  echo "==> npm install better-sqlite3@12 into $node_dir"
  mkdir -p "$node_dir"
  (cd "$node_dir" && npm install --no-audit --no-fund better-sqlite3@12 >/dev/null)
fi
echo "== $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg), $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "== sqlite3 $(sqlite3 --version | cut -d' ' -f1) (CLI and sluice), better-sqlite3 bundles" \
  "$(NODE_PATH="$node_dir/node_modules" node -e \
    "console.log(new (require('better-sqlite3'))(':memory:').prepare('select sqlite_version() v').get().v)")"

# Runs a command under /usr/bin/time -v; prints its RESULT line and peak RSS, and sets $rate.
timed() {
  local label="$1"
  shift
  local log="$dir/time.log" out
  out="$(/usr/bin/time -v "$@" 2>"$log")" || {
    cat "$log" >&2
    echo "$label failed" >&2
    exit 1
  }
  local secs rss
  secs="$(awk -F': ' '/Elapsed \(wall clock\)/ {n = split($2, p, ":"); s = 0;
            for (i = 1; i <= n; ++i) s = s * 60 + p[i]; print s}' "$log")"
  rss="$(awk -F': ' '/Maximum resident set size/ {printf "%.1f", $2 / 1024}' "$log")"
  rate="$(awk -v r="$rows" -v s="$secs" 'BEGIN {printf "%.0f", r / s}')"
  printf '%-26s %10s rows/s  %7.2f s  peak RSS %7s MiB\n' "$label" "$rate" "$secs" "$rss"
  [[ -n "$out" ]] && echo "    $out"
  return 0
}

if [[ "$what" == write || "$what" == all ]]; then
  echo
  echo "-- write: $rows rows, $batch rows per commit, WAL, synchronous=$sync"
  "$bench" sqlite csv --rows "$rows" --file "$dir/rows.csv"
  timed "sluice sqlite_writer" "$bench" sqlite write --rows "$rows" --batch "$batch" \
    --sync "$sync" --file "$dir/sluice.db"
  sluice_rate="$rate"
  rm -f "$dir/cli.db"*
  sqlite3 "$dir/cli.db" "PRAGMA journal_mode=WAL" \
    "CREATE TABLE t (id INTEGER NOT NULL, name TEXT NOT NULL, v REAL NOT NULL, at TEXT NOT NULL)" \
    >/dev/null
  timed "sqlite3 CLI .import" sqlite3 -cmd "PRAGMA synchronous=$sync" "$dir/cli.db" \
    ".import --csv $dir/rows.csv t"
  cli_rate="$rate"
  [[ "$(sqlite3 "$dir/cli.db" 'SELECT count(*) FROM t')" == "$rows" ]] || {
    echo "CLI import lost rows" >&2
    exit 1
  }
  timed "node better-sqlite3" env NODE_PATH="$node_dir/node_modules" node bench/node/sqlite.js \
    --rows "$rows" --batch "$batch" --sync "$sync" --file "$dir/node.db"
  node_rate="$rate"
  awk -v s="$sluice_rate" -v c="$cli_rate" -v n="$node_rate" \
    'BEGIN {printf "ratios: sluice/CLI %.2f×, sluice/node %.2f×\n", s / c, s / n}'
  rm -f "$dir/rows.csv" "$dir/cli.db"* "$dir/node.db"*
fi

if [[ "$what" == read || "$what" == all ]]; then
  echo
  echo "-- read: $rows rows back"
  if [[ ! -f "$dir/sluice.db" ]]; then
    "$bench" sqlite write --rows "$rows" --batch "$batch" --sync normal --file "$dir/sluice.db" \
      >/dev/null
  fi
  timed "sluice sqlite_reader" "$bench" sqlite read --rows "$rows" --file "$dir/sluice.db"
  sluice_rate="$rate"
  timed "sqlite3 -csv > /dev/null" sh -c "sqlite3 -csv '$dir/sluice.db' \
    'SELECT id, name, v, at FROM t' > /dev/null"
  cli_rate="$rate"
  awk -v s="$sluice_rate" -v c="$cli_rate" 'BEGIN {printf "ratio: sluice/CLI %.2f×\n", s / c}'
fi
[[ -z "${DIR:-}" ]] && rm -rf "$dir"
exit 0
