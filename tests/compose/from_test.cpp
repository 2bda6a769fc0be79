// from(loop, range) and sluice::generator (sluice/compose/from.hpp, sluice/compose/generator.hpp):
// Node's Readable.from, with the pull model: the producer runs only when the stream wants data.

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <system_error>
#include <vector>

#include "sluice/compose/async.hpp"
#include "sluice/compose/from.hpp"
#include "sluice/compose/generator.hpp"

namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;

// Counts how often its body was resumed to produce an item.
sluice::generator<int> counting(int n, std::size_t& produced) {
  for (int i = 0; i < n; ++i) {
    ++produced;
    co_yield i;
  }
}

// Drains `r` with a reader and async_next callbacks on `io`; returns the items, and the error
// that ended the iteration in `*error`. (Callbacks, not a coroutine: clang 14 cannot emit a
// coroutine lambda inside a function template with -g -fsanitize=address.)
template <class T>
std::vector<T> drain(asio::io_context& io, std::shared_ptr<sluice::readable<T>> r,
                     std::error_code* error = nullptr) {
  struct drainer {
    sluice::reader<T> rd;
    std::vector<T> out{};
    std::error_code* error;
    void next() {
      rd.async_next([this](sluice::async_error ec, std::optional<T> x) {
        if (ec || !x) {
          if (error) *error = ec;
          return;
        }
        out.push_back(std::move(*x));
        next();
      });
    }
  };
  drainer d{sluice::reader<T>(std::move(r)), {}, error};
  d.next();
  io.run();
  io.restart();
  return std::move(d.out);
}

TEST(From, OwnedVectorYieldsEveryItemInOrder) {
  asio::io_context io;
  sluice::asio_loop loop(io);
  auto r = sluice::from(loop, std::vector<std::string>{"a", "b", "c"});
  bool ended = false;
  r->on_end([&] { ended = true; });
  EXPECT_EQ(drain(io, r), (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_TRUE(ended);
  EXPECT_TRUE(r->closed());
}

TEST(From, LvalueRangeIsCopiedFromNotMovedFrom) {
  asio::io_context io;
  sluice::asio_loop loop(io);
  std::vector<std::string> words{"x", "y"};
  auto r = sluice::from(loop, words);
  EXPECT_EQ(drain(io, r), words);
  EXPECT_EQ(words, (std::vector<std::string>{"x", "y"}));
}

TEST(From, GeneratorOfMoveOnlyItems) {
  asio::io_context io;
  sluice::asio_loop loop(io);
  auto make = []() -> sluice::generator<std::unique_ptr<int>> {
    for (int i = 1; i <= 3; ++i) co_yield std::make_unique<int>(i * 10);
  };
  auto got = drain(io, sluice::from(loop, make()));
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(*got[0], 10);
  EXPECT_EQ(*got[2], 30);
}

TEST(From, NothingIsProducedBeforeAConsumerAsks) {
  sluice::manual_loop loop;
  std::size_t produced = 0;
  auto r = sluice::from(loop, counting(100, produced), {.high_water_mark = 4});
  loop.run_until_idle();
  EXPECT_EQ(produced, 0u);
  // The first read() runs the generator until push() says the buffer is full (4 items), takes
  // one; the stream then tops its buffer up to the highWaterMark on a later tick, and stops.
  EXPECT_EQ(r->read(), 0);
  EXPECT_EQ(produced, 4u);
  EXPECT_EQ(r->readable_length(), 3u);
  loop.run_until_idle();
  EXPECT_EQ(produced, 5u);
  EXPECT_EQ(r->readable_length(), 4u);
  loop.run_until_idle();
  EXPECT_EQ(produced, 5u);
}

TEST(From, GeneratorNeverRunsAheadOfTheConsumerByMoreThanHwm) {
  for (std::size_t hwm : {1u, 3u, 16u}) {
    asio::io_context io;
    sluice::asio_loop loop(io);
    std::size_t produced = 0;
    std::size_t received = 0;
    std::size_t max_ahead = 0;
    auto r = sluice::from(loop, counting(200, produced), {.high_water_mark = hwm});
    asio::co_spawn(
        io,
        [&]() -> asio::awaitable<void> {
          sluice::reader<int> rd(r);
          asio::steady_timer pause(io);
          while (auto x = co_await sluice::async_next(rd)) {
            EXPECT_EQ(*x, static_cast<int>(received));
            ++received;
            max_ahead = std::max(max_ahead, produced - received);
            if (received % 50 == 0) {  // a slow consumer now and then: the producer must wait
              pause.expires_after(1ms);
              co_await pause.async_wait(asio::use_awaitable);
              max_ahead = std::max(max_ahead, produced - received);
            }
          }
        },
        asio::detached);
    io.run();
    EXPECT_EQ(received, 200u) << "hwm " << hwm;
    EXPECT_EQ(produced, 200u) << "hwm " << hwm;
    EXPECT_EQ(max_ahead, hwm) << "hwm " << hwm;  // ahead by the buffer, never more
  }
}

TEST(From, GeneratorExceptionFailsTheStreamAndNamesIt) {
  asio::io_context io;
  sluice::asio_loop loop(io);
  auto failing = []() -> sluice::generator<int> {
    co_yield 1;
    co_yield 2;
    throw std::runtime_error("sensor offline");
  };
  // hwm 1: the generator runs one item ahead of the consumer, so both items are handed out (the
  // second by the very read() that ran into the exception) before the stream fails.
  auto r = sluice::from(loop, failing(), {.high_water_mark = 1, .name = "sensor"});
  std::error_code seen;
  r->on_error([&](std::error_code ec) { seen = ec; });
  std::error_code ec;
  EXPECT_EQ(drain(io, r, &ec), (std::vector<int>{1, 2}));
  EXPECT_EQ(ec, sluice::from_errc::range_threw);
  EXPECT_EQ(seen, sluice::from_errc::range_threw);
  EXPECT_EQ(r->error_message(), "sensor: sensor offline: the range threw an exception");
}

TEST(From, SystemErrorKeepsItsCode) {
  asio::io_context io;
  sluice::asio_loop loop(io);
  auto failing = []() -> sluice::generator<int> {
    throw std::system_error(std::make_error_code(std::errc::permission_denied), "open 'a.db'");
    co_return;
  };
  auto r = sluice::from(loop, failing());
  std::error_code ec;
  EXPECT_TRUE(drain(io, r, &ec).empty());
  EXPECT_EQ(ec, std::errc::permission_denied);
  EXPECT_EQ(r->error_context().rfind("from: open 'a.db'", 0), 0u) << r->error_context();
}

TEST(Generator, IsALazyInputRange) {
  std::size_t produced = 0;
  auto g = counting(3, produced);
  EXPECT_EQ(produced, 0u);
  std::vector<int> seen;
  for (int x : g) seen.push_back(x);
  EXPECT_EQ(seen, (std::vector<int>{0, 1, 2}));
  EXPECT_EQ(produced, 3u);
  static_assert(std::ranges::input_range<sluice::generator<int>>);
}

TEST(Generator, DestroyingItRunsTheBodysDestructors) {
  bool cleaned = false;
  struct guard {
    bool* flag;
    ~guard() { *flag = true; }
  };
  {
    auto g = [](bool* flag) -> sluice::generator<int> {
      guard gd{flag};
      for (int i = 0;; ++i) co_yield i;
    }(&cleaned);
    auto it = g.begin();
    EXPECT_EQ(*it, 0);
    ++it;
    EXPECT_EQ(*it, 1);
    EXPECT_FALSE(cleaned);
  }
  EXPECT_TRUE(cleaned);
}

}  // namespace
