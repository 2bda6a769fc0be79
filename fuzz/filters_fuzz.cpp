// fuzz/filters_fuzz.cpp: the line stages of `sluice run` (tools/sluice/filters.hpp) as streams.
// After the control byte (driver.hpp), the payload's first line is grep's pattern and the rest
// the text. The control byte's variant bits pick the stage; each must give, whatever the
// chunking, what a plain line-by-line reference gives on the whole text:
// - grep (regex, RE2): a pattern is either refused with a message (and the stage refuses it
//   too) or compiles; the kept lines are those grep_matcher::keeps() says, each with its own
//   line end, in order;
// - grep -F: the same, and keeps() agrees with a substring search (ASCII case folding for -i);
// - lines + head: line_splitter gives the text back with every chunk but the last ending at a
//   newline; head -n/-c gives the first lines or bytes;
// - count: the number of lines (or bytes), as `wc -l` counts them plus an unterminated last.
#include <algorithm>
#include <cctype>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "driver.hpp"
#include "filters.hpp"

namespace {

using sluice::buffer;
using sluice::manual_loop;
namespace fz = sluice::fuzz;
namespace cli = sluice::cli;

sluice::transform_options marks(const fz::input& in) {
  return {.readable_high_water_mark = in.byte_hwm(), .writable_high_water_mark = in.byte_hwm()};
}
fz::drive_options options(const fz::input& in, std::size_t text_size) {
  return {.sink_hwm = in.byte_hwm(), .out_chunk = text_size + 1, .out_hwm = in.byte_hwm()};
}

// The lines of `text`, each with its newline (the last may have none).
std::vector<std::string_view> lines_of(std::string_view text) {
  std::vector<std::string_view> lines;
  while (!text.empty()) {
    const std::size_t nl = text.find('\n');
    const std::size_t n = nl == std::string_view::npos ? text.size() : nl + 1;
    lines.push_back(text.substr(0, n));
    text.remove_prefix(n);
  }
  return lines;
}

std::string_view without_newline(std::string_view line) {
  return line.ends_with('\n') ? line.substr(0, line.size() - 1) : line;
}

std::string lowered(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

void check_grep(manual_loop& loop, fz::input& in, const std::string& pattern,
                const std::string& text, bool fixed) {
  cli::grep_options g{.pattern = pattern,
                      .invert = in.below(4) == 0,
                      .fixed = fixed,
                      .ignore_case = in.below(2) == 0};
  const std::string refused = cli::check_grep_pattern(g);
  std::shared_ptr<cli::grep_filter> stage;
  try {
    stage = std::make_shared<cli::grep_filter>(loop, g, marks(in));
  } catch (const std::invalid_argument&) {
    fuzz_check(!refused.empty());
    return;
  }
  fuzz_check(refused.empty());
  const cli::grep_matcher matcher(g);
  std::string expected;
  std::uint64_t kept = 0;
  const auto lines = lines_of(text);
  for (const auto line : lines) {
    const bool keep = matcher.keeps(without_newline(line));
    if (fixed) {
      const std::string_view hay = without_newline(line);
      const bool found = g.ignore_case ? lowered(hay).find(lowered(pattern)) != std::string::npos
                                       : hay.find(pattern) != std::string_view::npos;
      fuzz_check(keep == (found != g.invert));
    }
    if (keep) {
      expected += line;
      ++kept;
    }
  }
  const auto r = fz::drive<buffer>(loop, stage, text, in, options(in, text.size()));
  fuzz_check(r.finished);
  fuzz_check(r.joined() == expected);
  fuzz_check(stage->lines_seen() == lines.size() && stage->lines_kept() == kept);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  fz::input in(data, size);
  const std::string_view payload = in.payload();
  const std::size_t nl = payload.find('\n');
  const std::string pattern(payload.substr(0, nl == std::string_view::npos ? 0 : nl));
  const std::string text(nl == std::string_view::npos ? payload : payload.substr(nl + 1));
  manual_loop loop;

  switch (in.variant()) {
    case 0:
      check_grep(loop, in, pattern, text, false);
      break;
    case 1:
      check_grep(loop, in, pattern, text, true);
      break;
    case 2: {
      const auto split =
          fz::drive<buffer>(loop, std::make_shared<cli::line_splitter>(loop, marks(in)), text, in,
                            options(in, text.size()));
      fuzz_check(split.finished && split.joined() == text);
      for (std::size_t i = 0; i + 1 < split.items.size(); ++i)
        fuzz_check(split.items[i].view().ends_with('\n'));

      const bool bytes = in.below(2) == 0;
      const std::uint64_t count = in.below(40);
      int limits = 0;
      auto head = std::make_shared<cli::head_filter>(
          loop,
          cli::head_filter::options{.count = count, .bytes = bytes, .on_limit = [&] { ++limits; }},
          marks(in));
      const auto r = fz::drive<buffer>(loop, head, text, in, options(in, text.size()));
      std::string expected;
      if (bytes) {
        expected = text.substr(0, std::min<std::size_t>(count, text.size()));
      } else {
        const auto lines = lines_of(text);
        for (std::size_t i = 0; i < std::min<std::size_t>(count, lines.size()); ++i)
          expected += lines[i];
      }
      fuzz_check(r.finished && r.joined() == expected);
      fuzz_check(limits <= 1);
      break;
    }
    default: {
      const bool bytes = in.below(2) == 0;
      const auto r =
          fz::drive<buffer>(loop, std::make_shared<cli::line_counter>(loop, bytes, marks(in)), text,
                            in, options(in, 24));
      const std::size_t n = bytes ? text.size() : lines_of(text).size();
      fuzz_check(r.finished && r.joined() == std::to_string(n) + "\n");
      break;
    }
  }
  return 0;
}
