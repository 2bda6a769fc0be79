// src/codec/gzip_parallel.hpp (private): the seam between the parallel gzip driver
// (compress_parallel.cpp) and the engines that compress its blocks (compress_zlib.cpp,
// compress_isal.cpp).
//
// make_gzip with threads > 1 cuts the input into blocks, compresses each on a pool thread as raw
// deflate with the 32 KiB of input before it as the preset dictionary, and writes them, in input
// order, into one gzip member whose CRC-32 is combined from the blocks' (as pigz does). The driver
// knows nothing of zlib or ISA-L: an engine gives it a block_compressor per block slot.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>

#include "sluice/codec/gzip.hpp"

namespace sluice::detail {

/// Where a block's compressed bytes go: a growable array that is never zero-filled, reused from
/// block to block.
struct block_output {
  std::unique_ptr<std::byte[]> data;
  std::size_t size = 0;
  std::size_t capacity = 0;

  /// Makes room for at least `n` bytes after the first `size`, keeping those.
  void reserve_more(std::size_t n);
  /// The room after the first `size` bytes.
  [[nodiscard]] std::span<std::byte> room() noexcept {
    return {data.get() + size, capacity - size};
  }
};

/// Compresses one block at a time into raw deflate data that continues a deflate stream. One
/// object per block slot; the driver uses it from one thread at a time (not always the same).
class block_compressor {
 public:
  block_compressor() = default;
  block_compressor(const block_compressor&) = delete;
  block_compressor& operator=(const block_compressor&) = delete;
  virtual ~block_compressor() = default;

  /// Compresses `in` with `dict` (the input just before it, at most the window) as history and
  /// appends the result to `out`. Unless `last`, the data ends with a sync flush (byte-aligned,
  /// no final block), so the next block's data can follow it; with `last`, it ends with the
  /// final block. Returns false if the library failed.
  [[nodiscard]] virtual bool compress(std::span<const std::byte> dict,
                                      std::span<const std::byte> in, bool last,
                                      block_output& out) = 0;

  /// The CRC-32 (gzip's) of `in`, continuing from `crc`.
  [[nodiscard]] virtual std::uint32_t crc32(std::uint32_t crc,
                                            std::span<const std::byte> in) const = 0;
};

/// What the driver needs from an engine.
struct gzip_block_engine {
  /// Makes a block_compressor for the options the stream was made with; throws std::bad_alloc.
  std::function<std::unique_ptr<block_compressor>()> make;
  /// The window: how much input before a block it may refer to (its dictionary's size).
  std::size_t window = 32 * 1024;
  /// The gzip header's XFL byte (2: best compression, 4: fastest, 0: other).
  std::uint8_t xfl = 0;
};

/// The gzip transform with `threads` (>= 2) blocks compressed at once. Options already checked.
[[nodiscard]] std::shared_ptr<transform<buffer, buffer>> make_parallel_gzip(
    loop& l, const gzip_options& o, unsigned threads, gzip_block_engine engine);

/// The engines (compress_zlib.cpp, compress_isal.cpp).
/// Throws as make_gzip does for options the isal engine cannot take.
void check_isal_gzip_options(const gzip_options& o);
[[nodiscard]] gzip_block_engine zlib_block_engine(const gzip_options& o);
[[nodiscard]] gzip_block_engine isal_block_engine(const gzip_options& o);

}  // namespace sluice::detail
