// Brotli: make_brotli_compress and make_brotli_decompress, on libbrotlienc / libbrotlidec.
#include <brotli/decode.h>
#include <brotli/encode.h>

#include <new>

#include "sluice/codec/brotli.hpp"
#include "sluice/codec/detail/codec_transform.hpp"

namespace sluice {
namespace {

transform_options stream_options_of(const brotli_options& o, const char* stage) {
  return {o.readable_high_water_mark,
          o.writable_high_water_mark,
          true,
          true,
          true,
          o.name.empty() ? std::string(stage) : o.name};
}

void check_brotli_options(const char* stage, const brotli_options& o) {
  detail::check_range(stage, "quality", o.quality, BROTLI_MIN_QUALITY, BROTLI_MAX_QUALITY);
  detail::check_range(stage, "window", o.window, BROTLI_MIN_WINDOW_BITS, BROTLI_MAX_WINDOW_BITS);
  switch (o.mode) {
    case brotli_mode::generic:
    case brotli_mode::text:
    case brotli_mode::font:
      break;
    default:
      detail::invalid_option(stage,
                             "unknown brotli_mode " + std::to_string(static_cast<int>(o.mode)));
  }
  detail::check_common(stage, o.chunk_size, o.flush);
}

BrotliEncoderMode encoder_mode(brotli_mode m) {
  switch (m) {
    case brotli_mode::text:
      return BROTLI_MODE_TEXT;
    case brotli_mode::font:
      return BROTLI_MODE_FONT;
    case brotli_mode::generic:
      break;
  }
  return BROTLI_MODE_GENERIC;
}

class brotli_compressor final : public detail::compressor_transform {
 public:
  brotli_compressor(loop& l, const brotli_options& o)
      : compressor_transform(l, stream_options_of(o, "brotli_compress"), o.chunk_size, o.flush,
                             "brotli_compress"),
        enc_(BrotliEncoderCreateInstance(nullptr, nullptr, nullptr)) {
    if (enc_ == nullptr) throw std::bad_alloc();
    BrotliEncoderSetParameter(enc_, BROTLI_PARAM_QUALITY, static_cast<std::uint32_t>(o.quality));
    BrotliEncoderSetParameter(enc_, BROTLI_PARAM_LGWIN, static_cast<std::uint32_t>(o.window));
    BrotliEncoderSetParameter(enc_, BROTLI_PARAM_MODE, encoder_mode(o.mode));
    const std::size_t hint = o.size_hint < (1u << 30) ? o.size_hint : (1u << 30);
    BrotliEncoderSetParameter(enc_, BROTLI_PARAM_SIZE_HINT, static_cast<std::uint32_t>(hint));
  }
  ~brotli_compressor() override { BrotliEncoderDestroyInstance(enc_); }
  brotli_compressor(const brotli_compressor&) = delete;
  brotli_compressor& operator=(const brotli_compressor&) = delete;

 protected:
  bool compress(const std::byte* in, std::size_t n, bool finish) override {
    if (finish) return run(in, n, BROTLI_OPERATION_FINISH);
    return run(
        in, n,
        flush_setting() == flush_mode::none ? BROTLI_OPERATION_PROCESS : BROTLI_OPERATION_FLUSH);
  }

 private:
  // Runs `op` over the input until it is all taken and the encoder holds no pending output
  // (and, for FINISH, the stream is complete).
  bool run(const std::byte* in, std::size_t n, BrotliEncoderOperation op) {
    auto next_in = reinterpret_cast<const std::uint8_t*>(in);
    std::size_t avail_in = n;
    for (;;) {
      const auto space = out_space();
      auto next_out = reinterpret_cast<std::uint8_t*>(space.data());
      std::size_t avail_out = space.size();
      if (BrotliEncoderCompressStream(enc_, op, &avail_in, &next_in, &avail_out, &next_out,
                                      nullptr) == BROTLI_FALSE)
        return false;
      commit_out(space.size() - avail_out);
      if (avail_in != 0 || BrotliEncoderHasMoreOutput(enc_) == BROTLI_TRUE) continue;
      if (op != BROTLI_OPERATION_FINISH || BrotliEncoderIsFinished(enc_) == BROTLI_TRUE)
        return true;
    }
  }

  BrotliEncoderState* enc_;
};

class brotli_decompressor final : public detail::codec_transform {
 public:
  brotli_decompressor(loop& l, const brotli_options& o)
      : codec_transform(l, stream_options_of(o, "brotli_decompress"), o.chunk_size, o.flush,
                        "brotli_decompress"),
        dec_(BrotliDecoderCreateInstance(nullptr, nullptr, nullptr)) {
    if (dec_ == nullptr) throw std::bad_alloc();
  }
  ~brotli_decompressor() override { BrotliDecoderDestroyInstance(dec_); }
  brotli_decompressor(const brotli_decompressor&) = delete;
  brotli_decompressor& operator=(const brotli_decompressor&) = delete;

 protected:
  void do_transform(buffer&& chunk, transform_callback cb) override {
    decode_chunk(std::move(chunk), cb);
  }

  // Decompresses `n` bytes (none: writes out what brotli still holds). Returns how many it
  // used: all, unless the stream ended before them (trailing garbage) or the readable side is
  // full (output_full()).
  std::size_t decode_some(const std::byte* in, std::size_t n) override {
    if (done_) {
      if (n > 0) decode_error_ = make_error_code(compress_errc::trailing_garbage);
      return 0;
    }
    auto next_in = reinterpret_cast<const std::uint8_t*>(in);
    std::size_t avail_in = n;
    for (;;) {
      const auto space = out_space();
      auto next_out = reinterpret_cast<std::uint8_t*>(space.data());
      std::size_t avail_out = space.size();
      const auto r =
          BrotliDecoderDecompressStream(dec_, &avail_in, &next_in, &avail_out, &next_out, nullptr);
      commit_out(space.size() - avail_out);
      const std::size_t used = n - avail_in;
      if (r == BROTLI_DECODER_RESULT_ERROR) {
        decode_error_ = error_of(BrotliDecoderGetErrorCode(dec_));
        return used;
      }
      if (r == BROTLI_DECODER_RESULT_SUCCESS) {
        done_ = true;
        if (avail_in != 0) decode_error_ = make_error_code(compress_errc::trailing_garbage);
        return used;
      }
      if (r == BROTLI_DECODER_RESULT_NEEDS_MORE_INPUT) return used;
      // NEEDS_MORE_OUTPUT: the buffer was pushed when it filled; go on with a fresh one, unless
      // the readable side is full.
      if (output_full()) return used;
    }
  }

  void do_flush(callback cb) override {
    if (!done_) {
      fail_at(make_error_code(compress_errc::truncated), consumed_, cb);
      return;
    }
    push_partial();
    cb({});
  }

 private:
  static std::error_code error_of(BrotliDecoderErrorCode code) {
    if (code == BROTLI_DECODER_ERROR_DICTIONARY_NOT_SET)
      return make_error_code(compress_errc::need_dictionary);
    if (code <= BROTLI_DECODER_ERROR_ALLOC_CONTEXT_MODES &&
        code >= BROTLI_DECODER_ERROR_ALLOC_BLOCK_TYPE_TREES)
      return std::make_error_code(std::errc::not_enough_memory);
    if (code <= BROTLI_DECODER_ERROR_FORMAT_EXUBERANT_NIBBLE &&
        code >= BROTLI_DECODER_ERROR_FORMAT_BLOCK_SWITCH)
      return make_error_code(compress_errc::corrupt_data);
    return make_error_code(compress_errc::library_error);
  }

  BrotliDecoderState* dec_;
  bool done_ = false;  // the stream's last meta-block was decoded
};

}  // namespace

std::shared_ptr<transform<buffer, buffer>> make_brotli_compress(loop& l, brotli_options o) {
  check_brotli_options("brotli_compress", o);
  return std::make_shared<brotli_compressor>(l, o);
}

std::shared_ptr<transform<buffer, buffer>> make_brotli_decompress(loop& l, brotli_options o) {
  check_brotli_options("brotli_decompress", o);
  return std::make_shared<brotli_decompressor>(l, o);
}

}  // namespace sluice
