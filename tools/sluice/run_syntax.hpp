// tools/sluice/run_syntax.hpp: the expression language of `sluice run`.
//
//   sluice run 'read in.log | gunzip | grep ERROR | gzip --level 9 | write out.gz'
//
// An expression is a list of stages separated by `|`. A stage is a name followed by its
// arguments; arguments are words separated by blanks, or quoted with '...' (taken literally) or
// "..." (where \" and \\ escape). A `|` inside quotes is part of the argument. The first stage
// may be a source (`read FILE`, `stdin`), the last a sink (`write FILE`, `stdout`); when they
// are left out, stdin and stdout are used. docs/cli.md lists every stage.
//
// parse_run_expression() checks everything that can be checked without touching a file (stage
// names, arity, option values, where sources and sinks may stand) and reports the first problem
// with the byte range of the offending token, so the CLI can print a caret under it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace sluice::cli {

/// A token of the expression: its text (quotes removed) and where it stands in the input.
struct token {
  std::string text;
  std::size_t offset = 0;  ///< byte offset of the token's first character (an opening quote)
  std::size_t length = 0;  ///< bytes the token spans in the input, quotes included
  bool quoted = false;     ///< written in quotes (so `|` or `--x` in it is plain text)
  bool pipe = false;       ///< the `|` separator
};

/// The first problem found in an expression: a one-line message and the input bytes it is about.
struct syntax_error {
  std::string message;
  std::size_t offset = 0;
  std::size_t length = 1;
};

/// Which compressor or decompressor a codec stage runs.
enum class codec_kind : std::uint8_t { gzip, gunzip, zstd, unzstd, brotli, unbrotli };
/// Which gzip implementation compresses (zlib, or Intel ISA-L's igzip).
enum class gzip_engine_kind : std::uint8_t { zlib, isal };

/// Reads one file, or several one after another.
struct read_stage {
  std::vector<std::string> paths;
};
struct write_stage {
  std::string path;
  bool append = false;  ///< --append: add to the file instead of replacing it
  bool atomic = true;   ///< --no-atomic: write in place instead of via a temporary + rename
};
struct stdin_stage {};
struct stdout_stage {};
struct codec_stage {
  codec_kind kind = codec_kind::gzip;
  std::optional<int> level;                          ///< --level N (compressors only)
  gzip_engine_kind engine = gzip_engine_kind::zlib;  ///< --engine (gzip only)
  unsigned threads = 0;  ///< --threads N (gzip only): blocks compressed at once; 0: one per core
};
/// Re-chunks bytes so that every chunk holds whole lines.
struct lines_stage {};
/// Keeps the lines that match (or, with -v, do not match) a pattern.
struct grep_stage {
  std::string pattern;
  bool invert = false;       ///< -v
  bool fixed = false;        ///< -F: a plain substring, not a regular expression
  bool ignore_case = false;  ///< -i
};
/// Passes the first `count` lines (or bytes, with -c), then stops reading its input.
struct head_stage {
  std::uint64_t count = 10;
  bool bytes = false;
};
/// Replaces the data with one line: the number of lines (or of bytes, with -c).
struct count_stage {
  bool bytes = false;
};

using stage_variant = std::variant<read_stage, write_stage, stdin_stage, stdout_stage, codec_stage,
                                   lines_stage, grep_stage, head_stage, count_stage>;

/// One parsed stage: what it does, its name as written, and where it stands in the input.
struct stage_spec {
  stage_variant what;
  std::string name;        ///< the stage name as written ("gunzip")
  std::size_t offset = 0;  ///< the stage's first byte in the input
  std::size_t length = 0;  ///< bytes from the stage name to the end of its last argument
  bool implicit = false;   ///< added by the parser (stdin/stdout), not written
};

/// Splits `expr` into tokens. Fails on an unterminated quote.
[[nodiscard]] std::variant<std::vector<token>, syntax_error> tokenize(std::string_view expr);

/// Parses a whole expression. The result always starts with a source and ends with a sink
/// (stdin / stdout are added, marked implicit, when none is written).
[[nodiscard]] std::variant<std::vector<stage_spec>, syntax_error> parse_run_expression(
    std::string_view expr);

/// The three-line report of a syntax error: "sluice: run: <message>", the expression, and a
/// caret line marking the bad bytes (indented to line up under the expression).
[[nodiscard]] std::string format_syntax_error(std::string_view expr, const syntax_error& err);

/// Parses a byte count with an optional binary suffix: "512", "64K", "256M", "1G", "2T" (also
/// "64KiB", "1GB"; case-insensitive). Returns nothing for anything else or on overflow.
[[nodiscard]] std::optional<std::uint64_t> parse_size(std::string_view text);

/// The names of every stage, for help texts.
[[nodiscard]] std::string_view stage_names() noexcept;

}  // namespace sluice::cli
