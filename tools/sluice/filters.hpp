// tools/sluice/filters.hpp: the line-oriented stages of `sluice run`.
//
// line_splitter  re-chunks bytes so that every chunk ends at a newline ("lines")
// grep_filter    keeps the lines that match a regex (grep_pattern.hpp) or substring
//                ("grep [-v] [-F] [-i] P")
// head_filter    passes the first N lines or bytes, then asks for its input to stop ("head")
// line_counter   replaces its input with one line: the number of lines or bytes ("count")
// rate_limiter   passes bytes at a given rate at most ("throttle RATE")
//
// All are transform<buffer, buffer> in byte mode, so they take part in backpressure like any
// other stage. A line is the bytes up to and including '\n'; the bytes after the last newline
// are a last line of their own (without a newline) at end(). Where a chunk already ends at a
// line boundary, outputs share the input's storage rather than copying it.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "grep_pattern.hpp"
#include "sluice/core/buffer.hpp"
#include "sluice/core/transform.hpp"

namespace sluice::cli {

/// Holds back the bytes after the last newline of each chunk and emits them in front of the
/// next one, so that no output chunk ends inside a line (except the last, at end()).
class line_splitter final : public transform<buffer, buffer> {
 public:
  explicit line_splitter(sluice::loop& l, const transform_options& o = {});

 protected:
  void do_transform(buffer&& chunk, transform_callback cb) override;
  void do_flush(callback cb) override;

 private:
  std::string carry_;  // the incomplete line at the end of the input so far
};

/// What grep_filter matches.
struct grep_options {
  std::string pattern;
  bool invert = false;       ///< keep the lines that do NOT match
  bool fixed = false;        ///< pattern is a plain substring, not a regex
  bool ignore_case = false;  ///< compare case-insensitively (ASCII for -F)
};

/// Which lines grep keeps. Immutable once made, so one matcher may serve several threads at
/// once (`parallel N grep`: RE2 searches are thread-safe).
class grep_matcher {
 public:
  /// Throws std::invalid_argument if compile_grep_pattern() refuses the pattern.
  explicit grep_matcher(grep_options g);
  /// Whether `line` (without its newline) is kept.
  [[nodiscard]] bool keeps(std::string_view line) const;
  /// Appends the kept lines of `text` (each with its newline; the last may have none) to `out`;
  /// returns how many lines `text` had, and how many were kept.
  struct counts {
    std::uint64_t lines = 0;
    std::uint64_t kept = 0;
  };
  counts filter(std::string_view text, std::string& out) const;

 private:
  grep_options opts_;
  std::optional<grep_pattern> re_;
  std::string lowered_pattern_;
};

/// Keeps whole lines that match. Emits at most one chunk per input chunk (the matching lines,
/// joined), none when nothing matched. The newline is not part of what the pattern sees.
class grep_filter final : public transform<buffer, buffer> {
 public:
  /// Throws std::invalid_argument if compile_grep_pattern() refuses the pattern (the `run`
  /// parser checks patterns first, with check_grep_pattern()).
  grep_filter(sluice::loop& l, grep_options g, const transform_options& o = {});

  [[nodiscard]] std::uint64_t lines_seen() const noexcept { return lines_seen_; }
  [[nodiscard]] std::uint64_t lines_kept() const noexcept { return lines_kept_; }

 protected:
  void do_transform(buffer&& chunk, transform_callback cb) override;
  void do_flush(callback cb) override;

 private:
  void filter(std::string_view text, std::string& out) {
    const auto c = matcher_.filter(text, out);
    lines_seen_ += c.lines;
    lines_kept_ += c.kept;
  }

  grep_matcher matcher_;
  std::string carry_;
  std::uint64_t lines_seen_ = 0;
  std::uint64_t lines_kept_ = 0;
};

/// Empty if `g` is usable; else why not, one line ("invalid regular expression: ...").
[[nodiscard]] std::string check_grep_pattern(const grep_options& g);

/// Passes the first `count` lines (or bytes), then drops the rest. When the limit is reached it
/// calls `on_limit` once, on a later tick: the owner of the chain then stops the stages upstream
/// (as `head` closing its end of a shell pipe stops `cat`) and ends this stream.
class head_filter final : public transform<buffer, buffer> {
 public:
  struct options {
    std::uint64_t count = 10;
    bool bytes = false;  ///< count bytes instead of lines
    std::function<void()> on_limit{};
  };
  head_filter(sluice::loop& l, options h, const transform_options& o = {});

  /// The limit was reached: everything written from now on is dropped.
  [[nodiscard]] bool satisfied() const noexcept { return left_ == 0; }

 protected:
  void do_transform(buffer&& chunk, transform_callback cb) override;

 private:
  void reach_limit();

  std::uint64_t left_;
  bool bytes_;
  bool limit_reported_ = false;
  std::function<void()> on_limit_;
};

/// Passes bytes at `bytes_per_second` at most, as `pv -L` does: each chunk is handed on once the
/// time its bytes take at that rate has passed since the previous one went (a chunk after a
/// pause waits only for its own bytes). Until then it holds the chunk, so the stages before it
/// slow down to the rate: a deliberately slow stage, for trying backpressure out.
class rate_limiter final : public transform<buffer, buffer> {
 public:
  rate_limiter(sluice::loop& l, std::uint64_t bytes_per_second, const transform_options& o = {});

 protected:
  void do_transform(buffer&& chunk, transform_callback cb) override;
  void do_destroy(std::error_code ec, callback cb) override;

 private:
  std::uint64_t rate_;
  loop::time_point next_{};  // when the chunk being held may go
  timer timer_;
};

/// Consumes everything and emits one line at end(): the number of lines (newlines, plus one for
/// a last line without a newline) or, with `bytes`, the number of bytes, as decimal text.
class line_counter final : public transform<buffer, buffer> {
 public:
  line_counter(sluice::loop& l, bool bytes, const transform_options& o = {});

 protected:
  void do_transform(buffer&& chunk, transform_callback cb) override;
  void do_flush(callback cb) override;

 private:
  bool bytes_;
  std::uint64_t lines_ = 0;
  std::uint64_t total_ = 0;
  bool open_line_ = false;  // bytes seen after the last newline
};

}  // namespace sluice::cli
