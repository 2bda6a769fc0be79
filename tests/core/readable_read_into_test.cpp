// readable::read_into: the bulk read behind async_next_batch. It must look, from outside, like
// the same number of read() calls: same items in the same order, same events ('readable',
// 'data', 'end', 'close') at the same places, same counters; only the producer is asked less
// often (once per buffer's worth, not per item), and it stays within the highWaterMark.
#include <gtest/gtest.h>

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "sluice/core/buffer.hpp"
#include "sluice/core/loop.hpp"
#include "sluice/core/make.hpp"
#include "sluice/core/readable.hpp"

namespace {

using sluice::manual_loop;
using sluice::readable;

enum class consume { read, read_into };

// What a consumer saw: the items and the events, in order.
struct run_log {
  std::vector<std::string> events;
  std::vector<int> items;
  std::size_t produce_calls = 0;
  std::size_t most_ahead = 0;  // most items produced but not yet taken, after a take
  std::uint64_t chunks_out = 0;
};

// Takes up to `max` items, with `max` read() calls or one read_into().
std::size_t take(readable<int>& r, consume how, std::size_t max, std::vector<int>& out) {
  if (how == consume::read_into) return r.read_into(out, max);
  std::size_t n = 0;
  for (; n < max; ++n) {
    std::optional<int> v = r.read();
    if (!v) break;
    out.push_back(*v);
  }
  return n;
}

// `total` items; the producer pushes until push() says stop, synchronously or, when `async`, on
// a later tick, three items at a time. The consumer takes `per_take` at a time on 'readable'.
run_log run(consume how, int total, std::size_t hwm, std::size_t per_take, bool async) {
  manual_loop loop;
  run_log log;
  int next = 0;
  std::function<void(readable<int>&)> produce = [&](readable<int>& self) {
    for (int i = 0; next < total && (!async || i < 3); ++i)
      if (!self.push(next++)) return;
    if (next == total) self.push_eof();
  };
  auto r = sluice::make_readable<int>(
      loop, {.high_water_mark = hwm, .read = [&](readable<int>& self, std::size_t) {
               ++log.produce_calls;
               if (!async) return produce(self);
               loop.start_timer(
                   std::chrono::nanoseconds(0),
                   [&produce, &self, keep = self.shared_from_this()] { produce(self); });
             }});
  // Node's rule for 'readable': read until read() returns nothing (here in takes of per_take).
  r->on_readable([&] {
    std::string line = "readable: took";
    for (std::size_t n = per_take; n == per_take;) {
      n = take(*r, how, per_take, log.items);
      line += " " + std::to_string(n);
      log.most_ahead = std::max(log.most_ahead, static_cast<std::size_t>(next) - log.items.size());
    }
    log.events.push_back(line + ", buffered " + std::to_string(r->readable_length()));
  });
  r->on_end([&] { log.events.emplace_back("end"); });
  r->on_close([&] { log.events.emplace_back("close"); });
  loop.run();
  log.chunks_out = r->counters().chunks_out;
  return log;
}

std::vector<int> iota(int n) {
  std::vector<int> v;
  for (int i = 0; i < n; ++i) v.push_back(i);
  return v;
}

TEST(ReadableReadInto, SameItemsAndEventsAsReadCallsWithASynchronousProducer) {
  for (std::size_t hwm : {1u, 4u, 16u}) {
    for (std::size_t per_take : {1u, 3u, 7u, 100u}) {
      SCOPED_TRACE("hwm " + std::to_string(hwm) + ", per take " + std::to_string(per_take));
      const run_log by_read = run(consume::read, 50, hwm, per_take, false);
      const run_log bulk = run(consume::read_into, 50, hwm, per_take, false);
      EXPECT_EQ(bulk.items, iota(50));
      EXPECT_EQ(bulk.events, by_read.events);
      EXPECT_EQ(bulk.chunks_out, 50u);
      EXPECT_LE(bulk.most_ahead, hwm);  // still a pull: never more than hwm ahead
      EXPECT_LE(bulk.produce_calls, by_read.produce_calls);
    }
  }
}

TEST(ReadableReadInto, AsksTheProducerOncePerBufferNotPerItem) {
  const run_log by_read = run(consume::read, 160, 16, 1000, false);
  const run_log bulk = run(consume::read_into, 160, 16, 1000, false);
  EXPECT_EQ(bulk.items, iota(160));
  EXPECT_GT(by_read.produce_calls, 120u);  // read(): a do_read for nearly every item
  EXPECT_LE(bulk.produce_calls, 160u / 15 + 2) << bulk.produce_calls;
}

TEST(ReadableReadInto, SameItemsAndEventsAsReadCallsWithAnAsynchronousProducer) {
  for (std::size_t hwm : {2u, 4u, 16u}) {
    for (std::size_t per_take : {1u, 2u, 5u, 100u}) {
      SCOPED_TRACE("hwm " + std::to_string(hwm) + ", per take " + std::to_string(per_take));
      const run_log by_read = run(consume::read, 40, hwm, per_take, true);
      const run_log bulk = run(consume::read_into, 40, hwm, per_take, true);
      EXPECT_EQ(bulk.items, iota(40));
      EXPECT_EQ(bulk.events, by_read.events);
      EXPECT_EQ(bulk.chunks_out, 40u);
    }
  }
}

TEST(ReadableReadInto, AppendsAndStopsAtTheEnd) {
  manual_loop loop;
  auto r = sluice::make_readable<int>(
      loop, {.high_water_mark = 8, .read = [](readable<int>&, std::size_t) {}});
  for (int i = 0; i < 5; ++i) r->push(i);
  r->push_eof();
  bool ended = false;
  r->on_end([&] { ended = true; });
  std::vector<int> out{-1};
  EXPECT_EQ(r->read_into(out, 3), 3u);
  EXPECT_EQ(out, (std::vector<int>{-1, 0, 1, 2}));  // appended, not replaced
  EXPECT_EQ(r->readable_length(), 2u);
  EXPECT_EQ(r->read_into(out, 100), 2u);
  EXPECT_EQ(r->read_into(out, 100), 0u);
  EXPECT_EQ(out, (std::vector<int>{-1, 0, 1, 2, 3, 4}));
  EXPECT_FALSE(ended);  // 'end' comes on a later tick, as after read()
  loop.run();
  EXPECT_TRUE(ended);
  EXPECT_TRUE(r->readable_ended());
  EXPECT_EQ(r->counters().chunks_out, 5u);
}

TEST(ReadableReadInto, DataListenersInPausedModeSeeEveryItem) {
  manual_loop loop;
  auto r = sluice::make_readable<int>(
      loop, {.high_water_mark = 8, .read = [](readable<int>&, std::size_t) {}});
  std::vector<int> data;
  r->on_data([&](int&& x) { data.push_back(x); });
  r->pause();
  for (int i = 0; i < 4; ++i) r->push(i);
  std::vector<int> out;
  EXPECT_EQ(r->read_into(out, 10), 4u);
  EXPECT_EQ(out, (std::vector<int>{0, 1, 2, 3}));
  EXPECT_EQ(data, out);  // read() emits 'data' for what it returns; so does read_into
}

TEST(ReadableReadInto, AnErroredStreamYieldsWhatReadWould) {
  std::vector<int> got[2];
  for (consume how : {consume::read, consume::read_into}) {
    manual_loop loop;
    auto r = sluice::make_readable<int>(
        loop, {.high_water_mark = 8, .read = [](readable<int>&, std::size_t) {}});
    r->on_error([](std::error_code) {});
    for (int i = 0; i < 3; ++i) r->push(i);
    r->destroy(std::make_error_code(std::errc::io_error));
    take(*r, how, 10, got[static_cast<int>(how)]);
    loop.run();
    EXPECT_TRUE(r->destroyed());
  }
  EXPECT_EQ(got[1], got[0]);
}

TEST(ReadableReadInto, ByteModeTakesWhatReadTakes) {
  manual_loop loop;
  auto r = sluice::make_readable<sluice::buffer>(
      loop, {.read = [](readable<sluice::buffer>&, std::size_t) {}});
  r->push(sluice::buffer::copy_of("ab"));
  r->push(sluice::buffer::copy_of("cd"));
  std::vector<sluice::buffer> out;
  EXPECT_EQ(r->read_into(out, 5), 1u);  // read() takes everything buffered, joined
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].to_string(), "abcd");
}

}  // namespace
