// adaptive_writer (sluice/sinks/adaptive_writer.hpp) on the virtual clock: pacing, AIMD,
// settling on a fixed-rate consumer without overfilling it, end(), destroy() and errors.
#include "sluice/sinks/adaptive_writer.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "sluice/core/buffer.hpp"
#include "sluice/core/loop.hpp"
#include "sluice/core/make.hpp"

namespace {

using namespace std::chrono_literals;
using sluice::adaptive_writer;
using sluice::loop;
using sluice::manual_loop;

// A destination that completes each write `per_item` after it starts: a consumer of fixed rate.
std::shared_ptr<sluice::writable<int>> fixed_rate_sink(manual_loop& l, std::size_t hwm,
                                                       loop::duration per_item,
                                                       std::vector<int>* got = nullptr) {
  return sluice::make_writable<int>(
      l, {.high_water_mark = hwm,
          .name = "consumer",
          .write = [&l, per_item, got](sluice::writable<int>& w, int&& x, auto cb) {
            if (got != nullptr) got->push_back(x);
            l.start_timer(per_item, [keep = w.shared_from_this(), cb] { cb(); });
          }});
}

// A destination whose writes complete synchronously (never backpressured).
std::shared_ptr<sluice::writable<int>> instant_sink(manual_loop& l, std::vector<int>* got) {
  return sluice::make_writable<int>(
      l, {.high_water_mark = 4, .write = [got](sluice::writable<int>&, int&& x, auto cb) {
            got->push_back(x);
            cb();
          }});
}

// A destination whose writes complete when the test says so.
struct held {
  std::shared_ptr<sluice::writable<int>> s;
  std::vector<sluice::writable<int>::write_callback> pending{};
};
std::shared_ptr<held> held_sink(manual_loop& l, std::size_t hwm) {
  auto h = std::make_shared<held>();
  h->s = sluice::make_writable<int>(
      l, {.high_water_mark = hwm, .write = [raw = h.get()](sluice::writable<int>&, int&&, auto cb) {
            raw->pending.push_back(cb);
          }});
  return h;
}

// Writes 0, 1, 2, ... into `w` for ever, honouring its backpressure.
struct producer {
  std::shared_ptr<adaptive_writer<int>> w;
  int next = 0;
  int refusals = 0;
  void start() {
    w->on_drain([this] { fill(); });
    fill();
  }
  void fill() {
    while (w->write(next++)) {
    }
    ++refusals;
  }
};

TEST(AdaptiveWriter, settles_within_ten_percent_of_a_fixed_rate_consumer_without_overfilling) {
  for (const double consumer_rate : {50.0, 200.0, 1000.0}) {
    SCOPED_TRACE(consumer_rate);
    manual_loop l;
    const std::size_t hwm = 16;
    auto dest = fixed_rate_sink(l, hwm,
                                std::chrono::duration_cast<loop::duration>(
                                    std::chrono::duration<double>(1.0 / consumer_rate)));
    auto w = adaptive_writer<int>::create(l, dest, {.high_water_mark = 8, .initial_rate = 10});
    producer p{w};
    p.start();
    std::size_t peak = 0;
    std::uint64_t at_window_start = 0;
    for (int step = 0; step < 30'000; ++step) {  // 30 s in 1 ms steps
      if (step == 25'000) at_window_start = w->pacing().forwarded;
      l.advance(1ms);
      peak = std::max(peak, dest->writable_length());
      ASSERT_LE(dest->writable_length(), hwm) << "at " << step << " ms";
      ASSERT_LE(w->writable_length(), 8U);
    }
    const double delivered = static_cast<double>(w->pacing().forwarded - at_window_start) / 5.0;
    EXPECT_NEAR(delivered, consumer_rate, 0.1 * consumer_rate);
    EXPECT_GT(w->pacing().decreases, 0U);  // it found the limit by backpressure
    EXPECT_GT(w->pacing().increases, 0U);
    EXPECT_GE(peak, hwm / 2);  // it used the consumer's buffer
    EXPECT_GT(p.refusals, 1);  // the producer was held back by the writer's own buffer
    w->destroy();
    dest->destroy();
    l.run_until_idle();
  }
}

TEST(AdaptiveWriter, paces_at_its_rate_and_its_own_buffer_pushes_back) {
  manual_loop l;
  std::vector<int> got;
  auto w = adaptive_writer<int>::create(
      l, instant_sink(l, &got),
      {.high_water_mark = 4, .initial_rate = 100, .max_rate = 100, .increase = 0});
  int drains = 0;
  w->on_drain([&] { ++drains; });
  EXPECT_TRUE(w->write(0));  // a token is there: forwarded at once
  EXPECT_TRUE(w->write(1));  // held, waiting for a token
  EXPECT_TRUE(w->write(2));
  EXPECT_TRUE(w->write(3));
  EXPECT_FALSE(w->write(4));  // 4 held: the producer must wait
  EXPECT_EQ(got, (std::vector<int>{0}));
  l.advance(10ms);
  EXPECT_EQ(got, (std::vector<int>{0, 1}));
  l.advance(29ms);
  EXPECT_EQ(got.size(), 4U);  // 1 item per 10 ms: at 0, 10, 20, 30
  EXPECT_EQ(drains, 0);
  l.advance(1ms);  // at 40 ms: all 5 forwarded
  EXPECT_EQ(got, (std::vector<int>{0, 1, 2, 3, 4}));
  EXPECT_EQ(drains, 1);
  EXPECT_EQ(w->pacing().forwarded, 5U);
  EXPECT_EQ(w->current_rate(), 100.0);
  l.advance(1s);
  EXPECT_EQ(l.timer_count(), 0U);  // idle: no timer
}

TEST(AdaptiveWriter, additive_increase_while_accepted) {
  manual_loop l;
  std::vector<int> got;
  auto w = adaptive_writer<int>::create(
      l, instant_sink(l, &got),
      {.high_water_mark = 1000, .initial_rate = 100, .increase = 10, .increase_interval = 100ms});
  for (int i = 0; i < 1000; ++i) (void)w->write(i);
  l.advance(1s);
  EXPECT_EQ(w->pacing().increases, 10U);  // at 100, 200, ..., 1000 ms
  EXPECT_DOUBLE_EQ(w->current_rate(), 200.0);
  w->destroy();
  l.run_until_idle();
}

TEST(AdaptiveWriter, decreases_once_per_destination_episode_and_waits_for_its_drain) {
  manual_loop l;
  auto h = held_sink(l, 2);
  auto w = adaptive_writer<int>::create(
      l, h->s, {.initial_rate = 1000, .min_rate = 300, .increase = 0, .decrease = 0.5});
  for (int i = 0; i < 10; ++i) (void)w->write(i);
  l.advance(100ms);
  EXPECT_EQ(h->s->writable_length(), 2U);  // 2 forwarded; the 2nd write returned false
  EXPECT_EQ(w->pacing().decreases, 1U);
  EXPECT_DOUBLE_EQ(w->current_rate(), 500.0);
  l.advance(1s);  // nothing more until 'drain'
  EXPECT_EQ(w->pacing().forwarded, 2U);
  for (int k = 0; k < 2; ++k) {  // the consumer takes the 2 items it holds: 'drain'
    ASSERT_EQ(h->pending.size(), 1U);
    auto cb = h->pending.front();
    h->pending.clear();
    cb();
    l.run_until_idle();
  }
  l.advance(100ms);
  EXPECT_EQ(w->pacing().forwarded, 4U);
  EXPECT_EQ(w->pacing().decreases, 2U);
  EXPECT_DOUBLE_EQ(w->current_rate(), 300.0);  // 250, clamped to min_rate
  w->destroy();
  l.run_until_idle();
}

TEST(AdaptiveWriter, end_forwards_everything_then_ends_the_destination) {
  manual_loop l;
  std::vector<std::string> order;
  std::vector<int> got;
  auto dest = fixed_rate_sink(l, 2, 10ms, &got);
  dest->on_finish([&] { order.push_back("destination finish"); });
  auto w = adaptive_writer<int>::create(l, dest, {.initial_rate = 200});
  w->on_finish([&] { order.push_back("writer finish"); });
  int end_calls = 0;
  for (int i = 0; i < 5; ++i) (void)w->write(i);
  w->end([&](std::error_code ec) {
    ++end_calls;
    order.push_back("end cb " + ec.message());
  });
  l.advance(20ms);
  EXPECT_FALSE(dest->ended());  // still forwarding
  l.advance(1s);
  EXPECT_EQ(got, (std::vector<int>{0, 1, 2, 3, 4}));
  EXPECT_TRUE(dest->finished());
  EXPECT_EQ(end_calls, 1);
  ASSERT_EQ(order.size(), 3U);
  EXPECT_EQ(order[0], "destination finish");
  EXPECT_EQ(order[1].rfind("end cb", 0), 0U);
  EXPECT_EQ(order[2], "writer finish");
  EXPECT_EQ(l.timer_count(), 0U);
}

TEST(AdaptiveWriter, destroy_cancels_the_timer_and_fails_the_held_write_once) {
  manual_loop l;
  std::vector<int> got;
  auto dest = instant_sink(l, &got);
  auto w = adaptive_writer<int>::create(l, dest, {.initial_rate = 1, .increase = 0});
  std::vector<std::error_code> results;
  (void)w->write(0, [&](std::error_code ec) { results.push_back(ec); });
  (void)w->write(1, [&](std::error_code ec) { results.push_back(ec); });  // waits ~1 s
  (void)w->write(2, [&](std::error_code ec) { results.push_back(ec); });  // buffered
  l.run_until_idle();
  EXPECT_EQ(l.timer_count(), 1U);
  int closes = 0;
  w->on_close([&] { ++closes; });
  w->destroy();
  l.run_until_idle();
  ASSERT_EQ(results.size(), 3U);
  EXPECT_FALSE(results[0]);
  EXPECT_EQ(results[1], sluice::make_error_code(sluice::errc::stream_destroyed));
  EXPECT_EQ(results[2], sluice::make_error_code(sluice::errc::stream_destroyed));
  EXPECT_EQ(closes, 1);
  l.advance(2s);
  EXPECT_EQ(l.timer_count(), 0U);
  EXPECT_EQ(got, (std::vector<int>{0}));
  EXPECT_FALSE(dest->destroyed());  // the destination is left alone
  EXPECT_EQ(dest->listener_count(), 0U);
}

TEST(AdaptiveWriter, a_destination_error_destroys_the_writer_with_its_cause) {
  manual_loop l;
  const auto cause = std::make_error_code(std::errc::no_space_on_device);
  auto dest = sluice::make_writable<int>(
      l, {.write = [cause](sluice::writable<int>&, int&&, auto cb) { cb(cause); }});
  auto w = adaptive_writer<int>::create(l, dest, {});
  std::vector<std::error_code> errors;
  w->on_error([&](std::error_code ec) { errors.push_back(ec); });
  (void)w->write(1);
  l.run_until_idle();
  EXPECT_EQ(dest->errored(), cause);
  EXPECT_EQ(w->errored(), cause);
  EXPECT_EQ(errors, (std::vector<std::error_code>{cause}));
  EXPECT_TRUE(w->destroyed());
}

TEST(AdaptiveWriter, paces_bytes_per_second) {
  manual_loop l;
  std::size_t bytes = 0;
  auto dest = sluice::make_writable<sluice::buffer>(
      l, {.write = [&](sluice::writable<sluice::buffer>&, sluice::buffer&& b, auto cb) {
        bytes += b.size();
        cb();
      }});
  auto w = adaptive_writer<sluice::buffer>::create(
      l, dest,
      {.unit = sluice::pace_unit::bytes, .initial_rate = 1000, .max_rate = 1000, .increase = 0});
  for (int i = 0; i < 50; ++i) (void)w->write(sluice::buffer(std::string(100, 'x')));
  l.advance(2s);
  // 1000 B/s in 100-byte chunks: 2 s of pacing after the first chunk.
  EXPECT_GE(bytes, 2000U);
  EXPECT_LE(bytes, 2200U);
  w->destroy();
  l.run_until_idle();
}

}  // namespace
