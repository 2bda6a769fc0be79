// Zstandard: make_zstd_compress and make_zstd_decompress, on libzstd's streaming API.
#include <zstd.h>
#include <zstd_errors.h>

#include <new>

#include "sluice/codec/detail/codec_transform.hpp"
#include "sluice/codec/zstd.hpp"

namespace sluice {
namespace {

transform_options stream_options_of(const zstd_options& o, const char* stage) {
  return {o.readable_high_water_mark,
          o.writable_high_water_mark,
          true,
          true,
          true,
          o.name.empty() ? std::string(stage) : o.name};
}

void check_window(const char* stage, int window_log) {
  if (window_log == 0) return;
  // The same bounds for compression (windowLog) and decompression (windowLogMax): 10..31 on
  // 64-bit builds.
  const ZSTD_bounds b = ZSTD_cParam_getBounds(ZSTD_c_windowLog);
  detail::check_range(stage, "window_log", window_log, b.lowerBound, b.upperBound);
}

class zstd_compressor final : public detail::compressor_transform {
 public:
  zstd_compressor(loop& l, const zstd_options& o)
      : compressor_transform(l, stream_options_of(o, "zstd_compress"), o.chunk_size, o.flush,
                             "zstd_compress"),
        cctx_(ZSTD_createCCtx()) {
    if (cctx_ == nullptr) throw std::bad_alloc();
    ZSTD_CCtx_setParameter(cctx_, ZSTD_c_compressionLevel, o.level);
    ZSTD_CCtx_setParameter(cctx_, ZSTD_c_windowLog, o.window_log);
    ZSTD_CCtx_setParameter(cctx_, ZSTD_c_checksumFlag, o.checksum ? 1 : 0);
    // Long-distance matching finds repeats across the whole (large) window; zstd raises the
    // window to 2^27 with it unless window_log says otherwise, as zstd --long does.
    if (o.long_distance) ZSTD_CCtx_setParameter(cctx_, ZSTD_c_enableLongDistanceMatching, 1);
  }
  ~zstd_compressor() override { ZSTD_freeCCtx(cctx_); }
  zstd_compressor(const zstd_compressor&) = delete;
  zstd_compressor& operator=(const zstd_compressor&) = delete;

 protected:
  bool compress(const std::byte* in, std::size_t n, bool finish) override {
    if (finish) return run(in, n, ZSTD_e_end);
    return run(in, n, flush_setting() == flush_mode::none ? ZSTD_e_continue : ZSTD_e_flush);
  }

 private:
  // Compresses the input; for ZSTD_e_flush / ZSTD_e_end also until zstd has nothing left.
  bool run(const std::byte* in, std::size_t n, ZSTD_EndDirective mode) {
    ZSTD_inBuffer input{in, n, 0};
    for (;;) {
      const auto space = out_space();
      ZSTD_outBuffer output{space.data(), space.size(), 0};
      const std::size_t left = ZSTD_compressStream2(cctx_, &output, &input, mode);
      commit_out(output.pos);
      if (ZSTD_isError(left)) return false;
      const bool input_done = input.pos == input.size;
      if (mode == ZSTD_e_continue ? input_done && output.pos < output.size : left == 0) return true;
    }
  }

  ZSTD_CCtx* cctx_;
};

class zstd_decompressor final : public detail::codec_transform {
 public:
  zstd_decompressor(loop& l, const zstd_options& o)
      : codec_transform(l, stream_options_of(o, "zstd_decompress"), o.chunk_size, o.flush,
                        "zstd_decompress"),
        dctx_(ZSTD_createDCtx()) {
    if (dctx_ == nullptr) throw std::bad_alloc();
    if (o.window_log != 0) ZSTD_DCtx_setParameter(dctx_, ZSTD_d_windowLogMax, o.window_log);
  }
  ~zstd_decompressor() override { ZSTD_freeDCtx(dctx_); }
  zstd_decompressor(const zstd_decompressor&) = delete;
  zstd_decompressor& operator=(const zstd_decompressor&) = delete;

 protected:
  void do_transform(buffer&& chunk, transform_callback cb) override {
    decode_chunk(std::move(chunk), cb);
  }

  // Decompresses `n` bytes (none: writes out what zstd still holds). Returns how many it used:
  // all, unless the readable side is full (output_full()); on an error, all (zstd does not say
  // how far it got, only that the error lies in these bytes).
  std::size_t decode_some(const std::byte* in, std::size_t n) override {
    ZSTD_inBuffer input{in, n, 0};
    for (;;) {
      const auto space = out_space();
      ZSTD_outBuffer output{space.data(), space.size(), 0};
      const std::size_t before = input.pos;
      const std::size_t hint = ZSTD_decompressStream(dctx_, &output, &input);
      commit_out(output.pos);
      if (input.pos > before)
        note_frame_bytes(static_cast<const unsigned char*>(input.src) + before, input.pos - before);
      if (ZSTD_isError(hint)) {
        decode_error_ = error_of(hint);
        return n;
      }
      if (hint == 0) {  // a frame is complete and all of it is out
        ++frames_;
        frame_bytes_ = 0;
      }
      // A full output buffer may hide more output that needs no more input.
      if (input.pos == input.size && output.pos < output.size) return n;
      if (output_full()) return input.pos;
    }
  }

  void do_flush(callback cb) override {
    if (frame_bytes_ != 0 || frames_ == 0) {
      compress_errc e = compress_errc::truncated;
      if (frame_bytes_ != 0 && !looks_like_frame())
        e = frames_ > 0 ? compress_errc::trailing_garbage : compress_errc::wrong_format;
      fail_at(make_error_code(e), consumed_, cb);
      return;
    }
    push_partial();
    cb({});
  }

 private:
  // Keeps the first bytes of the frame in progress, to tell a new frame from garbage.
  void note_frame_bytes(const unsigned char* from, std::size_t n) {
    for (std::size_t i = 0; i < n && frame_bytes_ + i < sizeof magic_; ++i)
      magic_[frame_bytes_ + i] = from[i];
    frame_bytes_ += n;
  }
  // The bytes seen so far could start a zstd frame or a skippable frame (magic 0x184D2A5?).
  [[nodiscard]] bool looks_like_frame() const noexcept {
    static constexpr unsigned char zstd_magic[4] = {0x28, 0xb5, 0x2f, 0xfd};
    static constexpr unsigned char skip_magic[3] = {0x2a, 0x4d, 0x18};
    const std::size_t n = frame_bytes_ < sizeof magic_ ? frame_bytes_ : sizeof magic_;
    bool zstd = true;
    bool skip = true;
    for (std::size_t i = 0; i < n; ++i) {
      zstd = zstd && magic_[i] == zstd_magic[i];
      skip = skip && (i == 0 ? (magic_[0] & 0xf0) == 0x50 : magic_[i] == skip_magic[i - 1]);
    }
    return zstd || skip;
  }

  [[nodiscard]] std::error_code error_of(std::size_t hint) const {
    switch (ZSTD_getErrorCode(hint)) {
      case ZSTD_error_prefix_unknown:
        return make_error_code(frames_ > 0 ? compress_errc::trailing_garbage
                                           : compress_errc::wrong_format);
      case ZSTD_error_checksum_wrong:
        return make_error_code(compress_errc::checksum_mismatch);
      case ZSTD_error_dictionary_wrong:
        return make_error_code(compress_errc::need_dictionary);
      case ZSTD_error_frameParameter_windowTooLarge:  // larger than window_log allows
        return make_error_code(compress_errc::window_too_large);
      case ZSTD_error_memory_allocation:
        return std::make_error_code(std::errc::not_enough_memory);
      default:
        return make_error_code(compress_errc::corrupt_data);
    }
  }

  ZSTD_DCtx* dctx_;
  std::uint64_t frames_ = 0;     // frames decoded completely
  std::size_t frame_bytes_ = 0;  // input bytes of the frame in progress
  unsigned char magic_[4] = {};  // its first bytes
};

}  // namespace

std::shared_ptr<transform<buffer, buffer>> make_zstd_compress(loop& l, zstd_options o) {
  constexpr const char* stage = "zstd_compress";
  detail::check_range(stage, "level", o.level, ZSTD_minCLevel(), ZSTD_maxCLevel());
  check_window(stage, o.window_log);
  detail::check_common(stage, o.chunk_size, o.flush);
  return std::make_shared<zstd_compressor>(l, o);
}

std::shared_ptr<transform<buffer, buffer>> make_zstd_decompress(loop& l, zstd_options o) {
  constexpr const char* stage = "zstd_decompress";
  detail::check_range(stage, "level", o.level, ZSTD_minCLevel(), ZSTD_maxCLevel());
  check_window(stage, o.window_log);
  detail::check_common(stage, o.chunk_size, o.flush);
  return std::make_shared<zstd_decompressor>(l, o);
}

}  // namespace sluice
