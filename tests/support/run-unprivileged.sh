#!/usr/bin/env bash
# Runs a test binary as an unprivileged user (nobody), with device nodes that only root can make
# prepared beforehand: usage: run-unprivileged.sh TEST_BINARY [gtest arguments...]
# The nodes (full, null) go into a fresh directory owned by that user, so a program that wrongly
# replaced them by a rename would succeed in doing so, as it would in the user's own directory.
# Exits 77 (ctest: skipped) when not run as root or when setpriv is missing.
set -euo pipefail
if [[ $(id -u) -ne 0 ]] || ! command -v setpriv >/dev/null; then
  echo "run-unprivileged.sh: needs root and setpriv; skipped" >&2
  exit 77
fi
user_id=65534
dir=$(mktemp -d /tmp/sluice-unprivileged-XXXXXX)
trap 'rm -rf "$dir"' EXIT
mknod -m 666 "$dir/full" c 1 7
mknod -m 666 "$dir/null" c 1 3
chown "$user_id:$user_id" "$dir"
chmod 755 "$dir"
export SLUICE_TEST_DEVICE_DIR="$dir"
export TMPDIR="$dir"
export HOME="$dir"
setpriv --reuid="$user_id" --regid="$user_id" --clear-groups -- "$@"
