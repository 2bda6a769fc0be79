// sluice/codec/gzip.hpp: gzip, zlib-format and raw deflate streams, on zlib or on ISA-L, and gzip
// compressed on several threads into one member (as pigz).
//
// Part of the codec layer: compression.hpp has what every codec shares (errors, flush_mode) and
// what the factories do with bad options or bad input; docs/compression.md has the details.
#pragma once

#include <cstddef>
#include <memory>
#include <optional>
#include <string>

#include "sluice/codec/compression.hpp"
#include "sluice/core/buffer.hpp"
#include "sluice/core/loop.hpp"
#include "sluice/core/transform.hpp"

namespace sluice {

/// Options of the zlib-based codecs (gzip, deflate, raw deflate and their inverses). The defaults
/// are Node's.
struct zlib_options {
  /// Compression level: -1 (the library default, 6) or 0 (store) to 9 (best). Ignored when
  /// decompressing, but still checked.
  int level = -1;
  /// log2 of the window: 8..15 when compressing (8 is taken as 9, as zlib does); 8..15, or 0 for
  /// "what the header says" (not with raw inflate), when decompressing.
  int window_bits = 15;
  /// Memory for the compressor's internal state: 1..9.
  int mem_level = 8;
  /// zlib strategy: 0 default, 1 filtered, 2 Huffman only, 3 RLE, 4 fixed.
  int strategy = 0;
  /// Size of the output buffers: 64 bytes .. 1 GiB. Larger is faster for big streams.
  std::size_t chunk_size = 16 * 1024;
  /// Flush after each written chunk (see flush_mode).
  flush_mode flush = flush_mode::none;
  std::optional<std::size_t> readable_high_water_mark{};
  std::optional<std::size_t> writable_high_water_mark{};
  /// The stream's name (stream::name()); defaults to the stage, e.g. "gzip".
  std::string name{};
};

/// Which library make_gzip compresses with. Both write standard gzip that any gunzip reads.
enum class gzip_engine {
  zlib,  ///< zlib: levels 0..9, every strategy and mem_level
  isal,  ///< Intel ISA-L (igzip): at its default level about 14x as fast as zlib level 6, for a
         ///< somewhat larger output (docs/compression.md has figures). Levels map to ISA-L's
         ///< 0..3: -1 → 1 (igzip's default), 0..1 → 0, 2..5 → 1, 6..8 → 2, 9 → 3. strategy
         ///< must be 0; mem_level is checked and ignored.
};

/// The most threads a gzip stream may ask for.
inline constexpr unsigned max_gzip_threads = 256;

struct gzip_options : zlib_options {
  gzip_engine engine = gzip_engine::zlib;
  /// How many blocks of the input are compressed at once, each on a thread of a process-wide
  /// pool (one thread per core): 1 compresses on the loop thread, one chunk at a time, as every
  /// other codec does; 0 means one per core (std::thread::hardware_concurrency()); at most
  /// max_gzip_threads. With 2 or more the input is cut into 128 KiB blocks, each compressed with
  /// the 32 KiB before it as its dictionary, and the output is still one standard gzip member
  /// (as pigz writes it): the same bytes for any thread count, within a fraction of a percent
  /// of the one-thread size. Such a stream holds up to threads + 1 blocks (about 0.6 MiB each
  /// with zlib, with ISA-L) and holds a write back while they are all taken. A flush mode other
  /// than none compresses on the loop thread whatever this says.
  unsigned threads = 1;
};

// Each factory throws std::system_error (errc::out_of_range or errc::invalid_argument) for bad
// options.

/// gzip: one member with a minimal header (no name, no time), the CRC-32 and size trailer.
[[nodiscard]] std::shared_ptr<transform<buffer, buffer>> make_gzip(loop& l, gzip_options o = {});
/// gunzip: reads any number of concatenated members, as gzip -d does. Zero bytes after a member
/// are padding and ignored (as Node and gzip -d do); other bytes that do not start a member fail
/// the stream with trailing_garbage. Empty input fails with truncated, as with gzip -d.
[[nodiscard]] std::shared_ptr<transform<buffer, buffer>> make_gunzip(loop& l, zlib_options o = {});
/// gunzip on the chosen engine; the same behaviour (members, errors, offsets) on both, but for
/// one stated difference on damaged Huffman tables (docs/compression.md).
/// gzip_engine::isal inflates several times faster than zlib; it takes every option but level,
/// mem_level and strategy, which are checked and ignored.
[[nodiscard]] std::shared_ptr<transform<buffer, buffer>> make_gunzip(loop& l, zlib_options o,
                                                                     gzip_engine engine);
/// zlib format compression.
[[nodiscard]] std::shared_ptr<transform<buffer, buffer>> make_deflate(loop& l, zlib_options o = {});
/// zlib format decompression: exactly one stream; anything after it is trailing_garbage.
[[nodiscard]] std::shared_ptr<transform<buffer, buffer>> make_inflate(loop& l, zlib_options o = {});
/// Raw deflate compression (no header, no checksum).
[[nodiscard]] std::shared_ptr<transform<buffer, buffer>> make_deflate_raw(loop& l,
                                                                          zlib_options o = {});
/// Raw deflate decompression: ends at the final block; anything after it is trailing_garbage.
[[nodiscard]] std::shared_ptr<transform<buffer, buffer>> make_inflate_raw(loop& l,
                                                                          zlib_options o = {});

}  // namespace sluice
