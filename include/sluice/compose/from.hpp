// sluice/compose/from.hpp: from(loop, range), a readable<T> over any input range (Node's
// Readable.from).
//
//   auto r = sluice::from(loop, std::vector<int>{1, 2, 3});       // owns the vector
//   auto g = sluice::from(loop, numbers(1'000'000));              // a sluice::generator<int>
//
// The pull model: the range is advanced only from do_read, i.e. only when the stream wants data,
// and do_read stops at the first push() that returns false. So a generator body (or any lazy
// range) runs only on demand: the items it has produced minus the items consumers have taken
// never exceed the stream's highWaterMark (plus nothing: an item is produced and pushed in the
// same step). An exception thrown while advancing the range fails the stream with
// from_errc::range_threw, and error_message() reads "<from name>: <what()>: the range threw an
// exception"; a std::system_error keeps its own code instead.
//
// Ownership: an rvalue range is moved into the stream; an lvalue range is referred to and must
// outlive the stream. The stream lives on `loop` (any sluice::loop; for coroutines, an asio_loop:
// see sluice/compose/async.hpp).
#pragma once

#include <concepts>
#include <exception>
#include <iterator>
#include <memory>
#include <new>
#include <optional>
#include <ranges>
#include <string>
#include <system_error>
#include <type_traits>
#include <utility>

#include "sluice/core/readable.hpp"

namespace sluice {

/// Errors of from() (category "sluice.from").
enum class from_errc {
  range_threw = 1,  ///< advancing the range (resuming the generator) threw an exception
};

}  // namespace sluice

template <>
struct std::is_error_code_enum<sluice::from_errc> : std::true_type {};

namespace sluice {

/// The category of from_errc codes.
[[nodiscard]] inline const std::error_category& from_category() noexcept {
  struct category final : std::error_category {
    [[nodiscard]] const char* name() const noexcept override { return "sluice.from"; }
    [[nodiscard]] std::string message(int c) const override {
      return c == static_cast<int>(from_errc::range_threw) ? "the range threw an exception"
                                                           : "unknown from() error";
    }
  };
  static const category c;
  return c;
}

[[nodiscard]] inline std::error_code make_error_code(from_errc e) noexcept {
  return {static_cast<int>(e), from_category()};
}

/// Options of from().
struct from_options {
  /// The stream's highWaterMark (default: the process-wide default, 16 items / 64 KiB).
  std::optional<std::size_t> high_water_mark{};
  bool auto_destroy = true;
  bool emit_close = true;
  /// Names the stream in error messages; default "from".
  std::string name = "from";
};

namespace detail {

// Holds the range: by value for rvalues, by reference for lvalues.
template <class R>
using from_storage = std::conditional_t<std::is_lvalue_reference_v<R>, R, std::remove_cvref_t<R>>;

template <class R, chunk T>
class range_readable final : public readable<T> {
 public:
  template <class Arg>
  range_readable(loop& l, Arg&& range, const from_options& o)
      : readable<T>(l, {o.high_water_mark, o.auto_destroy, o.emit_close, o.name}),
        range_(std::forward<Arg>(range)) {}

 protected:
  void do_read(std::size_t) override {
    try {
      // The iterator rests on the last item pushed: advance it only for the next one.
      if (!it_) {
        it_.emplace(std::ranges::begin(range_));
      } else {
        ++*it_;
      }
      while (*it_ != std::ranges::end(range_)) {
        if (!this->push(take())) return;
        ++*it_;
      }
    } catch (const std::system_error& e) {
      this->fail(e.code(), this->name() + ": " + e.what());
      return;
    } catch (const std::bad_alloc&) {
      this->fail(std::make_error_code(std::errc::not_enough_memory), this->name());
      return;
    } catch (const std::exception& e) {
      this->fail(make_error_code(from_errc::range_threw), this->name() + ": " + e.what());
      return;
    } catch (...) {
      this->fail(make_error_code(from_errc::range_threw), this->name());
      return;
    }
    this->push_eof();
  }

 private:
  // An owned range gives its items away; a referred-to one is copied from.
  T take() {
    if constexpr (std::is_lvalue_reference_v<R>)
      return T(**it_);
    else
      return T(std::ranges::iter_move(*it_));
  }

  from_storage<R> range_;
  std::optional<std::ranges::iterator_t<std::remove_reference_t<from_storage<R>>>> it_;
};

}  // namespace detail

/// A readable<range_value_t<R>> that yields the items of `range`, pulled one at a time when the
/// stream wants data (see the header comment). Works with containers, views and generators
/// (sluice::generator<T> or any coroutine generator that is an input range).
template <std::ranges::input_range R>
requires chunk<std::ranges::range_value_t<R>>
[[nodiscard]] std::shared_ptr<readable<std::ranges::range_value_t<R>>> from(
    loop& l, R&& range, const from_options& opts = {}) {
  using T = std::ranges::range_value_t<R>;
  return std::make_shared<detail::range_readable<R, T>>(l, std::forward<R>(range), opts);
}

}  // namespace sluice
