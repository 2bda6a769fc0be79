// gzip, zlib and raw deflate on zlib: make_gzip (zlib engine), make_gunzip, make_deflate,
// make_inflate, make_deflate_raw, make_inflate_raw.
#include <zlib.h>

#include <algorithm>
#include <climits>
#include <cstring>
#include <new>

#include <thread>

#include "gzip_engines.hpp"
#include "gzip_parallel.hpp"
#include "sluice/codec/detail/codec_transform.hpp"
#include "sluice/codec/gzip.hpp"

namespace sluice {
namespace {

enum class zlib_format { gzip, zlib, raw };

int zlib_flush(flush_mode f) {
  switch (f) {
    case flush_mode::sync:
      return Z_SYNC_FLUSH;
    case flush_mode::full:
      return Z_FULL_FLUSH;
    case flush_mode::none:
      break;
  }
  return Z_NO_FLUSH;
}

transform_options stream_options_of(const zlib_options& o, const char* stage) {
  return {o.readable_high_water_mark,
          o.writable_high_water_mark,
          true,
          true,
          true,
          o.name.empty() ? std::string(stage) : o.name};
}

// Node's checks (lib/zlib.js), with the same ranges.
void check_zlib_options(const char* stage, const zlib_options& o, bool compressing) {
  detail::check_range(stage, "level", o.level, -1, 9);
  if (compressing || o.window_bits != 0)
    detail::check_range(stage, "window_bits", o.window_bits, 8, 15);
  detail::check_range(stage, "mem_level", o.mem_level, 1, 9);
  detail::check_range(stage, "strategy", o.strategy, 0, 4);
  detail::check_common(stage, o.chunk_size, o.flush);
}

Bytef* in_ptr(const std::byte* p) { return reinterpret_cast<Bytef*>(const_cast<std::byte*>(p)); }

class zlib_compressor final : public detail::compressor_transform {
 public:
  zlib_compressor(loop& l, const zlib_options& o, zlib_format format, const char* stage)
      : compressor_transform(l, stream_options_of(o, stage), o.chunk_size, o.flush, stage) {
    // zlib takes a window of 8 as 9 for the zlib wrapper and refuses it for raw deflate (since
    // 1.2.9); Node passes 9 in both cases, and so do we.
    const int bits = std::max(o.window_bits, 9);
    const int wb = format == zlib_format::gzip  ? bits + 16
                   : format == zlib_format::raw ? -bits
                                                : bits;
    const int r = deflateInit2(&zs_, o.level, Z_DEFLATED, wb, o.mem_level, o.strategy);
    if (r == Z_MEM_ERROR) throw std::bad_alloc();
    if (r != Z_OK) detail::invalid_option(stage, "zlib refused the options");
  }
  ~zlib_compressor() override { deflateEnd(&zs_); }

 protected:
  bool compress(const std::byte* in, std::size_t n, bool finish) override {
    if (finish) return run(in, n, Z_FINISH) == Z_STREAM_END;
    return run(in, n, zlib_flush(flush_setting())) == Z_OK;
  }

 private:
  // Deflates `n` bytes with `mode` until the input is used up and, when flushing or finishing,
  // everything is out. Returns Z_OK, Z_STREAM_END (after Z_FINISH) or a zlib error.
  int run(const std::byte* in, std::size_t n, int mode) {
    zs_.next_in = in_ptr(in);
    zs_.avail_in = static_cast<uInt>(n);
    for (;;) {
      const auto space = out_space();
      zs_.next_out = reinterpret_cast<Bytef*>(space.data());
      zs_.avail_out = static_cast<uInt>(space.size());
      const int r = deflate(&zs_, mode);
      commit_out(space.size() - zs_.avail_out);
      if (r == Z_STREAM_END) return r;
      if (r != Z_OK && r != Z_BUF_ERROR) return r;  // Z_BUF_ERROR: nothing to do, not an error
      // Output space left over means deflate took all input and flushed what `mode` asks for.
      if (zs_.avail_out != 0 && zs_.avail_in == 0) return Z_OK;
    }
  }

  z_stream zs_{};
};

class zlib_decompressor final : public detail::codec_transform {
 public:
  zlib_decompressor(loop& l, const zlib_options& o, zlib_format format, const char* stage)
      : codec_transform(l, stream_options_of(o, stage), o.chunk_size, o.flush, stage),
        format_(format) {
    const int bits = o.window_bits;  // 0: from the header (gzip and zlib only)
    const int wb = format == zlib_format::gzip  ? bits + 16
                   : format == zlib_format::raw ? -bits
                                                : bits;
    const int r = inflateInit2(&zs_, wb);
    if (r == Z_MEM_ERROR) throw std::bad_alloc();
    if (r != Z_OK) detail::invalid_option(stage, "zlib refused the options");
  }
  ~zlib_decompressor() override { inflateEnd(&zs_); }

 protected:
  void do_transform(buffer&& chunk, transform_callback cb) override {
    decode_chunk(std::move(chunk), cb);
  }

  void do_flush(callback cb) override {
    if (const std::error_code ec = at_end()) {
      fail_at(ec, consumed_, cb);
      return;
    }
    push_partial();
    cb({});
  }

 private:
  // Inflates up to `n` bytes, resetting between gzip members. Returns how many bytes it used:
  // all of them, or fewer when the stream (zlib, raw) ended, an error was found, or the
  // readable side is full (output_full(); zlib keeps what it has not written out yet).
  std::size_t decode_some(const std::byte* in, std::size_t n) override {
    if (ended_ && n > 0) {  // zlib and raw: one stream only
      decode_error_ = make_error_code(compress_errc::trailing_garbage);
      return 0;
    }
    zs_.next_in = in_ptr(in);
    zs_.avail_in = static_cast<uInt>(n);
    for (;;) {
      if (format_ == zlib_format::gzip && members_ > 0 && member_bytes_ == 0 &&
          (padding_ || (zs_.avail_in > 0 && zs_.next_in[0] == 0))) {
        // Zero bytes after a member are padding, as for Node and gzip -d: skip them to the end.
        padding_ = true;
        const std::size_t zeros = detail::zero_prefix(zs_.next_in, zs_.avail_in);
        if (zeros < zs_.avail_in) decode_error_ = make_error_code(compress_errc::trailing_garbage);
        return n - zs_.avail_in + zeros;
      }
      const auto space = out_space();
      zs_.next_out = reinterpret_cast<Bytef*>(space.data());
      zs_.avail_out = static_cast<uInt>(space.size());
      const Bytef* before = zs_.next_in;
      const int r = inflate(&zs_, Z_NO_FLUSH);
      commit_out(space.size() - zs_.avail_out);
      note_member_bytes(before, static_cast<std::size_t>(zs_.next_in - before));
      const std::size_t used = n - zs_.avail_in;
      switch (r) {
        case Z_STREAM_END:
          ++members_;
          member_bytes_ = 0;
          if (format_ != zlib_format::gzip) {
            ended_ = true;
            return used;
          }
          inflateReset(&zs_);  // the next member, if any bytes follow
          if (zs_.avail_in == 0 || output_full()) return used;
          continue;
        case Z_OK:
        case Z_BUF_ERROR:  // no progress possible: the input is used up
          if (zs_.avail_in == 0 && zs_.avail_out != 0) return used;
          if (r == Z_BUF_ERROR) {
            decode_error_ = make_error_code(compress_errc::library_error);
            return used;
          }
          if (output_full()) return used;
          continue;
        case Z_NEED_DICT:
          decode_error_ = make_error_code(compress_errc::need_dictionary);
          return used;
        case Z_DATA_ERROR:
          decode_error_ = data_error();
          return used;
        case Z_MEM_ERROR:
          decode_error_ = std::make_error_code(std::errc::not_enough_memory);
          return used;
        default:
          decode_error_ = make_error_code(compress_errc::library_error);
          return used;
      }
    }
  }

  // Keeps the first three bytes of the current gzip member, to tell a new member from garbage
  // and a bad method byte from a short header.
  void note_member_bytes(const Bytef* from, std::size_t n) {
    for (std::size_t i = 0; i < n && member_bytes_ + i < sizeof magic_; ++i)
      magic_[member_bytes_ + i] = from[i];
    member_bytes_ += n;
  }
  [[nodiscard]] bool looks_like_member() const noexcept {
    return (member_bytes_ < 1 || magic_[0] == 0x1f) && (member_bytes_ < 2 || magic_[1] == 0x8b);
  }

  [[nodiscard]] std::error_code data_error() const {
    if (format_ == zlib_format::gzip && !looks_like_member())
      return make_error_code(members_ > 0 ? compress_errc::trailing_garbage
                                          : compress_errc::wrong_format);
    const char* msg = zs_.msg != nullptr ? zs_.msg : "";
    if (std::strcmp(msg, "incorrect data check") == 0 ||
        std::strcmp(msg, "incorrect length check") == 0)
      return make_error_code(compress_errc::checksum_mismatch);
    return make_error_code(compress_errc::corrupt_data);
  }

  // What end of input means here: nothing wrong, or the error to fail with.
  [[nodiscard]] std::error_code at_end() const {
    if (format_ != zlib_format::gzip)
      return ended_ ? std::error_code{} : make_error_code(compress_errc::truncated);
    if (member_bytes_ == 0)  // between members
      return members_ > 0 ? std::error_code{} : make_error_code(compress_errc::truncated);
    if (!looks_like_member())
      return make_error_code(members_ > 0 ? compress_errc::trailing_garbage
                                          : compress_errc::wrong_format);
    // zlib checks the method byte together with the flags byte after it; input that ends
    // between them still has a method other than deflate, as ISA-L's engine reports.
    if (member_bytes_ == 3 && magic_[2] != 8) return make_error_code(compress_errc::corrupt_data);
    return make_error_code(compress_errc::truncated);
  }

  z_stream zs_{};
  zlib_format format_;
  std::uint64_t members_ = 0;     // complete gzip members (or 1 once a zlib/raw stream ended)
  std::size_t member_bytes_ = 0;  // input bytes of the gzip member in progress
  Bytef magic_[3] = {0, 0, 0};    // its first three bytes
  bool ended_ = false;            // zlib/raw: the stream is complete
  bool padding_ = false;          // gzip: only zero bytes may follow
};

// One block of a parallel gzip (gzip_parallel.hpp) on zlib: raw deflate with the stream's options.
class zlib_block_compressor final : public detail::block_compressor {
 public:
  explicit zlib_block_compressor(const zlib_options& o) {
    const int r = deflateInit2(&zs_, o.level, Z_DEFLATED, -std::max(o.window_bits, 9), o.mem_level,
                               o.strategy);
    if (r == Z_MEM_ERROR) throw std::bad_alloc();
    if (r != Z_OK) detail::invalid_option("gzip", "zlib refused the options");
  }
  ~zlib_block_compressor() override { deflateEnd(&zs_); }

  bool compress(std::span<const std::byte> dict, std::span<const std::byte> in, bool last,
                detail::block_output& out) override {
    if (deflateReset(&zs_) != Z_OK) return false;
    if (!dict.empty() &&
        deflateSetDictionary(&zs_, in_ptr(dict.data()), static_cast<uInt>(dict.size())) != Z_OK)
      return false;
    zs_.next_in = in_ptr(in.data());
    zs_.avail_in = static_cast<uInt>(in.size());  // a block is far below 4 GiB
    const int mode = last ? Z_FINISH : Z_SYNC_FLUSH;
    // deflateBound plus room for the sync flush's empty stored block: usually one call.
    out.reserve_more(deflateBound(&zs_, zs_.avail_in) + 16);
    for (;;) {
      const auto room = out.room();
      zs_.next_out = reinterpret_cast<Bytef*>(room.data());
      zs_.avail_out = static_cast<uInt>(room.size());
      const int r = deflate(&zs_, mode);
      out.size += room.size() - zs_.avail_out;
      if (r == Z_STREAM_END) return true;
      if (r != Z_OK && r != Z_BUF_ERROR) return false;
      if (!last && zs_.avail_in == 0 && zs_.avail_out != 0) return true;
      if (zs_.avail_out == 0) out.reserve_more(out.capacity);
    }
  }

  std::uint32_t crc32(std::uint32_t crc, std::span<const std::byte> in) const override {
    // zlib's crc32_z takes a size_t length; a block fits anyway.
    return static_cast<std::uint32_t>(
        crc32_z(crc, reinterpret_cast<const Bytef*>(in.data()), in.size()));
  }

 private:
  z_stream zs_{};
};

template <class T>
std::shared_ptr<transform<buffer, buffer>> make_codec(loop& l, const zlib_options& o, zlib_format f,
                                                      const char* stage) {
  check_zlib_options(stage, o, std::is_same_v<T, zlib_compressor>);
  if (f == zlib_format::raw && o.window_bits == 0)
    detail::check_range(stage, "window_bits", 0, 8, 15);
  return std::make_shared<T>(l, o, f, stage);
}

}  // namespace

namespace detail {

gzip_block_engine zlib_block_engine(const gzip_options& o) {
  // zlib's own choice of XFL for a gzip header.
  const int level = o.level < 0 ? 6 : o.level;
  const std::uint8_t xfl = level == 9 ? 2 : (o.strategy >= Z_HUFFMAN_ONLY || level < 2 ? 4 : 0);
  return {[o] { return std::make_unique<zlib_block_compressor>(o); },
          std::size_t{1} << std::max(o.window_bits, 9), xfl};
}

}  // namespace detail

std::shared_ptr<transform<buffer, buffer>> make_gzip(loop& l, gzip_options o) {
  detail::check_range("gzip", "threads", o.threads, 0, max_gzip_threads);
  const unsigned threads =
      o.threads != 0 ? o.threads : std::max(1U, std::thread::hardware_concurrency());
  // Flushing after every write needs each write's output at once: that is the one-thread path.
  const bool parallel = threads > 1 && o.flush == flush_mode::none;
  switch (o.engine) {
    case gzip_engine::zlib:
      if (!parallel) return make_codec<zlib_compressor>(l, o, zlib_format::gzip, "gzip");
      check_zlib_options("gzip", o, true);
      return detail::make_parallel_gzip(l, o, threads, detail::zlib_block_engine(o));
    case gzip_engine::isal:
      if (!parallel) return detail::make_isal_gzip(l, o);
      detail::check_isal_gzip_options(o);
      return detail::make_parallel_gzip(l, o, threads, detail::isal_block_engine(o));
  }
  detail::invalid_option("gzip",
                         "unknown gzip_engine " + std::to_string(static_cast<int>(o.engine)));
}

std::shared_ptr<transform<buffer, buffer>> make_gunzip(loop& l, zlib_options o) {
  return make_codec<zlib_decompressor>(l, o, zlib_format::gzip, "gunzip");
}

std::shared_ptr<transform<buffer, buffer>> make_gunzip(loop& l, zlib_options o,
                                                       gzip_engine engine) {
  switch (engine) {
    case gzip_engine::zlib:
      return make_gunzip(l, std::move(o));
    case gzip_engine::isal:
      check_zlib_options("gunzip", o, false);
      return detail::make_isal_gunzip(l, o);
  }
  detail::invalid_option("gunzip",
                         "unknown gzip_engine " + std::to_string(static_cast<int>(engine)));
}

std::shared_ptr<transform<buffer, buffer>> make_deflate(loop& l, zlib_options o) {
  return make_codec<zlib_compressor>(l, o, zlib_format::zlib, "deflate");
}

std::shared_ptr<transform<buffer, buffer>> make_inflate(loop& l, zlib_options o) {
  return make_codec<zlib_decompressor>(l, o, zlib_format::zlib, "inflate");
}

std::shared_ptr<transform<buffer, buffer>> make_deflate_raw(loop& l, zlib_options o) {
  return make_codec<zlib_compressor>(l, o, zlib_format::raw, "deflate_raw");
}

std::shared_ptr<transform<buffer, buffer>> make_inflate_raw(loop& l, zlib_options o) {
  return make_codec<zlib_decompressor>(l, o, zlib_format::raw, "inflate_raw");
}

}  // namespace sluice
