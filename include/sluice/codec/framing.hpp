// sluice/codec/framing.hpp: typed items over a byte stream, one frame per item, so that an
// object-mode pipeline can cross a socket, a pipe or a file and come out typed on the far side.
//
// frame_encoder<T, S>  transform<T, buffer>: each item serialized by S, framed, one buffer each
// frame_decoder<T, S>  transform<buffer, T>: frames cut from the bytes, each deserialized by S
// frame_format         length_prefixed (a 4-byte big-endian length, then the payload) or lines
//                      (the payload, then "\n": JSON lines)
// bytes_serializer     std::string and buffer items carried as they are
// frame_errc           what framing can refuse (a frame over max_frame_size, input that ends
//                      inside a frame, a newline inside a lines payload)
//
// The decoder never holds more than one frame's bytes (max_frame_size, 16 MiB by default): a
// length prefix over the limit fails the stream as soon as its four bytes are in, before any of
// its payload is held, and a line over it as soon as that many bytes have come without a "\n".
// It pushes items until its readable side is full and goes on when the consumer wants more, so
// one large chunk of small frames never buffers more than the highWaterMark (in items) plus
// one. Input chunks may cut frames anywhere, headers included; a frame inside one chunk is
// deserialized from that chunk's bytes without a copy. sluice/codec/json_frames.hpp adds JSON
// (Boost.JSON) as a serializer. docs/framing.md has the format and examples.
#pragma once

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <utility>

#include "sluice/core/buffer.hpp"
#include "sluice/core/error.hpp"
#include "sluice/core/transform.hpp"

namespace sluice {

/// What framing refuses. Zero is unused (it means success).
enum class frame_errc {
  frame_too_large = 1,  ///< "frame too large": over frame_options::max_frame_size
  truncated_frame,      ///< "input ended inside a frame"
  newline_in_frame,     ///< "newline inside a lines frame": a payload the lines format cannot carry
};

/// The "sluice.framing" error category.
[[nodiscard]] const std::error_category& framing_category() noexcept;
[[nodiscard]] std::error_code make_error_code(frame_errc e) noexcept;

}  // namespace sluice

template <>
struct std::is_error_code_enum<sluice::frame_errc> : std::true_type {};

namespace sluice {

/// How frames are laid out on the wire.
enum class frame_format : std::uint8_t {
  /// A 4-byte big-endian unsigned payload length, then the payload: any bytes, up to 4 GiB - 1.
  length_prefixed,
  /// The payload, then "\n". A payload must not contain "\n" (the encoder refuses one with
  /// newline_in_frame). The decoder takes the bytes after the last "\n" as a last frame at the
  /// end of the input; an empty line is an empty payload.
  lines,
};

/// How items are framed.
struct frame_options {
  frame_format format = frame_format::length_prefixed;
  /// The largest payload, in bytes (without the length prefix or the "\n"), that the encoder
  /// writes and the decoder accepts. At least 1; at most 4 GiB - 1 for length_prefixed.
  std::size_t max_frame_size = std::size_t{16} << 20;
};

/// A serializer for frames of T: `encode` appends the item's bytes to `out`; `decode` reads one
/// payload into `into` and returns an error for bytes that are not a T (the decoder then fails
/// the stream with that code, naming the frame). Called on the loop's thread, one at a time.
template <class S, class T>
concept frame_serializer = requires(const S& s, const T& item, std::string& out,
                                    std::string_view in, T& into) {
  s.encode(item, out);
  { s.decode(in, into) } -> std::convertible_to<std::error_code>;
};

/// std::string and buffer items, carried as they are (a frame is the item's bytes).
struct bytes_serializer {
  void encode(const std::string& item, std::string& out) const { out += item; }
  void encode(const buffer& item, std::string& out) const { out += item.view(); }
  std::error_code decode(std::string_view in, std::string& into) const {
    into.assign(in);
    return {};
  }
  std::error_code decode(std::string_view in, buffer& into) const {
    into = buffer::copy_of(in);
    return {};
  }
};

namespace detail {

// Checks frame_options; throws std::system_error(errc::invalid_argument) naming `who`.
void check_frame_options(const frame_options& o, const char* who);

// Frames the payload in `out` (for length_prefixed it starts with 4 bytes left for the length,
// written here; for lines the "\n" is appended). An error when the payload is over the limit
// or, for lines, holds a "\n"; `context` then names frame number `frame` (1-based).
std::error_code seal_frame(const frame_options& o, std::string& out, std::uint64_t frame,
                           std::string& context);

// Cuts frames out of the bytes fed to it: the byte-level half of frame_decoder.
class frame_reader {
 public:
  explicit frame_reader(const frame_options& o) : o_(o) {}

  enum class step : std::uint8_t {
    frame,  // `payload` is the next frame (valid until the next call)
    more,   // everything fed has been used: feed the next chunk (or finish())
    error,  // refused: error() and context() say why
  };

  // The next chunk; the previous one must have been used up (next() returned more).
  void feed(buffer chunk) {
    in_ = std::move(chunk);
    pos_ = 0;
  }
  // Whether bytes of the current chunk are still to be read.
  [[nodiscard]] bool has_input() const noexcept { return pos_ < in_.size(); }
  step next(std::string_view& payload);
  // At the end of the input: a last frame (a lines format's unterminated last line), more (no
  // frame left: the input ended between frames), or error (it ended inside a frame).
  step finish(std::string_view& payload);

  [[nodiscard]] std::uint64_t frames() const noexcept { return frames_; }
  [[nodiscard]] std::error_code error() const noexcept { return ec_; }
  [[nodiscard]] const std::string& context() const noexcept { return context_; }

 private:
  step next_prefixed(std::string_view& payload);
  step next_line(std::string_view& payload);
  step refuse(frame_errc e, std::string context);
  // Forgets the frame assembled in partial_ once it has been handed out.
  void release_partial() {
    if (drop_partial_) {
      partial_.clear();
      drop_partial_ = false;
    }
  }

  frame_options o_;
  buffer in_;  // the chunk being read, from pos_
  std::size_t pos_ = 0;
  std::string partial_;        // a frame that spans chunks, as far as it has come
  bool drop_partial_ = false;  // partial_ was handed out as the last frame: clear it first
  unsigned char header_[4]{};
  unsigned header_len_ = 0;  // bytes of header_ read
  bool have_length_ = false;
  std::size_t length_ = 0;    // the current frame's payload length (length_prefixed)
  std::uint64_t frames_ = 0;  // frames handed out
  std::error_code ec_;
  std::string context_;
};

}  // namespace detail

/// Serializes each item with S and writes it as one frame (one buffer per item). An item whose
/// payload is over max_frame_size, or (lines) holds a "\n", fails the stream with a frame_errc
/// whose context names the item: error_message() reads "frame 3 is 20000000 bytes, over the
/// limit of 16777216: frame too large". The readable side counts bytes. Neither the encoder nor
/// the decoder takes the skip policy (transform::skip_item_errors throws): a frame refused is
/// an error of the stream, with its context.
template <class T, class S = bytes_serializer>
requires frame_serializer<S, T>
class frame_encoder final : public transform<T, buffer> {
 public:
  /// Throws std::system_error(errc::invalid_argument) for a max_frame_size of 0 (or over
  /// 4 GiB - 1 with length_prefixed).
  frame_encoder(sluice::loop& l, S serializer = {}, frame_options fo = {},
                const transform_options& o = {})
      : transform<T, buffer>(l, o), s_(std::move(serializer)), o_(fo) {
    detail::check_frame_options(o_, "frame_encoder");
  }

  /// Frames written so far.
  [[nodiscard]] std::uint64_t frame_count() const noexcept { return frames_; }

 protected:
  void do_transform(T&& item, typename transform<T, buffer>::transform_callback cb) override {
    std::string out;
    if (o_.format == frame_format::length_prefixed) out.assign(4, '\0');
    s_.encode(item, out);
    std::string context;
    if (const std::error_code ec = detail::seal_frame(o_, out, frames_ + 1, context)) {
      this->fail(ec, std::move(context));
      cb(ec);
      return;
    }
    ++frames_;
    cb(buffer(std::move(out)));
  }

 private:
  S s_;
  frame_options o_;
  std::uint64_t frames_ = 0;
};

/// Cuts the bytes into frames and deserializes each with S, in object mode (the readable
/// highWaterMark counts items). Refuses, failing the stream with a context that names the
/// frame: a length over max_frame_size ("frame 3 declares 20000000 bytes, over the limit of
/// 16777216: frame too large"), input that ends inside a frame ("the input ended inside frame
/// 7, after 10 of its 100 bytes: input ended inside a frame"), and a payload S refuses ("frame
/// 4 (12 bytes): " then S's message).
template <class T, class S = bytes_serializer>
requires frame_serializer<S, T> && std::default_initializable<T>
class frame_decoder final : public transform<buffer, T> {
  using base = transform<buffer, T>;

 public:
  /// Throws std::system_error(errc::invalid_argument) as frame_encoder does.
  frame_decoder(sluice::loop& l, S serializer = {}, frame_options fo = {},
                const transform_options& o = {})
      : base(l, o), s_(std::move(serializer)), reader_(fo) {
    detail::check_frame_options(fo, "frame_decoder");
  }

  /// Frames read so far (deserialized or not).
  [[nodiscard]] std::uint64_t frame_count() const noexcept { return reader_.frames(); }

 protected:
  void do_transform(buffer&& chunk, typename base::transform_callback cb) override {
    reader_.feed(std::move(chunk));
    input_cb_.emplace(cb);
    cut();
  }

  void do_output_wanted() override {
    if (input_cb_ && !cutting_ && !this->destroyed()) cut();
  }

  void do_flush(callback cb) override {
    std::string_view payload;
    switch (reader_.finish(payload)) {
      case detail::frame_reader::step::frame: {
        bool more = true;
        if (const std::error_code ec = emit(payload, more)) {
          cb(ec);
          return;
        }
        break;
      }
      case detail::frame_reader::step::more:
        break;
      case detail::frame_reader::step::error:
        cb(refused());
        return;
    }
    cb({});
  }

 private:
  // Cuts frames from the current chunk, pushing items until the chunk is used up (then the
  // write completes) or the readable side is full (then do_output_wanted goes on).
  void cut() {
    cutting_ = true;
    for (;;) {
      std::string_view payload;
      const auto step = reader_.next(payload);
      if (step == detail::frame_reader::step::more) break;
      if (step == detail::frame_reader::step::error) {
        complete(refused());
        return;
      }
      bool more = true;
      if (const std::error_code ec = emit(payload, more)) {
        complete(ec);
        return;
      }
      if ((!more || this->destroyed()) && reader_.has_input()) {
        cutting_ = false;  // the rest when the consumer wants more
        return;
      }
    }
    complete({});
  }

  // Fails the stream with what the reader refused (its context names the frame); the code.
  std::error_code refused() {
    this->fail(reader_.error(), reader_.context());
    return reader_.error();
  }

  // Deserializes one payload and pushes the item; an error has already failed the stream.
  std::error_code emit(std::string_view payload, bool& more) {
    T item{};
    if (const std::error_code ec = s_.decode(payload, item)) {
      this->fail(ec, "frame " + std::to_string(reader_.frames()) + " (" +
                         std::to_string(payload.size()) + " bytes)");
      return ec;
    }
    more = this->push(std::move(item));
    return {};
  }

  void complete(std::error_code ec) {
    cutting_ = false;
    const auto cb = *std::exchange(input_cb_, std::nullopt);
    cb(ec);
  }

  S s_;
  detail::frame_reader reader_;
  std::optional<typename base::transform_callback> input_cb_;  // the write being cut
  bool cutting_ = false;                                       // cut() is on the stack
};

/// A frame_encoder for items of T (S defaults to bytes_serializer, for std::string or buffer).
template <class T, class S = bytes_serializer>
requires frame_serializer<S, T>
[[nodiscard]] std::shared_ptr<frame_encoder<T, S>> make_frame_encoder(
    sluice::loop& l, S serializer = {}, frame_options fo = {}, const transform_options& o = {}) {
  return std::make_shared<frame_encoder<T, S>>(l, std::move(serializer), fo, o);
}

/// A frame_decoder for items of T (S defaults to bytes_serializer, for std::string or buffer).
template <class T, class S = bytes_serializer>
requires frame_serializer<S, T> && std::default_initializable<T>
[[nodiscard]] std::shared_ptr<frame_decoder<T, S>> make_frame_decoder(
    sluice::loop& l, S serializer = {}, frame_options fo = {}, const transform_options& o = {}) {
  return std::make_shared<frame_decoder<T, S>>(l, std::move(serializer), fo, o);
}

}  // namespace sluice
