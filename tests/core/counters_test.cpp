// stream_counters (sluice/core/stream.hpp): what a stream has seen, as the monitor and --stats read
// it.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "sluice/core/buffer.hpp"
#include "sluice/core/loop.hpp"
#include "sluice/core/make.hpp"

namespace {

using namespace std::chrono_literals;
using sluice::buffer;
using sluice::manual_loop;
using sluice::writable;

using bwcb = writable<buffer>::write_callback;
using iwcb = writable<int>::write_callback;

// A byte writable whose writes complete only when the test says so.
struct held_sink {
  std::shared_ptr<writable<buffer>> s;
  std::shared_ptr<std::vector<bwcb>> held = std::make_shared<std::vector<bwcb>>();
  void complete_oldest() const {
    ASSERT_FALSE(held->empty());
    auto cb = held->front();
    held->erase(held->begin());
    cb();
  }
};

held_sink make_held_sink(manual_loop& loop, std::size_t hwm) {
  held_sink h;
  h.s = sluice::make_writable<buffer>(
      loop,
      {.high_water_mark = hwm,
       .write = [held = h.held](writable<buffer>&, buffer&&, bwcb cb) { held->push_back(cb); }});
  return h;
}

TEST(Counters, StartAtZero) {
  manual_loop loop;
  auto h = make_held_sink(loop, 4);
  const auto& c = h.s->counters();
  EXPECT_EQ(c.chunks_in, 0u);
  EXPECT_EQ(c.bytes_in, 0u);
  EXPECT_EQ(c.chunks_out, 0u);
  EXPECT_EQ(c.bytes_out, 0u);
  EXPECT_EQ(c.peak_writable_length, 0u);
  EXPECT_EQ(c.peak_readable_length, 0u);
  EXPECT_EQ(c.write_backpressure, 0u);
  EXPECT_EQ(c.push_backpressure, 0u);
  EXPECT_EQ(c.drains, 0u);
  EXPECT_EQ(c.write_backpressured_time, sluice::loop::duration::zero());
  EXPECT_EQ(c.push_backpressured_time, sluice::loop::duration::zero());
}

TEST(Counters, ChunksAndBytesInByteMode) {
  manual_loop loop;
  auto s = sluice::make_writable<buffer>(
      loop, {.write = [](writable<buffer>&, buffer&&, bwcb cb) { cb(); }});
  s->write(buffer::copy_of("abc"));
  s->write(buffer::copy_of("defgh"));
  s->end(buffer::copy_of("i"));
  loop.run();
  EXPECT_EQ(s->counters().chunks_in, 3u);
  EXPECT_EQ(s->counters().bytes_in, 9u);
  // A writable has no readable side.
  EXPECT_EQ(s->counters().chunks_out, 0u);
  EXPECT_EQ(s->counters().bytes_out, 0u);
}

TEST(Counters, ObjectModeCountsChunksNotBytes) {
  manual_loop loop;
  auto s = sluice::make_writable<std::string>(
      loop, {.write = [](writable<std::string>&, std::string&&,
                         writable<std::string>::write_callback cb) { cb(); }});
  for (int i = 0; i < 5; ++i) s->write(std::string(100, 'x'));
  loop.run();
  EXPECT_EQ(s->counters().chunks_in, 5u);
  EXPECT_EQ(s->counters().bytes_in, 0u);
}

TEST(Counters, RejectedWritesAreNotCounted) {
  manual_loop loop;
  auto s = sluice::make_writable<buffer>(
      loop, {.write = [](writable<buffer>&, buffer&&, bwcb cb) { cb(); }});
  s->write(buffer::copy_of("ab"));
  s->end();
  s->write(buffer::copy_of("too late"));  // write after end: an error, not data
  loop.run();
  EXPECT_EQ(s->counters().chunks_in, 1u);
  EXPECT_EQ(s->counters().bytes_in, 2u);
}

TEST(Counters, ChunksAndBytesOutThroughDataAndRead) {
  manual_loop loop;
  auto r =
      sluice::make_readable<buffer>(loop, {.read = [](sluice::readable<buffer>&, std::size_t) {}});
  // Paused: read() delivers.
  r->push(buffer::copy_of("abc"));
  r->push(buffer::copy_of("de"));
  auto got = r->read(4);
  ASSERT_TRUE(got);
  EXPECT_EQ(got->to_string(), "abcd");
  EXPECT_EQ(r->counters().chunks_out, 1u);
  EXPECT_EQ(r->counters().bytes_out, 4u);
  EXPECT_EQ(r->counters().peak_readable_length, 5u);
  // Flowing: 'data' delivers; each chunk is counted once.
  std::string seen;
  r->on_data([&](buffer&& b) { seen += b.to_string(); });
  loop.run();
  r->push(buffer::copy_of("fgh"));
  r->push_eof();
  loop.run();
  EXPECT_EQ(seen, "efgh");
  EXPECT_EQ(r->counters().chunks_out, 3u);
  EXPECT_EQ(r->counters().bytes_out, 8u);
  EXPECT_EQ(r->counters().chunks_in, 0u);  // push() is not write()
}

TEST(Counters, TransformCountsBothSides) {
  manual_loop loop;
  auto t = sluice::make_transform<buffer>(
      loop, {.transform = [](sluice::transform<buffer>&, buffer&& b,
                             sluice::transform<buffer>::transform_callback cb) {
        cb(buffer::copy_of(b.to_string() + b.to_string()));
      }});
  std::size_t n = 0;
  t->on_data([&](buffer&& b) { n += b.size(); });
  t->write(buffer::copy_of("ab"));
  t->write(buffer::copy_of("c"));
  t->end();
  loop.run();
  EXPECT_EQ(n, 6u);
  EXPECT_EQ(t->counters().chunks_in, 2u);
  EXPECT_EQ(t->counters().bytes_in, 3u);
  EXPECT_EQ(t->counters().chunks_out, 2u);
  EXPECT_EQ(t->counters().bytes_out, 6u);
}

TEST(Counters, PeakWritableLengthIsTheHighestSeen) {
  manual_loop loop;
  auto h = make_held_sink(loop, 100);
  h.s->write(buffer::copy_of("1234"));  // in flight
  h.s->write(buffer::copy_of("5678"));  // buffered
  h.s->write(buffer::copy_of("9"));     // buffered
  EXPECT_EQ(h.s->writable_length(), 9u);
  EXPECT_EQ(h.s->counters().peak_writable_length, 9u);
  h.complete_oldest();
  h.complete_oldest();
  EXPECT_EQ(h.s->writable_length(), 1u);
  h.s->write(buffer::copy_of("ab"));
  EXPECT_EQ(h.s->writable_length(), 3u);
  EXPECT_EQ(h.s->counters().peak_writable_length, 9u);  // a peak, not the current length
  h.complete_oldest();
  h.complete_oldest();
  loop.run();
  EXPECT_EQ(h.s->writable_length(), 0u);
  EXPECT_EQ(h.s->counters().peak_writable_length, 9u);
}

TEST(Counters, PeakWritableLengthCountsCorkedChunks) {
  manual_loop loop;
  auto s =
      sluice::make_writable<int>(loop, {.write = [](writable<int>&, int&&, iwcb cb) { cb(); }});
  s->cork();
  for (int i = 0; i < 7; ++i) s->write(i);
  s->uncork();
  loop.run();
  EXPECT_EQ(s->writable_length(), 0u);
  EXPECT_EQ(s->counters().peak_writable_length, 7u);
}

TEST(Counters, OneBackpressureEpisodePerDrain) {
  manual_loop loop;
  auto h = make_held_sink(loop, 4);
  EXPECT_TRUE(h.s->write(buffer::copy_of("ab")));
  EXPECT_FALSE(h.s->write(buffer::copy_of("cd")));  // episode 1 starts
  EXPECT_FALSE(h.s->write(buffer::copy_of("ef")));  // same episode
  EXPECT_EQ(h.s->counters().write_backpressure, 1u);
  EXPECT_EQ(h.s->counters().drains, 0u);
  while (!h.held->empty()) h.complete_oldest();
  loop.run();
  EXPECT_EQ(h.s->counters().drains, 1u);

  EXPECT_FALSE(h.s->write(buffer::copy_of("ghij")));  // episode 2
  EXPECT_EQ(h.s->counters().write_backpressure, 2u);
  h.complete_oldest();
  loop.run();
  EXPECT_EQ(h.s->counters().drains, 2u);

  EXPECT_TRUE(h.s->write(buffer::copy_of("k")));  // below hwm: no episode
  h.complete_oldest();
  loop.run();
  EXPECT_EQ(h.s->counters().write_backpressure, 2u);
  EXPECT_EQ(h.s->counters().drains, 2u);
}

TEST(Counters, DrainsCountEmittedDrainsOnly) {
  manual_loop loop;
  auto h = make_held_sink(loop, 1);
  int drains = 0;
  h.s->on_drain([&] { ++drains; });
  EXPECT_FALSE(h.s->write(buffer::copy_of("a")));
  h.s->end();  // no 'drain' after end()
  h.complete_oldest();
  loop.run();
  EXPECT_EQ(drains, 0);
  EXPECT_EQ(h.s->counters().write_backpressure, 1u);
  EXPECT_EQ(h.s->counters().drains, 0u);
  EXPECT_TRUE(h.s->finished());
}

TEST(Counters, BackpressuredTimeIsExactOnTheVirtualClock) {
  manual_loop loop;
  auto h = make_held_sink(loop, 2);
  EXPECT_FALSE(h.s->write(buffer::copy_of("ab")));  // t = 0
  loop.advance(5ms);
  h.complete_oldest();  // asynchronous completion: 'drain' now, at t = 5ms
  loop.run();
  EXPECT_EQ(h.s->counters().drains, 1u);
  EXPECT_EQ(h.s->counters().write_backpressured_time, 5ms);

  loop.advance(100ms);                              // not backpressured: not counted
  EXPECT_FALSE(h.s->write(buffer::copy_of("cd")));  // t = 105ms
  loop.advance(3ms);
  EXPECT_FALSE(h.s->write(buffer::copy_of("e")));  // same episode, does not restart the clock
  loop.advance(4ms);
  h.complete_oldest();
  loop.advance(250us);
  h.complete_oldest();  // 'drain' at t = 112.25ms
  loop.run();
  EXPECT_EQ(h.s->counters().drains, 2u);
  EXPECT_EQ(h.s->counters().write_backpressured_time, 5ms + 7250us);
}

TEST(Counters, BackpressuredTimeWithATimerDrivenSink) {
  manual_loop loop;
  // Each write takes 2ms of (virtual) time.
  auto s = sluice::make_writable<int>(
      loop, {.high_water_mark = 1, .write = [&loop](writable<int>& self, int&&, iwcb cb) {
               (void)loop.start_timer(2ms, [keep = self.shared_from_this(), cb] { cb(); });
             }});
  int next = 0;
  std::function<void()> produce = [&] {
    while (next < 10)
      if (!s->write(next++)) {
        s->once_drain(produce);
        return;
      }
    s->end();
  };
  produce();
  loop.run();
  EXPECT_TRUE(s->finished());
  EXPECT_EQ(s->counters().write_backpressure, 10u);
  EXPECT_EQ(s->counters().drains, 10u);
  EXPECT_EQ(s->counters().write_backpressured_time, 20ms);
}

TEST(Counters, UnfinishedEpisodeAddsNoTime) {
  manual_loop loop;
  auto h = make_held_sink(loop, 1);
  EXPECT_FALSE(h.s->write(buffer::copy_of("a")));
  loop.advance(9ms);
  h.s->destroy();  // no 'drain' will ever come
  loop.run();
  EXPECT_EQ(h.s->counters().write_backpressure, 1u);
  EXPECT_EQ(h.s->counters().drains, 0u);
  EXPECT_EQ(h.s->counters().write_backpressured_time, sluice::loop::duration::zero());
}

// ---- The memory bound (docs/concepts.md, "Backpressure") ----------------------------------------

constexpr std::size_t kChunk = 64 * 1024;
constexpr std::size_t kHwm = 64 * 1024;
constexpr std::size_t kTotal = std::size_t{64} * 1024 * 1024;
constexpr std::size_t kChunks = kTotal / kChunk;

// A slow byte sink: each write completes on a later tick.
std::shared_ptr<writable<buffer>> make_slow_sink(manual_loop& loop, std::size_t& received) {
  return sluice::make_writable<buffer>(
      loop, {.high_water_mark = kHwm,
             .write = [&loop, &received](writable<buffer>& self, buffer&& b, bwcb cb) {
               received += b.size();
               loop.defer([keep = self.shared_from_this(), cb] { cb(); });
             }});
}

// One 64 KiB block; every chunk written views it, so the test itself stays small whatever the
// stream buffers.
buffer make_block() {
  sluice::buffer_builder b(kChunk);
  auto space = b.free_space();
  for (std::size_t i = 0; i < kChunk; ++i) space[i] = static_cast<std::byte>(i * 7);
  b.commit(kChunk);
  return std::move(b).freeze();
}

TEST(Counters, ProducerRespectingBackpressureStaysWithinHwmPlusOneChunk) {
  manual_loop loop;
  std::size_t received = 0;
  auto s = make_slow_sink(loop, received);
  const buffer block = make_block();
  std::size_t written = 0;
  std::function<void()> produce = [&] {
    while (written < kChunks) {
      ++written;
      if (!s->write(block)) {
        s->once_drain(produce);
        return;
      }
    }
    s->end();
  };
  produce();
  loop.run();
  const auto& c = s->counters();
  EXPECT_TRUE(s->finished());
  EXPECT_EQ(received, kTotal);
  EXPECT_EQ(c.bytes_in, kTotal);
  EXPECT_EQ(c.chunks_in, kChunks);
  EXPECT_LE(c.peak_writable_length, kHwm + kChunk);
  EXPECT_GE(c.peak_writable_length, kChunk);
  EXPECT_EQ(c.write_backpressure, c.drains);
  EXPECT_GE(c.drains, 1u);
}

TEST(Counters, ProducerIgnoringBackpressureBuffersTheWholeInput) {
  manual_loop loop;
  std::size_t received = 0;
  auto s = make_slow_sink(loop, received);
  const buffer block = make_block();
  std::size_t falses = 0;
  for (std::size_t i = 0; i < kChunks; ++i)
    if (!s->write(block)) ++falses;
  EXPECT_EQ(s->writable_length(), kTotal);
  s->end();
  loop.run();
  const auto& c = s->counters();
  EXPECT_TRUE(s->finished());
  EXPECT_EQ(received, kTotal);
  EXPECT_EQ(c.bytes_in, kTotal);
  EXPECT_EQ(c.peak_writable_length, kTotal);
  EXPECT_EQ(falses, kChunks);           // every write() said "stop"
  EXPECT_EQ(c.write_backpressure, 1u);  // ... in one long episode
  EXPECT_EQ(c.drains, 0u);              // which end() closed without a 'drain'
}

}  // namespace
