// tools/sluice/run_syntax.hpp: the expression language of `sluice run`.
//
//   sluice run 'read in.log | gunzip | grep ERROR | gzip --level 9 | write out.gz'
//
// An expression is a list of stages separated by `|`. A stage is a name followed by its
// arguments; arguments are words separated by blanks, or quoted with '...' (taken literally) or
// "..." (where \" and \\ escape). A `|` inside quotes is part of the argument. The first stage
// may be a source (`read FILE`, `stdin`), the last a sink (`write FILE`, `stdout`); when they
// are left out, stdin and stdout are used. Each stage kind (its name, arguments, help line and
// factory) is one entry of the table in stage_kinds.cpp; docs/cli.md lists every stage.
//
// parse_run_expression() checks everything that can be checked without touching a file (stage
// names, arity, option values, where sources and sinks may stand) and reports the first problem
// with the byte range of the offending token, so the CLI can print a caret under it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
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

/// The words of one stage as its kind's parser (stage_kinds.cpp) reads them: options with or
/// without a value, and positional words, up to the next `|`.
class stage_args {
 public:
  stage_args(const token& name, std::vector<const token*> args, std::size_t end_offset)
      : name_(&name), args_(std::move(args)), end_offset_(end_offset) {}

  /// The stage name as written ("gzip").
  [[nodiscard]] const std::string& name() const noexcept { return name_->text; }
  [[nodiscard]] bool empty() const noexcept { return args_.empty(); }
  [[nodiscard]] bool done() const noexcept { return i_ >= args_.size(); }
  const token& next() { return *args_[i_++]; }
  /// The value of an option that takes one: "--level=9" or "--level 9"; an error pointing at
  /// the option when there is none.
  std::variant<const token*, syntax_error> value_of(const token& opt);
  /// "<stage>: unknown option '--x'" or "<stage>: unexpected argument 'x'", at `t`.
  [[nodiscard]] syntax_error unexpected(const token& t) const;
  /// "<stage>: missing <what>", just past the stage, where the missing word would go.
  [[nodiscard]] syntax_error missing(const std::string& what) const;

 private:
  const token* name_;
  std::vector<const token*> args_;
  std::size_t end_offset_;
  std::size_t i_ = 0;
  std::deque<token> inline_values_;  // the "9" of "--level=9" (a deque keeps their addresses)
};

/// An error about token `t` (its whole span, at least one byte).
[[nodiscard]] syntax_error error_at(const token& t, std::string message);
/// An unquoted word that starts with '-' and is not "-" alone.
[[nodiscard]] bool is_option(const token& t) noexcept;
/// "--level" of "--level=9".
[[nodiscard]] std::string option_name(const token& t);
/// A whole decimal integer, or nothing.
[[nodiscard]] std::optional<long long> parse_int(std::string_view s);
/// 'text', for messages.
[[nodiscard]] std::string quote(std::string_view s);

struct stage_config;  // stage_kinds.hpp
struct stage_kind;

/// One parsed stage: its kind's parsed options (which build the stream), its name as written,
/// and where it stands in the input.
struct stage_spec {
  std::shared_ptr<const stage_config> config;
  std::string name;        ///< the stage name as written ("gunzip")
  std::size_t offset = 0;  ///< the stage's first byte in the input
  std::size_t length = 0;  ///< bytes from the stage name to the end of its last argument
  bool implicit = false;   ///< added by the parser (stdin/stdout), not written

  /// The options as the kind's own type (read_stage, grep_stage, ...); throws std::bad_cast
  /// when the stage is of another kind.
  template <class C>
  [[nodiscard]] const C& as() const {
    return dynamic_cast<const C&>(*config);
  }
  template <class C>
  [[nodiscard]] bool is() const noexcept {
    return dynamic_cast<const C*>(config.get()) != nullptr;
  }
};

/// Splits `expr` into tokens. Fails on an unterminated quote.
[[nodiscard]] std::variant<std::vector<token>, syntax_error> tokenize(std::string_view expr);

/// Parses a whole expression. The result always starts with a source and ends with a sink
/// (stdin / stdout are added, marked implicit, when none is written).
[[nodiscard]] std::variant<std::vector<stage_spec>, syntax_error> parse_run_expression(
    std::string_view expr);

/// The three-line report of a syntax error: "sluice: run: <message>", the expression, and a
/// caret line marking the bad bytes (indented to line up under the expression). An expression
/// longer than 100 bytes is shown as 100 bytes around the error, "..." marking the cuts.
[[nodiscard]] std::string format_syntax_error(std::string_view expr, const syntax_error& err);

/// Parses a byte count with an optional binary suffix: "512", "64K", "256M", "1G", "2T" (also
/// "64KiB", "1GB"; case-insensitive). Returns nothing for anything else or on overflow.
[[nodiscard]] std::optional<std::uint64_t> parse_size(std::string_view text);

}  // namespace sluice::cli
