// sluice/metrics.hpp: the metrics layer in one include: running pipelines' figures exported for
// a monitoring system (docs/monitoring.md, "Metrics export").
//
// registry (pipelines by name, each a monitor of its stages; Prometheus text format 0.0.4 and
// JSON), endpoint (/metrics and /metrics.json served by sluice's HTTP server).
#pragma once

#include "sluice/core.hpp"
#include "sluice/http.hpp"
#include "sluice/metrics/endpoint.hpp"
#include "sluice/metrics/registry.hpp"
