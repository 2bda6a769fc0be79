// fuzz/framing_fuzz.cpp: the object framing decoder (sluice/codec/framing.hpp) against a
// reference reader, and encoder → decoder round trips. Bit 6 of the control byte (driver.hpp)
// picks the format (length_prefixed or lines), bit 7 a small max_frame_size (1 to 64 bytes) or
// the default. Whatever the chunking and the pauses:
// - the payload as framed input: the frames the reference reads come out, in order; where the
//   reference refuses (a length or a line over the limit, input ending inside a frame) the
//   stream fails with that frame_errc after emitting at most the frames before it;
// - the payload cut into items (at points the generator picks; for lines, its "\n"s dropped):
//   encoded and decoded again, every item comes back, or the encoder refuses an item over the
//   limit with frame_too_large.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "driver.hpp"
#include "sluice/codec/framing.hpp"

namespace {

namespace fz = sluice::fuzz;
using sluice::frame_errc;
using sluice::frame_format;

struct reference {
  std::vector<std::string> frames;
  std::error_code ec;  // the refusal, if any
};

// Reads `bytes` as the decoder should.
reference read_frames(std::string_view bytes, const sluice::frame_options& o) {
  reference r;
  std::size_t pos = 0;
  if (o.format == frame_format::lines) {
    while (pos < bytes.size()) {
      const std::size_t nl = bytes.find('\n', pos);
      const std::size_t stop = nl == std::string_view::npos ? bytes.size() : nl;
      if (stop - pos > o.max_frame_size) {
        r.ec = frame_errc::frame_too_large;
        return r;
      }
      r.frames.emplace_back(bytes.substr(pos, stop - pos));
      pos = nl == std::string_view::npos ? bytes.size() : nl + 1;
    }
    return r;
  }
  while (pos < bytes.size()) {
    if (bytes.size() - pos < 4) {
      r.ec = frame_errc::truncated_frame;
      return r;
    }
    std::size_t len = 0;
    for (int i = 0; i < 4; ++i) len = (len << 8) | static_cast<unsigned char>(bytes[pos + i]);
    pos += 4;
    if (len > o.max_frame_size) {
      r.ec = frame_errc::frame_too_large;
      return r;
    }
    if (bytes.size() - pos < len) {
      r.ec = frame_errc::truncated_frame;
      return r;
    }
    r.frames.emplace_back(bytes.substr(pos, len));
    pos += len;
  }
  return r;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  fz::input in(data, size);
  const std::string_view payload = in.payload();
  sluice::frame_options fo;
  fo.format = (in.variant() & 1) != 0 ? frame_format::lines : frame_format::length_prefixed;
  if ((in.variant() & 2) != 0) fo.max_frame_size = 1 + in.below(64);
  sluice::manual_loop loop;
  const sluice::transform_options o{.readable_high_water_mark = in.item_hwm(),
                                    .writable_high_water_mark = in.byte_hwm()};

  // The payload as framed input.
  const reference want = read_frames(payload, fo);
  const auto got = fz::drive<std::string>(
      loop, sluice::make_frame_decoder<std::string>(loop, {}, fo, o), payload, in,
      {.sink_hwm = in.item_hwm(), .out_chunk = 1, .out_hwm = in.item_hwm()});
  if (!got.cut) {
    if (!want.ec) {
      fuzz_check(got.finished);
      fuzz_check(got.items == want.frames);
    } else {
      fuzz_check(got.ec == want.ec);
      fuzz_check(got.items.size() <= want.frames.size());
      for (std::size_t i = 0; i < got.items.size(); ++i) fuzz_check(got.items[i] == want.frames[i]);
    }
  }

  // The payload cut into items, encoded, then decoded.
  std::vector<std::string> items;
  bool too_large = false;
  for (std::size_t pos = 0; pos < payload.size();) {
    const std::size_t n = std::min(in.below(80), payload.size() - pos);
    std::string item(payload.substr(pos, n));
    if (fo.format == frame_format::lines) std::erase(item, '\n');
    too_large = too_large || item.size() > fo.max_frame_size;
    items.push_back(std::move(item));
    pos += n == 0 ? 1 : n;
  }
  // The encoder's readable side (bytes) gets the byte highWaterMark, its writable side (items)
  // the item one; it may hold its highWaterMark and two frames. (A first version of this harness
  // left the encoder at its default highWaterMark while bounding it by the byte one: the 226
  // bytes it then reported against a highWaterMark of 0 were within the encoder's real one.)
  constexpr std::size_t largest_frame = 4 + 79;
  const sluice::transform_options eo{.readable_high_water_mark = in.byte_hwm(),
                                     .writable_high_water_mark = in.item_hwm()};
  const auto packed = fz::drive_items<std::string, sluice::buffer>(
      loop, sluice::make_frame_encoder<std::string>(loop, {}, fo, eo), items, in,
      {.sink_hwm = in.byte_hwm(), .out_chunk = largest_frame, .out_hwm = in.byte_hwm()});
  if (too_large) {
    fuzz_check(packed.ec == frame_errc::frame_too_large);
    return 0;
  }
  fuzz_check(packed.finished);
  const auto back = fz::drive<std::string>(
      loop, sluice::make_frame_decoder<std::string>(loop, {}, fo, o), packed.joined(), in,
      {.sink_hwm = in.item_hwm(), .out_chunk = 1, .out_hwm = in.item_hwm()});
  fuzz_check(back.finished);
  fuzz_check(back.items == items);
  return 0;
}
