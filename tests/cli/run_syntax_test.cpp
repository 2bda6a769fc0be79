// Tests of the `sluice run` expression parser (tools/sluice/run_syntax.hpp): what parses into
// which stages, and that every error points at the token a user would have to fix.
#include "run_syntax.hpp"
#include "stage_kinds.hpp"

#include <gtest/gtest.h>

#include <sstream>
#include <string>
#include <variant>
#include <vector>

namespace {

using namespace sluice::cli;

std::vector<stage_spec> parse_ok(const std::string& expr) {
  auto r = parse_run_expression(expr);
  if (auto* e = std::get_if<syntax_error>(&r)) {
    ADD_FAILURE() << "parse failed: " << format_syntax_error(expr, *e);
    return {};
  }
  return std::get<std::vector<stage_spec>>(r);
}

syntax_error parse_err(const std::string& expr) {
  auto r = parse_run_expression(expr);
  if (auto* e = std::get_if<syntax_error>(&r)) return *e;
  ADD_FAILURE() << "expected a syntax error for: " << expr;
  return {};
}

// The input bytes an error points at.
std::string pointed(const std::string& expr, const syntax_error& e) {
  return expr.substr(e.offset, e.length);
}

TEST(RunSyntax, ParsesTheIssueExample) {
  const auto s = parse_ok("read in.log | gunzip | lines | grep ERROR | gzip | write out.gz");
  ASSERT_EQ(s.size(), 6u);
  EXPECT_EQ(s[0].as<read_stage>().paths, std::vector<std::string>{"in.log"});
  EXPECT_EQ(s[1].as<codec_stage>().kind, codec_kind::gunzip);
  EXPECT_TRUE(s[2].is<lines_stage>());
  EXPECT_EQ(s[3].as<grep_stage>().pattern, "ERROR");
  EXPECT_EQ(s[4].as<codec_stage>().kind, codec_kind::gzip);
  const auto& w = s[5].as<write_stage>();
  EXPECT_EQ(w.path, "out.gz");
  EXPECT_TRUE(w.atomic);
  EXPECT_FALSE(w.append);
  EXPECT_EQ(s[3].name, "grep");
  EXPECT_EQ(s[3].offset, 31u);
}

TEST(RunSyntax, AddsStdinAndStdoutWhenNoSourceOrSinkIsWritten) {
  const auto s = parse_ok("gunzip|grep -v DEBUG");
  ASSERT_EQ(s.size(), 4u);
  EXPECT_TRUE(s[0].is<stdin_stage>());
  EXPECT_TRUE(s[0].implicit);
  EXPECT_TRUE(s[2].as<grep_stage>().invert);
  EXPECT_TRUE(s[3].is<stdout_stage>());
  EXPECT_TRUE(s[3].implicit);
}

TEST(RunSyntax, QuotesKeepBlanksAndPipesInOneArgument) {
  const auto s = parse_ok(R"(read 'my file.log' | grep "a | \"b\"" | write x)");
  ASSERT_EQ(s.size(), 3u);
  EXPECT_EQ(s[0].as<read_stage>().paths.at(0), "my file.log");
  const auto many = parse_ok("read a b 'c d'")[0].as<read_stage>().paths;
  EXPECT_EQ(many, (std::vector<std::string>{"a", "b", "c d"}));
  EXPECT_EQ(s[1].as<grep_stage>().pattern, R"(a | "b")");
}

TEST(RunSyntax, QuotedDashWordIsAPatternNotAnOption) {
  const auto s = parse_ok("stdin | grep '-v' | stdout");
  EXPECT_EQ(s[1].as<grep_stage>().pattern, "-v");
  EXPECT_FALSE(s[1].as<grep_stage>().invert);
}

TEST(RunSyntax, CodecOptions) {
  const auto s = parse_ok(
      "stdin | gzip --level 9 --engine isal | zstd --level=19 | brotli --level 4 | stdout");
  const auto& g = s[1].as<codec_stage>();
  EXPECT_EQ(g.level, 9);
  EXPECT_EQ(g.engine, gzip_engine_kind::isal);
  EXPECT_EQ(g.threads, 0u);  // one per core unless told
  EXPECT_EQ(parse_ok("gzip --threads 3")[1].as<codec_stage>().threads, 3u);
  EXPECT_EQ(parse_ok("gzip --threads=1")[1].as<codec_stage>().threads, 1u);
  EXPECT_EQ(s[2].as<codec_stage>().level, 19);
  EXPECT_EQ(s[3].as<codec_stage>().level, 4);
  EXPECT_FALSE(parse_ok("gunzip")[1].as<codec_stage>().level.has_value());
}

TEST(RunSyntax, HeadAndCountForms) {
  EXPECT_EQ(parse_ok("head")[1].as<head_stage>().count, 10u);
  EXPECT_EQ(parse_ok("head 3")[1].as<head_stage>().count, 3u);
  // head -5, as head(1) takes it.
  const auto dash = parse_ok("head -5")[1].as<head_stage>();
  EXPECT_EQ(dash.count, 5u);
  EXPECT_FALSE(dash.bytes);
  const std::string bad = "head -5x";
  EXPECT_EQ(pointed(bad, parse_err(bad)), "-5x");
  const auto n = parse_ok("head -n 7")[1].as<head_stage>();
  EXPECT_EQ(n.count, 7u);
  EXPECT_FALSE(n.bytes);
  const auto c = parse_ok("head -c 1K")[1].as<head_stage>();
  EXPECT_EQ(c.count, 1024u);
  EXPECT_TRUE(c.bytes);
  EXPECT_FALSE(parse_ok("count")[1].as<count_stage>().bytes);
  EXPECT_TRUE(parse_ok("count -c")[1].as<count_stage>().bytes);
}

TEST(RunSyntax, WriteOptions) {
  const auto w = parse_ok("stdin | write --append log.txt")[1].as<write_stage>();
  EXPECT_TRUE(w.append);
  EXPECT_EQ(w.path, "log.txt");
  EXPECT_FALSE(parse_ok("write --no-atomic o")[1].as<write_stage>().atomic);
}

TEST(RunSyntax, UnknownStagePointsAtItsName) {
  const std::string expr = "read in.log | gunzp | write out";
  const auto e = parse_err(expr);
  EXPECT_EQ(pointed(expr, e), "gunzp");
  EXPECT_NE(e.message.find("unknown stage 'gunzp'"), std::string::npos) << e.message;
}

TEST(RunSyntax, BadLevelPointsAtTheValue) {
  const std::string expr = "read a | gzip --level 12 | write b";
  const auto e = parse_err(expr);
  EXPECT_EQ(pointed(expr, e), "12");
  EXPECT_NE(e.message.find("0..9"), std::string::npos) << e.message;
  const std::string expr2 = "zstd --level=x";
  EXPECT_EQ(pointed(expr2, parse_err(expr2)), "x");
}

TEST(RunSyntax, BadEngineAndUnknownOption) {
  const std::string expr = "gzip --engine pigz";
  EXPECT_EQ(pointed(expr, parse_err(expr)), "pigz");
  const std::string gunzip = "gunzip --engine=zstd";
  EXPECT_EQ(pointed(gunzip, parse_err(gunzip)), "zstd");
  const std::string zstd = "zstd --engine isal";  // only gzip and gunzip have engines
  EXPECT_EQ(pointed(zstd, parse_err(zstd)), "--engine");
  const std::string threads = "gzip --threads 999";
  EXPECT_EQ(pointed(threads, parse_err(threads)), "999");
  const std::string threads2 = "zstd --threads 2";  // only gzip has threads
  EXPECT_EQ(pointed(threads2, parse_err(threads2)), "--threads");
  const std::string expr2 = "gunzip --level 3";  // decompressors take no level
  EXPECT_EQ(pointed(expr2, parse_err(expr2)), "--level");
  const std::string expr3 = "grep -vx ERR";
  EXPECT_EQ(pointed(expr3, parse_err(expr3)), "x");
}

TEST(RunSyntax, SourceOrSinkOutOfPlace) {
  const std::string expr = "gunzip | read x.gz";
  auto e = parse_err(expr);
  EXPECT_EQ(pointed(expr, e), "read");
  EXPECT_NE(e.message.find("first stage"), std::string::npos);
  const std::string expr2 = "stdin | stdout | gzip";
  e = parse_err(expr2);
  EXPECT_EQ(pointed(expr2, e), "stdout");
  EXPECT_NE(e.message.find("last stage"), std::string::npos);
}

TEST(RunSyntax, EmptyStagesAndMissingArguments) {
  const std::string expr = "read a || write b";
  auto e = parse_err(expr);
  EXPECT_EQ(e.offset, 8u);  // the second '|'
  const std::string expr2 = "read a | gzip |";
  EXPECT_EQ(parse_err(expr2).offset, expr2.size() - 1);
  const std::string expr3 = "read | gzip";
  e = parse_err(expr3);
  EXPECT_EQ(e.offset, 4u);  // just after "read", where FILE belongs
  EXPECT_NE(e.message.find("missing FILE"), std::string::npos);
  EXPECT_EQ(parse_err("   ").message.substr(0, 16), "empty expression");
}

TEST(RunSyntax, UnterminatedQuoteAndBadRegex) {
  const std::string expr = "grep 'ERR | write x";
  auto e = parse_err(expr);
  EXPECT_EQ(e.offset, 5u);
  EXPECT_EQ(e.message, "unterminated quote");
  const std::string expr2 = "grep 'a(b' | count";
  e = parse_err(expr2);
  EXPECT_EQ(pointed(expr2, e), "'a(b'");
  EXPECT_NE(e.message.find("invalid regular expression"), std::string::npos);
  // -F takes the same text literally.
  EXPECT_EQ(parse_ok("grep -F 'a(b'")[1].as<grep_stage>().pattern, "a(b");
}

TEST(RunSyntax, FormatShowsALongExpressionCutAroundTheError) {
  const std::string deep = std::string(3000, '(') + "a";
  const std::string expr = "read " + std::string(200, 'x') + " | grep '" + deep + "' | count";
  const std::string text = format_syntax_error(expr, parse_err(expr));
  std::istringstream lines(text);
  std::string msg, shown, caret;
  std::getline(lines, msg);
  std::getline(lines, shown);
  std::getline(lines, caret);
  EXPECT_EQ(msg,
            "sluice: run: grep: nested too deeply (more than 1000 levels of parentheses) in "
            "'((((((((((((((((((((((((((((((((((((((((...' (3001 bytes)");
  // 40 bytes before the pattern, 100 in all, "..." at both cuts; the caret under the pattern.
  EXPECT_EQ(shown, "  ..." + std::string(32, 'x') + " | grep '" + std::string(59, '(') + "...");
  EXPECT_EQ(caret, std::string(2 + 3 + 40, ' ') + std::string(60, '^'));
  EXPECT_LT(text.size(), 400u);
}

TEST(RunSyntax, FormatPutsTheCaretUnderTheToken) {
  const std::string expr = "read in.log | gunzp | write out";
  const std::string text = format_syntax_error(expr, parse_err(expr));
  const std::string expected = "sluice: run: unknown stage 'gunzp' (stages: " + stage_names() +
                               ")\n"
                               "  read in.log | gunzp | write out\n"
                               "                ^^^^^\n";
  EXPECT_EQ(text, expected);
}

TEST(RunSyntax, ParseSize) {
  EXPECT_EQ(parse_size("0"), 0u);
  EXPECT_EQ(parse_size("512"), 512u);
  EXPECT_EQ(parse_size("64K"), 65536u);
  EXPECT_EQ(parse_size("256m"), 256u << 20);
  EXPECT_EQ(parse_size("1G"), 1ull << 30);
  EXPECT_EQ(parse_size("1GiB"), 1ull << 30);
  EXPECT_EQ(parse_size("2TB"), 2ull << 40);
  EXPECT_FALSE(parse_size(""));
  EXPECT_FALSE(parse_size("G"));
  EXPECT_FALSE(parse_size("12Q"));
  EXPECT_FALSE(parse_size("-1"));
  EXPECT_FALSE(parse_size("99999999999999T"));
}

}  // namespace
