#!/usr/bin/env bash
# Two network namespaces joined by a veth pair, for the socket benchmarks across a real (if
# virtual) link instead of loopback, optionally rate-limited with a token bucket.
#
#   scripts/netns.sh up [PREFIX]          create PREFIX-a and PREFIX-b (default PREFIX: sluice-PID),
#                                         print PREFIX; veth0 in each, ADDR_A (10.77.0.1/24) in -a,
#                                         ADDR_B (10.77.0.2/24) in -b, lo up in both
#   RATE=100mbit scripts/netns.sh up ...  also `tc qdisc add dev veth0 root tbf rate $RATE
#                                         burst 32kbit latency 400ms` on both ends
#   scripts/netns.sh exec NS CMD...       run CMD in namespace NS (PREFIX-a or PREFIX-b)
#   scripts/netns.sh down PREFIX          delete both namespaces (the veth pair goes with them)
#
# Exits with 77 (skip) when not root or when `ip netns` is not available or not permitted here.
set -euo pipefail

skip() { echo "netns.sh: skipped: $*" >&2; exit 77; }
usage() { sed -n '2,13p' "$0" >&2; exit 2; }

[[ $# -ge 1 ]] || usage
cmd="$1"; shift
[[ "$(id -u)" == 0 ]] || skip "needs root (network namespaces and tc), running as uid $(id -u)"
command -v ip >/dev/null || skip "no 'ip' command (apt-get install iproute2)"
ip netns list >/dev/null 2>&1 || skip "'ip netns' is not available ($(ip netns list 2>&1 | head -1))"

addr_a="${ADDR_A:-10.77.0.1/24}"
addr_b="${ADDR_B:-10.77.0.2/24}"

case "$cmd" in
up)
  prefix="${1:-sluice-$$}"
  a="$prefix-a" b="$prefix-b"
  if ip netns list | grep -qE "^($a|$b)( |$)"; then
    echo "netns.sh: $a or $b exists already (scripts/netns.sh down $prefix)" >&2
    exit 1
  fi
  if ! err=$(ip netns add "$a" 2>&1); then skip "ip netns add failed: $err"; fi
  # From here on, a failure removes what was made.
  trap 'ip netns del "$a" 2>/dev/null || true; ip netns del "$b" 2>/dev/null || true' ERR
  ip netns add "$b"
  # Both ends are created inside their namespaces: no interface name in the root namespace.
  ip link add name veth0 netns "$a" type veth peer name veth0 netns "$b"
  for ns in "$a" "$b"; do
    ip -n "$ns" link set lo up
    ip -n "$ns" link set veth0 up
  done
  ip -n "$a" addr add "$addr_a" dev veth0
  ip -n "$b" addr add "$addr_b" dev veth0
  if [[ -n "${RATE:-}" ]]; then
    for ns in "$a" "$b"; do
      ip netns exec "$ns" tc qdisc add dev veth0 root tbf rate "$RATE" burst 32kbit latency 400ms
    done
  fi
  trap - ERR
  echo "$prefix"
  ;;
exec)
  [[ $# -ge 2 ]] || usage
  ns="$1"; shift
  exec ip netns exec "$ns" "$@"
  ;;
down)
  [[ $# -eq 1 ]] || usage
  status=0
  for ns in "$1-a" "$1-b"; do
    if ip netns list | grep -qE "^$ns( |$)"; then
      ip netns del "$ns" || status=1
    fi
  done
  exit "$status"
  ;;
*) usage ;;
esac
