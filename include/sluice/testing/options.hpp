// sluice/testing/options.hpp: what the conformance kit checks, and how.
//
// The kit works on the public surface of a stream, nothing else: what a user of the stream can
// call and listen to. `checkable_writable` and `checkable_readable` name that surface; every
// sluice stream (writable<T>, readable<T>, transform<In, Out>, and whatever derives from them)
// has it, and so may a handle class of your own that forwards it. The item types come from
// input_t / output_t.
//
// The option structs (one per kind of stream) say which loop to run on, how long to wait, which
// sample items to write, which rules to skip and how to make the stream fail on its own. A
// factory, called once per scenario, makes a fresh stream on the loop it is given.
#pragma once

#include <chrono>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <system_error>
#include <type_traits>
#include <utility>
#include <vector>

#include "sluice/core/buffer.hpp"
#include "sluice/core/chunk.hpp"
#include "sluice/core/loop.hpp"
#include "sluice/core/readable.hpp"
#include "sluice/core/writable.hpp"
#include "sluice/testing/detail/driver.hpp"
#include "sluice/testing/report.hpp"

namespace sluice::testing {

namespace detail {
template <class T>
T input_of(const writable<T>*);
template <class T>
T output_of(const readable<T>*);
template <class S>
struct input_type_of {};
template <class S>
requires requires { typename S::input_type; }
struct input_type_of<S> {
  using type = typename S::input_type;
};
template <class S>
requires(
    !requires { typename S::input_type; } &&
    requires { input_of(std::declval<S*>()); }) struct input_type_of<S> {
  using type = decltype(input_of(std::declval<S*>()));
};
template <class S>
struct output_type_of {};
template <class S>
requires requires { typename S::output_type; }
struct output_type_of<S> {
  using type = typename S::output_type;
};
template <class S>
requires(
    !requires { typename S::output_type; } &&
    requires { output_of(std::declval<S*>()); }) struct output_type_of<S> {
  using type = decltype(output_of(std::declval<S*>()));
};
}  // namespace detail

/// What a stream's writable side takes: T for a writable<T> (or anything derived from it), or
/// the type's own `input_type`.
template <class S>
using input_t = typename detail::input_type_of<S>::type;
/// What a stream's readable side gives: T for a readable<T>, or the type's own `output_type`.
template <class S>
using output_t = typename detail::output_type_of<S>::type;

/// The events and calls every stream has (sluice's `stream`).
template <class S>
concept checkable_stream = requires(S& s, std::function<void()> f,
                                    std::function<void(std::error_code)> fe) {
  s.destroy(std::error_code{});
  s.on_close(f);
  s.on_error(fe);
  { s.auto_destroy() } -> std::convertible_to<bool>;
  { s.emits_close() } -> std::convertible_to<bool>;
};

/// The surface check_writable uses (sluice's writable<T>).
template <class S>
concept checkable_writable = checkable_stream<S> &&
    requires(S& s, input_t<S> x, callback cb, std::function<void()> f) {
  { s.write(std::move(x), cb) } -> std::convertible_to<bool>;
  s.end(cb);
  s.on_drain(f);
  s.on_prefinish(f);
  s.on_finish(f);
  { s.writable_length() } -> std::convertible_to<std::size_t>;
  { s.writable_high_water_mark() } -> std::convertible_to<std::size_t>;
};

/// The surface check_readable uses (sluice's readable<T>).
template <class S>
concept checkable_readable = checkable_stream<S> &&
    requires(S& s, std::function<void(output_t<S>&&)> fd, std::function<void()> f) {
  s.on_data(fd);
  s.on_end(f);
  s.pause();
  s.resume();
  { s.readable_length() } -> std::convertible_to<std::size_t>;
  { s.readable_high_water_mark() } -> std::convertible_to<std::size_t>;
  { s.eof_pushed() } -> std::convertible_to<bool>;
};

/// Both sides (sluice's transform<In, Out>).
template <class S>
concept checkable_transform = checkable_writable<S> && checkable_readable<S>;

/// A factory: called with the scenario's loop, returns a fresh stream (shared_ptr, as sluice
/// streams are always owned).
template <class F>
using stream_of = typename std::invoke_result_t<F&, sluice::loop&>::element_type;

/// Sample items the kit writes when the options give none: 1024 pseudo-random bytes per buffer
/// (so that a compressor's output is as large as its input), "item 42" strings, numbers. Other
/// item types need options.item.
template <class T>
[[nodiscard]] std::function<T(std::size_t)> default_items() {
  if constexpr (std::is_same_v<T, buffer>) {
    return [](std::size_t i) {
      std::string s(1024, '\0');
      std::uint64_t x = 0x9e3779b97f4a7c15ULL * (i + 1);
      for (char& c : s) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        c = static_cast<char>(x);
      }
      return buffer::copy_of(s);
    };
  } else if constexpr (std::is_same_v<T, std::string>) {
    return [](std::size_t i) { return "item " + std::to_string(i); };
  } else if constexpr (std::is_arithmetic_v<T>) {
    return [](std::size_t i) { return static_cast<T>(i); };
  } else {
    return {};
  }
}

/// Options of check_writable. Every field has a default; set what your stream needs.
template <class S>
struct writable_check_options {
  /// The i-th sample item (default: default_items<input_t<S>>()).
  std::function<input_t<S>(std::size_t)> item{};
  /// Items per scenario; 0: enough to fill the highWaterMark twice over (at most 100,000).
  std::size_t items = 0;
  /// The loop each scenario runs on (and the factory gets).
  loop_kind loop = loop_kind::manual;
  /// Real time one wait may take before the rule fails.
  std::chrono::milliseconds timeout{5000};
  /// manual_loop: virtual time one wait may use to fire timers.
  loop::duration virtual_limit = std::chrono::minutes(1);
  /// Rules not to check (reported as skipped), e.g. destroy_writing for a sink that cannot be
  /// destroyed in the middle of a write.
  std::vector<rule> skip{};
  /// For error_once: makes the stream (fresh, set up, listened to) fail on its own, e.g. by
  /// writing an item it rejects. Without it (and without failing_factory), error_once gives
  /// the stream an error through destroy(ec).
  std::function<void(S&)> provoke_error{};
  /// For error_once: makes a stream that fails on its own once used (a file in a directory
  /// that does not exist); the kit writes sample items and ends it.
  std::function<std::shared_ptr<S>(sluice::loop&)> failing_factory{};
  /// Names the stream in the report's first line.
  std::string name{};
};

/// Options of check_readable.
template <class S>
struct readable_check_options {
  loop_kind loop = loop_kind::manual;
  std::chrono::milliseconds timeout{5000};
  loop::duration virtual_limit = std::chrono::minutes(1);
  std::vector<rule> skip{};
  /// For error_once: makes the stream fail on its own (see writable_check_options).
  std::function<void(S&)> provoke_error{};
  /// For error_once: a stream that fails once read (a file that does not exist).
  std::function<std::shared_ptr<S>(sluice::loop&)> failing_factory{};
  /// The source ends by itself. false: an endless source; the kit reads up to `read_limit` and
  /// skips the rules about the end.
  bool ends = true;
  /// The most the kit reads in one scenario (highWaterMark units: bytes or items); 0: 16 MiB
  /// of a byte stream, 100,000 items of an object stream.
  std::size_t read_limit = 0;
  /// Pushes one do_read (or one input, for a transform) may make past push()'s false: the
  /// backpressure rules allow the highWaterMark plus `burst` of the largest chunk seen.
  std::size_t burst = 1;
  std::string name{};
};

/// Options of check_transform.
template <class S>
struct transform_check_options {
  std::function<input_t<S>(std::size_t)> item{};
  std::size_t items = 0;
  loop_kind loop = loop_kind::manual;
  std::chrono::milliseconds timeout{5000};
  loop::duration virtual_limit = std::chrono::minutes(1);
  std::vector<rule> skip{};
  std::function<void(S&)> provoke_error{};
  std::function<std::shared_ptr<S>(sluice::loop&)> failing_factory{};
  std::size_t burst = 1;
  /// For transform_flush: given every input and every output of a whole run, returns an empty
  /// string if the output is right, else what is wrong (a gzip check would gunzip the output
  /// and compare it with the input).
  std::function<std::string(const std::vector<input_t<S>>&, const std::vector<output_t<S>>&)>
      check_output{};
  std::string name{};
};

}  // namespace sluice::testing
