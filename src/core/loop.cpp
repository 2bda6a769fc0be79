// Deferred-task queue, cross-thread posting and work counting, and the manual (test) loop.
#include "sluice/core/loop.hpp"

namespace sluice {

bool timer::cancel() noexcept {
  if (!state_ || !state_->pending) return false;
  state_->pending = false;
  state_->fn = nullptr;  // release captures now, not when the loop gets to the entry
  if (task hook = std::move(state_->on_cancel)) hook();
  return true;
}

bool timer::pending() const noexcept { return state_ && state_->pending; }

loop::~loop() {
  draining_ = true;  // a stream freed here may defer: queue it, do not wake a loop half gone
  release_held();
}

void loop::hold(const void* key, std::shared_ptr<void> owner) {
  held_.try_emplace(key, std::move(owner));
}

void loop::release(const void* key) {
  auto it = held_.find(key);
  if (it == held_.end()) return;
  std::shared_ptr<void> owner = std::move(it->second);
  held_.erase(it);
  defer([owner = std::move(owner)] {});
}

void loop::release_held() noexcept {
  // Move the map out first: the streams are freed (at the end of this scope) from a map that
  // is no longer being cleared.
  auto held = std::move(held_);
  held_.clear();
}

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
  refresh_event_time();
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

void loop::add_work() {
  std::lock_guard lk(work_mu_);
  if (work_.fetch_add(1, std::memory_order_acq_rel) == 0) work_started();
}

void loop::remove_work() {
  std::lock_guard lk(work_mu_);
  if (work_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
    work_finished();
    work_cv_.notify_all();
  }
}

void loop::wait_for_no_work() {
  std::unique_lock lk(work_mu_);
  work_cv_.wait(lk, [this] { return work_.load(std::memory_order_acquire) == 0; });
}

void loop::fire(const std::shared_ptr<timer::state>& s) {
  if (!s->pending) return;
  s->pending = false;
  s->on_cancel = nullptr;
  task fn = std::move(s->fn);
  fn();
}

manual_loop::~manual_loop() {
  wait_for_no_work();
  release_held();
  // Tasks still in the inbox die here, on the thread that owns the loop.
  std::deque<task> left;
  {
    std::lock_guard lk(inbox_mu_);
    left.swap(inbox_);
  }
}

void manual_loop::post_task(task fn) {
  std::lock_guard lk(inbox_mu_);
  inbox_.push_back(std::move(fn));
  inbox_cv_.notify_one();
}

void manual_loop::work_finished() {
  // Wakes a run()/run_until_quiet() waiting for the last outstanding work. Taking the inbox lock
  // orders this after the waiter's check of outstanding_work(), so the wake-up cannot be lost.
  std::lock_guard lk(inbox_mu_);
  inbox_cv_.notify_all();
}

std::size_t manual_loop::posted_count() const {
  std::lock_guard lk(inbox_mu_);
  return inbox_.size();
}

bool manual_loop::run_one_posted() {
  task t;
  {
    std::lock_guard lk(inbox_mu_);
    if (inbox_.empty()) return false;
    t = std::move(inbox_.front());
    inbox_.pop_front();
  }
  t();
  return true;
}

bool manual_loop::step() { return run_one_deferred() || run_one_posted(); }

std::size_t manual_loop::drain() {
  std::size_t n = run_deferred();
  while (run_one_posted()) n += 1 + run_deferred();
  return n;
}

std::size_t manual_loop::run_until_idle() { return drain(); }

bool manual_loop::wait_for_post(std::chrono::steady_clock::time_point deadline) {
  std::unique_lock lk(inbox_mu_);
  auto ready = [this] { return !inbox_.empty() || outstanding_work() == 0; };
  if (deadline == std::chrono::steady_clock::time_point::max()) {
    inbox_cv_.wait(lk, ready);
    return true;
  }
  return inbox_cv_.wait_until(lk, deadline, ready);
}

std::size_t manual_loop::run_until_quiet() {
  std::size_t n = 0;
  (void)run_until_quiet_impl(std::chrono::steady_clock::time_point::max(), n);
  return n;
}

bool manual_loop::run_until_quiet_for(std::chrono::steady_clock::duration limit) {
  std::size_t n = 0;
  return run_until_quiet_impl(std::chrono::steady_clock::now() + limit, n);
}

bool manual_loop::run_until_quiet_impl(std::chrono::steady_clock::time_point deadline,
                                       std::size_t& n) {
  for (;;) {
    n += drain();
    if (outstanding_work() == 0 && posted_count() == 0 && deferred_count() == 0) return true;
    if (!wait_for_post(deadline)) return false;
  }
}

void manual_loop::arm_timer(time_point at, std::shared_ptr<timer::state> s) {
  timers_.emplace(std::make_pair(at, seq_++), std::move(s));
}

bool manual_loop::fire_next_due(time_point limit) {
  while (!timers_.empty()) {
    auto it = timers_.begin();
    if (it->first.first > limit) return false;
    auto s = std::move(it->second);
    if (it->first.first > now_) now_ = it->first.first;
    refresh_event_time();
    timers_.erase(it);
    if (!s->pending) continue;  // cancelled: skip without counting
    fire(s);
    return true;
  }
  return false;
}

void manual_loop::advance(duration d) {
  const time_point target = now_ + d;
  drain();
  while (fire_next_due(target)) drain();
  now_ = target;
  refresh_event_time();
}

std::size_t manual_loop::run() {
  std::size_t fired = 0;
  for (;;) {
    std::size_t ignored = 0;
    (void)run_until_quiet_impl(std::chrono::steady_clock::time_point::max(), ignored);
    if (!fire_next_due(time_point::max())) return fired;
    ++fired;
  }
}

}  // namespace sluice
