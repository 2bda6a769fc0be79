// Round trips through every codec (compress.hpp): sizes from 0 bytes to several MiB, input cut
// into small and large chunks, output in chunk_size buffers, and the flush modes.
#include <gtest/gtest.h>

#include <functional>
#include <string>
#include <vector>

#include "codec/compress_support.hpp"
#include "sluice/codec.hpp"

namespace {

using sluice::manual_loop;
using sluice::test::codec_ptr;
using sluice::test::mixed_data;
using sluice::test::run_chain;
using sluice::test::run_codec;

struct codec_pair {
  std::string name;
  std::function<codec_ptr(sluice::loop&)> compress;
  std::function<codec_ptr(sluice::loop&)> decompress;
};

sluice::gzip_options isal(int level = -1) {
  sluice::gzip_options o;
  o.level = level;
  o.engine = sluice::gzip_engine::isal;
  return o;
}

std::vector<codec_pair> codec_pairs() {
  using namespace sluice;
  return {
      {"gzip", [](loop& l) { return make_gzip(l); }, [](loop& l) { return make_gunzip(l); }},
      {"gzip_isal", [](loop& l) { return make_gzip(l, isal()); },
       [](loop& l) { return make_gunzip(l, {}, gzip_engine::isal); }},
      {"gzip_zlib_gunzip_isal", [](loop& l) { return make_gzip(l); },
       [](loop& l) { return make_gunzip(l, {.chunk_size = 100}, gzip_engine::isal); }},
      {"gzip_isal_level3", [](loop& l) { return make_gzip(l, isal(9)); },
       [](loop& l) { return make_gunzip(l); }},
      {"deflate", [](loop& l) { return make_deflate(l, {.level = 1}); },
       [](loop& l) { return make_inflate(l); }},
      {"deflate_raw", [](loop& l) { return make_deflate_raw(l, {.level = 9, .window_bits = 8}); },
       [](loop& l) { return make_inflate_raw(l, {.window_bits = 9}); }},
      {"zstd", [](loop& l) { return make_zstd_compress(l); },
       [](loop& l) { return make_zstd_decompress(l); }},
      {"zstd_fast_nocheck",
       [](loop& l) { return make_zstd_compress(l, {.level = -5, .checksum = false}); },
       [](loop& l) { return make_zstd_decompress(l); }},
      // Quality 11 (the default) is far too slow for MiBs in a unit test; it has its own test.
      {"brotli", [](loop& l) { return make_brotli_compress(l, {.quality = 5}); },
       [](loop& l) { return make_brotli_decompress(l); }},
  };
}

class RoundTrip : public ::testing::TestWithParam<std::tuple<std::size_t, std::size_t>> {};

TEST_P(RoundTrip, EveryCodecGivesBackTheInput) {
  const auto [size, in_chunk] = GetParam();
  const std::string input = mixed_data(size, static_cast<std::uint32_t>(size));
  for (const auto& c : codec_pairs()) {
    SCOPED_TRACE(c.name);
    manual_loop loop;
    auto packed = run_codec(c.compress(loop), input, loop, in_chunk);
    ASSERT_TRUE(packed.finished) << packed.message;
    EXPECT_FALSE(packed.out.empty());  // even 0 bytes make a header and a trailer
    if (size >= 64 * 1024) {
      EXPECT_LT(packed.out.size(), input.size());
    }
    auto unpacked = run_codec(c.decompress(loop), packed.out, loop, in_chunk);
    ASSERT_TRUE(unpacked.finished) << unpacked.message;
    EXPECT_EQ(unpacked.out.size(), input.size());
    EXPECT_TRUE(unpacked.out == input);
  }
}

INSTANTIATE_TEST_SUITE_P(SizesAndChunks, RoundTrip,
                         ::testing::Values(std::tuple{0, 65536}, std::tuple{1, 65536},
                                           std::tuple{65536, 65536}, std::tuple{65536, 1000},
                                           std::tuple{1024 * 1024, 65536},
                                           std::tuple{3 * 1024 * 1024 + 17, 7 * 1024}));

TEST(RoundTrip, ChainedCompressAndDecompressInOnePipeline) {
  const std::string input = mixed_data(1 << 20, 7);
  for (const auto& c : codec_pairs()) {
    SCOPED_TRACE(c.name);
    manual_loop loop;
    auto r = run_chain(loop, {c.compress(loop), c.decompress(loop)}, input, 16 * 1024);
    ASSERT_TRUE(r.finished) << r.message;
    EXPECT_TRUE(r.out == input);
  }
}

TEST(RoundTrip, BrotliAtDefaultQuality) {
  const std::string input = mixed_data(64 * 1024, 3);
  manual_loop loop;
  auto packed = run_codec(sluice::make_brotli_compress(loop), input, loop);
  ASSERT_TRUE(packed.finished);
  auto fast = run_codec(sluice::make_brotli_compress(loop, {.quality = 1}), input, loop);
  EXPECT_LT(packed.out.size(), fast.out.size());  // quality 11 does compress better
  auto unpacked = run_codec(sluice::make_brotli_decompress(loop), packed.out, loop);
  ASSERT_TRUE(unpacked.finished);
  EXPECT_TRUE(unpacked.out == input);
}

TEST(RoundTrip, HigherLevelsCompressBetter) {
  const std::string input = mixed_data(512 * 1024, 5);
  manual_loop loop;
  const auto size_at = [&](int level) {
    return run_codec(sluice::make_gzip(loop, {{.level = level}}), input, loop).out.size();
  };
  const std::size_t stored = size_at(0);
  EXPECT_GT(stored, input.size());  // level 0 stores: the input plus framing
  EXPECT_LT(size_at(1), stored);
  EXPECT_LT(size_at(9), size_at(1));
}

TEST(OutputChunks, FullBuffersOfChunkSizeThenTheRest) {
  const std::string input = mixed_data(2 << 20, 11);
  for (const std::size_t chunk_size : {std::size_t{16 * 1024}, std::size_t{256 * 1024}}) {
    manual_loop loop;
    auto r = run_codec(sluice::make_gunzip(loop, {.chunk_size = chunk_size}),
                       run_codec(sluice::make_gzip(loop), input, loop).out, loop);
    ASSERT_TRUE(r.finished);
    ASSERT_GE(r.chunk_sizes.size(), 2u);
    for (std::size_t i = 0; i + 1 < r.chunk_sizes.size(); ++i)
      ASSERT_EQ(r.chunk_sizes[i], chunk_size) << "chunk " << i;
    EXPECT_GT(r.chunk_sizes.back(), 0u);
    EXPECT_LE(r.chunk_sizes.back(), chunk_size);
    EXPECT_EQ(r.chunk_sizes.size(), (input.size() + chunk_size - 1) / chunk_size);
  }
}

// With flush_mode::sync each written chunk comes out decodable at once, before end().
TEST(Flush, SyncFlushMakesEachWriteDecodableBeforeEnd) {
  using namespace sluice;
  const std::vector<std::function<codec_ptr(loop&)>> compressors = {
      [](loop& l) { return make_gzip(l, {{.flush = flush_mode::sync}}); },
      [](loop& l) {
        gzip_options o;
        o.flush = flush_mode::full;
        o.engine = gzip_engine::isal;
        return make_gzip(l, o);
      },
      [](loop& l) { return make_zstd_compress(l, {.flush = flush_mode::sync}); },
      [](loop& l) { return make_brotli_compress(l, {.flush = flush_mode::sync}); },
  };
  const std::vector<std::function<codec_ptr(loop&)>> decompressors = {
      [](loop& l) { return make_gunzip(l, {.flush = flush_mode::sync}); },
      [](loop& l) { return make_gunzip(l, {.flush = flush_mode::sync}); },
      [](loop& l) { return make_zstd_decompress(l, {.flush = flush_mode::sync}); },
      [](loop& l) { return make_brotli_decompress(l, {.flush = flush_mode::sync}); },
  };
  for (std::size_t i = 0; i < compressors.size(); ++i) {
    SCOPED_TRACE(i);
    manual_loop loop;
    auto comp = compressors[i](loop);
    auto decomp = decompressors[i](loop);
    std::string got;
    auto sink =
        make_writable<buffer>(loop, {.write = [&got](writable<buffer>&, buffer&& b, auto cb) {
                                got.append(b.view());
                                cb();
                              }});
    comp->pipe(decomp)->pipe(sink);
    comp->write(buffer::copy_of("first line\n"));
    loop.run();
    EXPECT_EQ(got, "first line\n");
    comp->write(buffer::copy_of("second line\n"));
    loop.run();
    EXPECT_EQ(got, "first line\nsecond line\n");
    comp->end();
    loop.run();
    EXPECT_EQ(got, "first line\nsecond line\n");
    EXPECT_FALSE(decomp->errored());
  }
}

// Without a flush, a small write stays inside the compressor until end().
TEST(Flush, NoFlushHoldsSmallOutputUntilEnd) {
  manual_loop loop;
  auto gz = sluice::make_gzip(loop);
  std::string got;
  auto sink = sluice::make_writable<sluice::buffer>(
      loop, {.write = [&got](sluice::writable<sluice::buffer>&, sluice::buffer&& b, auto cb) {
        got.append(b.view());
        cb();
      }});
  gz->pipe(sink);
  gz->write(sluice::buffer::copy_of("hello"));
  loop.run();
  EXPECT_TRUE(got.empty());
  gz->end();
  loop.run();
  EXPECT_EQ(got.substr(0, 2), "\x1f\x8b");
}

}  // namespace
