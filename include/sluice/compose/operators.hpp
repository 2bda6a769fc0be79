// sluice/compose/operators.hpp: Node's readable operators (map, filter, flatMap, take, drop,
// forEach, reduce, toArray, some, every, find) plus batch, throttle and tee, for readable<T>.
//
// Stream operators take a source readable and return a new readable that pulls from it in paused
// mode, only as fast as the result is consumed: backpressure flows through them as through pipe().
//
//   auto evens = sluice::filter(src, [](const int& x) { return x % 2 == 0; });
//   auto squares = sluice::map(evens, [](int x) { return long{x} * x; });
//   auto same = src | sluice::ops::filter(is_even) | sluice::ops::map(square);
//   auto stage = sluice::ops::map(square).as_transform<int>(loop);  // a transform<int, long>
//
// Consumers read a source to its end (or until the answer is known) and complete once with
// (std::error_code, result), through a callback or any Asio completion token:
//
//   sluice::to_vector(squares, [](std::error_code ec, std::vector<long> v) { ... });
//   auto [ec, v] = co_await sluice::to_vector(squares, as_tuple(use_awaitable));
//
// Shared rules (docs/operators.md has the details and the backpressure of each operator):
// - The result lives on the source's loop. Destroying it destroys the source (without an error);
//   a source error fails the result with the same code (its context names the source); a source
//   closed before its end fails the result with errc::premature_close.
// - Functions run on the loop thread and must not throw; report failures through `done`.
// - Every stream, the source included, is destroyed exactly once; no event comes twice.
#pragma once

#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/dispatch.hpp>
#include <chrono>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <ranges>
#include <string>
#include <system_error>
#include <type_traits>
#include <utility>
#include <vector>

#include "sluice/compose/detail/operators_async.hpp"
#include "sluice/compose/detail/operators_consume.hpp"
#include "sluice/compose/detail/operators_core.hpp"
#include "sluice/compose/detail/operators_tee.hpp"
#include "sluice/core/duplex.hpp"
#include "sluice/core/transform.hpp"

namespace sluice {

// ---- options ------------------------------------------------------------------------------------

/// Options of the result stream of an operator.
struct operator_options {
  /// The result's highWaterMark, in items (default: the object-mode default, 16).
  std::optional<std::size_t> high_water_mark{};
  std::string name{};
};

/// Options of map / filter.
struct map_options {
  /// Asynchronous functions: how many items may be in flight at once, at least 1 (0 throws
  /// errc::out_of_range, as Node rejects it). Ordered, this also bounds the reorder buffer: at
  /// most `concurrency` items are started and not yet delivered. Synchronous functions ignore
  /// it (but 0 is still rejected).
  std::size_t concurrency = 1;
  /// Asynchronous functions: deliver results in input order (true, Node's behaviour) or in
  /// completion order (false).
  bool ordered = true;
  std::optional<std::size_t> high_water_mark{};
  std::string name{};
};
using filter_options = map_options;

/// Options of throttle.
struct throttle_options {
  /// Items per second, > 0.
  double rate = 1;
  /// The bucket's size: how many items may pass back to back after a pause, at least 1.
  double burst = 1;
  std::optional<std::size_t> high_water_mark{};
  std::string name{};
};

/// Options of tee.
struct tee_options {
  /// Unset: the slowest branch sets the pace. Set: the fastest branch sets the pace, and a branch
  /// that has read more than max_lag items fewer than the fastest is destroyed with
  /// errc::aborted (context "tee: branch <i> fell more than <max_lag> items behind the
  /// fastest") while the others continue.
  std::optional<std::uint64_t> max_lag{};
  /// Each branch's highWaterMark, in items.
  std::optional<std::size_t> high_water_mark{};
  /// Branch i is named "<name>[i]".
  std::string name{};
};

namespace detail {

/// Rejects an operator argument outside its range, as Node does (ERR_OUT_OF_RANGE): throws
/// std::system_error(errc::out_of_range) with "<op>: <what>".
inline void check_argument(bool ok, const char* what) {
  if (!ok) throw std::system_error(make_error_code(errc::out_of_range), what);
}

inline readable_options result_options(std::optional<std::size_t> hwm, std::string name) {
  return readable_options{.high_water_mark = hwm, .name = std::move(name)};
}

// The R of a `done<R>` second parameter of a (non-generic) callable, if it has one.
template <class T>
struct done_result {};
template <class R>
struct done_result<done<R>> {
  using type = R;
};
template <class M>
struct second_param {};
template <class C, class Ret, class A, class B>
struct second_param<Ret (C::*)(A, B) const> {
  using type = std::remove_cvref_t<B>;
};
template <class C, class Ret, class A, class B>
struct second_param<Ret (C::*)(A, B)> {
  using type = std::remove_cvref_t<B>;
};
template <class F>
concept has_done_param = requires {
  typename done_result<typename second_param<decltype(&F::operator())>::type>::type;
};

template <class Out, class F>
struct async_out {
  using type = Out;
};
template <class F>
struct async_out<void, F> {
  static_assert(has_done_param<F>,
                "map: cannot deduce the result type of this asynchronous mapper: name it, "
                "map<Out>(src, f), or declare the completion parameter as sluice::done<Out>");
  using type = typename done_result<typename second_param<decltype(&F::operator())>::type>::type;
};

template <class T>
struct is_shared_readable : std::false_type {};
template <class S>
requires readable_stream<S>
struct is_shared_readable<std::shared_ptr<S>> : std::true_type {
};

// Calls an Asio handler through its associated executor (inline for plain callbacks).
template <class Handler, class... A>
void invoke_handler(Handler& h, A... args) {
  auto ex = boost::asio::get_associated_executor(h);
  boost::asio::dispatch(ex, [h = std::move(h), ... args = std::move(args)]() mutable {
    std::move(h)(std::move(args)...);
  });
}

// Wraps a (move-only) completion handler so a std::function can hold it.
template <class Handler>
auto shared_handler(Handler&& h) {
  return std::make_shared<std::decay_t<Handler>>(std::forward<Handler>(h));
}

}  // namespace detail

// ---- stream operators ---------------------------------------------------------------------------

/// Each item turned into f(item) (Node's readable.map).
///
/// Synchronous: `f(In&&) -> Out`, output type deduced. Asynchronous: `f(In&&, sluice::done<Out>)`
/// completes each item by calling the `done` once, at most `opts.concurrency` items being in
/// flight; Out is deduced from a `sluice::done<Out>` parameter or named, `map<Out>(src, f)`.
/// Results come in input order unless `opts.ordered` is false. An error passed to `done` fails
/// the result ("map: item <n>: <message>") and destroys the source. New items are taken only while
/// the result's consumer wants data.
template <class Out = void, class S, class F>
requires detail::readable_stream<S>
[[nodiscard]] auto map(std::shared_ptr<S> src, F f, map_options opts = {}) {
  using In = detail::readable_value_t<S>;
  detail::check_argument(opts.concurrency >= 1, "map: concurrency must be at least 1");
  auto ro = detail::result_options(opts.high_water_mark, std::move(opts.name));
  if constexpr (std::invocable<F&, In&&>) {
    using R = std::conditional_t<std::is_void_v<Out>, std::invoke_result_t<F&, In&&>, Out>;
    static_assert(!std::is_void_v<R>, "map: the function returns nothing");
    return std::shared_ptr<readable<R>>(
        detail::make_op<detail::map_op<In, R, F>>(detail::as_readable(src), std::move(f), ro));
  } else {
    using R = typename detail::async_out<Out, F>::type;
    return std::shared_ptr<readable<R>>(detail::make_op<detail::async_map_op<In, R, F>>(
        detail::as_readable(src), std::move(f), opts.concurrency, opts.ordered, ro));
  }
}

/// The items for which `pred` holds (Node's readable.filter). Synchronous: `pred(const T&) ->
/// bool`. Asynchronous: `pred(const T&, sluice::done<bool>)`, with `opts.concurrency` and
/// `opts.ordered` as for map (the item is kept alive until its verdict).
template <class S, class F>
requires detail::readable_stream<S>
[[nodiscard]] auto filter(std::shared_ptr<S> src, F pred, filter_options opts = {}) {
  using T = detail::readable_value_t<S>;
  detail::check_argument(opts.concurrency >= 1, "filter: concurrency must be at least 1");
  auto ro = detail::result_options(opts.high_water_mark, std::move(opts.name));
  if constexpr (std::predicate<F&, const T&>) {
    return std::shared_ptr<readable<T>>(
        detail::make_op<detail::filter_op<T, F>>(detail::as_readable(src), std::move(pred), ro));
  } else {
    static_assert(std::invocable<F&, const T&, done<bool>>,
                  "filter: the predicate takes (const T&) -> bool or (const T&, done<bool>)");
    return std::shared_ptr<readable<T>>(detail::make_op<detail::async_filter_op<T, F>>(
        detail::as_readable(src), std::move(pred), opts.concurrency, opts.ordered, ro));
  }
}

/// Every element of f(item), in order (Node's readable.flatMap). `f(In&&)` returns either a
/// range (every element is pushed at once, so a range's size adds to the buffering) or a
/// std::shared_ptr to a readable, which is read to its end, with backpressure, before the next
/// source item is taken. An inner stream's error fails the result.
template <class S, class F>
requires detail::readable_stream<S>
[[nodiscard]] auto flat_map(std::shared_ptr<S> src, F f, operator_options opts = {}) {
  using In = detail::readable_value_t<S>;
  using R = std::invoke_result_t<F&, In&&>;
  auto ro = detail::result_options(opts.high_water_mark, std::move(opts.name));
  if constexpr (detail::is_shared_readable<std::remove_cvref_t<R>>::value) {
    using Out = detail::readable_value_t<typename std::remove_cvref_t<R>::element_type>;
    return std::shared_ptr<readable<Out>>(detail::make_op<detail::flat_map_stream_op<In, Out, F>>(
        detail::as_readable(src), std::move(f), ro));
  } else {
    static_assert(std::ranges::input_range<R>,
                  "flat_map: the function returns a range or a shared_ptr to a readable");
    using Out = std::remove_cvref_t<std::ranges::range_value_t<R>>;
    return std::shared_ptr<readable<Out>>(detail::make_op<detail::flat_map_range_op<In, Out, F>>(
        detail::as_readable(src), std::move(f), ro));
  }
}

/// The first `n` items (Node's readable.take). The source is destroyed, and the result ended, as
/// soon as the n-th item has been pushed, without reading another (take(0): at once).
template <class S>
requires detail::readable_stream<S>
[[nodiscard]] auto take(std::shared_ptr<S> src, std::uint64_t n, operator_options opts = {}) {
  using T = detail::readable_value_t<S>;
  return std::shared_ptr<readable<T>>(detail::make_op<detail::take_op<T>>(
      detail::as_readable(src), n,
      detail::result_options(opts.high_water_mark, std::move(opts.name))));
}

/// Everything after the first `n` items (Node's readable.drop).
template <class S>
requires detail::readable_stream<S>
[[nodiscard]] auto drop(std::shared_ptr<S> src, std::uint64_t n, operator_options opts = {}) {
  using T = detail::readable_value_t<S>;
  return std::shared_ptr<readable<T>>(detail::make_op<detail::drop_op<T>>(
      detail::as_readable(src), n,
      detail::result_options(opts.high_water_mark, std::move(opts.name))));
}

/// Items grouped into vectors: a batch is pushed when it holds `max_items` (at least 1; 0 throws
/// std::system_error(errc::out_of_range), as does a max_wait that is not positive), or
/// when `max_wait` has passed since its first item (a timer on the loop), whichever comes first;
/// what is left at the end comes as a last, shorter batch. `loop::duration::max()` (the default)
/// means no time limit. A batch due by time is pushed even while the consumer is full (one batch
/// over the highWaterMark at most); new items are read only while it wants data.
template <class S>
requires detail::readable_stream<S>
[[nodiscard]] auto batch(std::shared_ptr<S> src, std::size_t max_items,
                         loop::duration max_wait = loop::duration::max(),
                         operator_options opts = {}) {
  using T = detail::readable_value_t<S>;
  detail::check_argument(max_items >= 1, "batch: max_items must be at least 1");
  detail::check_argument(max_wait > loop::duration::zero(), "batch: max_wait must be positive");
  return std::shared_ptr<readable<std::vector<T>>>(detail::make_op<detail::batch_op<T>>(
      detail::as_readable(src), max_items, max_wait,
      detail::result_options(opts.high_water_mark, std::move(opts.name))));
}

/// The same items, at most `opts.rate` per second, on the loop's timers (virtual time on a
/// manual_loop). A token bucket: it starts full with `opts.burst` tokens, each item takes one,
/// tokens come back at `rate` per second up to `burst`. So after a quiet period up to `burst`
/// items pass at once, and over any window of t seconds at most burst + rate·t items pass. One
/// item waits inside for its token; the source is not read meanwhile. Throws std::system_error
/// (errc::out_of_range) if rate is not > 0 or burst is below 1 (or either is not a number).
template <class S>
requires detail::readable_stream<S>
[[nodiscard]] auto throttle(std::shared_ptr<S> src, throttle_options opts) {
  using T = detail::readable_value_t<S>;
  detail::check_argument(opts.rate > 0, "throttle: rate must be > 0");
  detail::check_argument(opts.burst >= 1, "throttle: burst must be at least 1");
  return std::shared_ptr<readable<T>>(detail::make_op<detail::throttle_op<T>>(
      detail::as_readable(src), opts.rate, opts.burst,
      detail::result_options(opts.high_water_mark, std::move(opts.name))));
}

/// `n` readables that each get every item of `src` (copies; the last branch gets the original).
/// Without opts.max_lag the source is read only while every branch wants data, so the slowest
/// branch sets the pace and memory stays bounded by the branches' highWaterMarks. See
/// tee_options::max_lag for the other policy. A branch destroyed by its user is dropped and the
/// others go on; when all are gone the source is destroyed. A source error fails every branch.
template <class S>
requires detail::readable_stream<S> && std::copy_constructible<detail::readable_value_t<S>>
[[nodiscard]] auto tee(std::shared_ptr<S> src, std::size_t n, tee_options opts = {}) {
  using T = detail::readable_value_t<S>;
  auto hub = std::make_shared<detail::tee_hub<T>>(detail::as_readable(src), opts.max_lag);
  return hub->start(n, detail::result_options(opts.high_water_mark, std::move(opts.name)));
}

/// Another name for tee.
template <class S>
requires detail::readable_stream<S> && std::copy_constructible<detail::readable_value_t<S>>
[[nodiscard]] auto broadcast(std::shared_ptr<S> src, std::size_t n, tee_options opts = {}) {
  return tee(std::move(src), n, std::move(opts));
}

// ---- consumers ----------------------------------------------------------------------------------
//
// Each reads `src` in paused mode and completes once through `token`: a callable taking the
// completion signature, or any Asio completion token (use_awaitable, use_future, deferred, ...),
// run through its associated executor. The completion never runs from within the call. Errors:
// the source's error, or errc::premature_close if it closed before its end.

/// Calls f(item) for each item (Node's readable.forEach); completes with (error_code) at the end.
template <class S, class F, class Token>
requires detail::readable_stream<S>
auto for_each(std::shared_ptr<S> src, F f, Token&& token) {
  using T = detail::readable_value_t<S>;
  return boost::asio::async_initiate<Token, void(std::error_code)>(
      [](auto handler, std::shared_ptr<readable<T>> s, F fn) {
        auto h = detail::shared_handler(std::move(handler));
        detail::consume<T>(
            std::move(s),
            [fn = std::move(fn)](T&& v) mutable {
              fn(std::move(v));
              return true;
            },
            [h](std::error_code ec) { detail::invoke_handler(*h, ec); });
      },
      token, detail::as_readable(src), std::move(f));
}

/// Folds the items: acc = f(std::move(acc), item) from `init` (Node's readable.reduce);
/// completes with (error_code, R), R{} on error (R must be default-constructible).
template <class S, class F, class R, class Token>
requires detail::readable_stream<S>
auto reduce(std::shared_ptr<S> src, F f, R init, Token&& token) {
  using T = detail::readable_value_t<S>;
  return boost::asio::async_initiate<Token, void(std::error_code, R)>(
      [](auto handler, std::shared_ptr<readable<T>> s, F fn, R acc0) {
        auto h = detail::shared_handler(std::move(handler));
        auto acc = std::make_shared<R>(std::move(acc0));
        detail::consume<T>(
            std::move(s),
            [fn = std::move(fn), acc](T&& v) mutable {
              *acc = fn(std::move(*acc), std::move(v));
              return true;
            },
            [h, acc](std::error_code ec) {
              detail::invoke_handler(*h, ec, ec ? R{} : std::move(*acc));
            });
      },
      token, detail::as_readable(src), std::move(f), std::move(init));
}

/// reduce without an initial value: the first item is the initial value. An empty stream
/// completes with errc::invalid_argument (Node: "Reduce of an empty stream requires an initial
/// value"). T must be default-constructible (T{} is passed on error).
template <class S, class F, class Token>
requires detail::readable_stream<S>
auto reduce(std::shared_ptr<S> src, F f, Token&& token) {
  using T = detail::readable_value_t<S>;
  return boost::asio::async_initiate<Token, void(std::error_code, T)>(
      [](auto handler, std::shared_ptr<readable<T>> s, F fn) {
        auto h = detail::shared_handler(std::move(handler));
        auto acc = std::make_shared<std::optional<T>>();
        detail::consume<T>(
            std::move(s),
            [fn = std::move(fn), acc](T&& v) mutable {
              if (*acc)
                *acc = fn(std::move(**acc), std::move(v));
              else
                acc->emplace(std::move(v));
              return true;
            },
            [h, acc](std::error_code ec) {
              if (!ec && !*acc) ec = make_error_code(errc::invalid_argument);
              detail::invoke_handler(*h, ec, ec ? T{} : std::move(**acc));
            });
      },
      token, detail::as_readable(src), std::move(f));
}

/// Every item, in a vector (Node's readable.toArray); completes with (error_code,
/// std::vector<T>). Unbounded by nature: the vector holds the whole stream.
template <class S, class Token>
requires detail::readable_stream<S>
auto to_vector(std::shared_ptr<S> src, Token&& token) {
  using T = detail::readable_value_t<S>;
  return boost::asio::async_initiate<Token, void(std::error_code, std::vector<T>)>(
      [](auto handler, std::shared_ptr<readable<T>> s) {
        auto h = detail::shared_handler(std::move(handler));
        auto out = std::make_shared<std::vector<T>>();
        detail::consume<T>(
            std::move(s),
            [out](T&& v) {
              out->push_back(std::move(v));
              return true;
            },
            [h, out](std::error_code ec) {
              detail::invoke_handler(*h, ec, ec ? std::vector<T>{} : std::move(*out));
            });
      },
      token, detail::as_readable(src));
}

/// Whether pred holds for some item (Node's readable.some); completes with (error_code, bool).
/// At the first match the source is destroyed (without an error) and the answer is true.
template <class S, class F, class Token>
requires detail::readable_stream<S>
auto some(std::shared_ptr<S> src, F pred, Token&& token) {
  using T = detail::readable_value_t<S>;
  return boost::asio::async_initiate<Token, void(std::error_code, bool)>(
      [](auto handler, std::shared_ptr<readable<T>> s, F p) {
        auto h = detail::shared_handler(std::move(handler));
        auto found = std::make_shared<bool>(false);
        detail::consume<T>(
            std::move(s),
            [p = std::move(p), found](T&& v) mutable {
              *found = p(std::as_const(v));
              return !*found;
            },
            [h, found](std::error_code ec) { detail::invoke_handler(*h, ec, !ec && *found); });
      },
      token, detail::as_readable(src), std::move(pred));
}

/// Whether pred holds for every item (Node's readable.every; true for an empty stream);
/// completes with (error_code, bool). At the first miss the source is destroyed.
template <class S, class F, class Token>
requires detail::readable_stream<S>
auto every(std::shared_ptr<S> src, F pred, Token&& token) {
  using T = detail::readable_value_t<S>;
  return boost::asio::async_initiate<Token, void(std::error_code, bool)>(
      [](auto handler, std::shared_ptr<readable<T>> s, F p) {
        auto h = detail::shared_handler(std::move(handler));
        auto all = std::make_shared<bool>(true);
        detail::consume<T>(
            std::move(s),
            [p = std::move(p), all](T&& v) mutable {
              *all = p(std::as_const(v));
              return *all;
            },
            [h, all](std::error_code ec) { detail::invoke_handler(*h, ec, !ec && *all); });
      },
      token, detail::as_readable(src), std::move(pred));
}

/// The first item for which pred holds (Node's readable.find); completes with (error_code,
/// std::optional<T>), nullopt if none. At the match the source is destroyed.
template <class S, class F, class Token>
requires detail::readable_stream<S>
auto find(std::shared_ptr<S> src, F pred, Token&& token) {
  using T = detail::readable_value_t<S>;
  return boost::asio::async_initiate<Token, void(std::error_code, std::optional<T>)>(
      [](auto handler, std::shared_ptr<readable<T>> s, F p) {
        auto h = detail::shared_handler(std::move(handler));
        auto hit = std::make_shared<std::optional<T>>();
        detail::consume<T>(
            std::move(s),
            [p = std::move(p), hit](T&& v) mutable {
              if (!p(std::as_const(v))) return true;
              hit->emplace(std::move(v));
              return false;
            },
            [h, hit](std::error_code ec) {
              detail::invoke_handler(*h, ec, ec ? std::optional<T>{} : std::move(*hit));
            });
      },
      token, detail::as_readable(src), std::move(pred));
}

}  // namespace sluice

#include "sluice/compose/detail/operators_pipe.hpp"
