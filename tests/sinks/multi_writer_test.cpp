// multi_writer<T>: each policy (all, any, quorum) with a slow, a failing and a dead target;
// backpressure, lagging, the circuit breaker, end() and destroy() in each state, on a manual
// loop so that every time and order is exact.
#include "sluice/sinks/multi_writer.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <deque>
#include <memory>
#include <stdexcept>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "sluice/core/buffer.hpp"
#include "sluice/core/loop.hpp"
#include "sluice/core/make.hpp"
#include "sluice/io/file.hpp"
#include "support/temp_files.hpp"

namespace {

using namespace std::chrono_literals;
using sluice::fan_out_policy;
using sluice::fan_out_state;
using sluice::manual_loop;
using sluice::multi_writer;
using ms = std::chrono::milliseconds;

class test_category final : public std::error_category {
 public:
  [[nodiscard]] const char* name() const noexcept override { return "test"; }
  [[nodiscard]] std::string message(int) const override { return "boom"; }
};
std::error_code boom() {
  static const test_category cat;
  return {1, cat};
}

ms now(const manual_loop& loop) {
  return std::chrono::duration_cast<ms>(loop.now().time_since_epoch());
}

// How a fake target acknowledges a write: at once, after `delay`, when the test says, or with
// an error.
enum class ack { now, later, hold, fail };

// A target that records what it got and when, and acknowledges as told.
struct fake {
  std::string name;
  ack mode = ack::now;
  ms delay{0};
  std::vector<int> got;
  std::vector<ms> at;
  std::deque<sluice::writable<int>::write_callback> held;
  std::shared_ptr<sluice::writable<int>> s;

  void release() {
    ASSERT_FALSE(held.empty());
    auto cb = held.front();
    held.pop_front();
    cb();
  }
};

std::shared_ptr<fake> mk(manual_loop& loop, std::string name, ack mode, ms delay = 0ms) {
  auto f = std::make_shared<fake>();
  f->name = std::move(name);
  f->mode = mode;
  f->delay = delay;
  fake* raw = f.get();
  f->s = sluice::make_writable<int>(
      loop, {.name = f->name, .write = [raw, &loop](sluice::writable<int>& self, int&& x, auto cb) {
               raw->got.push_back(x);
               raw->at.push_back(now(loop));
               switch (raw->mode) {
                 case ack::now:
                   cb();
                   break;
                 case ack::later:
                   (void)loop.start_timer(raw->delay,
                                          [keep = self.shared_from_this(), cb] { cb(); });
                   break;
                 case ack::hold:
                   raw->held.push_back(cb);
                   break;
                 case ack::fail:
                   cb(boom());
                   break;
               }
             }});
  return f;
}

using targets_t = std::vector<std::shared_ptr<fake>>;

std::shared_ptr<multi_writer<int>> make(manual_loop& loop, const targets_t& ts,
                                        sluice::multi_writer_options o) {
  std::vector<sluice::multi_writer_target<int>> v;
  for (const auto& t : ts) v.push_back({t->name, t->s});
  return sluice::make_multi_writer<int>(loop, std::move(v), std::move(o));
}

// The stream's events and each write's callback, as lines.
struct recorder {
  std::vector<std::string> log;
  int errors = 0;
  int closes = 0;
  void watch(manual_loop& loop, sluice::writable<int>& w) {
    w.on_error([this, &loop](std::error_code ec) {
      ++errors;
      log.push_back(std::to_string(now(loop).count()) + " error " + ec.message());
    });
    w.on_close([this, &loop] {
      ++closes;
      log.push_back(std::to_string(now(loop).count()) + " close");
    });
    w.on_drain([this, &loop] { log.push_back(std::to_string(now(loop).count()) + " drain"); });
    w.on_finish([this, &loop] { log.push_back(std::to_string(now(loop).count()) + " finish"); });
  }
  sluice::callback cb(manual_loop& loop, std::string what) {
    return [this, &loop, what](std::error_code ec) {
      log.push_back(std::to_string(now(loop).count()) + " " + what + " " +
                    (ec ? ec.message() : std::string("ok")));
    };
  }
};

using lines = std::vector<std::string>;

// ---- all ---------------------------------------------------------------------------------

TEST(MultiWriterAll, SlowestTargetGovernsBackpressure) {
  manual_loop loop;
  targets_t ts{mk(loop, "a", ack::now), mk(loop, "b", ack::later, 10ms),
               mk(loop, "c", ack::later, 3ms)};
  auto w = make(loop, ts, {.high_water_mark = 2});
  recorder r;
  r.watch(loop, *w);
  EXPECT_TRUE(w->write(1, r.cb(loop, "w1")));
  EXPECT_FALSE(w->write(2, r.cb(loop, "w2")));
  EXPECT_FALSE(w->write(3, r.cb(loop, "w3")));
  loop.advance(100ms);
  EXPECT_EQ(r.log, (lines{"10 w1 ok", "20 w2 ok", "30 drain", "30 w3 ok"}));
  for (const auto& t : ts) {
    EXPECT_EQ(t->got, (std::vector<int>{1, 2, 3})) << t->name;
    // Each target gets the next item only once every target acknowledged the last one.
    EXPECT_EQ(t->at, (std::vector<ms>{0ms, 10ms, 20ms})) << t->name;
  }
  EXPECT_EQ(w->counters().write_backpressure, 1U);
  EXPECT_EQ(w->counters().drains, 1U);
  for (const auto& st : w->target_counters()) {
    EXPECT_EQ(st.delivered, 3U) << st.name;
    EXPECT_EQ(st.state, fan_out_state::ok);
  }
  w->destroy();
  loop.advance(1ms);
  EXPECT_EQ(loop.timer_count(), 0U);
}

TEST(MultiWriterAll, FailingTargetFailsTheWriteAndTheStreamWithItsCause) {
  manual_loop loop;
  targets_t ts{mk(loop, "a", ack::now), mk(loop, "b", ack::fail), mk(loop, "c", ack::hold)};
  auto w = make(loop, ts, {});
  recorder r;
  r.watch(loop, *w);
  w->write(1, r.cb(loop, "w1"));
  w->write(2, r.cb(loop, "w2"));
  loop.advance(1ms);
  EXPECT_EQ(r.log, (lines{"0 w1 boom", "0 w2 boom", "0 error boom", "0 close"}));
  EXPECT_EQ(w->errored(), boom());
  EXPECT_EQ(w->error_message(), "write: all of 3 not met: a ok, b dead (boom), c ok: boom");
  // The others are owned: destroyed with it.
  EXPECT_TRUE(ts[0]->s->destroyed());
  EXPECT_TRUE(ts[2]->s->destroyed());
  EXPECT_EQ(ts[1]->got, (std::vector<int>{1}));
  EXPECT_EQ(r.errors, 1);
  EXPECT_EQ(r.closes, 1);
}

TEST(MultiWriterAll, DeadTargetFailsTheFirstWrite) {
  manual_loop loop;
  targets_t ts{mk(loop, "a", ack::now), mk(loop, "b", ack::now)};
  ts[1]->s->destroy(boom());
  auto w = make(loop, ts, {});
  recorder r;
  r.watch(loop, *w);
  EXPECT_TRUE(w->write(1, r.cb(loop, "w1")));  // it fails on a later tick, as writes do
  EXPECT_TRUE(r.log.empty());
  loop.advance(1ms);
  EXPECT_EQ(r.log, (lines{"0 w1 boom", "0 error boom", "0 close"}));
  EXPECT_TRUE(ts[0]->got.empty());  // nothing half-written when the policy cannot be met
  EXPECT_EQ(w->target_counters()[1].state, fan_out_state::dead);
}

TEST(MultiWriterAll, SlowTargetTimesOutAndFailsWithTimedOut) {
  manual_loop loop;
  targets_t ts{mk(loop, "a", ack::now), mk(loop, "b", ack::hold)};
  auto w = make(loop, ts, {.target_timeout = 50ms});
  recorder r;
  r.watch(loop, *w);
  w->write(1, r.cb(loop, "w1"));
  loop.advance(49ms);
  EXPECT_TRUE(r.log.empty());
  loop.advance(1ms);
  EXPECT_EQ(w->errored(), std::errc::timed_out);
  EXPECT_EQ(r.log.at(0), "50 w1 " + std::make_error_code(std::errc::timed_out).message());
  EXPECT_EQ(w->target_counters()[1].timeouts, 1U);
  loop.advance(1ms);
  EXPECT_EQ(r.errors, 1);
  EXPECT_EQ(loop.timer_count(), 0U);
}

// ---- any ---------------------------------------------------------------------------------

TEST(MultiWriterAny, FirstAckCompletesLateAcksStillCount) {
  manual_loop loop;
  targets_t ts{mk(loop, "fast", ack::later, 2ms), mk(loop, "slow", ack::later, 30ms),
               mk(loop, "failing", ack::fail)};
  auto w = make(loop, ts, {.policy = fan_out_policy::any()});
  recorder r;
  r.watch(loop, *w);
  w->write(1, r.cb(loop, "w1"));
  w->write(2, r.cb(loop, "w2"));
  loop.advance(10ms);
  // The failing target dies without taking the others down.
  EXPECT_EQ(r.log, (lines{"2 w1 ok", "4 w2 ok"}));
  EXPECT_FALSE(w->errored());
  auto st = w->target_counters();
  EXPECT_EQ(st[2].state, fan_out_state::dead);
  EXPECT_EQ(st[2].error, boom());
  EXPECT_EQ(st[2].failed, 1U);
  EXPECT_EQ(st[1].delivered, 0U);
  EXPECT_EQ(st[1].in_flight, 2U);
  loop.advance(100ms);
  st = w->target_counters();
  EXPECT_EQ(st[1].delivered, 2U);  // late acks, after both writes completed
  EXPECT_EQ(st[1].in_flight, 0U);
  // It had 2 from 2 ms on, buffered in its own writable while it worked on 1.
  EXPECT_EQ(ts[1]->at, (std::vector<ms>{0ms, 30ms}));
}

TEST(MultiWriterAny, AllTargetsDeadFailsWithEachState) {
  manual_loop loop;
  targets_t ts{mk(loop, "a", ack::fail), mk(loop, "b", ack::hold)};
  auto w = make(loop, ts, {.policy = fan_out_policy::any()});
  recorder r;
  r.watch(loop, *w);
  w->write(1, r.cb(loop, "w1"));
  loop.advance(1ms);
  EXPECT_TRUE(r.log.empty());  // b may still acknowledge
  ts[1]->s->destroy(std::make_error_code(std::errc::broken_pipe));
  loop.advance(1ms);
  const std::string pipe = std::make_error_code(std::errc::broken_pipe).message();
  EXPECT_EQ(r.log, (lines{"1 w1 " + pipe, "1 error " + pipe, "1 close"}));
  EXPECT_EQ(w->error_message(),
            "write: any of 2 not met: a dead (boom), b dead (" + pipe + "): " + pipe);
}

TEST(MultiWriterAny, IdleWriterFailsOnceNoTargetIsLeft) {
  manual_loop loop;
  targets_t ts{mk(loop, "a", ack::now)};
  auto w = make(loop, ts, {.policy = fan_out_policy::any()});
  recorder r;
  r.watch(loop, *w);
  ts[0]->s->destroy(boom());
  loop.advance(1ms);
  EXPECT_EQ(r.log, (lines{"0 error boom", "0 close"}));
  EXPECT_EQ(w->error_message(), "target lost: any of 1 not met: a dead (boom): boom");
}

// ---- quorum ------------------------------------------------------------------------------

TEST(MultiWriterQuorum, SlowTargetLagsIsSkippedAndCatchesUp) {
  manual_loop loop;
  targets_t ts{mk(loop, "a", ack::now), mk(loop, "b", ack::later, 1ms),
               mk(loop, "slow", ack::hold)};
  auto w = make(loop, ts, {.policy = fan_out_policy::quorum(2), .queue_limit = 2});
  recorder r;
  r.watch(loop, *w);
  for (int i = 1; i <= 5; ++i) w->write(i, r.cb(loop, "w" + std::to_string(i)));
  loop.advance(10ms);
  EXPECT_EQ(r.log, (lines{"1 w1 ok", "2 w2 ok", "3 w3 ok", "4 w4 ok", "5 w5 ok"}));
  // Never more than queue_limit behind: 1 in its write hook, 2 in its own buffer.
  EXPECT_EQ(ts[2]->got, (std::vector<int>{1}));
  auto st = w->target_counters();
  EXPECT_EQ(st[2].state, fan_out_state::lagging);
  EXPECT_EQ(st[2].lagging, 3U);
  EXPECT_EQ(st[2].in_flight, 2U);
  EXPECT_EQ(st[0].lagging, 0U);
  // Catching up: it takes the next item again, in order, skipping what it missed.
  ts[2]->release();
  loop.advance(1ms);
  w->write(6, r.cb(loop, "w6"));
  loop.advance(1ms);
  st = w->target_counters();
  EXPECT_EQ(st[2].delivered, 1U);
  EXPECT_EQ(st[2].state, fan_out_state::lagging);  // 2 and 6 unacknowledged
  EXPECT_EQ(r.log.back(), "12 w6 ok");
  ts[2]->release();
  ts[2]->release();
  loop.advance(1ms);
  EXPECT_EQ(ts[2]->got, (std::vector<int>{1, 2, 6}));
  EXPECT_EQ(w->target_counters()[2].state, fan_out_state::ok);
  EXPECT_EQ(w->target_counters()[2].delivered, 3U);
}

TEST(MultiWriterQuorum, LaggingTargetThatCatchesUpTakesTheWaitingItem) {
  manual_loop loop;
  targets_t ts{mk(loop, "a", ack::now), mk(loop, "slow", ack::hold), mk(loop, "dead", ack::fail)};
  auto w = make(loop, ts, {.policy = fan_out_policy::quorum(2), .queue_limit = 1});
  recorder r;
  r.watch(loop, *w);
  w->write(1, r.cb(loop, "w1"));
  loop.advance(1ms);  // "dead" died; quorum(2) needs "slow"
  ts[1]->release();
  loop.advance(1ms);
  w->write(2, r.cb(loop, "w2"));
  loop.advance(1ms);
  EXPECT_EQ(r.log, (lines{"1 w1 ok"}));
  ts[1]->release();
  loop.advance(1ms);
  EXPECT_EQ(r.log, (lines{"1 w1 ok", "3 w2 ok"}));
  EXPECT_FALSE(w->errored());
  EXPECT_EQ(w->target_counters()[2].state, fan_out_state::dead);
}

TEST(MultiWriterQuorum, TimeoutsOpenTheBreakerAndAProbeClosesIt) {
  manual_loop loop;
  targets_t ts{mk(loop, "a", ack::now), mk(loop, "b", ack::now), mk(loop, "c", ack::hold)};
  auto w = make(loop, ts,
                {.policy = fan_out_policy::quorum(2),
                 .target_timeout = 10ms,
                 .failure_threshold = 2,
                 .cool_down = 100ms});
  recorder r;
  r.watch(loop, *w);
  w->write(1, r.cb(loop, "w1"));
  w->write(2, r.cb(loop, "w2"));
  loop.advance(10ms);
  auto st = w->target_counters();
  EXPECT_EQ(st[2].timeouts, 2U);
  EXPECT_EQ(st[2].state, fan_out_state::open);
  EXPECT_EQ(st[2].opened, 1U);
  EXPECT_EQ(st[2].in_flight, 2U);
  w->write(3, r.cb(loop, "w3"));  // skipped while open
  loop.advance(89ms);
  EXPECT_EQ(ts[2]->got, (std::vector<int>{1}));
  EXPECT_EQ(w->target_counters()[2].in_flight, 2U);
  EXPECT_EQ(w->target_counters()[2].state, fan_out_state::open);
  loop.advance(1ms);  // 100 ms after it opened at 10
  loop.advance(10ms);
  EXPECT_EQ(w->target_counters()[2].state, fan_out_state::half_open);
  // It answers, late: delivered, but not a closing probe.
  ts[2]->release();
  ts[2]->release();
  loop.advance(1ms);
  st = w->target_counters();
  EXPECT_EQ(st[2].delivered, 2U);
  EXPECT_EQ(st[2].state, fan_out_state::half_open);
  w->write(4, r.cb(loop, "w4"));  // the probe
  loop.advance(1ms);
  EXPECT_EQ(ts[2]->got, (std::vector<int>{1, 2, 4}));
  ts[2]->release();
  loop.advance(1ms);
  EXPECT_EQ(w->target_counters()[2].state, fan_out_state::ok);
  // The probe is not needed for the quorum: w4 completed with a and b.
  EXPECT_EQ(r.log, (lines{"0 w1 ok", "0 w2 ok", "10 w3 ok", "111 w4 ok"}));
  EXPECT_GT(w->pending_timers(), 0U);
  w->destroy();
  EXPECT_EQ(w->pending_timers(), 0U);
  loop.advance(1s);
  EXPECT_EQ(loop.timer_count(), 0U);
}

TEST(MultiWriterQuorum, FailedProbeReopensTheBreaker) {
  manual_loop loop;
  targets_t ts{mk(loop, "a", ack::now), mk(loop, "b", ack::now), mk(loop, "c", ack::hold)};
  auto w = make(loop, ts,
                {.policy = fan_out_policy::quorum(2),
                 .target_timeout = 10ms,
                 .failure_threshold = 1,
                 .cool_down = 50ms});
  w->write(1);
  loop.advance(10ms);
  EXPECT_EQ(w->target_counters()[2].state, fan_out_state::open);
  loop.advance(50ms);
  w->write(2);  // probe at 60
  loop.advance(9ms);
  EXPECT_EQ(w->target_counters()[2].state, fan_out_state::half_open);
  loop.advance(1ms);
  const auto st = w->target_counters()[2];
  EXPECT_EQ(st.state, fan_out_state::open);
  EXPECT_EQ(st.opened, 2U);
  EXPECT_EQ(st.timeouts, 2U);
  EXPECT_EQ(st.in_flight, 2U);
  EXPECT_EQ(w->target_counters()[0].delivered, 2U);
  EXPECT_EQ(w->pending_timers(), 1U);  // the cool-down
  w->destroy();
  EXPECT_EQ(w->pending_timers(), 0U);
  loop.advance(1s);
  EXPECT_EQ(loop.timer_count(), 0U);
}

TEST(MultiWriterQuorum, UnmetQuorumListsEveryTarget) {
  manual_loop loop;
  targets_t ts{mk(loop, "a", ack::now), mk(loop, "b", ack::fail), mk(loop, "c", ack::hold)};
  auto w = make(loop, ts,
                {.policy = fan_out_policy::quorum(2),
                 .target_timeout = 10ms,
                 .failure_threshold = 1,
                 .cool_down = 1s});
  recorder r;
  r.watch(loop, *w);
  w->write(1, r.cb(loop, "w1"));
  loop.advance(10ms);
  const std::string to = std::make_error_code(std::errc::timed_out).message();
  EXPECT_EQ(r.log, (lines{"10 w1 " + to, "10 error " + to, "10 close"}));
  EXPECT_EQ(w->error_message(),
            "write: quorum(2) of 3 not met: a ok, b dead (boom), c open (" + to + "): " + to);
  w->destroy();  // after the failure: nothing more
  loop.advance(1ms);
  EXPECT_EQ(r.log.size(), 3U);
  EXPECT_EQ(w->errored(), std::errc::timed_out);
  EXPECT_EQ(w->pending_timers(), 0U);  // c's cool-down, cancelled
  loop.advance(1s);
  EXPECT_EQ(loop.timer_count(), 0U);
}

// ---- end ---------------------------------------------------------------------------------

TEST(MultiWriterEnd, WriteAfterEndFails) {
  manual_loop loop;
  targets_t ts{mk(loop, "a", ack::now), mk(loop, "b", ack::later, 5ms)};
  auto w = make(loop, ts, {});
  recorder r;
  r.watch(loop, *w);
  w->write(1, r.cb(loop, "w1"));
  w->end(r.cb(loop, "end"));
  EXPECT_FALSE(w->write(2, r.cb(loop, "w2")));
  loop.advance(20ms);
  // As in Node, the write after end() destroys the stream: w1, in flight, fails with it.
  EXPECT_EQ(r.log, (lines{"0 w2 write after end", "0 w1 write after end", "0 end write after end",
                          "0 error write after end", "0 close"}));
  EXPECT_TRUE(ts[1]->s->destroyed());
  EXPECT_EQ(r.errors, 1);
}

TEST(MultiWriterEnd, FinishAfterTargetsFinishAndEndCallbackOnce) {
  manual_loop loop;
  targets_t ts{mk(loop, "a", ack::now), mk(loop, "b", ack::later, 5ms)};
  auto w = make(loop, ts, {});
  recorder r;
  r.watch(loop, *w);
  w->write(1, r.cb(loop, "w1"));
  w->end(r.cb(loop, "end"));
  loop.advance(20ms);
  EXPECT_EQ(r.log, (lines{"5 w1 ok", "5 end ok", "5 finish", "5 close"}));
  EXPECT_TRUE(ts[0]->s->finished());
  EXPECT_TRUE(ts[1]->s->finished());
  EXPECT_TRUE(w->target_counters()[1].finished);
  EXPECT_EQ(loop.timer_count(), 0U);
}

TEST(MultiWriterEnd, QuorumGivesAStragglerTargetTimeoutThenDestroysIt) {
  manual_loop loop;
  targets_t ts{mk(loop, "a", ack::now), mk(loop, "b", ack::now), mk(loop, "c", ack::hold)};
  auto w =
      make(loop, ts,
           {.policy = fan_out_policy::quorum(2), .target_timeout = 30ms, .failure_threshold = 5});
  recorder r;
  r.watch(loop, *w);
  w->write(1, r.cb(loop, "w1"));
  w->end(r.cb(loop, "end"));
  loop.advance(100ms);
  EXPECT_EQ(r.log, (lines{"0 w1 ok", "30 end ok", "30 finish", "30 close"}));
  EXPECT_TRUE(ts[2]->s->destroyed());  // owned: autoDestroy took it down
  EXPECT_FALSE(ts[2]->s->finished());
  EXPECT_EQ(loop.timer_count(), 0U);
}

TEST(MultiWriterEnd, AllFailsWhenATargetDiesWhileEnding) {
  manual_loop loop;
  targets_t ts{mk(loop, "a", ack::now), mk(loop, "b", ack::hold)};
  auto w = make(loop, ts, {});
  recorder r;
  r.watch(loop, *w);
  w->write(1, r.cb(loop, "w1"));
  ts[1]->release();
  w->end(r.cb(loop, "end"));
  loop.advance(1ms);
  EXPECT_EQ(r.log, (lines{"0 w1 ok", "0 end ok", "0 finish", "0 close"}));

  targets_t ts2{mk(loop, "a", ack::now), mk(loop, "b", ack::hold)};
  auto w2 = make(loop, ts2, {});
  recorder r2;
  r2.watch(loop, *w2);
  w2->write(1, r2.cb(loop, "w1"));
  w2->end(r2.cb(loop, "end"));
  loop.advance(1ms);
  // w1 is still waiting for b: killing b fails it, and end() with it.
  ts2[1]->s->destroy(boom());
  loop.advance(1ms);
  EXPECT_EQ(r2.log, (lines{"2 w1 boom", "2 end boom", "2 error boom", "2 close"}));
  EXPECT_EQ(w2->error_message(), "write: all of 2 not met: a ok, b dead (boom): boom");
}

TEST(MultiWriterEnd, TargetFailingToFinishFailsEndWithItsCause) {
  manual_loop loop;
  targets_t ts{mk(loop, "a", ack::now)};
  auto b = std::make_shared<fake>();
  b->name = "b";
  b->s = sluice::make_writable<int>(
      loop, {.name = "b",
             .write = [](sluice::writable<int>&, int&&, auto cb) { cb(); },
             .final = [](sluice::writable<int>&, sluice::callback cb) { cb(boom()); }});
  ts.push_back(b);
  auto w = make(loop, ts, {.policy = fan_out_policy::quorum(2)});
  recorder r;
  r.watch(loop, *w);
  w->write(1, r.cb(loop, "w1"));
  w->end(r.cb(loop, "end"));
  loop.advance(1ms);
  EXPECT_EQ(r.log, (lines{"0 w1 ok", "0 end boom", "0 error boom", "0 close"}));
  EXPECT_EQ(w->error_message(),
            "end: quorum(2) of 2 not met: a ok (finished), b dead (boom): boom");
  EXPECT_EQ(r.errors, 1);
}

// ---- destroy -----------------------------------------------------------------------------

TEST(MultiWriterDestroy, WithAnItemInFlightFailsItOnceAndDestroysTargets) {
  manual_loop loop;
  targets_t ts{mk(loop, "a", ack::now), mk(loop, "b", ack::hold)};
  auto w = make(loop, ts, {.target_timeout = 10ms});
  recorder r;
  r.watch(loop, *w);
  w->write(1, r.cb(loop, "w1"));
  w->write(2, r.cb(loop, "w2"));
  w->end(r.cb(loop, "end"));
  EXPECT_EQ(w->pending_timers(), 2U);  // a's and b's timeouts
  w->destroy();
  EXPECT_EQ(w->pending_timers(), 0U);
  EXPECT_TRUE(r.log.empty());  // never from within destroy()
  loop.advance(1ms);
  const std::string d = make_error_code(sluice::errc::stream_destroyed).message();
  EXPECT_EQ(r.log, (lines{"0 w1 " + d, "0 w2 " + d, "0 end " + d, "0 close"}));
  EXPECT_TRUE(ts[0]->s->destroyed());
  EXPECT_TRUE(ts[1]->s->destroyed());
  // A target calling back after that changes nothing.
  ts[1]->release();
  loop.advance(1ms);
  EXPECT_EQ(r.log.size(), 4U);
  loop.advance(1s);
  EXPECT_EQ(loop.timer_count(), 0U);
}

TEST(MultiWriterDestroy, InEveryState) {
  const std::string d = make_error_code(sluice::errc::stream_destroyed).message();
  {  // idle, with an error: the error keeps its cause
    manual_loop loop;
    targets_t ts{mk(loop, "a", ack::now)};
    auto w = make(loop, ts, {});
    recorder r;
    r.watch(loop, *w);
    w->destroy(boom());
    w->destroy();
    loop.advance(1ms);
    EXPECT_EQ(r.log, (lines{"0 error boom", "0 close"}));
    EXPECT_TRUE(ts[0]->s->destroyed());
  }
  {  // after end(), before 'finish'
    manual_loop loop;
    targets_t ts{mk(loop, "a", ack::later, 5ms)};
    auto w = make(loop, ts, {});
    recorder r;
    r.watch(loop, *w);
    w->write(1, r.cb(loop, "w1"));
    w->end(r.cb(loop, "end"));
    loop.advance(1ms);
    w->destroy();
    loop.advance(10ms);
    EXPECT_EQ(r.log, (lines{"1 w1 " + d, "1 end " + d, "1 close"}));
  }
  {  // after 'finish' (auto-destroyed): a no-op
    manual_loop loop;
    targets_t ts{mk(loop, "a", ack::now)};
    auto w = make(loop, ts, {});
    recorder r;
    r.watch(loop, *w);
    w->end(r.cb(loop, "end"));
    loop.advance(1ms);
    w->destroy(boom());
    loop.advance(1ms);
    EXPECT_EQ(r.log, (lines{"0 end ok", "0 finish", "0 close"}));
    EXPECT_FALSE(w->errored());
  }
}

TEST(MultiWriterDestroy, TargetListenersDetachedAndNoCycle) {
  manual_loop loop;
  targets_t ts{mk(loop, "a", ack::hold)};
  std::weak_ptr<multi_writer<int>> weak;
  {
    auto w = make(loop, ts, {.target_timeout = 10ms});
    weak = w;
    w->write(1);
    EXPECT_EQ(ts[0]->s->listener_count(), 3U);
    w->destroy();
    EXPECT_EQ(ts[0]->s->listener_count(), 0U);
  }
  loop.advance(1ms);
  EXPECT_TRUE(weak.expired());  // the held write callback in "a" does not keep it alive
}

// ---- real files ----------------------------------------------------------------------------

TEST(MultiWriterFiles, QuorumOfFilesSurvivesAMissingDirectory) {
  sluice::test::temp_dir dir;
  manual_loop loop;
  const std::size_t fds = sluice::test::open_fd_count();
  std::vector<sluice::multi_writer_target<sluice::buffer>> v{
      {"one", sluice::make_file_writer(loop, dir / "one.txt")},
      {"two", sluice::make_file_writer(loop, dir / "two.txt")},
      {"gone", sluice::make_file_writer(loop, dir / "no-such-dir" / "x.txt")}};
  auto w = sluice::make_multi_writer<sluice::buffer>(loop, std::move(v),
                                                     {.policy = fan_out_policy::quorum(2)});
  std::vector<std::string> log;
  for (const char* line : {"alpha\n", "beta\n", "gamma\n"})
    w->write(sluice::buffer::copy_of(line),
             [&log](std::error_code ec) { log.push_back(ec ? ec.message() : "ok"); });
  w->end([&log](std::error_code ec) { log.push_back("end " + (ec ? ec.message() : "ok")); });
  loop.run();
  EXPECT_EQ(log, (lines{"ok", "ok", "ok", "end ok"}));
  EXPECT_EQ(sluice::test::read_file(dir / "one.txt"), "alpha\nbeta\ngamma\n");
  EXPECT_EQ(sluice::test::read_file(dir / "two.txt"), "alpha\nbeta\ngamma\n");
  const auto st = w->target_counters();
  EXPECT_EQ(st[2].state, fan_out_state::dead);
  EXPECT_EQ(st[2].error, std::errc::no_such_file_or_directory);
  EXPECT_EQ(st[0].delivered, 3U);
  EXPECT_TRUE(st[0].finished);
  EXPECT_EQ(sluice::test::open_fd_count(), fds);  // every target closed its file
}

TEST(MultiWriter, RejectsBadOptions) {
  manual_loop loop;
  targets_t ts{mk(loop, "a", ack::now), mk(loop, "b", ack::now)};
  EXPECT_THROW(make(loop, {}, {}), std::invalid_argument);
  EXPECT_THROW(make(loop, ts, {.policy = fan_out_policy::quorum(3)}), std::invalid_argument);
  EXPECT_THROW(make(loop, ts, {.policy = fan_out_policy::quorum(0)}), std::invalid_argument);
  EXPECT_THROW(make(loop, ts, {.queue_limit = 0}), std::invalid_argument);
  EXPECT_THROW(make(loop, ts, {.failure_threshold = 0}), std::invalid_argument);
}

}  // namespace
