// tools/sluice/grep_pattern.hpp: the regular expressions of `grep` in `sluice run`.
//
// grep_pattern  a compiled pattern (RE2, bytes taken as Latin-1) that says whether a line holds
//               a match; search time is linear in the line and the stack stays flat whatever
//               the pattern or the line (std::regex recursed once per byte and overflowed)
// compile_grep_pattern()  checks a pattern first: its nesting depth, its repeat counts, and
//               the ECMAScript features RE2 lacks (backreferences, lookaround), refused by name
//               rather than silently read another way
//
// grep_filter (filters.hpp) holds one; the `run` parser (stage_kinds.cpp) compiles each
// pattern once to report a bad one before anything runs.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <variant>

namespace re2 {
class RE2;
}

namespace sluice::cli {

/// The limits of a pattern; past them it is refused when it is parsed.
struct grep_limits {
  std::size_t max_nesting = 1000;     ///< levels of parentheses
  std::size_t max_repeat = 1000;      ///< n and m of {n}, {n,}, {n,m}
  std::size_t max_program = 8 << 20;  ///< bytes RE2 may use for the compiled program
};

/// How a pattern is read.
struct grep_pattern_options {
  bool ignore_case = false;  ///< -i: ASCII and Latin-1 letters match either case
  grep_limits limits{};
};

/// A compiled pattern. Cheap to copy (the program is shared and immutable; RE2 may be used from
/// several threads at once).
class grep_pattern {
 public:
  /// True if `line` holds a match anywhere (the line is given without its newline).
  [[nodiscard]] bool search(std::string_view line) const;

 private:
  friend std::variant<grep_pattern, std::string> compile_grep_pattern(
      std::string_view pattern, const grep_pattern_options& o);
  explicit grep_pattern(std::shared_ptr<const re2::RE2> re) : re_(std::move(re)) {}

  std::shared_ptr<const re2::RE2> re_;
};

/// The compiled pattern, or why it is refused, as one line without the stage name
/// ("backreferences (\1) are not supported: '(a)\1'"). Patterns are quoted shortened.
[[nodiscard]] std::variant<grep_pattern, std::string> compile_grep_pattern(
    std::string_view pattern, const grep_pattern_options& o = {});

/// `s` quoted, cut to its first `max` bytes with "..." and its size when it is longer.
[[nodiscard]] std::string quote_shortened(std::string_view s, std::size_t max = 40);

}  // namespace sluice::cli
