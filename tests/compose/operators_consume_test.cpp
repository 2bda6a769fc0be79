// Consumers (sluice/compose/operators.hpp): for_each, reduce, to_vector, some, every, find, with
// plain callbacks and with Asio completion tokens.
#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <memory>
#include <optional>
#include <string>
#include <system_error>
#include <tuple>
#include <vector>

#include "operators_test_util.hpp"
#include "sluice/compose/operators.hpp"
#include "sluice/core/asio_loop.hpp"
#include "sluice/core/loop.hpp"

namespace {

using sluice::manual_loop;
using sluice::test::counting_source;
using sluice::test::manual_source;
using sluice::test::source_probe;

TEST(OperatorsConsume, ToVectorCollectsEverythingAndCompletesOnceLater) {
  manual_loop loop;
  auto p = std::make_shared<source_probe>();
  int calls = 0;
  std::vector<int> got;
  sluice::to_vector(counting_source(loop, 20, p), [&](std::error_code ec, std::vector<int> v) {
    ++calls;
    EXPECT_FALSE(ec);
    got = std::move(v);
  });
  EXPECT_EQ(calls, 0);  // never from within the call
  loop.run();
  EXPECT_EQ(calls, 1);
  ASSERT_EQ(got.size(), 20u);
  EXPECT_EQ(got.front(), 0);
  EXPECT_EQ(got.back(), 19);
  EXPECT_EQ(p->destroys, 1);
}

TEST(OperatorsConsume, ReduceWithAndWithoutAnInitialValue) {
  manual_loop loop;
  auto p = std::make_shared<source_probe>();
  std::string joined;
  sluice::reduce(
      counting_source(loop, 4, p), [](std::string acc, int x) { return acc + std::to_string(x); },
      std::string(">"),
      [&](std::error_code ec, std::string s) {
        EXPECT_FALSE(ec);
        joined = std::move(s);
      });
  std::optional<int> sum;
  sluice::reduce(
      counting_source(loop, 5, std::make_shared<source_probe>()),
      [](int a, int b) { return a + b; },
      [&](std::error_code ec, int s) {
        EXPECT_FALSE(ec);
        sum = s;
      });
  std::error_code empty_ec;
  sluice::reduce(
      counting_source(loop, 0, std::make_shared<source_probe>()),
      [](int a, int b) { return a + b; }, [&](std::error_code ec, int) { empty_ec = ec; });
  loop.run();
  EXPECT_EQ(joined, ">0123");
  EXPECT_EQ(sum, 10);
  EXPECT_EQ(empty_ec, sluice::errc::invalid_argument);
}

TEST(OperatorsConsume, ForEachSeesEveryItemThenCompletes) {
  manual_loop loop;
  auto p = std::make_shared<source_probe>();
  long total = 0;
  int done = 0;
  sluice::for_each(
      counting_source(loop, 100, p), [&](int x) { total += x; },
      [&](std::error_code ec) {
        EXPECT_FALSE(ec);
        ++done;
      });
  loop.run();
  EXPECT_EQ(total, 4950);
  EXPECT_EQ(done, 1);
}

TEST(OperatorsConsume, SomeStopsTheSourceAtTheFirstMatch) {
  manual_loop loop;
  auto p = std::make_shared<source_probe>();
  auto src = manual_source(loop, p);
  std::optional<bool> answer;
  sluice::some(
      src, [](const int& x) { return x % 2 == 0; },
      [&](std::error_code ec, bool b) {
        EXPECT_FALSE(ec);
        answer = b;
      });
  loop.run();
  src->push(1);
  src->push(3);
  loop.run();
  EXPECT_FALSE(answer.has_value());
  src->push(4);  // the answer: no end needed
  loop.run();
  EXPECT_EQ(answer, true);
  EXPECT_EQ(p->destroys, 1);
  EXPECT_EQ(p->errors, 0);
  EXPECT_EQ(p->closes, 1);
}

TEST(OperatorsConsume, SomeAndEveryAtTheEnd) {
  manual_loop loop;
  std::optional<bool> some_neg, every_small, every_odd;
  auto p1 = std::make_shared<source_probe>();
  auto p2 = std::make_shared<source_probe>();
  auto p3 = std::make_shared<source_probe>();
  sluice::some(
      counting_source(loop, 10, p1), [](const int& x) { return x < 0; },
      [&](std::error_code, bool b) { some_neg = b; });
  sluice::every(
      counting_source(loop, 10, p2), [](const int& x) { return x < 10; },
      [&](std::error_code, bool b) { every_small = b; });
  sluice::every(
      counting_source(loop, 1000, p3), [](const int& x) { return x % 2 == 1; },
      [&](std::error_code, bool b) { every_odd = b; });
  loop.run();
  EXPECT_EQ(some_neg, false);
  EXPECT_EQ(every_small, true);
  EXPECT_EQ(every_odd, false);
  EXPECT_LT(p3->produced, 100);  // stopped at 0, read ahead by the buffer only
  for (auto& p : {p1, p2, p3}) EXPECT_EQ(p->destroys, 1);
}

TEST(OperatorsConsume, FindReturnsTheFirstMatchOrNothing) {
  manual_loop loop;
  std::optional<std::optional<int>> hit, miss;
  sluice::find(
      counting_source(loop, 50, std::make_shared<source_probe>()),
      [](const int& x) { return x * x > 200; },
      [&](std::error_code ec, std::optional<int> v) {
        EXPECT_FALSE(ec);
        hit = v;
      });
  sluice::find(
      counting_source(loop, 5, std::make_shared<source_probe>()),
      [](const int& x) { return x > 10; },
      [&](std::error_code, std::optional<int> v) { miss = v; });
  loop.run();
  EXPECT_EQ(hit, std::optional<int>(15));
  ASSERT_TRUE(miss.has_value());
  EXPECT_FALSE(miss->has_value());
}

TEST(OperatorsConsume, SourceErrorsReachTheCompletion) {
  manual_loop loop;
  auto p = std::make_shared<source_probe>();
  auto src = manual_source(loop, p);
  int calls = 0;
  std::error_code got;
  sluice::to_vector(src, [&](std::error_code ec, std::vector<int> v) {
    ++calls;
    got = ec;
    EXPECT_TRUE(v.empty());
  });
  loop.run();
  src->push(1);
  loop.run();
  src->destroy(std::make_error_code(std::errc::broken_pipe));
  loop.run();
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(got, std::errc::broken_pipe);
  // Closed before its end: premature_close.
  auto src2 = manual_source(loop, std::make_shared<source_probe>());
  std::error_code ec2;
  sluice::for_each(
      src2, [](int) {}, [&](std::error_code ec) { ec2 = ec; });
  loop.run();
  src2->destroy();
  loop.run();
  EXPECT_EQ(ec2, sluice::errc::premature_close);
}

// An Asio completion token instead of a callback. (A coroutine with use_awaitable works the same
// way; clang 14 cannot compile coroutines with ASan and -g, so the test uses use_future.)
TEST(OperatorsConsume, AsioCompletionTokensWork) {
  boost::asio::io_context io;
  sluice::asio_loop loop(io);
  auto p = std::make_shared<source_probe>();
  auto evens =
      sluice::filter(counting_source(loop, 10, p), [](const int& x) { return x % 2 == 0; });
  auto all = sluice::to_vector(evens, boost::asio::use_future);
  auto p2 = std::make_shared<source_probe>();
  auto hit = sluice::find(
      counting_source(loop, 10, p2), [](const int& x) { return x > 6; }, boost::asio::use_future);
  io.run();
  auto [ec, v] = all.get();
  EXPECT_FALSE(ec);
  EXPECT_EQ(v, (std::vector<int>{0, 2, 4, 6, 8}));
  auto [ec2, found] = hit.get();
  EXPECT_FALSE(ec2);
  EXPECT_EQ(found, std::optional<int>(7));
  EXPECT_EQ(p->destroys, 1);
  EXPECT_EQ(p2->destroys, 1);
}

}  // namespace
