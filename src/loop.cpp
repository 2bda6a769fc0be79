// Deferred-task queue and the manual (test) loop.
#include "sluice/loop.hpp"

namespace sluice {

bool timer::cancel() noexcept {
  if (!state_ || !state_->pending) return false;
  state_->pending = false;
  state_->fn = nullptr;  // release captures now, not when the loop gets to the entry
  if (task hook = std::move(state_->on_cancel)) hook();
  return true;
}

bool timer::pending() const noexcept { return state_ && state_->pending; }

loop::~loop() = default;

void loop::defer(task fn) {
  const bool was_empty = ticks_.empty();
  ticks_.push_back(std::move(fn));
  ++defer_seq_;
  if (was_empty && !draining_) wake();
}

timer loop::start_timer(duration after, task fn) {
  auto s = std::make_shared<timer::state>();
  s->fn = std::move(fn);
  arm_timer(now() + after, s);
  return timer(std::move(s));
}

std::size_t loop::run_deferred() {
  if (draining_) return 0;  // a task that drives the loop re-entrantly must not reorder ticks
  draining_ = true;
  std::size_t n = 0;
  while (!ticks_.empty()) {
    task t = std::move(ticks_.front());
    ticks_.pop_front();
    ++n;
    t();
  }
  draining_ = false;
  return n;
}

bool loop::run_one_deferred() {
  if (ticks_.empty()) return false;
  task t = std::move(ticks_.front());
  ticks_.pop_front();
  t();
  return true;
}

void loop::fire(const std::shared_ptr<timer::state>& s) {
  if (!s->pending) return;
  s->pending = false;
  s->on_cancel = nullptr;
  task fn = std::move(s->fn);
  fn();
}

manual_loop::~manual_loop() = default;

void manual_loop::arm_timer(time_point at, std::shared_ptr<timer::state> s) {
  timers_.emplace(std::make_pair(at, seq_++), std::move(s));
}

bool manual_loop::fire_next_due(time_point limit) {
  while (!timers_.empty()) {
    auto it = timers_.begin();
    if (it->first.first > limit) return false;
    auto s = std::move(it->second);
    if (it->first.first > now_) now_ = it->first.first;
    timers_.erase(it);
    if (!s->pending) continue;  // cancelled: skip without counting
    fire(s);
    return true;
  }
  return false;
}

void manual_loop::advance(duration d) {
  const time_point target = now_ + d;
  run_deferred();
  while (fire_next_due(target)) run_deferred();
  now_ = target;
}

std::size_t manual_loop::run() {
  std::size_t fired = 0;
  run_deferred();
  while (fire_next_due(time_point::max())) {
    ++fired;
    run_deferred();
  }
  return fired;
}

}  // namespace sluice
