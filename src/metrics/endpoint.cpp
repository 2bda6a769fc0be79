// The metrics endpoint (sluice/metrics/endpoint.hpp).
#include "sluice/metrics/endpoint.hpp"

#include <string>
#include <string_view>
#include <utility>

namespace sluice::metrics {

namespace {
void answer(const std::shared_ptr<http_request>& req, const std::shared_ptr<http_response>& res,
            unsigned status, const char* type, std::string body) {
  res->set_status(status);
  res->set_header("Content-Type", type);
  res->set_content_length(body.size());
  if (req->method() == "HEAD") {
    res->end();
  } else {
    res->end(buffer(std::move(body)));
  }
}
}  // namespace

bool serve(const registry& reg, const std::shared_ptr<http_request>& req,
           const std::shared_ptr<http_response>& res) {
  std::string_view path = req->target();
  if (const auto q = path.find('?'); q != std::string_view::npos) path = path.substr(0, q);
  const bool text = path == "/metrics";
  if (!text && path != "/metrics.json") return false;
  if (req->method() != "GET" && req->method() != "HEAD") {
    res->set_header("Allow", "GET, HEAD");
    answer(req, res, 405, "text/plain; charset=utf-8", "method not allowed: use GET\n");
    return true;
  }
  if (text) {
    answer(req, res, 200, prometheus_content_type, reg.prometheus_text());
  } else {
    answer(req, res, 200, "application/json", reg.json());
  }
  return true;
}

http_handler metrics_handler(std::shared_ptr<const registry> reg, http_handler fallback) {
  return [reg = std::move(reg), fallback = std::move(fallback)](
             std::shared_ptr<http_request> req, std::shared_ptr<http_response> res) {
    if (serve(*reg, req, res)) return;
    if (fallback) return fallback(std::move(req), std::move(res));
    answer(req, res, 404, "text/plain; charset=utf-8", "not found: try /metrics\n");
  };
}

}  // namespace sluice::metrics
