// sluice/codec/detail/codec_transform.hpp (internal): the transform every codec is built on.
//
// codec_transform owns the output buffers, counts the input consumed and fails with the stage
// and the input offset; compressor_transform adds the compress-in-slices and finish-at-flush
// loop of the compressors. The codec sources (src/codec/compress_*.cpp) derive from them. Not
// public API.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <system_error>
#include <utility>

#include "sluice/codec/compression.hpp"
#include "sluice/core/buffer.hpp"
#include "sluice/core/loop.hpp"
#include "sluice/core/transform.hpp"

namespace sluice::detail {

/// The most input handed to a codec library in one call: zlib and ISA-L count in 32 bits.
inline constexpr std::size_t max_slice = std::size_t{1} << 30;

/// The part every codec transform shares: output buffers of a fixed size, pushed when full, the
/// count of input bytes consumed, and failing with the stage and input offset. Not public API.
class codec_transform : public transform<buffer, buffer> {
 protected:
  codec_transform(loop& l, const transform_options& o, std::size_t chunk_size, flush_mode flush,
                  const char* stage)
      : transform<buffer, buffer>(l, o), chunk_size_(chunk_size), flush_(flush), stage_(stage) {}

  /// Room for the codec's next output, at least one byte, in the current output buffer.
  [[nodiscard]] std::span<std::byte> out_space() {
    if (out_.capacity() == 0) out_ = buffer_builder(chunk_size_);
    return out_.free_space();
  }
  /// Records `n` bytes written into out_space(); pushes the buffer once it is full. After a push
  /// that returned false (the readable side is full), output_full() is true.
  void commit_out(std::size_t n) {
    out_.commit(n);
    if (out_.free_space().empty() && !push(std::move(out_).freeze())) blocked_ = true;
  }
  /// True once a full output buffer was pushed into a full readable side during this
  /// decode_some() call: a decoder stops there (see decode_chunk).
  [[nodiscard]] bool output_full() const noexcept { return blocked_; }
  /// Pushes what the current output buffer holds, if anything (at end, or when flushing).
  void push_partial() {
    if (!out_.empty()) push(std::move(out_).freeze());
  }
  /// After a write: pushes the partial buffer too when the flush mode asks for it.
  void end_of_write() {
    if (flush_ != flush_mode::none) push_partial();
  }

  /// Fails the stream with `ec`, naming the stage and the input byte offset `at`, then completes
  /// `cb` with `ec` (a transform_callback or a callback).
  template <class Callback>
  void fail_at(std::error_code ec, std::uint64_t at, const Callback& cb) {
    fail(ec, std::string(stage_) + " at input byte " + std::to_string(at));
    cb(ec);
  }

  [[nodiscard]] flush_mode flush_setting() const noexcept { return flush_; }
  [[nodiscard]] const char* stage() const noexcept { return stage_; }

  // ---- decoders: output in steps, so that a small input cannot fill memory -----------------
  //
  // A decompressor's output for one input chunk can be a thousand times its size (zlib) or far
  // more (zstd, brotli): a "decompression bomb". Decoders hand each chunk to decode_chunk(),
  // which calls decode_some() until the chunk is used up, and stops whenever a push found the
  // readable side full (output_full()). It goes on when the consumer wants more
  // (do_output_wanted), so what one chunk buffers stays within the highWaterMark plus one output
  // chunk, whatever the compression ratio. The write is acknowledged once the chunk is decoded.

  /// Decodes `chunk` with decode_some(), in steps; completes `cb` once it is all decoded, or
  /// fails the stream with decode_error_ at the input offset where decode_some() stopped.
  void decode_chunk(buffer&& chunk, transform_callback cb) {
    input_ = std::move(chunk);
    input_pos_ = 0;
    input_cb_.emplace(cb);
    resume_ = false;
    continue_decoding();
  }

  /// Decodes from `n` bytes at `p` (n is 0 when resuming after output_full(): then it only
  /// writes out what the codec still holds). Returns how many bytes it used: all of them,
  /// fewer when it stopped because output_full(), or up to the error it set in decode_error_.
  virtual std::size_t decode_some(const std::byte* p, std::size_t n) {
    (void)p;
    return n;
  }

  void do_output_wanted() override {
    if (input_cb_ && !decoding_) continue_decoding();
  }

  /// Input bytes consumed before the chunk being processed.
  std::uint64_t consumed_ = 0;
  /// Set by decode_some() on failure.
  std::error_code decode_error_;

 private:
  void continue_decoding() {
    decoding_ = true;
    bool more = resume_ || input_pos_ < input_.size();
    while (more) {
      blocked_ = false;
      const std::size_t take = std::min(input_.size() - input_pos_, max_slice);
      const std::size_t used = decode_some(input_.data() + input_pos_, take);
      if (decode_error_) {
        decoding_ = false;
        const auto cb = *std::exchange(input_cb_, std::nullopt);
        input_ = {};
        fail_at(decode_error_, consumed_ + input_pos_ + used, cb);
        return;
      }
      input_pos_ += used;
      resume_ = blocked_;
      if (blocked_ || this->destroyed()) {  // go on in do_output_wanted
        decoding_ = false;
        return;
      }
      more = input_pos_ < input_.size();
    }
    decoding_ = false;
    consumed_ += input_.size();
    input_ = {};
    end_of_write();
    const auto cb = *std::exchange(input_cb_, std::nullopt);
    cb();
  }

  buffer input_;  // the chunk being decoded
  std::size_t input_pos_ = 0;
  std::optional<transform_callback> input_cb_;
  bool resume_ = false;    // the last decode_some() stopped on output_full()
  bool decoding_ = false;  // continue_decoding() is on the stack
  bool blocked_ = false;
  buffer_builder out_;
  std::size_t chunk_size_;
  flush_mode flush_;
  const char* stage_;
};

/// The part every compressor shares: feed each written chunk to the library in slices (so a
/// length always fits zlib's and ISA-L's 32-bit counters), finish the stream in do_flush, and
/// report a library failure with the input offset. A compressor implements compress().
class compressor_transform : public codec_transform {
 protected:
  using codec_transform::codec_transform;

  /// Compresses `n` bytes at `in`: with `finish`, also ends the compressed stream and writes out
  /// everything; otherwise honours flush_setting(). Returns false if the library failed.
  virtual bool compress(const std::byte* in, std::size_t n, bool finish) = 0;

  void do_transform(buffer&& chunk, transform_callback cb) final {
    std::size_t pos = 0;
    do {  // at least once: an empty write still flushes when the flush mode asks for it
      const std::size_t take = std::min(chunk.size() - pos, max_slice);
      if (!compress(chunk.data() + pos, take, false)) {
        fail_at(make_error_code(compress_errc::library_error), consumed_ + pos, cb);
        return;
      }
      pos += take;
    } while (pos < chunk.size());
    consumed_ += chunk.size();
    end_of_write();
    cb();
  }

  void do_flush(callback cb) final {
    if (!compress(nullptr, 0, true)) {
      fail_at(make_error_code(compress_errc::library_error), consumed_, cb);
      return;
    }
    push_partial();
    cb({});
  }
};

/// How many of the `n` bytes at `p` are zero before the first non-zero one (gunzip's padding).
[[nodiscard]] inline std::size_t zero_prefix(const unsigned char* p, std::size_t n) noexcept {
  std::size_t i = 0;
  while (i < n && p[i] == 0) ++i;
  return i;
}

/// Throws std::system_error(errc::out_of_range) naming `what` unless lo <= v <= hi.
void check_range(const char* stage, const char* what, long long v, long long lo, long long hi);
/// Throws std::system_error(errc::invalid_argument) with "<stage>: <why>".
[[noreturn]] void invalid_option(const char* stage, const std::string& why);
/// Checks what every codec has: chunk_size and the flush mode.
void check_common(const char* stage, std::size_t chunk_size, flush_mode flush);

}  // namespace sluice::detail
