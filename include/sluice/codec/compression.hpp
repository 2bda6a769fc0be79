// sluice/compress.hpp: compression codecs as byte transforms (Node's zlib module, and zstd).
//
//   make_gzip / make_gunzip            gzip (RFC 1952); gzip on zlib or on ISA-L's igzip
//   make_deflate / make_inflate        zlib format (RFC 1950)
//   make_deflate_raw / make_inflate_raw  raw deflate (RFC 1951), no header or checksum
//   make_zstd_compress / make_zstd_decompress      Zstandard frames (RFC 8878)
//   make_brotli_compress / make_brotli_decompress  Brotli (RFC 7932)
//
// Every factory returns a transform<buffer, buffer> (transform.hpp) that runs its codec on the
// loop thread, one written chunk at a time. Output comes in buffers of `chunk_size` bytes, each
// pushed as soon as it is full; the last, shorter one at end() (or after every write when a flush
// mode asks for it). The options mirror Node's zlib options where they apply.
//
// Invalid options are programming errors caught at the call site: the factories throw
// std::system_error with errc::out_of_range (a number outside its range: level 12, window_bits 7)
// or errc::invalid_argument (a combination the codec cannot do, an unknown enum value).
//
// Bad compressed input fails the stream (stream::fail) with a compress_errc code and a context
// naming the stage and the input offset, so error_message() reads e.g.
// "gunzip at input byte 1234: invalid compressed data". docs/compression.md has the details.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <system_error>
#include <type_traits>
#include <utility>

#include "sluice/buffer.hpp"
#include "sluice/loop.hpp"
#include "sluice/transform.hpp"

namespace sluice {

// ---- Errors
// --------------------------------------------------------------------------------------

/// What is wrong with compressed input. Zero is unused (it means success). Out of memory is
/// reported as std::errc::not_enough_memory, not with these codes.
enum class compress_errc {
  corrupt_data = 1,   ///< "invalid compressed data": a header, block or symbol that cannot be
  truncated,          ///< "unexpected end of compressed data": input ended inside a member/frame
  trailing_garbage,   ///< "trailing data after the compressed data": bytes after the last
                      ///<   member/frame that do not start a new one
  checksum_mismatch,  ///< "compressed data checksum mismatch": CRC-32, Adler-32, xxhash or size
  need_dictionary,    ///< "compressed data needs a dictionary": a preset dictionary is required
  library_error,      ///< "compression library error": an unexpected result from the library
};

/// The category of compress_errc codes; its name() is "sluice.compress".
[[nodiscard]] const std::error_category& compress_category() noexcept;

/// Lets `std::error_code ec = compress_errc::truncated;` and comparisons with compress_errc work.
[[nodiscard]] std::error_code make_error_code(compress_errc e) noexcept;

// ---- Options
// -------------------------------------------------------------------------------------

/// When a codec flushes its output, besides at end(): Node's `flush` option (Z_NO_FLUSH,
/// Z_SYNC_FLUSH, Z_FULL_FLUSH), applied after every written chunk.
enum class flush_mode {
  none,  ///< only full chunk_size buffers are pushed until end(): best ratio and throughput
  sync,  ///< after each write, all output so far is pushed (compressors: byte-aligned; gzip adds
         ///< an empty stored block, zstd ends a block, brotli flushes a meta-block)
  full,  ///< as sync, and a compressor also forgets its history (deflate's Z_FULL_FLUSH; zstd
         ///< and brotli treat it as sync)
};

/// Options of the zlib-based codecs (gzip, deflate, raw deflate and their inverses). The defaults
/// are Node's.
struct zlib_options {
  /// Compression level: -1 (the library default, 6) or 0 (store) to 9 (best). Ignored when
  /// decompressing, but still checked.
  int level = -1;
  /// log2 of the window: 8..15 when compressing (8 is taken as 9, as zlib does); 8..15, or 0 for
  /// "what the header says" (not with raw inflate), when decompressing.
  int window_bits = 15;
  /// Memory for the compressor's internal state: 1..9.
  int mem_level = 8;
  /// zlib strategy: 0 default, 1 filtered, 2 Huffman only, 3 RLE, 4 fixed.
  int strategy = 0;
  /// Size of the output buffers: 64 bytes .. 1 GiB. Larger is faster for big streams.
  std::size_t chunk_size = 16 * 1024;
  /// Flush after each written chunk (see flush_mode).
  flush_mode flush = flush_mode::none;
  std::optional<std::size_t> readable_high_water_mark{};
  std::optional<std::size_t> writable_high_water_mark{};
  /// The stream's name (stream::name()); defaults to the stage, e.g. "gzip".
  std::string name{};
};

/// Which library make_gzip compresses with. Both write standard gzip that any gunzip reads.
enum class gzip_engine {
  zlib,  ///< zlib: levels 0..9, every strategy and mem_level
  isal,  ///< Intel ISA-L (igzip): at its default level about 14x as fast as zlib level 6, for a
         ///< somewhat larger output (docs/compression.md has figures). Levels map to ISA-L's
         ///< 0..3: -1 → 1 (igzip's default), 0..1 → 0, 2..5 → 1, 6..8 → 2, 9 → 3. strategy
         ///< must be 0; mem_level is checked and ignored.
};

/// The most threads a gzip stream may ask for.
inline constexpr unsigned max_gzip_threads = 256;

struct gzip_options : zlib_options {
  gzip_engine engine = gzip_engine::zlib;
  /// How many blocks of the input are compressed at once, each on a thread of a process-wide
  /// pool (one thread per core): 1 compresses on the loop thread, one chunk at a time, as every
  /// other codec does; 0 means one per core (std::thread::hardware_concurrency()); at most
  /// max_gzip_threads. With 2 or more the input is cut into 128 KiB blocks, each compressed with
  /// the 32 KiB before it as its dictionary, and the output is still one standard gzip member
  /// (as pigz writes it): the same bytes for any thread count, within a fraction of a percent
  /// of the one-thread size. Such a stream holds up to threads + 1 blocks (about 0.6 MiB each
  /// with zlib, with ISA-L) and holds a write back while they are all taken. A flush mode other
  /// than none compresses on the loop thread whatever this says.
  unsigned threads = 1;
};

/// Options of the Zstandard codecs.
struct zstd_options {
  /// Compression level: ZSTD_minCLevel() (negative: faster) .. 22; 0 means the library default
  /// (3). Ignored when decompressing.
  int level = 3;
  /// log2 of the compressor's window (10..31), or 0 for what the level picks. When
  /// decompressing: the largest window accepted (10..31), 0 for zstd's default limit (27).
  int window_log = 0;
  /// Append a checksum of the content to each frame (the zstd CLI does by default).
  bool checksum = true;
  std::size_t chunk_size = 16 * 1024;
  flush_mode flush = flush_mode::none;
  std::optional<std::size_t> readable_high_water_mark{};
  std::optional<std::size_t> writable_high_water_mark{};
  std::string name{};
};

/// Brotli's content hint (BROTLI_PARAM_MODE).
enum class brotli_mode { generic, text, font };

/// Options of the Brotli codecs; the defaults are Node's (and the brotli CLI's quality).
struct brotli_options {
  /// 0 (fastest) .. 11 (best, slow). Ignored when decompressing.
  int quality = 11;
  /// log2 of the window, 10..24. Ignored when decompressing.
  int window = 22;
  brotli_mode mode = brotli_mode::generic;
  /// Expected input size, 0 if unknown (BROTLI_PARAM_SIZE_HINT).
  std::size_t size_hint = 0;
  std::size_t chunk_size = 16 * 1024;
  flush_mode flush = flush_mode::none;
  std::optional<std::size_t> readable_high_water_mark{};
  std::optional<std::size_t> writable_high_water_mark{};
  std::string name{};
};

// ---- Factories
// ----------------------------------------------------------------------------------- Each throws
// std::system_error (errc::out_of_range or errc::invalid_argument) for bad options.

/// gzip: one member with a minimal header (no name, no time), the CRC-32 and size trailer.
[[nodiscard]] std::shared_ptr<transform<buffer, buffer>> make_gzip(loop& l, gzip_options o = {});
/// gunzip: reads any number of concatenated members, as gzip -d does. Zero bytes after a member
/// are padding and ignored (as Node and gzip -d do); other bytes that do not start a member fail
/// the stream with trailing_garbage. Empty input fails with truncated, as with gzip -d.
[[nodiscard]] std::shared_ptr<transform<buffer, buffer>> make_gunzip(loop& l, zlib_options o = {});
/// gunzip on the chosen engine; the same behaviour (members, errors, offsets) on both.
/// gzip_engine::isal inflates several times faster than zlib; it takes every option but level,
/// mem_level and strategy, which are checked and ignored.
[[nodiscard]] std::shared_ptr<transform<buffer, buffer>> make_gunzip(loop& l, zlib_options o,
                                                                     gzip_engine engine);
/// zlib format compression.
[[nodiscard]] std::shared_ptr<transform<buffer, buffer>> make_deflate(loop& l, zlib_options o = {});
/// zlib format decompression: exactly one stream; anything after it is trailing_garbage.
[[nodiscard]] std::shared_ptr<transform<buffer, buffer>> make_inflate(loop& l, zlib_options o = {});
/// Raw deflate compression (no header, no checksum).
[[nodiscard]] std::shared_ptr<transform<buffer, buffer>> make_deflate_raw(loop& l,
                                                                          zlib_options o = {});
/// Raw deflate decompression: ends at the final block; anything after it is trailing_garbage.
[[nodiscard]] std::shared_ptr<transform<buffer, buffer>> make_inflate_raw(loop& l,
                                                                          zlib_options o = {});

/// Zstandard compression: one frame, with the content checksum unless disabled.
[[nodiscard]] std::shared_ptr<transform<buffer, buffer>> make_zstd_compress(loop& l,
                                                                            zstd_options o = {});
/// Zstandard decompression: any number of frames (and skippable frames), like zstd -d.
[[nodiscard]] std::shared_ptr<transform<buffer, buffer>> make_zstd_decompress(loop& l,
                                                                              zstd_options o = {});

/// Brotli compression.
[[nodiscard]] std::shared_ptr<transform<buffer, buffer>> make_brotli_compress(
    loop& l, brotli_options o = {});
/// Brotli decompression: exactly one stream; anything after it is trailing_garbage.
[[nodiscard]] std::shared_ptr<transform<buffer, buffer>> make_brotli_decompress(
    loop& l, brotli_options o = {});

// ---- Internals shared by the codecs
// --------------------------------------------------------------

namespace detail {

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

/// make_gzip with gzip_engine::isal (compress_isal.cpp).
[[nodiscard]] std::shared_ptr<transform<buffer, buffer>> make_isal_gzip(loop& l,
                                                                        const gzip_options& o);
/// make_gunzip with gzip_engine::isal, options already checked (compress_isal.cpp).
[[nodiscard]] std::shared_ptr<transform<buffer, buffer>> make_isal_gunzip(loop& l,
                                                                          const zlib_options& o);

}  // namespace detail

}  // namespace sluice

template <>
struct std::is_error_code_enum<sluice::compress_errc> : std::true_type {};
