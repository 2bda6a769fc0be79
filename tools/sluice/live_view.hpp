// tools/sluice/live_view.hpp: `sluice run --monitor`, a per-stage view of a running pipeline.
//
// watch_stage      watches a stage of any of the CLI's stream types with a sluice::monitor
// live_view        every interval, a table redrawn in place on a terminal (like top), or one
//                  JSON line when stderr is not a terminal: per stage the rates in and out, what
//                  is buffered against the highWaterMark, the share of the interval it spent
//                  backpressured, and the bottleneck marked
// find_bottleneck  which stage held its input full while its output was not full, most of the
//                  interval (docs/cli.md, "--monitor")
#pragma once

#include <cstddef>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "sluice/core/loop.hpp"
#include "sluice/core/monitor.hpp"

namespace sluice::cli {

/// Watches `s` (a byte or record stream of any kind the CLI makes) with `m` under `name`.
/// Returns false, watching nothing, for a stream of another type.
bool watch_stage(monitor& m, const std::shared_ptr<stream>& s, std::string name);

/// One stage over one interval of the view.
struct live_row {
  std::string name;
  bool in_items = false;   ///< what comes in is counted in items (records), not bytes
  bool out_items = false;  ///< the same for what goes out
  bool has_input = false;
  bool has_output = false;
  double in_per_second = 0;
  double out_per_second = 0;
  std::size_t buffered = 0;         ///< on its input side (a source: its output side)
  std::size_t high_water_mark = 0;  ///< of that side
  double backpressured = 0;         ///< share of the interval a side of it was backpressured
  bool bottleneck = false;
};

/// The samples of one interval, per stage: how often its input side was full and its output
/// side was not (write() refused, or the buffer at its highWaterMark, on the input; the same on
/// the output). The bottleneck is the stage for which that held in the most samples, if in at
/// least half of them; none otherwise (nothing held back: the source sets the pace).
[[nodiscard]] std::optional<std::size_t> find_bottleneck(const std::vector<unsigned>& held,
                                                         unsigned samples);

/// The table, each line cut to `width` columns:
///   sluice run --monitor  0:12
///    #  stage     in/s        out/s       buffered                          bp
///    0  read      -           1.00 MiB/s  [##########] 256 KiB / 256 KiB   98%
///    1  throttle  1.00 MiB/s  1.00 MiB/s  [#########.]  60 KiB / 64 KiB    97%  <- bottleneck
[[nodiscard]] std::vector<std::string> format_live_table(const std::vector<live_row>& rows,
                                                         double seconds, std::size_t width);
/// One JSON line (with its newline): {"seconds", "bottleneck" (index or null), "stages": [...]}.
[[nodiscard]] std::string format_live_json(const std::vector<live_row>& rows, double seconds);

class live_view {
 public:
  /// Draws on `out`: a table redrawn in place when `terminal`, else JSON lines. Samples the
  /// monitor every `sample_every`, draws every `interval`.
  live_view(sluice::loop& l, std::shared_ptr<monitor> m, std::FILE* out, bool terminal,
            loop::duration interval = std::chrono::seconds(1),
            loop::duration sample_every = std::chrono::milliseconds(100));
  ~live_view();
  live_view(const live_view&) = delete;
  live_view& operator=(const live_view&) = delete;

  void start();
  /// Draws the last interval once more (the table stays on the terminal) and stops the timer.
  /// Idempotent.
  void stop();

 private:
  void on_sample();
  void draw();

  sluice::loop& loop_;
  std::shared_ptr<monitor> mon_;
  std::FILE* out_;
  bool terminal_;
  loop::duration interval_;
  loop::duration sample_every_;
  timer timer_;
  bool running_ = false;
  loop::time_point started_{};
  loop::time_point interval_start_{};
  std::vector<unsigned> held_;  // per stage: samples with the input full and the output not
  unsigned samples_ = 0;
  std::vector<double> bp_at_start_;  // per stage: backpressured seconds at the interval's start
  std::size_t lines_drawn_ = 0;
};

}  // namespace sluice::cli
