// tools/sluice/grep_pattern.cpp: grep_pattern on RE2, and the checks made before RE2 sees a
// pattern.
#include "grep_pattern.hpp"

#include <re2/re2.h>

#include <optional>

namespace sluice::cli {
namespace {

constexpr auto npos = std::string_view::npos;

// Where the character class opening at p[i] ('[') ends: the index of its ']', or p.size() when
// it does not (RE2 then reports "missing ]"). A ']' first in the class is literal, as in RE2.
std::size_t class_end(std::string_view p, std::size_t i) {
  std::size_t j = i + 1;
  if (j < p.size() && p[j] == '^') ++j;
  if (j < p.size() && p[j] == ']') ++j;
  while (j < p.size()) {
    if (p[j] == '\\') {
      j += 2;
    } else if (p.compare(j, 2, "[:") == 0 && p.find(":]", j + 2) != npos) {
      j = p.find(":]", j + 2) + 2;
    } else if (p[j] == ']') {
      return j;
    } else {
      ++j;
    }
  }
  return p.size();
}

// The counts of a repeat {n}, {n,} or {n,m} opening at p[i] ('{'), each saturated at
// `over`; nothing when the braces are literal text ("{", "{x}", "{,3}"), as RE2 reads them.
struct repeat_counts {
  std::size_t n = 0;
  std::size_t m = 0;
  std::size_t end = 0;  // index of the '}'
};
std::optional<repeat_counts> parse_repeat(std::string_view p, std::size_t i, std::size_t over) {
  auto number = [&](std::size_t& j) -> std::optional<std::size_t> {
    const std::size_t start = j;
    std::size_t v = 0;
    while (j < p.size() && p[j] >= '0' && p[j] <= '9') {
      v = std::min(over, v * 10 + static_cast<std::size_t>(p[j] - '0'));
      ++j;
    }
    if (j == start) return std::nullopt;
    return v;
  };
  std::size_t j = i + 1;
  const auto n = number(j);
  if (!n) return std::nullopt;
  repeat_counts r{*n, *n, 0};
  if (j < p.size() && p[j] == ',') {
    ++j;
    r.m = number(j).value_or(0);
  }
  if (j >= p.size() || p[j] != '}') return std::nullopt;
  r.end = j;
  return r;
}

// One pass over the pattern as RE2 reads it (escapes, \Q...\E, classes, groups, repeats).
// Returns why it is refused, or "" to let RE2 judge the rest.
std::string check_structure(std::string_view p, const grep_limits& lim) {
  std::size_t depth = 0;
  for (std::size_t i = 0; i < p.size(); ++i) {
    const char c = p[i];
    if (c == '\\') {
      if (i + 1 >= p.size()) break;
      const char e = p[i + 1];
      if (e >= '1' && e <= '9')
        return "backreferences (\\" + std::string(1, e) + ") are not supported";
      if (e == 'k' && i + 2 < p.size() && p[i + 2] == '<')
        return "named backreferences (\\k<name>) are not supported";
      if (e == 'Q') {  // literal text up to \E
        const std::size_t end = p.find("\\E", i + 2);
        if (end == npos) break;
        i = end + 1;
        continue;
      }
      ++i;
    } else if (c == '[') {
      i = class_end(p, i);
    } else if (c == '(') {
      if (p.compare(i, 3, "(?=") == 0 || p.compare(i, 3, "(?!") == 0)
        return "lookahead ((?= and (?!) is not supported";
      if (p.compare(i, 4, "(?<=") == 0 || p.compare(i, 4, "(?<!") == 0)
        return "lookbehind ((?<= and (?<!) is not supported";
      if (++depth > lim.max_nesting)
        return "nested too deeply (more than " + std::to_string(lim.max_nesting) +
               " levels of parentheses)";
    } else if (c == ')') {
      if (depth > 0) --depth;
    } else if (c == '{') {
      // RE2 takes a count past 100000000 as literal text; ECMAScript took it as a repeat.
      const auto r = parse_repeat(p, i, lim.max_repeat + 1);
      if (r && (r->n > lim.max_repeat || r->m > lim.max_repeat))
        return "repeat count " + quote_shortened(p.substr(i, r->end + 1 - i), 20) +
               " is more than " + std::to_string(lim.max_repeat);
      if (r) i = r->end;
    }
  }
  return {};
}

// RE2's own reason, with its argument (often the rest of the pattern) shortened.
std::string re2_reason(const re2::RE2& re, const grep_limits& lim) {
  if (re.error_code() == re2::RE2::ErrorPatternTooLarge)
    return "pattern too large (its program needs more than " +
           std::to_string(lim.max_program >> 20) + " MiB)";
  std::string what = re.error();
  const std::string& arg = re.error_arg();
  if (!arg.empty() && what.size() >= arg.size() + 2 && what.ends_with(": " + arg))
    what = what.substr(0, what.size() - arg.size() - 2) + " " + quote_shortened(arg, 20);
  if (re.error_code() == re2::RE2::ErrorRepeatSize)
    return what + " (repeats at most " + std::to_string(lim.max_repeat) +
           ", nested repeats multiplied)";
  return "invalid regular expression: " + what;
}

}  // namespace

std::string quote_shortened(std::string_view s, std::size_t max) {
  if (s.size() <= max) return "'" + std::string(s) + "'";
  return "'" + std::string(s.substr(0, max)) + "...' (" + std::to_string(s.size()) + " bytes)";
}

std::variant<grep_pattern, std::string> compile_grep_pattern(std::string_view pattern,
                                                             const grep_pattern_options& o) {
  if (std::string why = check_structure(pattern, o.limits); !why.empty())
    return why + " in " + quote_shortened(pattern);
  re2::RE2::Options ro;
  // Lines are bytes: Latin-1 gives each byte one character, so '.' matches any byte and a
  // UTF-8 sequence in the pattern matches the same bytes in the line (as std::regex did).
  ro.set_encoding(re2::RE2::Options::EncodingLatin1);
  ro.set_case_sensitive(!o.ignore_case);
  ro.set_never_capture(true);  // only "is there a match" is asked
  ro.set_log_errors(false);
  ro.set_max_mem(static_cast<std::int64_t>(o.limits.max_program));
  auto re = std::make_shared<const re2::RE2>(re2::StringPiece(pattern.data(), pattern.size()), ro);
  if (!re->ok()) return re2_reason(*re, o.limits) + " in " + quote_shortened(pattern);
  return grep_pattern(std::move(re));
}

bool grep_pattern::search(std::string_view line) const {
  return re2::RE2::PartialMatch(re2::StringPiece(line.data(), line.size()), *re_);
}

}  // namespace sluice::cli
