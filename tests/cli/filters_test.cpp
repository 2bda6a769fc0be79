// Tests of the line stages of `sluice run` (tools/sluice/filters.hpp) on a manual loop: the
// output is the same wherever the input is cut, and head stops asking for input at its limit.
#include "filters.hpp"

#include <gtest/gtest.h>

#include <array>
#include <memory>
#include <stdexcept>
#include <string>
#include <variant>
#include <vector>

#include "sluice/core/loop.hpp"
#include "sluice/core/make.hpp"

namespace {

using sluice::buffer;
using sluice::manual_loop;
using namespace sluice::cli;

struct run_result {
  std::vector<std::string> chunks;
  std::string joined() const {
    std::string s;
    for (const auto& c : chunks) s += c;
    return s;
  }
};

// Writes `pieces` into `t` and collects what comes out, until 'end'.
run_result feed(manual_loop& loop, const std::shared_ptr<sluice::transform<buffer>>& t,
                const std::vector<std::string>& pieces) {
  run_result r;
  bool ended = false;
  t->on_data([&](buffer&& b) { r.chunks.push_back(b.to_string()); });
  t->on_end([&] { ended = true; });
  for (const auto& p : pieces) t->write(buffer::copy_of(p));
  t->end();
  loop.run_until_idle();
  EXPECT_TRUE(ended);
  return r;
}

// Every way to cut `s` in two and in three pieces.
std::vector<std::vector<std::string>> splits(const std::string& s) {
  std::vector<std::vector<std::string>> out;
  for (std::size_t i = 0; i <= s.size(); ++i) {
    out.push_back({s.substr(0, i), s.substr(i)});
    for (std::size_t j = i; j <= s.size(); j += 3)
      out.push_back({s.substr(0, i), s.substr(i, j - i), s.substr(j)});
  }
  return out;
}

const std::string text =
    "INFO start\nERROR disk full\nINFO retry\nerror: lower case\nWARN slow\nERROR again";

TEST(LineSplitter, EveryChunkEndsAtANewlineWhereverTheInputIsCut) {
  for (const auto& pieces : splits(text)) {
    manual_loop loop;
    auto r = feed(loop, std::make_shared<line_splitter>(loop), pieces);
    EXPECT_EQ(r.joined(), text);
    for (std::size_t i = 0; i + 1 < r.chunks.size(); ++i) {
      ASSERT_FALSE(r.chunks[i].empty());
      EXPECT_EQ(r.chunks[i].back(), '\n') << "chunk " << i;
    }
  }
}

TEST(LineSplitter, ChunkOfWholeLinesIsPassedWithoutCopying) {
  manual_loop loop;
  auto t = std::make_shared<line_splitter>(loop);
  const buffer in = buffer::copy_of(std::string_view("a\nb\n"));
  buffer out;
  t->on_data([&](buffer&& b) { out = std::move(b); });
  t->write(in);
  loop.run_until_idle();
  EXPECT_TRUE(out.shares_storage_with(in));
}

TEST(GrepFilter, RegexSubstringInvertAndIgnoreCase) {
  struct tc {
    const char* pattern;
    bool invert, fixed, ignore_case;
    const char* want;
  };
  static constexpr std::array<tc, 6> cases{{
      {"^ERROR", false, false, false, "ERROR disk full\nERROR again"},
      {"ERROR", true, false, false, "INFO start\nINFO retry\nerror: lower case\nWARN slow\n"},
      {"error", false, true, true, "ERROR disk full\nerror: lower case\nERROR again"},
      {"r.t", false, true, false, ""},  // -F: the dot is literal
      {"r.t", false, false, false, "INFO retry\n"},
      {"s(l|t)", false, false, true, "INFO start\nWARN slow\n"},
  }};
  for (const auto& c : cases) {
    grep_options g;
    g.pattern = c.pattern;
    g.invert = c.invert;
    g.fixed = c.fixed;
    g.ignore_case = c.ignore_case;
    for (const auto& pieces : splits(text)) {
      manual_loop loop;
      auto r = feed(loop, std::make_shared<grep_filter>(loop, g), pieces);
      ASSERT_EQ(r.joined(), c.want) << "pattern " << c.pattern;
      for (const auto& chunk : r.chunks) EXPECT_FALSE(chunk.empty());
    }
  }
}

// grep -F -i with bytes of 0x80 and above in the pattern (UTF-8 text, Latin-1) matched nothing:
// the pattern's bytes were compared as signed char. Found by fuzz/filters_fuzz.cpp.
TEST(GrepFilter, FixedIgnoreCaseMatchesBytesAboveAscii) {
  const grep_matcher m({.pattern = "Caf\xc3\xa9", .fixed = true, .ignore_case = true});
  EXPECT_TRUE(m.keeps("a CAF\xc3\xa9 au lait"));
  EXPECT_TRUE(m.keeps("caf\xc3\xa9"));
  EXPECT_FALSE(m.keeps("cafe"));
  const grep_matcher bytes({.pattern = "\xa4\xd8", .fixed = true, .ignore_case = true});
  EXPECT_TRUE(bytes.keeps("x\xa4\xd8y"));
}

TEST(GrepFilter, CountsLines) {
  manual_loop loop;
  auto g = std::make_shared<grep_filter>(loop, grep_options{.pattern = "ERROR"});
  (void)feed(loop, g, {text});
  EXPECT_EQ(g->lines_seen(), 6u);
  EXPECT_EQ(g->lines_kept(), 2u);
}

TEST(GrepFilter, BadPatternIsReported) {
  EXPECT_NE(check_grep_pattern({.pattern = "a("}), "");
  EXPECT_EQ(check_grep_pattern({.pattern = "a(", .fixed = true}), "");
  EXPECT_EQ(check_grep_pattern({.pattern = "a(b)"}), "");
}

TEST(GrepPattern, LimitsAndRefusalsAreOneLineNamingThePattern) {
  auto why = [](std::string_view p) {
    auto c = compile_grep_pattern(p);
    return std::holds_alternative<std::string>(c) ? std::get<std::string>(c) : "";
  };
  EXPECT_EQ(why("a.*c|(x|y)+"), "");
  EXPECT_EQ(why(std::string(1000, '(') + std::string(1000, ')')), "");
  EXPECT_EQ(why(std::string(1001, '(') + std::string(1001, ')')),
            "nested too deeply (more than 1000 levels of parentheses) in "
            "'((((((((((((((((((((((((((((((((((((((((...' (2002 bytes)");
  // Parentheses that are escaped, in a class or in \Q...\E do not nest.
  std::string escaped;
  for (int k = 0; k < 1500; ++k) escaped += "\\(";
  EXPECT_EQ(why(escaped + "[" + std::string(1500, '(') + "]"), "");
  EXPECT_EQ(why("\\Q" + std::string(1500, '(') + "\\E"), "");
  EXPECT_EQ(why("a{1000}"), "");
  const std::string huge = why("a{99999999999999999999999}");
  EXPECT_EQ(huge.rfind("repeat count '{9999", 0), 0u) << huge;
  EXPECT_NE(huge.find("' (25 bytes) is more than 1000 in 'a{9"), std::string::npos) << huge;
  EXPECT_EQ(why("a{1,}b{,5000}"), "");  // {,n} is literal text in RE2
  EXPECT_EQ(why("[a{5000}]"), "");      // so are braces in a class
  EXPECT_EQ(why("a\\2"), "backreferences (\\2) are not supported in 'a\\2'");
  EXPECT_EQ(why("(?<n>a)\\k<n>"),
            "named backreferences (\\k<name>) are not supported in "
            "'(?<n>a)\\k<n>'");
  EXPECT_EQ(why("[(?=]"), "");
  EXPECT_EQ(why("a("), "invalid regular expression: missing ) 'a(' in 'a('");
}

TEST(GrepPattern, SearchesBytesInLinearTime) {
  auto p = std::get<grep_pattern>(compile_grep_pattern("(a|aa)*b"));
  EXPECT_FALSE(p.search(std::string(1 << 20, 'a')));  // exponential for a backtracker
  EXPECT_TRUE(p.search(std::string(1 << 20, 'a') + "b"));
  auto i = std::get<grep_pattern>(compile_grep_pattern("^err.r$", {.ignore_case = true}));
  EXPECT_TRUE(i.search("ERR\xffR"));
  EXPECT_FALSE(i.search("ERR\xffR\r"));
}

TEST(GrepFilter, ThrowsOnAPatternTheParserWouldRefuse) {
  manual_loop loop;
  EXPECT_THROW((void)std::make_shared<grep_filter>(loop, grep_options{.pattern = "(a)\\1"}),
               std::invalid_argument);
}

TEST(HeadFilter, FirstLinesOrBytesWhereverTheInputIsCut) {
  for (const auto& pieces : splits(text)) {
    manual_loop loop;
    auto r =
        feed(loop, std::make_shared<head_filter>(loop, head_filter::options{.count = 2}), pieces);
    EXPECT_EQ(r.joined(), "INFO start\nERROR disk full\n");
    manual_loop loop2;
    auto r2 =
        feed(loop2,
             std::make_shared<head_filter>(loop2, head_filter::options{.count = 13, .bytes = true}),
             pieces);
    EXPECT_EQ(r2.joined(), "INFO start\nER");
  }
}

TEST(HeadFilter, ReportsTheLimitOnceOnALaterTick) {
  manual_loop loop;
  int calls = 0;
  auto h = std::make_shared<head_filter>(
      loop, head_filter::options{.count = 1, .on_limit = [&] { ++calls; }});
  h->on_data([](buffer&&) {});
  h->write(buffer::copy_of(std::string_view("one\ntwo\n")));
  EXPECT_EQ(calls, 0);  // never from inside write()
  EXPECT_TRUE(h->satisfied());
  h->write(buffer::copy_of(std::string_view("three\n")));
  loop.run_until_idle();
  EXPECT_EQ(calls, 1);
}

TEST(HeadFilter, ShortInputPassesWhole) {
  manual_loop loop;
  auto r = feed(loop, std::make_shared<head_filter>(loop, head_filter::options{.count = 100}),
                {"a\n", "b"});
  EXPECT_EQ(r.joined(), "a\nb");
}

TEST(LineCounter, LinesAndBytes) {
  for (const auto& pieces : splits(text)) {
    manual_loop loop;
    EXPECT_EQ(feed(loop, std::make_shared<line_counter>(loop, false), pieces).joined(), "6\n");
    manual_loop loop2;
    EXPECT_EQ(feed(loop2, std::make_shared<line_counter>(loop2, true), pieces).joined(),
              std::to_string(text.size()) + "\n");
  }
  manual_loop loop;
  EXPECT_EQ(feed(loop, std::make_shared<line_counter>(loop, false), {"a\n", "b\n"}).joined(),
            "2\n");
  manual_loop loop2;
  EXPECT_EQ(feed(loop2, std::make_shared<line_counter>(loop2, false), {}).joined(), "0\n");
}

}  // namespace
