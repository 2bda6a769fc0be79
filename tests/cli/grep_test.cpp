// End-to-end tests of `grep` in `sluice run` (tools/sluice/grep_pattern.hpp): the patterns that
// crashed std::regex (a long line, a deep pattern) or silently changed meaning (a huge repeat
// count) run or are refused before anything runs, and the options keep their meaning.
#include <algorithm>
#include <sstream>

#include "cli/cli_fixture.hpp"

namespace {

using namespace sluice::cli::testing;

class GrepCli : public CliTest {
 protected:
  // Runs `sluice run EXPR` with the expression read from a file, so that a pattern of 40,000
  // bytes need not pass through a quoted shell command line.
  result run(const std::string& expr) {
    spit(path("expr.txt"), expr);
    return sh("\"$SLUICE\" run \"$(cat expr.txt)\"");
  }
};

// A refusal at parse time: status 2, nothing on stdout, and a short report whose first line
// names the stage and the reason, followed by the expression (cut around the error) and a caret.
void expect_refused(const result& r, const std::string& first_line_start) {
  EXPECT_EQ(r.status, 2) << r.err;
  EXPECT_EQ(r.out, "");
  std::istringstream lines(r.err);
  std::string first;
  std::getline(lines, first);
  EXPECT_EQ(first.rfind(first_line_start, 0), 0u) << r.err;
  EXPECT_LE(first.size(), 200u) << r.err;
  EXPECT_LE(r.err.size(), 500u) << r.err.substr(0, 500);
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 3) << r.err.substr(0, 500);
}

TEST_F(GrepCli, DotStarOnALineOf40002BytesCounts) {
  spit(path("longline.txt"), "a" + std::string(40000, 'x') + "c\n");
  const result r = run("read longline.txt | grep \"a.*c\" | count");
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out, "1\n");
  EXPECT_EQ(r.err, "");
}

TEST_F(GrepCli, AlternationStarOnALineOf20001BytesCounts) {
  std::string line;
  for (int i = 0; i < 10000; ++i) line += "ab";
  spit(path("longline.txt"), line + "c\n" + line + "\n");
  const result r = run("read longline.txt | grep '(a|b)*c' | count");
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out, "1\n");
  const result anchored = run("read longline.txt | grep '^(a|b)*c$' | count");
  EXPECT_EQ(anchored.status, 0) << anchored.err;
  EXPECT_EQ(anchored.out, "1\n");
}

TEST_F(GrepCli, TwentyThousandNestedParenthesesAreRefusedAtParseTime) {
  spit(path("in.txt"), "a\n");
  const std::string deep = std::string(20000, '(') + "a" + std::string(20000, ')');
  const result r = run("read in.txt | grep '" + deep + "' | count");
  expect_refused(r, "sluice: run: grep: nested too deeply (more than 1000 levels of parentheses)");
  EXPECT_NE(r.err.find("(40001 bytes)"), std::string::npos) << r.err.substr(0, 500);
}

TEST_F(GrepCli, AThousandNestedParenthesesStillMatch) {
  spit(path("in.txt"), "a\nb\n");
  const std::string deep = std::string(1000, '(') + "a" + std::string(1000, ')');
  const result r = run("read in.txt | grep '" + deep + "' | count");
  EXPECT_EQ(r.status, 0) << r.err.substr(0, 500);
  EXPECT_EQ(r.out, "1\n");
}

TEST_F(GrepCli, RepeatCountPast1000IsRefusedNotMatchingEverything) {
  spit(path("in.txt"), "b\nb\nb\n");
  const result r = run("read in.txt | grep 'a{2147483648}' | count");
  expect_refused(r, "sluice: run: grep: repeat count '{2147483648}' is more than 1000");
  expect_refused(run("read in.txt | grep 'a{2,1001}' | count"),
                 "sluice: run: grep: repeat count '{2,1001}' is more than 1000");
  expect_refused(run("read in.txt | grep '(a{100}){100}' | count"), "sluice: run: grep: ");
  const result ok = run("read in.txt | grep 'b{1000}|b' | count");
  EXPECT_EQ(ok.status, 0) << ok.err;
  EXPECT_EQ(ok.out, "3\n");
}

TEST_F(GrepCli, FeaturesRE2LacksAreRefusedByName) {
  spit(path("in.txt"), "aa\nab\n");
  expect_refused(run("read in.txt | grep '(a)\\1'"),
                 "sluice: run: grep: backreferences (\\1) are not supported in '(a)\\1'");
  expect_refused(run("read in.txt | grep 'a(?=b)'"),
                 "sluice: run: grep: lookahead ((?= and (?!) is not supported");
  expect_refused(run("read in.txt | grep 'a(?!b)'"),
                 "sluice: run: grep: lookahead ((?= and (?!) is not supported");
  expect_refused(run("read in.txt | grep '(?<=a)b'"),
                 "sluice: run: grep: lookbehind ((?<= and (?<!) is not supported");
  expect_refused(run("read in.txt | grep '(?<!a)b'"),
                 "sluice: run: grep: lookbehind ((?<= and (?<!) is not supported");
  // With -F the same text is a plain substring.
  const result fixed = run("read in.txt | grep -F '(a)\\1' | count");
  EXPECT_EQ(fixed.out, "0\n") << fixed.err;
}

TEST_F(GrepCli, ALongBadPatternIsShortenedInTheReport) {
  spit(path("in.txt"), "a\n");
  const result r = run("read in.txt | grep '" + std::string(30000, 'x') + "(' | count");
  expect_refused(r, "sluice: run: grep: invalid regular expression: missing )");
  EXPECT_NE(r.err.find("(30001 bytes)"), std::string::npos) << r.err.substr(0, 500);
}

TEST_F(GrepCli, OptionsKeepTheirMeaning) {
  spit(path("in.txt"), "ERROR disk\nerror net\nok\nan Error (x)\n");
  EXPECT_EQ(run("read in.txt | grep ERROR").out, "ERROR disk\n");
  EXPECT_EQ(run("read in.txt | grep -i '^error'").out, "ERROR disk\nerror net\n");
  EXPECT_EQ(run("read in.txt | grep -v -i error").out, "ok\n");
  EXPECT_EQ(run("read in.txt | grep -vi 'e.r'").out, "ok\n");
  EXPECT_EQ(run("read in.txt | grep -F '(x)'").out, "an Error (x)\n");
  EXPECT_EQ(run("read in.txt | grep -Fi 'error ('").out, "an Error (x)\n");
  EXPECT_EQ(run("read in.txt | grep '\\d|k$'").out, "ERROR disk\nok\n");
  EXPECT_EQ(run("read in.txt | grep '\\berror\\b' | count").out, "1\n");
}

TEST_F(GrepCli, LinesAreBytes) {
  // '.' matches any one byte, valid UTF-8 or not; a UTF-8 pattern matches the same bytes.
  spit(path("in.txt"),
       "a\xff"
       "c\ncaf\xc3\xa9\nabc\n");
  EXPECT_EQ(run("read in.txt | grep '^a.c$' | count").out, "2\n");
  EXPECT_EQ(run("read in.txt | grep 'caf\xc3\xa9'").out, "caf\xc3\xa9\n");
  EXPECT_EQ(run("read in.txt | grep '^caf..$' | count").out, "1\n");  // é is two bytes
  EXPECT_EQ(run("read in.txt | grep '\\xff'").out,
            "a\xff"
            "c\n");
}

// `parallel N grep ...` keeps exactly what grep keeps, in the same order, whatever the number
// of threads; grep(1) agrees.
TEST_F(GrepCli, ParallelGrepKeepsWhatGrepKeepsInOrder) {
  const std::string text = make_text("in.txt", 6u << 20);
  for (const char* args : {"-i error", "-v -F INFO", "\"^2026-11-21 [0-9:.]+ WARN +(db|http)\""}) {
    const auto one = sh(std::string("$SLUICE run 'read in.txt | grep ") + args + "'");
    ASSERT_EQ(one.status, 0) << one.err;
    ASSERT_FALSE(one.out.empty()) << args;
    for (const char* n : {"1", "2", "4"}) {
      const auto par =
          sh(std::string("$SLUICE run 'read in.txt | parallel ") + n + " grep " + args + "'");
      ASSERT_EQ(par.status, 0) << par.err;
      EXPECT_TRUE(same_bytes(par.out, one.out)) << "parallel " << n << " grep " << args;
    }
  }
  if (have("grep")) {
    const auto real = sh("grep -i error in.txt");
    const auto par = sh("$SLUICE run 'read in.txt | parallel 2 grep -i error'");
    EXPECT_TRUE(same_bytes(par.out, real.out));
  }
}

TEST_F(GrepCli, ParallelRunsGrepOnlyAndSaysWhy) {
  auto r = sh("$SLUICE run 'parallel 0 grep x'");
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("parallel: the number of threads must be 1 to 64, not '0'"),
            std::string::npos)
      << r.err;
  r = sh("$SLUICE run 'parallel 2 gzip'");
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("parallel: only grep runs in parallel"), std::string::npos) << r.err;
  r = sh("$SLUICE run 'parallel 2 grep'");
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("PATTERN"), std::string::npos) << r.err;
}

}  // namespace
