// sluice/codec/compression.hpp: what every compression codec shares: the errors of bad
// compressed input, and when a codec flushes.
//
// The codecs themselves are byte transforms (Node's zlib module, and zstd), one header per family:
//
//   sluice/codec/gzip.hpp    make_gzip / make_gunzip (zlib or ISA-L, parallel gzip), make_deflate /
//                            make_inflate (zlib format), make_deflate_raw / make_inflate_raw
//   sluice/codec/zstd.hpp    make_zstd_compress / make_zstd_decompress (Zstandard frames)
//   sluice/codec/brotli.hpp  make_brotli_compress / make_brotli_decompress (Brotli)
//
// Every factory returns a transform<buffer, buffer> (core/transform.hpp) that runs its codec on
// the loop thread, one written chunk at a time. Output comes in buffers of `chunk_size` bytes,
// each pushed as soon as it is full; the last, shorter one at end() (or after every write when a
// flush mode asks for it). The options mirror Node's zlib options where they apply.
//
// Invalid options are programming errors caught at the call site: the factories throw
// std::system_error with errc::out_of_range (a number outside its range: level 12, window_bits 7)
// or errc::invalid_argument (a combination the codec cannot do, an unknown enum value).
//
// Bad compressed input fails the stream (stream::fail) with a compress_errc code and a context
// naming the stage and the input offset, so error_message() reads e.g.
// "gunzip at input byte 1234: invalid compressed data". The gunzip engines (zlib, ISA-L) report
// the same kind for the same damage. docs/compression.md has the details.
#pragma once

#include <system_error>
#include <type_traits>

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
  wrong_format,       ///< "not in the codec's format": the first member/frame does not start
                      ///<   with its magic number (gzip 1f 8b, zstd 28 b5 2f fd); brotli has
                      ///<   none, so its decoder reports corrupt_data instead
  window_too_large,   ///< "compressed data needs a larger window than allowed": a zstd frame
                      ///<   whose window exceeds zstd_options::window_log (default 2^27)
};

/// The category of compress_errc codes; its name() is "sluice.compress".
[[nodiscard]] const std::error_category& compress_category() noexcept;

/// Lets `std::error_code ec = compress_errc::truncated;` and comparisons with compress_errc work.
[[nodiscard]] std::error_code make_error_code(compress_errc e) noexcept;

// ---- Flushing
// ------------------------------------------------------------------------------------

/// When a codec flushes its output, besides at end(): Node's `flush` option (Z_NO_FLUSH,
/// Z_SYNC_FLUSH, Z_FULL_FLUSH), applied after every written chunk.
enum class flush_mode {
  none,  ///< only full chunk_size buffers are pushed until end(): best ratio and throughput
  sync,  ///< after each write, all output so far is pushed (compressors: byte-aligned; gzip adds
         ///< an empty stored block, zstd ends a block, brotli flushes a meta-block)
  full,  ///< as sync, and a compressor also forgets its history (deflate's Z_FULL_FLUSH; zstd
         ///< and brotli treat it as sync)
};

}  // namespace sluice

template <>
struct std::is_error_code_enum<sluice::compress_errc> : std::true_type {};
