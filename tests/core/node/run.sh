#!/bin/sh
# Regenerate the Node reference traces for every topic and scenario.
#   traces/<topic>.txt        plain traces (`-- sync` marks the end of the sync part)
#   traces/ticks/<topic>.txt  same runs with TICKS=1 (nextTick generation markers)
set -eu
cd "$(dirname "$0")"
TOPICS="writable_backpressure writable_lifecycle cork_writev destroy readable_push_read readable_flow transform duplex pipe object_mode_errors text lifetime operator_args async_iter ordering"
mkdir -p traces/ticks
echo "# node $(node --version)" >&2
for t in $TOPICS; do
  out=traces/$t.txt
  tout=traces/ticks/$t.txt
  : > "$out"; : > "$tout"
  for s in $(node "$t.js"); do
    { echo "=== $s"; node "$t.js" "$s"; } >> "$out" 2>&1
    { echo "=== $s"; TICKS=1 node "$t.js" "$s"; } >> "$tout" 2>&1
  done
  echo "$t: $(grep -c '^===' "$out") scenarios" >&2
done
