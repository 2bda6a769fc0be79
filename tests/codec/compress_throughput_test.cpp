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
#include <cstring>
#include <functional>
#include <string>

#include "codec/compress_support.hpp"
#include "sluice/codec.hpp"

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

// How much the source pushes at a time: SLUICE_COMPRESS_SLICE, or 64 KiB (a file reader's
// default highWaterMark).
std::size_t slice_size() {
  static const std::size_t n = [] {
    const char* env = std::getenv("SLUICE_COMPRESS_SLICE");
    return env != nullptr ? std::stoul(env) : std::size_t{64 * 1024};
  }();
  return n;
}

// Pipes `input` through `codec` in slice_size() slices (no copies) into a sink. With `keep` the
// sink collects the output; without, it drops each chunk as a tool writing to /dev/null would,
// and only the CPU seconds are of interest (a sink that copies out costs page faults and
// memcpy the tools do not pay).
struct timed {
  std::string out;
  std::uint64_t bytes = 0;
  double seconds = 0;
};

timed time_codec(const codec_ptr& codec, manual_loop& loop, const buffer& input, bool keep) {
  timed t;
  std::size_t pos = 0;
  bool finished = false;
  auto source = sluice::make_readable<buffer>(
      loop, {.read = [&](sluice::readable<buffer>& self, std::size_t) {
        if (pos == input.size()) {
          self.push_eof();
          return;
        }
        const std::size_t n = std::min<std::size_t>(slice_size(), input.size() - pos);
        self.push(input.slice(pos, n));
        pos += n;
      }});
  auto sink = sluice::make_writable<buffer>(
      loop, {.write = [&](sluice::writable<buffer>&, buffer&& b, auto cb) {
        t.bytes += b.size();
        if (keep) t.out.append(b.view());
        cb();
      }});
  sink->on_finish([&finished] { finished = true; });
  const double start = cpu_seconds(RUSAGE_SELF);
  source->pipe(codec)->pipe(sink);
  loop.run();
  t.seconds = cpu_seconds(RUSAGE_SELF) - start;
  EXPECT_TRUE(finished) << codec->error_message();
  return t;
}

// The least CPU time of three runs of `run` (it returns seconds): the machine is shared.
template <class F>
double best_of_3(F run) {
  double best = run();
  for (int i = 0; i < 2; ++i) best = std::min(best, run());
  return best;
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
  // SLUICE_COMPRESS_CHUNK sets every codec's chunk_size (default: the options' default, 16 KiB).
  const char* chunk_env = std::getenv("SLUICE_COMPRESS_CHUNK");
  const std::size_t chunk = chunk_env != nullptr ? std::stoul(chunk_env) : 16 * 1024;
  std::printf("chunk_size: %zu, input slices: %zu\n", chunk, slice_size());
  sluice::gzip_options isal;
  isal.engine = sluice::gzip_engine::isal;
  isal.chunk_size = chunk;
  sluice::gzip_options zlib;
  zlib.chunk_size = chunk;
  const sluice::zlib_options gunzip{.chunk_size = chunk};
  const sluice::zstd_options zstd{.chunk_size = chunk};
  const sluice::brotli_options brotli{.chunk_size = chunk};
  const std::vector<codec_case> cases = {
      {"gzip (zlib, level 6)", [=](sluice::loop& l) { return sluice::make_gzip(l, zlib); },
       [=](sluice::loop& l) { return sluice::make_gunzip(l, gunzip); }, "gzip -c", "gzip -dc",
       corpus.size()},
      {"gzip (isal, level 1)", [=](sluice::loop& l) { return sluice::make_gzip(l, isal); },
       [=](sluice::loop& l) { return sluice::make_gunzip(l, gunzip, sluice::gzip_engine::isal); },
       "igzip -c", "igzip -dc", corpus.size()},
      {"zstd (level 3)", [=](sluice::loop& l) { return sluice::make_zstd_compress(l, zstd); },
       [=](sluice::loop& l) { return sluice::make_zstd_decompress(l, zstd); }, "zstd -cq -3",
       "zstd -dcq", corpus.size()},
      {"brotli (quality 11)",
       [=](sluice::loop& l) { return sluice::make_brotli_compress(l, brotli); },
       [=](sluice::loop& l) { return sluice::make_brotli_decompress(l, brotli); }, "brotli -c",
       "brotli -dc", std::size_t{4} << 20},
  };
  sluice::test::temp_dir dir;
  const char* only = std::getenv("SLUICE_COMPRESS_ONLY");  // a substring of the case names
  for (const auto& c : cases) {
    if (only != nullptr && std::string(c.name).find(only) == std::string::npos) continue;
    const std::string input = corpus.substr(0, c.max_input);
    const buffer input_buffer = buffer::copy_of(input);
    sluice::test::write_file(dir / "plain", input);
    manual_loop loop;
    const std::string packed = time_codec(c.compress(loop), loop, input_buffer, true).out;
    const buffer packed_buffer = buffer::copy_of(packed);
    EXPECT_TRUE(time_codec(c.decompress(loop), loop, packed_buffer, true).out == input) << c.name;
    const double comp_s =
        best_of_3([&] { return time_codec(c.compress(loop), loop, input_buffer, false).seconds; });
    const double decomp_s = best_of_3(
        [&] { return time_codec(c.decompress(loop), loop, packed_buffer, false).seconds; });
    std::printf("-- %s on %zu bytes: ratio %.3f\n", c.name, input.size(),
                double(packed.size()) / double(input.size()));
    report("sluice compress", input.size(), comp_s);
    report("sluice decompress", input.size(), decomp_s);
    sluice::test::write_file(dir / "packed", packed);
    const std::string comp_cmd = c.tool_compress;
    const std::string decomp_cmd = c.tool_decompress;
    if (!sluice::test::have_tool(comp_cmd.substr(0, comp_cmd.find(' ')))) continue;
    report(c.tool_compress, input.size(), best_of_3([&] {
             return time_tool(comp_cmd + " < " + quoted(dir / "plain") + " > /dev/null");
           }));
    report(c.tool_decompress, input.size(), best_of_3([&] {
             return time_tool(decomp_cmd + " < " + quoted(dir / "packed") + " > /dev/null");
           }));
  }
  // Node's zlib pipeline (stream.pipeline with zlib.createGzip / createGunzip), when node is here.
  if (sluice::test::have_tool("node")) {
    const std::string input = corpus;
    sluice::test::write_file(dir / "plain", input);
    manual_loop loop;
    sluice::test::write_file(
        dir / "packed",
        time_codec(sluice::make_gzip(loop), loop, buffer::copy_of(input), true).out);
    const auto node = [&](const char* make, const char* file) {
      return std::string("node -e \"const {pipeline}=require('stream'),fs=require('fs'),") +
             "zlib=require('zlib');pipeline(fs.createReadStream(process.argv[1])," + make +
             ",fs.createWriteStream('/dev/null'),e=>{if(e)process.exit(1)})\" " +
             quoted(dir / file);
    };
    std::printf("-- node %s\n", sluice::test::shell_output("node --version").c_str());
    report("node zlib.createGzip()", input.size(),
           best_of_3([&] { return time_tool(node("zlib.createGzip()", "plain")); }));
    report("node zlib.createGunzip()", input.size(),
           best_of_3([&] { return time_tool(node("zlib.createGunzip()", "packed")); }));
  }
}

}  // namespace
