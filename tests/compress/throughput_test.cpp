// Throughput of each codec at its default settings against the command-line tools, for
// docs/compression.md. Disabled by default (it takes minutes and its numbers are not checked);
// run it with a corpus file:
//
//   find /usr/share/doc -name '*.gz' -type f -print0 | sort -z | xargs -0 zcat -f |
//     head -c 100M > /tmp/corpus.txt
//   export SLUICE_COMPRESS_CORPUS=/tmp/corpus.txt
//   build/<dir>/sluice_tests --gtest_also_run_disabled_tests --gtest_filter='CompressThroughput.*'
//
// It prints MB/s (10^6 bytes of uncompressed data per second) by CPU time, which shared machines
// disturb less than wall time; sluice runs in this process, the tools as child processes reading
// the corpus (or its compressed form) from a file and writing to /dev/null. Each sluice result
// is also checked: what it compressed decompresses to the corpus.
#include <gtest/gtest.h>
#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <string>

#include "compress/compress_support.hpp"
#include "sluice/compress.hpp"

namespace {

using sluice::buffer;
using sluice::manual_loop;
using sluice::test::codec_ptr;
using sluice::test::quoted;

double cpu_seconds(int who) {
  rusage u{};
  ::getrusage(who, &u);
  const auto secs = [](const timeval& t) { return double(t.tv_sec) + double(t.tv_usec) / 1e6; };
  return secs(u.ru_utime) + secs(u.ru_stime);
}

// Pipes `input` through `codec` in 64 KiB chunks; returns the output and the CPU seconds used.
std::pair<std::string, double> time_codec(const codec_ptr& codec, manual_loop& loop,
                                          const std::string& input) {
  const double start = cpu_seconds(RUSAGE_SELF);
  auto r = sluice::test::run_codec(codec, input, loop, 64 * 1024);
  const double used = cpu_seconds(RUSAGE_SELF) - start;
  EXPECT_TRUE(r.finished) << r.message;
  return {std::move(r.out), used};
}

double time_tool(const std::string& cmd) {
  const double start = cpu_seconds(RUSAGE_CHILDREN);
  EXPECT_EQ(sluice::test::shell(cmd), 0) << cmd;
  return cpu_seconds(RUSAGE_CHILDREN) - start;
}

void report(const char* what, std::size_t bytes, double seconds) {
  std::printf("%-34s %8.1f MB/s  (%.2f s CPU)\n", what, double(bytes) / 1e6 / seconds, seconds);
  std::fflush(stdout);
}

struct codec_case {
  const char* name;
  std::function<codec_ptr(sluice::loop&)> compress;
  std::function<codec_ptr(sluice::loop&)> decompress;
  const char* tool_compress;    // reads stdin, writes stdout
  const char* tool_decompress;  // idem
  std::size_t max_input;        // brotli at quality 11 gets a slice
};

TEST(CompressThroughput, DISABLED_DefaultLevelsAgainstTheTools) {
  const char* corpus_path = std::getenv("SLUICE_COMPRESS_CORPUS");
  if (corpus_path == nullptr) GTEST_SKIP() << "set SLUICE_COMPRESS_CORPUS to a text file";
  const std::string corpus = sluice::test::read_file(corpus_path);
  ASSERT_FALSE(corpus.empty());
  std::printf("corpus: %zu bytes\n", corpus.size());
  sluice::gzip_options isal;
  isal.engine = sluice::gzip_engine::isal;
  const std::vector<codec_case> cases = {
      {"gzip (zlib, level 6)", [](sluice::loop& l) { return sluice::make_gzip(l); },
       [](sluice::loop& l) { return sluice::make_gunzip(l); }, "gzip -c", "gzip -dc",
       corpus.size()},
      {"gzip (isal, level 1)", [isal](sluice::loop& l) { return sluice::make_gzip(l, isal); },
       [](sluice::loop& l) { return sluice::make_gunzip(l); }, "igzip -c", "igzip -dc",
       corpus.size()},
      {"zstd (level 3)", [](sluice::loop& l) { return sluice::make_zstd_compress(l); },
       [](sluice::loop& l) { return sluice::make_zstd_decompress(l); }, "zstd -cq -3", "zstd -dcq",
       corpus.size()},
      {"brotli (quality 11)", [](sluice::loop& l) { return sluice::make_brotli_compress(l); },
       [](sluice::loop& l) { return sluice::make_brotli_decompress(l); }, "brotli -c", "brotli -dc",
       std::size_t{16} << 20},
  };
  sluice::test::temp_dir dir;
  for (const auto& c : cases) {
    const std::string input = corpus.substr(0, c.max_input);
    sluice::test::write_file(dir / "plain", input);
    manual_loop loop;
    auto [packed, comp_s] = time_codec(c.compress(loop), loop, input);
    auto [plain, decomp_s] = time_codec(c.decompress(loop), loop, packed);
    EXPECT_TRUE(plain == input) << c.name;
    std::printf("-- %s on %zu bytes: ratio %.3f\n", c.name, input.size(),
                double(packed.size()) / double(input.size()));
    report("sluice compress", input.size(), comp_s);
    report("sluice decompress", input.size(), decomp_s);
    sluice::test::write_file(dir / "packed", packed);
    const std::string comp_cmd = c.tool_compress;
    const std::string decomp_cmd = c.tool_decompress;
    if (!sluice::test::have_tool(comp_cmd.substr(0, comp_cmd.find(' ')))) continue;
    report(c.tool_compress, input.size(),
           time_tool(comp_cmd + " < " + quoted(dir / "plain") + " > /dev/null"));
    report(c.tool_decompress, input.size(),
           time_tool(decomp_cmd + " < " + quoted(dir / "packed") + " > /dev/null"));
  }
  // Node's zlib pipeline (stream.pipeline with zlib.createGzip / createGunzip), when node is here.
  if (sluice::test::have_tool("node")) {
    const std::string input = corpus;
    sluice::test::write_file(dir / "plain", input);
    manual_loop loop;
    sluice::test::write_file(dir / "packed",
                             time_codec(sluice::make_gzip(loop), loop, input).first);
    const auto node = [&](const char* make, const char* file) {
      return std::string("node -e \"const {pipeline}=require('stream'),fs=require('fs'),") +
             "zlib=require('zlib');pipeline(fs.createReadStream(process.argv[1])," + make +
             ",fs.createWriteStream('/dev/null'),e=>{if(e)process.exit(1)})\" " +
             quoted(dir / file);
    };
    std::printf("-- node %s\n", sluice::test::shell_output("node --version").c_str());
    report("node zlib.createGzip()", input.size(), time_tool(node("zlib.createGzip()", "plain")));
    report("node zlib.createGunzip()", input.size(),
           time_tool(node("zlib.createGunzip()", "packed")));
  }
}

}  // namespace
