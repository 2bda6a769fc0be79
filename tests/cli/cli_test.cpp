// End-to-end tests of the `sluice` binary: real files in a temporary directory, the real gzip,
// zstd and brotli CLIs, real pipes. Each test runs shell commands in its own directory with
// $SLUICE naming the binary under test, and checks what a user would see: exit status, stdout,
// stderr, and which files exist afterwards.
#include "cli/cli_fixture.hpp"

namespace {

using namespace sluice::cli::testing;
using Cli = CliTest;

TEST_F(Cli, GzipOutputIsReadByGzipCli) {
  const std::string text = make_text("in.txt", 300000);
  const result r = sh("\"$SLUICE\" gzip in.txt");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.err, "");  // stderr is not a terminal: no progress bar
  EXPECT_EQ(r.out, "");
  EXPECT_TRUE(fs::exists(path("in.txt")));  // the input is kept
  ASSERT_EQ(sh("gzip -t in.txt.gz").status, 0);
  EXPECT_TRUE(same_bytes(sh("gzip -dc in.txt.gz").out, text));
  EXPECT_LT(fs::file_size(path("in.txt.gz")), text.size() / 3);
}

TEST_F(Cli, GunzipReadsGzipCliOutputAndPipes) {
  const std::string text = make_text("in.txt", 200000);
  ASSERT_EQ(sh("gzip -c -9 in.txt > a.gz").status, 0);
  ASSERT_EQ(sh("\"$SLUICE\" gunzip a.gz -o back.txt").status, 0);
  EXPECT_TRUE(same_bytes(slurp(path("back.txt")), text));
  // stdin to stdout, both ways through pipes.
  const result r = sh("\"$SLUICE\" gzip --level 1 < in.txt | \"$SLUICE\" gunzip");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_TRUE(same_bytes(r.out, text));
}

TEST_F(Cli, IsalEngineWritesStandardGzip) {
  const std::string text = make_text("in.txt", 200000);
  ASSERT_EQ(sh("\"$SLUICE\" gzip --engine isal in.txt -o i.gz").status, 0);
  EXPECT_TRUE(same_bytes(sh("gzip -dc i.gz").out, text));
}

TEST_F(Cli, IsalEngineGunzipsGzipCliOutputAndNamesCorruption) {
  const std::string text = make_text("in.txt", 300000);
  ASSERT_EQ(sh("gzip -c in.txt > g.gz && gzip -c in.txt >> g.gz").status, 0);  // two members
  const result r = sh("\"$SLUICE\" gunzip --engine isal g.gz -c");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_TRUE(same_bytes(r.out, text + text));
  std::string gz = slurp(path("g.gz"));
  for (std::size_t i = 1000; i < 1100; ++i) gz[i] = static_cast<char>(gz[i] ^ 0x5a);
  spit(path("bad.gz"), gz);
  const auto before = files();
  const result bad = sh("\"$SLUICE\" gunzip --engine isal bad.gz");
  expect_one_line_error(bad, "sluice: gunzip: bad.gz: ");
  EXPECT_EQ(files(), before);
  EXPECT_EQ(sh("\"$SLUICE\" run 'read g.gz | gunzip --engine isal | count -c'").out,
            std::to_string(2 * text.size()) + "\n");
}

TEST_F(Cli, ThreadsGiveTheSameStandardGzipForAnyCount) {
  const std::string text = make_text("in.txt", 1000000);
  for (const char* engine : {"zlib", "isal"}) {
    SCOPED_TRACE(engine);
    const std::string e(engine);
    ASSERT_EQ(sh("\"$SLUICE\" gzip --engine " + e + " --threads 2 in.txt -o two.gz").status, 0);
    ASSERT_EQ(sh("\"$SLUICE\" gzip --engine " + e + " -p 3 in.txt -o three.gz").status, 0);
    ASSERT_EQ(sh("\"$SLUICE\" gzip --engine " + e + " --threads 1 in.txt -o one.gz").status, 0);
    EXPECT_TRUE(same_bytes(sh("gzip -dc two.gz").out, text));
    EXPECT_TRUE(same_bytes(sh("gzip -dc one.gz").out, text));
    EXPECT_TRUE(same_bytes(slurp(path("two.gz")), slurp(path("three.gz"))));
  }
  const result bad = sh("\"$SLUICE\" gzip --threads 999 in.txt -o x.gz");
  EXPECT_NE(bad.status, 0);
  EXPECT_FALSE(fs::exists(path("x.gz")));
}

TEST_F(Cli, ZstdRoundTripsWithZstdCli) {
  if (!have("zstd")) GTEST_SKIP() << "no zstd CLI";
  const std::string text = make_text("in.txt", 200000);
  ASSERT_EQ(sh("\"$SLUICE\" zstd --level 9 in.txt").status, 0);
  EXPECT_TRUE(same_bytes(sh("zstd -dc in.txt.zst").out, text));
  ASSERT_EQ(sh("zstd -q -c in.txt > b.zst && \"$SLUICE\" unzstd b.zst -o b.txt").status, 0);
  EXPECT_TRUE(same_bytes(slurp(path("b.txt")), text));
}

TEST_F(Cli, BrotliRoundTripsWithBrotliCli) {
  if (!have("brotli")) GTEST_SKIP() << "no brotli CLI";
  const std::string text = make_text("in.txt", 100000);
  ASSERT_EQ(sh("\"$SLUICE\" brotli --level 5 in.txt").status, 0);
  EXPECT_TRUE(same_bytes(sh("brotli -dc in.txt.br").out, text));
  ASSERT_EQ(sh("brotli -q 4 -c in.txt > b.br && \"$SLUICE\" unbrotli -c b.br > b.txt").status, 0);
  EXPECT_TRUE(same_bytes(slurp(path("b.txt")), text));
}

TEST_F(Cli, GunzipsARealDebianDocument) {
  // Whatever compressed documentation this system has: changelogs are gzip -9n.
  fs::path found;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator("/usr/share/doc", ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (it->is_regular_file(ec) && it->path().extension() == ".gz" && it->file_size(ec) > 2000) {
      found = it->path();
      break;
    }
  }
  if (found.empty()) GTEST_SKIP() << "no .gz under /usr/share/doc";
  const result want = sh("gzip -dc " + quote(found.string()));
  ASSERT_EQ(want.status, 0);
  const result got = sh("\"$SLUICE\" gunzip -c " + quote(found.string()));
  ASSERT_EQ(got.status, 0) << got.err;
  EXPECT_TRUE(same_bytes(got.out, want.out)) << found;
}

TEST_F(Cli, MultiMemberGzip) {
  const std::string a = make_text("a.txt", 50000, 1);
  const std::string b = make_text("b.txt", 70000, 2);
  ASSERT_EQ(sh("gzip -c a.txt > ab.gz && gzip -c b.txt >> ab.gz").status, 0);
  ASSERT_EQ(sh("\"$SLUICE\" gunzip ab.gz").status, 0);
  EXPECT_TRUE(same_bytes(slurp(path("ab")), a + b));
}

TEST_F(Cli, CorruptInputFailsWithOneLineAndLeavesNoOutput) {
  make_text("in.txt", 200000);
  ASSERT_EQ(sh("gzip -c in.txt > bad.gz").status, 0);
  std::string gz = slurp(path("bad.gz"));
  for (std::size_t i = 1000; i < 1100; ++i) gz[i] = static_cast<char>(gz[i] ^ 0x5a);
  spit(path("bad.gz"), gz);
  const auto before = files();
  const result r = sh("\"$SLUICE\" gunzip bad.gz");
  expect_one_line_error(r, "sluice: gunzip: bad.gz: ");
  EXPECT_EQ(r.status, 1);
  EXPECT_EQ(files(), before);  // neither "bad" nor a temporary file
}

TEST_F(Cli, TruncatedInputFailsAndLeavesNoOutput) {
  make_text("in.txt", 200000);
  ASSERT_EQ(sh("gzip -c in.txt | head -c 20000 > cut.gz").status, 0);
  const auto before = files();
  const result r = sh("\"$SLUICE\" gunzip cut.gz -o out.txt");
  expect_one_line_error(r, "sluice: gunzip: cut.gz: unexpected end of compressed data");
  EXPECT_EQ(files(), before);
}

TEST_F(Cli, FailedRunKeepsTheOldOutputIntact) {
  make_text("in.txt", 100000);
  spit(path("out.txt"), "previous contents\n");
  ASSERT_EQ(sh("gzip -c in.txt | head -c 5000 > cut.gz").status, 0);
  const result r = sh("\"$SLUICE\" gunzip cut.gz -o out.txt");
  EXPECT_EQ(r.status, 1);
  EXPECT_EQ(slurp(path("out.txt")), "previous contents\n");
  EXPECT_EQ(files(), (std::set<std::string>{"in.txt", "out.txt", "cut.gz"}));
}

TEST_F(Cli, MissingInputNamesTheFile) {
  const result r = sh("\"$SLUICE\" gzip nope.txt");
  expect_one_line_error(r, "sluice: gzip: stage 1 (read): ");
  EXPECT_NE(r.err.find("open 'nope.txt': No such file or directory"), std::string::npos) << r.err;
  EXPECT_TRUE(files().empty());
}

TEST_F(Cli, DoesNotOverwriteADerivedOutputWithoutForce) {
  make_text("in.txt", 1000);
  spit(path("in.txt.gz"), "keep me");
  const result r = sh("\"$SLUICE\" gzip in.txt");
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("already exists"), std::string::npos) << r.err;
  EXPECT_EQ(slurp(path("in.txt.gz")), "keep me");
  ASSERT_EQ(sh("\"$SLUICE\" gzip -f in.txt").status, 0);
  EXPECT_EQ(sh("gzip -t in.txt.gz").status, 0);
  const result bad_name = sh("\"$SLUICE\" gunzip in.txt");
  EXPECT_EQ(bad_name.status, 2);
  EXPECT_NE(bad_name.err.find("use -o OUT or -c"), std::string::npos) << bad_name.err;
}

TEST_F(Cli, BrokenPipeOnStdoutEndsQuietlyWithStatusZero) {
  make_text("big.txt", 8 << 20);
  const result r =
      sh("\"$SLUICE\" cat big.txt 2>cat.err | head -c 10 > ten.txt; echo \"${PIPESTATUS[0]}\"");
  EXPECT_EQ(r.out, "0\n");
  EXPECT_EQ(slurp(path("cat.err")), "");
  EXPECT_EQ(fs::file_size(path("ten.txt")), 10u);
}

TEST_F(Cli, CatConcatenatesFilesAndNamesAMissingOne) {
  const std::string a = make_text("a.txt", 100000, 1);
  const std::string b = make_text("b.txt", 30000, 2);
  const result r = sh("\"$SLUICE\" cat a.txt b.txt a.txt");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_TRUE(same_bytes(r.out, a + b + a));
  const result missing = sh("\"$SLUICE\" cat a.txt gone.txt -o all.txt");
  expect_one_line_error(missing, "sluice: cat: stage 1 (read): ");
  EXPECT_NE(missing.err.find("open 'gone.txt'"), std::string::npos) << missing.err;
  EXPECT_FALSE(fs::exists(path("all.txt")));
}

TEST_F(Cli, CopyWithStats) {
  const std::string text = make_text("src.txt", 3 << 20);
  const result r = sh("\"$SLUICE\" copy --stream --stats src.txt dst.txt");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_TRUE(same_bytes(slurp(path("dst.txt")), text));
  // Header, one row per stage, footnote: the counters are the streams' own.
  EXPECT_NE(r.err.find("sluice: stats"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("0  read"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("1  write"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("3.00 MiB"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find('\r'), std::string::npos);  // no progress bar off a terminal
}

TEST_F(Cli, CopyFileToFileGoesThroughTheKernel) {
  const std::string text = make_text("src.txt", (3 << 20) + 11);
  ASSERT_EQ(sh("echo old > dst.txt").status, 0);
  const result r = sh("\"$SLUICE\" copy --stats src.txt dst.txt");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_TRUE(same_bytes(slurp(path("dst.txt")), text));
  // One stage, copy_file_range, every byte; and no temporary left beside the target.
  EXPECT_NE(r.err.find("0  copy (copy_file_range)"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("3.00 MiB"), std::string::npos) << r.err;
  EXPECT_EQ(sh("ls -A | grep -c sluice-").out, "0\n");
  // Errors name the file, on one line.
  const result missing = sh("\"$SLUICE\" copy gone.txt out.txt");
  expect_one_line_error(missing, "sluice: copy: open 'gone.txt': No such file or directory");
  EXPECT_FALSE(fs::exists(path("out.txt")));
  const result self = sh("\"$SLUICE\" copy src.txt src.txt");
  EXPECT_NE(self.status, 0);
  EXPECT_NE(self.err.find("the same file"), std::string::npos) << self.err;
  EXPECT_TRUE(same_bytes(slurp(path("src.txt")), text));
}

TEST_F(Cli, ProgressBarOnlyOnATerminalAndNotWithQuiet) {
  if (!have("script")) GTEST_SKIP() << "no script(1) to give the command a terminal";
  // stdin stays empty for 0.7 s, so the 200 ms progress timer fires while the copy waits.
  const std::string copy = "(sleep 0.7; echo x) | \"$SLUICE\" copy";
  const result tty = sh("script -qec " + quote("bash -c '" + copy + " - a.txt'") + " /dev/null");
  ASSERT_EQ(tty.status, 0) << tty.err;
  EXPECT_NE(tty.out.find("\r"), std::string::npos);
  EXPECT_NE(tty.out.find("B/s"), std::string::npos) << tty.out;
  EXPECT_NE(tty.out.find("\r\033[K"), std::string::npos);  // erased at the end
  const result quiet =
      sh("script -qec " + quote("bash -c '" + copy + " -q - b.txt'") + " /dev/null");
  ASSERT_EQ(quiet.status, 0) << quiet.err;
  EXPECT_EQ(quiet.out.find("B/s"), std::string::npos) << quiet.out;
  EXPECT_EQ(slurp(path("b.txt")), "x\n");
}

TEST_F(Cli, RunChainsStages) {
  const std::string text = make_text("app.log", 500000);
  ASSERT_EQ(sh("gzip -c app.log > app.log.gz").status, 0);
  const result r =
      sh("\"$SLUICE\" run 'read app.log.gz | gunzip | grep ERROR | gzip --level 1 | write e.gz'");
  ASSERT_EQ(r.status, 0) << r.err;
  const result want = sh("grep ERROR app.log");
  ASSERT_FALSE(want.out.empty());
  EXPECT_TRUE(same_bytes(sh("gzip -dc e.gz").out, want.out));
  // Implicit stdin and stdout, count, -v with a regex.
  const result n = sh("\"$SLUICE\" run 'gunzip | grep -v \"^.{24}INFO\" | count' < app.log.gz");
  ASSERT_EQ(n.status, 0) << n.err;
  EXPECT_EQ(n.out, sh("grep -cvE '^.{24}INFO' app.log").out);
}

TEST_F(Cli, RunHeadStopsEarly) {
  make_text("big.txt", 4 << 20);
  const result r = sh("\"$SLUICE\" run 'read big.txt | head -n 3'");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out, sh("head -n 3 big.txt").out);
  const result c = sh("\"$SLUICE\" run --stats 'read big.txt | head -c 100 | write h.txt'");
  ASSERT_EQ(c.status, 0) << c.err;
  EXPECT_EQ(slurp(path("h.txt")), sh("head -c 100 big.txt").out);
}

TEST_F(Cli, RunSyntaxErrorPointsAtTheToken) {
  const std::string expr = "read in.txt | gunzp | stdout";
  const result r = sh("\"$SLUICE\" run '" + expr + "'");
  EXPECT_EQ(r.status, 2);
  std::istringstream lines(r.err);
  std::string msg, shown, caret;
  std::getline(lines, msg);
  std::getline(lines, shown);
  std::getline(lines, caret);
  EXPECT_EQ(msg.rfind("sluice: run: unknown stage 'gunzp'", 0), 0u) << r.err;
  EXPECT_EQ(shown, "  " + expr);
  EXPECT_EQ(caret, std::string(2 + expr.find("gunzp"), ' ') + "^^^^^");
}

TEST_F(Cli, HelpForEverySubcommand) {
  const result top = sh("\"$SLUICE\" --help");
  ASSERT_EQ(top.status, 0);
  for (const char* sub : {"gzip", "gunzip", "zstd", "unzstd", "brotli", "unbrotli", "cat", "copy",
                          "run", "demo", "serve"}) {
    EXPECT_NE(top.out.find(sub), std::string::npos) << sub;
    const result r = sh(std::string("\"$SLUICE\" ") + sub + " --help");
    EXPECT_EQ(r.status, 0) << sub;
    EXPECT_NE(r.out.find("Usage"), std::string::npos) << sub << ": " << r.out;
  }
  EXPECT_EQ(top.out.find("demo-child"), std::string::npos);  // hidden
  EXPECT_EQ(top.out.find("demo-http-child"), std::string::npos);
  EXPECT_NE(sh("\"$SLUICE\" gzip --help").out.find("--engine"), std::string::npos);
  EXPECT_NE(sh("\"$SLUICE\" gzip --help").out.find("--threads"), std::string::npos);
  EXPECT_NE(sh("\"$SLUICE\" run --help").out.find("grep [-v]"), std::string::npos);
  EXPECT_NE(sh("\"$SLUICE\" gzip --level 12 x").status, 0);
  EXPECT_NE(sh("\"$SLUICE\" frobnicate").status, 0);
}

TEST_F(Cli, UsageErrorsExitTwoWithOneLineNamingTheProblem) {
  make_text("in.txt", 1000);
  struct usage_case {
    const char* args;
    const char* message;  // the whole line, without the newline
  };
  const usage_case cases[] = {
      {"gzip --bogus in.txt", "sluice: gzip: The following argument was not expected: --bogus"},
      {"gzip --level 12 in.txt", "sluice: gzip: --level: must be 0..9, not 12"},
      {"gzip --level abc in.txt", "sluice: gzip: --level: not a number: 'abc'"},
      {"zstd --level 0 in.txt", "sluice: zstd: --level: must be 1..19, not 0"},
      {"gzip -o", "sluice: gzip: --output: 1 required TEXT missing"},
      {"", "sluice: a command is needed (sluice --help lists them)"},
      {"frobnicate", "sluice: unknown command 'frobnicate' (sluice --help lists them)"},
      {"cat", "sluice: cat: FILE is required"},
  };
  for (const auto& c : cases) {
    const result r = sh(std::string("\"$SLUICE\" ") + c.args);
    EXPECT_EQ(r.status, 2) << c.args;
    EXPECT_EQ(r.err, std::string(c.message) + "\n") << c.args;
    EXPECT_TRUE(r.out.empty()) << c.args;
  }
  // Help and version are not errors.
  EXPECT_EQ(sh("\"$SLUICE\" --version").status, 0);
  EXPECT_EQ(sh("\"$SLUICE\" gzip --help").status, 0);
  EXPECT_EQ(files(), (std::set<std::string>{"in.txt"}));  // nothing was written
}

TEST_F(Cli, RunHeadTakesADashCountAsHeadDoes) {
  make_text("in.txt", 100000);
  const result r = sh("\"$SLUICE\" run 'read in.txt | head -3 | count'");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out, "3\n");
}

TEST_F(Cli, DemoWithATinySizePrintsBothSides) {
  const result r = sh("\"$SLUICE\" demo backpressure --size 4M");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("respecting backpressure"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("ignoring write()"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("peak memory (max RSS)"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("wall time"), std::string::npos) << r.out;
  // Ignoring backpressure queues (nearly) the whole input in front of gzip; respecting it, at
  // most about one highWaterMark (64 KiB) plus the chunk in hand.
  const auto row = r.out.substr(r.out.find("peak queued before gzip"));
  const std::string line = row.substr(0, row.find('\n'));
  EXPECT_NE(line.find("KiB"), std::string::npos) << line;
  EXPECT_NE(line.find("MiB"), std::string::npos) << line;
}

}  // namespace
