// gzip compression on Intel ISA-L's igzip (make_gzip with gzip_engine::isal).
#include <isa-l/igzip_lib.h>

#include <algorithm>
#include <memory>

#include "sluice/compress.hpp"

namespace sluice {
namespace {

// ISA-L counts in uint32_t: feed it at most this much input at once.
constexpr std::size_t max_slice = std::size_t{1} << 30;

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

class isal_gzip final : public detail::codec_transform {
 public:
  isal_gzip(loop& l, const gzip_options& o)
      : codec_transform(l,
                        {o.readable_high_water_mark, o.writable_high_water_mark, true, true, true,
                         o.name.empty() ? std::string("gzip") : o.name},
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
  void do_transform(buffer&& chunk, transform_callback cb) override {
    std::size_t pos = 0;
    do {
      const std::size_t take = std::min(chunk.size() - pos, max_slice);
      if (run(chunk.data() + pos, take, false) != COMP_OK) {
        fail_at(make_error_code(compress_errc::library_error), consumed_ + pos, cb);
        return;
      }
      pos += take;
    } while (pos < chunk.size());
    consumed_ += chunk.size();
    end_of_write();
    cb();
  }

  void do_flush(callback cb) override {
    if (run(nullptr, 0, true) != COMP_OK) {
      fail_at(make_error_code(compress_errc::library_error), consumed_, cb);
      return;
    }
    push_partial();
    cb({});
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

}  // namespace

namespace detail {

std::shared_ptr<transform<buffer, buffer>> make_isal_gzip(loop& l, const gzip_options& o) {
  constexpr const char* stage = "gzip";
  check_range(stage, "level", o.level, -1, 9);
  check_range(stage, "window_bits", o.window_bits, 8, 15);
  check_range(stage, "mem_level", o.mem_level, 1, 9);
  check_range(stage, "strategy", o.strategy, 0, 4);
  if (o.strategy != 0) invalid_option(stage, "the isal engine supports only strategy 0");
  check_common(stage, o.chunk_size, o.flush);
  return std::make_shared<isal_gzip>(l, o);
}

}  // namespace detail
}  // namespace sluice
