// accept() / acknowledge() (sluice/core/writable.hpp): a write taken now and acknowledged later,
// as batch_writer does: the next write reaches the stream at once, but the chunk stays counted
// (write()'s return value and 'drain' see it) and its callback and 'finish' wait for the
// acknowledgement.
#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <optional>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "sluice/core/loop.hpp"
#include "sluice/core/make.hpp"
#include "sluice/core/readable.hpp"
#include "sluice/core/writable.hpp"

namespace {

using sluice::callback;
using sluice::errc;
using sluice::manual_loop;
using sluice::writable;

// Accepts every write as it comes (or holds it when hold_next is set), records the items, and
// leaves acknowledging and completing do_final to the test.
class accepting_sink : public writable<int> {
 public:
  accepting_sink(sluice::loop& l, std::size_t hwm)
      : writable<int>(l, sluice::writable_options{.high_water_mark = hwm}) {
    use_accept();
  }
  using writable<int>::accepted_count;
  using writable<int>::acknowledge;

  std::vector<int> got;
  bool hold_next = false;
  bool complete_too = false;  // call the callback as well as accept(): a multiple_callback
  bool ack_pairs = false;     // acknowledge from inside do_write once two writes are accepted
  bool final_acks = false;    // do_final acknowledges everything and completes at once
  std::optional<write_callback> held;
  int finals = 0;
  callback final_cb;

  void release() {
    ASSERT_TRUE(held.has_value());
    const write_callback cb = *held;
    held.reset();
    accept(cb);
  }

 protected:
  void do_write(int&& x, write_callback cb) override {
    got.push_back(x);
    if (hold_next) {
      hold_next = false;
      held = cb;
      return;
    }
    accept(cb);
    if (complete_too) cb();
    if (ack_pairs && accepted_count() == 2) acknowledge(2);
  }
  void do_final(callback cb) override {
    ++finals;
    if (final_acks) {
      acknowledge(accepted_count());
      cb({});
      return;
    }
    final_cb = std::move(cb);
  }
};

struct recorder {
  std::vector<std::string> events;
  callback cb(const std::string& name) {
    return [this, name](std::error_code ec) {
      events.push_back(name + (ec ? ":" + ec.message() : ":ok"));
    };
  }
};

TEST(Accept, AcceptedWritesStayCountedUntilAcknowledged) {
  manual_loop loop;
  auto s = std::make_shared<accepting_sink>(loop, 4);
  recorder r;
  int drains = 0;
  s->on_drain([&] { ++drains; });
  EXPECT_TRUE(s->write(1, r.cb("w1")));
  EXPECT_TRUE(s->write(2, r.cb("w2")));
  EXPECT_TRUE(s->write(3, r.cb("w3")));
  EXPECT_FALSE(s->write(4, r.cb("w4")));  // 4 accepted, none done: at the highWaterMark
  // Every write reached the stream at once (none waits behind another).
  EXPECT_EQ(s->got, (std::vector<int>{1, 2, 3, 4}));
  EXPECT_EQ(s->writable_length(), 4u);
  EXPECT_EQ(s->accepted_count(), 4u);
  loop.run_until_idle();
  EXPECT_TRUE(r.events.empty());  // accepted is not done

  s->acknowledge(2);
  loop.run_until_idle();
  EXPECT_EQ(r.events, (std::vector<std::string>{"w1:ok", "w2:ok"}));
  EXPECT_EQ(s->writable_length(), 2u);
  EXPECT_EQ(drains, 0);  // still two not done
  EXPECT_TRUE(s->need_drain());

  s->acknowledge(2);
  loop.run_until_idle();
  EXPECT_EQ(r.events, (std::vector<std::string>{"w1:ok", "w2:ok", "w3:ok", "w4:ok"}));
  EXPECT_EQ(drains, 1);
  EXPECT_EQ(s->writable_length(), 0u);
  EXPECT_EQ(s->counters().drains, 1u);
}

TEST(Accept, AHeldWriteBuffersTheNextOnesAndReleasingFeedsThem) {
  manual_loop loop;
  auto s = std::make_shared<accepting_sink>(loop, 16);
  s->hold_next = true;
  s->write(1);
  s->write(2);
  s->write(3);
  EXPECT_EQ(s->got, (std::vector<int>{1}));  // 2 and 3 wait behind the write in flight
  EXPECT_EQ(s->writable_length(), 3u);
  s->release();
  EXPECT_EQ(s->got, (std::vector<int>{1, 2, 3}));
  EXPECT_EQ(s->accepted_count(), 3u);
  EXPECT_EQ(s->writable_length(), 3u);
}

TEST(Accept, FinalRunsOnceEverythingIsAcceptedAndFinishWaitsForTheAcknowledgements) {
  manual_loop loop;
  auto s = std::make_shared<accepting_sink>(loop, 16);
  recorder r;
  bool finished = false;
  s->on_finish([&] {
    finished = true;
    r.events.push_back("finish");
  });
  s->write(1, r.cb("w1"));
  s->write(2, r.cb("w2"));
  s->end(r.cb("end"));
  loop.run_until_idle();
  EXPECT_EQ(s->finals, 1);  // the writer learns of the end while its writes are outstanding
  std::exchange(s->final_cb, nullptr)({});  // (the callback holds the stream)
  loop.run_until_idle();
  EXPECT_FALSE(finished);  // two writes still not acknowledged
  s->acknowledge(2);
  loop.run_until_idle();
  EXPECT_TRUE(finished);
  EXPECT_EQ(r.events, (std::vector<std::string>{"w1:ok", "w2:ok", "end:ok", "finish"}));
}

TEST(Accept, FinishAfterAcknowledgementsThenFinal) {
  manual_loop loop;
  auto s = std::make_shared<accepting_sink>(loop, 16);
  int prefinish = 0;
  int finish = 0;
  s->on_prefinish([&] { ++prefinish; });
  s->on_finish([&] { ++finish; });
  s->write(1);
  s->end();
  loop.run_until_idle();
  ASSERT_EQ(s->finals, 1);
  s->acknowledge(1);
  loop.run_until_idle();
  EXPECT_EQ(finish, 0);                     // do_final has not called back
  std::exchange(s->final_cb, nullptr)({});  // (the callback holds the stream)
  loop.run_until_idle();
  EXPECT_EQ(prefinish, 1);
  EXPECT_EQ(finish, 1);
}

TEST(Accept, AnAcknowledgementWithAnErrorFailsThoseWritesTheRestAndTheStream) {
  manual_loop loop;
  auto s = std::make_shared<accepting_sink>(loop, 16);
  recorder r;
  std::vector<std::error_code> errors;
  s->on_error([&](std::error_code ec) { errors.push_back(ec); });
  s->write(1, r.cb("w1"));
  s->write(2, r.cb("w2"));
  s->write(3, r.cb("w3"));
  const std::error_code eio(EIO, std::generic_category());
  s->acknowledge(1);
  s->acknowledge(1, eio);
  loop.run_until_idle();
  ASSERT_EQ(r.events.size(), 3u);
  EXPECT_EQ(r.events[0], "w1:ok");
  EXPECT_EQ(r.events[1], "w2:" + eio.message());
  EXPECT_EQ(r.events[2], "w3:" + eio.message());  // never done: it fails with the cause
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0], eio);
  EXPECT_TRUE(s->destroyed());
  s->acknowledge(1);  // the third write's batch completing late: ignored, no second error
  loop.run_until_idle();
  EXPECT_EQ(r.events.size(), 3u);
  EXPECT_EQ(errors.size(), 1u);
}

TEST(Accept, DestroyFailsEveryAcceptedWriteOnceAndLateAcknowledgementsAreIgnored) {
  manual_loop loop;
  auto s = std::make_shared<accepting_sink>(loop, 16);
  recorder r;
  int closes = 0;
  s->on_close([&] { ++closes; });
  s->write(1, r.cb("w1"));
  s->write(2, r.cb("w2"));
  s->destroy();
  s->acknowledge(2);
  loop.run_until_idle();
  EXPECT_EQ(r.events, (std::vector<std::string>{
                          "w1:" + sluice::make_error_code(errc::stream_destroyed).message(),
                          "w2:" + sluice::make_error_code(errc::stream_destroyed).message()}));
  EXPECT_EQ(closes, 1);
  EXPECT_FALSE(s->errored());
}

TEST(Accept, DestroyAfterAcknowledgementsFromInsideCallsDeliversThemFirstInOrder) {
  // Acknowledgements made inside do_write complete on later ticks, one per call. A destroy()
  // before those ticks run fails only what was never acknowledged, and only after them: the
  // callbacks keep the writes' order (the first tick used to fail w5 before w3 and w4 succeeded).
  manual_loop loop;
  auto s = std::make_shared<accepting_sink>(loop, 16);
  s->ack_pairs = true;
  recorder r;
  for (int i = 1; i <= 5; ++i) s->write(i, r.cb("w" + std::to_string(i)));
  s->destroy();
  loop.run_until_idle();
  const std::string destroyed = sluice::make_error_code(errc::stream_destroyed).message();
  EXPECT_EQ(r.events,
            (std::vector<std::string>{"w1:ok", "w2:ok", "w3:ok", "w4:ok", "w5:" + destroyed}));
}

TEST(Accept, DestroyWhileFinishIsQueuedLetsEndsCallbackAgreeWithFinish) {
  // do_final acknowledges the last writes and completes inside its call: 'finish' is queued.
  // A destroy() then does not take it back (as in Node), so end()'s callback succeeds too; it
  // used to get stream_destroyed from the acknowledgement's tick while 'finish' still came.
  manual_loop loop;
  auto s = std::make_shared<accepting_sink>(loop, 16);
  s->final_acks = true;
  recorder r;
  s->on_finish([&] { r.events.push_back("finish"); });
  s->write(1, r.cb("w1"));
  s->write(2, r.cb("w2"));
  s->end(r.cb("end"));
  ASSERT_EQ(s->finals, 1);
  s->destroy();
  loop.run_until_idle();
  EXPECT_EQ(r.events, (std::vector<std::string>{"w1:ok", "w2:ok", "end:ok", "finish"}));
}

TEST(Accept, DestroyedByAPrefinishListenerNoFinishAndEndFails) {
  manual_loop loop;
  auto s = std::make_shared<accepting_sink>(loop, 16);
  s->final_acks = true;
  recorder r;
  s->on_prefinish([&] { s->destroy(); });
  s->on_finish([&] { r.events.push_back("finish"); });
  s->write(1, r.cb("w1"));
  s->end(r.cb("end"));
  loop.run_until_idle();
  EXPECT_EQ(r.events,
            (std::vector<std::string>{
                "w1:ok", "end:" + sluice::make_error_code(errc::stream_destroyed).message()}));
}

TEST(Accept, AcceptingAndCompletingTheSameWriteIsAMultipleCallback) {
  manual_loop loop;
  auto s = std::make_shared<accepting_sink>(loop, 16);
  std::error_code error;
  s->on_error([&](std::error_code ec) { error = ec; });
  s->complete_too = true;
  s->write(1);
  loop.run_until_idle();
  EXPECT_EQ(error, errc::multiple_callback);
}

TEST(Accept, AcknowledgingMoreThanWasAcceptedIsAMultipleCallback) {
  manual_loop loop;
  auto s = std::make_shared<accepting_sink>(loop, 16);
  std::error_code error;
  s->on_error([&](std::error_code ec) { error = ec; });
  s->write(1);
  s->acknowledge(2);
  loop.run_until_idle();
  EXPECT_EQ(error, errc::multiple_callback);
}

TEST(Accept, APipeIntoAnAcceptingSinkStaysWithinTheHighWaterMark) {
  manual_loop loop;
  int next = 0;
  auto src = sluice::make_readable<int>(
      loop, {.high_water_mark = 4, .read = [&next](sluice::readable<int>& r, std::size_t) {
               if (next == 100)
                 r.push_eof();
               else
                 r.push(next++);
             }});
  auto s = std::make_shared<accepting_sink>(loop, 8);
  bool finished = false;
  s->on_finish([&] { finished = true; });
  src->pipe(s);
  std::size_t peak = 0;
  for (int turn = 0; turn < 1000 && !finished; ++turn) {
    loop.run_until_idle();
    peak = std::max(peak, s->writable_length());
    if (s->finals == 1 && s->final_cb) {
      s->acknowledge(s->accepted_count());
      auto cb = std::move(s->final_cb);
      s->final_cb = nullptr;
      cb({});
    } else {
      s->acknowledge(s->accepted_count());  // a batch done
    }
  }
  ASSERT_TRUE(finished);
  ASSERT_EQ(s->got.size(), 100u);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(s->got[static_cast<std::size_t>(i)], i);
  EXPECT_LE(peak, 8u);
  EXPECT_LE(s->counters().peak_writable_length, 8u);
}

// Accepts runs (use_accept_runs): records each run's size; optionally acknowledges everything
// accepted from inside the run, as a batch writer whose flush completes at once does.
class run_accepting_sink : public writable<int> {
 public:
  run_accepting_sink(sluice::loop& l, std::size_t hwm,
                     sluice::overflow_policy p = sluice::overflow_policy::wait)
      : writable<int>(l, sluice::writable_options{.high_water_mark = hwm, .overflow = p}) {
    use_accept_runs();
  }
  using writable<int>::accepted_count;
  using writable<int>::acknowledge;
  void set_threshold(std::size_t n) { set_drain_threshold(n); }

  std::vector<int> got;
  std::vector<std::size_t> runs;  // sizes of the runs taken
  std::size_t single_writes = 0;  // writes that came through do_write
  bool ack_inside = false;

 protected:
  void do_write(int&& x, write_callback cb) override {
    ++single_writes;
    got.push_back(x);
    accept(cb);
    if (ack_inside) acknowledge(accepted_count());
  }
  void do_accept_run(int* items, std::size_t n) override {
    runs.push_back(n);
    for (std::size_t i = 0; i < n; ++i) got.push_back(items[i]);
    if (ack_inside) acknowledge(accepted_count());
  }
};

// A source that pushes `per_read` items per read call, 0..total-1, then the end.
std::shared_ptr<sluice::readable<int>> counting_source(manual_loop& loop, int& next, int total,
                                                       int per_read, std::size_t hwm) {
  return sluice::make_readable<int>(
      loop, {.high_water_mark = hwm,
             .read = [&next, total, per_read](sluice::readable<int>& r, std::size_t) {
               for (int i = 0; i < per_read && next < total; ++i) r.push(next++);
               if (next == total) r.push_eof();
             }});
}

TEST(AcceptRuns, APipeHandsRunsOfAcceptedItemsNeverPastTheHighWaterMark) {
  manual_loop loop;
  int next = 0;
  auto src = counting_source(loop, next, 1000, 50, 64);
  auto s = std::make_shared<run_accepting_sink>(loop, 16);
  bool finished = false;
  s->on_finish([&] { finished = true; });
  int drains = 0;
  s->on_drain([&] { ++drains; });
  src->pipe(s);
  std::size_t peak = 0;
  for (int turn = 0; turn < 10000 && !finished; ++turn) {
    loop.run_until_idle();
    peak = std::max(peak, s->writable_length());
    s->acknowledge(s->accepted_count());  // a batch done
  }
  ASSERT_TRUE(finished);
  ASSERT_EQ(s->got.size(), 1000u);
  for (int i = 0; i < 1000; ++i) EXPECT_EQ(s->got[static_cast<std::size_t>(i)], i);
  EXPECT_LE(peak, 16u);
  EXPECT_EQ(s->counters().peak_writable_length, 16u);  // runs fill it to the mark, not past
  EXPECT_EQ(s->counters().chunks_in, 1000u);
  ASSERT_FALSE(s->runs.empty());
  EXPECT_EQ(*std::max_element(s->runs.begin(), s->runs.end()), 16u);  // whole runs, not items
  EXPECT_GT(drains, 0);  // the pipe paused at the mark and 'drain' resumed it
}

TEST(AcceptRuns, AcknowledgingFromInsideTheRunCompletesOnALaterTick) {
  manual_loop loop;
  int next = 0;
  auto src = counting_source(loop, next, 500, 100, 128);
  auto s = std::make_shared<run_accepting_sink>(loop, 32);
  s->ack_inside = true;
  bool finished = false;
  std::error_code error;
  s->on_finish([&] { finished = true; });
  s->on_error([&](std::error_code ec) { error = ec; });
  src->pipe(s);
  loop.run_until_idle();
  EXPECT_FALSE(error) << error.message();
  EXPECT_EQ(s->got.size(), 500u);
  ASSERT_TRUE(finished);
  EXPECT_FALSE(s->runs.empty());
  EXPECT_EQ(s->got.size(), 500u);
  EXPECT_EQ(s->accepted_count(), 0u);
  EXPECT_EQ(s->writable_length(), 0u);
}

TEST(AcceptRuns, AWriteCallGoesToDoWriteAndAnOverflowPolicyKeepsRunsOff) {
  manual_loop loop;
  auto s = std::make_shared<run_accepting_sink>(loop, 4);
  recorder r;
  s->write(7, r.cb("w7"));
  EXPECT_EQ(s->single_writes, 1u);
  EXPECT_EQ(s->accepted_count(), 1u);
  s->acknowledge(1);
  loop.run_until_idle();
  EXPECT_EQ(r.events, (std::vector<std::string>{"w7:ok"}));

  int next = 0;
  auto src = counting_source(loop, next, 40, 20, 64);
  auto p = std::make_shared<run_accepting_sink>(loop, 8, sluice::overflow_policy::error);
  src->pipe(p);
  for (int turn = 0; turn < 1000 && p->got.size() < 40; ++turn) {
    loop.run_until_idle();
    p->acknowledge(p->accepted_count());
  }
  loop.run_until_idle();
  EXPECT_FALSE(p->errored());
  EXPECT_TRUE(p->runs.empty());
  EXPECT_EQ(p->single_writes, 40u);
}

TEST(AcceptRuns, ADrainThresholdLetsTheProducerRefillBeforeEverythingIsAcknowledged) {
  manual_loop loop;
  auto s = std::make_shared<run_accepting_sink>(loop, 8);
  s->set_threshold(4);
  int drains = 0;
  s->on_drain([&] { ++drains; });
  for (int i = 0; i < 7; ++i) EXPECT_TRUE(s->write(i));
  EXPECT_FALSE(s->write(7));  // 8 held: at the mark
  s->acknowledge(3);          // 5 held: above the threshold
  loop.run_until_idle();
  EXPECT_EQ(drains, 0);
  s->acknowledge(1);  // 4 held: at the threshold
  loop.run_until_idle();
  EXPECT_EQ(drains, 1);
  EXPECT_EQ(s->writable_length(), 4u);
  s->set_threshold(100);  // clamped below the mark
  for (int i = 0; i < 4; ++i) (void)s->write(i);
  s->acknowledge(1);  // 7 held: below the mark, so 'drain'
  loop.run_until_idle();
  EXPECT_EQ(drains, 2);
}

}  // namespace
