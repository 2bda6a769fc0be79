// sluice/codec/zstd.hpp: Zstandard compression and decompression (RFC 8878) as byte transforms.
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

/// Options of the Zstandard codecs.
struct zstd_options {
  /// Compression level: ZSTD_minCLevel() (negative: faster) .. 22; 0 means the library default
  /// (3). Ignored when decompressing.
  int level = 3;
  /// log2 of the compressor's window (10..31), or 0 for what the level picks. When
  /// decompressing: the largest window accepted (10..31), 0 for zstd's default limit (27, 128
  /// MiB); a frame with a larger window fails with compress_errc::window_too_large. A frame
  /// written with window_log above 27 (zstd --long=28 and up) needs at least that here.
  int window_log = 0;
  /// Compression: long-distance matching (zstd --long), which finds repeats far back in a large
  /// window. With window_log 0 it uses a window of 2^27. Ignored when decompressing.
  bool long_distance = false;
  /// Append a checksum of the content to each frame (the zstd CLI does by default).
  bool checksum = true;
  std::size_t chunk_size = 16 * 1024;
  flush_mode flush = flush_mode::none;
  std::optional<std::size_t> readable_high_water_mark{};
  std::optional<std::size_t> writable_high_water_mark{};
  std::string name{};
};

// Each factory throws std::system_error (errc::out_of_range or errc::invalid_argument) for bad
// options.

/// Zstandard compression: one frame, with the content checksum unless disabled.
[[nodiscard]] std::shared_ptr<transform<buffer, buffer>> make_zstd_compress(loop& l,
                                                                            zstd_options o = {});
/// Zstandard decompression: any number of frames (and skippable frames), like zstd -d.
[[nodiscard]] std::shared_ptr<transform<buffer, buffer>> make_zstd_decompress(loop& l,
                                                                              zstd_options o = {});

}  // namespace sluice
