// Backpressure through the codecs: with a slow consumer, every buffer in a
// source → codec → sink chain stays near its highWaterMark, however long the input.
#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "compress/compress_support.hpp"
#include "sluice/compress.hpp"

namespace {

using namespace std::chrono_literals;
using sluice::buffer;
using sluice::manual_loop;
using sluice::test::codec_ptr;
using sluice::test::mixed_data;

struct peaks {
  std::size_t source = 0;     // source's readable buffer
  std::size_t codec_in = 0;   // codec's writable buffer
  std::size_t codec_out = 0;  // codec's readable buffer
  std::size_t read_ahead =
      0;  // most input bytes the source had produced beyond what the codec took
  std::string out;
  bool finished = false;
};

// Pipes `input` (in `in_chunk` pieces) through `codec` into a sink that takes 1 ms (virtual) per
// chunk, and reports the peak buffered sizes.
peaks run_slow(manual_loop& loop, const codec_ptr& codec, const std::string& input,
               std::size_t in_chunk) {
  peaks p;
  std::size_t pos = 0;
  const buffer all = buffer::copy_of(input);
  auto source = sluice::make_readable<buffer>(
      loop, {.read = [&](sluice::readable<buffer>& self, std::size_t) {
        if (pos >= all.size()) {
          self.push_eof();
          return;
        }
        const std::size_t n = std::min(in_chunk, all.size() - pos);
        self.push(all.slice(pos, n));
        pos += n;
      }});
  auto sink = sluice::make_writable<buffer>(
      loop,
      {.high_water_mark = 16 * 1024, .write = [&](sluice::writable<buffer>&, buffer&& b, auto cb) {
         p.out.append(b.view());
         p.read_ahead = std::max<std::size_t>(p.read_ahead, pos - codec->counters().bytes_in);
         loop.start_timer(1ms, [cb] { cb(); });
       }});
  sink->on_finish([&p] { p.finished = true; });
  source->pipe(codec)->pipe(sink);
  loop.run();
  p.source = source->counters().peak_readable_length;
  p.codec_in = codec->counters().peak_writable_length;
  p.codec_out = codec->counters().peak_readable_length;
  return p;
}

constexpr std::size_t hwm = 64 * 1024;  // the default byte-mode highWaterMark

TEST(CompressBackpressure, SlowConsumerBoundsEveryBufferWhenCompressing) {
  const std::string input = mixed_data(8 << 20, 21);
  for (const auto& make : std::vector<std::function<codec_ptr(sluice::loop&)>>{
           [](sluice::loop& l) { return sluice::make_gzip(l, {{.level = 1}}); },
           [](sluice::loop& l) { return sluice::make_zstd_compress(l, {.level = 1}); }}) {
    manual_loop loop;
    auto codec = make(loop);
    const auto p = run_slow(loop, codec, input, 64 * 1024);
    ASSERT_TRUE(p.finished);
    // What one written chunk produces can land on top of a full buffer, no more: deflate emits
    // whole blocks, so up to about two chunks (incompressible runs grow a little).
    EXPECT_LE(p.codec_out, hwm + 2 * 64 * 1024);
    EXPECT_LE(p.codec_in, hwm + 64 * 1024);
    EXPECT_LE(p.source, hwm + 64 * 1024);
    EXPECT_LE(p.read_ahead, 4 * hwm + 64 * 1024);  // 8 MiB of input, at most ~0.3 MiB ahead
    EXPECT_GT(codec->counters().push_backpressure, 0u);
  }
}

TEST(CompressBackpressure, SlowConsumerBoundsEveryBufferWhenDecompressing) {
  const std::string input = mixed_data(8 << 20, 22);
  manual_loop loop;
  const std::string packed =
      sluice::test::run_codec(sluice::make_gzip(loop, {{.level = 1}}), input, loop).out;
  auto codec = sluice::make_gunzip(loop);
  // 4 KiB of compressed input inflates to a few times that: far below a buffer's worth.
  const auto p = run_slow(loop, codec, packed, 4096);
  ASSERT_TRUE(p.finished);
  EXPECT_TRUE(p.out == input);
  // The text runs inflate 20-fold: one 4 KiB chunk can add up to ~80 KiB to a full buffer.
  EXPECT_LE(p.codec_out, hwm + 128 * 1024);
  EXPECT_LE(p.codec_in, hwm + 4096);
  EXPECT_LE(p.source, hwm + 4096);
  EXPECT_LE(p.read_ahead, 4 * hwm);
  EXPECT_GT(codec->counters().push_backpressure, 0u);
}

// A decompression bomb: 32 MiB of zeros packs into a few KiB (gzip, about 1000:1) or a few
// hundred bytes (zstd, brotli), and all of it arrives in ONE written chunk. The decoder must not
// inflate the whole chunk at once: it stops when its readable side is full and goes on when the
// consumer wants more, so its buffer stays at the highWaterMark plus one output chunk.
TEST(CompressBackpressure, OneSmallChunkThatInflatesHugelyStaysWithinTheHighWaterMark) {
  const std::string zeros(32u << 20, '\0');
  struct codec_pair {
    const char* name;
    std::function<codec_ptr(sluice::loop&)> pack, unpack;
  };
  const std::vector<codec_pair> codecs{
      {"gunzip (zlib)", [](sluice::loop& l) { return sluice::make_gzip(l); },
       [](sluice::loop& l) { return sluice::make_gunzip(l); }},
      {"gunzip (ISA-L)", [](sluice::loop& l) { return sluice::make_gzip(l); },
       [](sluice::loop& l) { return sluice::make_gunzip(l, {}, sluice::gzip_engine::isal); }},
      {"inflate", [](sluice::loop& l) { return sluice::make_deflate(l); },
       [](sluice::loop& l) { return sluice::make_inflate(l); }},
      {"zstd", [](sluice::loop& l) { return sluice::make_zstd_compress(l); },
       [](sluice::loop& l) { return sluice::make_zstd_decompress(l); }},
      {"brotli", [](sluice::loop& l) { return sluice::make_brotli_compress(l, {.quality = 5}); },
       [](sluice::loop& l) { return sluice::make_brotli_decompress(l); }},
  };
  for (const auto& c : codecs) {
    manual_loop loop;
    const std::string packed = sluice::test::run_codec(c.pack(loop), zeros, loop).out;
    ASSERT_LT(packed.size(), 64u * 1024) << c.name;
    auto codec = c.unpack(loop);
    const auto p = run_slow(loop, codec, packed, packed.size());  // one chunk
    ASSERT_TRUE(p.finished) << c.name;
    EXPECT_TRUE(p.out == zeros) << c.name << ": " << p.out.size() << " bytes out";
    // The default output chunk is 16 KiB: the buffer holds at most hwm plus one of them.
    EXPECT_LE(p.codec_out, hwm + 16 * 1024) << c.name;
    EXPECT_GT(codec->counters().push_backpressure, 100u) << c.name;
  }
}

}  // namespace
