// fuzz/codec_fuzz.cpp: the decompressors. Built once per codec (SLUICE_FUZZ_CODEC picks it:
// fuzz/CMakeLists.txt), each harness
// - decodes the payload as it is (mostly invalid): an error or output, never a crash, with the
//   contract of driver.hpp; for gunzip on both engines, which must agree (the same output, the
//   same error code but for the one difference docs/compression.md states);
// - compresses the payload with the matching encoder at a level the input picks and decodes
//   that again: the round trip must give the payload back byte for byte.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>

#include "driver.hpp"
#include "sluice/codec/brotli.hpp"
#include "sluice/codec/gzip.hpp"
#include "sluice/codec/zstd.hpp"

namespace {

using sluice::buffer;
using sluice::manual_loop;
using codec_ptr = std::shared_ptr<sluice::transform<buffer, buffer>>;
namespace fz = sluice::fuzz;

enum class codec { gunzip, inflate, inflate_raw, zstd, brotli };
constexpr codec chosen = codec::SLUICE_FUZZ_CODEC;

// Output chunks of 64 bytes (the least the codecs take) to 16 KiB, as the input picks.
std::size_t out_chunk(fz::input& in) { return 64 + in.below(16 * 1024); }

template <class Options>
Options with_marks(Options o, fz::input& in, std::size_t chunk) {
  o.chunk_size = chunk;
  o.readable_high_water_mark = in.byte_hwm();
  o.writable_high_water_mark = in.byte_hwm();
  return o;
}

codec_ptr decoder(manual_loop& loop, fz::input& in, std::size_t chunk, bool isal = false) {
  switch (chosen) {
    case codec::gunzip:
      return sluice::make_gunzip(loop, with_marks(sluice::zlib_options{}, in, chunk),
                                 isal ? sluice::gzip_engine::isal : sluice::gzip_engine::zlib);
    case codec::inflate:
      return sluice::make_inflate(loop, with_marks(sluice::zlib_options{}, in, chunk));
    case codec::inflate_raw:
      return sluice::make_inflate_raw(loop, with_marks(sluice::zlib_options{}, in, chunk));
    case codec::zstd: {
      // A window of at most 8 MiB: a frame may ask for up to 128 MiB by default, which the
      // fuzzer's memory limit would take for a leak; larger ones exercise window_too_large.
      auto o = with_marks(sluice::zstd_options{}, in, chunk);
      o.window_log = 23;
      return sluice::make_zstd_decompress(loop, o);
    }
    case codec::brotli:
      return sluice::make_brotli_decompress(loop, with_marks(sluice::brotli_options{}, in, chunk));
  }
  return nullptr;
}

codec_ptr encoder(manual_loop& loop, fz::input& in, std::size_t chunk) {
  const int level = static_cast<int>(in.below(10));
  switch (chosen) {
    case codec::gunzip: {
      sluice::gzip_options o;
      static_cast<sluice::zlib_options&>(o) = with_marks(sluice::zlib_options{}, in, chunk);
      o.level = level;
      o.engine = in.variant() & 1 ? sluice::gzip_engine::isal : sluice::gzip_engine::zlib;
      return sluice::make_gzip(loop, o);
    }
    case codec::inflate:
    case codec::inflate_raw: {
      auto o = with_marks(sluice::zlib_options{}, in, chunk);
      o.level = level;
      return chosen == codec::inflate ? sluice::make_deflate(loop, o)
                                      : sluice::make_deflate_raw(loop, o);
    }
    case codec::zstd: {
      auto o = with_marks(sluice::zstd_options{}, in, chunk);
      // Levels -5 and 1..3: the higher levels' match tables are megabytes, allocated and
      // touched on every run, which slows the fuzzer tenfold for no new decoder paths.
      o.level = level < 3 ? -5 : level % 3 + 1;
      o.checksum = (in.variant() & 1) != 0;
      // A small window (at most 128 KiB; the payloads are at most 8 KiB): the level's own would
      // allocate megabytes per run and slow the fuzzer thirtyfold.
      o.window_log = 10 + static_cast<int>(in.below(8));
      return sluice::make_zstd_compress(loop, o);
    }
    case codec::brotli: {
      auto o = with_marks(sluice::brotli_options{}, in, chunk);
      o.quality = level / 2;  // 0..4: the higher qualities are too slow for a fuzzer
      o.window = 10 + static_cast<int>(in.below(15));
      return sluice::make_brotli_compress(loop, o);
    }
  }
  return nullptr;
}

fz::drive_options options(const fz::input& in, std::size_t chunk) {
  return {.sink_hwm = in.byte_hwm(), .out_chunk = chunk, .out_hwm = in.byte_hwm()};
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  fz::input in(data, size);
  const std::string payload(in.payload());
  manual_loop loop;

  // The payload as compressed input.
  const std::size_t chunk = out_chunk(in);
  const auto got = fz::drive(loop, decoder(loop, in, chunk), payload, in, options(in, chunk));
  if (chosen == codec::gunzip) {
    const auto other =
        fz::drive(loop, decoder(loop, in, chunk, true), payload, in, options(in, chunk));
    if (!got.cut && !other.cut) {
      // Both accept, with the same output, or both refuse. Which error each names may differ
      // (docs/compression.md): zlib checks a dynamic block's Huffman tables more strictly, so
      // where it says corrupt_data ISA-L may decode on and fail later, and on a trailer both
      // cut short and wrong zlib checks the CRC as soon as its four bytes are in while ISA-L
      // waits for all eight and reports the input short. Up to the first refusal the two
      // decode the same stream, so the shorter output is where the longer one starts.
      if (static_cast<bool>(got.ec) != static_cast<bool>(other.ec))
        std::fprintf(stderr, "zlib: %s\nisal: %s\n", got.message.c_str(), other.message.c_str());
      fuzz_check(static_cast<bool>(got.ec) == static_cast<bool>(other.ec));
      const std::string a = got.joined();
      const std::string b = other.joined();
      if (!got.ec)
        fuzz_check(a == b);
      else
        fuzz_check(a.size() <= b.size() ? b.starts_with(a) : a.starts_with(b));
    }
  }

  // The round trip.
  const std::size_t chunk2 = out_chunk(in);
  // (A compressor turns each written chunk into output at once, whatever the readable side
  // holds: up to an input chunk's worth, 64 KiB here, beyond the highWaterMark.)
  const auto packed = fz::drive(loop, encoder(loop, in, chunk2), payload, in,
                                options(in, std::max<std::size_t>(chunk2, 65 * 1024)));
  fuzz_check(packed.finished);
  const auto back = fz::drive(loop, decoder(loop, in, chunk2, (in.variant() & 2) != 0),
                              packed.joined(), in, options(in, chunk2));
  fuzz_check(back.finished);
  fuzz_check(back.joined() == payload);
  return 0;
}
