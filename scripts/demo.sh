#!/usr/bin/env bash
# Builds sluice (Release, build/gcc) and runs the backpressure demo. Extra arguments are passed to
# the demo.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

"$root/scripts/setup.sh"

# Same build dir as scripts/test.sh; SLUICE_WERROR is left as cached so the two don't fight.
CXX=g++ cmake -S "$root" -B build/gcc -G Ninja -DCMAKE_BUILD_TYPE=Release
cmake --build build/gcc -j2

if [[ -x build/gcc/tools/sluice/sluice ]]; then
  exec build/gcc/tools/sluice/sluice demo backpressure "$@"
elif [[ -x build/gcc/example-01-backpressure ]]; then
  exec build/gcc/example-01-backpressure "$@"
else
  echo "demo.sh: no demo binary was built (expected build/gcc/tools/sluice/sluice" \
    "or build/gcc/example-01-backpressure)" >&2
  exit 1
fi
