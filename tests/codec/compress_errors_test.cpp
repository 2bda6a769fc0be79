// Bad input and bad options: truncated, corrupt and trailing data fail the stream with a
// compress_errc code and "<stage> at input byte N"; invalid options throw at creation.
#include <gtest/gtest.h>

#include <functional>
#include <regex>
#include <string>
#include <system_error>

#include "codec/compress_support.hpp"
#include "sluice/codec.hpp"
#include "sluice/core/error.hpp"

namespace {

using sluice::compress_errc;
using sluice::manual_loop;
using sluice::test::codec_ptr;
using sluice::test::mixed_data;
using sluice::test::run_codec;

struct failure {
  std::error_code ec;
  std::string stage;
  std::uint64_t offset = 0;
  bool finished = false;
};

// Runs `input` through the codec and splits its error message into stage, offset and text.
failure fail_with(const codec_ptr& codec, manual_loop& loop, const std::string& input,
                  std::size_t in_chunk = 4096) {
  const auto r = run_codec(codec, input, loop, in_chunk);
  failure f{r.ec, {}, 0, r.finished};
  EXPECT_TRUE(codec->destroyed());
  EXPECT_EQ(codec->errored(), r.ec);
  const std::regex pattern(R"(^(\w+) at input byte (\d+): (.*)$)");
  std::smatch m;
  if (std::regex_match(r.message, m, pattern)) {
    f.stage = m[1];
    f.offset = std::stoull(m[2]);
    EXPECT_EQ(m[3], r.ec.message());
  } else {
    ADD_FAILURE() << "unexpected error message: '" << r.message << "'";
  }
  return f;
}

std::string packed(const codec_ptr& c, manual_loop& loop, const std::string& input) {
  auto r = run_codec(c, input, loop);
  EXPECT_TRUE(r.finished);
  return r.out;
}

const std::string& data() {
  static const std::string s = mixed_data(256 * 1024, 9);
  return s;
}

struct decoder {
  const char* stage;
  std::function<codec_ptr(sluice::loop&)> compress;
  std::function<codec_ptr(sluice::loop&)> decompress;
};

std::vector<decoder> decoders() {
  using namespace sluice;
  return {
      {"gunzip", [](loop& l) { return make_gzip(l); }, [](loop& l) { return make_gunzip(l); }},
      {"gunzip", [](loop& l) { return make_gzip(l); },
       [](loop& l) { return make_gunzip(l, {}, gzip_engine::isal); }},
      {"inflate", [](loop& l) { return make_deflate(l); }, [](loop& l) { return make_inflate(l); }},
      {"inflate_raw", [](loop& l) { return make_deflate_raw(l); },
       [](loop& l) { return make_inflate_raw(l); }},
      {"zstd_decompress", [](loop& l) { return make_zstd_compress(l); },
       [](loop& l) { return make_zstd_decompress(l); }},
      {"brotli_decompress", [](loop& l) { return make_brotli_compress(l, {.quality = 4}); },
       [](loop& l) { return make_brotli_decompress(l); }},
  };
}

TEST(CompressErrors, CategoryAndMessages) {
  const std::error_code ec = compress_errc::truncated;
  EXPECT_STREQ(ec.category().name(), "sluice.compress");
  EXPECT_EQ(ec.message(), "unexpected end of compressed data");
  EXPECT_EQ(std::error_code(compress_errc::corrupt_data).message(), "invalid compressed data");
  EXPECT_EQ(std::error_code(compress_errc::trailing_garbage).message(),
            "trailing data after the compressed data");
  EXPECT_EQ(std::error_code(compress_errc::checksum_mismatch).message(),
            "compressed data checksum mismatch");
  EXPECT_NE(ec, std::error_code(sluice::errc::premature_close));
}

TEST(CompressErrors, TruncatedInputIsDetectedAtEndWithItsLength) {
  for (const auto& d : decoders()) {
    SCOPED_TRACE(d.stage);
    manual_loop loop;
    const std::string full = packed(d.compress(loop), loop, data());
    for (const std::size_t cut : {full.size() / 2, full.size() - 1}) {
      const auto f = fail_with(d.decompress(loop), loop, full.substr(0, cut));
      EXPECT_EQ(f.ec, compress_errc::truncated);
      EXPECT_EQ(f.stage, d.stage);
      EXPECT_EQ(f.offset, cut);
      EXPECT_FALSE(f.finished);
    }
  }
}

TEST(CompressErrors, EmptyInputIsTruncated) {
  for (const auto& d : decoders()) {
    SCOPED_TRACE(d.stage);
    manual_loop loop;
    const auto f = fail_with(d.decompress(loop), loop, "");
    EXPECT_EQ(f.ec, compress_errc::truncated);
    EXPECT_EQ(f.offset, 0u);
  }
}

// Flipped bytes inside the compressed data. gzip, zlib and zstd frames carry a checksum, so the
// damage is always found: as invalid data where it is, or as a checksum mismatch at the end.
// Raw deflate and brotli have none: the damage is found only if it breaks the format.
TEST(CompressErrors, FlippedBytesInTheMiddleAreFoundAtOrAfterThem) {
  for (const auto& d : decoders()) {
    SCOPED_TRACE(d.stage);
    const bool checksummed =
        std::string(d.stage) != "inflate_raw" && std::string(d.stage) != "brotli_decompress";
    manual_loop loop;
    const std::string good = packed(d.compress(loop), loop, data());
    for (const std::size_t at : {good.size() / 3, good.size() / 2}) {
      std::string bad = good;
      for (std::size_t i = at; i < at + 8; ++i) bad[i] = static_cast<char>(bad[i] ^ 0x5a);
      if (!checksummed) {
        auto r = run_codec(d.decompress(loop), bad, loop);
        EXPECT_TRUE(r.ec || r.out != data()) << "the damage vanished";
        continue;
      }
      const auto f = fail_with(d.decompress(loop), loop, bad);
      EXPECT_TRUE(f.ec == compress_errc::corrupt_data || f.ec == compress_errc::checksum_mismatch)
          << f.ec.message();
      EXPECT_EQ(f.stage, d.stage);
      EXPECT_GE(f.offset, at);
      EXPECT_LE(f.offset, bad.size());
      EXPECT_FALSE(f.finished);
    }
  }
}

// Brotli without a checksum still rejects a damaged stream header.
TEST(CompressErrors, BrotliCorruptHeader) {
  manual_loop loop;
  std::string bad = packed(sluice::make_brotli_compress(loop, {.quality = 4}), loop, data());
  bad[0] = static_cast<char>(0xff);
  bad[1] = static_cast<char>(0xff);
  const auto f = fail_with(sluice::make_brotli_decompress(loop), loop, bad);
  EXPECT_EQ(f.ec, compress_errc::corrupt_data);
  EXPECT_LE(f.offset, 2u);
}

TEST(CompressErrors, GzipHeaderChecksumAndSize) {
  manual_loop loop;
  const std::string good = packed(sluice::make_gzip(loop), loop, data());
  std::string bad_method = good;
  bad_method[2] = 9;  // compression method: only 8 (deflate) exists
  auto f = fail_with(sluice::make_gunzip(loop), loop, bad_method);
  EXPECT_EQ(f.ec, compress_errc::corrupt_data);
  EXPECT_GE(f.offset, 3u);
  EXPECT_LE(f.offset, 10u);

  std::string bad_crc = good;
  bad_crc[good.size() - 8] = static_cast<char>(bad_crc[good.size() - 8] ^ 1);
  f = fail_with(sluice::make_gunzip(loop), loop, bad_crc);
  EXPECT_EQ(f.ec, compress_errc::checksum_mismatch);
  EXPECT_GE(f.offset, good.size() - 8);

  std::string bad_size = good;
  bad_size[good.size() - 1] = static_cast<char>(bad_size[good.size() - 1] ^ 1);
  f = fail_with(sluice::make_gunzip(loop), loop, bad_size);
  EXPECT_EQ(f.ec, compress_errc::checksum_mismatch);
  EXPECT_EQ(f.offset, good.size());
}

TEST(CompressErrors, ZstdChecksum) {
  manual_loop loop;
  std::string bad = packed(sluice::make_zstd_compress(loop), loop, data());
  bad.back() = static_cast<char>(bad.back() ^ 1);  // the frame ends with its content checksum
  const auto f = fail_with(sluice::make_zstd_decompress(loop), loop, bad);
  EXPECT_EQ(f.ec, compress_errc::checksum_mismatch);
  EXPECT_EQ(f.offset, bad.size());
}

TEST(CompressErrors, TrailingGarbageAfterTheLastMember) {
  for (const auto& d : decoders()) {
    for (const std::string& tail :
         {std::string("garbage!"), std::string(4, '\0'), std::string("x")}) {
      SCOPED_TRACE(std::string(d.stage) + " + " + std::to_string(tail.size()) + " bytes");
      manual_loop loop;
      const std::string good = packed(d.compress(loop), loop, data());
      // The tail in its own chunk, and glued to the end of the last one.
      for (const std::size_t in_chunk : {good.size(), std::size_t{4096}}) {
        if (tail[0] == '\0' && std::string(d.stage) == "gunzip") {
          continue;  // zeros after a gzip member are padding: GunzipIgnoresZeroPadding
        }
        const auto f = fail_with(d.decompress(loop), loop, good + tail, in_chunk);
        EXPECT_EQ(f.ec, compress_errc::trailing_garbage);
        EXPECT_GE(f.offset, good.size());
        EXPECT_LE(f.offset, good.size() + tail.size());
      }
    }
  }
}

// Zero bytes after a gzip member are padding (tar blocks, tapes): Node and gzip -d ignore them,
// and so does gunzip. Anything non-zero after them is still garbage.
TEST(CompressErrors, GunzipIgnoresZeroPadding) {
  for (const auto engine : {sluice::gzip_engine::zlib, sluice::gzip_engine::isal}) {
    SCOPED_TRACE(static_cast<int>(engine));
    manual_loop loop;
    const std::string member = packed(sluice::make_gzip(loop), loop, data());
    const std::string padded = member + member + std::string(10000, '\0');
    for (const std::size_t in_chunk : {std::size_t{3}, std::size_t{4096}, padded.size()}) {
      auto r = run_codec(sluice::make_gunzip(loop, {}, engine), padded, loop, in_chunk);
      ASSERT_TRUE(r.finished) << r.message;
      EXPECT_TRUE(r.out == data() + data());
    }
    const auto f = fail_with(sluice::make_gunzip(loop, {}, engine), loop,
                             member + std::string(100, '\0') + "z");
    EXPECT_EQ(f.ec, compress_errc::trailing_garbage);
    EXPECT_EQ(f.offset, member.size() + 100);  // the 'z'
  }
}

TEST(CompressErrors, TruncatedSecondMember) {
  manual_loop loop;
  const std::string member = packed(sluice::make_gzip(loop), loop, data());
  const std::string input = member + member.substr(0, 20);
  const auto f = fail_with(sluice::make_gunzip(loop), loop, input);
  EXPECT_EQ(f.ec, compress_errc::truncated);
  EXPECT_EQ(f.offset, input.size());
}

TEST(CompressErrors, TheFailingWriteGetsTheError) {
  manual_loop loop;
  auto gunzip = sluice::make_gunzip(loop);
  std::error_code seen;
  gunzip->write(sluice::buffer::copy_of("definitely not gzip"),
                [&seen](std::error_code ec) { seen = ec; });
  loop.run();
  EXPECT_EQ(seen, compress_errc::wrong_format);
  EXPECT_EQ(gunzip->error_message(), "gunzip at input byte 2: not in the codec's format");
}

// Input that does not start with the format's magic number is wrong_format, not corrupt data,
// on every engine and however it is chunked; a damaged member after a good one is still
// trailing garbage.
TEST(CompressErrors, InputInAnotherFormatIsWrongFormat) {
  using namespace sluice;
  const std::vector<std::pair<std::string, std::function<codec_ptr(loop&)>>> decoders{
      {"gunzip zlib", [](loop& l) { return make_gunzip(l); }},
      {"gunzip isal", [](loop& l) { return make_gunzip(l, {}, gzip_engine::isal); }},
      {"zstd", [](loop& l) { return make_zstd_decompress(l); }},
  };
  for (const auto& [name, make] : decoders) {
    for (const std::string& input :
         {std::string("hello, plain text\n"), std::string("h"), std::string("\x1f\x8c...")}) {
      for (const std::size_t in_chunk : {std::size_t{1}, std::size_t{4096}}) {
        SCOPED_TRACE(name + " on " + std::to_string(input.size()) + " bytes, chunks of " +
                     std::to_string(in_chunk));
        manual_loop l;
        const auto f = fail_with(make(l), l, input, in_chunk);
        EXPECT_EQ(f.ec, compress_errc::wrong_format) << f.ec.message();
        EXPECT_LE(f.offset, input.size());
      }
    }
  }
  // A prefix of the magic number is a truncated member, not another format.
  manual_loop l;
  EXPECT_EQ(fail_with(make_gunzip(l), l, "\x1f").ec, compress_errc::truncated);
  EXPECT_EQ(fail_with(make_gunzip(l, {}, gzip_engine::isal), l, "\x1f").ec,
            compress_errc::truncated);
  EXPECT_EQ(fail_with(make_zstd_decompress(l), l, "\x28\xb5").ec, compress_errc::truncated);
}

TEST(CompressErrors, NewKindsHaveMessages) {
  EXPECT_EQ(std::error_code(compress_errc::wrong_format).message(), "not in the codec's format");
  EXPECT_EQ(std::error_code(compress_errc::window_too_large).message(),
            "compressed data needs a larger window than allowed");
}

// ---- Options
// -------------------------------------------------------------------------------------

template <class F>
void expect_throws(F make, std::errc cond, const std::string& text) {
  try {
    make();
    ADD_FAILURE() << "no exception; expected one mentioning '" << text << "'";
  } catch (const std::system_error& e) {
    EXPECT_EQ(e.code(), cond) << e.what();
    EXPECT_NE(std::string(e.what()).find(text), std::string::npos) << e.what();
  }
}

TEST(CompressOptions, OutOfRangeNumbersThrowAtCreation) {
  using namespace sluice;
  manual_loop l;
  const auto oor = std::errc::result_out_of_range;
  expect_throws([&] { (void)make_gzip(l, {{.level = 12}}); }, oor,
                "gzip: level 12 is outside -1..9");
  expect_throws([&] { (void)make_deflate(l, {.window_bits = 7}); }, oor, "window_bits 7");
  expect_throws([&] { (void)make_gunzip(l, {.window_bits = 16}); }, oor, "window_bits 16");
  expect_throws([&] { (void)make_inflate_raw(l, {.window_bits = 0}); }, oor, "window_bits 0");
  expect_throws([&] { (void)make_deflate_raw(l, {.mem_level = 0}); }, oor, "mem_level 0");
  expect_throws([&] { (void)make_deflate(l, {.strategy = 5}); }, oor, "strategy 5");
  expect_throws([&] { (void)make_inflate(l, {.chunk_size = 10}); }, oor, "chunk_size 10");
  expect_throws([&] { (void)make_zstd_compress(l, {.level = 23}); }, oor, "level 23");
  expect_throws([&] { (void)make_zstd_decompress(l, {.window_log = 9}); }, oor, "window_log 9");
  expect_throws([&] { (void)make_brotli_compress(l, {.quality = 12}); }, oor, "quality 12");
  expect_throws([&] { (void)make_brotli_compress(l, {.window = 25}); }, oor, "window 25");
  gzip_options isal;
  isal.engine = gzip_engine::isal;
  isal.level = 10;
  expect_throws([&] { (void)make_gzip(l, isal); }, oor, "level 10");
}

TEST(CompressOptions, ImpossibleCombinationsAndUnknownEnumsAreInvalidArguments) {
  using namespace sluice;
  manual_loop l;
  const auto inv = std::errc::invalid_argument;
  gzip_options isal;
  isal.engine = gzip_engine::isal;
  isal.strategy = 2;
  expect_throws([&] { (void)make_gzip(l, isal); }, inv, "strategy 0");
  gzip_options engine;
  engine.engine = static_cast<gzip_engine>(7);
  expect_throws([&] { (void)make_gzip(l, engine); }, inv, "gzip_engine 7");
  expect_throws([&] { (void)make_gunzip(l, {}, static_cast<gzip_engine>(7)); }, inv,
                "gunzip: unknown gzip_engine 7");
  expect_throws([&] { (void)make_gunzip(l, {.level = 10}, gzip_engine::isal); },
                std::errc::result_out_of_range, "gunzip: level 10");
  expect_throws([&] { (void)make_inflate(l, {.flush = static_cast<flush_mode>(9)}); }, inv,
                "flush_mode 9");
  expect_throws([&] { (void)make_brotli_compress(l, {.mode = static_cast<brotli_mode>(3)}); }, inv,
                "brotli_mode 3");
}

TEST(CompressOptions, EdgesOfTheRangesAreAccepted) {
  using namespace sluice;
  manual_loop l;
  const std::string input = mixed_data(100000, 8);
  for (const auto& c : std::vector<std::pair<codec_ptr, codec_ptr>>{
           {make_gzip(
                l,
                {{.level = 0, .window_bits = 8, .mem_level = 1, .strategy = 4, .chunk_size = 64}}),
            make_gunzip(l, {.window_bits = 0, .chunk_size = 64})},
           {make_deflate(l, {.level = 9, .mem_level = 9, .strategy = 3}),
            make_inflate(l, {.window_bits = 0})},
           {make_zstd_compress(l, {.level = -50, .window_log = 10}),
            make_zstd_decompress(l, {.window_log = 10})},
           {make_brotli_compress(l, {.quality = 0, .window = 10, .mode = brotli_mode::text}),
            make_brotli_decompress(l)},
       }) {
    auto a = run_codec(c.first, input, l);
    ASSERT_TRUE(a.finished) << a.message;
    auto b = run_codec(c.second, a.out, l);
    ASSERT_TRUE(b.finished) << b.message;
    EXPECT_TRUE(b.out == input);
  }
}

// A decompressor limited to a small window refuses a frame that needs a larger one, with
// compress_errc::window_too_large.
TEST(CompressOptions, ZstdWindowLimitRefusesLargerWindows) {
  using namespace sluice;
  manual_loop l;
  const std::string big =
      packed(make_zstd_compress(l, {.window_log = 22}), l, mixed_data(1 << 20, 12));
  const auto f = fail_with(make_zstd_decompress(l, {.window_log = 10}), l, big);
  EXPECT_EQ(f.ec, compress_errc::window_too_large);
  EXPECT_EQ(f.offset, 4096u);  // zstd names the end of the chunk it was decoding
}

// Long-distance matching (zstd --long) finds a repeat further back than the level's window:
// two copies of 9 MiB of random bytes shrink to about one, and need a window of 2^27 to decode.
TEST(CompressOptions, ZstdLongDistanceMatchingNeedsItsWindowToDecode) {
  using namespace sluice;
  manual_loop l;
  const std::string half = mixed_data(9 << 20, 77);
  const std::string input = half + half;
  const std::string plain = packed(make_zstd_compress(l, {.level = 1}), l, input);
  const std::string ldm =
      packed(make_zstd_compress(l, {.level = 1, .long_distance = true}), l, input);
  EXPECT_LT(ldm.size(), plain.size() * 2 / 3) << plain.size() << " vs " << ldm.size();
  auto back = run_codec(make_zstd_decompress(l), ldm, l);
  ASSERT_TRUE(back.finished) << back.message;
  EXPECT_TRUE(back.out == input);
  const auto f = fail_with(make_zstd_decompress(l, {.window_log = 20}), l, ldm);
  EXPECT_EQ(f.ec, compress_errc::window_too_large);
}

}  // namespace
