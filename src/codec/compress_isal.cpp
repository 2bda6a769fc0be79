// gzip on Intel ISA-L's igzip: compression (make_gzip with gzip_engine::isal) and decompression
// (make_gunzip with gzip_engine::isal).
#include <isa-l/crc.h>
#include <isa-l/igzip_lib.h>

#include <algorithm>
#include <memory>

#include "gzip_engines.hpp"
#include "gzip_parallel.hpp"
#include "sluice/codec/detail/codec_transform.hpp"
#include "sluice/codec/gzip.hpp"

namespace sluice {
namespace {

// zlib-style levels to ISA-L's four: -1 is igzip's own default (1); the rest by ratio, so that
// 6..8 (zlib's default range) land on the level closest to zlib 6 in ratio.
std::uint32_t isal_level(int level) {
  if (level < 0) return 1;
  if (level <= 1) return 0;
  if (level <= 5) return 1;
  if (level <= 8) return 2;
  return 3;
}

// The level buffer ISA-L recommends for each level (none for level 0).
std::size_t level_buffer_size(std::uint32_t level) {
  switch (level) {
    case 1:
      return ISAL_DEF_LVL1_DEFAULT;
    case 2:
      return ISAL_DEF_LVL2_DEFAULT;
    case 3:
      return ISAL_DEF_LVL3_DEFAULT;
    default:
      return 0;
  }
}

std::uint16_t isal_flush(flush_mode f) {
  switch (f) {
    case flush_mode::sync:
      return SYNC_FLUSH;
    case flush_mode::full:
      return FULL_FLUSH;
    case flush_mode::none:
      break;
  }
  return NO_FLUSH;
}

class isal_gzip final : public detail::compressor_transform {
 public:
  isal_gzip(loop& l, const gzip_options& o)
      : compressor_transform(l,
                             {o.readable_high_water_mark, o.writable_high_water_mark, true, true,
                              true, o.name.empty() ? std::string("gzip") : o.name},
                             o.chunk_size, o.flush, "gzip") {
    isal_deflate_init(&zs_);
    zs_.level = isal_level(o.level);
    if (const std::size_t n = level_buffer_size(zs_.level); n != 0) {
      level_buf_ = std::make_unique_for_overwrite<std::uint8_t[]>(n);
      zs_.level_buf = level_buf_.get();
      zs_.level_buf_size = static_cast<std::uint32_t>(n);
    }
    zs_.gzip_flag = IGZIP_GZIP;  // ISA-L writes the 10-byte header and the CRC-32/size trailer
    zs_.hist_bits = static_cast<std::uint16_t>(o.window_bits);
    zs_.flush = isal_flush(o.flush);
  }

 protected:
  bool compress(const std::byte* in, std::size_t n, bool finish) override {
    return run(in, n, finish) == COMP_OK;
  }

 private:
  // Compresses `n` bytes until they are all taken and, when flushing, all output is out; with
  // `last`, until the gzip trailer is written.
  int run(const std::byte* in, std::size_t n, bool last) {
    zs_.next_in = reinterpret_cast<std::uint8_t*>(const_cast<std::byte*>(in));
    zs_.avail_in = static_cast<std::uint32_t>(n);
    zs_.end_of_stream = last ? 1 : 0;
    for (;;) {
      const auto space = out_space();
      zs_.next_out = reinterpret_cast<std::uint8_t*>(space.data());
      zs_.avail_out = static_cast<std::uint32_t>(space.size());
      const int r = isal_deflate(&zs_);
      commit_out(space.size() - zs_.avail_out);
      if (r != COMP_OK) return r;
      if (last) {
        if (zs_.internal_state.state == ZSTATE_END) return COMP_OK;
      } else if (zs_.avail_in == 0 && zs_.avail_out != 0) {
        // ISA-L's rule: output space left over means all input (and any flush) is done.
        return COMP_OK;
      }
    }
  }

  isal_zstream zs_{};
  std::unique_ptr<std::uint8_t[]> level_buf_;
};

// One block of a parallel gzip (gzip_parallel.hpp) on ISA-L: raw deflate at the mapped level.
class isal_block_compressor final : public detail::block_compressor {
 public:
  explicit isal_block_compressor(const gzip_options& o)
      : level_(isal_level(o.level)), hist_bits_(static_cast<std::uint16_t>(o.window_bits)) {
    isal_deflate_init(&zs_);
    if (const std::size_t n = level_buffer_size(level_); n != 0) {
      level_buf_ = std::make_unique_for_overwrite<std::uint8_t[]>(n);
      level_buf_size_ = static_cast<std::uint32_t>(n);
    }
  }

  bool compress(std::span<const std::byte> dict, std::span<const std::byte> in, bool last,
                detail::block_output& out) override {
    isal_deflate_reset(&zs_);
    zs_.level = level_;
    zs_.level_buf = level_buf_.get();
    zs_.level_buf_size = level_buf_size_;
    zs_.gzip_flag = IGZIP_DEFLATE;
    zs_.hist_bits = hist_bits_;
    zs_.flush = SYNC_FLUSH;
    zs_.end_of_stream = last ? 1 : 0;
    if (!dict.empty() && isal_deflate_set_dict(&zs_, bytes(dict.data()),
                                               static_cast<std::uint32_t>(dict.size())) != COMP_OK)
      return false;
    zs_.next_in = bytes(in.data());
    zs_.avail_in = static_cast<std::uint32_t>(in.size());  // a block is far below 4 GiB
    // Incompressible input grows by a few bytes per stored block: usually one call.
    out.reserve_more(in.size() + in.size() / 16 + 1024);
    for (;;) {
      const auto room = out.room();
      zs_.next_out = reinterpret_cast<std::uint8_t*>(room.data());
      zs_.avail_out = static_cast<std::uint32_t>(room.size());
      const int r = isal_deflate(&zs_);
      out.size += room.size() - zs_.avail_out;
      if (r != COMP_OK) return false;
      if (last ? zs_.internal_state.state == ZSTATE_END : zs_.avail_in == 0 && zs_.avail_out != 0)
        return true;
      if (zs_.avail_out == 0) out.reserve_more(out.capacity);
    }
  }

  std::uint32_t crc32(std::uint32_t crc, std::span<const std::byte> in) const override {
    return crc32_gzip_refl(crc, reinterpret_cast<const unsigned char*>(in.data()), in.size());
  }

 private:
  static std::uint8_t* bytes(const std::byte* p) {
    return reinterpret_cast<std::uint8_t*>(const_cast<std::byte*>(p));
  }

  isal_zstream zs_{};
  std::unique_ptr<std::uint8_t[]> level_buf_;
  std::uint32_t level_buf_size_ = 0;
  std::uint32_t level_;
  std::uint16_t hist_bits_;
};

class isal_gunzip final : public detail::codec_transform {
 public:
  isal_gunzip(loop& l, const zlib_options& o)
      : codec_transform(l,
                        {o.readable_high_water_mark, o.writable_high_water_mark, true, true, true,
                         o.name.empty() ? std::string("gunzip") : o.name},
                        o.chunk_size, o.flush, "gunzip"),
        st_(std::make_unique<inflate_state>()),
        hist_bits_(static_cast<std::uint32_t>(o.window_bits)) {}

 protected:
  void do_transform(buffer&& chunk, transform_callback cb) override {
    decode_chunk(std::move(chunk), cb);
  }

  void do_flush(callback cb) override {
    std::error_code ec;
    if (member_bytes_ != 0 && !looks_like_member())
      ec = make_error_code(members_ > 0 ? compress_errc::trailing_garbage
                                        : compress_errc::wrong_format);
    else if (member_bytes_ != 0)
      ec = make_error_code(compress_errc::truncated);
    else if (members_ == 0)
      ec = make_error_code(compress_errc::truncated);
    if (ec) {
      fail_at(ec, consumed_, cb);
      return;
    }
    push_partial();
    cb({});
  }

 private:
  // The deflate body of a member: ISA-L checks the CRC-32 and size trailer after it. The header
  // is parsed here instead (parse_header): ISA-L 2.30's own gzip header parsing reads
  // uninitialized memory when a header with a file name arrives in several pieces.
  void start_body() {
    isal_inflate_init(st_.get());
    st_->crc_flag = ISAL_GZIP_NO_HDR_VER;
    st_->hist_bits = hist_bits_;
  }

  // Header stages (RFC 1952): 10 fixed bytes, then the optional parts that FLG announces.
  enum class header_stage { fixed, extra_length, extra, name, comment, header_crc, done };
  static constexpr std::uint8_t fhcrc = 0x02, fextra = 0x04, fname = 0x08, fcomment = 0x10;

  // Moves to the first stage after `after` that the flags ask for.
  void next_header_stage(header_stage after) {
    header_pos_ = 0;
    if (after < header_stage::extra_length && (flags_ & fextra) != 0) {
      header_stage_ = header_stage::extra_length;
      extra_left_ = 0;
    } else if (after < header_stage::name && (flags_ & fname) != 0) {
      header_stage_ = header_stage::name;
    } else if (after < header_stage::comment && (flags_ & fcomment) != 0) {
      header_stage_ = header_stage::comment;
    } else if (after < header_stage::header_crc && (flags_ & fhcrc) != 0) {
      header_stage_ = header_stage::header_crc;
    } else {
      header_stage_ = header_stage::done;
    }
  }

  // Consumes header bytes from `p`; returns how many. Sets decode_error_ on a bad header.
  std::size_t parse_header(const std::uint8_t* p, std::size_t n) {
    std::size_t i = 0;
    while (i < n && header_stage_ != header_stage::done) {
      const std::uint8_t b = p[i++];
      switch (header_stage_) {
        case header_stage::fixed:
          if ((header_pos_ == 0 && b != 0x1f) || (header_pos_ == 1 && b != 0x8b)) {
            decode_error_ = make_error_code(members_ > 0 ? compress_errc::trailing_garbage
                                                         : compress_errc::wrong_format);
            return i;
          }
          if ((header_pos_ == 2 && b != 8) || (header_pos_ == 3 && (b & 0xe0) != 0)) {
            decode_error_ =
                make_error_code(compress_errc::corrupt_data);  // not deflate, or bad flags
            return i;
          }
          if (header_pos_ == 3) flags_ = b;
          if (++header_pos_ == 10) next_header_stage(header_stage::fixed);
          break;
        case header_stage::extra_length:
          extra_left_ |= static_cast<std::size_t>(b) << (8 * header_pos_);
          if (++header_pos_ == 2) {
            header_pos_ = 0;
            if (extra_left_ == 0)
              next_header_stage(header_stage::extra);
            else
              header_stage_ = header_stage::extra;
          }
          break;
        case header_stage::extra:
          if (--extra_left_ == 0) next_header_stage(header_stage::extra);
          break;
        case header_stage::name:
        case header_stage::comment:
          if (b == 0) next_header_stage(header_stage_);
          break;
        case header_stage::header_crc:  // not checked (zlib checks it; it is rarely written)
          if (++header_pos_ == 2) next_header_stage(header_stage::header_crc);
          break;
        case header_stage::done:
          break;
      }
    }
    return i;
  }

  // Inflates `n` bytes, member after member. Returns how many bytes it used: all, unless
  // decode_error_ was set or the readable side is full (output_full()).
  std::size_t decode_some(const std::byte* in, std::size_t n) override {
    const auto* next = reinterpret_cast<const std::uint8_t*>(in);
    std::size_t left = n;
    for (;;) {
      if (header_stage_ != header_stage::done) {
        if (members_ > 0 && member_bytes_ == 0 && (padding_ || (left > 0 && next[0] == 0))) {
          // Zero bytes after a member are padding, as for Node and gzip -d: skip them to the end.
          padding_ = true;
          const std::size_t zeros = detail::zero_prefix(next, left);
          if (zeros < left) decode_error_ = make_error_code(compress_errc::trailing_garbage);
          return n - left + zeros;
        }
        const std::size_t used = parse_header(next, left);
        note_member_bytes(next, used);
        next += used;
        left -= used;
        if (decode_error_) return n - left;
        if (header_stage_ != header_stage::done) return n;  // the header goes on in the next chunk
        start_body();
        if (left == 0) return n;
      }
      st_->next_in = const_cast<std::uint8_t*>(next);
      st_->avail_in = static_cast<std::uint32_t>(left);
      const auto space = out_space();
      st_->next_out = reinterpret_cast<std::uint8_t*>(space.data());
      st_->avail_out = static_cast<std::uint32_t>(space.size());
      const int r = isal_inflate(st_.get());
      commit_out(space.size() - st_->avail_out);
      // After the trailer ISA-L moves next_in back over the bytes it read ahead. Those bytes
      // follow the trailer, so they are in this chunk: the member ends in the call that sees
      // the trailer's last byte.
      if (st_->next_in > next)
        note_member_bytes(next, static_cast<std::size_t>(st_->next_in - next));
      next = st_->next_in;
      left = st_->avail_in;
      if (r != ISAL_DECOMP_OK) {
        decode_error_ = error_of(r);
        return n > left ? n - left : 0;
      }
      if (st_->block_state == ISAL_BLOCK_FINISH) {
        ++members_;
        member_bytes_ = 0;
        header_stage_ = header_stage::fixed;
        header_pos_ = 0;
        if (left == 0 || output_full()) return n - left;
        continue;
      }
      if (left == 0 && st_->avail_out != 0) return n;
      if (output_full()) return n - left;  // go on from here when the consumer wants more
    }
  }

  void note_member_bytes(const std::uint8_t* from, std::size_t n) {
    for (std::size_t i = 0; i < n && member_bytes_ + i < 2; ++i)
      magic_[member_bytes_ + i] = from[i];
    member_bytes_ += n;
  }
  [[nodiscard]] bool looks_like_member() const noexcept {
    return (member_bytes_ < 1 || magic_[0] == 0x1f) && (member_bytes_ < 2 || magic_[1] == 0x8b);
  }

  [[nodiscard]] std::error_code error_of(int r) const {
    switch (r) {
      case ISAL_INCORRECT_CHECKSUM:
        return make_error_code(compress_errc::checksum_mismatch);
      case ISAL_NEED_DICT:
        return make_error_code(compress_errc::need_dictionary);
      case ISAL_INVALID_BLOCK:
      case ISAL_INVALID_SYMBOL:
      case ISAL_INVALID_LOOKBACK:
      case ISAL_INVALID_WRAPPER:
      case ISAL_UNSUPPORTED_METHOD:
        return make_error_code(compress_errc::corrupt_data);
      default:
        return make_error_code(compress_errc::library_error);
    }
  }

  std::unique_ptr<inflate_state> st_;  // large (two windows): on the heap, once
  std::uint32_t hist_bits_;
  std::uint64_t members_ = 0;     // complete members
  std::size_t member_bytes_ = 0;  // input bytes of the member in progress
  std::uint8_t magic_[2] = {0, 0};
  bool padding_ = false;  // only zero bytes may follow
  header_stage header_stage_ = header_stage::fixed;
  std::size_t header_pos_ = 0;  // bytes into the current header stage
  std::size_t extra_left_ = 0;  // FEXTRA: its length, then what is left of it
  std::uint8_t flags_ = 0;      // FLG
};

}  // namespace

namespace detail {

void check_isal_gzip_options(const gzip_options& o) {
  constexpr const char* stage = "gzip";
  check_range(stage, "level", o.level, -1, 9);
  check_range(stage, "window_bits", o.window_bits, 8, 15);
  check_range(stage, "mem_level", o.mem_level, 1, 9);
  check_range(stage, "strategy", o.strategy, 0, 4);
  if (o.strategy != 0) invalid_option(stage, "the isal engine supports only strategy 0");
  check_common(stage, o.chunk_size, o.flush);
}

std::shared_ptr<transform<buffer, buffer>> make_isal_gzip(loop& l, const gzip_options& o) {
  check_isal_gzip_options(o);
  return std::make_shared<isal_gzip>(l, o);
}

gzip_block_engine isal_block_engine(const gzip_options& o) {
  // ISA-L's levels are all fast ones, and igzip writes XFL 0.
  return {[o] { return std::make_unique<isal_block_compressor>(o); },
          std::size_t{1} << o.window_bits, 0};
}

std::shared_ptr<transform<buffer, buffer>> make_isal_gunzip(loop& l, const zlib_options& o) {
  return std::make_shared<isal_gunzip>(l, o);
}

}  // namespace detail
}  // namespace sluice
