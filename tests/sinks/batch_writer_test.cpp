// batch_writer<T> (sluice/sinks/batch_writer.hpp): batches by count, bytes and time; a write is
// done only when its batch was flushed; retries with backoff; dead letter; end and destroy in
// every state.
#include "sluice/sinks/batch_writer.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <memory>
#include <string>
#include <system_error>
#include <vector>

#include "sluice/core/buffer.hpp"
#include "sluice/core/loop.hpp"
#include "sluice/core/make.hpp"

namespace {

using namespace std::chrono_literals;
using sluice::callback;
using sluice::errc;
using sluice::manual_loop;
using sluice::write_batch;

// The flush hook's side: records each call and holds its completion for the test.
template <class T>
struct flusher {
  struct call {
    std::vector<T> items;
    std::uint64_t first = 0;
    unsigned attempt = 0;
    sluice::loop::time_point at{};
    callback done;
  };
  std::vector<call> calls{};
  manual_loop* loop = nullptr;
  bool sync_ok = false;  // complete every flush inside the call
  sluice::batch_flush<T> hook() {
    return [this](const write_batch<T>& b, callback done) {
      calls.push_back({b.items, b.first_index, b.attempt, loop->now(), done});
      if (sync_ok) done({});
    };
  }
  void complete(std::size_t i, std::error_code ec = {}) { calls.at(i).done(ec); }
};

struct outcomes {
  std::vector<std::string> v;
  callback cb(int i) {
    return [this, i](std::error_code ec) {
      v.push_back(std::to_string(i) + (ec ? ":" + ec.message() : ":ok"));
    };
  }
};

TEST(BatchWriter, BatchesByCountAndCallsBackOnlyAfterTheBatchWasFlushed) {
  manual_loop loop;
  flusher<int> f{.loop = &loop};
  auto w = sluice::make_batch_writer<int>(loop, f.hook(), {.max_items = 3});
  outcomes o;
  for (int i = 0; i < 7; ++i) w->write(i, o.cb(i));
  loop.run_until_idle();
  ASSERT_EQ(f.calls.size(), 1u);  // max_in_flight 1: the second full batch waits
  EXPECT_EQ(f.calls[0].items, (std::vector<int>{0, 1, 2}));
  EXPECT_EQ(f.calls[0].first, 0u);
  EXPECT_TRUE(o.v.empty());  // nothing is done before its batch is
  EXPECT_EQ(w->writable_length(), 7u);
  f.complete(0);
  loop.run_until_idle();
  EXPECT_EQ(o.v, (std::vector<std::string>{"0:ok", "1:ok", "2:ok"}));
  ASSERT_EQ(f.calls.size(), 2u);
  EXPECT_EQ(f.calls[1].items, (std::vector<int>{3, 4, 5}));
  EXPECT_EQ(f.calls[1].first, 3u);
  EXPECT_EQ(w->open_items(), 1u);
  bool finished = false;
  w->end([&](std::error_code ec) { finished = !ec; });
  f.complete(1);
  loop.run_until_idle();
  ASSERT_EQ(f.calls.size(), 3u);  // end() flushes the remainder
  EXPECT_EQ(f.calls[2].items, (std::vector<int>{6}));
  EXPECT_FALSE(finished);
  f.complete(2);
  loop.run_until_idle();
  EXPECT_TRUE(finished);
  EXPECT_EQ(o.v.size(), 7u);
  EXPECT_EQ(w->stats().batches, 3u);
  EXPECT_EQ(w->stats().items, 7u);
  EXPECT_EQ(loop.timer_count(), 0u);
}

TEST(BatchWriter, ABatchIsFlushedWhenItsFirstItemHasWaitedMaxDelay) {
  manual_loop loop;
  flusher<int> f{.loop = &loop};
  auto w = sluice::make_batch_writer<int>(loop, f.hook(), {.max_items = 100, .max_delay = 100ms});
  w->write(1);
  loop.advance(40ms);
  w->write(2);  // the delay counts from the first item, not the last
  loop.advance(59ms);
  EXPECT_TRUE(f.calls.empty());
  loop.advance(1ms);
  ASSERT_EQ(f.calls.size(), 1u);
  EXPECT_EQ(f.calls[0].items, (std::vector<int>{1, 2}));
  EXPECT_EQ(f.calls[0].at - sluice::loop::time_point{}, 100ms);
  f.complete(0);
  loop.run_until_idle();
  EXPECT_EQ(loop.timer_count(), 0u);
  EXPECT_EQ(w->writable_length(), 0u);
}

TEST(BatchWriter, BatchesByBytes) {
  manual_loop loop;
  flusher<sluice::buffer> f{.loop = &loop};
  f.sync_ok = true;
  auto w = sluice::make_batch_writer<sluice::buffer>(loop, f.hook(),
                                                     {.max_items = 100, .max_bytes = 10});
  w->write(sluice::buffer("abcd"));
  w->write(sluice::buffer("efgh"));
  EXPECT_TRUE(f.calls.empty());
  w->write(sluice::buffer("ij"));  // 10 bytes: full
  ASSERT_EQ(f.calls.size(), 1u);
  EXPECT_EQ(f.calls[0].items.size(), 3u);
  loop.run_until_idle();
  EXPECT_EQ(w->writable_length(), 0u);
}

TEST(BatchWriter, WriteReturnsFalseForItemsNotYetFlushedAndDrainsWhenABatchFitsAgain) {
  manual_loop loop;
  flusher<int> f{.loop = &loop};
  // highWaterMark = max_items * (max_in_flight + 1) = 4
  auto w = sluice::make_batch_writer<int>(loop, f.hook(), {.max_items = 2});
  EXPECT_EQ(w->writable_high_water_mark(), 4u);
  int drains = 0;
  w->on_drain([&] { ++drains; });
  EXPECT_TRUE(w->write(1));
  EXPECT_TRUE(w->write(2));  // batch 1 flushing
  EXPECT_TRUE(w->write(3));
  EXPECT_FALSE(w->write(4));  // batch 2 full, waiting: 4 not durable
  f.complete(0);
  loop.run_until_idle();
  // Batch 2 flushes now and two items are not durable, but a whole batch fits again: 'drain',
  // so the producer fills batch 3 while batch 2 flushes.
  EXPECT_EQ(drains, 1);
  EXPECT_EQ(w->writable_length(), 2u);
  EXPECT_TRUE(w->write(5));
  EXPECT_FALSE(w->write(6));  // batch 3 full behind batch 2: at the mark again
  f.complete(1);
  loop.run_until_idle();
  EXPECT_EQ(drains, 2);
  EXPECT_EQ(w->writable_length(), 2u);
}

TEST(BatchWriter, BatchesInFlightCompleteInOrder) {
  manual_loop loop;
  flusher<int> f{.loop = &loop};
  auto w = sluice::make_batch_writer<int>(loop, f.hook(), {.max_items = 2, .max_in_flight = 2});
  outcomes o;
  for (int i = 0; i < 4; ++i) w->write(i, o.cb(i));
  ASSERT_EQ(f.calls.size(), 2u);
  f.complete(1);  // the second batch is done first: its items wait for the first batch
  loop.run_until_idle();
  EXPECT_TRUE(o.v.empty());
  f.complete(0);
  loop.run_until_idle();
  EXPECT_EQ(o.v, (std::vector<std::string>{"0:ok", "1:ok", "2:ok", "3:ok"}));
}

TEST(BatchWriter, RetriesRetryableErrorsAfterAJitteredExponentialBackoff) {
  manual_loop loop;
  flusher<int> f{.loop = &loop};
  const std::error_code busy(EBUSY, std::generic_category());
  auto w = sluice::make_batch_writer<int>(
      loop, f.hook(),
      {.max_items = 2,
       .max_attempts = 3,
       .backoff_base = 100ms,
       .backoff_max = 150ms,
       .retryable = [busy](std::error_code ec) { return ec == busy; },
       .seed = 42});
  outcomes o;
  w->write(1, o.cb(1));
  w->write(2, o.cb(2));
  ASSERT_EQ(f.calls.size(), 1u);
  f.complete(0, busy);
  loop.advance(100ms);  // the first backoff is at most backoff_base
  ASSERT_EQ(f.calls.size(), 2u);
  EXPECT_EQ(f.calls[1].attempt, 2u);
  EXPECT_EQ(f.calls[1].items, (std::vector<int>{1, 2}));  // the same batch again
  const auto failed_at = loop.now();
  f.complete(1, busy);
  loop.advance(150ms);  // then at most min(backoff_max, 200ms)
  ASSERT_EQ(f.calls.size(), 3u);
  EXPECT_LE(f.calls[2].at - failed_at, 150ms);
  EXPECT_TRUE(o.v.empty());
  f.complete(2);
  loop.run_until_idle();
  EXPECT_EQ(o.v, (std::vector<std::string>{"1:ok", "2:ok"}));
  EXPECT_EQ(w->stats().retries, 2u);
  EXPECT_EQ(loop.timer_count(), 0u);
}

TEST(BatchWriter, AnExhaustedBatchFailsTheStreamNamingItsItemsAndTheCause) {
  manual_loop loop;
  flusher<int> f{.loop = &loop};
  const std::error_code eio(EIO, std::generic_category());
  auto w = sluice::make_batch_writer<int>(loop, f.hook(), {.max_items = 3, .name = "loader"});
  outcomes o;
  std::vector<std::error_code> errors;
  w->on_error([&](std::error_code ec) { errors.push_back(ec); });
  for (int i = 0; i < 5; ++i) w->write(i, o.cb(i));
  f.complete(0, eio);  // not retryable: no retry
  loop.run_until_idle();
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0], eio);
  EXPECT_EQ(w->error_message(),
            "loader: batch of items 0..2 failed after 1 attempt: " + eio.message());
  ASSERT_EQ(o.v.size(), 5u);  // every item fails; none reports success
  for (const auto& s : o.v) EXPECT_NE(s.find(":ok"), s.size() - 3) << s;
  EXPECT_EQ(f.calls.size(), 1u);
}

TEST(BatchWriter, AnExhaustedBatchGoesToTheDeadLetterWhoseBackpressureHoldsTheWriter) {
  manual_loop loop;
  flusher<int> f{.loop = &loop};
  std::vector<int> dead;
  std::vector<sluice::writable<int>::write_callback> dl_held;
  auto dl = sluice::make_writable<int>(
      loop, {.high_water_mark = 1, .write = [&](sluice::writable<int>&, int&& x, auto cb) {
               dead.push_back(x);
               dl_held.push_back(cb);
             }});
  const std::error_code eio(EIO, std::generic_category());
  auto w = sluice::make_batch_writer<int>(loop, f.hook(), {.max_items = 3, .dead_letter = dl});
  outcomes o;
  for (int i = 0; i < 6; ++i) w->write(i, o.cb(i));
  f.complete(0, eio);
  loop.run_until_idle();
  EXPECT_EQ(dead, (std::vector<int>{0}));  // the dead letter takes one at a time
  EXPECT_EQ(f.calls.size(), 1u);           // the next batch waits for the diversion
  for (int turn = 0; turn < 10 && !dl_held.empty(); ++turn) {
    auto cb = dl_held.front();
    dl_held.erase(dl_held.begin());
    cb();
    loop.run_until_idle();
  }
  EXPECT_EQ(dead, (std::vector<int>{0, 1, 2}));
  EXPECT_EQ(o.v, (std::vector<std::string>{"0:ok", "1:ok", "2:ok"}));  // done, by diversion
  EXPECT_EQ(w->stats().dead_lettered, 3u);
  ASSERT_EQ(f.calls.size(), 2u);
  f.complete(1);
  loop.run_until_idle();
  EXPECT_EQ(o.v.size(), 6u);
  EXPECT_FALSE(w->errored());
}

TEST(BatchWriter, DestroyWhileABatchFlushesFailsEveryUnacknowledgedItemOnce) {
  manual_loop loop;
  flusher<int> f{.loop = &loop};
  auto w = sluice::make_batch_writer<int>(loop, f.hook(), {.max_items = 2});
  outcomes o;
  for (int i = 0; i < 5; ++i) w->write(i, o.cb(i));
  f.complete(0);
  loop.run_until_idle();
  ASSERT_EQ(o.v.size(), 2u);  // 0 and 1 are acknowledged
  w->destroy();
  f.complete(1);  // the flush in flight completes after the destroy: ignored
  loop.run_until_idle();
  const std::string destroyed = sluice::make_error_code(errc::stream_destroyed).message();
  EXPECT_EQ(o.v, (std::vector<std::string>{"0:ok", "1:ok", "2:" + destroyed, "3:" + destroyed,
                                           "4:" + destroyed}));
  EXPECT_EQ(loop.timer_count(), 0u);  // the open batch's delay timer is gone
}

TEST(BatchWriter, DestroyWhileARetryIsPendingCancelsItsTimer) {
  manual_loop loop;
  flusher<int> f{.loop = &loop};
  auto w = sluice::make_batch_writer<int>(
      loop, f.hook(),
      {.max_items = 1, .max_attempts = 5, .retryable = [](std::error_code) { return true; }});
  outcomes o;
  w->write(1, o.cb(1));
  f.complete(0, std::error_code(EAGAIN, std::generic_category()));
  EXPECT_EQ(loop.timer_count(), 1u);
  w->destroy();
  loop.run_until_idle();
  EXPECT_EQ(loop.timer_count(), 0u);
  loop.advance(10s);
  EXPECT_EQ(f.calls.size(), 1u);
  EXPECT_EQ(o.v.size(), 1u);
}

TEST(BatchWriter, AFlushThatCallsBackTwiceFailsTheStream) {
  manual_loop loop;
  flusher<int> f{.loop = &loop};
  auto w = sluice::make_batch_writer<int>(loop, f.hook(), {.max_items = 1});
  std::error_code error;
  w->on_error([&](std::error_code ec) { error = ec; });
  w->write(1);
  f.complete(0);
  f.complete(0);
  loop.run_until_idle();
  EXPECT_EQ(error, errc::multiple_callback);
}

TEST(BatchWriter, APipeThroughASynchronousFlushDeliversEveryItemOnceInOrder) {
  manual_loop loop;
  std::vector<int> flushed;
  std::size_t batches = 0;
  auto w = sluice::make_batch_writer<int>(loop,
                                          [&](const write_batch<int>& b, callback done) {
                                            ++batches;
                                            flushed.insert(flushed.end(), b.items.begin(),
                                                           b.items.end());
                                            done({});
                                          },
                                          {.max_items = 64});
  int next = 0;
  auto src =
      sluice::make_readable<int>(loop, {.read = [&next](sluice::readable<int>& r, std::size_t) {
                                   if (next == 10000)
                                     r.push_eof();
                                   else
                                     r.push(next++);
                                 }});
  bool finished = false;
  w->on_finish([&] { finished = true; });
  src->pipe(w);
  loop.run();
  ASSERT_TRUE(finished);
  ASSERT_EQ(flushed.size(), 10000u);
  for (int i = 0; i < 10000; ++i) ASSERT_EQ(flushed[static_cast<std::size_t>(i)], i);
  EXPECT_EQ(batches, (10000 + 63) / 64);
  EXPECT_LE(w->counters().peak_writable_length, w->writable_high_water_mark());
}

TEST(BatchWriter, RunsFromAPipeFillBatchesExactlyAndHoldAtTheMarkWhileAFlushIsOut) {
  manual_loop loop;
  std::vector<int> flushed;
  std::vector<std::size_t> sizes;
  std::vector<callback> outstanding;
  auto w = sluice::make_batch_writer<int>(loop,
                                          [&](const write_batch<int>& b, callback done) {
                                            sizes.push_back(b.items.size());
                                            flushed.insert(flushed.end(), b.items.begin(),
                                                           b.items.end());
                                            outstanding.push_back(std::move(done));
                                          },
                                          {.max_items = 100});
  int next = 0;
  auto src = sluice::make_readable<int>(
      loop, {.high_water_mark = 256, .read = [&next](sluice::readable<int>& r, std::size_t) {
               for (int i = 0; i < 256 && next < 5000; ++i) r.push(next++);
               if (next == 5000) r.push_eof();
             }});
  bool finished = false;
  w->on_finish([&] { finished = true; });
  src->pipe(w);
  std::size_t peak = 0;
  for (int turn = 0; turn < 10000 && !finished; ++turn) {
    loop.run_until_idle();
    peak = std::max(peak, w->writable_length());
    // One batch out at a time (max_in_flight 1), one more filling: at most 200 items held.
    EXPECT_LE(w->writable_length(), 200u);
    auto done = std::move(outstanding);
    outstanding.clear();
    for (auto& d : done) d({});
  }
  ASSERT_TRUE(finished);
  ASSERT_EQ(flushed.size(), 5000u);
  for (int i = 0; i < 5000; ++i) ASSERT_EQ(flushed[static_cast<std::size_t>(i)], i);
  EXPECT_EQ(sizes, std::vector<std::size_t>(50, 100));
  EXPECT_EQ(peak, 200u);
  EXPECT_EQ(w->stats().items, 5000u);
}

}  // namespace
