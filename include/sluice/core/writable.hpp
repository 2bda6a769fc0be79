// sluice/core/writable.hpp: writable<T>, the destination end of a stream (Node's stream.Writable).
//
// write() hands a chunk to do_write (or buffers it while a write is in flight, while corked, or
// before construction ends) and returns false once the buffered size reaches the highWaterMark:
// the producer should then wait for 'drain'. end() → do_final → 'prefinish' → 'finish' →
// (autoDestroy) → 'close'. The rules of which of these happen synchronously and which on a later
// tick follow Node's writable.js; docs/concepts.md draws them.
//
// Implement a writable by overriding do_write (and optionally do_writev, do_final, do_destroy,
// do_construct), or build one from lambdas with make_writable() (sluice/core/make.hpp).
#pragma once

#include <algorithm>
#include <cstdint>
#include <deque>
#include <optional>
#include <utility>
#include <vector>

#include "sluice/core/stream.hpp"

namespace sluice {

/// What write() does with a chunk that would take the buffered size past
/// writable_options::max_buffered (docs/writers.md, "Overflow policies"). For producers that
/// cannot wait for 'drain' (a sensor, a datagram socket, a log call on a hot path).
enum class overflow_policy : std::uint8_t {
  wait,         ///< Node's behaviour: buffer it; write() returns false (no hard limit)
  error,        ///< fail the write and the stream with errc::buffer_overflow
  drop_newest,  ///< drop this chunk: its callback gets errc::dropped
  drop_oldest,  ///< drop buffered (not yet started) chunks, oldest first, until it fits; their
                ///< callbacks get errc::dropped (this chunk is dropped if it still does not fit)
};

namespace detail {
/// max_buffered as the stream keeps it: "no limit" for wait. Throws std::system_error
/// (invalid_argument) for a limit given with wait, or a limit below the highWaterMark.
std::size_t resolve_max_buffered(overflow_policy p, std::optional<std::size_t> max_buffered,
                                 std::size_t hwm);
}  // namespace detail

/// Options of a writable (flattened so designated initializers work).
struct writable_options {
  /// Buffered size at which write() starts returning false. Default: the process-wide default
  /// for the stream's mode (64 KiB / 16 items). 0 is valid: every write() returns false.
  std::optional<std::size_t> high_water_mark{};
  bool auto_destroy = true;
  bool emit_close = true;
  std::string name{};
  /// What a write beyond max_buffered does. Under every policy but wait, writable_length() never
  /// exceeds max_buffered.
  overflow_policy overflow = overflow_policy::wait;
  /// The hard limit on the buffered size (same unit as the highWaterMark), for the policies other
  /// than wait; default: the highWaterMark. Must be at least the highWaterMark.
  std::optional<std::size_t> max_buffered{};
};

template <chunk T>
class readable;

template <chunk T>
class writable : public virtual stream {
 public:
  using value_type = T;

  /// Completion of one do_write/do_writev call. Call it exactly once; a second call is reported
  /// as multiple_callback. It refers to the stream without owning it: an implementation that
  /// completes asynchronously must keep the stream alive (capture shared_from_this()).
  class write_callback {
   public:
    /// An empty placeholder (for members assigned later); it must not be called.
    write_callback() = default;
    [[gnu::always_inline]] void operator()() const { w_->on_write_ok(gen_); }
    void operator()(std::error_code ec) const {
      if (ec)
        w_->on_write_done(gen_, ec);
      else
        w_->on_write_ok(gen_);
    }

   private:
    friend class writable;
    write_callback(writable* w, std::uint64_t gen) : w_(w), gen_(gen) {}
    writable* w_ = nullptr;
    std::uint64_t gen_ = 0;
  };

  /// Writes `chunk`. Returns false when the caller should wait for 'drain' before writing more
  /// (buffered size ≥ highWaterMark), and when the stream is destroyed or errored. `cb`, if
  /// given, runs on a later tick once the chunk is handled (or failed). After end() the write
  /// fails with write_after_end: `cb` gets it before the 'error' event.
  bool write(T chunk, const callback& cb) { return write_impl(std::move(chunk), cb) == 1; }
  bool write(T chunk) { return write_impl(std::move(chunk), no_callback_) == 1; }

  /// Ends the stream: no more writes. `cb` runs at 'finish', or with the error that prevents it.
  void end(callback cb = nullptr) { end_impl(std::nullopt, std::move(cb)); }
  /// Writes a last chunk, then ends.
  void end(T chunk, callback cb = nullptr) {
    end_impl(std::optional<T>(std::move(chunk)), std::move(cb));
  }

  /// Buffers writes until the matching uncork(). Calls nest.
  void cork() noexcept {
    ++corked_;
    this->set_run_break(true);
  }
  /// Undoes one cork(); the last one flushes the buffer synchronously (as one do_writev when two
  /// or more chunks are buffered and writev is implemented).
  void uncork() {
    if (corked_ == 0) return;
    if (--corked_ == 0 && !ending_) this->set_run_break(false);
    if (!writing_) clear_buffer();
  }

  [[nodiscard]] std::size_t writable_length() const noexcept { return length_; }
  [[nodiscard]] std::size_t writable_high_water_mark() const noexcept { return hwm_; }
  /// A write returned false and 'drain' has not come yet (Node's writableNeedDrain).
  [[nodiscard]] bool need_drain() const noexcept { return need_drain_ && !destroyed() && !ending_; }
  /// end() was called (Node's writableEnded).
  [[nodiscard]] bool ended() const noexcept { return ending_; }
  /// 'finish' was emitted (Node's writableFinished).
  [[nodiscard]] bool finished() const noexcept { return finished_; }
  [[nodiscard]] unsigned corked() const noexcept { return corked_; }
  /// write() would be accepted (not ended, destroyed or errored): Node's `writable`.
  [[nodiscard]] bool is_writable() const noexcept { return !ending_ && !destroyed() && !errored(); }

  listener_id on_drain(std::function<void()> fn) { return add(drain_, std::move(fn), false); }
  listener_id once_drain(std::function<void()> fn) { return add(drain_, std::move(fn), true); }
  listener_id on_finish(std::function<void()> fn) { return add(finish_, std::move(fn), false); }
  listener_id once_finish(std::function<void()> fn) { return add(finish_, std::move(fn), true); }
  listener_id on_prefinish(std::function<void()> fn) {
    return add(prefinish_, std::move(fn), false);
  }
  /// 'pipe': a readable started piping into this stream; the argument is that source.
  listener_id on_pipe(std::function<void(stream&)> fn) { return add(pipe_, std::move(fn), false); }
  /// 'unpipe': a readable stopped piping into this stream (unpipe(), or this stream finished,
  /// failed or closed); the argument is that source.
  listener_id on_unpipe(std::function<void(stream&)> fn) {
    return add(unpipe_, std::move(fn), false);
  }
  bool off(listener_id id) override {
    return drain_.disconnect(id) || finish_.disconnect(id) || prefinish_.disconnect(id) ||
           pipe_.disconnect(id) || unpipe_.disconnect(id) || stream::off(id);
  }
  [[nodiscard]] std::size_t drain_listener_count() const noexcept { return drain_.size(); }
  [[nodiscard]] std::size_t listener_count() const noexcept override {
    return stream::listener_count() + writable_listener_count();
  }
  /// Listeners on this side's own events (duplex adds both sides).
  [[nodiscard]] std::size_t writable_listener_count() const noexcept {
    return drain_.size() + finish_.size() + prefinish_.size() + pipe_.size() + unpipe_.size();
  }

 protected:
  writable(sluice::loop& l, const writable_options& o)
      : hwm_(detail::resolve_high_water_mark(o.high_water_mark, mode_of<T>(), "high_water_mark")),
        max_buffered_(detail::resolve_max_buffered(o.overflow, o.max_buffered, hwm_)),
        overflow_(o.overflow),
        no_runs_(o.overflow != overflow_policy::wait) {
    bind(l, stream_options{o.auto_destroy, o.emit_close, o.name});
  }
  // For duplex, which binds the shared stream base itself.
  explicit writable(const writable_options& o)
      : hwm_(detail::resolve_high_water_mark(o.high_water_mark, mode_of<T>(),
                                             "writable_high_water_mark")),
        max_buffered_(detail::resolve_max_buffered(o.overflow, o.max_buffered, hwm_)),
        overflow_(o.overflow),
        no_runs_(o.overflow != overflow_policy::wait) {}

  /// Handles one chunk; call `cb` exactly once when done (synchronously or later). Default: pass
  /// it to do_writev as a batch of one, or fail with method_not_implemented.
  virtual void do_write(T&& chunk, write_callback cb) {
    std::vector<T> one;
    one.push_back(std::move(chunk));
    if (!do_writev(one, cb)) cb(make_error_code(errc::method_not_implemented));
  }
  /// Handles every buffered chunk at once (gather I/O). Return false, without calling `cb`, if
  /// not implemented: the default does, and the stream then writes chunk by chunk.
  virtual bool do_writev(std::vector<T>& chunks, write_callback cb) {
    (void)chunks;
    (void)cb;
    return false;
  }
  /// What do_write_run did with a run.
  struct run_outcome {
    std::size_t taken = 0;     ///< items taken from the front of the run
    std::size_t done = 0;      ///< of those, completed successfully during the call
    std::size_t last_len = 0;  ///< chunk_traits size of the last item taken
    /// When taken - done is 1, the last item taken failed with this error, or, when it is empty,
    /// is still in flight: its completion is a run_item_callback() the implementation keeps.
    std::error_code error{};
  };

  /// A run: the items a pipe hands over in one go (docs/concepts.md, "Runs"). Takes items from
  /// the front, as do_write would one by one, while each completes during the call, and stops
  /// after the first that does not (or when run_can_continue() says so). Default: do_write for
  /// each item.
  virtual run_outcome do_write_run(T* items, std::size_t n) {
    return run_each(items, n,
                    [this](T&& x, write_callback cb) { do_write(std::move(x), std::move(cb)); });
  }

  /// do_write_run's loop, with `write(T&&, write_callback)` in the place of do_write.
  template <class F>
  [[gnu::flatten]] run_outcome run_each(T* items, std::size_t n, F&& write) {
    // (The counts are locals until the end: kept in registers, not stored per item.)
    std::size_t taken = 0;
    std::size_t done = 0;
    std::size_t last_len = 0;
    std::error_code error;
    // gen_ is counted here and stored per item (no other write starts while the run is in
    // progress: write() buffers).
    std::uint64_t gen = gen_;
    for (;;) {
      T& x = items[taken];
      last_len = chunk_traits<T>::size(x);
      ++taken;
      write_cb_state_ = cb_run_expected;
      gen_ = ++gen;
      write(std::move(x), write_callback(this, gen));
      if (write_cb_state_ != cb_none) [[unlikely]] {
        if (write_cb_state_ == cb_run_failed) {  // failed during its call (on_write_done)
          write_cb_state_ = cb_none;
          error = std::exchange(run_error_, {});
        } else {
          write_cb_state_ = cb_expected;  // completes later, as any write
        }
        break;
      }
      ++done;
      if (taken == n || !run_can_continue()) break;
    }
    return {taken, done, last_len, error};
  }

  /// In do_write_run: a completion for the item just taken, when it does not complete now.
  write_callback run_item_callback() noexcept {
    write_cb_state_ = cb_expected;
    return write_callback(this, ++gen_);
  }
  /// In do_write_run: whether to take another item (still healthy, not ended or corked by the
  /// items so far).
  [[nodiscard]] bool run_can_continue() const noexcept {
    // (One test: the run break bit is set while corked or ended.)
    return (*run_state_ & run_stop_bits) == 0;
  }

  /// Opt in to accept()/acknowledge() (call from the derived constructor). Such a stream takes
  /// no runs: every write reaches do_write or do_writev.
  void use_accept() noexcept {
    accepts_ = true;
    no_runs_ = true;
  }

  /// use_accept(), and runs as well (object mode with the default, unit-size chunk traits): a
  /// pipe may hand over many items in one call of do_accept_run(), each of them accepted. Plain
  /// writes still reach do_write. An overflow policy other than wait keeps runs off.
  void use_accept_runs() noexcept {
    static_assert(is_unit_size<T>, "use_accept_runs() needs object mode with unit-size chunks");
    accepts_ = true;
    accept_runs_ = true;
    no_runs_ = overflow_ != overflow_policy::wait;
  }

  /// With use_accept_runs(): takes all of items[0..n) (moving from them), in order, each as a
  /// write accepted at once, as n do_write calls that each call accept() would. They are
  /// counted and accepted before the call, so acknowledge() may cover them from inside it (a
  /// batch filled and flushed at once). n is at least 1.
  virtual void do_accept_run(T* items, std::size_t n) {
    (void)items;
    (void)n;
  }

  /// 'drain' comes once writable_length() is at most `n` (default 0: once everything written
  /// has completed, Node's rule). For writers that accept writes and complete them in groups
  /// (batch_writer: room for a batch is room enough), so the producer fills the next group while
  /// the last one completes instead of waiting for both. Clamped below the highWaterMark.
  void set_drain_threshold(std::size_t n) noexcept {
    drain_at_ = hwm_ == 0 ? 0 : std::min(n, hwm_ - 1);
  }

  /// In do_write/do_writev (or later), instead of calling `cb`: the write is *accepted*. The
  /// next write may reach do_write at once, but the chunk stays counted in writable_length(), so
  /// write() and 'drain' still see it, and its callback, and 'finish', wait until acknowledge()
  /// covers it. For writers whose work is done later and in groups (batch_writer: a write is done
  /// when the batch holding it was flushed). Needs use_accept(). Accepting a write that already
  /// completed (or completing one that was accepted) is a multiple_callback error.
  void accept(const write_callback& cb) {
    assert(accepts_ && "accept() needs use_accept() in the constructor");
    if (cb.w_ != this || write_cb_state_ != cb_expected || cb.gen_ != gen_) [[unlikely]] {
      error_or_destroy(make_error_code(errc::multiple_callback));
      return;
    }
    if (!inflight_cb_ && !inflight_batch_ && !accepted_.empty() && accepted_.back().plain() &&
        accepted_.back().len == writelen_) {
      ++accepted_.back().count;  // a run of plain writes of one size (object mode): one entry
    } else {
      accepted_entry e{1, writelen_, std::move(inflight_cb_), {}};
      inflight_cb_ = nullptr;
      if (inflight_batch_) {
        e.more.swap(inflight_batch_cbs_);
        inflight_batch_ = false;
      }
      accepted_.push_back(std::move(e));
    }
    ++accepted_count_;
    plain_gen_ = 0;
    writing_ = false;
    write_cb_state_ = cb_none;
    writelen_ = 0;
    if (!buffered_.empty()) clear_buffer();
  }

  /// Completes the `n` oldest accepted writes (each do_write or do_writev call accepted counts
  /// one), in the order they were accepted: their callbacks run with success, on a later tick if
  /// called from inside do_write. With `ec`, they fail with it and so does the stream, as when a
  /// write fails. After destroy() (which failed every accepted write with stream_destroyed) it
  /// does nothing; acknowledging more than are waiting is a multiple_callback error.
  void acknowledge(std::size_t n, std::error_code ec = {}) {
    if (n == 0 || destroyed()) return;
    if (n > accepted_count_) [[unlikely]] {
      if (!destroyed() && !errored()) error_or_destroy(make_error_code(errc::multiple_callback));
      return;
    }
    accepted_count_ -= n;
    std::vector<callback> cbs;
    for (std::size_t left = n; left != 0;) {
      accepted_entry& e = accepted_.front();
      const std::size_t k = std::min(left, e.count);
      length_ -= k * e.len;
      left -= k;
      if ((e.count -= k) != 0) break;  // part of a run of plain writes
      if (e.cb) cbs.push_back(std::move(e.cb));
      for (auto& c : e.more) cbs.push_back(std::move(c));
      accepted_.pop_front();
    }
    if (ec) [[unlikely]] {
      set_errored(ec);
      pendingcb_ -= n - 1;  // on_write_error takes the last one
      if (sync_ || completion_ticks_ != 0)
        defer_completion([this, ec, cbs = std::move(cbs)] { on_write_error(ec, cbs); });
      else
        on_write_error(ec, cbs);
      return;
    }
    if (sync_ || completion_ticks_ != 0)
      defer_completion([this, n, cbs = std::move(cbs)] { after_write(n, nullptr, cbs); });
    else
      after_write(n, nullptr, cbs);
  }

  /// Accepted writes not yet acknowledged.
  [[nodiscard]] std::size_t accepted_count() const noexcept { return accepted_count_; }

  /// Runs after end(), once every write has completed (or, with use_accept(), been accepted);
  /// 'finish' waits for `cb` and for every accepted write's acknowledgement.
  virtual void do_final(callback cb) {
    final_is_default_ = true;  // lets the stream behave as Node does for a stream without _final
    cb({});
  }

  // stream side hooks
  void writable_side_destroying() override {
    // Pending writes and end() callbacks fail on a later tick (Node's errorBuffer). As in
    // Node 20, only what is pending now: an end() callback added later is never called.
    // Completions queued by then run first; one queued after this (a held write that
    // do_destroy fails) fails the rest itself, after its own callback (after_write,
    // on_write_error).
    if (!buffered_.empty() || !on_finished_.empty() || !accepted_.empty())
      defer([this] {
        if (completion_ticks_ == 0) error_buffer();
      });
  }
  void writable_side_constructed() override {
    if (!writing_) clear_buffer();
    finish_maybe(false);
  }
  [[nodiscard]] bool writable_side_done() const noexcept override { return finished_; }
  [[nodiscard]] bool writable_side_open() const noexcept override { return is_writable(); }
  void writable_side_end() override {
    if (is_writable()) end();
  }

 private:
  struct entry {
    T chunk;
    callback cb;
  };
  // Accepted writes (accept()): one with callbacks, or a run of `count` plain writes of one size.
  // Their sizes are still in length_.
  struct accepted_entry {
    std::size_t count = 1;
    std::size_t len = 0;         // the size of each
    callback cb;                 // the write's callback (one do_write)
    std::vector<callback> more;  // the callbacks of a do_writev's chunks
    [[nodiscard]] bool plain() const noexcept { return !cb && more.empty(); }
  };
  enum class writev_support : std::uint8_t { unknown, yes, no };

  template <class... A>
  listener_id add(signal<A...>& s, std::function<void(A...)> fn, bool once) {
    const listener_id id = next_listener_id();
    s.connect(id, std::move(fn), once);
    return id;
  }

  // Returns 1 if write() should return true, 0 for false, -1 when the write failed at once.
  int write_impl(T&& chunk, const callback& cb) {
    if (ending_ || destroyed()) [[unlikely]]
      return write_rejected(cb);
    const std::size_t len = chunk_traits<T>::size(chunk);
    if (length_ + len > max_buffered_) [[unlikely]] {
      if (!make_room(len)) return write_overflowed(len, cb);
    }
    ++pendingcb_;
    ++counters_.chunks_in;
    counters_.bytes_in += chunk_traits<T>::bytes(chunk);
    length_ += len;
    if (length_ > counters_.peak_writable_length) counters_.peak_writable_length = length_;
    if (writing_ || corked_ != 0 || !healthy()) {
      buffer_write(std::move(chunk), cb);
    } else {
      writelen_ = len;
      if (cb) [[unlikely]]
        inflight_cb_ = cb;
      start_write_call(!cb);
      do_write(std::move(chunk), write_callback(this, gen_));
      sync_ = false;
    }
    // An empty buffer never asks for a drain, even at hwm 0 (a synchronous sink kept up).
    const bool ret = length_ < hwm_ || length_ == 0;
    if (!ret && !need_drain_) note_write_backpressure();
    return ret && intact() ? 1 : 0;
  }

  // Whether write_run would take anything: the stream is idle (nothing in flight or buffered,
  // not corked, constructed, healthy, not ending).
  [[nodiscard]] bool can_take_run() const noexcept {
    return !writing_ && (lifecycle_word() & run_stop_bits) == 0 && buffered_.empty() && !no_runs_;
  }

  // What write_run did: items taken from the front (the rest are untouched, for the caller to
  // write one by one), their chunk_traits bytes, and what the last write() would have returned.
  struct run_taken {
    std::size_t taken = 0;
    std::uint64_t bytes = 0;
    bool ok = true;
  };

  // A run: what n plain write() calls of items[0..n) would do, as a pipe makes them, in one
  // call while each item completes synchronously (docs/concepts.md, "Runs").
  run_taken write_run(T* items, std::size_t n) {
    if (n == 0 || !can_take_run()) return {};
    if (accept_runs_) return accept_run(items, n);
    std::uint64_t bytes = 0;
    std::size_t peak = 0;
    for (std::size_t i = 0; i < n; ++i) {
      bytes += chunk_traits<T>::bytes(items[i]);
      peak = std::max(peak, chunk_traits<T>::size(items[i]));
    }
    if (peak > counters_.peak_writable_length) counters_.peak_writable_length = peak;
    writing_ = true;
    sync_ = true;
    run_state_ = &lifecycle_word();
    plain_gen_ = 0;
    length_ = writelen_ = chunk_traits<T>::size(items[0]);
    const run_outcome r = do_write_run(items, n);
    for (std::size_t i = r.taken; i < n; ++i) bytes -= chunk_traits<T>::bytes(items[i]);
    counters_.chunks_in += r.taken;
    counters_.bytes_in += bytes;
    pendingcb_ += r.done;
    if (r.done != 0) add_plain_completions(r.done);
    if (r.done == r.taken) {
      writing_ = false;
      write_cb_state_ = cb_none;
      length_ = writelen_ = 0;
    } else {
      // The last item is the write in flight now; its callback completes it as any write's,
      // and if it already failed during its call, it completes now, as a synchronous failure.
      ++pendingcb_;
      length_ = writelen_ = r.last_len;
      if (r.error) {
        write_cb_state_ = cb_expected;
        on_write_done(gen_, r.error);
      }
    }
    sync_ = false;
    if (!writing_ && !buffered_.empty()) clear_buffer();  // written to during the run
    const bool ret = length_ < hwm_ || length_ == 0;
    if (!ret && !need_drain_) note_write_backpressure();
    return {r.taken, bytes, ret && intact()};
  }

  // write_run on a use_accept_runs() stream: the items that plain write() calls would hand over
  // before one returns false (the first always; then while below the highWaterMark), accepted.
  run_taken accept_run(T* items, std::size_t n) {
    std::size_t k = length_ < hwm_ ? std::min(n, hwm_ - length_) : 1;
    std::uint64_t bytes = 0;
    for (std::size_t i = 0; i < k; ++i) bytes += chunk_traits<T>::bytes(items[i]);
    counters_.chunks_in += k;
    counters_.bytes_in += bytes;
    pendingcb_ += k;
    length_ += k;
    if (length_ > counters_.peak_writable_length) counters_.peak_writable_length = length_;
    if (!accepted_.empty() && accepted_.back().plain() && accepted_.back().len == 1)
      accepted_.back().count += k;
    else
      accepted_.push_back(accepted_entry{k, 1, {}, {}});
    accepted_count_ += k;
    writing_ = true;  // a write made from inside the run is buffered
    sync_ = true;     // an acknowledgement from inside completes on a later tick
    do_accept_run(items, k);
    sync_ = false;
    writing_ = false;
    if (!buffered_.empty()) clear_buffer();
    const bool ret = length_ < hwm_ || length_ == 0;
    if (!ret && !need_drain_) note_write_backpressure();
    return {k, bytes, ret && intact()};
  }

  // `k` plain writes completed synchronously: they share the queued completion tick.
  [[gnu::always_inline]] void add_plain_completions(std::size_t k) {
    if (after_write_batch* b = current_batch_.get(); b && b->nop)
      b->count += k;
    else
      schedule_plain_after_write(k);
  }

  // write() after end() or destroy(): the callback (on a later tick) and the error.
  [[gnu::noinline]] int write_rejected(const callback& cb) {
    const std::error_code err =
        make_error_code(ending_ ? errc::write_after_end : errc::stream_destroyed);
    if (cb) defer([cb, err] { cb(err); });
    error_or_destroy(err, true);
    return -1;
  }

  // drop_oldest: drops buffered chunks (not the one in flight, nor accepted ones), oldest first,
  // until `len` more fits under max_buffered. Returns whether it fits.
  [[gnu::noinline]] bool make_room(std::size_t len) {
    if (overflow_ != overflow_policy::drop_oldest) return false;
    const std::error_code dropped = make_error_code(errc::dropped);
    while (length_ + len > max_buffered_ && !buffered_.empty()) {
      entry e = std::move(buffered_.front());
      buffered_.pop_front();
      length_ -= chunk_traits<T>::size(e.chunk);
      --pendingcb_;
      ++counters_.overflowed;
      if (e.cb) defer([cb = std::move(e.cb), dropped] { cb(dropped); });
    }
    return length_ + len <= max_buffered_;
  }

  // A write the overflow policy refuses: dropped (write() returns false, as a full buffer's
  // does, and a 'drain' follows once it empties), or, under error, failing the stream.
  [[gnu::noinline]] int write_overflowed(std::size_t len, const callback& cb) {
    ++counters_.overflowed;
    if (overflow_ == overflow_policy::error) {
      const std::error_code ec = make_error_code(errc::buffer_overflow);
      if (cb) defer([cb, ec] { cb(ec); });
      fail(ec, "write of " + std::to_string(len) + " with " + std::to_string(length_) +
                   " buffered, beyond max_buffered " + std::to_string(max_buffered_));
      return -1;
    }
    if (cb) defer([cb] { cb(make_error_code(errc::dropped)); });
    if (!need_drain_ && length_ != 0) note_write_backpressure();
    return 0;
  }

  [[gnu::noinline]] void buffer_write(T&& chunk, const callback& cb) {
    buffered_.push_back(entry{std::move(chunk), cb});
  }

  [[gnu::noinline]] void note_write_backpressure() {
    need_drain_ = true;
    ++counters_.write_backpressure;
    backpressure_since_ = get_loop().event_time();
    if (observer_) observer_->backpressure_started(*this, stream_side::writable);
  }

  // `plain`: a single write without a user callback, whose synchronous success on_write_ok
  // may complete on its short path.
  void start_write_call(bool plain) noexcept {
    writing_ = true;
    sync_ = true;
    write_cb_state_ = cb_expected;
    ++gen_;
    plain_gen_ = plain ? gen_ : 0;
  }

  // A successful completion. The common case (a synchronous write without callbacks) stays
  // short: no error_code, no callback moves.
  [[gnu::always_inline]] void on_write_ok(std::uint64_t gen) {
    if (write_cb_state_ == cb_run_expected && gen == gen_) {
      write_cb_state_ = cb_none;  // an item of a run, completed during its call (run_each)
      return;
    }
    // plain_gen_ == gen: the write in flight is `gen`, has not called back, and is plain.
    if (gen != plain_gen_ || !sync_) [[unlikely]] {
      on_write_done(gen, std::error_code());
      return;
    }
    plain_gen_ = 0;
    writing_ = false;
    write_cb_state_ = cb_none;
    length_ -= writelen_;
    writelen_ = 0;
    if (!buffered_.empty()) clear_buffer();
    // Node's afterWriteTickInfo: completions without a callback share the queued tick.
    if (after_write_batch* b = current_batch_.get(); b && b->nop)
      ++b->count;
    else
      schedule_plain_after_write();
  }

  [[gnu::noinline]] void schedule_plain_after_write(std::size_t count = 1) {
    schedule_after_write({}, {});
    current_batch_->count = count;
  }

  [[gnu::noinline]] void on_write_done(std::uint64_t gen, std::error_code ec) {
    if (write_cb_state_ == cb_run_expected && gen == gen_) {
      // An item of a run, completed during its call: write_run takes it from here.
      write_cb_state_ = ec ? cb_run_failed : cb_none;
      run_error_ = ec;
      return;
    }
    if (write_cb_state_ != cb_expected || gen != gen_) [[unlikely]] {
      error_or_destroy(make_error_code(errc::multiple_callback));
      return;
    }
    const bool sync = sync_;
    // Completions of earlier writes still queued: this one goes behind them (those that
    // clear_buffer below queues are later writes', and do not count).
    const bool behind = completion_ticks_ != 0;
    plain_gen_ = 0;
    writing_ = false;
    write_cb_state_ = cb_none;
    length_ -= writelen_;
    writelen_ = 0;
    // The completed write's callbacks are ours now, before clear_buffer starts the next write.
    callback cb = std::move(inflight_cb_);
    inflight_cb_ = nullptr;
    std::vector<callback> batch;
    if (inflight_batch_) {
      batch.swap(inflight_batch_cbs_);
      inflight_batch_ = false;
    }
    if (ec) [[unlikely]] {
      set_errored(ec);
      if (cb) batch.insert(batch.begin(), std::move(cb));
      if (sync || behind)
        defer_completion([this, ec, batch = std::move(batch)] { on_write_error(ec, batch); });
      else
        on_write_error(ec, batch);
      return;
    }
    if (!sync && behind) {
      // Queued before the completions of the writes clear_buffer starts, to keep the order.
      schedule_after_write(std::move(cb), std::move(batch));
      if (!buffered_.empty()) clear_buffer();
      return;
    }
    if (!buffered_.empty()) clear_buffer();
    if (!sync) {
      after_write(1, cb, batch);
    } else if (!cb && batch.empty()) {
      // Node's afterWriteTickInfo: completions without a callback share the queued tick.
      if (current_batch_ && current_batch_->nop) {
        ++current_batch_->count;
      } else {
        schedule_after_write({}, {});
      }
    } else if (current_batch_ && !current_batch_->nop &&
               after_write_seq_ == get_loop().defer_sequence()) {
      // Our completion tick is still the newest one queued: joining it reorders nothing.
      ++current_batch_->count;
      if (cb) current_batch_->cbs.push_back(std::move(cb));
      for (auto& c : batch) current_batch_->cbs.push_back(std::move(c));
    } else {
      schedule_after_write(std::move(cb), std::move(batch));
    }
  }

  // Queues a completion (write callbacks, 'finish') for a later tick. While one is queued, later
  // completions queue behind it, even those that could run at once, so that callbacks run in
  // the order of the writes.
  template <class F>
  void defer_completion(F&& f) {
    ++completion_ticks_;
    defer([this, f = std::forward<F>(f)]() mutable {
      --completion_ticks_;
      f();
    });
  }

  // Completions of synchronous writes are delivered on the next tick, batched.
  [[gnu::noinline]] void schedule_after_write(callback cb, std::vector<callback> batch) {
    auto b = std::make_shared<after_write_batch>();
    b->count = 1;
    b->nop = !cb && batch.empty();
    b->cbs = std::move(batch);
    if (cb) b->cbs.insert(b->cbs.begin(), std::move(cb));
    current_batch_ = b;
    defer_completion([this, b] {
      // As in Node, any completion tick ends the batching of the newest one.
      current_batch_.reset();
      after_write(b->count, nullptr, b->cbs);
    });
    after_write_seq_ = get_loop().defer_sequence();
  }

  void after_write(std::size_t count, const callback& cb, const std::vector<callback>& cbs) {
    if (need_drain_ && length_ <= drain_at_ && !ending_ && !destroyed()) {
      need_drain_ = false;
      ++counters_.drains;
      const loop::duration lasted = get_loop().event_time() - backpressure_since_;
      counters_.write_backpressured_time += lasted;
      if (observer_) observer_->backpressure_ended(*this, stream_side::writable, lasted);
      drain_.emit();
    }
    pendingcb_ -= count;
    if (cb) cb({});
    for (const auto& c : cbs) c({});
    // Once destroyed, what is still pending fails, but only after the completions already
    // queued have been delivered: callbacks keep their order, and an end() callback agrees
    // with the 'finish' a queued tick is about to emit.
    if (destroyed() && completion_ticks_ == 0) error_buffer();
    if (ending_) finish_maybe(true);
  }

  void on_write_error(std::error_code ec, const std::vector<callback>& cbs) {
    --pendingcb_;
    for (const auto& c : cbs) c(ec);
    error_buffer();
    error_or_destroy(ec);
  }

  // Fails every buffered write and end() callback (Node's errorBuffer).
  void error_buffer() {
    if (writing_) return;
    const std::error_code e = errored() ? errored() : make_error_code(errc::stream_destroyed);
    auto pending = std::move(buffered_);
    buffered_.clear();
    for (auto& b : pending) {
      length_ -= chunk_traits<T>::size(b.chunk);
      if (b.cb) b.cb(e);
    }
    // Accepted writes not acknowledged: they fail too (a later acknowledge() finds none).
    auto accepted = std::move(accepted_);
    accepted_.clear();
    accepted_count_ = 0;
    for (auto& a : accepted) {
      length_ -= a.count * a.len;
      if (a.cb) a.cb(e);
      for (auto& c : a.more) c(e);
    }
    call_finished_callbacks(errored() ? errored() : make_error_code(errc::stream_destroyed));
  }

  // Starts writing what was buffered (Node's clearBuffer).
  [[gnu::noinline]] void clear_buffer() {
    if (destroyed() || buffer_processing_ || corked_ != 0 || buffered_.empty() || !constructed())
      return;
    buffer_processing_ = true;
    const std::size_t n = buffered_.size();
    if (n > 1 && writev_ != writev_support::no && start_writev(n)) {
      buffer_processing_ = false;
      return;
    }
    do {
      entry e = std::move(buffered_.front());
      buffered_.pop_front();
      writelen_ = chunk_traits<T>::size(e.chunk);
      inflight_cb_ = std::move(e.cb);
      start_write_call(!inflight_cb_);
      if (destroyed())
        on_write_done(gen_, make_error_code(errc::stream_destroyed));
      else
        do_write(std::move(e.chunk), write_callback(this, gen_));
      sync_ = false;
    } while (!buffered_.empty() && !writing_);
    buffer_processing_ = false;
  }

  // One do_writev for all n buffered chunks. Returns false if writev turns out unsupported.
  bool start_writev(std::size_t n) {
    std::vector<T> chunks;
    chunks.reserve(n);
    for (auto& b : buffered_) chunks.push_back(std::move(b.chunk));
    pendingcb_ -= n - 1;
    writelen_ = length_;
    for (auto& b : buffered_)
      if (b.cb) inflight_batch_cbs_.push_back(b.cb);
    inflight_batch_ = true;
    start_write_call(false);
    if (writev_ == writev_support::unknown) {
      // Probe: the default do_writev declines without touching the batch.
      auto saved = std::move(buffered_);
      buffered_.clear();
      if (do_writev(chunks, write_callback(this, gen_))) {
        writev_ = writev_support::yes;
        sync_ = false;
        return true;
      }
      writev_ = writev_support::no;
      buffered_ = std::move(saved);
      for (std::size_t i = 0; i < n; ++i) buffered_[i].chunk = std::move(chunks[i]);
      pendingcb_ += n - 1;
      inflight_batch_cbs_.clear();
      inflight_batch_ = false;
      writing_ = sync_ = false;
      write_cb_state_ = cb_none;
      return false;
    }
    buffered_.clear();
    do_writev(chunks, write_callback(this, gen_));
    sync_ = false;
    return true;
  }

  void end_impl(std::optional<T> chunk, callback cb) {
    std::error_code err;
    if (chunk && write_impl(std::move(*chunk), no_callback_) < 0)
      err = ending_ ? make_error_code(errc::write_after_end)
                    : make_error_code(errc::stream_destroyed);
    if (corked_ != 0) {
      corked_ = 1;
      uncork();
    }
    if (err) {
      // reported through the write
    } else if (!ending_ && !errored()) {
      ending_ = true;
      this->set_run_break(true);
      finish_maybe(true);
    } else if (finished_) {
      err = make_error_code(errc::already_finished);
    } else if (destroyed()) {
      err = make_error_code(errc::stream_destroyed);
    }
    if (!cb) return;
    if (err)
      defer([cb, err] { cb(err); });
    else if (errored())
      defer([cb, e = errored()] { cb(e); });
    else if (finished_)
      defer([cb] { cb({}); });
    else
      on_finished_.push_back(std::move(cb));
  }

  // Every write has completed or been accepted: do_final may run.
  [[nodiscard]] bool need_final() const noexcept {
    return ending_ && !destroyed() && constructed() && !errored() && buffered_.empty() &&
           !finished_ && !writing_ && !error_emitted() && !close_emitted();
  }
  // ... and every accepted write has been acknowledged: 'finish' may come.
  [[nodiscard]] bool need_finish() const noexcept {
    return need_final() && length_ == 0 && accepted_.empty();
  }

  void prefinish() {
    if (prefinished_ || final_called_) return;
    if (destroyed()) {
      final_called_ = prefinished_ = true;
      prefinish_.emit();
      return;
    }
    final_called_ = true;
    sync_ = true;
    ++pendingcb_;
    do_final([self = shared_from_this(), this](std::error_code ec) { on_final_done(ec); });
    sync_ = false;
  }

  void on_final_done(std::error_code ec) {
    if (final_done_) {
      error_or_destroy(ec ? ec : make_error_code(errc::multiple_callback));
      return;
    }
    final_done_ = true;
    --pendingcb_;
    if (final_is_default_) {
      // No do_final: 'prefinish' now; finish_maybe decides about 'finish' (Node's prefinish()).
      prefinished_ = true;
      prefinish_.emit();
      return;
    }
    if (ec) {
      call_finished_callbacks(ec);
      error_or_destroy(ec, sync_);
    } else if (need_finish()) {
      prefinished_ = true;
      prefinish_.emit();
      if (destroyed()) return;  // by a 'prefinish' listener: no 'finish', end() callbacks fail
      ++pendingcb_;
      defer_completion([this] { finish(); });
    }
  }

  void finish_maybe(bool sync) {
    if (!need_final()) return;
    prefinish();
    if (!need_finish()) return;  // accepted writes still to be acknowledged
    if (final_done_ && !prefinished_) {
      // do_final completed before the last acknowledgement: 'prefinish' now.
      prefinished_ = true;
      prefinish_.emit();
    }
    if (pendingcb_ != 0) return;
    if (sync) {
      ++pendingcb_;
      defer_completion([this] {
        if (need_finish())
          finish();
        else
          --pendingcb_;
      });
    } else if (need_finish()) {
      ++pendingcb_;
      finish();
    }
  }

  void finish() {
    --pendingcb_;
    finished_ = true;
    call_finished_callbacks({});
    finish_.emit();
    this->release_if_done();
    if (auto_destroy() && readable_side_done()) destroy();
  }

  void call_finished_callbacks(std::error_code ec) {
    if (on_finished_.empty()) return;
    auto cbs = std::move(on_finished_);
    on_finished_.clear();
    for (auto& c : cbs) c(ec);
  }

  static inline const callback no_callback_{};
  std::size_t hwm_;
  std::size_t length_ = 0;       // size of chunks written or buffered but not yet acknowledged
  std::size_t writelen_ = 0;     // size of the write in flight
  std::size_t pendingcb_ = 0;    // writes whose completion has not been delivered yet
  std::uint64_t gen_ = 0;        // identifies the write in flight, to catch a second callback
  std::uint64_t plain_gen_ = 0;  // gen_ while a plain write (see start_write_call) is in flight
  std::deque<entry> buffered_;
  std::deque<accepted_entry> accepted_;  // accept()ed, not yet acknowledge()d, oldest first
  std::size_t accepted_count_ = 0;       // writes in accepted_
  std::size_t max_buffered_ = SIZE_MAX;  // the overflow policy's hard limit (SIZE_MAX: wait)
  overflow_policy overflow_ = overflow_policy::wait;
  bool accepts_ = false;      // use_accept()
  bool no_runs_ = false;      // write runs off: an overflow policy or accept() in use
  bool accept_runs_ = false;  // use_accept_runs(): runs go to do_accept_run
  callback inflight_cb_;      // user callback of the single write in flight
  std::vector<callback> inflight_batch_cbs_;  // user callbacks of the writev in flight
  bool inflight_batch_ = false;
  struct after_write_batch {
    std::size_t count = 0;      // completed writes
    bool nop = false;           // none of them has a callback (so more may join)
    std::vector<callback> cbs;  // their user callbacks, in order
  };
  std::shared_ptr<after_write_batch> current_batch_;  // the newest queued completion tick
  std::uint64_t after_write_seq_ = 0;                 // defer_sequence() when it was queued
  std::size_t completion_ticks_ = 0;                  // completions queued by defer_completion
  std::vector<callback> on_finished_;                 // end() callbacks
  loop::time_point backpressure_since_{};
  friend class readable<T>;  // emits 'pipe' and 'unpipe'
  signal<> drain_;
  signal<stream&> pipe_;
  signal<stream&> unpipe_;
  signal<> finish_;
  signal<> prefinish_;
  unsigned corked_ = 0;
  writev_support writev_ = writev_support::unknown;
  bool ending_ = false;    // end() was called
  bool finished_ = false;  // 'finish' emitted
  bool writing_ = false;   // a do_write/do_writev is in flight
  bool sync_ = false;      // inside a do_write/do_final call
  // Whether the write in flight has called back: not yet (cb_expected; cb_run_expected for an
  // item of a run during its call in run_each), or, for such an item, with an error during its
  // call (cb_run_failed, the error in run_error_).
  enum : std::uint8_t { cb_none, cb_expected, cb_run_expected, cb_run_failed };
  std::uint8_t write_cb_state_ = cb_none;
  bool need_drain_ = false;   // write() returned false; 'drain' owed
  std::size_t drain_at_ = 0;  // 'drain' once length_ is at most this (set_drain_threshold)
  bool buffer_processing_ = false;
  const std::uint8_t* run_state_ = nullptr;  // lifecycle_word(), for run_can_continue
  std::error_code run_error_;  // the error the run's current item completed with (run_each)
  bool prefinished_ = false;
  bool final_called_ = false;
  bool final_done_ = false;
  bool final_is_default_ = false;
};

}  // namespace sluice
