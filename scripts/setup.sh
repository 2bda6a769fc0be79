#!/usr/bin/env bash
# Installs the Debian packages sluice needs to build, test, benchmark and package.
# Idempotent: asks apt only for the packages that are missing, and does nothing if none are.
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config g++
  clang clang-format libclang-rt-14-dev
  libboost1.81-dev libgtest-dev libgmock-dev libbenchmark-dev
  zlib1g-dev libisal-dev libzstd-dev libbrotli-dev libcli11-dev
  libre2-dev libpcre2-dev
  zstd brotli gzip isal hyperfine time python3 gnuplot-nox
  bsdutils  # script(1): the CLI tests give a command a terminal
  libssl-dev openssl  # TLS sockets and HTTPS; the tests make their own certificates
  # Real peers and baselines for sockets and HTTP: clients, servers, attack tools.
  curl wrk netcat-openbsd slowhttptest nginx-light iproute2
  tmux  # the live view (run --monitor) is tested on a real terminal: a tmux pane
  # Databases: SQLite embedded (and its CLI as a baseline); PostgreSQL 15, whose server the tests
  # start themselves in a temporary directory (initdb, pg_ctl), and its client library.
  libsqlite3-dev sqlite3 libpq-dev postgresql postgresql-client
  # Messaging: NATS JetStream through libnats; the tests start a three-node nats-server cluster
  # of their own (scripts/nats-cluster.sh).
  libnats-dev nats-server
  # Metrics: promtool checks the /metrics text; a Prometheus server started by a test scrapes a
  # running pipeline (the package's service is not started: the test runs its own server).
  prometheus
)

if ! command -v dpkg-query >/dev/null 2>&1 || ! command -v apt-get >/dev/null 2>&1; then
  echo "setup.sh: not a Debian-like system (no dpkg-query/apt-get); install these yourself:" >&2
  echo "  ${packages[*]}" >&2
  exit 0
fi

missing=()
for pkg in "${packages[@]}"; do
  status="$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)"
  if [[ "$status" != "install ok installed" ]]; then
    missing+=("$pkg")
  fi
done

if ((${#missing[@]} == 0)); then
  echo "setup.sh: all ${#packages[@]} packages already installed"
else
  sudo=()
  if [[ "$(id -u)" -ne 0 ]]; then
    if ! command -v sudo >/dev/null 2>&1; then
      echo "setup.sh: missing packages (${missing[*]}) and not root, no sudo" >&2
      exit 1
    fi
    sudo=(sudo)
  fi
  echo "setup.sh: installing ${missing[*]}"
  "${sudo[@]}" apt-get update
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y --no-install-recommends "${missing[@]}"
fi

# Node.js is used by the conformance tooling; it is expected on the machine, not installed here.
if ! command -v node >/dev/null 2>&1; then
  echo "setup.sh: note: 'node' is not on PATH; install Node.js to run the Node comparison tools" >&2
fi
