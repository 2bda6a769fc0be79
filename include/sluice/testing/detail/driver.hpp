// sluice/testing/detail/driver.hpp: the loop a conformance scenario runs on, and how the kit
// waits on it.
//
// Each scenario gets a driver of its own: a fresh loop of the kind the options name (a
// manual_loop, or an asio_loop on its own io_context), so that nothing one scenario left queued
// can reach the next. run_until() waits for an event, never for a length of time: it runs the
// loop until the condition holds or the loop has nothing left to do. On a manual_loop that
// includes firing timers, by moving the virtual clock forward (up to `virtual_limit` per wait).
// The real-time `timeout` only bounds a stream that keeps the loop busy without getting there.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "sluice/core/loop.hpp"

namespace sluice::testing {

/// Which loop the kit creates for each scenario (and hands to the factory).
enum class loop_kind : std::uint8_t {
  manual,  ///< sluice::manual_loop: deterministic, virtual time (in-memory streams)
  asio,    ///< sluice::asio_loop on a boost::asio::io_context of its own (files, sockets)
};

namespace detail {

/// How long a wait may take.
struct limits {
  /// Real time one wait may take (a stream that never gets there fails after this).
  std::chrono::milliseconds timeout{5000};
  /// manual_loop: how far one wait may move the virtual clock to fire timers.
  loop::duration virtual_limit = std::chrono::minutes(1);
};

/// How a wait ended.
enum class wait_status : std::uint8_t {
  reached,    ///< the condition holds
  idle,       ///< the loop had nothing left to do (no task, timer or outstanding work)
  timed_out,  ///< `timeout` of real time (or `virtual_limit`) passed
  threw,      ///< a task threw; the message is in driver::exception()
};

class driver {
 public:
  driver(loop_kind kind, limits l);
  ~driver();
  driver(const driver&) = delete;
  driver& operator=(const driver&) = delete;

  [[nodiscard]] sluice::loop& get() noexcept { return *loop_; }
  [[nodiscard]] loop_kind kind() const noexcept { return kind_; }

  /// Runs the loop until `done()` holds (checked between tasks), the loop is idle, or the
  /// limits are reached.
  wait_status run_until(const std::function<bool()>& done);
  /// Runs the loop until it is idle (or the limits): what a stream does late shows up.
  wait_status settle() {
    return run_until([] { return false; });
  }
  /// What a task threw (wait_status::threw).
  [[nodiscard]] const std::string& exception() const noexcept { return exception_; }
  /// "the loop went idle", "5000 ms passed", ...: why a wait ended, for a result's detail.
  [[nodiscard]] std::string describe(wait_status s) const;

 private:
  wait_status run_manual(const std::function<bool()>& done);
  wait_status run_asio(const std::function<bool()>& done);

  struct asio_parts;
  loop_kind kind_;
  limits limits_;
  std::unique_ptr<asio_parts> asio_;  // the io_context and its loop (kind asio)
  std::unique_ptr<manual_loop> manual_;
  sluice::loop* loop_ = nullptr;
  std::string exception_;
};

}  // namespace detail
}  // namespace sluice::testing
