// sluice/core/stream.hpp: what every stream shares.
//
// `stream` is the virtual base of readable<T> and writable<T> (and so, once, of duplex<In, Out>):
// the loop it lives on, its name, the shared lifecycle (construct, destroy, the 'error' and
// 'close' events, exactly once each) and its counters. The side classes plug into the lifecycle
// through the `*_side_*` virtuals below; each of those is overridden by one side only, so a
// duplex never has to disambiguate them.
//
// Ownership: streams are always owned by std::shared_ptr (create them with std::make_shared).
// A pending deferred task keeps its stream alive, the way a pending callback keeps a Node stream
// reachable, so 'close' is delivered even if the user drops every reference after destroy().
// For the same reason a piped stream (source or destination) is held by its loop until it is
// done, finished, ended or destroyed (loop::hold): a chain lives until its data is through.
#pragma once

#include <cassert>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <system_error>
#include <vector>

#include "sluice/core/chunk.hpp"
#include "sluice/core/error.hpp"
#include "sluice/core/loop.hpp"
#include "sluice/core/signal.hpp"

namespace sluice {

/// A completion callback: an empty error_code means success.
using callback = std::function<void(std::error_code)>;

/// Options every stream has.
struct stream_options {
  /// Destroy the stream automatically after 'finish' / 'end' (Node's autoDestroy).
  bool auto_destroy = true;
  /// Emit 'close' after destroy (Node's emitClose).
  bool emit_close = true;
  /// A name for diagnostics: pipeline errors and the monitor use it.
  std::string name{};
};

/// What a stream has seen. Plain counters, updated inline on the data path; they cost an add or
/// a compare per chunk. Units: `size` is chunk_traits<T>::size (bytes or items).
struct stream_counters {
  std::uint64_t chunks_in = 0;   ///< chunks accepted by write()
  std::uint64_t bytes_in = 0;    ///< bytes accepted by write() (0 in object mode)
  std::uint64_t chunks_out = 0;  ///< chunks delivered by the readable side ('data' or read())
  std::uint64_t bytes_out = 0;   ///< bytes delivered by the readable side
  std::size_t peak_writable_length = 0;  ///< highest writable_length() seen
  std::size_t peak_readable_length = 0;  ///< highest readable_length() seen
  std::uint64_t write_backpressure = 0;  ///< episodes where write() returned false
  std::uint64_t push_backpressure = 0;   ///< episodes where push() returned false
  std::uint64_t drains = 0;              ///< 'drain' events emitted
  /// Writes refused by the overflow policy (writable_options::overflow): dropped, or failed with
  /// buffer_overflow.
  std::uint64_t overflowed = 0;
  /// Supervision (docs/supervision.md): items a transform dropped under its skip policy, and
  /// times a supervised source or sink was made again after a failure.
  std::uint64_t items_skipped = 0;
  std::uint64_t restarts = 0;
  /// Total time from write()==false to 'drain', in loop::event_time() steps (no clock read per
  /// chunk).
  loop::duration write_backpressured_time{};
  /// Total time from push()==false to the next read, in loop::event_time() steps.
  loop::duration push_backpressured_time{};
};

template <chunk T>
class readable;
class stream;

/// Which side of a stream a backpressure episode is on: the writable side (write() returned
/// false; the episode ends at 'drain') or the readable side (push() returned false; it ends when
/// the stream is asked to read again).
enum class stream_side : std::uint8_t { writable, readable };

/// Told when a stream's backpressure episodes start and end, as they happen (the monitor,
/// sluice/core/monitor.hpp, is one). A stream has at most one observer (set_observer); a stream
/// without one pays nothing new: the calls sit on the paths that count episodes, not on the
/// per-chunk path. Called on the stream's loop thread, from inside write()/push() or the drain;
/// an observer must not destroy or write to the stream from these calls.
class stream_observer {
 public:
  /// write() (writable side) or push() (readable side) just returned false.
  virtual void backpressure_started(stream& s, stream_side side) = 0;
  /// The episode is over ('drain', or the next read); `lasted` is its length in
  /// loop::event_time() steps, as counted in stream_counters.
  virtual void backpressure_ended(stream& s, stream_side side, loop::duration lasted) = 0;

 protected:
  stream_observer() = default;
  stream_observer(const stream_observer&) = default;
  stream_observer& operator=(const stream_observer&) = default;
  ~stream_observer() = default;
};

class stream : public std::enable_shared_from_this<stream> {
 public:
  stream(const stream&) = delete;
  stream& operator=(const stream&) = delete;
  virtual ~stream();

  [[nodiscard]] sluice::loop& get_loop() const noexcept { return *loop_; }
  [[nodiscard]] const std::string& name() const noexcept { return name_; }
  void set_name(std::string n) { name_ = std::move(n); }

  /// Destroys the stream (Node's destroy(err)). Idempotent: only the first call counts, so the
  /// first error wins. do_destroy runs (after construction if that is still pending), then, on
  /// a later tick, 'error' (if `ec`) and 'close'. Pending writes complete with the error, or with
  /// stream_destroyed when there is none.
  void destroy(std::error_code ec = {});
  /// As destroy(ec); `cb` runs when do_destroy has completed (or at once if already destroyed).
  void destroy(std::error_code ec, callback cb);

  /// As destroy(ec), also recording what failed, so error_message() can name it: `context` is
  /// the operation and its object, e.g. "open 'x.log'" or "inflate at input byte 1234". Like
  /// the error itself, only the first failure's context is kept.
  void fail(std::error_code ec, std::string context);

  [[nodiscard]] bool destroyed() const noexcept { return (state_ & state_destroyed) != 0; }
  [[nodiscard]] bool closed() const noexcept { return closed_; }
  /// The first error the stream met, or an empty code.
  [[nodiscard]] std::error_code errored() const noexcept { return errored_; }
  /// Not destroyed, no error, constructed: the one test the data path makes per chunk.
  [[nodiscard]] bool healthy() const noexcept {
    return (state_ & (state_destroyed | state_errored | state_constructing)) == 0;
  }
  /// Neither destroyed nor errored (construction may still be pending).
  [[nodiscard]] bool intact() const noexcept {
    return (state_ & (state_destroyed | state_errored)) == 0;
  }
  /// What failed, as given to fail() (empty if the stream failed through destroy(ec)).
  [[nodiscard]] const std::string& error_context() const noexcept { return error_context_; }
  /// The first error as one line: "<context>: <message>", or just the message without a context;
  /// empty if the stream has no error.
  [[nodiscard]] std::string error_message() const;

  /// 'error': once at most, on a later tick than the failing call.
  listener_id on_error(std::function<void(std::error_code)> fn);
  /// As on_error, but runs before the listeners already added (pipe() uses it to unpipe first).
  listener_id prepend_on_error(std::function<void(std::error_code)> fn);
  /// 'close': once at most, last of all events.
  listener_id on_close(std::function<void()> fn);
  /// Removes a listener added by any on_*/once_* of this stream. Returns false if unknown.
  virtual bool off(listener_id id);

  [[nodiscard]] const stream_counters& counters() const noexcept { return counters_; }

  /// Sets (or, with nullptr, removes) the observer of this stream's backpressure episodes. One
  /// at a time: the last call wins. The observer must outlive its registration (a monitor
  /// removes itself when it is destroyed).
  void set_observer(stream_observer* o) noexcept { observer_ = o; }
  [[nodiscard]] stream_observer* observer() const noexcept { return observer_; }

  /// The options the stream was made with (Node's autoDestroy / emitClose).
  [[nodiscard]] bool auto_destroy() const noexcept { return auto_destroy_; }
  [[nodiscard]] bool emits_close() const noexcept { return emit_close_; }
  /// 'error' / 'close' went out (Node's errorEmitted / closeEmitted).
  [[nodiscard]] bool error_emitted() const noexcept { return (state_ & state_error_emitted) != 0; }
  [[nodiscard]] bool close_emitted() const noexcept { return (state_ & state_close_emitted) != 0; }
  /// Neither 'error' nor 'close' went out yet.
  [[nodiscard]] bool nothing_emitted() const noexcept {
    return (state_ & (state_error_emitted | state_close_emitted)) == 0;
  }

  /// Listeners currently attached to every event of this stream, all events together. Lets a
  /// caller (and the tests) check that something that attached listeners removed them all.
  [[nodiscard]] virtual std::size_t listener_count() const noexcept {
    return error_signal_.size() + close_signal_.size();
  }

 protected:
  // A virtual base is built by the most derived class, which should not have to know about it:
  // so stream is default-constructed and the side constructors call bind() in their bodies.
  stream() = default;
  void bind(sluice::loop& l, const stream_options& opts);

  /// Release resources. Must call `cb` exactly once, with `ec` or a new error. Default: cb(ec).
  virtual void do_destroy(std::error_code ec, callback cb);
  /// Asynchronous initialization (open a file, connect). Runs on the next tick, but only if the
  /// derived constructor called use_construct(); until `cb` is called no write, read or final
  /// hook runs. An error destroys the stream.
  virtual void do_construct(callback cb);
  /// Opt in to do_construct (call from the derived constructor).
  void use_construct();

  /// Node's errorOrDestroy: destroy with `ec` if auto_destroy, else just record and emit it
  /// (on a later tick when `sync`).
  void error_or_destroy(std::error_code ec, bool sync = false);

  /// Runs `fn` on a later tick, keeping this stream alive until then.
  template <class F>
  void defer(F&& fn) {
    loop_->defer([self = shared_from_this(), f = std::forward<F>(fn)]() mutable { f(); });
  }

  [[nodiscard]] listener_id next_listener_id() noexcept { return listener_id{++listener_seq_}; }
  /// The lifecycle word healthy() tests, for a loop that tests it per item: a reference taken
  /// once, then `(word & unhealthy_bits) == 0`, skips the virtual-base lookup each time.
  [[nodiscard]] const std::uint8_t& lifecycle_word() const noexcept { return state_; }
  static constexpr std::uint8_t unhealthy_bits = 1 | 2 | 4;  // destroyed, errored, constructing
  static constexpr std::uint8_t intact_bits = 1 | 2;         // destroyed, errored
  /// unhealthy_bits and the writable side's run break (set_run_break): a write run stops.
  static constexpr std::uint8_t run_stop_bits = unhealthy_bits | 32;
  /// The writable side is corked or ended (kept by writable's cork(), uncork() and end()): a
  /// write run does not start, or stops after its current item (writable::run_can_continue).
  void set_run_break(bool on) noexcept {
    if (on)
      state_ |= state_run_break;
    else
      state_ &= static_cast<std::uint8_t>(~state_run_break);
  }
  [[nodiscard]] bool constructed() const noexcept { return (state_ & state_constructing) == 0; }
  /// Records `ec` as the stream's error if it has none (first error wins).
  void set_errored(std::error_code ec) noexcept {
    if (ec && !errored_) {
      errored_ = ec;
      state_ |= state_errored;
    }
  }

  // Side hooks. Each is overridden by exactly one side class.
  virtual void writable_side_destroying() {}   // writable: fail pending writes on a later tick
  virtual void writable_side_constructed() {}  // writable: flush buffered writes, maybe finish
  virtual void readable_side_constructed() {}  // readable: start reading if wanted
  /// Whether the readable side lets autoDestroy happen at 'finish' (no readable side: yes).
  [[nodiscard]] virtual bool readable_side_done() const noexcept { return true; }
  /// Whether the writable side lets autoDestroy happen at 'end' (no writable side: yes).
  [[nodiscard]] virtual bool writable_side_done() const noexcept { return true; }
  /// Whether there is a writable side that can still be written (Node's stream.writable).
  [[nodiscard]] virtual bool writable_side_open() const noexcept { return false; }
  /// Ends the writable side, if any (allowHalfOpen: false).
  virtual void writable_side_end() {}

  /// Releases the loop's hold on this stream (hold_while_piped) once it is done: destroyed, or
  /// both of its sides complete. The sides call it after 'end' and 'finish'.
  void release_if_done();

  stream_counters counters_;
  stream_observer* observer_ = nullptr;  // set_observer

 private:
  template <chunk T>
  friend class readable;  // pipe() holds both of its ends
  /// Has the loop keep this stream alive until release_if_done() finds it done (pipe() calls it
  /// for its source and its destination). No-op for a stream already done or not owned by a
  /// shared_ptr.
  void hold_while_piped();
  /// Every side the stream has completed ('end' emitted, 'finish' emitted).
  [[nodiscard]] bool sides_done() const noexcept {
    return readable_side_done() && writable_side_done();
  }

  void start_destroy(std::error_code ec, callback cb);
  void on_destroyed(std::error_code ec, const callback& cb);
  void emit_error_now(std::error_code ec);
  void emit_close_now();
  void on_constructed(std::error_code ec);

  sluice::loop* loop_ = nullptr;
  std::string name_{};
  std::error_code errored_;
  std::string error_context_;
  signal<std::error_code> error_signal_;
  signal<> close_signal_;
  std::uint64_t listener_seq_ = 0;
  // Lifecycle flags (shared by both sides of a duplex, as Node keeps them in step). The ones the
  // data path tests on every chunk are bits of one word, so "all is well" is a single compare.
  enum : std::uint8_t {
    state_destroyed = 1,       // destroy() was called
    state_errored = 2,         // errored_ is set
    state_constructing = 4,    // from use_construct() until do_construct's callback
    state_error_emitted = 8,   // 'error' went out
    state_close_emitted = 16,  // 'close' went out
    state_run_break = 32       // set_run_break
  };
  static_assert(unhealthy_bits == (state_destroyed | state_errored | state_constructing));
  static_assert(intact_bits == (state_destroyed | state_errored));
  static_assert(run_stop_bits == (unhealthy_bits | state_run_break));
  std::uint8_t state_ = 0;
  bool construct_called_ = false;  // do_construct's callback ran (to detect a second call)
  bool closed_ = false;            // do_destroy completed
  bool auto_destroy_ = true;
  bool emit_close_ = true;
  bool held_ = false;  // the loop holds this stream (hold_while_piped)
  // destroy() called before construction finished: completes once construction does.
  std::error_code destroy_after_construct_ec_;
  std::vector<callback> destroy_after_construct_cbs_;
  std::shared_ptr<char> construct_token_;  // lets the deferred do_construct call detect our end
  bool destroy_after_construct_ = false;
};

}  // namespace sluice
