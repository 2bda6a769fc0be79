// sluice/core/asio_loop.hpp: the production loop, on a Boost.Asio io_context.
//
// Deferred tasks are kept in sluice's own FIFO (see loop.hpp) and drained by one handler posted
// to the io_context whenever the queue becomes non-empty, so a burst of ticks costs one post.
// Timers are asio steady_timers. The io_context must be run from one thread. post() from other
// threads is boost::asio::post to the io_context; while work is outstanding (loop::add_work) the
// loop holds an executor_work_guard, so io_context::run() does not return early.
#pragma once

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <optional>

#include "sluice/core/loop.hpp"

namespace sluice {

class asio_loop final : public loop {
 public:
  explicit asio_loop(boost::asio::io_context& ctx) : ctx_(ctx) {}
  /// Waits until no work is outstanding (a pool thread may still be about to post to us).
  ~asio_loop() override {
    wait_for_no_work();
    release_held();
  }

  [[nodiscard]] boost::asio::io_context& context() noexcept { return ctx_; }

 protected:
  void wake() override {
    boost::asio::post(ctx_, [this] { run_deferred(); });
  }
  void arm_timer(time_point at, std::shared_ptr<timer::state> s) override {
    auto t = std::make_shared<boost::asio::steady_timer>(ctx_, at);
    // On cancel, stop the asio timer so an idle io_context can return from run() at once.
    s->on_cancel = [w = std::weak_ptr(t)] {
      if (auto p = w.lock()) p->cancel();
    };
    t->async_wait([this, t, s = std::move(s)](const boost::system::error_code&) {
      refresh_event_time();
      fire(s);
      run_deferred();
    });
  }
  void post_task(task fn) override {
    boost::asio::post(ctx_, [this, fn = std::move(fn)] {
      refresh_event_time();
      fn();
      run_deferred();
    });
  }
  // Both run with the loop's work lock held, so they never overlap.
  void work_started() override { guard_.emplace(ctx_.get_executor()); }
  void work_finished() override { guard_.reset(); }

 private:
  boost::asio::io_context& ctx_;
  std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> guard_;
};

}  // namespace sluice
