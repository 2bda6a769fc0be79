// Operators on the loop's timers (sluice/compose/operators.hpp): batch by size and by time,
// throttle's pacing and burst. Virtual time on a manual_loop: every instant below is exact.
#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <vector>

#include "operators_test_util.hpp"
#include "sluice/compose/operators.hpp"
#include "sluice/core/loop.hpp"

namespace {

using namespace std::chrono_literals;
using sluice::manual_loop;
using sluice::test::counting_source;
using sluice::test::drain_into_probe;
using sluice::test::manual_source;
using sluice::test::source_probe;
using ms = std::chrono::milliseconds;

ms since_start(const manual_loop& loop) {
  return std::chrono::duration_cast<ms>(loop.now().time_since_epoch());
}

TEST(OperatorsTime, BatchBySizeWithAShortLastBatch) {
  manual_loop loop;
  auto p = std::make_shared<source_probe>();
  auto b = sluice::batch(counting_source(loop, 10, p), 4);
  auto out = drain_into_probe<std::vector<int>>(b);
  loop.run();
  EXPECT_EQ(out->items, (std::vector<std::vector<int>>{{0, 1, 2, 3}, {4, 5, 6, 7}, {8, 9}}));
  EXPECT_EQ(out->ends, 1);
  EXPECT_EQ(p->destroys, 1);
  EXPECT_EQ(since_start(loop), 0ms);  // no time limit: no timer
}

TEST(OperatorsTime, BatchByTimeCountsFromTheFirstItemOfEachBatch) {
  manual_loop loop;
  auto p = std::make_shared<source_probe>();
  auto src = manual_source(loop, p);
  auto b = sluice::batch(src, 3, 50ms);
  auto out = drain_into_probe<std::vector<int>>(b);
  loop.run();
  loop.advance(30ms);  // no item yet: no timer runs
  src->push(1);
  loop.advance(20ms);
  src->push(2);
  loop.advance(29ms);
  EXPECT_TRUE(out->items.empty());
  loop.advance(1ms);  // 50 ms after item 1
  EXPECT_EQ(out->items, (std::vector<std::vector<int>>{{1, 2}}));
  src->push(3);
  src->push(4);
  src->push(5);  // full before its time: out at once, its timer cancelled
  loop.run_until_idle();
  EXPECT_EQ(out->items.size(), 2u);
  EXPECT_EQ(out->items.back(), (std::vector<int>{3, 4, 5}));
  loop.advance(100ms);
  EXPECT_EQ(out->items.size(), 2u);
  src->push(6);
  src->push_eof();  // the partial batch comes at the end, before the timer
  loop.run_until_idle();
  EXPECT_EQ(out->items.back(), (std::vector<int>{6}));
  EXPECT_EQ(out->ends, 1);
  loop.advance(100ms);  // the cancelled timer adds nothing
  EXPECT_EQ(out->items.size(), 3u);
}

TEST(OperatorsTime, ThrottlePacesItemsAtTheRate) {
  manual_loop loop;
  auto p = std::make_shared<source_probe>();
  auto t = sluice::throttle(counting_source(loop, 5, p), {.rate = 10});  // one per 100 ms
  std::vector<ms> at;
  t->on_data([&](int&&) { at.push_back(since_start(loop)); });
  loop.run();
  EXPECT_EQ(at, (std::vector<ms>{0ms, 100ms, 200ms, 300ms, 400ms}));
  EXPECT_TRUE(t->readable_ended());
}

TEST(OperatorsTime, ThrottleLetsABurstThroughAfterAQuietPeriod) {
  manual_loop loop;
  auto p = std::make_shared<source_probe>();
  auto src = manual_source(loop, p);
  auto t = sluice::throttle(src, {.rate = 100, .burst = 3});  // 10 ms per token, 3 at most
  std::vector<ms> at;
  t->on_data([&](int&&) { at.push_back(since_start(loop)); });
  loop.run();
  for (int i = 0; i < 5; ++i) src->push(i);
  loop.advance(100ms);
  EXPECT_EQ(at, (std::vector<ms>{0ms, 0ms, 0ms, 10ms, 20ms}));
  // A quiet period refills the bucket, but never beyond the burst.
  for (int i = 0; i < 4; ++i) src->push(i);
  loop.advance(100ms);
  ASSERT_EQ(at.size(), 9u);
  EXPECT_EQ(std::vector<ms>(at.begin() + 5, at.end()),
            (std::vector<ms>{100ms, 100ms, 100ms, 110ms}));
  // Not reading the source while an item waits for its token: the source's buffer holds it.
  EXPECT_LE(src->counters().peak_readable_length, 5u);
}

TEST(OperatorsTime, ThrottleRejectsANonPositiveRate) {
  manual_loop loop;
  auto p = std::make_shared<source_probe>();
  EXPECT_THROW((void)sluice::throttle(counting_source(loop, 1, p), {.rate = 0}), std::system_error);
}

TEST(OperatorsTime, DestroyingABatchCancelsItsTimer) {
  manual_loop loop;
  auto p = std::make_shared<source_probe>();
  auto src = manual_source(loop, p);
  auto b = sluice::batch(src, 10, 1s);
  auto out = drain_into_probe<std::vector<int>>(b);
  loop.run();
  src->push(1);
  loop.run_until_idle();
  b->destroy();
  loop.run();  // runs past the batch's deadline: nothing is pushed after the destroy
  EXPECT_TRUE(out->items.empty());
  EXPECT_EQ(p->destroys, 1);
  EXPECT_EQ(out->closes, 1);
}

}  // namespace
