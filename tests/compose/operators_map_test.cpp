// Operators (sluice/compose/operators.hpp): map, filter, flat_map, take, drop, the pipe syntax and
// operators as transforms. Ordering is checked on a manual_loop; asynchronous work completes on
// its virtual-time timers or when the test completes it by hand.
#include <gtest/gtest.h>

#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <system_error>
#include <vector>

#include "operators_test_util.hpp"
#include "sluice/compose/operators.hpp"
#include "sluice/core/loop.hpp"
#include "sluice/core/make.hpp"
#include "support/trace.hpp"

namespace {

using namespace std::chrono_literals;
using sluice::done;
using sluice::manual_loop;
using sluice::readable;
using sluice::test::counting_source;
using sluice::test::drain_into_probe;
using sluice::test::manual_source;
using sluice::test::source_probe;

std::error_code io_error() { return std::make_error_code(std::errc::io_error); }

TEST(OperatorsMap, FilterThenMapKeepsOrderAndClosesEverythingOnce) {
  manual_loop loop;
  auto p = std::make_shared<source_probe>();
  auto src = counting_source(loop, 10, p);
  auto evens = sluice::filter(src, [](const int& x) { return x % 2 == 0; });
  auto squares = sluice::map(evens, [](int x) { return long{x} * x; });
  static_assert(std::is_same_v<decltype(squares), std::shared_ptr<readable<long>>>);
  auto out = drain_into_probe<long>(squares);
  loop.run();
  EXPECT_EQ(out->items, (std::vector<long>{0, 4, 16, 36, 64}));
  EXPECT_EQ(out->ends, 1);
  EXPECT_EQ(out->closes, 1);
  EXPECT_EQ(out->errors, 0);
  EXPECT_EQ(p->destroys, 1);
  EXPECT_EQ(p->closes, 1);
  EXPECT_TRUE(evens->closed());
}

TEST(OperatorsMap, PipeSyntaxGivesTheSameResult) {
  manual_loop loop;
  auto p = std::make_shared<source_probe>();
  auto r = counting_source(loop, 7, p) | sluice::ops::filter([](const int& x) { return x != 3; }) |
           sluice::ops::map([](int x) { return std::to_string(x); }) | sluice::ops::drop(1);
  auto out = drain_into_probe<std::string>(r);
  loop.run();
  EXPECT_EQ(out->items, (std::vector<std::string>{"1", "2", "4", "5", "6"}));
  EXPECT_EQ(out->ends, 1);
}

TEST(OperatorsMap, UnreadResultStopsReadingTheSource) {
  manual_loop loop;
  auto p = std::make_shared<source_probe>();
  auto src = counting_source(loop, 1000, p, 2);
  auto m = sluice::map(src, [](int x) { return x + 1; }, {.high_water_mark = 2});
  // Nobody reads: nothing is pulled at all.
  loop.run();
  EXPECT_EQ(p->produced, 0);
  // One read() fills the result's buffer and the source's, and stops there.
  const std::optional<int> first = m->read();
  ASSERT_TRUE(first.has_value());  // the counting source pushes synchronously
  EXPECT_EQ(*first, 1);
  loop.run();
  EXPECT_LE(p->produced, 2 + 2 + 1);
  EXPECT_GE(m->readable_length(), 2u);
  // Reading on lets everything through, in order.
  std::vector<int> got;
  m->on_data([&](int&& v) { got.push_back(v); });
  loop.run();
  ASSERT_EQ(got.size(), 999u);
  for (int i = 1; i < 1000; ++i) ASSERT_EQ(got[static_cast<std::size_t>(i - 1)], i + 1);
  EXPECT_LE(src->counters().peak_readable_length, 2u + 1u);
}

// An asynchronous mapper whose completions the test calls by hand.
struct held_mapper {
  struct call {
    int item;
    done<int> cb;
  };
  std::shared_ptr<std::vector<call>> calls = std::make_shared<std::vector<call>>();
  std::shared_ptr<int> in_flight = std::make_shared<int>(0);
  std::shared_ptr<int> peak = std::make_shared<int>(0);
  // Raw pointers: the stored completions own the operator, which owns this function; shared
  // pointers here would make a cycle.
  auto fn() const {
    return [c = calls.get(), n = in_flight.get(), pk = peak.get()](int x, done<int> cb) {
      ++*n;
      if (*n > *pk) *pk = *n;
      c->push_back({x, std::move(cb)});
    };
  }
  void complete(std::size_t i) const {
    --*in_flight;
    auto cb = (*calls)[i].cb;
    cb((*calls)[i].item * 10);
  }
};

TEST(OperatorsMap, AsyncOrderedKeepsInputOrderWithinTheConcurrencyBound) {
  manual_loop loop;
  auto p = std::make_shared<source_probe>();
  held_mapper hm;
  auto m = sluice::map(counting_source(loop, 6, p), hm.fn(), {.concurrency = 3});
  auto out = drain_into_probe<int>(m);
  loop.run();
  ASSERT_EQ(hm.calls->size(), 3u);  // 0, 1, 2 started; 3 waits for a free slot
  EXPECT_EQ(*hm.peak, 3);
  hm.complete(2);
  hm.complete(1);
  loop.run();
  EXPECT_TRUE(out->items.empty());  // 1 and 2 are done but wait for 0
  EXPECT_EQ(hm.calls->size(), 3u);  // and the window is still full
  hm.complete(0);
  loop.run();
  EXPECT_EQ(out->items, (std::vector<int>{0, 10, 20}));
  ASSERT_EQ(hm.calls->size(), 6u);
  hm.complete(5);
  hm.complete(4);
  hm.complete(3);
  loop.run();
  EXPECT_EQ(out->items, (std::vector<int>{0, 10, 20, 30, 40, 50}));
  EXPECT_EQ(*hm.peak, 3);
  EXPECT_EQ(out->ends, 1);
  EXPECT_EQ(p->destroys, 1);
}

TEST(OperatorsMap, AsyncUnorderedDeliversInCompletionOrder) {
  manual_loop loop;
  auto p = std::make_shared<source_probe>();
  held_mapper hm;
  auto m = sluice::map(counting_source(loop, 4, p), hm.fn(), {.concurrency = 2, .ordered = false});
  auto out = drain_into_probe<int>(m);
  loop.run();
  ASSERT_EQ(hm.calls->size(), 2u);
  hm.complete(1);
  loop.run();
  EXPECT_EQ(out->items, (std::vector<int>{10}));
  ASSERT_EQ(hm.calls->size(), 3u);  // a slot freed: item 2 started
  hm.complete(2);
  hm.complete(0);
  loop.run();
  ASSERT_EQ(hm.calls->size(), 4u);
  hm.complete(3);
  loop.run();
  EXPECT_EQ(out->items, (std::vector<int>{10, 20, 0, 30}));
  EXPECT_EQ(*hm.peak, 2);
  EXPECT_EQ(out->ends, 1);
}

TEST(OperatorsMap, AsyncTimersRunConcurrently) {
  manual_loop loop;
  auto p = std::make_shared<source_probe>();
  int in_flight = 0, peak = 0;
  auto m = sluice::map(counting_source(loop, 16, p),
                       [&](int x, done<long> cb) {
                         peak = std::max(peak, ++in_flight);
                         loop.start_timer(10ms * (1 + x % 3), [&in_flight, cb, x] {
                           --in_flight;
                           cb(long{x} * 2);
                         });
                       },
                       {.concurrency = 4});
  auto out = drain_into_probe<long>(m);
  loop.run();
  ASSERT_EQ(out->items.size(), 16u);
  for (std::size_t i = 0; i < 16; ++i) EXPECT_EQ(out->items[i], static_cast<long>(i) * 2);
  EXPECT_EQ(peak, 4);
  // 16 items of 10-30 ms each, 4 at a time: far less than the 320 ms of one at a time.
  EXPECT_LT(loop.now().time_since_epoch(), 160ms);
  EXPECT_EQ(out->ends, 1);
}

TEST(OperatorsMap, AsyncMapperWithAGenericCompletionNamesItsResultType) {
  manual_loop loop;
  auto p = std::make_shared<source_probe>();
  auto halves = counting_source(loop, 4, p) |
                sluice::ops::map<double>([](int x, auto cb) { cb(x / 2.0); }, {.concurrency = 2});
  static_assert(std::is_same_v<decltype(halves), std::shared_ptr<readable<double>>>);
  auto out = drain_into_probe<double>(halves);
  loop.run();
  EXPECT_EQ(out->items, (std::vector<double>{0.0, 0.5, 1.0, 1.5}));
}

TEST(OperatorsMap, AsyncErrorFailsTheResultAndDestroysTheSourceOnce) {
  manual_loop loop;
  auto p = std::make_shared<source_probe>();
  held_mapper hm;
  auto m = sluice::map(counting_source(loop, 10, p), hm.fn(), {.concurrency = 3});
  auto out = drain_into_probe<int>(m);
  loop.run();
  ASSERT_EQ(hm.calls->size(), 3u);
  hm.complete(0);
  (*hm.calls)[1].cb(io_error());
  hm.complete(2);  // after the failure: ignored
  loop.run();
  EXPECT_EQ(out->items, (std::vector<int>{0}));
  EXPECT_EQ(out->errors, 1);
  EXPECT_EQ(out->error, io_error());
  EXPECT_EQ(m->error_message(), "map: item 1: " + io_error().message());
  EXPECT_EQ(out->closes, 1);
  EXPECT_EQ(out->ends, 0);
  EXPECT_EQ(p->destroys, 1);
  EXPECT_EQ(p->closes, 1);
  EXPECT_EQ(p->errors, 0);  // the source is destroyed without an error of its own
}

TEST(OperatorsMap, CompletingTwiceIsMultipleCallback) {
  manual_loop loop;
  auto p = std::make_shared<source_probe>();
  held_mapper hm;
  auto m = sluice::map(counting_source(loop, 3, p), hm.fn());
  auto out = drain_into_probe<int>(m);
  loop.run();
  ASSERT_EQ(hm.calls->size(), 1u);
  auto cb = (*hm.calls)[0].cb;
  cb(1);
  cb(2);
  loop.run();
  EXPECT_EQ(out->error, sluice::make_error_code(sluice::errc::multiple_callback));
  EXPECT_EQ(out->errors, 1);
  EXPECT_EQ(p->destroys, 1);
}

TEST(OperatorsMap, AsyncFilterWithConcurrency) {
  manual_loop loop;
  auto p = std::make_shared<source_probe>();
  int in_flight = 0, peak = 0;
  auto f =
      sluice::filter(counting_source(loop, 12, p),
                     [&](const int& x, done<bool> cb) {
                       peak = std::max(peak, ++in_flight);
                       const bool keep = x % 3 == 0;
                       loop.start_timer(std::chrono::milliseconds(12 - x), [&in_flight, cb, keep] {
                         --in_flight;
                         cb(keep);
                       });
                     },
                     {.concurrency = 3});
  auto out = drain_into_probe<int>(f);
  loop.run();
  EXPECT_EQ(out->items, (std::vector<int>{0, 3, 6, 9}));
  EXPECT_EQ(peak, 3);
  EXPECT_EQ(out->ends, 1);
}

TEST(OperatorsMap, SourceErrorReachesTheResultWithItsContext) {
  manual_loop loop;
  auto p = std::make_shared<source_probe>();
  auto src = manual_source(loop, p);
  auto m = sluice::map(src, [](int x) { return x; });
  auto out = drain_into_probe<int>(m);
  loop.run();
  src->push(1);
  loop.run();
  src->fail(std::make_error_code(std::errc::no_such_file_or_directory), "open 'x.log'");
  loop.run();
  EXPECT_EQ(out->items, (std::vector<int>{1}));
  EXPECT_EQ(out->errors, 1);
  EXPECT_EQ(out->error, std::errc::no_such_file_or_directory);
  EXPECT_EQ(
      m->error_message(),
      "open 'x.log': " + std::make_error_code(std::errc::no_such_file_or_directory).message());
  EXPECT_EQ(out->closes, 1);
  EXPECT_EQ(p->destroys, 1);
}

TEST(OperatorsMap, SourceClosedBeforeItsEndIsPrematureClose) {
  manual_loop loop;
  auto p = std::make_shared<source_probe>();
  auto src = manual_source(loop, p);
  auto m = sluice::filter(src, [](const int&) { return true; });
  auto out = drain_into_probe<int>(m);
  loop.run();
  src->destroy();
  loop.run();
  EXPECT_EQ(out->error, sluice::make_error_code(sluice::errc::premature_close));
  EXPECT_EQ(out->closes, 1);
}

TEST(OperatorsMap, DestroyingTheResultDestroysTheSourceWithoutError) {
  manual_loop loop;
  auto p = std::make_shared<source_probe>();
  auto m = sluice::map(counting_source(loop, 100, p), [](int x) { return x; });
  auto out = drain_into_probe<int>(m);
  loop.step();
  m->destroy();
  loop.run();
  EXPECT_EQ(p->destroys, 1);
  EXPECT_FALSE(p->destroy_ec);
  EXPECT_EQ(p->errors, 0);
  EXPECT_EQ(p->closes, 1);
  EXPECT_EQ(out->closes, 1);
  EXPECT_EQ(out->errors, 0);
}

TEST(OperatorsMap, TakeStopsTheSourceAtTheNthItemWithoutWaitingForMore) {
  manual_loop loop;
  auto p = std::make_shared<source_probe>();
  auto src = manual_source(loop, p);
  auto t = sluice::take(src, 3);
  auto out = drain_into_probe<int>(t);
  loop.run();
  src->push(7);
  src->push(8);
  loop.run();
  EXPECT_EQ(p->destroys, 0);
  src->push(9);  // the third: no fourth item and no end are needed
  loop.run();
  EXPECT_EQ(out->items, (std::vector<int>{7, 8, 9}));
  EXPECT_EQ(p->destroys, 1);
  EXPECT_EQ(p->errors, 0);
  EXPECT_EQ(out->ends, 1);
  EXPECT_EQ(out->errors, 0);
  EXPECT_EQ(out->closes, 1);
}

TEST(OperatorsMap, TakeZeroNeverReadsTheSource) {
  manual_loop loop;
  auto p = std::make_shared<source_probe>();
  auto t = sluice::take(counting_source(loop, 10, p), 0);
  auto out = drain_into_probe<int>(t);
  loop.run();
  EXPECT_TRUE(out->items.empty());
  EXPECT_EQ(out->ends, 1);
  EXPECT_EQ(p->produced, 0);
  EXPECT_EQ(p->destroys, 1);
}

TEST(OperatorsMap, TakeAfterDropOnALongSource) {
  manual_loop loop;
  auto p = std::make_shared<source_probe>();
  auto r = counting_source(loop, 1'000'000, p) | sluice::ops::drop(5) | sluice::ops::take(4);
  auto out = drain_into_probe<int>(r);
  loop.run();
  EXPECT_EQ(out->items, (std::vector<int>{5, 6, 7, 8}));
  EXPECT_LT(p->produced, 100);  // read ahead by the buffers only
  EXPECT_EQ(p->destroys, 1);
}

TEST(OperatorsMap, FlatMapOverRanges) {
  manual_loop loop;
  auto p = std::make_shared<source_probe>();
  auto r = sluice::flat_map(counting_source(loop, 4, p),
                            [](int x) { return std::vector<int>(static_cast<std::size_t>(x), x); });
  auto out = drain_into_probe<int>(r);
  loop.run();
  EXPECT_EQ(out->items, (std::vector<int>{1, 2, 2, 3, 3, 3}));
  EXPECT_EQ(out->ends, 1);
}

TEST(OperatorsMap, FlatMapOverStreamsReadsEachToItsEndInOrder) {
  manual_loop loop;
  auto p = std::make_shared<source_probe>();
  std::vector<std::shared_ptr<source_probe>> inner;
  auto r = sluice::flat_map(counting_source(loop, 3, p), [&](int x) {
    inner.push_back(std::make_shared<source_probe>());
    return sluice::map(counting_source(loop, 40, inner.back(), 4),
                       [x](int y) { return x * 100 + y; });
  });
  static_assert(std::is_same_v<decltype(r), std::shared_ptr<readable<int>>>);
  std::vector<int> expected;
  for (int x = 0; x < 3; ++x)
    for (int y = 0; y < 40; ++y) expected.push_back(x * 100 + y);
  auto out = drain_into_probe<int>(r);
  loop.run();
  EXPECT_EQ(out->items, expected);
  ASSERT_EQ(inner.size(), 3u);
  for (auto& i : inner) EXPECT_EQ(i->destroys, 1);
  EXPECT_EQ(out->ends, 1);
}

TEST(OperatorsMap, FlatMapInnerErrorFailsTheResult) {
  manual_loop loop;
  auto p = std::make_shared<source_probe>();
  auto ip = std::make_shared<source_probe>();
  std::shared_ptr<readable<int>> inner;
  auto r = sluice::flat_map(counting_source(loop, 3, p), [&](int) {
    inner = manual_source(loop, ip);
    return inner;
  });
  auto out = drain_into_probe<int>(r);
  loop.run();
  ASSERT_TRUE(inner);
  inner->push(5);
  loop.run();
  inner->destroy(io_error());
  loop.run();
  EXPECT_EQ(out->items, (std::vector<int>{5}));
  EXPECT_EQ(out->error, io_error());
  EXPECT_EQ(p->destroys, 1);
  EXPECT_EQ(ip->destroys, 1);
}

TEST(OperatorsMap, AsTransformIsAPipeStage) {
  manual_loop loop;
  auto p = std::make_shared<source_probe>();
  auto stage = (sluice::ops::filter([](const int& x) {
                 return x % 2 == 1;
               })).as_transform<int>(loop, {.name = "odd"});
  auto square = sluice::ops::map([](int x) { return long{x} * x; }).as_transform<int>(loop);
  static_assert(std::is_same_v<decltype(square), std::shared_ptr<sluice::duplex<int, long>>>);
  std::vector<long> got;
  bool finished = false;
  auto sink = sluice::make_writable<long>(
      loop, {.high_water_mark = 1, .write = [&](auto&, long&& v, auto cb) {
               got.push_back(v);
               cb();
             }});
  sink->on_finish([&] { finished = true; });
  counting_source(loop, 9, p)->pipe(stage)->pipe(square)->pipe(sink);
  loop.run();
  EXPECT_EQ(got, (std::vector<long>{1, 9, 25, 49}));
  EXPECT_TRUE(finished);
  EXPECT_TRUE(stage->closed());
  EXPECT_TRUE(square->closed());
  EXPECT_EQ(p->destroys, 1);
}

TEST(OperatorsMap, AnErrorInAChainTearsDownEveryStageOnce) {
  manual_loop loop;
  auto p = std::make_shared<source_probe>();
  auto src = counting_source(loop, 100, p);
  auto doubled = sluice::map(src, [](int x) { return 2 * x; });
  auto failing = sluice::map(doubled, [&](int x, done<int> cb) {
    if (x == 10)
      cb(io_error());
    else
      cb(x);
  });
  auto head = sluice::take(failing, 50);
  int doubled_closes = 0, failing_closes = 0, failing_errors = 0;
  doubled->on_close([&] { ++doubled_closes; });
  failing->on_close([&] { ++failing_closes; });
  failing->on_error([&](std::error_code) { ++failing_errors; });
  auto out = drain_into_probe<int>(head);
  loop.run();
  EXPECT_EQ(out->items, (std::vector<int>{0, 2, 4, 6, 8}));
  EXPECT_EQ(out->errors, 1);
  EXPECT_EQ(out->error, io_error());
  EXPECT_EQ(head->error_message(), "map: item 5: " + io_error().message());
  EXPECT_EQ(out->closes, 1);
  EXPECT_EQ(failing_errors, 1);
  EXPECT_EQ(failing_closes, 1);
  EXPECT_EQ(doubled_closes, 1);
  EXPECT_FALSE(doubled->errored());  // upstream of the failure: destroyed without an error
  EXPECT_EQ(p->destroys, 1);
  EXPECT_EQ(p->errors, 0);
}

TEST(OperatorsMap, AsTransformStageFailsWithItsOperator) {
  manual_loop loop;
  auto p = std::make_shared<source_probe>();
  auto stage = sluice::ops::map([](int x, done<int> cb) {
                 if (x == 3)
                   cb(io_error());
                 else
                   cb(x);
               }).as_transform<int>(loop);
  std::vector<int> got;
  auto sink = sluice::make_writable<int>(loop, {.write = [&](auto&, int&& v, auto cb) {
                                           got.push_back(v);
                                           cb();
                                         }});
  int stage_errors = 0, stage_closes = 0;
  stage->on_error([&](std::error_code) { ++stage_errors; });
  stage->on_close([&] { ++stage_closes; });
  counting_source(loop, 10, p)->pipe(stage)->pipe(sink);
  loop.run();
  EXPECT_EQ(got, (std::vector<int>{0, 1, 2}));
  EXPECT_EQ(stage_errors, 1);
  EXPECT_EQ(stage_closes, 1);
  EXPECT_EQ(stage->errored(), io_error());
  EXPECT_EQ(stage->error_message(), "map: item 3: " + io_error().message());
}

}  // namespace

// ---- Invalid arguments (Node: tests/core/node/traces/operator_args.txt) ----------------------

namespace {

// The error an operator call threw, or an empty code if it did not throw.
template <class F>
std::error_code thrown_by(F&& f) {
  try {
    f();
  } catch (const std::system_error& e) {
    return e.code();
  }
  return {};
}

TEST(OperatorsArgs, ConcurrencyZeroIsOutOfRangeAsInNode) {
  manual_loop loop;
  auto p = std::make_shared<source_probe>();
  // Node: "map concurrency 0 threw ERR_OUT_OF_RANGE", "filter concurrency 0 threw
  // ERR_OUT_OF_RANGE"; sluice used to take 0 as 1 without a word.
  const auto map0 = thrown_by([&] {
    (void)sluice::map(counting_source(loop, 3, p), [](int x) { return x; }, {.concurrency = 0});
  });
  EXPECT_EQ(sluice::test::node_code(map0), "ERR_OUT_OF_RANGE");
  const auto async0 = thrown_by([&] {
    (void)sluice::map(counting_source(loop, 3, p), [](int x, done<int> d) { d(x); },
                      {.concurrency = 0});
  });
  EXPECT_EQ(async0, sluice::errc::out_of_range);
  const auto filter0 = thrown_by([&] {
    (void)sluice::filter(counting_source(loop, 3, p), [](const int&) { return true; },
                         {.concurrency = 0});
  });
  EXPECT_EQ(sluice::test::node_code(filter0), "ERR_OUT_OF_RANGE");
  // Node: "map concurrency 1 -> object": 1 is fine.
  EXPECT_FALSE(thrown_by([&] {
    (void)sluice::map(counting_source(loop, 3, p), [](int x) { return x; }, {.concurrency = 1});
  }));
  loop.run();
}

TEST(OperatorsArgs, OtherOperatorArgumentsOutOfRangeAreRejectedLikewise) {
  manual_loop loop;
  auto p = std::make_shared<source_probe>();
  EXPECT_EQ(thrown_by([&] { (void)sluice::batch(counting_source(loop, 3, p), 0); }),
            sluice::errc::out_of_range);
  EXPECT_EQ(thrown_by([&] {
              (void)sluice::batch(counting_source(loop, 3, p), 2, sluice::loop::duration::zero());
            }),
            sluice::errc::out_of_range);
  EXPECT_EQ(thrown_by([&] { (void)sluice::throttle(counting_source(loop, 3, p), {.rate = -1}); }),
            sluice::errc::out_of_range);
  EXPECT_EQ(thrown_by([&] {
              (void)sluice::throttle(counting_source(loop, 3, p), {.rate = 1, .burst = 0.5});
            }),
            sluice::errc::out_of_range);
  EXPECT_FALSE(thrown_by([&] { (void)sluice::batch(counting_source(loop, 3, p), 1); }));
  loop.run();
}

}  // namespace
