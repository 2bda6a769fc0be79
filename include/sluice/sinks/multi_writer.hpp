// sluice/sinks/multi_writer.hpp: multi_writer<T>, one writable that fans each item out to N
// writables (the tutorial's MultiTargetWriterStream, done with bounds).
//
// A multi_writer owns its targets. Each item written to it is copied to every eligible target
// with that target's write(item, cb); the multi_writer's own write completes when its policy is
// met by the targets' callbacks: `all` (every target), `any` (one) or `quorum(k)` (k of them).
// One item is in flight at a time (the writable core serializes do_write), so its own
// high_water_mark is the queue in front of the targets. Under any/quorum a slow target may fall
// behind by at most queue_limit items; beyond that it is lagging and skipped, never buffered
// without bound. A target that times out failure_threshold times in a row is opened (circuit
// breaker), skipped, and probed again after cool_down. When the policy can no longer be met the
// write and the stream fail, and error_message() lists each target's state. docs/writers.md,
// "multi_writer", gives the rules and why.
#pragma once

#include <algorithm>
#include <chrono>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "sluice/core/loop.hpp"
#include "sluice/core/writable.hpp"

namespace sluice {

/// An item a multi_writer can fan out: a chunk that can be copied (once per target).
template <class T>
concept fan_out_chunk = chunk<T> && std::copy_constructible<T>;

/// When a multi_writer's write is done: `all()` targets, `any()` one, or `quorum(k)` of them
/// acknowledged it.
struct fan_out_policy {
  enum class kind : std::uint8_t { all, any, quorum };
  kind mode = kind::all;
  std::size_t count = 0;  ///< quorum(k)'s k (1 for any, unused for all)

  [[nodiscard]] static constexpr fan_out_policy all() noexcept { return {kind::all, 0}; }
  [[nodiscard]] static constexpr fan_out_policy any() noexcept { return {kind::any, 1}; }
  [[nodiscard]] static constexpr fan_out_policy quorum(std::size_t k) noexcept {
    return {kind::quorum, k};
  }
};

/// "all", "any" or "quorum(k)".
[[nodiscard]] inline std::string to_string(fan_out_policy p) {
  switch (p.mode) {
    case fan_out_policy::kind::all:
      return "all";
    case fan_out_policy::kind::any:
      return "any";
    case fan_out_policy::kind::quorum:
      break;
  }
  return "quorum(" + std::to_string(p.count) + ")";
}

/// Options of a multi_writer (designated initializers: `{.policy = fan_out_policy::quorum(2)}`).
struct multi_writer_options {
  fan_out_policy policy = fan_out_policy::all();
  /// How long a target may take to acknowledge an item before that counts as a timeout (a
  /// failure of that target for that item). Empty: no limit. Also the grace that end() gives
  /// the targets beyond the policy's need to finish (see multi_writer::do_final).
  std::optional<loop::duration> target_timeout{};
  /// Items a target may have unacknowledged; beyond that it is lagging (any/quorum: skipped).
  std::size_t queue_limit = 16;
  /// Timeouts in a row that open a target's circuit breaker.
  std::size_t failure_threshold = 3;
  /// How long an open target is skipped before one probe item is sent to it.
  loop::duration cool_down = std::chrono::seconds(5);
  /// The multi_writer's own high_water_mark (items); default: the object-mode default.
  std::optional<std::size_t> high_water_mark{};
  std::string name{};
};

/// A target of a multi_writer and its name (for counters and error messages).
template <fan_out_chunk T>
struct multi_writer_target {
  std::string name;
  std::shared_ptr<writable<T>> stream;
};

/// A target's health, as the multi_writer sees it.
enum class fan_out_state : std::uint8_t {
  ok,         ///< takes every item
  lagging,    ///< queue_limit items unacknowledged: skipped (any/quorum) until it catches up
  open,       ///< circuit breaker open: skipped until cool_down passes
  half_open,  ///< cool_down passed: the next item is a probe; an ack in time closes it
  dead,       ///< errored, destroyed or closed: never written again
};

/// "ok", "lagging", "open", "half-open", "dead".
[[nodiscard]] inline const char* to_string(fan_out_state s) noexcept {
  switch (s) {
    case fan_out_state::ok:
      return "ok";
    case fan_out_state::lagging:
      return "lagging";
    case fan_out_state::open:
      return "open";
    case fan_out_state::half_open:
      return "half-open";
    case fan_out_state::dead:
      break;
  }
  return "dead";
}

/// A snapshot of one target's counters.
struct fan_out_stats {
  std::string name;
  fan_out_state state = fan_out_state::ok;
  std::uint64_t delivered = 0;  ///< items it acknowledged (late ones included)
  std::uint64_t failed = 0;     ///< items it failed (write error, or pending when it died)
  std::uint64_t timeouts = 0;   ///< items not acknowledged within target_timeout
  std::uint64_t lagging = 0;    ///< items skipped because it was target's queue_limit behind
  std::uint64_t opened = 0;     ///< times its circuit breaker opened
  std::size_t in_flight = 0;    ///< items written to it and not acknowledged yet
  bool finished = false;        ///< its 'finish' went out (after end())
  std::error_code error{};      ///< the last error it met (dead: the one that killed it)
};

/// A writable that fans each item out to its targets (see the top of this file). Create it with
/// make_multi_writer(). The multi_writer owns its targets: end() ends them, destroy() destroys
/// them, and it listens to their events (so do not destroy a target behind its back unless you
/// mean that target to be dead).
///
/// Contract: each write's callback runs exactly once, never from within write(): with success
/// when the policy is met, or with the error that made it impossible (the stream then fails
/// with that error and an error_message() naming every target's state), or with the destroy
/// error (stream_destroyed without one) if destroy() comes first. end()'s callback likewise,
/// once every live target finished (see do_final). A target's late acknowledgement only updates
/// its counters.
template <fan_out_chunk T>
class multi_writer final : public writable<T> {
  using write_callback = typename writable<T>::write_callback;

 public:
  /// Use make_multi_writer(), which also attaches the targets' listeners.
  multi_writer(sluice::loop& l, std::vector<multi_writer_target<T>> targets, multi_writer_options o)
      : writable<T>(l, writable_options{.high_water_mark = o.high_water_mark, .name = o.name}),
        opts_(std::move(o)) {
    const std::size_t n = targets.size();
    if (n == 0) throw std::invalid_argument("multi_writer: no targets");
    if (opts_.policy.mode == fan_out_policy::kind::quorum &&
        (opts_.policy.count == 0 || opts_.policy.count > n))
      throw std::invalid_argument("multi_writer: quorum(k) needs 1 <= k <= targets");
    if (opts_.queue_limit == 0) throw std::invalid_argument("multi_writer: queue_limit is 0");
    if (opts_.failure_threshold == 0)
      throw std::invalid_argument("multi_writer: failure_threshold is 0");
    targets_.reserve(n);
    for (auto& t : targets) {
      if (!t.stream) throw std::invalid_argument("multi_writer: null target");
      targets_.emplace_back();
      targets_.back().name = std::move(t.name);
      targets_.back().stream = std::move(t.stream);
    }
  }

  /// A snapshot of every target's counters, in the order the targets were given.
  [[nodiscard]] std::vector<fan_out_stats> target_counters() const {
    std::vector<fan_out_stats> out;
    out.reserve(targets_.size());
    for (const auto& t : targets_)
      out.push_back({t.name, state_of(t), t.delivered, t.failed, t.timeouts, t.lagging, t.opened,
                     t.outstanding.size(), t.finished, t.error});
    return out;
  }
  /// Acknowledgements one write needs: every target (all), 1 (any) or k (quorum(k)).
  [[nodiscard]] std::size_t needed() const noexcept {
    return opts_.policy.mode == fan_out_policy::kind::all ? targets_.size() : opts_.policy.count;
  }
  [[nodiscard]] const multi_writer_options& options() const noexcept { return opts_; }
  /// Timers of this multi_writer not yet fired or cancelled (timeouts, cool-downs, end()'s
  /// grace): at most two per target plus one. 0 once it is destroyed or finished.
  [[nodiscard]] std::size_t pending_timers() const noexcept {
    std::size_t n = grace_timer_.pending() ? 1 : 0;
    for (const auto& t : targets_)
      n += (t.timeout_timer.pending() ? 1 : 0) + (t.cool_down_timer.pending() ? 1 : 0);
    return n;
  }

 protected:
  // One item: copied to every eligible target; `cb` runs when the policy is met or cannot be.
  void do_write(T&& item, write_callback cb) override {
    cur_ = current{.seq = ++seq_, .cb = cb, .active = true};
    item_.emplace(std::move(item));
    std::size_t possible = 0;
    for (const auto& t : targets_)
      if (may_ack(t)) ++possible;
    if (possible < needed()) {
      cur_.doomed = true;
      // Write nothing, and fail on a later tick, so that the write's callback comes before
      // 'error' as for any failed write.
      this->defer([this] {
        if (!closing_) settle();
      });
      return;
    }
    for (std::size_t i = 0; i < targets_.size(); ++i) try_send(i);
  }

  // Ends every live target; done when the policy's share of them finished (see the docs).
  void do_final(callback cb) override {
    final_cb_ = std::move(cb);
    for (auto& t : targets_)
      if (!t.dead && !t.finished) t.stream->end();
    // (Later: end()'s callback must not run from within end().)
    this->defer([this] {
      if (!closing_) check_final();
    });
  }

  // Destroys every target, cancels every timer; the item in flight fails on a later tick.
  void do_destroy(std::error_code ec, callback cb) override {
    closing_ = true;
    stop_timers();
    final_cb_ = nullptr;  // the core fails end()'s callbacks itself, on a later tick
    for (auto& t : targets_) {
      for (listener_id id : t.listeners) t.stream->off(id);
      t.listeners.clear();
      t.stream->destroy();
    }
    if (cur_.active) {
      cur_.active = false;
      item_.reset();
      const std::error_code e = ec ? ec : make_error_code(errc::stream_destroyed);
      this->defer([c = std::exchange(cur_.cb, {}), e] { c(e); });
    }
    cb(ec);
  }

 private:
  template <fan_out_chunk U>
  friend std::shared_ptr<multi_writer<U>> make_multi_writer(sluice::loop&,
                                                            std::vector<multi_writer_target<U>>,
                                                            multi_writer_options);

  struct sent {
    std::uint64_t seq = 0;
    loop::time_point at{};
  };
  struct target {
    std::string name;
    std::shared_ptr<writable<T>> stream;
    std::deque<sent> outstanding;  // written, not acknowledged, oldest first
    std::size_t timed_out = 0;     // the first `timed_out` of `outstanding` timed out
    std::uint64_t sent_seq = 0;    // the last item written to it
    std::uint64_t delivered = 0, failed = 0, timeouts = 0, lagging = 0, opened = 0;
    std::size_t failures_in_row = 0;
    bool open = false;       // circuit breaker open (cooling down)
    bool half_open = false;  // cooled down: the next item is a probe
    bool probing = false;    // the probe is in flight
    bool dead = false;
    bool finished = false;
    std::error_code error{};
    timer timeout_timer{};    // due when outstanding[timed_out] times out
    timer cool_down_timer{};  // due when an open breaker goes half-open
    std::vector<listener_id> listeners{};
  };
  // The item in flight (the core runs one do_write at a time).
  struct current {
    std::uint64_t seq = 0;
    write_callback cb{};
    std::size_t acks = 0;
    bool active = false;
    bool doomed = false;  // could not be met when it came: written to no target
  };

  [[nodiscard]] fan_out_state state_of(const target& t) const noexcept {
    if (t.dead) return fan_out_state::dead;
    if (t.open) return fan_out_state::open;
    if (t.half_open) return fan_out_state::half_open;
    if (t.outstanding.size() >= opts_.queue_limit) return fan_out_state::lagging;
    return fan_out_state::ok;
  }

  // `fn` as a callback that does nothing once the multi_writer is gone or destroyed. Callbacks
  // stored in targets and timers hold it weakly: it owns them, so a strong reference would be a
  // cycle (a target that never calls back would keep both alive).
  template <class F>
  auto guarded(F fn) {
    return [weak = this->weak_from_this(), this, fn = std::move(fn)](auto&&... args) {
      if (auto self = weak.lock(); self && !closing_) fn(std::forward<decltype(args)>(args)...);
    };
  }

  void attach() {
    for (std::size_t i = 0; i < targets_.size(); ++i) {
      auto& s = *targets_[i].stream;
      targets_[i].listeners = {s.on_error(guarded([this, i](std::error_code ec) {
                                 kill(i, ec);
                                 after_event();
                               })),
                               s.on_finish(guarded([this, i] {
                                 targets_[i].finished = true;
                                 check_final();
                               })),
                               s.on_close(guarded([this, i] {
                                 const auto& t = targets_[i];
                                 if (t.finished || t.dead) return;
                                 kill(i, t.stream->errored()
                                             ? t.stream->errored()
                                             : make_error_code(errc::premature_close));
                                 after_event();
                               }))};
      if (s.destroyed() || s.errored())
        kill(i, s.errored() ? s.errored() : make_error_code(errc::stream_destroyed));
    }
  }

  // Whether target i can take the current item now.
  [[nodiscard]] bool can_send(const target& t) const noexcept {
    if (!cur_.active || cur_.doomed || t.sent_seq == cur_.seq || t.dead || t.finished) return false;
    if (t.open || (t.half_open && t.probing)) return false;
    return t.outstanding.size() < opts_.queue_limit;
  }

  void try_send(std::size_t i) {
    target& t = targets_[i];
    if (!can_send(t)) return;
    t.sent_seq = cur_.seq;
    t.outstanding.push_back({cur_.seq, this->get_loop().now()});
    if (t.half_open) t.probing = true;
    arm_timeout(i);
    // The target's callback runs on a later tick, never from within write().
    (void)t.stream->write(
        T(*item_), guarded([this, i, seq = cur_.seq](std::error_code ec) { on_ack(i, seq, ec); }));
  }

  void on_ack(std::size_t i, std::uint64_t seq, std::error_code ec) {
    target& t = targets_[i];
    if (t.dead || t.outstanding.empty() || t.outstanding.front().seq != seq) return;
    if (ec) {  // a write error is final: the target destroys itself
      kill(i, ec);
      after_event();
      return;
    }
    const bool in_time = t.timed_out == 0;
    t.outstanding.pop_front();
    ++t.delivered;
    if (in_time) {
      t.failures_in_row = 0;
      if (t.half_open && t.probing) t.half_open = t.probing = false;  // the probe closes it
      if (cur_.active && seq == cur_.seq) ++cur_.acks;
    } else {
      --t.timed_out;  // a late ack: delivered, but neither the policy nor the breaker see it
    }
    after_event();
  }

  // Target i is gone for good: its pending items count as failed.
  void kill(std::size_t i, std::error_code ec) {
    target& t = targets_[i];
    if (t.dead) return;
    t.dead = true;
    t.error = ec;
    cause_ = ec;
    t.failed += t.outstanding.size() - t.timed_out;
    t.outstanding.clear();
    t.timed_out = 0;
    t.timeout_timer.cancel();
    t.cool_down_timer.cancel();
  }

  void arm_timeout(std::size_t i) {
    target& t = targets_[i];
    if (!opts_.target_timeout || t.dead || t.timed_out >= t.outstanding.size() ||
        t.timeout_timer.pending())
      return;
    // One timer per target, for its oldest unacknowledged item. An ack does not cancel it (no
    // timer churn per item): when it fires it times out what is due and re-arms for the rest.
    const loop::time_point due = t.outstanding[t.timed_out].at + *opts_.target_timeout;
    const loop::duration in = std::max(due - this->get_loop().now(), loop::duration::zero());
    t.timeout_timer = this->get_loop().start_timer(in, guarded([this, i] { on_timer(i); }));
  }

  void on_timer(std::size_t i) {
    target& t = targets_[i];
    const loop::time_point now = this->get_loop().now();
    bool any = false;
    while (!t.dead && t.timed_out < t.outstanding.size() &&
           t.outstanding[t.timed_out].at + *opts_.target_timeout <= now) {
      time_out(i);
      any = true;
    }
    arm_timeout(i);
    if (any) after_event();
  }

  // The oldest item target i has not acknowledged in time.
  void time_out(std::size_t i) {
    target& t = targets_[i];
    const bool probe = t.probing && t.outstanding[t.timed_out].seq == t.sent_seq;
    ++t.timed_out;
    ++t.timeouts;
    cause_ = t.error = make_error_code(std::errc::timed_out);
    // While open, items sent before it opened may still time out: they do not reopen it. While
    // half-open, only the probe decides.
    if (probe || (!t.open && !t.half_open && ++t.failures_in_row >= opts_.failure_threshold))
      open_breaker(i);
  }

  void open_breaker(std::size_t i) {
    target& t = targets_[i];
    t.open = true;
    t.half_open = t.probing = false;
    ++t.opened;
    t.cool_down_timer.cancel();
    t.cool_down_timer = this->get_loop().start_timer(opts_.cool_down, guarded([this, i] {
                                                       targets_[i].open = false;
                                                       targets_[i].half_open = true;
                                                       after_event();
                                                     }));
  }

  // After any change: the policy is checked, then targets that caught up take the current item
  // (which may be a new one: completing an item can start the next).
  void after_event() {
    settle();
    for (std::size_t i = 0; i < targets_.size(); ++i) try_send(i);
    check_final();
  }

  // Whether target t can still acknowledge the current item in time.
  [[nodiscard]] bool may_ack(const target& t) const noexcept {
    if (t.dead || t.finished) return false;
    if (t.sent_seq == cur_.seq)  // pending unless acked or timed out
      return t.outstanding.size() > t.timed_out && t.outstanding.back().seq == cur_.seq;
    return !t.open && !(t.half_open && t.probing);  // lagging: may catch up
  }

  // Completes the current item if its policy is met, or fails it and the stream if it cannot be.
  // Always the last thing its caller does: completing the item may start the next one.
  void settle() {
    const std::size_t need = needed();
    if (!cur_.active) {
      // Idle: dead targets are dead for good, so fail now rather than at the next write.
      if (final_cb_ || this->ended()) return;
      std::size_t live = 0;
      for (const auto& t : targets_)
        if (!t.dead) ++live;
      if (live < need) this->fail(failure_cause(), describe("target lost"));
      return;
    }
    if (cur_.acks >= need) {
      for (auto& t : targets_)
        if (t.sent_seq != cur_.seq && !t.dead && !t.open &&
            t.outstanding.size() >= opts_.queue_limit)
          ++t.lagging;
      cur_.active = false;
      item_.reset();
      std::exchange(cur_.cb, {})();
      return;
    }
    std::size_t possible = cur_.acks;
    for (const auto& t : targets_)
      if (may_ack(t)) ++possible;
    if (possible >= need) return;
    cur_.active = false;
    item_.reset();
    const std::error_code ec = failure_cause();
    this->fail(ec, describe("write"));
    std::exchange(cur_.cb, {})(ec);
  }

  // The end() step: done once every live target finished, or, under any/quorum, once enough
  // did and the rest had target_timeout more to finish.
  void check_final() {
    if (!final_cb_) return;
    std::size_t done = 0;
    std::size_t pending = 0;
    for (const auto& t : targets_) {
      if (t.finished)
        ++done;
      else if (!t.dead)
        ++pending;
    }
    const std::size_t need = needed();
    if (pending == 0 || done + pending < need) {
      if (done >= need) {
        complete_final({});
      } else {
        const std::error_code ec = failure_cause();
        this->fail(ec, describe("end"));
        complete_final(ec);
      }
    } else if (done >= need && opts_.target_timeout && !grace_timer_.pending()) {
      grace_timer_ = this->get_loop().start_timer(*opts_.target_timeout,
                                                  guarded([this] { complete_final({}); }));
    }
  }

  void complete_final(std::error_code ec) {
    if (!final_cb_) return;
    stop_timers();
    std::exchange(final_cb_, nullptr)(ec);
  }

  void stop_timers() {
    grace_timer_.cancel();
    for (auto& t : targets_) {
      t.timeout_timer.cancel();
      t.cool_down_timer.cancel();
    }
  }

  [[nodiscard]] std::error_code failure_cause() const {
    return cause_ ? cause_ : make_error_code(errc::premature_close);
  }

  // "<op>: quorum(2) of 3 not met: a ok, b dead (boom), c open (Connection timed out)".
  [[nodiscard]] std::string describe(const char* op) const {
    std::string s = std::string(op) + ": " + to_string(opts_.policy) + " of " +
                    std::to_string(targets_.size()) + " not met:";
    const char* sep = " ";
    for (const auto& t : targets_) {
      const fan_out_state st = state_of(t);
      s += sep;
      s += t.name + ' ' + to_string(st);
      if (t.finished) s += " (finished)";
      if ((st == fan_out_state::dead || st == fan_out_state::open) && t.error)
        s += " (" + t.error.message() + ")";
      sep = ", ";
    }
    return s;
  }

  multi_writer_options opts_;
  std::vector<target> targets_;
  current cur_{};
  std::optional<T> item_;  // the current item, kept to send to targets that catch up
  std::uint64_t seq_ = 0;
  std::error_code cause_{};  // the latest target failure: the stream's error if the policy fails
  callback final_cb_{};      // do_final waiting for the targets to finish
  timer grace_timer_{};      // end(): the rest's time to finish once the policy's share did
  bool closing_ = false;     // do_destroy ran: target events no longer concern us
};

/// Creates a multi_writer over `targets` (which it then owns). Throws std::invalid_argument for
/// no targets, a null target, quorum(k) with k = 0 or more than the targets, or a queue_limit
/// or failure_threshold of 0. A target already destroyed or errored starts dead.
template <fan_out_chunk T>
[[nodiscard]] std::shared_ptr<multi_writer<T>> make_multi_writer(
    sluice::loop& l, std::vector<multi_writer_target<T>> targets, multi_writer_options o = {}) {
  auto w = std::make_shared<multi_writer<T>>(l, std::move(targets), std::move(o));
  w->attach();
  return w;
}

}  // namespace sluice
