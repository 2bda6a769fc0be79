// Supervision (sluice/compose/supervise.hpp, core/supervision.hpp): the skip policy on a
// per-item transform, and restart for a source and a sink made by a factory, each with a stage
// that fails once, intermittently and always; the backoff and the window on the virtual clock;
// nothing delivered twice by a resuming source, nothing acknowledged lost by a sink.
#include "sluice/compose/supervise.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <system_error>
#include <vector>

#include "sluice/codec/gzip.hpp"
#include "sluice/compose/pipeline.hpp"
#include "sluice/core/loop.hpp"
#include "sluice/core/make.hpp"

namespace {

using namespace std::chrono_literals;
using sluice::errc;
using sluice::manual_loop;
using sluice::pipeline_error;

const std::error_code bad_item = std::make_error_code(std::errc::invalid_argument);
const std::error_code reset = std::make_error_code(std::errc::connection_reset);

std::vector<int> iota(int from, int n) {
  std::vector<int> v;
  for (int i = 0; i < n; ++i) v.push_back(from + i);
  return v;
}

// from, from+1, ... up to n-1, one per read on a later tick; fails with `ec` instead of
// producing item `fail_at` (when set).
std::shared_ptr<sluice::readable<int>> numbers(sluice::loop& loop, int from, int n,
                                               std::optional<int> fail_at = {},
                                               std::error_code ec = reset) {
  auto next = std::make_shared<int>(from);
  return sluice::make_readable<int>(
      loop, {.high_water_mark = 4, .read = [&loop, next, n, fail_at, ec](auto& self, std::size_t) {
               loop.defer([s = self.shared_from_this(), &self, next, n, fail_at, ec] {
                 if (self.destroyed()) return;
                 if (fail_at && *next == *fail_at)
                   self.fail(ec, "feed at item " + std::to_string(*next));
                 else if (*next < n)
                   self.push((*next)++);
                 else
                   self.push_eof();
               });
             }});
}

std::shared_ptr<sluice::writable<int>> collect(sluice::loop& loop, std::vector<int>& out) {
  return sluice::make_writable<int>(
      loop, {.high_water_mark = 4, .write = [&out](auto&, int&& x, auto cb) {
               out.push_back(x);
               cb();
             }});
}

// ---- skip ---------------------------------------------------------------------------------------

// x -> x * 10, failing on the items `fails` says.
std::shared_ptr<sluice::transform<int, int>> times_ten(sluice::loop& loop,
                                                       std::function<bool(int)> fails) {
  return sluice::make_transform<int>(loop, {.readable_high_water_mark = 4,
                                            .writable_high_water_mark = 4,
                                            .name = "times ten",
                                            .transform = [fails](auto&, int&& x, auto cb) {
                                              if (fails(x))
                                                cb(bad_item);
                                              else
                                                cb(x * 10);
                                            }});
}

struct skip_run {
  std::vector<int> out;
  std::vector<sluice::skipped_item> skipped;
  pipeline_error error;
  std::uint64_t counted = 0;
};

skip_run run_with_skip(int n, std::function<bool(int)> fails,
                       std::function<bool(std::error_code)> skippable = {}) {
  manual_loop loop;
  skip_run r;
  auto t = sluice::skip_errors(
      times_ten(loop, std::move(fails)),
      {.skippable = std::move(skippable),
       .on_skip = [&r](const sluice::skipped_item& s) { r.skipped.push_back(s); }});
  int calls = 0;
  sluice::pipeline(numbers(loop, 0, n), t, collect(loop, r.out), [&](const pipeline_error& e) {
    ++calls;
    r.error = e;
  });
  loop.run_until_idle();
  EXPECT_EQ(calls, 1);
  r.counted = t->items_skipped();
  return r;
}

std::vector<int> expected_outputs(int n, const std::function<bool(int)>& fails) {
  std::vector<int> v;
  for (int i = 0; i < n; ++i)
    if (!fails(i)) v.push_back(i * 10);
  return v;
}

TEST(Skip, AnItemThatFailsOnceIsDroppedCountedAndReportedAndTheRestGoOn) {
  auto fails = [](int x) { return x == 3; };
  skip_run r = run_with_skip(10, fails);
  EXPECT_FALSE(r.error) << r.error.message();
  EXPECT_EQ(r.out, expected_outputs(10, fails));
  EXPECT_EQ(r.counted, 1u);
  ASSERT_EQ(r.skipped.size(), 1u);
  EXPECT_EQ(r.skipped[0].index, 3u);
  EXPECT_EQ(r.skipped[0].error, bad_item);
  EXPECT_EQ(r.skipped[0].stage, "times ten");
  EXPECT_EQ(r.skipped[0].message(), "stage 'times ten': item 3 skipped: " + bad_item.message());
}

TEST(Skip, IntermittentFailuresKeepTheOrderOfEverythingElse) {
  auto fails = [](int x) { return x % 7 == 0 || x % 11 == 5; };
  skip_run r = run_with_skip(1000, fails);
  EXPECT_FALSE(r.error) << r.error.message();
  EXPECT_EQ(r.out, expected_outputs(1000, fails));
  const auto want = static_cast<std::uint64_t>(1000 - expected_outputs(1000, fails).size());
  EXPECT_EQ(r.counted, want);
  ASSERT_EQ(r.skipped.size(), want);
  for (const auto& s : r.skipped) EXPECT_TRUE(fails(static_cast<int>(s.index))) << s.index;
}

TEST(Skip, AStageThatAlwaysFailsOutputsNothingAndThePipelineStillCompletes) {
  skip_run r = run_with_skip(200, [](int) { return true; });
  EXPECT_FALSE(r.error) << r.error.message();
  EXPECT_TRUE(r.out.empty());
  EXPECT_EQ(r.counted, 200u);
}

TEST(Skip, AnErrorThePolicyDoesNotTakeStillStopsThePipeline) {
  skip_run r = run_with_skip(
      100, [](int x) { return x == 2 || x == 40; },
      [](std::error_code ec) { return ec != bad_item; });
  ASSERT_TRUE(r.error);
  EXPECT_EQ(r.error.code, bad_item);
  EXPECT_EQ(r.error.stage, 2u);
  EXPECT_EQ(r.counted, 0u);
  // What came before the failing item went through; nothing after it did.
  ASSERT_LE(r.out.size(), 2u);
  for (std::size_t i = 0; i < r.out.size(); ++i) EXPECT_EQ(r.out[i], static_cast<int>(i) * 10);
}

TEST(Skip, ADecoderRefusesTheSkipPolicy) {
  manual_loop loop;
  auto gunzip = sluice::make_gunzip(loop);
  EXPECT_FALSE(gunzip->items_independent());
  try {
    sluice::skip_errors(gunzip);
    FAIL() << "a decoder accepted skip";
  } catch (const std::system_error& e) {
    EXPECT_EQ(e.code(), sluice::make_error_code(errc::invalid_argument));
    EXPECT_NE(std::string(e.what()).find("keeps state"), std::string::npos) << e.what();
  }
}

TEST(Skip, AnObserverThatDestroysTheStageEndsThePipelineWithoutACrash) {
  manual_loop loop;
  std::vector<int> out;
  std::shared_ptr<sluice::transform<int, int>> t = times_ten(loop, [](int x) { return x == 5; });
  std::weak_ptr<sluice::transform<int, int>> weak = t;
  t->skip_item_errors({.on_skip = [weak](const sluice::skipped_item&) {
    if (auto s = weak.lock()) s->destroy(std::make_error_code(std::errc::operation_canceled));
  }});
  pipeline_error got;
  int calls = 0;
  sluice::pipeline(numbers(loop, 0, 100), t, collect(loop, out), [&](const pipeline_error& e) {
    ++calls;
    got = e;
  });
  loop.run_until_idle();
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(got.code, std::make_error_code(std::errc::operation_canceled));
  EXPECT_EQ(out, (std::vector<int>{0, 10, 20, 30, 40}));
}

// ---- restart: sources ---------------------------------------------------------------------------

struct source_run {
  std::vector<int> out;
  std::vector<sluice::restart_event> events;
  std::vector<sluice::restart_context> made;
  pipeline_error error;
  int calls = 0;
  sluice::supervision_counters counters;
};

// A feed of 0..n-1 that resumes at the position the supervisor hands it; instance k fails at
// fail_at(k, from) (nullopt: it does not fail).
source_run run_source(manual_loop& loop, int n,
                      std::function<std::optional<int>(unsigned, int)> fail_at,
                      sluice::restart_options o) {
  source_run r;
  o.on_restart = [&r](const sluice::restart_event& e) { r.events.push_back(e); };
  o.jitter = false;
  auto src = sluice::supervise_source<int>(
      loop,
      [&loop, &r, n, fail_at](const sluice::restart_context& c) {
        r.made.push_back(c);
        const int from = static_cast<int>(c.items);
        return numbers(loop, from, n, fail_at(c.restart, from));
      },
      std::move(o));
  sluice::pipeline(src, collect(loop, r.out), [&r](const pipeline_error& e) {
    ++r.calls;
    r.error = e;
  });
  loop.run();
  r.counters = src->counters();
  return r;
}

TEST(RestartSource, AFeedThatFailsOnceResumesWhereItStoppedAndDeliversEachItemOnce) {
  manual_loop loop;
  source_run r = run_source(
      loop, 50, [](unsigned k, int) { return k == 0 ? std::optional<int>(17) : std::nullopt; }, {});
  EXPECT_EQ(r.calls, 1);
  EXPECT_FALSE(r.error) << r.error.message();
  EXPECT_EQ(r.out, iota(0, 50));
  ASSERT_EQ(r.made.size(), 2u);
  EXPECT_EQ(r.made[1].restart, 1u);
  EXPECT_EQ(r.made[1].items, 17u);
  EXPECT_EQ(r.made[1].last_error, reset);
  ASSERT_EQ(r.events.size(), 1u);
  EXPECT_EQ(r.events[0].restart, 1u);
  EXPECT_EQ(r.events[0].items, 17u);
  EXPECT_EQ(r.events[0].delay, 100ms);
  EXPECT_FALSE(r.events[0].gave_up);
  EXPECT_NE(r.events[0].message.find("feed at item 17"), std::string::npos) << r.events[0].message;
  EXPECT_EQ(r.counters.failures, 1u);
  EXPECT_EQ(r.counters.restarts, 1u);
}

TEST(RestartSource, IntermittentFailuresLoseAndRepeatNothing) {
  manual_loop loop;
  std::mt19937 rng(7);
  source_run r = run_source(loop, 2000,
                            [&rng](unsigned, int from) {
                              return std::optional<int>(from + 1 + static_cast<int>(rng() % 300));
                            },
                            {.max_restarts = 1000});
  EXPECT_FALSE(r.error) << r.error.message();
  EXPECT_EQ(r.out, iota(0, 2000));
  EXPECT_GT(r.counters.restarts, 5u);
  EXPECT_EQ(r.counters.restarts, r.made.size() - 1);
}

TEST(RestartSource, AFeedThatAlwaysFailsGivesUpAfterMaxRestartsWithTheLastError) {
  manual_loop loop;
  const auto start = loop.now();
  source_run r = run_source(loop, 10, [](unsigned, int from) { return std::optional<int>(from); },
                            {.max_restarts = 3, .name = "feed"});
  EXPECT_EQ(r.calls, 1);
  ASSERT_TRUE(r.error);
  EXPECT_EQ(r.error.code, reset);
  EXPECT_EQ(r.error.stage, 1u);
  EXPECT_NE(r.error.message().find("gave up after 3 restarts within 60 s"), std::string::npos)
      << r.error.message();
  EXPECT_NE(r.error.message().find("feed at item 0"), std::string::npos) << r.error.message();
  EXPECT_TRUE(r.out.empty());
  ASSERT_EQ(r.events.size(), 4u);
  EXPECT_TRUE(r.events[3].gave_up);
  // Exponential backoff: 100, 200, 400 ms.
  EXPECT_EQ(r.events[0].delay, 100ms);
  EXPECT_EQ(r.events[1].delay, 200ms);
  EXPECT_EQ(r.events[2].delay, 400ms);
  EXPECT_EQ(loop.now() - start, 700ms);
}

TEST(RestartSource, AnErrorThatIsNotRetryableFailsAtOnce) {
  manual_loop loop;
  source_run r = run_source(loop, 10, [](unsigned, int) { return std::optional<int>(4); },
                            {.retryable = [](std::error_code ec) { return ec != reset; }});
  ASSERT_TRUE(r.error);
  EXPECT_NE(r.error.message().find("not retryable"), std::string::npos) << r.error.message();
  EXPECT_EQ(r.made.size(), 1u);
  EXPECT_EQ(r.out, iota(0, 4));
}

TEST(RestartSource, FailuresFartherApartThanTheWindowDoNotUseUpTheRestarts) {
  manual_loop loop;
  // Each instance delivers 10 items, one per second of virtual time, then fails: one failure
  // every ~10 s, with a 5 s window and one restart allowed in it.
  source_run r;
  auto src = sluice::supervise_source<int>(
      loop,
      [&loop, &r](const sluice::restart_context& c) {
        r.made.push_back(c);
        auto next = std::make_shared<int>(static_cast<int>(c.items));
        const int stop_at = *next + 10;
        return sluice::make_readable<int>(
            loop, {.read = [&loop, next, stop_at](auto& self, std::size_t) {
              loop.start_timer(1s, [s = self.shared_from_this(), &self, next, stop_at] {
                if (self.destroyed()) return;
                if (*next == 60)
                  self.push_eof();
                else if (*next == stop_at)
                  self.fail(reset, "tick");
                else
                  self.push((*next)++);
              });
            }});
      },
      {.max_restarts = 1, .window = 5s, .jitter = false});
  sluice::pipeline(src, collect(loop, r.out), [&r](const pipeline_error& e) {
    ++r.calls;
    r.error = e;
  });
  loop.run();
  EXPECT_FALSE(r.error) << r.error.message();
  EXPECT_EQ(r.out, iota(0, 60));
  EXPECT_EQ(src->counters().restarts, 5u);
}

TEST(RestartSource, AFactoryThatThrowsOnARestartCountsAsAFailure) {
  manual_loop loop;
  int attempts = 0;
  std::vector<int> out;
  pipeline_error got;
  auto src = sluice::supervise_source<int>(
      loop,
      [&](const sluice::restart_context& c) -> std::shared_ptr<sluice::readable<int>> {
        ++attempts;
        if (c.restart == 1)
          throw std::system_error(std::make_error_code(std::errc::connection_refused), "dial");
        return numbers(loop, static_cast<int>(c.items), 20, c.restart == 0 ? 8 : 99);
      },
      {.jitter = false});
  sluice::pipeline(src, collect(loop, out), [&](const pipeline_error& e) { got = e; });
  loop.run();
  EXPECT_FALSE(got) << got.message();
  EXPECT_EQ(out, iota(0, 20));
  EXPECT_EQ(attempts, 3);
  EXPECT_EQ(src->counters().failures, 2u);
}

TEST(RestartSource, DestroyedWhileWaitingToRestartItMakesNoMoreInstances) {
  manual_loop loop;
  int made = 0;
  auto src = sluice::supervise_source<int>(loop,
                                           [&](const sluice::restart_context&) {
                                             ++made;
                                             return numbers(loop, 0, 10, 2);
                                           },
                                           {.backoff_base = 1s});
  std::vector<int> out;
  pipeline_error got;
  auto h = sluice::pipeline(src, collect(loop, out), [&](const pipeline_error& e) { got = e; });
  loop.advance(100ms);  // failed at item 2; waiting 0.5-1 s
  EXPECT_EQ(made, 1);
  EXPECT_EQ(src->instance(), nullptr);
  h.abort();
  loop.run();
  EXPECT_EQ(made, 1);
  EXPECT_EQ(got.code, sluice::make_error_code(errc::aborted));
  EXPECT_EQ(loop.timer_count(), 0u);
}

TEST(RestartSource, ASlowConsumerHoldsTheInstanceBack) {
  manual_loop loop;
  int produced = 0;
  auto src = sluice::supervise_source<int>(loop, [&](const sluice::restart_context&) {
    return sluice::make_readable<int>(
        loop, {.high_water_mark = 4,
               .read = [&produced](auto& self, std::size_t) { self.push(produced++); }});
  });
  // Nobody reads: the supervised stream and its instance each fill their buffer and stop.
  src->on_readable([] {});
  loop.run_until_idle();
  EXPECT_LE(produced, 4 + 4 + 1);
  EXPECT_LE(src->readable_length(), 4u);
  src->destroy();
  loop.run_until_idle();
}

// ---- restart: sinks -----------------------------------------------------------------------------

// A store that commits each write one tick later; an instance fails (its write callback gets
// `reset`) when it sees an item `fail_on` says, without committing it.
struct store {
  std::vector<int> committed;
  std::vector<sluice::restart_context> made;
  std::size_t peak_unacked = 0;
};

std::shared_ptr<sluice::writable<int>> store_instance(sluice::loop& loop, store& st,
                                                      std::function<bool(int)> fail_on) {
  return sluice::make_writable<int>(
      loop, {.high_water_mark = 8, .write = [&loop, &st, fail_on](auto& self, int&& x, auto cb) {
               loop.defer([s = self.shared_from_this(), &st, x, cb, fail_on] {
                 if (fail_on(x)) return cb(reset);
                 st.committed.push_back(x);
                 cb();
               });
             }});
}

TEST(RestartSink, ASinkThatFailsOnceGetsTheUnacknowledgedItemsAgainAndLosesNothing) {
  manual_loop loop;
  store st;
  std::vector<sluice::restart_event> events;
  auto sink = sluice::supervise_sink<int>(
      loop,
      [&](const sluice::restart_context& c) {
        st.made.push_back(c);
        const unsigned k = c.restart;
        return store_instance(loop, st, [k](int x) { return k == 0 && x == 30; });
      },
      {.jitter = false,
       .on_restart = [&](const sluice::restart_event& e) { events.push_back(e); }});
  pipeline_error got;
  int calls = 0;
  sluice::pipeline(numbers(loop, 0, 100), sink, [&](const pipeline_error& e) {
    ++calls;
    got = e;
  });
  loop.run();
  EXPECT_EQ(calls, 1);
  EXPECT_FALSE(got) << got.message();
  EXPECT_EQ(st.committed, iota(0, 100));
  ASSERT_EQ(st.made.size(), 2u);
  EXPECT_EQ(st.made[1].items, 30u);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].items, 30u);
  EXPECT_GE(events[0].in_flight, 1u);
  EXPECT_EQ(sink->counters().redelivered, events[0].in_flight);
  EXPECT_EQ(sink->acknowledged_items(), 100u);
}

TEST(RestartSink, AWriteCompletesOnlyWhenAnInstanceCommittedIt) {
  manual_loop loop;
  store st;
  auto sink = sluice::supervise_sink<int>(loop,
                                          [&](const sluice::restart_context& c) {
                                            const unsigned k = c.restart;
                                            return store_instance(
                                                loop, st, [k](int x) { return k < 2 && x == 3; });
                                          },
                                          {.jitter = false});
  std::vector<int> done_when_committed;
  for (int i = 0; i < 6; ++i)
    sink->write(i, [&, i](std::error_code ec) {
      EXPECT_FALSE(ec);
      // Its own item, and every one before it, is in the store.
      EXPECT_GE(st.committed.size(), static_cast<std::size_t>(i + 1));
      done_when_committed.push_back(i);
    });
  bool finished = false;
  sink->end([&](std::error_code ec) {
    EXPECT_FALSE(ec);
    finished = true;
  });
  loop.run();
  EXPECT_TRUE(finished);
  EXPECT_EQ(done_when_committed, iota(0, 6));
  EXPECT_EQ(st.committed, iota(0, 6));
  EXPECT_EQ(sink->counters().restarts, 2u);
}

TEST(RestartSink, IntermittentFailuresDeliverEveryItemAtLeastOnceInOrder) {
  manual_loop loop;
  store st;
  std::mt19937 rng(11);
  auto sink = sluice::supervise_sink<int>(
      loop,
      [&](const sluice::restart_context&) {
        return store_instance(loop, st, [&rng](int) { return rng() % 50 == 0; });
      },
      {.max_restarts = 10000, .backoff_base = 1ms, .backoff_max = 10ms});
  pipeline_error got;
  sluice::pipeline(numbers(loop, 0, 3000), sink, [&](const pipeline_error& e) { got = e; });
  // Step by step, to see the most unacknowledged items the supervisor ever held.
  for (int steps = 0; steps < 10'000'000; ++steps) {
    if (!loop.step()) {
      if (loop.timer_count() == 0) break;
      loop.advance(1ms);
    }
    st.peak_unacked = std::max(st.peak_unacked, sink->writable_length());
  }
  EXPECT_FALSE(got) << got.message();
  // The store commits nothing it failed on, so every item is there exactly once, in order.
  EXPECT_EQ(st.committed, iota(0, 3000));
  EXPECT_GT(sink->counters().restarts, 10u);
  EXPECT_LE(st.peak_unacked, sink->writable_high_water_mark());
}

TEST(RestartSink, ASinkThatAlwaysFailsGivesUpAndFailsTheUnacknowledgedWrites) {
  manual_loop loop;
  store st;
  std::vector<sluice::restart_event> events;
  auto sink = sluice::supervise_sink<int>(
      loop,
      [&](const sluice::restart_context&) {
        return store_instance(loop, st, [](int x) { return x >= 5; });
      },
      {.max_restarts = 2,
       .jitter = false,
       .on_restart = [&](const sluice::restart_event& e) { events.push_back(e); },
       .name = "store"});
  pipeline_error got;
  sluice::pipeline(numbers(loop, 0, 20), sink, [&](const pipeline_error& e) { got = e; });
  loop.run();
  ASSERT_TRUE(got);
  EXPECT_EQ(got.code, reset);
  EXPECT_EQ(got.stage, 2u);
  EXPECT_NE(got.message().find("supervised sink 'store': gave up after 2 restarts within 60 s"),
            std::string::npos)
      << got.message();
  EXPECT_EQ(st.committed, iota(0, 5));
  ASSERT_EQ(events.size(), 3u);
  EXPECT_TRUE(events.back().gave_up);
  EXPECT_EQ(sink->acknowledged_items(), 5u);
}

TEST(RestartSink, EndReachesTheNewInstanceWhenTheOldOneFailedWhileFinishing) {
  manual_loop loop;
  store st;
  int finals = 0;
  auto sink = sluice::supervise_sink<int>(
      loop,
      [&](const sluice::restart_context& c) {
        const unsigned k = c.restart;
        return sluice::make_writable<int>(loop, {.write =
                                                     [&st](auto&, int&& x, auto cb) {
                                                       st.committed.push_back(x);
                                                       cb();
                                                     },
                                                 .final =
                                                     [&finals, k](auto&, sluice::callback cb) {
                                                       ++finals;
                                                       cb(k == 0 ? reset : std::error_code{});
                                                     }});
      },
      {.jitter = false});
  for (int i = 0; i < 3; ++i) sink->write(i);
  std::error_code ended{std::make_error_code(std::errc::io_error)};
  sink->end([&](std::error_code ec) { ended = ec; });
  loop.run();
  EXPECT_FALSE(ended);
  EXPECT_EQ(finals, 2);
  EXPECT_TRUE(sink->finished());
  EXPECT_EQ(st.committed, iota(0, 3));
}

TEST(RestartSink, AnInstanceThatClosesWithoutAnErrorIsRestartedToo) {
  manual_loop loop;
  store st;
  std::vector<std::shared_ptr<sluice::writable<int>>> instances;
  auto sink = sluice::supervise_sink<int>(
      loop,
      [&](const sluice::restart_context&) {
        instances.push_back(store_instance(loop, st, [](int) { return false; }));
        return instances.back();
      },
      {.jitter = false});
  sink->write(1);
  loop.run();
  instances[0]->destroy();  // (a peer that hung up: closed, no error)
  loop.run();
  sink->end(2);
  loop.run();
  EXPECT_EQ(instances.size(), 2u);
  EXPECT_EQ(st.committed, (std::vector<int>{1, 2}));
  EXPECT_TRUE(sink->finished());
}

}  // namespace
