#include "sluice/codec/detail/text_codec.hpp"

#include <cstring>

namespace sluice::detail {
namespace {

// ---- UTF-8 ----

constexpr bool is_continuation(std::byte b) noexcept {
  return (std::to_integer<unsigned>(b) & 0xC0u) == 0x80u;
}

// Length of the character a byte starts, or 0 if no well-formed character starts with it
// (continuation bytes, the overlong leads C0 and C1, and F5..FF, which would exceed U+10FFFF).
constexpr std::size_t char_size(std::byte lead) noexcept {
  const unsigned b = std::to_integer<unsigned>(lead);
  if (b < 0x80u) return 1;
  if (b < 0xC2u) return 0;
  if (b < 0xE0u) return 2;
  if (b < 0xF0u) return 3;
  if (b < 0xF5u) return 4;
  return 0;
}

// Whether `b` may be byte `pos` (1-based after the lead) of a character starting with `lead`.
// The second byte's range is narrowed for a few leads: that is what rules out overlong forms,
// surrogates and code points past U+10FFFF (Unicode table 3-7), which could never complete.
constexpr bool fits(std::byte lead, std::size_t pos, std::byte b) noexcept {
  const unsigned v = std::to_integer<unsigned>(b);
  if (pos == 1) {
    switch (std::to_integer<unsigned>(lead)) {
      case 0xE0u:
        return v >= 0xA0u && v <= 0xBFu;
      case 0xEDu:
        return v >= 0x80u && v <= 0x9Fu;
      case 0xF0u:
        return v >= 0x90u && v <= 0xBFu;
      case 0xF4u:
        return v >= 0x80u && v <= 0x8Fu;
      default:
        break;
    }
  }
  return is_continuation(b);
}

// How many trailing bytes of `s` form a proper prefix of a well-formed character (0..3). Such a
// suffix is unique: a lead byte can never be a continuation byte.
std::size_t incomplete_suffix(std::span<const std::byte> s) noexcept {
  const std::size_t limit = s.size() < 3 ? s.size() : 3;
  for (std::size_t k = 1; k <= limit; ++k) {
    const std::byte lead = s[s.size() - k];
    if (is_continuation(lead)) continue;
    if (char_size(lead) <= k) return 0;
    for (std::size_t pos = 1; pos < k; ++pos) {
      if (!fits(lead, pos, s[s.size() - k + pos])) return 0;
    }
    return k;
  }
  return 0;
}

// ---- hex ----

constexpr char hex_digits[] = "0123456789abcdef";
constexpr std::uint8_t not_hex = 0xFF;

constexpr std::array<std::uint8_t, 256> hex_values = [] {
  std::array<std::uint8_t, 256> t{};
  for (auto& v : t) v = not_hex;
  for (unsigned i = 0; i < 10; ++i) t['0' + i] = static_cast<std::uint8_t>(i);
  for (unsigned i = 0; i < 6; ++i) {
    t['a' + i] = static_cast<std::uint8_t>(10 + i);
    t['A' + i] = static_cast<std::uint8_t>(10 + i);
  }
  return t;
}();

// ---- base64 ----

constexpr char base64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

// Sextet values are 0..63; the markers all have bit 6 or 7 set, so one OR over a group of four
// tells the fast path whether any of them needs a closer look.
constexpr std::uint8_t b64_space = 0x40;
constexpr std::uint8_t b64_pad = 0x41;
constexpr std::uint8_t b64_invalid = 0xFF;
constexpr std::uint8_t b64_special_bits = 0xC0;

constexpr std::array<std::uint8_t, 256> base64_values = [] {
  std::array<std::uint8_t, 256> t{};
  for (auto& v : t) v = b64_invalid;
  for (unsigned i = 0; i < 64; ++i) {
    t[static_cast<unsigned char>(base64_alphabet[i])] = static_cast<std::uint8_t>(i);
  }
  t['-'] = 62;  // URL-safe alphabet
  t['_'] = 63;
  for (char c : {' ', '\t', '\n', '\r', '\f', '\v'}) t[static_cast<unsigned char>(c)] = b64_space;
  t['='] = b64_pad;
  return t;
}();

std::byte* write_ptr(buffer_builder& b) noexcept { return b.free_space().data(); }

}  // namespace

// ---- utf8_boundary ----

buffer_list utf8_boundary::feed(buffer in) {
  buffer_list out;
  if (in.empty()) return out;
  const std::span<const std::byte> bytes = in.bytes();
  std::size_t start = 0;

  if (held_size_ != 0) {
    const std::size_t need = char_size_ - held_size_;
    std::size_t got = 0;
    while (got < need && got < bytes.size() && fits(held_[0], held_size_ + got, bytes[got])) ++got;
    if (got == need) {
      // The split character is complete: copy just its few bytes, slice the rest.
      std::array<std::byte, 4> whole{};
      std::memcpy(whole.data(), held_.data(), held_size_);
      std::memcpy(whole.data() + held_size_, bytes.data(), got);
      out.push_back(buffer::copy_of(std::span<const std::byte>(whole.data(), char_size_)));
      start = got;
    } else if (got == bytes.size()) {
      // Still incomplete (a character split three ways): keep waiting.
      std::memcpy(held_.data() + held_size_, bytes.data(), got);
      held_size_ = static_cast<std::uint8_t>(held_size_ + got);
      return out;
    } else {
      // The held bytes turned out not to begin a character; they pass through unchanged, and the
      // continuation bytes that followed them are not lead bytes, so they simply stay in `in`.
      out.push_back(buffer::copy_of(std::span<const std::byte>(held_.data(), held_size_)));
    }
    held_size_ = 0;
    char_size_ = 0;
  }

  const std::size_t keep = incomplete_suffix(bytes.subspan(start));
  const std::size_t end = bytes.size() - keep;
  if (keep != 0) {
    std::memcpy(held_.data(), bytes.data() + end, keep);
    held_size_ = static_cast<std::uint8_t>(keep);
    char_size_ = static_cast<std::uint8_t>(char_size(held_[0]));
  }
  if (start == 0 && end == bytes.size()) {
    out.push_back(std::move(in));
  } else {
    out.push_back(in.slice(start, end - start));
  }
  return out;
}

buffer_list utf8_boundary::finish() {
  buffer_list out;
  if (held_size_ != 0) out.push_back(buffer::copy_of("\xEF\xBF\xBD"));
  held_size_ = 0;
  char_size_ = 0;
  return out;
}

// ---- hex ----

buffer hex_encoder::encode(const buffer& in) const {
  if (in.empty()) return {};
  buffer_builder out(in.size() * 2);
  std::byte* p = write_ptr(out);
  for (std::byte b : in) {
    const unsigned v = std::to_integer<unsigned>(b);
    *p++ = static_cast<std::byte>(hex_digits[v >> 4]);
    *p++ = static_cast<std::byte>(hex_digits[v & 0xFu]);
  }
  out.commit(in.size() * 2);
  return std::move(out).freeze();
}

std::error_code hex_decoder::decode(const buffer& in, buffer& out) {
  out = buffer();
  if (in.empty()) return {};
  int carried = carried_;
  buffer_builder result((in.size() + 1) / 2);
  std::byte* const first = write_ptr(result);
  std::byte* p = first;
  for (std::byte c : in) {
    const std::uint8_t v = hex_values[std::to_integer<unsigned>(c)];
    if (v == not_hex) return make_error_code(errc::invalid_argument);
    if (carried < 0) {
      carried = v;
    } else {
      *p++ = static_cast<std::byte>((carried << 4) | v);
      carried = -1;
    }
  }
  result.commit(static_cast<std::size_t>(p - first));
  carried_ = carried;
  out = std::move(result).freeze();
  return {};
}

std::error_code hex_decoder::finish() {
  const bool odd = carried_ >= 0;
  carried_ = -1;
  return odd ? make_error_code(errc::invalid_argument) : std::error_code();
}

// ---- base64_encoder ----

namespace {

void encode_group(std::uint32_t group, std::byte* out) noexcept {
  out[0] = static_cast<std::byte>(base64_alphabet[(group >> 18) & 0x3Fu]);
  out[1] = static_cast<std::byte>(base64_alphabet[(group >> 12) & 0x3Fu]);
  out[2] = static_cast<std::byte>(base64_alphabet[(group >> 6) & 0x3Fu]);
  out[3] = static_cast<std::byte>(base64_alphabet[group & 0x3Fu]);
}

std::uint32_t byte_at(std::span<const std::byte> s, std::size_t i) noexcept {
  return std::to_integer<std::uint32_t>(s[i]);
}

}  // namespace

buffer base64_encoder::encode(const buffer& in) {
  const std::span<const std::byte> bytes = in.bytes();
  const std::size_t total = held_size_ + bytes.size();
  if (total < 3) {
    for (std::byte b : bytes) held_[held_size_++] = std::to_integer<std::uint8_t>(b);
    return {};
  }
  const std::size_t out_size = total / 3 * 4;
  buffer_builder out(out_size);
  std::byte* p = write_ptr(out);
  std::size_t i = 0;
  if (held_size_ != 0) {
    std::uint32_t group = held_[0];
    group = (group << 8) | (held_size_ == 2 ? held_[1] : byte_at(bytes, i++));
    group = (group << 8) | byte_at(bytes, i++);
    encode_group(group, p);
    p += 4;
  }
  for (; i + 3 <= bytes.size(); i += 3, p += 4) {
    encode_group((byte_at(bytes, i) << 16) | (byte_at(bytes, i + 1) << 8) | byte_at(bytes, i + 2),
                 p);
  }
  held_size_ = 0;
  for (; i < bytes.size(); ++i) held_[held_size_++] = std::to_integer<std::uint8_t>(bytes[i]);
  out.commit(out_size);
  return std::move(out).freeze();
}

buffer base64_encoder::finish() {
  if (held_size_ == 0) return {};
  std::array<std::byte, 4> tail{};
  const std::uint32_t group =
      (std::uint32_t{held_[0]} << 16) | (held_size_ == 2 ? std::uint32_t{held_[1]} << 8 : 0u);
  encode_group(group, tail.data());
  tail[3] = std::byte{'='};
  if (held_size_ == 1) tail[2] = std::byte{'='};
  held_size_ = 0;
  return buffer::copy_of(tail);
}

// ---- base64_decoder ----

std::error_code base64_decoder::decode(const buffer& in, buffer& out) {
  out = buffer();
  if (in.empty()) return {};
  const std::span<const std::byte> chars = in.bytes();
  // Work on copies so that a failed call leaves the decoder untouched.
  std::uint32_t bits = bits_;
  std::uint32_t sextets = sextets_;
  std::uint32_t padding_left = padding_left_;
  bool padded = padded_;

  buffer_builder result((chars.size() / 4 + 1) * 3);
  std::byte* const first = write_ptr(result);
  std::byte* p = first;
  const std::size_t n = chars.size();
  std::size_t i = 0;
  while (i < n) {
    if (sextets == 0 && !padded && i + 4 <= n) {
      const std::uint8_t a = base64_values[std::to_integer<unsigned>(chars[i])];
      const std::uint8_t b = base64_values[std::to_integer<unsigned>(chars[i + 1])];
      const std::uint8_t c = base64_values[std::to_integer<unsigned>(chars[i + 2])];
      const std::uint8_t d = base64_values[std::to_integer<unsigned>(chars[i + 3])];
      if (((a | b | c | d) & b64_special_bits) == 0) {
        const std::uint32_t group = (std::uint32_t{a} << 18) | (std::uint32_t{b} << 12) |
                                    (std::uint32_t{c} << 6) | std::uint32_t{d};
        *p++ = static_cast<std::byte>(group >> 16);
        *p++ = static_cast<std::byte>((group >> 8) & 0xFFu);
        *p++ = static_cast<std::byte>(group & 0xFFu);
        i += 4;
        continue;
      }
    }
    const std::uint8_t v = base64_values[std::to_integer<unsigned>(chars[i++])];
    if (v == b64_space) continue;
    if (v == b64_pad) {
      if (padded) {
        if (padding_left == 0) return make_error_code(errc::invalid_argument);
        --padding_left;
        continue;
      }
      // "x=" or "=" alone cannot end a group that encodes whole bytes.
      if (sextets < 2) return make_error_code(errc::invalid_argument);
      // The group is short: emit what it holds now rather than wait for finish().
      if (sextets == 2) {
        *p++ = static_cast<std::byte>((bits >> 4) & 0xFFu);
        padding_left = 1;
      } else {
        *p++ = static_cast<std::byte>((bits >> 10) & 0xFFu);
        *p++ = static_cast<std::byte>((bits >> 2) & 0xFFu);
        padding_left = 0;
      }
      bits = 0;
      sextets = 0;
      padded = true;
      continue;
    }
    if (v == b64_invalid || padded) return make_error_code(errc::invalid_argument);
    bits = (bits << 6) | v;
    if (++sextets == 4) {
      *p++ = static_cast<std::byte>((bits >> 16) & 0xFFu);
      *p++ = static_cast<std::byte>((bits >> 8) & 0xFFu);
      *p++ = static_cast<std::byte>(bits & 0xFFu);
      bits = 0;
      sextets = 0;
    }
  }
  result.commit(static_cast<std::size_t>(p - first));
  bits_ = bits;
  sextets_ = static_cast<std::uint8_t>(sextets);
  padding_left_ = static_cast<std::uint8_t>(padding_left);
  padded_ = padded;
  out = std::move(result).freeze();
  return {};
}

std::error_code base64_decoder::finish(buffer& out) {
  out = buffer();
  const std::uint32_t bits = bits_;
  const std::uint32_t sextets = sextets_;
  *this = base64_decoder();
  if (sextets == 1) return make_error_code(errc::invalid_argument);
  if (sextets == 2) {
    const std::array<std::byte, 1> tail{static_cast<std::byte>((bits >> 4) & 0xFFu)};
    out = buffer::copy_of(tail);
  } else if (sextets == 3) {
    const std::array<std::byte, 2> tail{static_cast<std::byte>((bits >> 10) & 0xFFu),
                                        static_cast<std::byte>((bits >> 2) & 0xFFu)};
    out = buffer::copy_of(tail);
  }
  return {};
}

}  // namespace sluice::detail
