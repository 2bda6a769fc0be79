// Unit tests of the loops: manual_loop (deferred tasks, virtual-time timers) and asio_loop (the
// same contract on a real boost::asio::io_context).
#include "sluice/core/loop.hpp"

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "sluice/core/asio_loop.hpp"

namespace {

using namespace std::chrono_literals;
using sluice::manual_loop;
using log_t = std::vector<std::string>;

sluice::task note(log_t& log, std::string s) {
  return [&log, s = std::move(s)] { log.push_back(s); };
}

// ---- manual_loop: deferred tasks --------------------------------------------------------------

TEST(ManualLoop, DeferNeverRunsInline) {
  manual_loop loop;
  log_t log;
  loop.defer(note(log, "a"));
  EXPECT_TRUE(log.empty());
  EXPECT_EQ(loop.deferred_count(), 1u);
}

TEST(ManualLoop, DeferRunsInFifoOrder) {
  manual_loop loop;
  log_t log;
  for (const char* s : {"a", "b", "c", "d"}) loop.defer(note(log, s));
  EXPECT_EQ(loop.run_until_idle(), 4u);
  EXPECT_EQ(log, (log_t{"a", "b", "c", "d"}));
  EXPECT_EQ(loop.deferred_count(), 0u);
}

TEST(ManualLoop, TasksDeferredDuringADrainRunInTheSameDrain) {
  manual_loop loop;
  log_t log;
  loop.defer([&] {
    log.push_back("a");
    loop.defer([&] {
      log.push_back("c");
      loop.defer(note(log, "e"));
    });
  });
  loop.defer([&] {
    log.push_back("b");
    loop.defer(note(log, "d"));
  });
  EXPECT_EQ(loop.run_until_idle(), 5u);
  // FIFO: tasks queued during the drain go after everything already queued.
  EXPECT_EQ(log, (log_t{"a", "b", "c", "d", "e"}));
  EXPECT_EQ(loop.deferred_count(), 0u);
}

TEST(ManualLoop, StepRunsExactlyOne) {
  manual_loop loop;
  log_t log;
  loop.defer([&] {
    log.push_back("a");
    loop.defer(note(log, "c"));
  });
  loop.defer(note(log, "b"));
  EXPECT_TRUE(loop.step());
  EXPECT_EQ(log, (log_t{"a"}));
  EXPECT_EQ(loop.deferred_count(), 2u);
  EXPECT_TRUE(loop.step());
  EXPECT_EQ(log, (log_t{"a", "b"}));
  EXPECT_TRUE(loop.step());
  EXPECT_EQ(log, (log_t{"a", "b", "c"}));
  EXPECT_FALSE(loop.step());
}

TEST(ManualLoop, StepDoesNotFireTimers) {
  manual_loop loop;
  log_t log;
  loop.start_timer(0ns, note(log, "t"));
  EXPECT_FALSE(loop.step());
  EXPECT_EQ(loop.run_until_idle(), 0u);
  EXPECT_TRUE(log.empty());
  EXPECT_EQ(loop.timer_count(), 1u);
}

TEST(ManualLoop, DeferSequenceCountsEveryDefer) {
  manual_loop loop;
  const auto s0 = loop.defer_sequence();
  loop.defer([] {});
  loop.defer([] {});
  EXPECT_EQ(loop.defer_sequence(), s0 + 2);
  loop.run_until_idle();
  EXPECT_EQ(loop.defer_sequence(), s0 + 2);  // running does not count
}

// ---- manual_loop: timers ---------------------------------------------------------------------

TEST(ManualLoop, TimerCountLeavesOutCancelledTimers) {
  manual_loop loop;
  log_t log;
  sluice::timer a = loop.start_timer(10ms, note(log, "a"));
  loop.start_timer(20ms, note(log, "b"));
  EXPECT_EQ(loop.timer_count(), 2u);
  EXPECT_TRUE(a.cancel());
  EXPECT_EQ(loop.timer_count(), 1u);  // what a test of "timers cancelled on destroy" reads
  loop.advance(30ms);
  EXPECT_EQ(log, (log_t{"b"}));
  EXPECT_EQ(loop.timer_count(), 0u);
}

TEST(ManualLoop, TimersFireInTimeOrder) {
  manual_loop loop;
  log_t log;
  loop.start_timer(30ms, note(log, "30"));
  loop.start_timer(10ms, note(log, "10"));
  loop.start_timer(20ms, note(log, "20"));
  EXPECT_EQ(loop.timer_count(), 3u);
  EXPECT_EQ(loop.run(), 3u);
  EXPECT_EQ(log, (log_t{"10", "20", "30"}));
  EXPECT_EQ(loop.now(), manual_loop::time_point{} + 30ms);
  EXPECT_EQ(loop.timer_count(), 0u);
}

TEST(ManualLoop, TimersDueAtTheSameTimeFireInStartOrder) {
  manual_loop loop;
  log_t log;
  loop.start_timer(10ms, note(log, "a"));
  loop.start_timer(5ms, note(log, "early"));
  loop.start_timer(10ms, note(log, "b"));
  loop.start_timer(10ms, note(log, "c"));
  loop.run();
  EXPECT_EQ(log, (log_t{"early", "a", "b", "c"}));
}

TEST(ManualLoop, ZeroDurationTimerFiresAfterAllDeferredTasks) {
  manual_loop loop;
  log_t log;
  loop.start_timer(0ns, note(log, "immediate"));
  loop.defer([&] {
    log.push_back("tick 1");
    loop.defer(note(log, "tick 2"));
  });
  loop.run();
  EXPECT_EQ(log, (log_t{"tick 1", "tick 2", "immediate"}));
}

TEST(ManualLoop, DeferredTasksRunAfterEachTimer) {
  manual_loop loop;
  log_t log;
  loop.start_timer(1ms, [&] {
    log.push_back("t1");
    loop.defer(note(log, "t1 tick"));
  });
  loop.start_timer(1ms, note(log, "t2"));
  loop.run();
  EXPECT_EQ(log, (log_t{"t1", "t1 tick", "t2"}));
}

TEST(ManualLoop, TimerHandlerNeverRunsInline) {
  manual_loop loop;
  log_t log;
  auto t = loop.start_timer(0ns, note(log, "t"));
  EXPECT_TRUE(log.empty());
  EXPECT_TRUE(t.pending());
  loop.run();
  EXPECT_EQ(log, (log_t{"t"}));
  EXPECT_FALSE(t.pending());
}

TEST(ManualLoop, CancelStopsATimer) {
  manual_loop loop;
  log_t log;
  auto a = loop.start_timer(10ms, note(log, "a"));
  auto b = loop.start_timer(20ms, note(log, "b"));
  EXPECT_TRUE(a.cancel());
  EXPECT_FALSE(a.pending());
  EXPECT_FALSE(a.cancel());   // already cancelled
  EXPECT_EQ(loop.run(), 1u);  // a cancelled timer is not counted
  EXPECT_EQ(log, (log_t{"b"}));
  EXPECT_FALSE(b.cancel());  // already fired
}

TEST(ManualLoop, CancelReleasesTheHandlerAtOnce) {
  manual_loop loop;
  auto token = std::make_shared<int>(0);
  auto t = loop.start_timer(1h, [token] {});
  EXPECT_EQ(token.use_count(), 2);
  t.cancel();
  EXPECT_EQ(token.use_count(), 1);
}

TEST(ManualLoop, CancelFromAnotherTimerDueAtTheSameTime) {
  manual_loop loop;
  log_t log;
  sluice::timer b;
  loop.start_timer(5ms, [&] {
    log.push_back("a");
    b.cancel();
  });
  b = loop.start_timer(5ms, note(log, "b"));
  EXPECT_EQ(loop.run(), 1u);
  EXPECT_EQ(log, (log_t{"a"}));
}

TEST(ManualLoop, DefaultTimerHandleIsInert) {
  sluice::timer t;
  EXPECT_FALSE(t.pending());
  EXPECT_FALSE(t.cancel());
}

TEST(ManualLoop, DroppingTheHandleDoesNotCancel) {
  manual_loop loop;
  log_t log;
  { (void)loop.start_timer(1ms, note(log, "t")); }
  loop.run();
  EXPECT_EQ(log, (log_t{"t"}));
}

TEST(ManualLoop, AdvanceFiresOnlyDueTimersAndMovesTheClock) {
  manual_loop loop;
  log_t log;
  const auto t0 = loop.now();
  EXPECT_EQ(t0, manual_loop::time_point{});
  loop.start_timer(10ms, note(log, "10"));
  loop.start_timer(20ms, note(log, "20"));
  loop.start_timer(30ms, note(log, "30"));
  loop.advance(15ms);
  EXPECT_EQ(log, (log_t{"10"}));
  EXPECT_EQ(loop.now(), t0 + 15ms);
  EXPECT_EQ(loop.timer_count(), 2u);
  loop.advance(5ms);  // exactly due
  EXPECT_EQ(log, (log_t{"10", "20"}));
  EXPECT_EQ(loop.now(), t0 + 20ms);
  loop.advance(0ns);
  EXPECT_EQ(log, (log_t{"10", "20"}));
  EXPECT_EQ(loop.timer_count(), 1u);
}

TEST(ManualLoop, AdvanceRunsDeferredTasksFirstAndAfterEachTimer) {
  manual_loop loop;
  log_t log;
  loop.start_timer(1ms, [&] {
    log.push_back("t1 at " + std::to_string((loop.now() - manual_loop::time_point{}) / 1ms));
    loop.defer(note(log, "t1 tick"));
  });
  loop.start_timer(2ms, note(log, "t2"));
  loop.defer(note(log, "before"));
  loop.advance(10ms);
  EXPECT_EQ(log, (log_t{"before", "t1 at 1", "t1 tick", "t2"}));
  EXPECT_EQ(loop.now(), manual_loop::time_point{} + 10ms);
}

TEST(ManualLoop, TimerStartedInAHandlerCountsFromTheHandlersTime) {
  manual_loop loop;
  log_t log;
  loop.start_timer(10ms, [&] {
    log.push_back("outer");
    loop.start_timer(5ms, [&] {
      log.push_back("inner at " + std::to_string((loop.now() - manual_loop::time_point{}) / 1ms));
    });
  });
  loop.advance(100ms);
  EXPECT_EQ(log, (log_t{"outer", "inner at 15"}));
  EXPECT_EQ(loop.now(), manual_loop::time_point{} + 100ms);
}

TEST(ManualLoop, RunJumpsToTheNextTimer) {
  manual_loop loop;
  log_t log;
  loop.start_timer(1h, [&] {
    log.push_back("hour");
    loop.start_timer(24h, note(log, "day"));
  });
  EXPECT_EQ(loop.run(), 2u);
  EXPECT_EQ(log, (log_t{"hour", "day"}));
  EXPECT_EQ(loop.now(), manual_loop::time_point{} + 25h);
  EXPECT_EQ(loop.run(), 0u);  // nothing left
}

// ---- asio_loop --------------------------------------------------------------------------------

TEST(AsioLoop, DeferRunsOnIoRun) {
  boost::asio::io_context io;
  sluice::asio_loop loop(io);
  EXPECT_EQ(&loop.context(), &io);
  log_t log;
  loop.defer([&] {
    log.push_back("a");
    loop.defer(note(log, "c"));
  });
  loop.defer(note(log, "b"));
  EXPECT_TRUE(log.empty());
  io.run();
  EXPECT_EQ(log, (log_t{"a", "b", "c"}));
  EXPECT_EQ(loop.deferred_count(), 0u);
}

TEST(AsioLoop, DeferAfterADrainWakesTheLoopAgain) {
  boost::asio::io_context io;
  sluice::asio_loop loop(io);
  log_t log;
  loop.defer(note(log, "a"));
  io.run();
  io.restart();
  loop.defer(note(log, "b"));
  io.run();
  EXPECT_EQ(log, (log_t{"a", "b"}));
}

TEST(AsioLoop, TimerFiresAfterItsDuration) {
  boost::asio::io_context io;
  sluice::asio_loop loop(io);
  log_t log;
  const auto start = std::chrono::steady_clock::now();
  std::chrono::steady_clock::time_point fired{};
  auto t = loop.start_timer(20ms, [&] {
    fired = std::chrono::steady_clock::now();
    log.push_back("t");
    loop.defer(note(log, "tick after timer"));
  });
  EXPECT_TRUE(t.pending());
  io.run();
  EXPECT_EQ(log, (log_t{"t", "tick after timer"}));
  EXPECT_GE(fired - start, 20ms);
  EXPECT_FALSE(t.pending());
}

TEST(AsioLoop, TimersFireInTimeOrder) {
  boost::asio::io_context io;
  sluice::asio_loop loop(io);
  log_t log;
  loop.start_timer(30ms, note(log, "30"));
  loop.start_timer(10ms, note(log, "10"));
  io.run();
  EXPECT_EQ(log, (log_t{"10", "30"}));
}

TEST(AsioLoop, CancelledTimerLetsIoRunReturnPromptly) {
  boost::asio::io_context io;
  sluice::asio_loop loop(io);
  log_t log;
  auto token = std::make_shared<int>(0);
  auto t = loop.start_timer(1h, [&log, token] { log.push_back("fired"); });
  EXPECT_TRUE(t.cancel());
  EXPECT_EQ(token.use_count(), 1);  // captures released at cancel
  const auto start = std::chrono::steady_clock::now();
  io.run();
  EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);
  EXPECT_TRUE(log.empty());
}

TEST(AsioLoop, CancelFromATask) {
  boost::asio::io_context io;
  sluice::asio_loop loop(io);
  log_t log;
  auto t = loop.start_timer(1h, note(log, "fired"));
  loop.defer([&] { t.cancel(); });
  const auto start = std::chrono::steady_clock::now();
  io.run();
  EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);
  EXPECT_TRUE(log.empty());
}

}  // namespace
