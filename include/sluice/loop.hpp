// sluice/loop.hpp: the event loop a stream lives on.
//
// The stream core needs two things from a loop: "run this later, on this loop" (Node's
// process.nextTick) and timers. `loop` provides both on top of a small virtual seam:
//   - `asio_loop` (sluice/asio_loop.hpp) runs them on a Boost.Asio io_context in production;
//   - `manual_loop` (below) runs them only when told to, step by step, on a virtual clock, so
//     tests can assert the exact order of events.
// Every stream is bound to one loop and is used from that loop's thread only.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
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

/// Base of all loops. Not thread-safe: use it from the thread that runs it.
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

  /// Number of deferred tasks waiting to run.
  [[nodiscard]] std::size_t deferred_count() const noexcept { return ticks_.size(); }

 protected:
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
  std::uint64_t defer_seq_ = 0;
  bool draining_ = false;
};

/// A loop that runs nothing by itself: tests drive it. Time is virtual and starts at epoch; it
/// moves only through advance() and run().
class manual_loop final : public loop {
 public:
  manual_loop() = default;
  ~manual_loop() override;

  [[nodiscard]] time_point now() const override { return now_; }

  /// Runs one deferred task. Returns false if none was queued.
  bool step() { return run_one_deferred(); }
  /// Runs deferred tasks until none is queued (timers are not fired). Returns how many ran.
  std::size_t run_until_idle() { return run_deferred(); }
  /// Moves the virtual clock forward by `d`, firing due timers in order and draining deferred
  /// tasks after each. Deferred tasks queued before the call run first.
  void advance(duration d);
  /// Runs everything: deferred tasks, and timers by jumping the clock to the next one, until
  /// nothing is left. Returns the number of timers fired.
  std::size_t run();
  [[nodiscard]] std::size_t timer_count() const noexcept { return timers_.size(); }

 protected:
  void wake() override {}
  void arm_timer(time_point at, std::shared_ptr<timer::state> s) override;

 private:
  bool fire_next_due(time_point limit);
  time_point now_{};
  std::uint64_t seq_ = 0;
  std::map<std::pair<time_point, std::uint64_t>, std::shared_ptr<timer::state>> timers_;
};

}  // namespace sluice
