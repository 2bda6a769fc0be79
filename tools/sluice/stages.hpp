// tools/sluice/stages.hpp: turns parsed stages into streams and runs them.
//
// Every subcommand that moves bytes (gzip, gunzip, ..., cat, copy, run) describes its work as a
// list of stage_spec (run_syntax.hpp) and hands it to run_stages(), which has each stage's kind
// (stage_kinds.hpp) make its stream on an asio_loop, runs them as one runtime pipeline
// (sluice/compose/runtime_pipeline.hpp), shows progress and stats, and turns the outcome into
// an exit status and at most one line on stderr.
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "run_syntax.hpp"

namespace sluice::cli {

/// How run_stages() reports.
struct run_options {
  /// The subcommand, for messages: "sluice: <command>: stage 2 (gunzip): ...".
  std::string command;
  /// No progress bar (errors are still printed).
  bool quiet = false;
  /// Print each stage's counters to stderr at the end (format_stats()).
  bool stats = false;
  /// Show a progress bar if stderr is a terminal (and not quiet).
  bool progress = true;
  /// --monitor: instead of the progress bar, a per-stage view every second (live_view.hpp): a
  /// table redrawn in place when stderr is a terminal, else one JSON line per second.
  bool monitor = false;
  /// --metrics HOST:PORT: serve the stages' figures at http://HOST:PORT/metrics (Prometheus)
  /// and /metrics.json while the pipeline runs. Empty: not served.
  std::string metrics{};
  /// Where the messages go (tests use a file; the CLI stderr).
  std::FILE* err = stderr;
};

/// Runs `stages` (a source first, a sink last) to completion. Returns the process exit status:
/// 0 on success, and also when the output is a pipe whose reader went away (EPIPE on stdout:
/// like `yes | head`, the command just stops); 1 after printing one line
/// "sluice: <command>: stage N (<name>): <what failed>" on failure, N counted from 1 (the
/// source), as sluice::pipeline_error counts.
[[nodiscard]] int run_stages(const std::vector<stage_spec>& stages, const run_options& opts);

/// Copies the file `from` to `to` in the kernel (sluice::copy_file: copy_file_range(2), or
/// pread/pwrite where the kernel refuses), with the same progress bar, --stats and messages as
/// run_stages(): "sluice: <command>: open 'x': No such file or directory".
[[nodiscard]] int run_file_copy(const std::string& from, const std::string& to, bool atomic,
                                const run_options& opts);

}  // namespace sluice::cli
