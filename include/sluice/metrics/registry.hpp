// sluice/metrics/registry.hpp: the figures of running pipelines, for a monitoring system.
//
// A `registry` exports pipelines by name. Each pipeline is a `monitor` (sluice/core/monitor.hpp)
// watching its stages, in order: the stage index is the order of watch(), the stage name the
// name given to watch() (by default the stream's own). The registry reads the monitors only
// when asked (prometheus_text(), json()): a registered pipeline that nobody scrapes costs what
// its monitor costs, nothing more.
//
//   auto mon = sluice::monitor::create(loop);
//   mon->watch_pipeline(source, gunzip, sink);
//   auto reg = std::make_shared<sluice::metrics::registry>();
//   reg->add("ingest", mon);
//   std::string text = reg->prometheus_text();  // or serve it: sluice/metrics/endpoint.hpp
//
// prometheus_text() is the Prometheus text exposition format, version 0.0.4: one family per
// figure (HELP, TYPE, then its samples), labelled pipeline="ingest", stage="0" (the index) and
// stage_name="read"; label values escaped (backslash, double quote, newline). docs/monitoring.md
// lists the families. json() is the same snapshot as one JSON document.
//
// A registry, its monitors and their streams live on one loop: call it on that loop's thread.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "sluice/core/monitor.hpp"

namespace sluice::metrics {

/// The Content-Type of prometheus_text().
inline constexpr const char* prometheus_content_type = "text/plain; version=0.0.4; charset=utf-8";

class registry {
 public:
  /// Exports the streams `m` watches as the stages of pipeline `name` (not empty, not taken:
  /// otherwise throws std::invalid_argument). Keeps `m` alive until remove(): the figures of a
  /// pipeline that finished stay readable (its stages' counters as they were at their close).
  void add(std::string name, std::shared_ptr<monitor> m);
  /// Stops exporting pipeline `name`. Returns false if there is none.
  bool remove(const std::string& name);
  /// The names of the pipelines exported, in the order they were added.
  [[nodiscard]] std::vector<std::string> pipelines() const;

  /// Every pipeline's figures now, in the Prometheus text format (version 0.0.4).
  [[nodiscard]] std::string prometheus_text() const;
  /// Every pipeline's figures now, as JSON: {"pipelines": [{"name", "stages": [...]}]}.
  [[nodiscard]] std::string json() const;

 private:
  struct entry {
    std::string name;
    std::shared_ptr<monitor> mon;
  };
  std::vector<entry> entries_;
};

/// `value` as a Prometheus label value: backslash, double quote and newline escaped.
[[nodiscard]] std::string escape_label_value(const std::string& value);

}  // namespace sluice::metrics
