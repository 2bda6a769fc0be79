#!/usr/bin/env bash
# Runs one libFuzzer harness of fuzz/ (docs/reliability.md, "Fuzzing"): first over its committed
# corpus (fuzz/corpus/NAME; every input must pass), then for SECONDS of fresh fuzzing starting
# from that corpus. New inputs go to a temporary directory (or --keep DIR); a crash, leak or
# timeout leaves its input in fuzz-artifacts/NAME/ under the current directory and fails.
#
# Usage: scripts/fuzz.sh [--build DIR | --binary PATH] [--keep DIR] NAME SECONDS [libFuzzer flags]
#   --build DIR    the sanitizer build holding fuzz_NAME (default build/asan, configured by
#                  scripts/test.sh with -DSLUICE_BUILD_FUZZ=ON); it is brought up to date first
#   --binary PATH  the harness itself (the test suite passes it)
#   --keep DIR     keep the new inputs in DIR (to merge into the corpus: fuzz/README.md)
# Example: scripts/fuzz.sh gunzip 600 -jobs=2 -workers=2
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="$root/build/asan"
binary=""
keep=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --build) build="$2"; shift 2 ;;
    --binary) binary="$2"; shift 2 ;;
    --keep) keep="$2"; shift 2 ;;
    -h|--help) sed -n '2,13p' "${BASH_SOURCE[0]}"; exit 0 ;;
    *) break ;;
  esac
done
if [[ $# -lt 2 ]]; then
  echo "usage: scripts/fuzz.sh [--build DIR | --binary PATH] [--keep DIR] NAME SECONDS [flags]" >&2
  exit 2
fi
name="$1"
seconds="$2"
shift 2
if ! [[ "$seconds" =~ ^[0-9]+$ ]]; then
  echo "fuzz.sh: SECONDS must be a whole number, not '$seconds'" >&2
  exit 2
fi
if [[ -z "$binary" ]]; then
  cmake --build "$build" --target "fuzz_$name"
  binary="$build/fuzz/fuzz_$name"
fi
if [[ ! -x "$binary" ]]; then
  echo "fuzz.sh: no harness at $binary (configure the sanitizer build with -DSLUICE_BUILD_FUZZ=ON)" >&2
  exit 2
fi
corpus="$root/fuzz/corpus/$name"
if [[ ! -d "$corpus" ]]; then
  echo "fuzz.sh: no corpus directory $corpus" >&2
  exit 2
fi

export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
artifacts="$PWD/fuzz-artifacts/$name"
mkdir -p "$artifacts"
common=(-timeout=60 -rss_limit_mb=2048 -max_len=8192 "-artifact_prefix=$artifacts/")

echo "fuzz.sh: $name over its corpus ($(find "$corpus" -type f | wc -l) inputs)"
"$binary" "${common[@]}" -runs=0 "$corpus"

if ((seconds > 0)); then
  fresh="$keep"
  if [[ -z "$fresh" ]]; then
    fresh="$(mktemp -d)"
    trap 'rm -rf "$fresh"' EXIT
  fi
  mkdir -p "$fresh"
  echo "fuzz.sh: $name for ${seconds}s"
  "$binary" "${common[@]}" -max_total_time="$seconds" -print_final_stats=1 "$@" "$fresh" "$corpus"
fi
echo "fuzz.sh: $name ok"
