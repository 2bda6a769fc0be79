// tools/sluice/stage_kinds.hpp: the table of stage kinds that `sluice run` (and the subcommands
// built on it) can use.
//
// A stage kind is one entry of the table (stage_kinds.cpp): its name, a synopsis of its
// arguments, its help line, its role (source, filter or sink) and its parser. The parser checks
// the arguments and returns the kind's options as a stage_config, whose build() makes the
// stream. Adding a stage is one entry: its options struct below, its parser and build() next to
// its table entry. `sluice run --help`, the parser's list of known stages and its error messages
// all come from the table.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "run_syntax.hpp"
#include "sluice/compose/runtime_pipeline.hpp"
#include "sluice/core/loop.hpp"
#include "sluice/io/file.hpp"

namespace sluice::cli {

/// A stage's hooks into its run (run_stages): nats-sub acknowledges its messages by what the
/// sink has completed, or at the end of a run that succeeded.
struct run_hooks {
  /// Once every stage is built: the last stage (the sink), and whether it takes the first
  /// stage's bytes as they are (no stage between) and completes a write only when the bytes are
  /// where they will stay (not `write FILE` without --append or --no-atomic, whose bytes reach
  /// their name at the end). May throw std::exception to refuse the run (the message is shown).
  std::vector<std::function<void(const byte_stage& sink, bool direct)>> built;
  /// Once the pipeline has finished, with its outcome (the loop still runs).
  std::vector<std::function<void(const pipeline_error&)>> finished;
  /// After the loop is done, before the exit status: lines for --stats.
  std::vector<std::function<std::string()>> stats;
};

/// What a stage needs to make its stream.
struct build_context {
  sluice::loop& loop;
  std::size_t index = 0;  ///< the stage's place in the chain (0: the source)
  std::string name;       ///< the stage name as written ("gunzip")
  /// The running pipeline, set before any data flows: a `head` stage ends it early with
  /// stop_before() once it has enough.
  std::shared_ptr<pipeline_handle> pipeline;
  /// The file a `read` stage reads, for the progress bar's total (set by build()).
  std::shared_ptr<file_reader> source_file;
  /// The run's hooks (null: a caller that has none; a stage that needs them refuses to build).
  run_hooks* hooks = nullptr;
};

/// A stage's parsed options: builds its stream.
struct stage_config {
  virtual ~stage_config() = default;
  /// Makes the stream. Throws std::exception for options the library rejects (the parser
  /// checks most of them first).
  [[nodiscard]] virtual byte_stage build(build_context& ctx) const = 0;
};

/// Where a stage may stand.
enum class stage_role : std::uint8_t {
  source,  ///< first only (read, stdin)
  filter,  ///< anywhere between
  sink,    ///< last only (write, stdout)
  /// first (a source) or last (a sink), never between: tcp-connect, unix-connect
  endpoint,
  // Record stages (record_stages.hpp): a run of them between a maker and a taker of records is
  // one byte stage of the pipeline.
  record_parser,     ///< bytes in, records out: csv, jsonl
  record_formatter,  ///< records in, bytes out: to-csv, to-jsonl
  record_source,     ///< first only; records out: a database query
  record_sink,       ///< last only; records in: a database table
};

/// One entry of the table.
struct stage_kind {
  std::string_view name;      ///< "gzip"
  std::string_view synopsis;  ///< its arguments: "[--level N] [--engine zlib|isal] ..."
  std::string_view help;      ///< one line for `sluice run --help`
  stage_role role;
  /// Checks the arguments (nothing that touches a file) and returns the options, or the first
  /// problem, pointing at the token to fix.
  std::variant<std::shared_ptr<const stage_config>, syntax_error> (*parse)(stage_args& args);
};

/// Every stage kind, in the order `sluice run --help` lists them.
[[nodiscard]] std::span<const stage_kind> stage_kinds() noexcept;
/// The kind named `name`, or null.
[[nodiscard]] const stage_kind* find_stage_kind(std::string_view name) noexcept;
/// "read, write, stdin, ...": every stage name, for error messages.
[[nodiscard]] std::string stage_names();
/// The stage list of `sluice run --help`: a line per kind, "  NAME SYNOPSIS  HELP".
[[nodiscard]] std::string stage_help();

// ---- The kinds' options (the subcommands and the tests make and read them directly) ---------

/// Which compressor or decompressor a codec stage runs.
enum class codec_kind : std::uint8_t { gzip, gunzip, zstd, unzstd, brotli, unbrotli };
/// Which gzip implementation compresses (zlib, or Intel ISA-L's igzip).
enum class gzip_engine_kind : std::uint8_t { zlib, isal };

/// Reads one file, or several one after another.
struct read_stage final : stage_config {
  std::vector<std::string> paths;
  [[nodiscard]] byte_stage build(build_context& ctx) const override;
};
struct write_stage final : stage_config {
  std::string path;
  bool append = false;  ///< --append: add to the file instead of replacing it
  bool atomic = true;   ///< --no-atomic: write in place instead of via a temporary + rename
  /// The input file whose mode, owner and times the output takes (gzip and co. from a file).
  std::string metadata_from;
  [[nodiscard]] byte_stage build(build_context& ctx) const override;
};
struct stdin_stage final : stage_config {
  [[nodiscard]] byte_stage build(build_context& ctx) const override;
};
struct stdout_stage final : stage_config {
  [[nodiscard]] byte_stage build(build_context& ctx) const override;
};
struct codec_stage final : stage_config {
  codec_kind kind = codec_kind::gzip;
  std::optional<int> level;                          ///< --level N (compressors only)
  gzip_engine_kind engine = gzip_engine_kind::zlib;  ///< --engine (gzip only)
  unsigned threads = 0;  ///< --threads N (gzip only): blocks compressed at once; 0: one per core
  /// --long[=N] (zstd: window of 2^N with long-distance matching; unzstd: accept windows up to
  /// 2^N) or --memory=SIZE (unzstd: the largest power of two within SIZE); 0: zstd's default.
  int window_log = 0;
  bool long_distance = false;  ///< --long (zstd only)
  [[nodiscard]] byte_stage build(build_context& ctx) const override;
};
/// Re-chunks bytes so that every chunk holds whole lines.
struct lines_stage final : stage_config {
  [[nodiscard]] byte_stage build(build_context& ctx) const override;
};
/// Keeps the lines that match (or, with -v, do not match) a pattern.
struct grep_stage final : stage_config {
  std::string pattern;
  bool invert = false;       ///< -v
  bool fixed = false;        ///< -F: a plain substring, not a regular expression
  bool ignore_case = false;  ///< -i
  [[nodiscard]] byte_stage build(build_context& ctx) const override;
};
/// `parallel N grep ...`: grep on N threads: the input cut into chunks of whole lines, each
/// chunk filtered on a thread of a pool of N (sluice::offload), the kept lines in input order.
struct parallel_grep_stage final : stage_config {
  unsigned threads = 2;
  grep_stage grep;
  [[nodiscard]] byte_stage build(build_context& ctx) const override;
};
/// Passes the first `count` lines (or bytes, with -c), then stops reading its input.
struct head_stage final : stage_config {
  std::uint64_t count = 10;
  bool bytes = false;
  [[nodiscard]] byte_stage build(build_context& ctx) const override;
};
/// Replaces the data with one line: the number of lines (or of bytes, with -c).
struct count_stage final : stage_config {
  bool bytes = false;
  [[nodiscard]] byte_stage build(build_context& ctx) const override;
};

/// Passes bytes at a rate at most (bytes per second).
struct throttle_stage final : stage_config {
  std::uint64_t bytes_per_second = 0;
  [[nodiscard]] byte_stage build(build_context& ctx) const override;
};

// ---- zstd windows (--long, --memory) ----------------------------------------------------------

/// zstd's window sizes, as log2: what --long and --memory may ask for (64-bit builds).
inline constexpr int min_window_log = 10;
inline constexpr int max_window_log = 31;
/// --long without a value: 2^27 (128 MiB), as for zstd --long; also the decoder's default limit.
inline constexpr int default_long_window_log = 27;
/// --memory=SIZE for unzstd: the largest window (as log2, 10..31) that fits in SIZE ("512M",
/// "2G", a byte count), or nothing when SIZE is not a size or is below 1 KiB.
[[nodiscard]] std::optional<int> window_log_for_memory(std::string_view size);

}  // namespace sluice::cli
