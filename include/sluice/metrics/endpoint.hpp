// sluice/metrics/endpoint.hpp: a registry (registry.hpp) served over HTTP by sluice's own server.
//
//   GET /metrics        the Prometheus text format (version 0.0.4), for a scraper
//   GET /metrics.json   the same figures as JSON
//
// HEAD is answered as GET without the body; another method on those paths gets 405 with an
// Allow header; another path 404 (or the fallback handler's answer). The figures are read when
// the request comes, on the loop thread.
//
//   auto reg = std::make_shared<sluice::metrics::registry>();
//   auto server = sluice::make_http_server(loop, {}, sluice::metrics::metrics_handler(reg));
//   server->listen("127.0.0.1", 9464);
#pragma once

#include <memory>

#include "sluice/http/server.hpp"
#include "sluice/metrics/registry.hpp"

namespace sluice::metrics {

/// Answers `req` if its path is /metrics or /metrics.json (a query string is ignored) and
/// returns true; returns false, answering nothing, for any other path.
bool serve(const registry& reg, const std::shared_ptr<http_request>& req,
           const std::shared_ptr<http_response>& res);

/// A handler for http_server that serves `reg` (serve()), and hands other paths to `fallback`,
/// or answers them 404 without one. Keeps `reg` alive.
[[nodiscard]] http_handler metrics_handler(std::shared_ptr<const registry> reg,
                                           http_handler fallback = nullptr);

}  // namespace sluice::metrics
