// sluice/core/loop.hpp: the event loop a stream lives on.
//
// The stream core needs two things from a loop: "run this later, on this loop" (Node's
// process.nextTick) and timers. `loop` provides both on top of a small virtual seam:
//   - `asio_loop` (sluice/core/asio_loop.hpp) runs them on a Boost.Asio io_context in production;
//   - `manual_loop` (below) runs them only when told to, step by step, on a virtual clock, so
//     tests can assert the exact order of events.
// Every stream is bound to one loop and is used from that loop's thread only. The one exception
// is `post()` (with `work_guard`): other threads use it to hand results back to the loop thread,
// which is how file streams run blocking system calls on a thread pool without blocking the loop.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <utility>

namespace sluice {

/// A unit of deferred work.
using task = std::function<void()>;

class loop;

/// Handle to a pending timer. Destroying the handle does not cancel the timer; `cancel()` does.
class timer {
 public:
  timer() = default;
  /// Cancels the timer if it has not fired yet. Returns true if it was pending.
  bool cancel() noexcept;
  [[nodiscard]] bool pending() const noexcept;

  /// Shared between the handle and the loop that will fire it (an implementation detail).
  struct state {
    task fn;
    task on_cancel;  // lets a loop release its own resources for the timer early
    bool pending = true;
  };

 private:
  friend class loop;
  explicit timer(std::shared_ptr<state> s) : state_(std::move(s)) {}
  std::shared_ptr<state> state_;
};

/// Base of all loops. Not thread-safe: use it from the thread that runs it, except for post(),
/// add_work(), remove_work() and work_guard, which any thread may use.
class loop {
 public:
  using clock = std::chrono::steady_clock;
  using duration = clock::duration;
  using time_point = clock::time_point;

  loop() = default;
  loop(const loop&) = delete;
  loop& operator=(const loop&) = delete;
  virtual ~loop();

  /// Runs `fn` later on this loop, after the current call stack has unwound, in FIFO order with
  /// every other deferred task (Node's process.nextTick). `fn` is never invoked from within this
  /// function. Deferred tasks queued while the queue is being drained run in the same drain.
  void defer(task fn);

  /// Runs `fn` once, `after` from now. Timers due at the same time fire in the order they were
  /// started. The handler is never invoked from within this function.
  timer start_timer(duration after, task fn);

  /// The loop's clock (virtual for manual_loop).
  [[nodiscard]] virtual time_point now() const { return clock::now(); }

  /// How many tasks were ever deferred on this loop: lets a stream tell whether the task it
  /// queued last is still the newest one (so it can add to it without reordering anything).
  [[nodiscard]] std::uint64_t defer_sequence() const noexcept { return defer_seq_; }

  /// The loop's time as of the start of the current event (a drain of deferred tasks, a timer, a
  /// post): read once per event rather than per call, like libuv's uv_now(). The stream counters
  /// measure backpressured time with it, so they cost no clock read per chunk. Code that runs
  /// outside any event (before the loop first runs) sees the time of the last event.
  [[nodiscard]] time_point event_time() const noexcept { return event_time_; }

  /// Number of deferred tasks waiting to run.
  [[nodiscard]] std::size_t deferred_count() const noexcept { return ticks_.size(); }

  // ---- Crossing threads ----------------------------------------------------------------------

  /// Runs `fn` on this loop's thread, as a new event (not a deferred task: deferred tasks queued
  /// before it run first, and those it queues run right after it). Thread-safe: callable from any
  /// thread, including the loop's own. Posts run in the order they were posted. `fn` is never
  /// invoked from within this function. `fn` is destroyed on the loop thread, or, if the loop is
  /// destroyed before running it, by the loop's destructor.
  void post(task fn) { post_task(std::move(fn)); }

  /// Counts background work that will eventually post() back (a system call on a pool thread).
  /// While any is outstanding, the loop is not idle: asio_loop's io_context::run() does not return
  /// and manual_loop::run()/run_until_quiet() wait. Thread-safe. Every add_work() must be matched
  /// by one remove_work(); prefer work_guard.
  void add_work();
  /// Undoes one add_work(). Thread-safe. Call it after the post() that delivers the result.
  void remove_work();
  /// Outstanding add_work() calls.
  [[nodiscard]] std::size_t outstanding_work() const noexcept {
    return work_.load(std::memory_order_acquire);
  }

  /// RAII for add_work()/remove_work(): counts as outstanding work from construction until it
  /// is destroyed or reset(). Movable; any thread may destroy it. The loop must outlive it (a
  /// loop's destructor waits until no work is outstanding).
  class work_guard {
   public:
    work_guard() noexcept = default;
    explicit work_guard(loop& l) : loop_(&l) { l.add_work(); }
    work_guard(work_guard&& o) noexcept : loop_(std::exchange(o.loop_, nullptr)) {}
    work_guard& operator=(work_guard&& o) noexcept {
      if (this != &o) {
        reset();
        loop_ = std::exchange(o.loop_, nullptr);
      }
      return *this;
    }
    work_guard(const work_guard&) = delete;
    work_guard& operator=(const work_guard&) = delete;
    ~work_guard() { reset(); }
    /// Stops counting (idempotent).
    void reset() noexcept {
      if (loop_ != nullptr) std::exchange(loop_, nullptr)->remove_work();
    }
    [[nodiscard]] bool owns_work() const noexcept { return loop_ != nullptr; }
    [[nodiscard]] loop* get_loop() const noexcept { return loop_; }

   private:
    loop* loop_ = nullptr;
  };

  /// Same as work_guard(*this).
  [[nodiscard]] work_guard make_work_guard() { return work_guard(*this); }

  // ---- Streams in flight ---------------------------------------------------------------------

  /// Keeps `owner` alive until release(key), or until the loop is destroyed. pipe() holds both
  /// of its ends this way until each is done (finished, ended or destroyed), as a pending
  /// callback keeps a Node stream reachable: a chain written `src->pipe(a)->pipe(b)` lives
  /// until its data is through, whoever keeps a reference to its streams. A second hold() of
  /// the same key keeps the first. Loop thread only.
  void hold(const void* key, std::shared_ptr<void> owner);
  /// Drops the reference hold(key) took, on a later tick (so whoever called this is not freed
  /// under its own feet). No-op for a key not held. Loop thread only.
  void release(const void* key);
  /// How many owners are held (for tests and diagnostics).
  [[nodiscard]] std::size_t held_count() const noexcept { return held_.size(); }

 protected:
  /// Drops every held owner now. Final loops call it in their destructors once no work is
  /// outstanding (streams still piped when their loop goes are freed with it); the base
  /// destructor calls it again for loops that do not.
  void release_held() noexcept;

  /// Thread-safe: queue `fn` to run on the loop thread (see post()).
  virtual void post_task(task fn) = 0;
  /// Called with the work lock held when outstanding work goes from 0 to 1 / from 1 to 0, from
  /// whichever thread changed it. Must not call add_work()/remove_work().
  virtual void work_started() {}
  virtual void work_finished() {}
  /// Blocks until no work is outstanding. Final loops call it first in their destructors, so a
  /// pool thread never posts into a loop that is gone.
  void wait_for_no_work();

  /// Sets event_time() to now(): loops call it when an event starts.
  void refresh_event_time() { event_time_ = now(); }

  /// Called when the deferred queue goes from empty to non-empty outside a drain: the loop must
  /// arrange for run_deferred() to be called soon.
  virtual void wake() = 0;
  /// Arranges for fire(s) at time `at`.
  virtual void arm_timer(time_point at, std::shared_ptr<timer::state> s) = 0;

  /// Runs deferred tasks until the queue is empty. Returns how many ran.
  std::size_t run_deferred();
  /// Runs the oldest deferred task, if any. Returns false if there was none.
  bool run_one_deferred();
  /// Fires a timer armed with arm_timer (no-op if it was cancelled).
  static void fire(const std::shared_ptr<timer::state>& s);

 private:
  std::deque<task> ticks_;
  time_point event_time_ = clock::now();
  std::uint64_t defer_seq_ = 0;
  bool draining_ = false;
  std::unordered_map<const void*, std::shared_ptr<void>> held_;  // hold()
  std::mutex work_mu_;
  std::condition_variable work_cv_;  // signalled when work_ drops to 0
  std::atomic<std::size_t> work_{0};
};

/// A loop that runs nothing by itself: tests drive it. Time is virtual and starts at epoch; it
/// moves only through advance() and run().
///
/// Tasks post()ed from other threads wait in an inbox (a mutex-protected FIFO) until step(),
/// run_until_idle(), advance(), run() or run_until_quiet() takes them; each posted task is followed
/// by the deferred tasks it queued. Only run() and run_until_quiet() block, and only while work is
/// outstanding (add_work()) and nothing is ready to run.
class manual_loop final : public loop {
 public:
  manual_loop() { refresh_event_time(); }
  ~manual_loop() override;

  [[nodiscard]] time_point now() const override { return now_; }

  /// Runs one deferred task or, if none is queued, one posted task. Returns false if there was
  /// neither. Never blocks.
  bool step();
  /// Runs deferred and posted tasks until none is queued (timers are not fired, and work still
  /// outstanding is not waited for). Returns how many ran.
  std::size_t run_until_idle();
  /// Moves the virtual clock forward by `d`, firing due timers in order and draining deferred
  /// and posted tasks after each. Tasks queued before the call run first.
  void advance(duration d);
  /// Runs everything: deferred and posted tasks, waiting (really, on a condition variable) while
  /// work is outstanding, and timers by jumping the clock to the next one once no work is
  /// outstanding, until nothing is left. Returns the number of timers fired.
  std::size_t run();
  /// Runs deferred and posted tasks, waiting while work is outstanding, until no task is queued
  /// and no work is outstanding. Timers are not fired. Returns how many tasks ran.
  std::size_t run_until_quiet();
  /// As run_until_quiet(), but gives up waiting once `limit` of real time has passed. Returns
  /// false if it gave up (work still outstanding).
  bool run_until_quiet_for(std::chrono::steady_clock::duration limit);
  /// Timers armed and neither fired nor cancelled.
  [[nodiscard]] std::size_t timer_count() const noexcept {
    std::size_t n = 0;
    for (const auto& [key, s] : timers_) n += s->pending ? 1 : 0;
    return n;
  }
  /// Posted tasks waiting in the inbox.
  [[nodiscard]] std::size_t posted_count() const;

 protected:
  void wake() override {}
  void arm_timer(time_point at, std::shared_ptr<timer::state> s) override;
  void post_task(task fn) override;
  void work_finished() override;

 private:
  bool fire_next_due(time_point limit);
  bool run_one_posted();
  // Drains deferred and posted tasks; returns how many ran.
  std::size_t drain();
  // Waits until a task is posted or no work is outstanding, or until `deadline`. Returns false
  // only on timeout.
  bool wait_for_post(std::chrono::steady_clock::time_point deadline);
  bool run_until_quiet_impl(std::chrono::steady_clock::time_point deadline, std::size_t& n);
  mutable std::mutex inbox_mu_;
  std::condition_variable inbox_cv_;
  std::deque<task> inbox_;
  time_point now_{};
  std::uint64_t seq_ = 0;
  std::map<std::pair<time_point, std::uint64_t>, std::shared_ptr<timer::state>> timers_;
};

}  // namespace sluice
