// sluice/compose/pipeline.hpp: pipeline(s1, ..., sN, cb), streams piped in a chain with one
// completion (Node's stream.pipeline), and async_pipeline(), the same as an Asio asynchronous
// operation.
//
// pipeline() pipes each stage into the next and watches every stage with finished()
// (finished.hpp). The chain's types are checked at compile time: readable<A> → transform<A, B>
// (or duplex<A, B>) → ... → writable<Z>; a mismatch fails with a first error line that names the
// stage index and the types (pipeline_stage_types_do_not_match<...>), then a static_assert.
// On success the callback runs once, on a later tick, after every stage completed; streams that
// completed cleanly are not destroyed (as in Node). On failure every stage that has not
// completed is destroyed exactly once with the first real error, and the callback gets that
// error with the stage that failed: premature_close never masks a real error
// (nodejs/node#36760). The callback runs after every stage has reported (destroyed stages have
// released their resources), and no listener the pipeline added is left on any stage.
// runtime_pipeline.hpp runs the same pipeline over a std::vector of stages known only at run
// time. docs/pipelines.md explains the choices.
#pragma once

#include <boost/asio/associated_cancellation_slot.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/cancellation_type.hpp>
#include <boost/asio/dispatch.hpp>

#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <stop_token>
#include <string>
#include <system_error>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "sluice/compose/finished.hpp"

namespace sluice {

/// Why a pipeline failed. Empty (false) on success.
struct pipeline_error {
  std::error_code code{};
  /// 1-based index of the stage that failed (1 = the source); 0 when no stage did (abort).
  std::size_t stage = 0;
  /// The failing stage's stream::name(), or a default from its type ("transform<int, int>").
  std::string stage_name{};
  /// The failing stream's error_message() ("gunzip at input byte 1234: invalid compressed
  /// data"), or the code's message when the stream itself holds no error (premature close).
  std::string detail{};

  explicit operator bool() const noexcept { return bool(code); }
  /// "stage 2 (gunzip): gunzip at input byte 1234: invalid compressed data"; without a stage,
  /// just the detail (or the code's message). Empty on success.
  [[nodiscard]] std::string message() const;
};

namespace detail {

/// The running pipeline, type-erased: stages, their watches, the first error, the callback.
/// Owns itself (self_) from start() until it completes or fails to set up.
class pipeline_state : public std::enable_shared_from_this<pipeline_state> {
 public:
  using done_fn = std::function<void(const pipeline_error&)>;

  pipeline_state(loop& l, done_fn cb) : loop_(&l), cb_(std::move(cb)) {}

  /// Adds stage `i` (0-based) before start().
  void add_stage(std::shared_ptr<stream> s, std::string name) {
    stages_.push_back(stage_entry{std::move(s), std::move(name)});
  }
  /// Watches stage `i` and listens for its late errors. Called once per stage.
  template <class S>
  void watch(std::size_t i, const std::shared_ptr<S>& s, finished_options opts) {
    listen_for_errors(i);
    stages_[i].watch = finished(s, opts, done_callback(i));
    if constexpr (has_readable_side<S>)
      stages_[i].unpipe = [p = s.get()] { static_cast<readable<output_of<S>>*>(p)->unpipe(); };
    if constexpr (has_writable_side<S>) stages_[i].end = end_hook<input_of<S>>(s.get());
  }
  /// Starts finished() on a stream whose type it knows (runtime_pipeline.hpp keeps one per stage).
  using watch_fn =
      std::function<finished_handle(finished_options, std::function<void(std::error_code)>)>;
  /// As watch(), for a stage whose type is known only at run time: `watch` starts finished()
  /// on it with `opts`, `unpipe` and `end` act on its sides.
  void watch(std::size_t i, const watch_fn& watch, finished_options opts,
             std::function<void()> unpipe, std::function<void()> end) {
    listen_for_errors(i);
    stages_[i].watch = watch(opts, done_callback(i));
    stages_[i].unpipe = std::move(unpipe);
    stages_[i].end = std::move(end);
  }
  /// Ends the pipeline early at stage `stage` (1-based), without an error: see
  /// pipeline_handle::stop_before().
  void stop_before(std::size_t stage);
  /// Ends `w`'s writable side unless it is already ending (stop_before()'s hook).
  template <class T, class W>
  static std::function<void()> end_hook(W* w) {
    return [p = static_cast<writable<T>*>(w)] {
      if (!p->ended() && !p->destroyed()) p->end();
    };
  }
  /// Keeps the pipeline alive until it completes.
  void start() { self_ = shared_from_this(); }
  /// Set-up threw: remove what was added, destroy every stage, never call back.
  void abandon() noexcept;
  /// A stage pointer was null: destroy the others, call back with invalid_argument.
  void fail_setup(std::size_t stage, std::string what);
  void set_stop(std::stop_token token);

  /// Destroys every stage that has not completed with `ec` (first real error wins).
  void abort(std::error_code ec);
  [[nodiscard]] bool running() const noexcept { return self_ != nullptr; }
  /// Listeners the pipeline itself still holds on its stages (0 once it completed).
  [[nodiscard]] std::size_t listener_count() const noexcept;

 private:
  struct stage_entry {
    std::shared_ptr<stream> s;
    std::string name;
    finished_handle watch{};
    listener_id error_id{};
    std::function<void()> unpipe{};  // unpipes its readable side (stop_before)
    std::function<void()> end{};     // ends its writable side (stop_before)
    bool done = false;               // its finished() reported, or stop_before() stopped it
    bool clean = false;              // ... without an error: never destroyed by the pipeline
  };

  void listen_for_errors(std::size_t i);
  std::function<void(std::error_code)> done_callback(std::size_t i);

  void on_stage_error(std::size_t i, std::error_code ec);
  void on_stage_done(std::size_t i, std::error_code ec);
  void record(std::size_t i, std::error_code ec);
  void destroy_all();
  void complete();
  /// Takes the pipeline's watch and error listener off one stage.
  static void detach(stage_entry& e) noexcept;
  void remove_listeners() noexcept;

  loop* loop_;
  done_fn cb_;
  std::vector<stage_entry> stages_;
  pipeline_error error_;
  std::size_t done_count_ = 0;
  std::size_t stopped_before_ = 0;  // stages [0, stopped_before_) were stopped by stop_before()
  std::optional<std::stop_callback<std::function<void()>>> stop_;
  std::shared_ptr<pipeline_state> self_;  // set while running
  bool destroying_ = false;               // destroy_all() is running
};

// ---- compile-time checks of the chain -----------------------------------------------------------

template <class P>
struct stage_pointer : std::false_type {};
template <class S>
struct stage_pointer<std::shared_ptr<S>> : std::true_type {
  using type = S;
};

template <class P>
using stage_of = typename stage_pointer<std::remove_cvref_t<P>>::type;

// Each check is a class template so that a failing static_assert shows, in the compiler's
// "required from" line, the 1-based stage index and the types involved.
template <std::size_t Stage, class P>
struct check_is_stage {
  static constexpr bool value = stage_pointer<std::remove_cvref_t<P>>::value;
  static_assert(value,
                "sluice::pipeline: every stage must be a std::shared_ptr to a readable, writable, "
                "duplex or transform (Stage is its 1-based index)");
};

template <std::size_t Stage, std::size_t Count, class S>
struct check_role {
  static constexpr bool first = Stage == 1, last = Stage == Count;
  static constexpr bool r = has_readable_side<S>, w = has_writable_side<S>;
  static_assert(!first || r,
                "sluice::pipeline: the first stage must be readable (a readable, duplex or "
                "transform)");
  static_assert(!last || w,
                "sluice::pipeline: the last stage must be writable (a writable, duplex or "
                "transform)");
  static_assert(first || last || (r && w),
                "sluice::pipeline: a middle stage must be a duplex or transform (Stage is its "
                "1-based index)");
  static constexpr bool value = (!first || r) && (!last || w) && (first || last || (r && w));
};

/// Never defined: a chain whose stage `Stage` yields `Yields` while stage `Stage`+1 accepts
/// `Accepts` derives from it, so the compiler's first error line reads "invalid use of
/// incomplete type 'struct pipeline_stage_types_do_not_match<2, transform<int, long>,
/// writable<int>, long, int>'": the index and the real types, which a static_assert message (a
/// fixed string in C++20) cannot show.
template <std::size_t Stage, class StageType, class NextStageType, class Yields, class Accepts>
struct pipeline_stage_types_do_not_match;

// A link whose types match.
template <std::size_t Stage, class S, class Next,
          bool = std::is_same_v<output_of<S>, input_of<Next>>>
struct check_link {
  static constexpr bool value = true;
};

// A link whose types do not: deriving from the incomplete type makes that the first error (a
// base is instantiated before the members), and it names the index and the types.
template <std::size_t Stage, class S, class Next>
struct check_link<Stage, S, Next, false>
    : pipeline_stage_types_do_not_match<Stage, S, Next, output_of<S>, input_of<Next>> {
  static constexpr bool value = false;
  static_assert(std::is_same_v<output_of<S>, input_of<Next>>,  // (false, and dependent)
                "sluice::pipeline: stage types do not match: the error above names the stage "
                "index, the two stages' types, what the first yields and what the next accepts");
};

template <class... Ps>
struct chain_check {
  static constexpr std::size_t count = sizeof...(Ps);
  static constexpr bool pointers = [] {
    return []<std::size_t... I>(std::index_sequence<I...>) {
      return (check_is_stage<I + 1, Ps>::value && ...);
    }
    (std::index_sequence_for<Ps...>{});
  }();
  static constexpr bool roles() {
    if constexpr (!pointers) {
      return false;
    } else {
      return []<std::size_t... I>(std::index_sequence<I...>) {
        return (check_role<I + 1, count, stage_of<Ps>>::value && ...);
      }
      (std::index_sequence_for<Ps...>{});
    }
  }
  static constexpr bool links() {
    if constexpr (!roles()) {
      return false;
    } else {
      using tuple = std::tuple<stage_of<Ps>...>;
      return []<std::size_t... I>(std::index_sequence<I...>) {
        return (check_link<I + 1, std::tuple_element_t<I, tuple>,
                           std::tuple_element_t<I + 1, tuple>>::value &&
                ...);
      }
      (std::make_index_sequence<count - 1>{});
    }
  }
  static constexpr bool value = links();
};

template <class F>
std::function<void(const pipeline_error&)> make_pipeline_callback(F&& f) {
  using fn = std::remove_cvref_t<F>;
  if constexpr (std::is_invocable_v<fn&, const pipeline_error&>) {
    return std::function<void(const pipeline_error&)>(std::forward<F>(f));
  } else {
    static_assert(std::is_invocable_v<fn&, std::error_code>,
                  "sluice::pipeline: the last argument must be a callback invocable with "
                  "(const sluice::pipeline_error&) or (std::error_code)");
    return [g = fn(std::forward<F>(f))](const pipeline_error& e) mutable { g(e.code); };
  }
}

template <class Tuple, std::size_t... I>
std::shared_ptr<pipeline_state> start_pipeline(std::stop_token stop, const Tuple& stages,
                                               std::function<void(const pipeline_error&)> cb,
                                               std::index_sequence<I...>) {
  constexpr std::size_t n = sizeof...(I);
  loop* l = nullptr;
  std::size_t null_stage = 0;
  (
      [&] {
        if (!std::get<I>(stages)) {
          if (null_stage == 0) null_stage = I + 1;
        } else if (!l) {
          l = &std::get<I>(stages)->get_loop();
        }
      }(),
      ...);
  if (!l) throw std::system_error(make_error_code(errc::invalid_argument), "pipeline: no stage");
  auto state = std::make_shared<pipeline_state>(*l, std::move(cb));
  (
      [&] {
        using S = stage_of<std::tuple_element_t<I, Tuple>>;
        const auto& s = std::get<I>(stages);
        std::string name = s && !s->name().empty() ? s->name() : default_stage_name<S>();
        state->add_stage(s, std::move(name));
      }(),
      ...);
  if (null_stage != 0) {
    state->fail_setup(null_stage, "stage " + std::to_string(null_stage) + " is null");
    return state;
  }
  try {
    state->start();
    (state->watch(I, std::get<I>(stages),
                  finished_options{.readable = I + 1 < n, .writable = I > 0}),
     ...);
    // Pipe each stage into the next: pipe() pauses on a full destination and ends it.
    [&]<std::size_t... J>(std::index_sequence<J...>) {
      (std::get<J>(stages)->pipe(std::get<J + 1>(stages)), ...);
    }
    (std::make_index_sequence<n - 1>{});
    if (stop.stop_possible()) state->set_stop(std::move(stop));
  } catch (...) {
    state->abandon();
    throw;
  }
  return state;
}

template <class... Args, std::size_t... I>
auto stages_tuple(std::tuple<Args...>& args, std::index_sequence<I...>) {
  return std::make_tuple(std::get<I>(args)...);
}

}  // namespace detail

template <class T>
class pipeline_stage;  // runtime_pipeline.hpp

namespace detail {

template <class A>
struct is_stage_vector : std::false_type {};
template <class T>
struct is_stage_vector<std::vector<pipeline_stage<T>>> : std::true_type {};

/// True when argument I of Args is a vector of pipeline_stage (the stages of a runtime pipeline).
template <std::size_t I, class... Args>
constexpr bool arg_is_stage_vector = [] {
  if constexpr (I >= sizeof...(Args)) {
    return false;
  } else {
    return is_stage_vector<
        std::remove_cvref_t<std::tuple_element_t<I, std::tuple<Args...>>>>::value;
  }
}();

/// True when pipeline()'s arguments are a runtime pipeline's (an optional stop_token, then a
/// vector of pipeline_stage): runtime_pipeline.hpp's overloads take those.
template <class... Args>
constexpr bool starts_with_stage_vector =
    arg_is_stage_vector<0, Args...> ||
    (arg_is_stage_vector<1, Args...> &&
     std::is_same_v<std::remove_cvref_t<std::tuple_element_t<0, std::tuple<Args...>>>,
                    std::stop_token>);

struct pipeline_access;

}  // namespace detail

/// Returned by pipeline(): lets the caller abort it. Copyable, does not own the pipeline (a
/// running pipeline keeps itself alive); dropping it does not abort anything.
class pipeline_handle {
 public:
  pipeline_handle() = default;
  /// Destroys every stage that has not completed; the callback gets errc::aborted unless a
  /// real error came first. No-op once the pipeline completed. Call it on the loop's thread.
  void abort() noexcept { abort(make_error_code(errc::aborted)); }
  /// As abort(), destroying the stages with `ec` instead (compose() passes its own error on).
  void abort(std::error_code ec) noexcept {
    if (auto s = state_.lock()) s->abort(ec);
  }
  /// Ends the pipeline early, without an error, at `stage` (1-based, as pipeline_error::stage):
  /// stage - 1 is unpiped, the stages before `stage` are destroyed without an error (their
  /// teardown runs, nothing is reported), and `stage`'s writable side is ended, so that it and
  /// the stages after it flush what they hold and finish normally; the callback then reports
  /// success. This is what a `head` stage asks for once it has enough. No-op for stage 1, past
  /// the last stage, for a stage at or before an earlier stop_before(), once the pipeline
  /// failed or completed. Call it on the loop's thread.
  void stop_before(std::size_t stage) {
    if (auto s = state_.lock()) s->stop_before(stage);
  }
  /// True until the pipeline completed (its callback is queued or ran).
  [[nodiscard]] bool running() const noexcept {
    auto s = state_.lock();
    return s && s->running();
  }
  /// How many listeners the pipeline still holds on its stages: its own, not pipe()'s (0
  /// once it completed). For tests and diagnostics.
  [[nodiscard]] std::size_t listener_count() const noexcept {
    auto s = state_.lock();
    return s ? s->listener_count() : 0;
  }

 private:
  template <class... Args>
  requires(!detail::starts_with_stage_vector<Args...>) friend pipeline_handle
      pipeline(Args&&... args);
  friend struct detail::pipeline_access;
  explicit pipeline_handle(std::weak_ptr<detail::pipeline_state> s) : state_(std::move(s)) {}
  std::weak_ptr<detail::pipeline_state> state_;
};

/// pipeline(s1, ..., sN, cb) and pipeline(stop_token, s1, ..., sN, cb).
///
/// Pipes s1 into s2, ..., s(N-1) into sN and calls `cb` exactly once, on a later tick: after
/// every stage completed, or after a failure once every stage has reported. Stages are
/// std::shared_ptr to a readable<A> (first), duplexes/transforms (middle) and a writable<Z>
/// (last), or classes derived from them; the chunk types must chain. `cb` is invocable with
/// (const pipeline_error&) or (std::error_code). With a stop_token, request_stop() (on the
/// loop's thread) aborts the pipeline as pipeline_handle::abort() does. The pipeline keeps its
/// stages alive until it completes and releases them before `cb` runs. A null stage destroys
/// the others and reports errc::invalid_argument; if setting up throws, every stage is
/// destroyed before the exception propagates and `cb` is never called.
template <class... Args>
requires(!detail::starts_with_stage_vector<Args...>) pipeline_handle pipeline(Args&&... args) {
  static_assert(sizeof...(Args) >= 3, "sluice::pipeline needs at least two stages and a callback");
  auto all = std::forward_as_tuple(std::forward<Args>(args)...);
  using first = std::remove_cvref_t<std::tuple_element_t<0, std::tuple<Args...>>>;
  constexpr bool has_stop = std::is_same_v<first, std::stop_token>;
  constexpr std::size_t skip = has_stop ? 1 : 0;
  constexpr std::size_t n = sizeof...(Args) - 1 - skip;
  static_assert(n >= 2, "sluice::pipeline needs at least two stages and a callback");
  auto stages = [&]<std::size_t... I>(std::index_sequence<I...>) {
    return std::make_tuple(std::get<I + skip>(all)...);
  }
  (std::make_index_sequence<n>{});
  using stages_t = decltype(stages);
  constexpr bool ok = []<std::size_t... I>(std::index_sequence<I...>) {
    return detail::chain_check<std::tuple_element_t<I, stages_t>...>::value;
  }
  (std::make_index_sequence<n>{});
  if constexpr (!ok) {
    return pipeline_handle{};
  } else {
    std::stop_token stop;
    if constexpr (has_stop) stop = std::get<0>(all);
    auto cb = detail::make_pipeline_callback(std::get<sizeof...(Args) - 1>(std::move(all)));
    auto state = detail::start_pipeline(std::move(stop), stages, std::move(cb),
                                        std::make_index_sequence<n>{});
    return pipeline_handle(state);
  }
}

/// async_pipeline(s1, ..., sN, token) and async_pipeline(details, s1, ..., sN, token); also
/// with a std::vector of pipeline_stage (runtime_pipeline.hpp) in place of s1, ..., sN.
///
/// The pipeline as an Asio asynchronous operation: completes with `void(std::error_code)`
/// (use_awaitable, use_future, a callback, ...). Pass a `pipeline_error&` first to get the
/// failing stage too: it is filled in before the completion handler runs. Cancelling through
/// the handler's cancellation slot (any cancellation type) aborts the pipeline; it then
/// completes with errc::aborted. The handler runs through its associated executor (dispatch),
/// after every stage has reported.
template <class... Args>
auto async_pipeline(Args&&... args) {
  static_assert(sizeof...(Args) >= 2,
                "sluice::async_pipeline needs at least two stages and a completion token");
  auto all = std::forward_as_tuple(std::forward<Args>(args)...);
  using first = std::remove_cvref_t<std::tuple_element_t<0, std::tuple<Args...>>>;
  constexpr bool has_details = std::is_same_v<first, pipeline_error>;
  constexpr std::size_t skip = has_details ? 1 : 0;
  constexpr std::size_t n = sizeof...(Args) - 1 - skip;
  // A std::vector of pipeline_stage (runtime_pipeline.hpp) stands for all the stages.
  constexpr bool runtime = detail::arg_is_stage_vector<skip, Args...>;
  static_assert(runtime ? n == 1 : n >= 2,
                "sluice::async_pipeline needs at least two stages (or one vector of stages) and a "
                "completion token");
  pipeline_error* details = nullptr;
  if constexpr (has_details) details = &std::get<0>(all);
  auto stages = [&]<std::size_t... I>(std::index_sequence<I...>) {
    return std::make_tuple(std::get<I + skip>(all)...);
  }
  (std::make_index_sequence<n>{});
  auto init = [details](auto handler, auto stage_tuple) {
    using handler_t = decltype(handler);
    auto h = std::make_shared<handler_t>(std::move(handler));
    auto slot = boost::asio::get_associated_cancellation_slot(*h);
    auto done = [h, details](const pipeline_error& e) {
      if (details) *details = e;
      auto s = boost::asio::get_associated_cancellation_slot(*h);
      if (s.is_connected()) s.clear();
      auto ex = boost::asio::get_associated_executor(*h);
      boost::asio::dispatch(ex, [h, ec = e.code]() mutable { std::move (*h)(ec); });
    };
    pipeline_handle handle =
        std::apply([&](auto&... s) { return pipeline(s..., std::move(done)); }, stage_tuple);
    if (slot.is_connected() && handle.running())
      slot.assign([handle](boost::asio::cancellation_type) mutable { handle.abort(); });
  };
  using token_t =
      std::remove_cvref_t<std::tuple_element_t<sizeof...(Args) - 1, std::tuple<Args...>>>;
  token_t token = std::get<sizeof...(Args) - 1>(all);
  return boost::asio::async_initiate<token_t, void(std::error_code)>(std::move(init), token,
                                                                     std::move(stages));
}

}  // namespace sluice
