// sluice/codec/brotli.hpp: Brotli compression and decompression (RFC 7932) as byte transforms.
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

/// Brotli's content hint (BROTLI_PARAM_MODE).
enum class brotli_mode { generic, text, font };

/// Options of the Brotli codecs; the defaults are Node's (and the brotli CLI's quality).
struct brotli_options {
  /// 0 (fastest) .. 11 (best, slow). Ignored when decompressing.
  int quality = 11;
  /// log2 of the window, 10..24. Ignored when decompressing.
  int window = 22;
  brotli_mode mode = brotli_mode::generic;
  /// Expected input size, 0 if unknown (BROTLI_PARAM_SIZE_HINT).
  std::size_t size_hint = 0;
  std::size_t chunk_size = 16 * 1024;
  flush_mode flush = flush_mode::none;
  std::optional<std::size_t> readable_high_water_mark{};
  std::optional<std::size_t> writable_high_water_mark{};
  std::string name{};
};

// Each factory throws std::system_error (errc::out_of_range or errc::invalid_argument) for bad
// options.

/// Brotli compression.
[[nodiscard]] std::shared_ptr<transform<buffer, buffer>> make_brotli_compress(
    loop& l, brotli_options o = {});
/// Brotli decompression: exactly one stream; anything after it is trailing_garbage.
[[nodiscard]] std::shared_ptr<transform<buffer, buffer>> make_brotli_decompress(
    loop& l, brotli_options o = {});

}  // namespace sluice
