#!/usr/bin/env bash
# The PostgreSQL load benchmark (issue 16, "Performance"; docs/benchmarks.md): ROWS rows of
# (id bigint, name text, v double precision, at timestamptz) from one CSV file with a header into
# a table t (id primary key), on a throwaway server (scripts/pg-server.sh: Unix socket, fsync off),
# six contenders side by side in each round, in a rotating order:
#
#   psql    psql -c "\copy t from FILE csv header"          (the server parses the CSV)
#   sluice  sluice run 'read FILE | csv --header | pg "CONNINFO" t --batch BATCH'
#                                  (sluice parses, COPY text format, two connections: the CLI's
#                                  default)
#   sluice_1c   the same with --connections 1 (one COPY at a time, commits strictly in order)
#   node    bench/node/pg_copy.js: fs.createReadStream piped into pg-copy-streams'
#           COPY t FROM STDIN WITH (FORMAT csv, HEADER true)  (npm pg 8, pg-copy-streams 6)
#   psql_bin    psql -c "\copy t from FILE.bin (format binary)"  (the same rows in COPY's binary
#               format, exported by the server once before the rounds: no parsing anywhere)
#   sluice_bin  sluice run 'read FILE | csv --header | pg "CONNINFO" t --batch BATCH --binary'
#               (sluice parses the CSV and encodes by the columns' types, binary COPY)
#
# Before each run the table is truncated (and a CHECKPOINT taken); after it, count(*) must be
# ROWS. Wall time (bash's EPOCHREALTIME) and peak RSS of the client process (/usr/bin/time -v;
# the server's own memory is not counted; server and client share the machine's cores). Prints
# each run's rows/s and RSS, then per contender the median and min-max, and the ratios
# sluice/psql, sluice_1c/psql, sluice/node, sluice_bin/psql_bin and sluice_bin/node (ratio of
# the medians, and the min-max of the per-round ratios).
#
# READ=1 adds the read-back (issue 16: rows/s against psql, RSS flat): the loaded table read out
# as CSV to a pipe counting its lines, REPEAT rounds, alternating:
#
#   psql_out    psql -c "\copy (SELECT id, name, v, at FROM t) to stdout csv"
#   sluice_out  sluice run 'pg-query "CONNINFO" "SELECT id, name, v, at FROM t" | to-csv'
#               (db::pg_reader: COPY (query) TO STDOUT in text format, parsed into records by
#               the columns' types, then written as CSV again)
#
# STALL=1 adds a backpressure check: sluice runs once normally and once while its COPY backends
# (both connections', found in pg_stat_activity) are stopped with SIGSTOP for STALL_SECS seconds, then SIGCONT; the
# sluice process's VmRSS is sampled every 100 ms from /proc and the peaks compared (issue 16:
# through a stalled server RSS stays <= 8 MiB above the idle figure). With a small ROWS the load
# may end before the stall begins; the script says so.
#
#   scripts/bench-pg.sh
#   ROWS=100000 REPEAT=1 STALL=1 SLUICE=build/gcc/tools/sluice/sluice scripts/bench-pg.sh
#
# Knobs: ROWS (10000000), REPEAT (3 rounds), BATCH (10000: rows per COPY for sluice's pg stage),
# LOAD (1; 0 skips the load rounds), READ (0), STALL (0), STALL_SECS (3), SLUICE (a built sluice
# CLI; unset: builds it, Release, in BUILD = build/gcc), NODE_DIR (where pg and pg-copy-streams
# are installed with npm: build/node-pg), DIR (for the CSV, about 55 bytes a row; default a
# temporary directory, removed at the end).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
rows="${ROWS:-10000000}"
repeat="${REPEAT:-3}"
batch="${BATCH:-10000}"
stall="${STALL:-0}"
read_back="${READ:-0}"
load="${LOAD:-1}"
stall_secs="${STALL_SECS:-3}"
build="${BUILD:-build/gcc}"
node_dir="${NODE_DIR:-$root/build/node-pg}"
dir="${DIR:-$(mktemp -d)}"
mkdir -p "$dir"
# The server gets its own directory: as root, pg-server.sh runs it as nobody and hands it the
# directory, which a 0700 temporary parent would make unreachable.
server_dir="$(mktemp -d)"
stopped_pid=""
bg_pid=""

# shellcheck disable=SC2317  # called by the trap
cleanup() {
  # shellcheck disable=SC2086  # a list of pids
  [[ -n "$stopped_pid" ]] && kill -CONT $stopped_pid 2>/dev/null
  [[ -n "$bg_pid" ]] && kill "$bg_pid" 2>/dev/null && wait "$bg_pid" 2>/dev/null
  "$root/scripts/pg-server.sh" stop "$server_dir" || true
  [[ -z "${DIR:-}" ]] && rm -rf "$dir"
  return 0
}
trap cleanup EXIT

for tool in psql node npm /usr/bin/time; do
  command -v "$tool" >/dev/null 2>&1 || {
    echo "bench-pg.sh: '$tool' is needed (scripts/setup.sh installs the Debian packages)" >&2
    exit 1
  }
done

if [[ -n "${SLUICE:-}" ]]; then
  sluice="$(cd "$(dirname "$SLUICE")" && pwd)/$(basename "$SLUICE")"
else
  echo "==> building the sluice CLI (Release, $build)"
  CXX=g++ cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
  cmake --build "$build" -j2 --target sluice-tool >/dev/null
  sluice="$root/$build/tools/sluice/sluice"
fi
if [[ ! -d "$node_dir/node_modules/pg-copy-streams" || ! -d "$node_dir/node_modules/pg" ]]; then
  echo "==> npm install pg@8 pg-copy-streams@6 into $node_dir"
  mkdir -p "$node_dir"
  (cd "$node_dir" && npm install --no-audit --no-fund pg@8 pg-copy-streams@6 >/dev/null)
fi

echo "==> starting a throwaway PostgreSQL server in $server_dir"
"$root/scripts/pg-server.sh" start "$server_dir"
conninfo="host=$server_dir user=sluice dbname=postgres"
q() { psql "$conninfo" -X -q -A -t -v ON_ERROR_STOP=1 -c "$1"; }
q "CREATE TABLE t (id bigint PRIMARY KEY, name text, v double precision, at timestamptz)"

csv="$dir/rows.csv"
echo "==> generating $rows rows of CSV into $csv"
# Every 7th name is quoted with a comma and doubled quotes inside; timestamps are RFC 3339 UTC,
# one second apart from 2026-01-01.
awk -v n="$rows" 'BEGIN {
  print "id,name,v,at"
  for (i = 1; i <= n; ++i) {
    if (i % 7 == 0) name = sprintf("\"name, \"\"%d\"\"\"", i % 1000)
    else name = "name-" (i % 1000)
    printf "%d,%s,%.6f,%s\n", i, name, i / 7, strftime("%Y-%m-%dT%H:%M:%SZ", 1767225600 + i, 1)
  }
}' >"$csv"

bin="$dir/rows.bin"
echo "==> exporting the rows in COPY's binary format into $bin"
psql "$conninfo" -X -q -v ON_ERROR_STOP=1 -c "\\copy t from '$csv' csv header"
psql "$conninfo" -X -q -v ON_ERROR_STOP=1 -c "\\copy t to '$bin' (format binary)"
q "TRUNCATE t"

pg_version="$(q 'SHOW server_version')"
node_versions="$(cd "$node_dir" && node -e "console.log('pg ' + require('pg/package.json').version +
  ', pg-copy-streams ' + require('pg-copy-streams/package.json').version)")"
echo "== $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg), $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "== PostgreSQL $pg_version (server and psql $(psql --version | awk '{print $3}')), node" \
  "$(node --version) with $node_versions"
echo "== $rows rows, $(du -h "$csv" | cut -f1) of CSV, sluice --batch $batch"

reset_table() { q "TRUNCATE t" && q "CHECKPOINT"; }
check_count() {
  local got
  got="$(q 'SELECT count(*) FROM t')"
  [[ "$got" == "$rows" ]] || {
    echo "bench-pg.sh: $1: $got rows in t, expected $rows" >&2
    exit 1
  }
}

# The contenders' command lines, each after a prefix (/usr/bin/time -v, or nothing).
# shellcheck disable=SC2317  # called as "run_$name"
run_psql() { "$@" psql "$conninfo" -X -q -v ON_ERROR_STOP=1 -c "\\copy t from '$csv' csv header"; }
run_sluice() { "$@" "$sluice" run "read $csv | csv --header | pg \"$conninfo\" t --batch $batch"; }
# shellcheck disable=SC2317
run_sluice_1c() {
  "$@" "$sluice" run "read $csv | csv --header | pg \"$conninfo\" t --batch $batch --connections 1"
}
# shellcheck disable=SC2317
run_psql_bin() {
  "$@" psql "$conninfo" -X -q -v ON_ERROR_STOP=1 -c "\\copy t from '$bin' (format binary)"
}
# shellcheck disable=SC2317
run_sluice_bin() {
  "$@" "$sluice" run "read $csv | csv --header | pg \"$conninfo\" t --batch $batch --binary"
}
# shellcheck disable=SC2317
run_node() {
  "$@" env NODE_PATH="$node_dir/node_modules" node "$root/bench/node/pg_copy.js" --file "$csv" \
    --conninfo "$conninfo" --rows "$rows" >/dev/null
}

# Every run's "round name rows_per_s seconds rss_mib", loads and read-backs alike.
results="$dir/results.txt"
: >"$results"

# record NAME ROUND T0 LOG: a finished run (started at bash time T0, /usr/bin/time -v's report
# in LOG): prints it and appends it to $results. Wall time from bash's clock (time -v's has a
# resolution of 10 ms).
record() {
  local name="$1" round="$2" t0="$3" log="$4" secs rss rate
  secs="$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN {printf "%.3f", b - a}')"
  rss="$(awk -F': ' '/Maximum resident set size/ {printf "%.1f", $2 / 1024}' "$log")"
  rate="$(awk -v r="$rows" -v s="$secs" 'BEGIN {printf "%.0f", r / s}')"
  printf '  round %d  %-10s %10s rows/s  %7.2f s  peak RSS %7s MiB\n' "$round" "$name" "$rate" \
    "$secs" "$rss"
  echo "$round $name $rate $secs $rss" >>"$results"
}

# timed NAME ROUND: one load by the contender under /usr/bin/time -v, row count checked.
timed() {
  local name="$1" round="$2" log="$dir/time.log" t0
  reset_table
  t0="$EPOCHREALTIME"
  "run_$name" /usr/bin/time -v 2>"$log" || {
    cat "$log" >&2
    echo "bench-pg.sh: $name failed" >&2
    exit 1
  }
  record "$name" "$round" "$t0" "$log"
  check_count "$name"
}

declare -A med
median() {
  sort -n | awk '{a[NR] = $1}
    END {printf "%.1f\n", (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}'
}
# summarize NAME...: per contender the median rows/s (also into med[NAME]), min-max and RSS.
summarize() {
  local name lo hi rss
  for name in "$@"; do
    med[$name]="$(awk -v n="$name" '$2 == n {print $3}' "$results" | median)"
    lo="$(awk -v n="$name" '$2 == n {print $3}' "$results" | sort -n | head -1)"
    hi="$(awk -v n="$name" '$2 == n {print $3}' "$results" | sort -n | tail -1)"
    rss="$(awk -v n="$name" '$2 == n {print $5}' "$results" | median)"
    printf '  %-10s %10.0f rows/s  (%s-%s)  peak RSS %s MiB\n' "$name" "${med[$name]}" "$lo" \
      "$hi" "$rss"
  done
}
# ratios OURS/BASE...: the ratio of the medians, and the min-max of the per-round ratios.
ratios() {
  local pair ours base spread
  for pair in "$@"; do
    ours="${pair%/*}"
    base="${pair#*/}"
    spread="$(awk -v a="$ours" -v b="$base" '$2 == a {s[$1] = $3} $2 == b {o[$1] = $3}
      END {lo = 1e9; hi = 0; for (r in s) {x = s[r] / o[r]; if (x < lo) lo = x; if (x > hi) hi = x}
           printf "%.2f-%.2f", lo, hi}' "$results")"
    awk -v s="${med[$ours]}" -v o="${med[$base]}" -v p="$pair" -v sp="$spread" \
      'BEGIN {printf "  %-20s %.2f× (ratio of medians; per round %s)\n", p, s / o, sp}'
  done
}

if [[ "$load" == 1 ]]; then
  echo
  echo "-- load: $repeat round(s); psql \\copy, sluice (csv | pg, text COPY; sluice_1c: on" \
    "one connection), node pg-copy-streams, psql \\copy binary, sluice binary COPY"
  contenders=(psql sluice sluice_1c node psql_bin sluice_bin)
  for ((r = 1; r <= repeat; ++r)); do
    for ((k = 0; k < ${#contenders[@]}; ++k)); do
      timed "${contenders[$(((r - 1 + k) % ${#contenders[@]}))]}" "$r"
    done
  done
  echo
  echo "-- summary (rows/s: median, min-max; peak RSS of the client: median)"
  summarize "${contenders[@]}"
  ratios sluice/psql sluice_1c/psql sluice/node sluice_bin/psql_bin sluice_bin/psql sluice_bin/node
fi

# ---- READ=1: the table read back ---------------------------------------------------------------
select_sql="SELECT id, name, v, at FROM t"
# shellcheck disable=SC2317  # called as "out_$name"
out_psql_out() {
  "$@" psql "$conninfo" -X -q -v ON_ERROR_STOP=1 -c "\\copy ($select_sql) to stdout csv"
}
# shellcheck disable=SC2317
out_sluice_out() { "$@" "$sluice" run "pg-query \"$conninfo\" \"$select_sql\" | to-csv"; }

# timed_out NAME ROUND: one read-back under /usr/bin/time -v, its lines counted.
timed_out() {
  local name="$1" round="$2" log="$dir/time.log" t0 lines
  t0="$EPOCHREALTIME"
  lines="$("out_$name" /usr/bin/time -v 2>"$log" | wc -l)"
  record "$name" "$round" "$t0" "$log"
  [[ "$lines" == "$rows" ]] || {
    cat "$log" >&2
    echo "bench-pg.sh: $name wrote $lines lines, expected $rows" >&2
    exit 1
  }
}

if [[ "$read_back" == 1 ]]; then
  echo
  echo "-- read back: $repeat round(s); psql \\copy (SELECT ...) to stdout," \
    "sluice pg-query | to-csv"
  reset_table
  psql "$conninfo" -X -q -v ON_ERROR_STOP=1 -c "\\copy t from '$csv' csv header"
  for ((r = 1; r <= repeat; ++r)); do
    if ((r % 2)); then order=(psql_out sluice_out); else order=(sluice_out psql_out); fi
    for name in "${order[@]}"; do timed_out "$name" "$r"; done
  done
  summarize psql_out sluice_out
  ratios sluice_out/psql_out
fi

# ---- STALL=1: RSS through a stopped backend ------------------------------------------------------
# rss_run STALL?: sluice in the background, VmRSS sampled every 100 ms into $dir/rss.txt as
# "epoch_seconds kib"; with a stall, the COPY backends are stopped for $stall_secs once both
# connections have one (or after 3 s, those there are).
# Sets stop_at and cont_at (epoch seconds, empty without a stall) and run_secs.
rss_run() {
  local do_stall="$1" t0 backends="" spid tries=0
  stop_at=""
  cont_at=""
  reset_table
  t0="$EPOCHREALTIME"
  run_sluice exec &   # exec: $! is sluice itself, not a subshell
  spid=$!
  bg_pid=$spid
  (
    while [[ -r /proc/$spid/status ]]; do
      awk -v t="$EPOCHREALTIME" '/^VmRSS:/ {print t, $2}' "/proc/$spid/status" 2>/dev/null || true
      sleep 0.1
    done
  ) >"$dir/rss.txt" &
  local sampler=$!
  if [[ "$do_stall" == 1 ]]; then
    # (A backend keeps its last query in pg_stat_activity between two COPYs.)
    while kill -0 "$spid" 2>/dev/null && (($(wc -w <<<"$backends") < 2 && tries < 60)); do
      backends="$(q "SELECT pid FROM pg_stat_activity WHERE query ILIKE 'copy%' AND
                     pid <> pg_backend_pid()")"
      ((++tries))
      sleep 0.05
    done
    if [[ -n "$backends" ]] && kill -0 "$spid" 2>/dev/null; then
      stopped_pid="${backends//$'\n'/ }"
      stop_at="$EPOCHREALTIME"
      # shellcheck disable=SC2086  # a list of pids
      kill -STOP $stopped_pid
      sleep "$stall_secs"
      cont_at="$EPOCHREALTIME"
      # shellcheck disable=SC2086
      kill -CONT $stopped_pid
      stopped_pid=""
    fi
  fi
  wait "$spid" || {
    echo "bench-pg.sh: sluice failed (stall=$do_stall)" >&2
    exit 1
  }
  bg_pid=""
  run_secs="$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN {printf "%.2f", b - a}')"
  wait "$sampler" || true
  check_count "sluice (stall=$do_stall)"
}
peak_mib() { awk -v a="${1:-0}" -v b="${2:-1e18}" '$1 >= a + 0 && $1 <= b + 0 && $2 > m {m = $2}
  END {printf "%.1f", m / 1024}' "$dir/rss.txt"; }

if [[ "$stall" == 1 ]]; then
  echo
  echo "-- stall: sluice's RSS (VmRSS every 100 ms), unstalled vs its COPY backends stopped" \
    "${stall_secs} s"
  rss_run 0
  printf '  unstalled  %6s s  peak RSS %s MiB  (%d samples)\n' "$run_secs" "$(peak_mib)" \
    "$(wc -l <"$dir/rss.txt")"
  rss_run 1
  if [[ -z "$stop_at" ]]; then
    printf '  stalled    %6s s  peak RSS %s MiB: the load ended before the stall began' \
      "$run_secs" "$(peak_mib)"
    echo " (raise ROWS)"
  else
    before="$(peak_mib 0 "$stop_at")"
    during="$(peak_mib "$stop_at" "$(awk -v c="$cont_at" 'BEGIN {printf "%.6f", c + 0.2}')")"
    printf '  stalled    %6s s  peak RSS %s MiB; before the stop %s MiB, during it %s MiB' \
      "$run_secs" "$(peak_mib)" "$before" "$during"
    awk -v a="$before" -v b="$during" 'BEGIN {printf " (%+.1f MiB)\n", b - a}'
  fi
fi
exit 0
