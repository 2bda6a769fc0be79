// Backpressure through the codecs: with a slow consumer, every buffer in a
// source → codec → sink chain stays near its highWaterMark, however long the input.
#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "codec/compress_support.hpp"
#include "sluice/codec.hpp"

namespace {

using namespace std::chrono_literals;
using sluice::buffer;
using sluice::manual_loop;
using sluice::test::codec_ptr;
using sluice::test::mixed_data;
using sluice::test::run_slow;

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
