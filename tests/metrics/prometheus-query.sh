#!/usr/bin/env bash
# Starts a throwaway Prometheus server that scrapes TARGET (host:port, path /metrics) every
# second, asks it QUERY (PromQL) until the answer holds at least one series, prints that answer
# (the HTTP API's JSON) and stops the server. Used by tests/metrics/metrics_test.cpp.
#
#   prometheus-query.sh TARGET PORT QUERY [TIMEOUT_SECONDS]
#
# PORT: where the server listens (127.0.0.1). Exits 1, printing the server's log, when no
# series came within TIMEOUT_SECONDS (default 60). The server and its data directory are
# removed on exit, whatever happens.
set -euo pipefail
target="$1"
port="$2"
query="$3"
timeout="${4:-60}"
dir="$(mktemp -d)"
pid=""
# shellcheck disable=SC2317  # called by the trap
cleanup() {
  if [[ -n "$pid" ]]; then
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  fi
  rm -rf "$dir"
}
trap cleanup EXIT

cat >"$dir/prometheus.yml" <<YAML
global:
  scrape_interval: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: sluice
    static_configs:
      - targets: ['$target']
YAML
prometheus --config.file="$dir/prometheus.yml" --storage.tsdb.path="$dir/data" \
  --web.listen-address="127.0.0.1:$port" >"$dir/log" 2>&1 &
pid=$!

deadline=$((SECONDS + timeout))
while ((SECONDS < deadline)); do
  if ! kill -0 "$pid" 2>/dev/null; then
    echo "prometheus-query.sh: prometheus exited" >&2
    cat "$dir/log" >&2
    exit 1
  fi
  answer="$(curl -sS --max-time 5 --get "http://127.0.0.1:$port/api/v1/query" \
    --data-urlencode "query=$query" 2>/dev/null || true)"
  if [[ "$answer" == *'"result":[{'* ]]; then
    echo "$answer"
    exit 0
  fi
  sleep 0.5
done
echo "prometheus-query.sh: no series for '$query' within ${timeout}s; last answer: ${answer:-none}" >&2
cat "$dir/log" >&2
exit 1
