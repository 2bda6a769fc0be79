// End-to-end tests of what the codec commands say about bad input (one line naming the file, as
// gzip does), of zstd's window limit (--long, --memory), and of the progress line's width on a
// terminal (script(1) gives the command one).
#include <algorithm>

#include "cli/cli_fixture.hpp"

namespace {

using namespace sluice::cli::testing;

class CodecCli : public CliTest {
 protected:
  // Exactly one line on stderr, status 1.
  static void expect_error(const result& r, const std::string& line) {
    EXPECT_EQ(r.status, 1) << r.err;
    EXPECT_EQ(r.err, line + "\n");
  }
};

TEST_F(CodecCli, InputInAnotherFormatIsNamedLikeGzipDoes) {
  spit(path("plain.gz"), "hello, plain text\n");
  expect_error(sh("\"$SLUICE\" gunzip plain.gz"), "sluice: gunzip: plain.gz: not in gzip format");
  expect_error(sh("\"$SLUICE\" gunzip --engine isal -c plain.gz"),
               "sluice: gunzip: plain.gz: not in gzip format");
  expect_error(sh("\"$SLUICE\" gunzip < plain.gz"), "sluice: gunzip: stdin: not in gzip format");
  spit(path("x.zst"), "hello, plain text\n");
  expect_error(sh("\"$SLUICE\" unzstd x.zst"), "sluice: unzstd: x.zst: not in zstd format");
  // `run` keeps the stage, as more than one stage might be a gunzip.
  expect_error(sh("\"$SLUICE\" run 'read plain.gz | gunzip'"),
               "sluice: run: stage 2 (gunzip): plain.gz: not in gzip format");
  EXPECT_FALSE(fs::exists(path("plain")));
}

TEST_F(CodecCli, TruncatedInputNamesTheFileAndTheOffset) {
  make_text("in.txt", 200000);
  ASSERT_EQ(sh("gzip -c in.txt | head -c 20000 > cut.gz").status, 0);
  for (const char* engine : {"zlib", "isal"}) {
    expect_error(sh(std::string("\"$SLUICE\" gunzip --engine ") + engine + " cut.gz -o out.txt"),
                 "sluice: gunzip: cut.gz: unexpected end of compressed data (at input byte 20000)");
  }
  ASSERT_EQ(sh("zstd -q -c in.txt | head -c 3000 > cut.zst").status, 0);
  expect_error(sh("\"$SLUICE\" unzstd -c cut.zst"),
               "sluice: unzstd: cut.zst: unexpected end of compressed data (at input byte 3000)");
  EXPECT_FALSE(fs::exists(path("out.txt")));
}

TEST_F(CodecCli, ChecksumMismatchNamesTheFile) {
  make_text("in.txt", 100000);
  ASSERT_EQ(sh("gzip -c in.txt > bad.gz").status, 0);
  std::string gz = slurp(path("bad.gz"));
  gz[gz.size() - 6] = static_cast<char>(gz[gz.size() - 6] ^ 1);  // inside the CRC-32
  spit(path("bad.gz"), gz);
  // Found at the CRC-32 or after the size that follows it: the same kind either way.
  for (const char* engine : {"zlib", "isal"}) {
    const result r = sh(std::string("\"$SLUICE\" gunzip -c --engine ") + engine + " bad.gz");
    EXPECT_EQ(r.status, 1);
    expect_one_line_error(r,
                          "sluice: gunzip: bad.gz: compressed data checksum mismatch (at input "
                          "byte ");
  }
}

TEST_F(CodecCli, CorruptBrotliNamesTheFileAndNoNameIsPrintedTwice) {
  make_text("in.txt", 100000);
  ASSERT_EQ(sh("\"$SLUICE\" brotli --level 4 in.txt").status, 0);
  std::string br = slurp(path("in.txt.br"));
  br[0] = static_cast<char>(0xff);
  br[1] = static_cast<char>(0xff);
  spit(path("bad.br"), br);
  const result r = sh("\"$SLUICE\" unbrotli -c bad.br");
  expect_one_line_error(r, "sluice: unbrotli: bad.br: invalid compressed data (at input byte ");
  for (const char* cmd : {"gunzip", "unzstd", "unbrotli"}) {
    spit(path("junk"), "junk");
    const result j = sh(std::string("\"$SLUICE\" ") + cmd + " -c junk");
    EXPECT_EQ(j.err.find(std::string(cmd) + ": " + cmd + ":"), std::string::npos) << j.err;
    EXPECT_EQ(j.err.find("stage "), std::string::npos) << j.err;
  }
}

// A frame written with a window above zstd's default 128 MiB limit (zstd --long=31 from a pipe
// keeps the 2 GiB window in the header) is refused with the flags that accept it, and decoded
// with them. The frame itself is small.
TEST_F(CodecCli, ZstdLargeWindowNeedsLongOrMemory) {
  if (!have("zstd")) GTEST_SKIP() << "no zstd CLI";
  ASSERT_EQ(sh("seq 1 100000 > want.txt && seq 1 100000 | zstd -q --long=31 -c > l31.zst").status,
            0);
  const std::string want = slurp(path("want.txt"));
  expect_error(sh("\"$SLUICE\" unzstd -c l31.zst"),
               "sluice: unzstd: l31.zst: window size larger than maximum (128 MiB); use --long=31 "
               "or --memory=SIZE");
  expect_error(sh("\"$SLUICE\" unzstd -c --memory=1G l31.zst"),
               "sluice: unzstd: l31.zst: window size larger than maximum (1 GiB); use --long=31 "
               "or --memory=SIZE");
  for (const char* flags : {"--long=31", "--memory=2G", "--memory=3000M"}) {
    const result r = sh(std::string("\"$SLUICE\" unzstd -c ") + flags + " l31.zst");
    ASSERT_EQ(r.status, 0) << flags << ": " << r.err;
    EXPECT_TRUE(same_bytes(r.out, want)) << flags;
  }
  // The same flags as a `run` stage's options.
  EXPECT_EQ(sh("\"$SLUICE\" run 'read l31.zst | unzstd --long=31 | count -l'").out, "100000\n");
  EXPECT_EQ(sh("\"$SLUICE\" run 'read l31.zst | unzstd --memory=2G | count -l'").out, "100000\n");
  expect_error(sh("\"$SLUICE\" run 'read l31.zst | unzstd'"),
               "sluice: run: stage 2 (unzstd): l31.zst: window size larger than maximum (128 "
               "MiB); use --long=31 or --memory=SIZE");
  EXPECT_EQ(sh("\"$SLUICE\" unzstd --long=9 -c l31.zst").status, 2);
  EXPECT_EQ(sh("\"$SLUICE\" unzstd --memory=lots -c l31.zst").status, 2);
}

// zstd --long[=N] writes frames with a 2^N window and long-distance matching, which zstd -d
// reads only when allowed that window, as for zstd's own --long output.
TEST_F(CodecCli, ZstdLongWritesLargeWindowFrames) {
  if (!have("zstd")) GTEST_SKIP() << "no zstd CLI";
  const std::string text = make_text("in.txt", 300000);
  ASSERT_EQ(sh("\"$SLUICE\" zstd --long=28 -c in.txt > l28.zst").status, 0);
  EXPECT_NE(sh("zstd -q -dc l28.zst > /dev/null").status, 0);  // 256 MiB > zstd's 128 MiB limit
  EXPECT_TRUE(same_bytes(sh("zstd -q -dc --long=28 l28.zst").out, text));
  EXPECT_TRUE(same_bytes(sh("\"$SLUICE\" unzstd --long=28 -c l28.zst").out, text));
  // --long alone is a 128 MiB window, which every decoder accepts.
  ASSERT_EQ(sh("\"$SLUICE\" zstd --long in.txt").status, 0);
  EXPECT_TRUE(same_bytes(sh("zstd -q -dc in.txt.zst").out, text));
  EXPECT_EQ(sh("\"$SLUICE\" run 'read in.txt | zstd --long=28 | unzstd --long=28 | count -c'").out,
            "300000\n");
}

// On a 40-column terminal every redraw of the progress line fits in 39 columns (one is left
// free), and after the window shrinks to 30 columns the redraws follow.
TEST_F(CodecCli, ProgressLineFitsTheTerminalAndFollowsResizes) {
  if (!have("script") || !have("stty")) GTEST_SKIP() << "no script(1) or stty";
  make_text("big.txt", 8 << 20);
  // The reader of stdout waits 1.6 s: the copy is held by backpressure with its size known,
  // so the line has a bar, a percentage, byte counts, a rate and an ETA to fit.
  const std::string inner =
      "stty cols 40; (sleep 0.8; stty cols 30 < /dev/tty) & \"$SLUICE\" copy --stream "
      "big.txt - | (sleep 1.6; cat > /dev/null); wait";
  const result r = sh("script -qec " + quote("bash -c " + quote(inner)) + " /dev/null");
  ASSERT_EQ(r.status, 0) << r.err;
  std::vector<std::string> lines;
  std::size_t start = 0;
  while (start < r.out.size()) {
    std::size_t end = r.out.find('\r', start);
    if (end == std::string::npos) end = r.out.size();
    std::string seg = r.out.substr(start, end - start);
    for (std::size_t k; (k = seg.find("\033[K")) != std::string::npos;) seg.erase(k, 3);
    if (!seg.empty() && seg.find('\n') == std::string::npos) lines.push_back(seg);
    start = end + 1;
  }
  ASSERT_GE(lines.size(), 3u) << r.out;
  for (const auto& l : lines) EXPECT_LE(l.size(), 39u) << "'" << l << "'";
  EXPECT_NE(lines.front().find('%'), std::string::npos) << lines.front();
  EXPECT_LE(lines.back().size(), 29u) << "'" << lines.back() << "'";
}

}  // namespace
