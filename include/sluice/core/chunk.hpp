// sluice/core/chunk.hpp: what a chunk is and how big it is.
//
// A stream of `buffer` is a byte stream: its highWaterMark counts bytes. A stream of any other
// movable type is an object stream: its highWaterMark counts items. `chunk_traits<T>` is the one
// customization point that decides this; specialize it to make your own type count by size.
// Also here: the default highWaterMarks (64 KiB for bytes, 16 for objects), settable process-wide
// like Node's stream.setDefaultHighWaterMark().
#pragma once

#include <concepts>
#include <cstddef>
#include <optional>

#include "sluice/core/buffer.hpp"

namespace sluice {

/// A type a stream can carry: anything movable.
template <class T>
concept chunk = std::movable<T> && std::destructible<T>;

/// How a chunk is measured. `size` is in highWaterMark units; `bytes` feeds the byte counters.
template <class T>
struct chunk_traits {
  static constexpr bool byte_mode = false;
  static constexpr std::size_t size(const T&) noexcept { return 1; }
  static constexpr std::size_t bytes(const T&) noexcept { return 0; }
  /// Every chunk has size 1 (so a count of chunks is their size); traits that measure chunks
  /// leave this out.
  static constexpr bool unit_size = true;
};

template <>
struct chunk_traits<buffer> {
  static constexpr bool byte_mode = true;
  static std::size_t size(const buffer& b) noexcept { return b.size(); }
  static std::size_t bytes(const buffer& b) noexcept { return b.size(); }
};

/// True when every chunk of type `T` has size 1 (the default traits of object mode).
template <class T>
inline constexpr bool is_unit_size = requires {
  requires chunk_traits<T>::unit_size;
};

/// True when `T` streams count bytes (the traits say so), false for object mode.
template <class T>
inline constexpr bool is_byte_mode = chunk_traits<T>::byte_mode;

/// Which family of streams a default applies to.
enum class stream_mode { bytes, objects };

/// The largest highWaterMark accepted (1 GiB, Node's own cap when read(n) grows it).
inline constexpr std::size_t max_high_water_mark = std::size_t{1} << 30;

/// The process-wide default highWaterMark for `mode` (initially 65536 bytes / 16 objects).
[[nodiscard]] std::size_t default_high_water_mark(stream_mode mode) noexcept;

/// Sets the process-wide default for streams created afterwards. Throws std::system_error with
/// errc::invalid_argument if `value` exceeds max_high_water_mark. Not thread-safe: call it at
/// start-up, before streams are created on other threads.
void set_default_high_water_mark(stream_mode mode, std::size_t value);

namespace detail {
/// Resolves an optional highWaterMark option against the default; throws invalid_argument when
/// out of range. `what` names the option in the message.
std::size_t resolve_high_water_mark(std::optional<std::size_t> requested, stream_mode mode,
                                    const char* what);
}  // namespace detail

template <class T>
constexpr stream_mode mode_of() noexcept {
  return is_byte_mode<T> ? stream_mode::bytes : stream_mode::objects;
}

}  // namespace sluice
