// sluice/codec/text.hpp: text encodings as transforms (what Node does with setEncoding()).
//
// utf8_rechunker   buffer → buffer       cuts bytes only between UTF-8 characters
// utf8_decoder     buffer → std::string  the same, as strings (object mode)
// hex_encoder      buffer → buffer       bytes to lower-case hex
// hex_decoder      buffer → buffer       hex (either case) to bytes
// base64_encoder   buffer → buffer       bytes to padded base64 (standard alphabet)
// base64_decoder   buffer → buffer       base64 (standard or URL-safe) to bytes
//
// Each wraps an incremental codec of sluice/codec/detail/text_codec.hpp, so the output is the same
// wherever the input chunks are cut. A transform emits at most one chunk per written chunk (none
// while it only holds bytes back) and never an empty one; what is held back comes out at end().
// Decoders fail the stream with errc::invalid_argument on bad input. docs/text.md has examples.
#pragma once

#include <string>

#include "sluice/codec/detail/text_codec.hpp"
#include "sluice/core/buffer.hpp"
#include "sluice/core/transform.hpp"

namespace sluice {

/// Passes bytes through, re-chunked so that no output chunk ends inside a UTF-8 character: the
/// 1 to 3 bytes of a character split across input chunks are held back and sent with the next
/// chunk. At end() an incomplete character still held becomes U+FFFD (EF BF BD). Bytes that are
/// not UTF-8 pass through unchanged. A chunk is copied only when it completes a held character.
class utf8_rechunker final : public transform<buffer, buffer> {
 public:
  explicit utf8_rechunker(sluice::loop& l, const transform_options& o = {});

 protected:
  void do_transform(buffer&& chunk, transform_callback cb) override;
  void do_flush(callback cb) override;

 private:
  detail::utf8_boundary boundary_;
};

/// As utf8_rechunker, but emits each output chunk as a std::string (object mode on the readable
/// side: its highWaterMark counts strings). Never emits an empty string.
class utf8_decoder final : public transform<buffer, std::string> {
 public:
  explicit utf8_decoder(sluice::loop& l, const transform_options& o = {});

 protected:
  void do_transform(buffer&& chunk, transform_callback cb) override;
  void do_flush(callback cb) override;

 private:
  detail::utf8_boundary boundary_;
};

/// Bytes to lower-case hexadecimal, two characters per byte.
class hex_encoder final : public transform<buffer, buffer> {
 public:
  explicit hex_encoder(sluice::loop& l, const transform_options& o = {});

 protected:
  void do_transform(buffer&& chunk, transform_callback cb) override;

 private:
  detail::hex_encoder codec_;
};

/// Hexadecimal to bytes; a digit pair may be split between chunks. A character that is not a hex
/// digit (whitespace included), or an odd digit left at end(), fails the stream with
/// errc::invalid_argument.
class hex_decoder final : public transform<buffer, buffer> {
 public:
  explicit hex_decoder(sluice::loop& l, const transform_options& o = {});

 protected:
  void do_transform(buffer&& chunk, transform_callback cb) override;
  void do_flush(callback cb) override;

 private:
  detail::hex_decoder codec_;
};

/// Bytes to base64 (RFC 4648, '=' padding). Emits whole 4-character groups as input arrives;
/// the 1 or 2 bytes left over come out, padded, at end().
class base64_encoder final : public transform<buffer, buffer> {
 public:
  explicit base64_encoder(sluice::loop& l, const transform_options& o = {});

 protected:
  void do_transform(buffer&& chunk, transform_callback cb) override;
  void do_flush(callback cb) override;

 private:
  detail::base64_encoder codec_;
};

/// Base64 to bytes. Accepts the standard and URL-safe alphabets, ASCII whitespace, and complete,
/// partial or missing padding. A character outside both alphabets, data after padding, or a lone
/// character in the last group fails the stream with errc::invalid_argument.
class base64_decoder final : public transform<buffer, buffer> {
 public:
  explicit base64_decoder(sluice::loop& l, const transform_options& o = {});

 protected:
  void do_transform(buffer&& chunk, transform_callback cb) override;
  void do_flush(callback cb) override;

 private:
  detail::base64_decoder codec_;
};

}  // namespace sluice
