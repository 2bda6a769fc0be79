// sluice/compose/finished.hpp: finished(stream, cb), told once when a stream is done (Node's
// stream.finished / end-of-stream), and the stage traits pipeline.hpp and compose.hpp share.
//
// finished() watches a readable, writable or duplex and calls its callback exactly once: with an
// empty code when the watched sides completed ('end' for the readable side, 'finish' for the
// writable side, and 'close' too when the stream is going to emit it), with the stream's error,
// or with errc::premature_close when the stream closed before completing. Unlike Node, every
// listener it added is removed before the callback runs (Node leaves them behind, see
// nodejs/node#35452), and the returned handle's cancel() removes them earlier so that the
// callback never runs. The handle does not own the stream and dropping it cancels nothing.
#pragma once

#include <concepts>
#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <system_error>
#include <type_traits>
#include <typeinfo>
#include <utility>

#include "sluice/core/duplex.hpp"
#include "sluice/core/readable.hpp"
#include "sluice/core/stream.hpp"
#include "sluice/core/transform.hpp"
#include "sluice/core/writable.hpp"

namespace sluice {

namespace detail {

/// Stands for "no such side" in the stage traits below.
struct no_side {};

template <class T>
T readable_chunk_of(const readable<T>*);
no_side readable_chunk_of(...);
template <class T>
T writable_chunk_of(const writable<T>*);
no_side writable_chunk_of(...);

/// What a stream of type S yields (its readable<T>'s T) and accepts (its writable<T>'s T);
/// no_side when it has no such side. Unambiguous for a duplex<In, Out> and classes derived
/// from one, where S::value_type would be ambiguous.
template <class S>
using output_of = decltype(readable_chunk_of(static_cast<const S*>(nullptr)));
template <class S>
using input_of = decltype(writable_chunk_of(static_cast<const S*>(nullptr)));

template <class S>
inline constexpr bool has_readable_side = !std::is_same_v<output_of<S>, no_side>;
template <class S>
inline constexpr bool has_writable_side = !std::is_same_v<input_of<S>, no_side>;

/// "transform<int, string>", "readable<buffer>": the role and chunk types of S, the default
/// stage name in pipeline errors when a stream has no name().
std::string chunk_type_name(const std::type_info& t);

template <class S>
std::string default_stage_name() {
  constexpr bool r = has_readable_side<S>, w = has_writable_side<S>;
  if constexpr (r && w) {
    const char* role =
        std::derived_from<S, transform<input_of<S>, output_of<S>>> ? "transform<" : "duplex<";
    return role + chunk_type_name(typeid(input_of<S>)) + ", " +
           chunk_type_name(typeid(output_of<S>)) + ">";
  } else if constexpr (r) {
    return "readable<" + chunk_type_name(typeid(output_of<S>)) + ">";
  } else if constexpr (w) {
    return "writable<" + chunk_type_name(typeid(input_of<S>)) + ">";
  } else {
    return "stream";
  }
}

class finished_state_base {
 public:
  virtual ~finished_state_base() = default;
  virtual void cancel() noexcept = 0;
  [[nodiscard]] virtual bool active() const noexcept = 0;
};

}  // namespace detail

/// A stream that finished() can watch: a readable, a writable or a duplex.
template <class S>
concept watchable_stream = std::derived_from<S, stream> &&
    (detail::has_readable_side<S> || detail::has_writable_side<S>);

/// Which sides finished() waits for (Node's eos options).
struct finished_options {
  /// Wait for the readable side's 'end'. Default: when the stream has a readable side.
  std::optional<bool> readable{};
  /// Wait for the writable side's 'finish'. Default: when the stream has a writable side.
  std::optional<bool> writable{};
  /// Report an 'error' event as soon as it is emitted. When false, an error is still reported,
  /// but only at 'close' (Node's `error: false`).
  bool error = true;
};

/// Returned by finished(): lets the caller stop watching. Copyable; every copy refers to the
/// same watch. Destroying a handle does nothing: the watch goes on.
class finished_handle {
 public:
  finished_handle() = default;
  /// Removes every listener the watch added; its callback will not run. No-op once the
  /// callback ran or after an earlier cancel().
  void cancel() noexcept {
    if (state_) state_->cancel();
  }
  /// True until the callback ran or the watch was cancelled.
  [[nodiscard]] bool active() const noexcept { return state_ && state_->active(); }

 private:
  template <watchable_stream S>
  friend finished_handle finished(const std::shared_ptr<S>&, finished_options,
                                  std::function<void(std::error_code)>);
  explicit finished_handle(std::shared_ptr<detail::finished_state_base> s) : state_(std::move(s)) {}
  std::shared_ptr<detail::finished_state_base> state_;
};

namespace detail {

// One watch: Node's eos(), listener for listener, with the callback made once-only.
template <class S>
class finished_state final : public finished_state_base,
                             public std::enable_shared_from_this<finished_state<S>> {
 public:
  using done_fn = std::function<void(std::error_code)>;

  finished_state(const std::shared_ptr<S>& s, finished_options o, done_fn cb)
      : stream_(s), loop_(&s->get_loop()), cb_(std::move(cb)) {
    constexpr bool r_side = has_readable_side<S>, w_side = has_writable_side<S>;
    readable_ = r_side && o.readable.value_or(true);
    writable_ = w_side && o.writable.value_or(true);
    watch_error_ = o.error;
    // Node's willEmitClose: 'close' comes after 'end'/'finish', so wait for it too; only when
    // the watch covers exactly the stream's sides (a duplex watched for one side is done at
    // that side's end).
    will_emit_close_ = s->auto_destroy() && s->emits_close() && !s->closed() &&
                       r_side == readable_ && w_side == writable_;
    writable_finished_ = writable_side_finished(*s);
    readable_finished_ = readable_side_finished(*s);
  }

  // Adds the listeners and decides whether the outcome is already known (Node's eos tail).
  void start(S& s) {
    auto self = this->shared_from_this();
    if constexpr (has_readable_side<S>)
      end_id_ = static_cast<readable<output_of<S>>&>(s).on_end([self] { self->on_end(); });
    if constexpr (has_writable_side<S>)
      finish_id_ = static_cast<writable<input_of<S>>&>(s).on_finish([self] { self->on_finish(); });
    if (watch_error_) error_id_ = s.on_error([self](std::error_code ec) { self->call(ec); });
    close_id_ = s.on_close([self] { self->on_close(); });

    if (s.closed() || s.close_emitted()) {
      later();
    } else if (s.error_emitted() || (s.errored() && !s.destroyed())) {
      if (!will_emit_close_) later();
    } else if (!readable_ && (!will_emit_close_ || readable_open(s)) &&
               (writable_finished_ || (has_writable_side<S> && !writable_open(s)))) {
      later();
    } else if (!writable_ && (!will_emit_close_ || writable_open(s)) &&
               (readable_finished_ || (has_readable_side<S> && !readable_open(s)))) {
      later();
    }
  }

  void cancel() noexcept override {
    if (done_) return;
    done_ = true;
    cb_ = nullptr;
    remove_listeners();
  }
  [[nodiscard]] bool active() const noexcept override { return !done_; }

 private:
  static bool readable_side_finished(S& s) {
    if constexpr (has_readable_side<S>) {
      auto& r = static_cast<readable<output_of<S>>&>(s);
      return !s.errored() && (r.readable_ended() || (r.eof_pushed() && r.readable_length() == 0));
    } else {
      return false;
    }
  }
  static bool writable_side_finished(S& s) {
    if constexpr (has_writable_side<S>) {
      auto& w = static_cast<writable<input_of<S>>&>(s);
      return !s.errored() && (w.finished() || (w.ended() && w.writable_length() == 0));
    } else {
      return false;
    }
  }
  static bool readable_open(S& s) {
    if constexpr (has_readable_side<S>) {
      return static_cast<readable<output_of<S>>&>(s).is_readable();
    } else {
      return false;
    }
  }
  static bool writable_open(S& s) {
    if constexpr (has_writable_side<S>) {
      return static_cast<writable<input_of<S>>&>(s).is_writable();
    } else {
      return false;
    }
  }

  void later() {
    loop_->defer([self = this->shared_from_this()] { self->on_close(); });
  }

  void on_finish() {
    writable_finished_ = true;
    auto s = stream_.lock();
    if (!s) return;
    if (s->destroyed()) will_emit_close_ = false;
    if (will_emit_close_ && (!readable_open(*s) || readable_)) return;
    if (!readable_ || readable_finished_) call({});
  }

  void on_end() {
    readable_finished_ = true;
    auto s = stream_.lock();
    if (!s) return;
    if (s->destroyed()) will_emit_close_ = false;
    if (will_emit_close_ && (!writable_open(*s) || writable_)) return;
    if (!writable_ || writable_finished_) call({});
  }

  void on_close() {
    auto s = stream_.lock();
    if (done_ || !s) return;
    if (s->errored()) return call(s->errored());
    if (readable_ && !readable_finished_ && !readable_side_finished(*s))
      return call(make_error_code(errc::premature_close));
    if (writable_ && !writable_finished_ && !writable_side_finished(*s))
      return call(make_error_code(errc::premature_close));
    call({});
  }

  void call(std::error_code ec) {
    if (done_) return;
    done_ = true;
    remove_listeners();
    done_fn cb = std::move(cb_);
    cb_ = nullptr;
    if (cb) cb(ec);
  }

  void remove_listeners() noexcept {
    auto s = stream_.lock();
    if (!s) return;
    for (listener_id* id : {&end_id_, &finish_id_, &error_id_, &close_id_}) {
      if (*id) s->off(*id);
      *id = {};
    }
  }

  std::weak_ptr<S> stream_;
  loop* loop_;
  done_fn cb_;
  listener_id end_id_, finish_id_, error_id_, close_id_;
  bool readable_ = false;           // waiting for the readable side
  bool writable_ = false;           // waiting for the writable side
  bool watch_error_ = true;         // options.error
  bool will_emit_close_ = false;    // wait for 'close' after 'end' / 'finish'
  bool readable_finished_ = false;  // 'end' seen (or the readable side was already done)
  bool writable_finished_ = false;  // 'finish' seen (or the writable side was already done)
  bool done_ = false;               // the callback ran or the watch was cancelled
};

}  // namespace detail

/// Calls `cb` exactly once, on a later tick than this call, when `s` is done: with an empty
/// code after its watched sides completed ('end' / 'finish', and 'close' when the stream will
/// emit one), with its error, or with errc::premature_close if it closed before completing.
/// An already finished, errored or closed stream is reported on a later tick. Every listener
/// the watch added is removed before `cb` runs. The watch does not keep `s` alive.
template <watchable_stream S>
finished_handle finished(const std::shared_ptr<S>& s, finished_options opts,
                         std::function<void(std::error_code)> cb) {
  auto state = std::make_shared<detail::finished_state<S>>(s, opts, std::move(cb));
  state->start(*s);
  return finished_handle(std::move(state));
}

/// As finished(s, {}, cb): waits for every side the stream has.
template <watchable_stream S>
finished_handle finished(const std::shared_ptr<S>& s, std::function<void(std::error_code)> cb) {
  return finished(s, finished_options{}, std::move(cb));
}

}  // namespace sluice
