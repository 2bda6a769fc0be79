// fuzz/text_fuzz.cpp: the text codecs of sluice/codec/text.hpp. The control byte's variant bits
// pick the codec; each is checked against what it must do whatever the chunking:
// - hex_decoder: the payload decodes exactly when it is an even number of hex digits, and then
//   to what a plain reference loop makes of it; hex_encoder → hex_decoder gives the payload back;
// - base64_decoder: an error or bytes, never a crash; base64_encoder → base64_decoder gives the
//   payload back;
// - utf8_rechunker: passes the payload on unchanged but for an incomplete last character
//   (which becomes U+FFFD), and cuts no output chunk inside a character of valid UTF-8;
// - utf8_decoder: the same as strings.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "driver.hpp"
#include "sluice/codec/text.hpp"

namespace {

using sluice::buffer;
using sluice::manual_loop;
namespace fz = sluice::fuzz;

sluice::transform_options marks(const fz::input& in) {
  return {.readable_high_water_mark = in.byte_hwm(), .writable_high_water_mark = in.byte_hwm()};
}
fz::drive_options options(const fz::input& in, std::size_t out_chunk) {
  return {.sink_hwm = in.byte_hwm(), .out_chunk = out_chunk, .out_hwm = in.byte_hwm()};
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// What the payload decodes to as hex, or nothing if it is not hex.
std::optional<std::string> reference_unhex(std::string_view s) {
  if (s.size() % 2 != 0) return std::nullopt;
  std::string out;
  for (std::size_t i = 0; i < s.size(); i += 2) {
    const int hi = hex_value(s[i]);
    const int lo = hex_value(s[i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out.push_back(static_cast<char>(hi * 16 + lo));
  }
  return out;
}

// The length of the UTF-8 character a lead byte starts (0 for a byte that cannot lead one).
std::size_t utf8_length(unsigned char c) {
  if (c < 0x80) return 1;
  if (c >= 0xc2 && c <= 0xdf) return 2;
  if (c >= 0xe0 && c <= 0xef) return 3;
  if (c >= 0xf0 && c <= 0xf4) return 4;
  return 0;
}

// Whether `s` is made of well-formed lead bytes followed by their continuation bytes (the
// structure the rechunker cuts along; overlong and surrogate forms are not its concern).
bool utf8_shaped(std::string_view s) {
  for (std::size_t i = 0; i < s.size();) {
    const std::size_t n = utf8_length(static_cast<unsigned char>(s[i]));
    if (n == 0 || i + n > s.size()) return false;
    for (std::size_t k = 1; k < n; ++k)
      if ((static_cast<unsigned char>(s[i + k]) & 0xc0) != 0x80) return false;
    i += n;
  }
  return true;
}

void check_rechunked(std::string_view payload, const std::string& out,
                     const std::vector<std::string>& chunks) {
  if (utf8_shaped(payload)) {
    fuzz_check(out == payload);
    for (const auto& c : chunks) fuzz_check(utf8_shaped(c));
  } else {
    // Bytes pass through unchanged; only an incomplete last character becomes U+FFFD (up to 3
    // bytes replaced by 3).
    const std::size_t keep = payload.size() >= 3 ? payload.size() - 3 : 0;
    fuzz_check(out.size() >= keep && out.compare(0, keep, payload.substr(0, keep)) == 0);
    fuzz_check(out.size() <= payload.size() + 3);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  fz::input in(data, size);
  const std::string payload(in.payload());
  manual_loop loop;

  switch (in.variant()) {
    case 0: {
      const auto r = fz::drive<buffer>(loop, std::make_shared<sluice::hex_decoder>(loop, marks(in)),
                                       payload, in, options(in, payload.size()));
      const auto expected = reference_unhex(payload);
      fuzz_check(r.finished == expected.has_value());
      if (expected) fuzz_check(r.joined() == *expected);
      const auto hex =
          fz::drive<buffer>(loop, std::make_shared<sluice::hex_encoder>(loop, marks(in)), payload,
                            in, options(in, 2 * payload.size()));
      fuzz_check(hex.finished && hex.bytes == 2 * payload.size());
      const auto back =
          fz::drive<buffer>(loop, std::make_shared<sluice::hex_decoder>(loop, marks(in)),
                            hex.joined(), in, options(in, payload.size()));
      fuzz_check(back.finished && back.joined() == payload);
      break;
    }
    case 1: {
      const auto r =
          fz::drive<buffer>(loop, std::make_shared<sluice::base64_decoder>(loop, marks(in)),
                            payload, in, options(in, payload.size()));
      if (r.finished) fuzz_check(r.bytes <= payload.size());
      const auto b64 =
          fz::drive<buffer>(loop, std::make_shared<sluice::base64_encoder>(loop, marks(in)),
                            payload, in, options(in, 2 * payload.size() + 4));
      fuzz_check(b64.finished && b64.bytes == (payload.size() + 2) / 3 * 4);
      const auto back =
          fz::drive<buffer>(loop, std::make_shared<sluice::base64_decoder>(loop, marks(in)),
                            b64.joined(), in, options(in, payload.size()));
      fuzz_check(back.finished && back.joined() == payload);
      break;
    }
    case 2: {
      const auto r =
          fz::drive<buffer>(loop, std::make_shared<sluice::utf8_rechunker>(loop, marks(in)),
                            payload, in, options(in, payload.size() + 3));
      fuzz_check(r.finished);
      std::vector<std::string> chunks;
      for (const auto& b : r.items) chunks.emplace_back(b.view());
      check_rechunked(payload, r.joined(), chunks);
      break;
    }
    default: {
      sluice::transform_options o = marks(in);
      o.readable_high_water_mark = in.item_hwm();
      const auto r = fz::drive<std::string>(
          loop, std::make_shared<sluice::utf8_decoder>(loop, o), payload, in,
          {.sink_hwm = in.item_hwm(), .out_chunk = 1, .out_hwm = in.item_hwm()});
      fuzz_check(r.finished);
      std::string out;
      for (const auto& s : r.items) {
        fuzz_check(!s.empty());
        out += s;
      }
      check_rechunked(payload, out, r.items);
      break;
    }
  }
  return 0;
}
