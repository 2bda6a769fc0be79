// The conformance kit's loops: a manual_loop driven through its timers, or an asio_loop.
#include "sluice/testing/detail/driver.hpp"

#include <boost/asio/io_context.hpp>

#include <algorithm>
#include <exception>
#include <string>

#include "sluice/core/asio_loop.hpp"

namespace sluice::testing::detail {

struct driver::asio_parts {
  boost::asio::io_context io;
  asio_loop loop{io};
};

driver::driver(loop_kind kind, limits l) : kind_(kind), limits_(l) {
  if (kind == loop_kind::asio) {
    asio_ = std::make_unique<asio_parts>();
    loop_ = &asio_->loop;
  } else {
    manual_ = std::make_unique<manual_loop>();
    loop_ = manual_.get();
  }
}

driver::~driver() = default;

wait_status driver::run_until(const std::function<bool()>& done) {
  try {
    return kind_ == loop_kind::asio ? run_asio(done) : run_manual(done);
  } catch (const std::exception& e) {
    exception_ = e.what();
  } catch (...) {
    exception_ = "an exception that is not a std::exception";
  }
  return wait_status::threw;
}

// Tasks first, then outstanding work (a pool thread's post), then timers: the virtual clock
// moves only when nothing else can happen, in steps that double while nothing runs (so a timer
// an hour away costs a few dozen steps) and shrink back to 1 ms once something did.
wait_status driver::run_manual(const std::function<bool()>& done) {
  using clock = std::chrono::steady_clock;
  const auto deadline = clock::now() + limits_.timeout;
  const loop::time_point virtual_end = manual_->now() + limits_.virtual_limit;
  loop::duration step = std::chrono::milliseconds(1);
  for (;;) {
    if (done()) return wait_status::reached;
    if (clock::now() >= deadline) return wait_status::timed_out;
    if (manual_->step()) {
      step = std::chrono::milliseconds(1);
      continue;
    }
    if (manual_->outstanding_work() != 0) {
      // Blocks until a pool thread posts (or the work ends).
      const auto left = std::max(deadline - clock::now(), clock::duration::zero());
      if (!manual_->run_until_quiet_for(
              std::min<clock::duration>(left, std::chrono::milliseconds(50))) &&
          clock::now() >= deadline)
        return done() ? wait_status::reached : wait_status::timed_out;
      continue;
    }
    if (manual_->timer_count() == 0) return wait_status::idle;
    if (manual_->now() >= virtual_end) return wait_status::timed_out;
    const std::uint64_t seq = manual_->defer_sequence();
    manual_->advance(std::min(step, virtual_end - manual_->now()));
    if (manual_->defer_sequence() != seq)
      step = std::chrono::milliseconds(1);  // a timer did something: look closely again
    else
      step = std::min<loop::duration>(step * 2, std::chrono::seconds(1));
  }
}

wait_status driver::run_asio(const std::function<bool()>& done) {
  using clock = std::chrono::steady_clock;
  const auto deadline = clock::now() + limits_.timeout;
  boost::asio::io_context& io = asio_->io;
  for (;;) {
    if (done()) return wait_status::reached;
    const auto now = clock::now();
    if (now >= deadline) return wait_status::timed_out;
    if (io.stopped()) io.restart();
    if (io.run_one_for(deadline - now) == 0) {
      if (done()) return wait_status::reached;
      // run_one_for returns 0 when the context ran out of work (stopped) or time ran out.
      return io.stopped() ? wait_status::idle : wait_status::timed_out;
    }
  }
}

std::string driver::describe(wait_status s) const {
  switch (s) {
    case wait_status::reached:
      return "reached";
    case wait_status::idle:
      return "the loop went idle";
    case wait_status::timed_out:
      return kind_ == loop_kind::manual
                 ? "gave up after " + std::to_string(limits_.timeout.count()) +
                       " ms of real time or " +
                       std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(
                                          limits_.virtual_limit)
                                          .count()) +
                       " ms of virtual time"
                 : "gave up after " + std::to_string(limits_.timeout.count()) + " ms";
    case wait_status::threw:
      return "a task threw: " + exception_;
  }
  return "?";
}

}  // namespace sluice::testing::detail
