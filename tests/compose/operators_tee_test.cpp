// tee / broadcast (sluice/compose/operators.hpp): every branch gets every item; the slowest branch
// sets the pace, or, with max_lag, a branch too far behind is dropped with errc::aborted.
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <system_error>
#include <vector>

#include "operators_test_util.hpp"
#include "sluice/compose/operators.hpp"
#include "sluice/core/loop.hpp"

namespace {

using sluice::manual_loop;
using sluice::readable;
using sluice::test::counting_source;
using sluice::test::drain_into_probe;
using sluice::test::manual_source;
using sluice::test::source_probe;

std::vector<int> iota(int n) {
  std::vector<int> v;
  for (int i = 0; i < n; ++i) v.push_back(i);
  return v;
}

TEST(OperatorsTee, EveryBranchGetsEveryItem) {
  manual_loop loop;
  auto p = std::make_shared<source_probe>();
  auto branches = sluice::tee(counting_source(loop, 50, p), 3);
  ASSERT_EQ(branches.size(), 3u);
  std::vector<std::shared_ptr<sluice::test::sink_probe<int>>> outs;
  for (auto& b : branches) outs.push_back(drain_into_probe<int>(b));
  loop.run();
  for (auto& o : outs) {
    EXPECT_EQ(o->items, iota(50));
    EXPECT_EQ(o->ends, 1);
    EXPECT_EQ(o->closes, 1);
  }
  EXPECT_EQ(p->destroys, 1);
}

TEST(OperatorsTee, TheSlowestBranchSetsThePace) {
  manual_loop loop;
  auto p = std::make_shared<source_probe>();
  auto branches = sluice::tee(counting_source(loop, 1000, p, 4), 2, {.high_water_mark = 4});
  auto fast = drain_into_probe<int>(branches[0]);
  // Branch 1 reads nothing yet: the source is read no further than its buffers allow.
  loop.run();
  EXPECT_LE(fast->items.size(), 4u + 1u);
  EXPECT_LE(p->produced, 4 + 4 + 2);
  EXPECT_LE(branches[1]->readable_length(), 4u + 1u);
  // Branch 1 reads one item at a time: the fast one follows.
  for (int i = 0; i < 10; ++i) {
    ASSERT_TRUE(branches[1]->read().has_value());
    loop.run();
  }
  EXPECT_GE(fast->items.size(), 10u);
  EXPECT_LE(fast->items.size(), 10u + 4u + 1u);
  auto slow = drain_into_probe<int>(branches[1]);
  loop.run();
  EXPECT_EQ(fast->items, iota(1000));
  EXPECT_EQ(slow->items.size(), 1000u - 10u);
  EXPECT_LE(branches[1]->counters().peak_readable_length, 4u + 1u);
}

TEST(OperatorsTee, ABranchTooFarBehindIsDetachedAndTheOthersContinue) {
  manual_loop loop;
  auto p = std::make_shared<source_probe>();
  auto branches = sluice::tee(counting_source(loop, 100, p), 2, {.max_lag = 5});
  auto fast = drain_into_probe<int>(branches[0]);
  int slow_errors = 0;
  std::error_code slow_ec;
  branches[1]->on_error([&](std::error_code ec) {
    ++slow_errors;
    slow_ec = ec;
  });
  loop.run();
  EXPECT_EQ(fast->items, iota(100));
  EXPECT_EQ(fast->ends, 1);
  EXPECT_EQ(slow_errors, 1);
  EXPECT_EQ(slow_ec, sluice::errc::aborted);
  EXPECT_EQ(branches[1]->error_message(),
            "tee: branch 1 fell more than 5 items behind the fastest: " + slow_ec.message());
  // Lag counts items read: the slow branch buffered at most max_lag + 1 plus what the fast
  // branch had buffered but not yet read (its highWaterMark, 16, plus one).
  EXPECT_LE(branches[1]->counters().peak_readable_length, 5u + 1u + 16u + 1u);
  EXPECT_EQ(p->destroys, 1);
}

TEST(OperatorsTee, ASourceErrorFailsEveryBranch) {
  manual_loop loop;
  auto p = std::make_shared<source_probe>();
  auto src = manual_source(loop, p);
  auto branches = sluice::broadcast(src, 2);
  auto a = drain_into_probe<int>(branches[0]);
  auto b = drain_into_probe<int>(branches[1]);
  loop.run();
  src->push(1);
  loop.run();
  src->destroy(std::make_error_code(std::errc::connection_reset));
  loop.run();
  for (auto& o : {a, b}) {
    EXPECT_EQ(o->items, (std::vector<int>{1}));
    EXPECT_EQ(o->errors, 1);
    EXPECT_EQ(o->error, std::errc::connection_reset);
    EXPECT_EQ(o->closes, 1);
  }
  EXPECT_EQ(p->destroys, 1);
}

TEST(OperatorsTee, ABranchDestroyedByItsUserNoLongerHoldsTheOthersBack) {
  manual_loop loop;
  auto p = std::make_shared<source_probe>();
  auto branches = sluice::tee(counting_source(loop, 200, p), 2, {.high_water_mark = 2});
  auto a = drain_into_probe<int>(branches[0]);
  loop.run();
  EXPECT_LT(a->items.size(), 10u);
  branches[1]->destroy();
  loop.run();
  EXPECT_EQ(a->items, iota(200));
  EXPECT_EQ(p->destroys, 1);
  // Destroying every branch destroys the source.
  auto p2 = std::make_shared<source_probe>();
  auto two = sluice::tee(counting_source(loop, 200, p2), 2);
  loop.run();
  two[0]->destroy();
  loop.run();
  EXPECT_EQ(p2->destroys, 0);
  two[1]->destroy();
  loop.run();
  EXPECT_EQ(p2->destroys, 1);
  EXPECT_EQ(p2->errors, 0);
  // No branch at all: the source is destroyed at once.
  auto p3 = std::make_shared<source_probe>();
  EXPECT_TRUE(sluice::tee(counting_source(loop, 5, p3), 0).empty());
  loop.run();
  EXPECT_EQ(p3->destroys, 1);
  EXPECT_EQ(p3->produced, 0);
}

}  // namespace
