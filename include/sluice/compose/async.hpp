// sluice/compose/async.hpp: streams as Asio asynchronous operations, for coroutines and completion
// tokens.
//
//   co_await sluice::async_write(*w, x);               // waits for 'drain' if write() said so
//   co_await sluice::async_end(*w);                    // completes at 'finish'
//   sluice::reader<int> rd(r);                         // iterates r; destroys it if left early
//   while (auto x = co_await sluice::async_next(rd))   // std::optional<int>: nullopt at the end
//     use(*x);
//   std::vector<int> batch;                            // the fast path: many items per resume,
//   while (co_await sluice::async_next_batch(rd, batch, 1024) != 0)   // one reused vector
//     for (int x : batch) use(x);
//
// Every operation here is an Asio asynchronous operation (async_initiate), so it takes any
// completion token: use_awaitable (the default), use_future, a callback, redirect_error,
// as_tuple, deferred, ... Completion signatures:
//   async_write, async_end   void(boost::system::error_code)
//   async_next               void(boost::system::error_code, std::optional<T>)
//   async_next_batch         void(boost::system::error_code, std::vector<T>)
//                            void(boost::system::error_code, std::size_t)  (into a vector)
// The error_code wraps the stream's std::error_code losslessly: std::error_code(ec) gives it
// back (compare it with sluice::errc values that way). With the default token (use_awaitable) a
// failed operation throws stream_failure, a boost::system::system_error whose what() is the
// stream's error_message() ("open 'x.log': No such file or directory"), not only the code's
// message; with use_future it throws boost::system::system_error. With any other token the
// message is the stream's error_message(), there to read (reader::stream(), or the writable).
//
// Threads and loops: the stream must live on a sluice::asio_loop, and the io_context it wraps is
// where everything happens. An operation may be started from any thread (use_future from
// another thread works): its initiation hops onto the io_context first. The handler is never
// invoked from within the initiating function nor from inside a stream event: it is always
// posted to its associated executor (default: the io_context), in the order the operations
// completed. The one shortcut: with the default token (use_awaitable), async_next and
// async_next_batch started on the loop's thread, with no earlier operation of the reader still
// queued, complete without a post when the stream can answer at once (the coroutine carries on;
// there is no handler to run re-entrantly). A reader<T> itself (construction, destruction,
// try_next) belongs to the loop's thread.
//
// Cancellation: each operation honours its handler's associated cancellation slot (any
// cancellation type). A cancelled async_next/async_next_batch completes with
// boost::asio::error::operation_aborted having taken nothing from the stream; a cancelled
// async_write completes with operation_aborted, the chunk having been accepted by write() all
// the same (only the wait for 'drain' is abandoned); a cancelled async_end stops waiting for
// 'finish' (the stream keeps ending). Cancellation must be requested on the loop's thread.
#pragma once

#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/associated_cancellation_slot.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/cancellation_type.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/system/error_code.hpp>
#include <boost/system/system_error.hpp>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <system_error>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "sluice/core/asio_loop.hpp"
#include "sluice/core/readable.hpp"
#include "sluice/core/writable.hpp"

namespace sluice {

/// The error type of the completion signatures (wraps std::error_code losslessly).
using async_error = boost::system::error_code;

/// The default completion token: `co_await` in an asio::awaitable coroutine.
using default_token = boost::asio::use_awaitable_t<>;

/// What an operation awaited with the default token throws when it fails. code() is the error;
/// what() is the stream's error_message() when the error is the stream's own ("open 'x.log': No
/// such file or directory", "gunzip at input byte 1234: invalid compressed data"), else the
/// code's message (write_after_end, operation_aborted, premature_close). Catching
/// boost::system::system_error catches it too.
class stream_failure : public boost::system::system_error {
 public:
  stream_failure(async_error ec, std::string message);
  [[nodiscard]] const char* what() const noexcept override { return message_.c_str(); }

 private:
  std::string message_;
};

namespace detail {

/// Throws stream_failure for `ec`, with `s`'s error_message() when `ec` is its error.
[[noreturn]] void throw_failure(const async_error& ec, const stream& s);

/// The default token, with the error handed over instead of thrown (so that it can be thrown
/// as a stream_failure).
inline constexpr auto default_as_tuple = boost::asio::as_tuple(boost::asio::use_awaitable);
using default_as_tuple_t = std::remove_const_t<decltype(default_as_tuple)>;

/// The io_context of the asio_loop `s` lives on. Throws std::system_error(invalid_argument) when
/// the stream is on another kind of loop (a programming error).
[[nodiscard]] boost::asio::io_context& context_of(const stream& s);

/// Runs `fn` on `ctx`'s thread: at once when already there, else posted.
template <class F>
void run_on(boost::asio::io_context& ctx, F&& fn) {
  if (ctx.get_executor().running_in_this_thread())
    fn();
  else
    boost::asio::post(ctx, std::forward<F>(fn));
}

/// Posts `h(args...)` to the handler's associated executor (default: `ctx`).
template <class Handler, class... Args>
void post_completion(boost::asio::io_context& ctx, Handler&& h, Args&&... args) {
  auto ex = boost::asio::get_associated_executor(h, ctx.get_executor());
  boost::asio::post(ex, [h = std::forward<Handler>(h), ... a = std::forward<Args>(args)]() mutable {
    std::move(h)(std::move(a)...);
  });
}

[[nodiscard]] inline async_error to_async_error(std::error_code ec) noexcept {
  return ec ? async_error(ec) : async_error();
}

[[nodiscard]] inline async_error aborted() noexcept {
  return boost::asio::error::operation_aborted;
}

// ---- async_write / async_end -------------------------------------------------------------------

// One async_write waiting for 'drain' (or whatever ends the wait first).
template <class Handler, chunk T>
class write_wait : public std::enable_shared_from_this<write_wait<Handler, T>> {
 public:
  write_wait(Handler h, std::shared_ptr<stream> keep, writable<T>& w, boost::asio::io_context& ctx)
      : handler_(std::move(h)),
        keep_(std::move(keep)),
        w_(w),
        ctx_(ctx),
        work_(ctx.get_executor()) {}

  void start() {
    std::weak_ptr<write_wait> self = this->shared_from_this();
    ids_[0] = w_.once_drain([self] {
      if (auto s = self.lock()) s->complete(async_error());
    });
    ids_[1] = w_.once_finish([self] {
      if (auto s = self.lock()) s->complete(async_error());
    });
    ids_[2] = w_.on_error([self](std::error_code ec) {
      if (auto s = self.lock()) s->complete(async_error(ec));
    });
    ids_[3] = w_.on_close([self] {
      if (auto s = self.lock())
        s->complete(async_error(s->w_.errored() ? s->w_.errored()
                                                : make_error_code(errc::stream_destroyed)));
    });
    self_ = this->shared_from_this();  // the listeners hold weak references: we own ourselves
    auto slot = boost::asio::get_associated_cancellation_slot(handler_);
    if (slot.is_connected()) {
      slot.assign([self](boost::asio::cancellation_type t) {
        if (t == boost::asio::cancellation_type::none) return;
        if (auto s = self.lock()) s->complete(aborted());
      });
    }
  }

 private:
  void complete(async_error ec) {
    if (done_) return;
    done_ = true;
    for (listener_id id : ids_)
      if (id) w_.off(id);
    auto slot = boost::asio::get_associated_cancellation_slot(handler_);
    if (slot.is_connected()) slot.clear();
    post_completion(ctx_, std::move(handler_), ec);
    work_.reset();
    auto keep_alive = std::move(self_);  // may free us: touch nothing after this
  }

  Handler handler_;
  std::shared_ptr<stream> keep_;
  writable<T>& w_;
  boost::asio::io_context& ctx_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_;
  std::shared_ptr<write_wait> self_;
  listener_id ids_[4]{};
  bool done_ = false;
};

template <chunk T>
struct write_initiation {
  template <class Handler>
  void operator()(Handler&& h, writable<T>* w, T chunk) const {
    boost::asio::io_context& ctx = context_of(*w);
    run_on(ctx, [h = std::forward<Handler>(h), w, keep = w->shared_from_this(),
                 chunk = std::move(chunk), &ctx]() mutable {
      std::error_code err;
      if (w->ended())
        err = make_error_code(errc::write_after_end);
      else if (w->destroyed())
        err = make_error_code(errc::stream_destroyed);
      // Written even when it must fail, so the stream reacts as to any write (Node's rules).
      const bool ok = w->write(std::move(chunk));
      if (!err && !ok && (w->destroyed() || w->errored()))
        err = w->errored() ? w->errored() : make_error_code(errc::stream_destroyed);
      if (err || ok) {
        post_completion(ctx, std::move(h), to_async_error(err));
        return;
      }
      using op = write_wait<std::decay_t<Handler>, T>;
      std::make_shared<op>(std::move(h), std::move(keep), *w, ctx)->start();
    });
  }
};

// One async_end waiting for the end() callback.
template <class Handler>
class end_wait {
 public:
  end_wait(Handler h, std::shared_ptr<stream> keep, boost::asio::io_context& ctx)
      : handler_(std::move(h)), keep_(std::move(keep)), ctx_(ctx), work_(ctx.get_executor()) {}
  void complete(async_error ec) {
    if (done_) return;
    done_ = true;
    auto slot = boost::asio::get_associated_cancellation_slot(handler_);
    if (slot.is_connected()) slot.clear();
    post_completion(ctx_, std::move(handler_), ec);
    work_.reset();
    keep_.reset();
  }
  Handler& handler() noexcept { return handler_; }

 private:
  Handler handler_;
  std::shared_ptr<stream> keep_;
  boost::asio::io_context& ctx_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_;
  bool done_ = false;
};

template <chunk T>
struct end_initiation {
  template <class Handler>
  void operator()(Handler&& h, writable<T>* w, std::optional<T> last) const {
    boost::asio::io_context& ctx = context_of(*w);
    run_on(ctx, [h = std::forward<Handler>(h), w, keep = w->shared_from_this(),
                 last = std::move(last), &ctx]() mutable {
      auto op =
          std::make_shared<end_wait<std::decay_t<Handler>>>(std::move(h), std::move(keep), ctx);
      auto slot = boost::asio::get_associated_cancellation_slot(op->handler());
      if (slot.is_connected()) {
        slot.assign([weak = std::weak_ptr(op)](boost::asio::cancellation_type t) {
          if (t == boost::asio::cancellation_type::none) return;
          if (auto o = weak.lock()) o->complete(aborted());
        });
      }
      auto cb = [op](std::error_code ec) { op->complete(to_async_error(ec)); };
      if (last)
        w->end(std::move(*last), std::move(cb));
      else
        w->end(std::move(cb));
    });
  }
};

// ---- reader ------------------------------------------------------------------------------------

// What a reader shares with its pending operations and its stream listeners.
template <chunk T>
class reader_state : public std::enable_shared_from_this<reader_state<T>> {
 public:
  // A pending async_next / async_next_batch.
  class waiter {
   public:
    waiter() = default;
    waiter(const waiter&) = default;
    waiter(waiter&&) noexcept = default;
    waiter& operator=(const waiter&) = default;
    waiter& operator=(waiter&&) noexcept = default;
    virtual ~waiter() = default;
    // Takes what this operation needs from the stream; false if nothing is there yet.
    virtual bool take(reader_state& s) = 0;
    // Posts the completion with what was taken (nothing on end or error).
    virtual void complete(async_error ec) = 0;
  };

  reader_state(std::shared_ptr<readable<T>> r, bool destroy_on_exit)
      : r_(std::move(r)), ctx_(context_of(*r_)), destroy_on_exit_(destroy_on_exit) {}

  void attach() {
    std::weak_ptr<reader_state> self = this->shared_from_this();
    auto serve = [self] {
      if (auto s = self.lock()) s->serve();
    };
    ids_[0] = r_->on_readable(serve);
    ids_[1] = r_->on_end(serve);
    ids_[2] = r_->on_error([self](std::error_code) {
      if (auto s = self.lock()) s->serve();
    });
    ids_[3] = r_->on_close(serve);
  }

  /// One item, if one can be had now without waiting (and no operation is queued before it).
  std::optional<T> try_take() {
    if (!waiters_.empty()) return std::nullopt;
    return take();
  }

  std::optional<T> take() {
    if (closed_ || r_->destroyed()) return std::nullopt;
    return r_->read();
  }

  /// Appends up to `max` items to `out` (readable::read_into); returns how many.
  std::size_t take_into(std::vector<T>& out, std::size_t max) {
    if (closed_ || r_->destroyed()) return 0;
    return r_->read_into(out, max);
  }

  /// When nothing more will come: the error, or an empty code at the end. nullopt otherwise.
  [[nodiscard]] std::optional<async_error> outcome() const {
    if (closed_) return aborted();
    // After its error, an iteration is over: later operations see the end (Node's iterator
    // rejects one next() and resolves the rest as done).
    if (error_reported_) return async_error();
    if (r_->errored()) return async_error(r_->errored());
    if (r_->readable_ended()) {
      // As Node's for-await: the end comes after 'end' and, when the stream is going to emit
      // it, after 'close' (so the stream is destroyed by then, with auto_destroy).
      if (r_->close_emitted() || !(r_->auto_destroy() && r_->emits_close())) return async_error();
      return std::nullopt;
    }
    if (r_->destroyed()) return async_error(make_error_code(errc::premature_close));
    return std::nullopt;
  }

  /// Notes that `ec` (a real error, not an abort) went to an operation: see outcome().
  void reported(const async_error& ec) noexcept {
    if (ec && ec != boost::asio::error::operation_aborted) error_reported_ = true;
  }

  /// Whether an operation started now completes at once: true with its code in `ec` (and what
  /// it took in `sink`), false if it has to wait. Call on the loop's thread.
  template <class Sink>
  bool try_complete(Sink& sink, async_error& ec) {
    if (closed_) {
      ec = aborted();
      return true;
    }
    if (!waiters_.empty()) return false;
    if (sink.take(*this)) {
      ec = {};
      return true;
    }
    if (auto out = outcome()) {
      ec = *out;
      reported(ec);
      return true;
    }
    return false;
  }

  /// Starts an operation: completes it at once if it can be (no allocation), else queues it.
  template <class Op, class... A>
  void start(typename Op::handler_type&& h, A&&... args) {
    Op now(std::move(h), ctx_, std::forward<A>(args)...);
    async_error ec;
    if (try_complete(now.sink(), ec)) return now.complete(ec);
    auto op = std::make_shared<Op>(std::move(now));
    op->watch(this->weak_from_this());
    waiters_.push_back(std::move(op));
  }

  /// Completes queued operations, in order, as far as the stream allows.
  void serve() {
    auto keep = this->shared_from_this();
    while (!waiters_.empty()) {
      waiter& w = *waiters_.front();
      std::optional<async_error> out;
      if (!w.take(*this)) {
        out = outcome();
        if (!out) break;
      }
      auto op = std::move(waiters_.front());
      waiters_.pop_front();
      const async_error ec = out.value_or(async_error());
      reported(ec);
      op->complete(ec);
    }
  }

  void cancel(const waiter* w) {
    for (auto it = waiters_.begin(); it != waiters_.end(); ++it) {
      if (it->get() == w) {
        auto op = std::move(*it);
        waiters_.erase(it);
        op->complete(aborted());
        return;
      }
    }
  }

  /// The reader is gone: stop listening, fail what is queued, destroy the stream if unfinished.
  void close() {
    if (closed_) return;
    const bool finished = r_->readable_ended() || (r_->eof_pushed() && r_->readable_length() == 0);
    closed_ = true;
    for (listener_id id : ids_)
      if (id) r_->off(id);
    auto ws = std::move(waiters_);
    waiters_.clear();
    for (auto& w : ws) w->complete(aborted());
    // Left before the end: as Node 20's for-await, the stream is destroyed with an AbortError.
    if (destroy_on_exit_ && !finished && !r_->destroyed())
      r_->destroy(make_error_code(errc::aborted));
  }

  [[nodiscard]] readable<T>& stream() const noexcept { return *r_; }
  [[nodiscard]] const std::shared_ptr<readable<T>>& stream_ptr() const noexcept { return r_; }
  [[nodiscard]] boost::asio::io_context& context() const noexcept { return ctx_; }
  [[nodiscard]] bool closed() const noexcept { return closed_; }

 private:
  std::shared_ptr<readable<T>> r_;
  boost::asio::io_context& ctx_;
  std::deque<std::shared_ptr<waiter>> waiters_;
  listener_id ids_[4]{};
  bool destroy_on_exit_;
  bool closed_ = false;
  bool error_reported_ = false;  // an operation completed with the stream's error
};

// What an operation takes from the stream and delivers: one item (async_next), a new vector
// (async_next_batch), or the caller's vector refilled (async_next_batch into a vector).
template <chunk T>
class item_sink {
 public:
  using signature = void(async_error, std::optional<T>);
  bool take(reader_state<T>& s) {
    item_ = s.take();
    return item_.has_value();
  }
  std::optional<T> result() { return std::move(item_); }

 private:
  std::optional<T> item_;
};

template <chunk T>
class batch_sink {
 public:
  using signature = void(async_error, std::vector<T>);
  explicit batch_sink(std::size_t max) : max_(std::max<std::size_t>(max, 1)) {}
  bool take(reader_state<T>& s) {
    if (items_.capacity() == 0) items_.reserve(std::min<std::size_t>(max_, 1024));
    return s.take_into(items_, max_) != 0;
  }
  std::vector<T> result() { return std::move(items_); }

 private:
  std::vector<T> items_;
  std::size_t max_;
};

template <chunk T>
class into_sink {
 public:
  using signature = void(async_error, std::size_t);
  into_sink(std::vector<T>* out, std::size_t max) : out_(out), max_(std::max<std::size_t>(max, 1)) {
    out_->clear();
  }
  bool take(reader_state<T>& s) { return s.take_into(*out_, max_) != 0; }
  std::size_t result() const noexcept { return out_->size(); }

 private:
  std::vector<T>* out_;
  std::size_t max_;
};

// A started async_next / async_next_batch: completes at once (posted) or waits in the queue.
template <class Handler, chunk T, class Sink>
class next_op final : public reader_state<T>::waiter {
 public:
  using handler_type = Handler;

  template <class... A>
  next_op(Handler h, boost::asio::io_context& ctx, A&&... args)
      : handler_(std::move(h)), ctx_(ctx), sink_(std::forward<A>(args)...) {}

  Sink& sink() noexcept { return sink_; }

  bool take(reader_state<T>& s) override { return sink_.take(s); }

  void complete(async_error ec) override {
    auto slot = boost::asio::get_associated_cancellation_slot(handler_);
    if (slot.is_connected()) slot.clear();
    work_.reset();
    post_completion(ctx_, std::move(handler_), ec, sink_.result());
  }

  // Queued: keep the io_context busy and listen for cancellation.
  void watch(std::weak_ptr<reader_state<T>> state) {
    work_.emplace(ctx_.get_executor());
    auto slot = boost::asio::get_associated_cancellation_slot(handler_);
    if (slot.is_connected()) {
      slot.assign([state, self = this](boost::asio::cancellation_type t) {
        if (t == boost::asio::cancellation_type::none) return;
        if (auto s = state.lock()) s->cancel(self);
      });
    }
  }

 private:
  Handler handler_;
  boost::asio::io_context& ctx_;
  std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> work_;
  Sink sink_;
};

template <chunk T, class Sink>
struct next_initiation {
  template <class Handler, class... A>
  void operator()(Handler&& h, std::shared_ptr<reader_state<T>> s, A... args) const {
    boost::asio::io_context& ctx = s->context();
    run_on(ctx, [h = std::forward<Handler>(h), s = std::move(s),
                 a = std::tuple<A...>(std::move(args)...)]() mutable {
      using op = next_op<std::decay_t<Handler>, T, Sink>;
      std::apply([&](A&... x) { s->template start<op>(std::move(h), std::move(x)...); }, a);
    });
  }
};

// The default token (use_awaitable): a coroutine that completes at once, without a post, when
// the stream can answer now (an item is buffered or produced synchronously, the end, the
// error), and awaits the Asio operation otherwise. Asio 1.81 (Boost 1.81) cannot do this from
// inside an initiation: its awaitable handler resumes the coroutine right there, nested in the
// initiating call, so a loop over a synchronous source would recurse once per item.
template <chunk T, class Sink, class... A>
auto next_now_or_later(std::shared_ptr<reader_state<T>> s, A... args)
    -> boost::asio::awaitable<decltype(std::declval<Sink&>().result())> {
  if (s->context().get_executor().running_in_this_thread()) {
    Sink sink(args...);
    async_error ec;
    if (s->try_complete(sink, ec)) {
      if (ec) throw_failure(ec, s->stream());
      co_return sink.result();
    }
  }
  auto keep = s;
  auto [ec, result] =
      co_await boost::asio::async_initiate<const default_as_tuple_t&, typename Sink::signature>(
          next_initiation<T, Sink>{}, default_as_tuple, std::move(s), std::move(args)...);
  if (ec) throw_failure(ec, keep->stream());
  co_return std::move(result);
}

// async_write / async_end with the default token: the operation, awaited, its error thrown as a
// stream_failure that carries the stream's message.
template <class Initiation, class... A>
boost::asio::awaitable<void> await_or_throw(std::shared_ptr<stream> keep, A... args) {
  auto [ec] = co_await boost::asio::async_initiate<const default_as_tuple_t&, void(async_error)>(
      Initiation{}, default_as_tuple, std::move(args)...);
  if (ec) throw_failure(ec, *keep);
}

// async_next / async_next_batch with any token.
template <class Sink, chunk T, class Token, class... A>
auto initiate_next(const std::shared_ptr<reader_state<T>>& s, Token&& token, A... args) {
  if constexpr (std::is_same_v<std::decay_t<Token>, default_token>) {
    return next_now_or_later<T, Sink>(s, std::move(args)...);
  } else {
    return boost::asio::async_initiate<Token, typename Sink::signature>(
        next_initiation<T, Sink>{}, token, s, std::move(args)...);
  }
}

}  // namespace detail

/// Options of a reader.
struct reader_options {
  /// Destroy the stream, with errc::aborted, when the reader goes away before the stream ended
  /// (Node's destroyOnReturn: leaving a `for await` loop early destroys the stream with an
  /// AbortError).
  bool destroy_on_exit = true;
};

/// Iterates a readable<T> with async_next / async_next_batch. It puts the stream in paused mode
/// (a 'readable' listener) and starts reading at once, like Node's async iterator. It holds the
/// queue of pending operations, so they complete in the order they were started. The end is
/// reported after the stream's 'end' and, if it is going to emit one, its 'close' (as Node's
/// for-await); the stream's error goes to one operation, and the ones after it see the end.
/// Destroying the reader completes pending operations with operation_aborted and, unless the
/// stream has ended, destroys it with errc::aborted. Create, use and destroy it on the loop's
/// thread (the operations may be started from anywhere). Movable, not copyable.
template <chunk T>
class reader {
 public:
  /// Starts iterating `r`. Throws std::system_error(errc::invalid_argument) if `r` does not live
  /// on an asio_loop.
  explicit reader(std::shared_ptr<readable<T>> r, reader_options o = {})
      : state_(std::make_shared<detail::reader_state<T>>(std::move(r), o.destroy_on_exit)) {
    state_->attach();
  }
  reader(reader&&) noexcept = default;
  reader& operator=(reader&& o) noexcept {
    if (this != &o) {
      if (state_) state_->close();
      state_ = std::move(o.state_);
    }
    return *this;
  }
  reader(const reader&) = delete;
  reader& operator=(const reader&) = delete;
  ~reader() {
    if (state_) state_->close();
  }

  /// The next item if one is buffered now (no waiting, no suspension), else nullopt. Returns
  /// nullopt as well while async operations are pending, so it never overtakes them.
  [[nodiscard]] std::optional<T> try_next() { return state_->try_take(); }

  /// The stream's end or error has been reached: the reader will yield nothing more.
  [[nodiscard]] bool done() const { return state_->outcome().has_value(); }

  [[nodiscard]] readable<T>& stream() const noexcept { return state_->stream(); }

  /// The next item; nullopt at the end. See async_next().
  template <
      boost::asio::completion_token_for<void(async_error, std::optional<T>)> Token = default_token>
  auto async_next(Token&& token = {}) {
    return detail::initiate_next<detail::item_sink<T>>(state_, std::forward<Token>(token));
  }

  /// At least one and at most `max` items; empty at the end. See async_next_batch().
  template <
      boost::asio::completion_token_for<void(async_error, std::vector<T>)> Token = default_token>
  auto async_next_batch(std::size_t max, Token&& token = {}) {
    return detail::initiate_next<detail::batch_sink<T>>(state_, std::forward<Token>(token), max);
  }

  /// Refills `out` with at least one and at most `max` items; 0 at the end. See
  /// async_next_batch().
  template <boost::asio::completion_token_for<void(async_error, std::size_t)> Token = default_token>
  auto async_next_batch(std::vector<T>& out, std::size_t max, Token&& token = {}) {
    return detail::initiate_next<detail::into_sink<T>>(state_, std::forward<Token>(token), &out,
                                                       max);
  }

 private:
  std::shared_ptr<detail::reader_state<T>> state_;
};

/// Waits for the next item of `rd`'s stream. Completes with the item, with an empty optional at
/// the end, or with the stream's error (errc::premature_close if it was destroyed without one).
/// Items are taken with read() (one item; in byte mode everything buffered), so the stream
/// refills up to its highWaterMark as they are taken. With the default token (use_awaitable)
/// an operation that can complete at once (an item buffered or produced synchronously, the end,
/// the error) does so without a post: the coroutine simply carries on. With any other token the
/// completion is posted, one post per item. Signature: void(async_error, std::optional<T>).
template <chunk T, boost::asio::completion_token_for<void(async_error, std::optional<T>)> Token =
                       default_token>
auto async_next(reader<T>& rd, Token&& token = {}) {
  return rd.async_next(std::forward<Token>(token));
}

/// Waits until at least one item is available, then completes with up to `max` of them (taken
/// in one go with readable::read_into: buffered ones, plus what the stream produces
/// synchronously as they are taken); an empty vector at the end; or the stream's error (items
/// taken before an error are delivered first, the error on the next call). Completes at once as
/// async_next does. Signature: void(async_error, std::vector<T>).
template <chunk T, boost::asio::completion_token_for<void(async_error, std::vector<T>)> Token =
                       default_token>
auto async_next_batch(reader<T>& rd, std::size_t max, Token&& token = {}) {
  return rd.async_next_batch(max, std::forward<Token>(token));
}

/// As above, but into the caller's vector, whose storage is reused from batch to batch (no
/// allocation once it has grown to the batch size): `out` is cleared when the operation starts
/// and holds the items when it completes with their number (0: the end, an error, or
/// cancellation). `out` must outlive the operation and be left alone until it completes.
/// Signature: void(async_error, std::size_t).
template <chunk T,
          boost::asio::completion_token_for<void(async_error, std::size_t)> Token = default_token>
auto async_next_batch(reader<T>& rd, std::vector<T>& out, std::size_t max, Token&& token = {}) {
  return rd.async_next_batch(out, max, std::forward<Token>(token));
}

/// Writes `chunk` to `w` and completes once the stream can take more: at once (posted) when
/// write() returned true, else at 'drain' (or 'finish'). Completes with write_after_end or
/// stream_destroyed when the write was refused, and with the stream's error when it fails while
/// waiting. The stream is kept alive until completion. Signature: void(async_error).
template <chunk T, boost::asio::completion_token_for<void(async_error)> Token = default_token>
auto async_write(writable<T>& w, std::type_identity_t<T> chunk, Token&& token = {}) {
  if constexpr (std::is_same_v<std::decay_t<Token>, default_token>) {
    return detail::await_or_throw<detail::write_initiation<T>>(w.shared_from_this(), &w,
                                                               std::move(chunk));
  } else {
    return boost::asio::async_initiate<Token, void(async_error)>(detail::write_initiation<T>{},
                                                                 token, &w, std::move(chunk));
  }
}

/// Ends `w` (end()) and completes at 'finish', or with the error that prevents it (a stream
/// already destroyed: stream_destroyed; ended twice after finishing: already_finished).
/// Signature: void(async_error).
template <chunk T, boost::asio::completion_token_for<void(async_error)> Token = default_token>
auto async_end(writable<T>& w, Token&& token = {}) {
  if constexpr (std::is_same_v<std::decay_t<Token>, default_token>) {
    return detail::await_or_throw<detail::end_initiation<T>>(w.shared_from_this(), &w,
                                                             std::optional<T>{});
  } else {
    return boost::asio::async_initiate<Token, void(async_error)>(detail::end_initiation<T>{}, token,
                                                                 &w, std::optional<T>{});
  }
}

/// Writes a last chunk, then ends: as async_end.
template <chunk T, boost::asio::completion_token_for<void(async_error)> Token = default_token>
auto async_end(writable<T>& w, std::type_identity_t<T> last, Token&& token = {}) {
  if constexpr (std::is_same_v<std::decay_t<Token>, default_token>) {
    return detail::await_or_throw<detail::end_initiation<T>>(w.shared_from_this(), &w,
                                                             std::optional<T>(std::move(last)));
  } else {
    return boost::asio::async_initiate<Token, void(async_error)>(
        detail::end_initiation<T>{}, token, &w, std::optional<T>(std::move(last)));
  }
}

}  // namespace sluice
