// sluice/codec/detail/text_codec.hpp: incremental text encodings, with no stream attached.
//
// These are the cores of the encoding transforms (setEncoding('utf8'), 'hex', 'base64' in Node
// terms). Each keeps just enough state between calls that feeding input chunk by chunk gives the
// same output as feeding it all at once, wherever the chunk boundaries fall. They work on
// sluice::buffer (buffer.hpp) and report bad input as sluice::errc::invalid_argument
// (error.hpp); the transform wrappers decide what an error does to the stream.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <system_error>

#include "sluice/core/buffer.hpp"
#include "sluice/core/error.hpp"

namespace sluice::detail {

/// Cuts a UTF-8 byte stream so that no chunk ends inside a character, the way Node's
/// StringDecoder holds back a split character. Bytes are passed on unchanged; only a trailing
/// sequence that is a proper prefix of a well-formed character (lead byte C2..F4 followed by
/// continuation bytes in the ranges Unicode allows) is held back, at most 3 bytes. Bytes that can
/// never start a character (stray continuation bytes, C0, C1, F5..FF) pass through as they are.
class utf8_boundary {
 public:
  /// Returns the held-back bytes plus the longest prefix of `in` that ends on a character
  /// boundary. When nothing was held back, the output is a slice of `in` (no copy); otherwise only
  /// the held-back bytes (plus the bytes of `in` completing their character) are copied.
  [[nodiscard]] buffer_list feed(buffer in);

  /// Ends the input. An incomplete character still held back becomes one U+FFFD (EF BF BD), as
  /// StringDecoder.end() does. The boundary is then ready for a new input.
  [[nodiscard]] buffer_list finish();

 private:
  std::array<std::byte, 3> held_{};
  std::uint8_t held_size_ = 0;
  std::uint8_t char_size_ = 0;  // length of the character the held bytes begin
};

/// Bytes to lower-case hexadecimal. Needs no state: every byte becomes two characters.
class hex_encoder {
 public:
  [[nodiscard]] buffer encode(const buffer& in) const;
};

/// Hexadecimal (either case) to bytes. A character pair split between two calls is joined.
class hex_decoder {
 public:
  /// Sets `out` to the bytes decoded from `in` and what was carried. On a character that is not a
  /// hex digit (whitespace included) returns errc::invalid_argument, sets `out` empty and leaves
  /// the decoder as it was before the call.
  [[nodiscard]] std::error_code decode(const buffer& in, buffer& out);

  /// Ends the input: errc::invalid_argument if an odd digit is left over. Resets the decoder.
  [[nodiscard]] std::error_code finish();

 private:
  int carried_ = -1;  // value of the first digit of an unfinished pair, or -1
};

/// Bytes to base64 (RFC 4648 standard alphabet, '=' padding). Holds back the 1 or 2 bytes that
/// do not yet fill a 3-byte group, so that padding appears only at the very end.
class base64_encoder {
 public:
  [[nodiscard]] buffer encode(const buffer& in);
  /// The padded encoding of the held-back bytes (empty if none). Resets the encoder.
  [[nodiscard]] buffer finish();

 private:
  std::array<std::uint8_t, 2> held_{};
  std::uint8_t held_size_ = 0;
};

/// Base64 to bytes. Accepts the standard and URL-safe alphabets (even mixed), skips ASCII
/// whitespace, and accepts padding that is complete, partial or missing. After padding only more
/// padding and whitespace may follow. Unused low bits of the last character are ignored, as Node
/// does.
class base64_decoder {
 public:
  /// Sets `out` to the bytes of every complete group of `in` and what was carried; an incomplete
  /// group is carried to the next call. On a character outside both alphabets, or misplaced
  /// padding, returns errc::invalid_argument, sets `out` empty and leaves the decoder as it was
  /// before the call.
  [[nodiscard]] std::error_code decode(const buffer& in, buffer& out);

  /// Ends the input: sets `out` to the bytes of an unpadded final group. A final group of a single
  /// character cannot encode a byte and is errc::invalid_argument (Node drops it silently).
  /// Resets the decoder.
  [[nodiscard]] std::error_code finish(buffer& out);

 private:
  std::uint32_t bits_ = 0;         // sextets of the unfinished group, oldest highest
  std::uint8_t sextets_ = 0;       // how many of them (0..3)
  std::uint8_t padding_left_ = 0;  // '=' still allowed once padding began
  bool padded_ = false;            // padding seen: the data is over
};

}  // namespace sluice::detail
