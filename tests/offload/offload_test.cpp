// offload(): a function on each item on the CPU pool's threads, results back on the loop thread,
// on a real asio loop with real threads: order kept (or not, when asked), work in flight bounded
// so the source waits, the first error (returned, or thrown) fails the stream once and later
// results are dropped, destroy() with work in flight is safe.
#include "sluice/offload/offload.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <variant>
#include <vector>

#include "http/http_support.hpp"
#include "sluice/compose/pipeline.hpp"
#include "sluice/core/asio_loop.hpp"
#include "sluice/core/make.hpp"

namespace {

using namespace std::chrono_literals;
using sluice::test::run_until;

// A source of the numbers 0 .. n-1, counting how many it has produced.
struct numbers {
  std::int64_t next = 0;
  std::int64_t n = 0;
  std::shared_ptr<sluice::readable<std::int64_t>> stream;
  numbers(sluice::loop& l, std::int64_t count) : n(count) {
    stream = sluice::make_readable<std::int64_t>(
        l, {.read = [this](sluice::readable<std::int64_t>& r, std::size_t) {
          while (next < n)
            if (!r.push(next++)) return;
          r.push_eof();
        }});
  }
};

// Counts the calls running at once, and the most seen.
struct concurrency {
  std::atomic<int> now{0};
  std::atomic<int> most{0};
  void enter() {
    const int n = ++now;
    int m = most.load();
    while (n > m && !most.compare_exchange_weak(m, n)) {
    }
  }
  void leave() { --now; }
};

// A gate the test opens: calls wait at it until then.
struct gate {
  std::mutex mu;
  std::condition_variable cv;
  bool open = false;
  void wait() {
    std::unique_lock lk(mu);
    cv.wait(lk, [this] { return open; });
  }
  void release() {
    {
      std::lock_guard lk(mu);
      open = true;
    }
    cv.notify_all();
  }
};

TEST(Offload, OrderedResultsComeInInputOrderWhateverOrderTheyFinishIn) {
  boost::asio::io_context io;
  sluice::asio_loop loop(io);
  numbers src(loop, 300);
  auto c = std::make_shared<concurrency>();
  auto twice = sluice::offload<std::int64_t>(
      loop,
      [c](std::int64_t x) {
        c->enter();
        // Later items often finish first.
        std::this_thread::sleep_for(std::chrono::microseconds((7 * x) % 5 * 300));
        c->leave();
        return 2 * x;
      },
      {.threads = 3, .max_in_flight = 6});
  EXPECT_EQ(twice->max_in_flight(), 6u);
  std::vector<std::int64_t> got;
  std::error_code result{sluice::make_error_code(sluice::errc::aborted)};
  bool done = false;
  std::size_t most_in_flight = 0;
  auto sink = sluice::make_writable<std::int64_t>(
      loop, {.write = [&](auto&, std::int64_t&& x, auto cb) {
        got.push_back(x);
        most_in_flight = std::max(most_in_flight, twice->in_flight());
        cb();
      }});
  sluice::pipeline(src.stream, twice, sink, [&](std::error_code ec) {
    result = ec;
    done = true;
  });
  ASSERT_TRUE(run_until(io, [&] { return done; }));
  EXPECT_FALSE(result) << result.message();
  ASSERT_EQ(got.size(), 300u);
  for (std::size_t i = 0; i < got.size(); ++i) ASSERT_EQ(got[i], 2 * static_cast<std::int64_t>(i));
  EXPECT_LE(c->most.load(), 3);  // three threads of its own
  EXPECT_GE(c->most.load(), 2);  // and they did run side by side
  EXPECT_LE(most_in_flight, 6u);
  EXPECT_EQ(twice->completed(), 300u);
}

TEST(Offload, UnorderedResultsComeAsTheyFinish) {
  boost::asio::io_context io;
  sluice::asio_loop loop(io);
  numbers src(loop, 4);
  // Item 0 takes 200 ms, the others none: unordered, item 0 comes last.
  auto slow_first =
      sluice::offload<std::int64_t>(loop,
                                    [](std::int64_t x) {
                                      if (x == 0) std::this_thread::sleep_for(200ms);
                                      return x;
                                    },
                                    {.threads = 2, .max_in_flight = 4, .ordered = false});
  std::vector<std::int64_t> got;
  bool done = false;
  auto sink =
      sluice::make_writable<std::int64_t>(loop, {.write = [&](auto&, std::int64_t&& x, auto cb) {
                                            got.push_back(x);
                                            cb();
                                          }});
  sluice::pipeline(src.stream, slow_first, sink, [&](std::error_code) { done = true; });
  ASSERT_TRUE(run_until(io, [&] { return done; }));
  ASSERT_EQ(got.size(), 4u);
  EXPECT_EQ(got.back(), 0);
}

TEST(Offload, WorkInFlightIsBoundedAndTheSourceWaits) {
  boost::asio::io_context io;
  sluice::asio_loop loop(io);
  numbers src(loop, 100000);
  auto g = std::make_shared<gate>();
  auto held = sluice::offload<std::int64_t>(loop,
                                            [g](std::int64_t x) {
                                              g->wait();
                                              return x;
                                            },
                                            {.threads = 2, .max_in_flight = 4});
  std::int64_t sum = 0;
  std::int64_t count = 0;
  bool done = false;
  auto sink =
      sluice::make_writable<std::int64_t>(loop, {.write = [&](auto&, std::int64_t&& x, auto cb) {
                                            sum += x;
                                            ++count;
                                            cb();
                                          }});
  sluice::pipeline(src.stream, held, sink, [&](std::error_code) { done = true; });
  run_until(
      io, [] { return false; }, 300ms);
  // Four items handed to the pool; the offload's writable buffer (16) and the source's (16)
  // full; the rest of the 100,000 not produced.
  EXPECT_EQ(held->in_flight(), 4u);
  EXPECT_LE(src.next, 4 + 16 + 16 + 2);
  EXPECT_EQ(count, 0);
  g->release();
  ASSERT_TRUE(run_until(
      io, [&] { return done; }, 60s));
  EXPECT_EQ(count, 100000);
  EXPECT_EQ(sum, 100000LL * 99999 / 2);
}

TEST(Offload, AReturnedErrorFailsTheStreamOnceAndLaterResultsAreDropped) {
  boost::asio::io_context io;
  sluice::asio_loop loop(io);
  numbers src(loop, 1000);
  auto checked = sluice::offload<std::int64_t>(
      loop,
      [](std::int64_t x) -> std::variant<std::int64_t, std::error_code> {
        if (x == 5) return std::make_error_code(std::errc::invalid_argument);
        return x;
      },
      {.threads = 2, .max_in_flight = 8});
  std::vector<std::int64_t> got;
  int completions = 0;
  std::error_code result;
  auto sink =
      sluice::make_writable<std::int64_t>(loop, {.write = [&](auto&, std::int64_t&& x, auto cb) {
                                            got.push_back(x);
                                            cb();
                                          }});
  sluice::pipeline(src.stream, checked, sink, [&](std::error_code ec) {
    ++completions;
    result = ec;
  });
  ASSERT_TRUE(run_until(io, [&] { return completions > 0; }));
  run_until(
      io, [] { return false; }, 100ms);  // the results still running come back: dropped
  EXPECT_EQ(completions, 1);
  EXPECT_EQ(result, std::errc::invalid_argument);
  EXPECT_NE(checked->error_message().find("offload: item 5: the function returned an error"),
            std::string::npos)
      << checked->error_message();
  // In order, up to the failing item and never past it.
  ASSERT_LE(got.size(), 5u);
  for (std::size_t i = 0; i < got.size(); ++i) EXPECT_EQ(got[i], static_cast<std::int64_t>(i));
  EXPECT_LT(src.next, 1000);  // the source was not read to its end
}

TEST(Offload, UnderSkipFailedItemsAreDroppedAndTheRestComeInOrder) {
  for (const bool ordered : {true, false}) {
    boost::asio::io_context io;
    sluice::asio_loop loop(io);
    numbers src(loop, 3000);
    // Every 10th item returns an error, every 25th throws; the others take a little time, more
    // for some, so that they finish out of order.
    auto checked = sluice::offload<std::int64_t>(
        loop,
        [](std::int64_t x) -> std::variant<std::int64_t, std::error_code> {
          if (x % 25 == 7) throw std::system_error(std::make_error_code(std::errc::io_error));
          if (x % 10 == 3) return std::make_error_code(std::errc::invalid_argument);
          if (x % 5 == 0) std::this_thread::sleep_for(50us);
          return x;
        },
        {.threads = 2,
         .max_in_flight = 16,
         .ordered = ordered,
         .skip = sluice::skip_policy{
             .on_skip = [&](const sluice::skipped_item& s) { EXPECT_EQ(s.stage, "offload"); }}});
    std::vector<std::int64_t> got;
    std::error_code result;
    bool done = false;
    auto sink =
        sluice::make_writable<std::int64_t>(loop, {.write = [&](auto&, std::int64_t&& x, auto cb) {
                                              got.push_back(x);
                                              cb();
                                            }});
    sluice::pipeline(src.stream, checked, sink, [&](std::error_code ec) {
      result = ec;
      done = true;
    });
    ASSERT_TRUE(run_until(io, [&] { return done; }));
    EXPECT_FALSE(result) << result.message();
    std::vector<std::int64_t> want;
    for (std::int64_t x = 0; x < 3000; ++x)
      if (x % 25 != 7 && x % 10 != 3) want.push_back(x);
    if (!ordered) std::sort(got.begin(), got.end());
    EXPECT_EQ(got, want) << (ordered ? "ordered" : "unordered");
    EXPECT_EQ(checked->items_skipped(), 3000 - want.size());
  }
}

TEST(Offload, UnderSkipAnErrorThePolicyRefusesStillFailsTheStream) {
  boost::asio::io_context io;
  sluice::asio_loop loop(io);
  numbers src(loop, 100);
  auto checked = sluice::offload<std::int64_t>(
      loop,
      [](std::int64_t x) -> std::variant<std::int64_t, std::error_code> {
        if (x == 4) return std::make_error_code(std::errc::invalid_argument);
        if (x == 9) return std::make_error_code(std::errc::no_space_on_device);
        return x;
      },
      {.threads = 1, .skip = sluice::skip_policy{.skippable = [](std::error_code ec) {
                       return ec == std::errc::invalid_argument;
                     }}});
  std::error_code result;
  bool done = false;
  auto sink = sluice::make_writable<std::int64_t>(
      loop, {.write = [](auto&, std::int64_t&&, auto cb) { cb(); }});
  sluice::pipeline(src.stream, checked, sink, [&](std::error_code ec) {
    result = ec;
    done = true;
  });
  ASSERT_TRUE(run_until(io, [&] { return done; }));
  EXPECT_EQ(result, std::errc::no_space_on_device);
  EXPECT_EQ(checked->items_skipped(), 1u);
}

TEST(Offload, AnExceptionBecomesTheStreamsError) {
  for (const bool system : {true, false}) {
    boost::asio::io_context io;
    sluice::asio_loop loop(io);
    numbers src(loop, 20);
    auto throws = sluice::offload<std::int64_t>(loop, [system](std::int64_t x) {
      if (x == 3 && system)
        throw std::system_error(std::make_error_code(std::errc::io_error), "disk");
      if (x == 3) throw std::runtime_error("bad item");
      return x;
    });
    std::error_code result;
    bool done = false;
    auto sink = sluice::make_writable<std::int64_t>(
        loop, {.write = [](auto&, std::int64_t&&, auto cb) { cb(); }});
    sluice::pipeline(src.stream, throws, sink, [&](std::error_code ec) {
      result = ec;
      done = true;
    });
    ASSERT_TRUE(run_until(io, [&] { return done; }));
    if (system) {
      EXPECT_EQ(result, std::errc::io_error);
      EXPECT_NE(throws->error_message().find("item 3: the function threw: disk"), std::string::npos)
          << throws->error_message();
    } else {
      EXPECT_EQ(result, sluice::errc::aborted);
      EXPECT_NE(throws->error_message().find("item 3: the function threw: bad item"),
                std::string::npos)
          << throws->error_message();
    }
  }
}

TEST(Offload, DestroyWithWorkInFlightDropsTheResultsAndLeaksNothing) {
  boost::asio::io_context io;
  sluice::asio_loop loop(io);
  auto g = std::make_shared<gate>();
  auto ran = std::make_shared<std::atomic<int>>(0);
  auto s = sluice::offload<sluice::buffer>(loop,
                                           [g, ran](sluice::buffer b) {
                                             g->wait();
                                             ++*ran;
                                             return b;
                                           },
                                           {.threads = 2, .max_in_flight = 4});
  int data = 0;
  s->on_data([&](sluice::buffer&&) { ++data; });
  std::vector<std::error_code> callbacks;
  for (int i = 0; i < 6; ++i)
    (void)s->write(sluice::buffer(std::string(1000, 'x')),
                   [&](std::error_code ec) { callbacks.push_back(ec); });
  run_until(
      io, [] { return false; }, 50ms);
  EXPECT_EQ(s->in_flight(), 4u);
  s->destroy();
  std::weak_ptr<sluice::stream> weak = s;
  s.reset();  // the last reference goes while four calls are still running
  g->release();
  // The loop runs until the pool's jobs have come back (they count as work on the loop).
  run_until(io, [&] { return ran->load() == 4; });
  io.restart();
  io.run_for(200ms);
  EXPECT_EQ(ran->load(), 4);
  EXPECT_EQ(data, 0);
  EXPECT_TRUE(weak.expired());
  // Every write's callback ran once: none succeeded after the destroy.
  ASSERT_EQ(callbacks.size(), 6u);
  int failed = 0;
  for (const auto& ec : callbacks) failed += ec ? 1 : 0;
  EXPECT_GE(failed, 2);  // at least those never handed to the pool
}

TEST(Offload, TheSharedPoolIsTheCpuPool) {
  boost::asio::io_context io;
  sluice::asio_loop loop(io);
  auto s = sluice::offload<std::int64_t>(loop, [](std::int64_t x) { return x; });
  EXPECT_EQ(s->max_in_flight(), 2 * sluice::cpu_pool_threads());
  EXPECT_FALSE(sluice::set_cpu_pool_threads(7));  // the pool exists: its size is fixed
  EXPECT_THROW((void)sluice::offload<std::int64_t>(loop, [](std::int64_t x) { return x; },
                                                   {.max_in_flight = 5000}),
               std::system_error);
}

}  // namespace
