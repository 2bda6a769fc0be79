// The "sluice.compress" error category and the option checks the codecs share.
#include <string>
#include <system_error>

#include "sluice/codec/compression.hpp"
#include "sluice/codec/detail/codec_transform.hpp"
#include "sluice/core/error.hpp"

namespace sluice {
namespace {

class compress_category_impl final : public std::error_category {
 public:
  const char* name() const noexcept override { return "sluice.compress"; }

  std::string message(int value) const override {
    switch (static_cast<compress_errc>(value)) {
      case compress_errc::corrupt_data:
        return "invalid compressed data";
      case compress_errc::truncated:
        return "unexpected end of compressed data";
      case compress_errc::trailing_garbage:
        return "trailing data after the compressed data";
      case compress_errc::checksum_mismatch:
        return "compressed data checksum mismatch";
      case compress_errc::need_dictionary:
        return "compressed data needs a dictionary";
      case compress_errc::library_error:
        return "compression library error";
      case compress_errc::wrong_format:
        return "not in the codec's format";
      case compress_errc::window_too_large:
        return "compressed data needs a larger window than allowed";
    }
    return "Unknown compression error " + std::to_string(value);
  }
};

}  // namespace

const std::error_category& compress_category() noexcept {
  static const compress_category_impl category;
  return category;
}

std::error_code make_error_code(compress_errc e) noexcept {
  return {static_cast<int>(e), compress_category()};
}

namespace detail {

void check_range(const char* stage, const char* what, long long v, long long lo, long long hi) {
  if (v >= lo && v <= hi) return;
  throw std::system_error(make_error_code(errc::out_of_range),
                          std::string(stage) + ": " + what + " " + std::to_string(v) +
                              " is outside " + std::to_string(lo) + ".." + std::to_string(hi));
}

void invalid_option(const char* stage, const std::string& why) {
  throw std::system_error(make_error_code(errc::invalid_argument), std::string(stage) + ": " + why);
}

void check_common(const char* stage, std::size_t chunk_size, flush_mode flush) {
  // 64 is zlib's Z_MIN_CHUNK, which Node enforces for every codec; 1 GiB keeps the size within
  // the 32-bit counts zlib and brotli use, and matches the largest highWaterMark.
  constexpr std::size_t max_chunk = std::size_t{1} << 30;
  if (chunk_size < 64 || chunk_size > max_chunk)
    throw std::system_error(make_error_code(errc::out_of_range),
                            std::string(stage) + ": chunk_size " + std::to_string(chunk_size) +
                                " is outside 64..1073741824");
  switch (flush) {
    case flush_mode::none:
    case flush_mode::sync:
    case flush_mode::full:
      return;
  }
  invalid_option(stage, "unknown flush_mode " + std::to_string(static_cast<int>(flush)));
}

}  // namespace detail
}  // namespace sluice
