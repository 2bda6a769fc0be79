// tools/sluice/report.hpp: what the CLI tells the user while and after it runs.
//
// progress_meter  a one-line progress bar on stderr, redrawn a few times a second from a timer
//                 on the stream loop (bytes, rate, and percentage + ETA when the size is known)
// format_stats    the --stats table: each stage's stream_counters
// format_bytes / format_duration / format_rate: the units both use
#pragma once

#include <cstdint>
#include <cstdio>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "sluice/core/loop.hpp"
#include "sluice/core/stream.hpp"

namespace sluice::cli {

/// `s` padded with spaces on the left (right-aligned) or the right to `w` columns.
[[nodiscard]] std::string pad_left(std::string s, std::size_t w);
[[nodiscard]] std::string pad_right(std::string s, std::size_t w);

/// "0 B", "512 B", "1.5 KiB", "12.3 MiB", "1.00 GiB" (binary units, 3 significant digits).
[[nodiscard]] std::string format_bytes(std::uint64_t n);
/// "0:07", "12:34", "1:02:03" (h:mm:ss).
[[nodiscard]] std::string format_duration(double seconds);
/// format_bytes(bytes / seconds) + "/s"; "-" when no time has passed.
[[nodiscard]] std::string format_rate(std::uint64_t bytes, double seconds);

/// One reading of the progress of a run.
struct progress_sample {
  std::uint64_t bytes = 0;             ///< bytes read from the source so far
  std::optional<std::uint64_t> total;  ///< the source's size, when known
  double seconds = 0;                  ///< since the run started
};

/// The progress line for `s`, never more than `width` columns (no trailing newline):
///   "[########............]  41%  112 MiB / 274 MiB  56.7 MiB/s  ETA 0:03"
///   "112 MiB  56.7 MiB/s" (size unknown)
/// On a narrower line the bar goes first, then the ETA, the rate and the byte counts, from the
/// end; the percentage (or the byte count) is cut to `width` as a last resort.
[[nodiscard]] std::string format_progress(const progress_sample& s, std::size_t width = 80);

/// The width of the terminal `f` is on (TIOCGWINSZ), else $COLUMNS, else 80.
[[nodiscard]] std::size_t terminal_width(std::FILE* f);

/// Redraws a progress line on a terminal every `interval` until stop(). The line is drawn with
/// "\r" and erased by stop(), so the terminal is left as it was. Each redraw fits the terminal's
/// width at that moment (less one column), so a resized window gets a line that fits it. Holds a
/// timer on the loop while running, so stop() must be called for the loop to run out of work.
class progress_meter {
 public:
  using sampler = std::function<progress_sample()>;
  /// The terminal's width in columns, asked at every redraw; empty: terminal_width(out).
  using width_fn = std::function<std::size_t()>;
  progress_meter(sluice::loop& l, sampler sample, std::FILE* out,
                 loop::duration interval = std::chrono::milliseconds(200), width_fn width = {});
  ~progress_meter();
  progress_meter(const progress_meter&) = delete;
  progress_meter& operator=(const progress_meter&) = delete;

  void start();
  /// Erases the line and stops the timer. Idempotent.
  void stop();

 private:
  void tick();

  sluice::loop& loop_;
  sampler sample_;
  std::FILE* out_;
  loop::duration interval_;
  width_fn width_;
  timer timer_;
  bool running_ = false;
  bool drawn_ = false;
};

/// One row of the --stats table.
struct stage_stats {
  std::string name;
  stream_counters counters;
  bool has_input = true;   ///< the stage has a writable side (not a source)
  bool has_output = true;  ///< the stage has a readable side (not a sink)
};

/// The --stats table, one line per stage plus a header, ending in a newline. Columns: bytes in
/// and out, chunks in and out, backpressure episodes (write() returned false), time spent
/// backpressured (writable and readable side together), 'drain' events, and the peak buffered
/// bytes on the writable / readable side. `seconds` is the wall time of the whole run.
[[nodiscard]] std::string format_stats(const std::vector<stage_stats>& stages, double seconds);

}  // namespace sluice::cli
