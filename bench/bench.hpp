// bench/bench.hpp: what the sluice-bench subcommands share.
//
// Each scenario builds a pipeline on a loop, runs the loop to completion, checks the result and
// reports the elapsed time. A scenario is written once against `sluice::loop&` and run either on
// a manual_loop (deterministic: only sluice's own tick queue, no I/O, no system calls) or on an
// asio_loop over a boost::asio::io_context (the production setup).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sluice/core/loop.hpp"

namespace sluice_bench {

enum class loop_kind { manual, asio };

[[nodiscard]] const char* to_string(loop_kind k) noexcept;

/// Outcome of one timed run of a scenario.
struct run_result {
  double seconds = 0;
  std::string error{};  ///< empty when the run completed and its result checked out
};

/// The body of a scenario: builds its streams on `loop`, calls `run` (which runs the loop until
/// nothing is left to do), and checks what came out.
using scenario = std::function<run_result(sluice::loop& loop, const std::function<void()>& run)>;

/// Runs `body` on a fresh loop of kind `k`.
run_result with_loop(loop_kind k, const scenario& body);

/// Best (fastest) and median of a series of timed runs.
struct timing_summary {
  double best_seconds = 0;
  double median_seconds = 0;
};

[[nodiscard]] timing_summary summarize(std::vector<double> seconds);

/// Wall-clock stopwatch on the steady clock.
class stopwatch {
 public:
  stopwatch() : start_(std::chrono::steady_clock::now()) {}
  [[nodiscard]] double seconds() const {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  }

 private:
  std::chrono::steady_clock::time_point start_;
};

/// Parses a byte count: digits, optionally followed by K, M, G or T (binary: K = 1024), with an
/// optional "i" and/or "B" after it ("64K", "64KiB", "1G", "4096"). Case-insensitive.
[[nodiscard]] std::optional<std::uint64_t> parse_size(std::string_view text);

/// "64 KiB", "1 GiB", "1000 B": the largest binary unit that divides `bytes` exactly.
[[nodiscard]] std::string format_size(std::uint64_t bytes);

/// Formats a double with a fixed number of decimals.
[[nodiscard]] std::string fixed(double value, int decimals);

// ---- scenarios ----------------------------------------------------------------------------------

struct objmode_options {
  std::uint64_t items = 5'000'000;
  unsigned stages = 3;
  std::optional<std::size_t> hwm{};  ///< every stream's highWaterMark; default: the library's
  loop_kind loop = loop_kind::manual;
  unsigned repeat = 5;
  unsigned warmup = 1;  ///< untimed runs first
  /// How the streams are built: `spec`, the options struct of std::function hooks
  /// (make_transform(loop, {.transform = ...})); `typed`, the typed form that keeps each
  /// lambda's type (make_transform(loop, options, lambda)).
  std::string api = "typed";
  /// A sluice::monitor watches every stream of the pipeline (its cost: docs/benchmarks.md).
  bool monitor = false;
  /// As monitor, and the monitor registered with a sluice::metrics::registry (exported, never
  /// scraped: what a pipeline with metrics costs while nobody reads them).
  bool metrics = false;
};
/// Prints a report and the RESULT line; returns the process exit code.
int run_objmode(const objmode_options& o);

struct bytes_options {
  std::uint64_t size = std::uint64_t{1} << 30;
  std::size_t chunk = 64 * 1024;
  unsigned stages = 3;
  std::optional<std::size_t> hwm{};
  loop_kind loop = loop_kind::manual;
  unsigned repeat = 5;
  unsigned warmup = 1;  ///< untimed runs first
};
int run_bytes(const bytes_options& o);

enum class completion { defer, timer };

struct memory_options {
  std::uint64_t items = 1'000'000;     ///< chunks written
  std::optional<std::size_t> chunk{};  ///< byte mode with chunks of this size; else int64 items
  std::optional<std::size_t> hwm{};    ///< the writable's highWaterMark (items or bytes)
  bool ignore_backpressure = false;
  completion complete = completion::defer;
  loop_kind loop = loop_kind::manual;
};
int run_memory(const memory_options& o);

/// Google Benchmark micro-benchmarks; `args` are passed to benchmark::Initialize.
int run_micro(std::vector<std::string> args);

}  // namespace sluice_bench
