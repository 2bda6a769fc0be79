#!/usr/bin/env bash
# THE test command: setup, format check, GCC Release build + tests, Clang ASan/UBSan build +
# tests (with the libFuzzer harnesses over their corpora), a Clang TSan build of the
# thread-crossing tests, and packaging checks (install + find_package, add_subdirectory).
#
# Environment knobs:
#   SLUICE_SKIP_ASAN=1       skip the sanitizer build and test run (quick local runs)
#   SLUICE_SKIP_TSAN=1       skip the ThreadSanitizer build and run of the thread-crossing tests
#   SLUICE_TEST_TIMEOUT=N    per-test timeout in seconds for ctest (default 300)
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

jobs=2
test_timeout="${SLUICE_TEST_TIMEOUT:-300}"
total_start=$SECONDS
step_start=$SECONDS
step_name=""
summary=()

# step <short name> <description>: ends the previous step (timing it) and starts the next.
step() {
  end_step
  step_name="$1"
  step_start=$SECONDS
  echo
  echo "==> [${step_name}] $2"
}

end_step() {
  if [[ -n "$step_name" ]]; then
    local took=$((SECONDS - step_start))
    echo "<== [${step_name}] ok (${took}s)"
    summary+=("${step_name} ${took}s")
    step_name=""
  fi
}

on_exit() {
  local rc=$?
  # A NATS cluster started for the TSan run goes, whatever happened.
  [[ -n "${tsan_nats:-}" ]] && scripts/nats-cluster.sh stop "$tsan_nats" >/dev/null 2>&1
  if ((rc != 0)) && [[ -n "$step_name" ]]; then
    echo
    echo "scripts/test.sh: FAILED in step '${step_name}' (exit ${rc}, after $((SECONDS - total_start))s)"
  fi
}
trap on_exit EXIT

# configure <source dir> <build dir> <cxx> <cmake args...>: configures with Ninja, reusing the
# build dir unless it was made with another generator or compiler (then it is made afresh).
configure() {
  local src="$1" dir="$2" cxx="$3"
  shift 3
  local cache="$dir/CMakeCache.txt"
  if [[ -f "$cache" ]]; then
    local gen compiler want
    gen="$(sed -n 's/^CMAKE_GENERATOR:INTERNAL=//p' "$cache")"
    compiler="$(sed -n 's/^CMAKE_CXX_COMPILER:[A-Z]*=//p' "$cache")"
    want="$(command -v "$cxx" || echo "$cxx")"
    if [[ "$gen" != "Ninja" || ( -n "$compiler" && "$compiler" != "$want" ) ]]; then
      echo "configure: $dir was set up with '$gen' / '$compiler'; starting afresh"
      rm -rf "$dir"
    fi
  fi
  CXX="$cxx" cmake -S "$src" -B "$dir" -G Ninja "$@"
}

run_ctest() {
  ctest --test-dir "$1" --output-on-failure -j"$jobs" --timeout "$test_timeout"
}

step setup "scripts/setup.sh"
"$root/scripts/setup.sh"

step format "clang-format --dry-run -Werror over include src tests bench examples tools fuzz"
clang-format --version
dirs=()
for d in include src tests bench examples tools fuzz; do
  if [[ -d "$d" ]]; then dirs+=("$d"); fi
done
files=()
if ((${#dirs[@]} > 0)); then
  while IFS= read -r -d '' f; do files+=("$f"); done < <(
    find "${dirs[@]}" \( -name build -o -name 'build-*' -o -name node_modules -o -name '.*' \) \
      -prune -o -type f \( -name '*.hpp' -o -name '*.cpp' \) -print0 | sort -z)
fi
echo "checking ${#files[@]} files"
if ((${#files[@]} > 0)); then
  clang-format --dry-run -Werror "${files[@]}"
fi

step gcc-build "g++ Release build in build/gcc (SLUICE_WERROR=ON)"
configure "$root" build/gcc g++ -DCMAKE_BUILD_TYPE=Release -DSLUICE_WERROR=ON -DSLUICE_SANITIZE=OFF
cmake --build build/gcc -j"$jobs"

step gcc-test "ctest --test-dir build/gcc"
run_ctest build/gcc

if [[ "${SLUICE_SKIP_ASAN:-0}" == "1" ]]; then
  end_step
  echo
  echo "==> sanitizer build and tests skipped (SLUICE_SKIP_ASAN=1)"
  summary+=("asan skipped")
else
  # Debug (assertions on). The library and the tool at -O1 with line tables (-g1: stack traces
  # name file and line); the test programs at -O0, which compiles them 2.8x faster under the
  # sanitizers, and they mostly drive the library's code. The library, the CLI and the tests
  # only: the examples and benchmarks were compiled by the GCC build and do not run here, so
  # building them again under the sanitizers would only cost time.
  export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1"
  export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"

  step asan-build "clang++ ASan+UBSan Debug -O1 build in build/asan (SLUICE_WERROR=ON)"
  # The libFuzzer harnesses (fuzz/) are built here too; their tests (label "fuzz") replay each
  # corpus and fuzz for a few seconds afresh.
  configure "$root" build/asan clang++ -DCMAKE_BUILD_TYPE=Debug -DCMAKE_CXX_FLAGS_DEBUG="-g1 -O1" \
    -DSLUICE_TEST_COMPILE_OPTIONS=-O0 -DSLUICE_WERROR=ON -DSLUICE_SANITIZE=ON -DSLUICE_BUILD_FUZZ=ON \
    -DSLUICE_BUILD_EXAMPLES=OFF -DSLUICE_BUILD_BENCH=OFF
  cmake --build build/asan -j"$jobs"

  step asan-test "ctest --test-dir build/asan (ASan+UBSan)"
  run_ctest build/asan
fi

if [[ "${SLUICE_SKIP_TSAN:-0}" == "1" ]]; then
  echo
  echo "==> ThreadSanitizer build and tests skipped (SLUICE_SKIP_TSAN=1)"
  summary+=("tsan skipped")
else
  # ThreadSanitizer, for the code that crosses threads only: the pools that run blocking calls
  # and CPU work and post results back to the loop (files, copy_file, stdio, parallel gzip,
  # offload), the loop's own cross-thread entry points, and the messaging layer (libnats' threads
  # post publish acknowledgements and fetched batches to the loop). The library is built whole;
  # only those tests are, and they run straight from the test program, with a NATS cluster of
  # their own for the JetStream suites.
  export TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1"
  tsan_tests="tests/offload/|tests/codec/compress_parallel_test|tests/io/file_test|tests/io/copy_file_test|tests/io/stdio_test|tests/core/loop_test|tests/messaging/"
  step tsan-build "clang++ TSan Debug -O1 build of the thread-crossing tests in build/tsan"
  configure "$root" build/tsan clang++ -DCMAKE_BUILD_TYPE=Debug -DCMAKE_CXX_FLAGS_DEBUG="-g1 -O1" \
    -DSLUICE_TEST_COMPILE_OPTIONS=-O0 -DSLUICE_WERROR=ON -DSLUICE_TSAN=ON \
    -DSLUICE_BUILD_EXAMPLES=OFF -DSLUICE_BUILD_BENCH=OFF -DSLUICE_BUILD_TOOLS=OFF \
    "-DSLUICE_TEST_FILTER=$tsan_tests"
  cmake --build build/tsan -j"$jobs" --target sluice_tests

  step tsan-test "build/tsan/sluice_tests (ThreadSanitizer)"
  tsan_nats="$(mktemp -d /tmp/sluice-tsan-nats.XXXXXX)"
  scripts/nats-cluster.sh start "$tsan_nats"
  SLUICE_NATS_DIR="$tsan_nats" build/tsan/sluice_tests --gtest_brief=1
  scripts/nats-cluster.sh stop "$tsan_nats"
  tsan_nats=""
fi

step package-find "install build/gcc into build/prefix; tests/package/find_package against it"
rm -rf build/prefix
cmake --install build/gcc --prefix "$root/build/prefix"
configure "$root/tests/package/find_package" build/package/find_package g++ \
  -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH="$root/build/prefix"
cmake --build build/package/find_package -j"$jobs"
build/package/find_package/consumer
echo "find_package consumer: ok"

# sluice as a subproject: it configures (only the library: the consumer's CMakeLists fails if
# the tests or benchmarks come along) and a consumer compiles against sluice::sluice's usage
# requirements. Only the consumer's object is built: linking it would compile the whole library
# a fourth time (two minutes of the budget) to check what the GCC build has compiled and
# linked, and what the find_package consumer above has linked and run.
step package-subdir "tests/package/add_subdirectory (configure; compile the consumer)"
configure "$root/tests/package/add_subdirectory" build/package/add_subdirectory g++ \
  -DCMAKE_BUILD_TYPE=Debug -DCMAKE_CXX_FLAGS_DEBUG=-O0 -DSLUICE_SOURCE_DIR="$root"
cmake --build build/package/add_subdirectory -j"$jobs" --target CMakeFiles/consumer.dir/main.cpp.o
echo "add_subdirectory consumer: compiles"

end_step
echo
summary_text="$(printf '%s, ' "${summary[@]}")"
echo "scripts/test.sh: all steps passed in $((SECONDS - total_start))s (${summary_text%, })"
