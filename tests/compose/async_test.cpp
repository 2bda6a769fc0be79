// sluice/compose/async.hpp: async_write / async_end / reader + async_next as Asio operations, with
// coroutines, callbacks, use_future and redirect_error; cancellation; early exit.

#include <gtest/gtest.h>

#include <algorithm>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/system/system_error.hpp>
#include <future>
#include <memory>
#include <optional>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include "sluice/compose/async.hpp"
#include "sluice/compose/from.hpp"
#include "sluice/compose/generator.hpp"
#include "sluice/core/make.hpp"

namespace {

namespace asio = boost::asio;
using sluice::async_error;
using sluice::errc;
using iwcb = sluice::writable<int>::write_callback;

// A writable<int> whose writes complete two turns of the io_context later (a real asynchronous
// sink, a little slower than the coroutine feeding it), recording what it got.
std::shared_ptr<sluice::writable<int>> posting_sink(sluice::asio_loop& loop, std::size_t hwm,
                                                    std::vector<std::string>& trace) {
  auto w = sluice::make_writable<int>(
      loop, {.high_water_mark = hwm,
             .write = [&loop, &trace](sluice::writable<int>& self, int&& x, iwcb cb) {
               trace.push_back("sink " + std::to_string(x));
               asio::post(loop.context(), [&loop, keep = self.shared_from_this(), cb] {
                 asio::post(loop.context(), [keep, cb] { cb(); });
               });
             }});
  w->on_drain([&trace] { trace.push_back("drain"); });
  w->on_finish([&trace] { trace.push_back("finish"); });
  return w;
}

// A readable<int> that produces nothing by itself: the test pushes.
std::shared_ptr<sluice::readable<int>> manual_source(sluice::loop& loop, std::size_t hwm = 16) {
  return sluice::make_readable<int>(
      loop, {.high_water_mark = hwm, .read = [](sluice::readable<int>&, std::size_t) {}});
}

std::error_code code_of(const boost::system::system_error& e) { return e.code(); }

TEST(AsyncWrite, CompletesAtOnceBelowHwmAndAfterDrainAtHwm) {
  asio::io_context io;
  sluice::asio_loop loop(io);
  std::vector<std::string> trace;
  auto w = posting_sink(loop, 2, trace);
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        for (int i = 0; i < 4; ++i) {
          co_await sluice::async_write(*w, i);
          trace.push_back("written " + std::to_string(i) + " buffered " +
                          std::to_string(w->writable_length()));
        }
        co_await sluice::async_end(*w);
        trace.push_back("ended finished=" + std::to_string(w->finished()));
      },
      asio::detached);
  io.run();
  // write(0) returns true; write(1) reaches hwm 2 and returns false, so the coroutine resumes
  // only after 'drain' (the buffer is empty then).
  EXPECT_EQ(trace, (std::vector<std::string>{
                       "sink 0", "written 0 buffered 1", "sink 1", "drain", "written 1 buffered 0",
                       "sink 2", "written 2 buffered 1", "sink 3", "drain", "written 3 buffered 0",
                       "finish", "ended finished=1"}));
  EXPECT_EQ(w->counters().drains, 2u);
}

TEST(AsyncWrite, ErrorsArriveAsErrorCodesOrExceptions) {
  asio::io_context io;
  sluice::asio_loop loop(io);
  auto failing = [&loop] {
    return sluice::make_writable<int>(loop, {.write = [](sluice::writable<int>&, int&&, iwcb cb) {
                                        cb(std::make_error_code(std::errc::no_space_on_device));
                                      }});
  };
  auto first = failing(), second = failing();
  std::vector<std::string> got;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        async_error ec;
        co_await sluice::async_write(*first, 1, asio::redirect_error(asio::use_awaitable, ec));
        got.push_back("redirect: " + std::error_code(ec).message());
        try {
          co_await sluice::async_write(*second, 2);
          got.push_back("no exception");
        } catch (const boost::system::system_error& e) {
          got.push_back(code_of(e) == std::errc::no_space_on_device ? "throws the sink's error"
                                                                    : code_of(e).message());
        }
        // The failed stream is destroyed: a further write is refused, as in Node.
        co_await sluice::async_write(*first, 3, asio::redirect_error(asio::use_awaitable, ec));
        got.push_back(std::error_code(ec) == errc::stream_destroyed
                          ? "refused: destroyed"
                          : std::error_code(ec).message());
      },
      asio::detached);
  io.run();
  EXPECT_EQ(got, (std::vector<std::string>{
                     "redirect: " + std::make_error_code(std::errc::no_space_on_device).message(),
                     "throws the sink's error", "refused: destroyed"}));
  EXPECT_TRUE(first->destroyed());
}

TEST(AsyncWrite, AfterEndFailsWithWriteAfterEndThroughACallback) {
  asio::io_context io;
  sluice::asio_loop loop(io);
  std::vector<std::string> trace;
  auto w = posting_sink(loop, 4, trace);
  std::error_code end_ec = make_error_code(errc::aborted), write_ec;
  bool end_done = false, write_done = false;
  sluice::async_end(*w, [&](async_error ec) {
    end_done = true;
    end_ec = ec;
  });
  sluice::async_write(*w, 5, [&](async_error ec) {
    write_done = true;
    write_ec = ec;
  });
  // Neither handler runs from within the initiating call.
  EXPECT_FALSE(end_done);
  EXPECT_FALSE(write_done);
  io.run();
  EXPECT_TRUE(write_done);
  EXPECT_EQ(write_ec, errc::write_after_end);
  EXPECT_TRUE(end_done);  // end() was first: it finished or failed with the write's error
  EXPECT_EQ(w->errored(), errc::write_after_end);
}

TEST(AsyncWrite, NeedsAnAsioLoop) {
  sluice::manual_loop loop;
  auto w = sluice::make_writable<int>(
      loop, {.write = [](sluice::writable<int>&, int&&, iwcb cb) { cb(); }});
  try {
    sluice::async_write(*w, 1, [](async_error) {});
    FAIL() << "no exception";
  } catch (const std::system_error& e) {
    EXPECT_EQ(e.code(), errc::invalid_argument);
  }
}

TEST(AsyncNext, IteratesToTheEndWithCoroutinesAndBatches) {
  asio::io_context io;
  sluice::asio_loop loop(io);
  std::vector<int> items(1000);
  for (int i = 0; i < 1000; ++i) items[static_cast<std::size_t>(i)] = i;
  auto one = sluice::from(loop, items);
  auto many = sluice::from(loop, items);
  std::vector<int> a, b;
  std::size_t batches = 0;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        sluice::reader<int> rd(one);
        while (auto x = co_await sluice::async_next(rd)) a.push_back(*x);
        EXPECT_TRUE(rd.done());
      },
      asio::detached);
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        sluice::reader<int> rd(many);
        for (;;) {
          auto batch = co_await sluice::async_next_batch(rd, 64);
          if (batch.empty()) break;
          EXPECT_LE(batch.size(), 64u);
          ++batches;
          b.insert(b.end(), batch.begin(), batch.end());
        }
      },
      asio::detached);
  io.run();
  EXPECT_EQ(a, items);
  EXPECT_EQ(b, items);
  EXPECT_LE(batches, 1000u / 64 + 2);  // batched: far fewer completions than items
  EXPECT_TRUE(one->readable_ended());
  EXPECT_TRUE(many->readable_ended());
}

TEST(AsyncNext, LeavingEarlyDestroysTheStreamAndTheGenerator) {
  asio::io_context io;
  sluice::asio_loop loop(io);
  bool generator_cleaned = false;
  struct guard {
    bool* flag;
    ~guard() { *flag = true; }
  };
  auto endless = [](bool* flag) -> sluice::generator<int> {
    guard g{flag};
    for (int i = 0;; ++i) co_yield i;
  };
  auto r = sluice::from(loop, endless(&generator_cleaned));
  bool closed = false;
  std::error_code error;
  r->on_close([&] { closed = true; });
  r->on_error([&](std::error_code ec) { error = ec; });
  std::vector<int> got;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        sluice::reader<int> rd(r);
        while (auto x = co_await sluice::async_next(rd)) {
          got.push_back(*x);
          if (got.size() == 3) break;  // rd goes out of scope here
        }
      },
      asio::detached);
  io.run();
  EXPECT_EQ(got, (std::vector<int>{0, 1, 2}));
  EXPECT_TRUE(r->destroyed());
  EXPECT_TRUE(closed);
  // Node 20 (tests/core/node/traces/async_iter.txt, break_early): "loop left destroyed=true
  // errored=ABORT_ERR", then "[src] event error ABORT_ERR", "[src] event close".
  EXPECT_EQ(error, errc::aborted);
  r.reset();  // the last owner: the generator frame goes with the stream
  EXPECT_TRUE(generator_cleaned);
}

// Iterates a source of 1..n (auto_destroy as given) to its end with a reader and logs what Node's
// async_iter.js scenarios log: the items, 'end', 'close' and "loop done destroyed=...".
std::vector<std::string> iterate_and_log(int n, bool auto_destroy) {
  asio::io_context io;
  sluice::asio_loop loop(io);
  int next = 0;
  auto r = sluice::make_readable<int>(
      loop, {.auto_destroy = auto_destroy, .read = [&next, n](auto& self, std::size_t) {
               if (++next <= n)
                 self.push(next);
               else
                 self.push_eof();
             }});
  std::vector<std::string> log;
  r->on_end([&] { log.push_back("event end"); });
  r->on_close([&] { log.push_back("event close"); });
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        sluice::reader<int> rd(r);
        while (auto x = co_await sluice::async_next(rd))
          log.push_back("item " + std::to_string(*x));
        log.push_back(std::string("loop done destroyed=") + (r->destroyed() ? "true" : "false"));
      },
      asio::detached);
  io.run();
  return log;
}

// Node 20 (traces/async_iter.txt, iterate_to_end): "item 1..3", "[src] event end", "[src] event
// close", "loop done destroyed=true": the end is reported after 'end' and 'close'.
TEST(AsyncNext, TheEndComesAfterEndAndCloseAsInNode) {
  EXPECT_EQ(iterate_and_log(3, true),
            (std::vector<std::string>{"item 1", "item 2", "item 3", "event end", "event close",
                                      "loop done destroyed=true"}));
}

// Node 20 (iterate_to_end_no_autodestroy): "item 1", "item 2", "[src] event end", "loop done
// destroyed=false": a stream that will not close ends the iteration at 'end'.
TEST(AsyncNext, WithoutAutoDestroyTheEndComesAtEnd) {
  EXPECT_EQ(iterate_and_log(2, false), (std::vector<std::string>{"item 1", "item 2", "event end",
                                                                 "loop done destroyed=false"}));
}

// Node 20 (pending_next_then_destroy): three next() pending, destroy(err): "next 1 rejected
// EBOOM", "next 2 resolved done=true", "next 3 resolved done=true".
TEST(AsyncNext, PendingOperationsWhenTheStreamFailsOneGetsTheErrorTheRestTheEnd) {
  asio::io_context io;
  sluice::asio_loop loop(io);
  auto r = manual_source(loop);
  sluice::reader<int> rd(r);
  std::vector<std::string> log;
  for (int k = 1; k <= 3; ++k) {
    sluice::async_next(rd, [&log, k](async_error ec, std::optional<int> x) {
      if (ec)
        log.push_back("next " + std::to_string(k) + " rejected " + ec.message());
      else
        log.push_back("next " + std::to_string(k) + " resolved done=" + (x ? "false" : "true"));
    });
  }
  r->destroy(make_error_code(std::errc::io_error));
  io.run();
  ASSERT_EQ(log.size(), 3u);
  EXPECT_EQ(log[0], "next 1 rejected " + make_error_code(std::errc::io_error).message());
  EXPECT_EQ(log[1], "next 2 resolved done=true");
  EXPECT_EQ(log[2], "next 3 resolved done=true");
  // And one started later sees the end too.
  std::optional<async_error> later;
  sluice::async_next(rd, [&](async_error ec, std::optional<int> x) {
    later = ec;
    EXPECT_FALSE(x);
  });
  io.restart();
  io.run();
  ASSERT_TRUE(later);
  EXPECT_FALSE(*later);
}

TEST(AsyncNext, StreamErrorsArriveAsErrorCodesOrExceptions) {
  asio::io_context io;
  sluice::asio_loop loop(io);
  auto failing = manual_source(loop);
  auto dropped = manual_source(loop);
  std::vector<std::string> got;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        sluice::reader<int> rd(failing);
        try {
          while (auto x = co_await sluice::async_next(rd)) got.push_back(std::to_string(*x));
          got.push_back("end");
        } catch (const boost::system::system_error& e) {
          got.push_back("threw " + code_of(e).message());
        }
      },
      asio::detached);
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        sluice::reader<int> rd(dropped);
        async_error ec;
        auto x = co_await sluice::async_next(rd, asio::redirect_error(asio::use_awaitable, ec));
        got.push_back(std::string(x ? "item" : "no item") + ", " +
                      (std::error_code(ec) == errc::premature_close ? "premature close" : "?"));
      },
      asio::detached);
  asio::post(io, [&] {
    failing->push(7);
    failing->fail(std::make_error_code(std::errc::connection_reset), "recv from 10.0.0.1");
    dropped->destroy();  // destroyed before its end, without an error
  });
  io.run();
  // The 7 still buffered when the stream failed is discarded, as Node's iterator does.
  EXPECT_EQ(got, (std::vector<std::string>{
                     "threw " + std::make_error_code(std::errc::connection_reset).message(),
                     "no item, premature close"}));
}

TEST(AsyncNext, PendingCallsCompleteInOrder) {
  asio::io_context io;
  sluice::asio_loop loop(io);
  auto r = manual_source(loop);
  sluice::reader<int> rd(r);
  std::vector<std::string> got;
  for (int k = 0; k < 4; ++k) {
    sluice::async_next(rd, [&got, k](async_error ec, std::optional<int> x) {
      got.push_back("call " + std::to_string(k) + ": " +
                    (ec  ? ec.message()
                     : x ? std::to_string(*x)
                         : std::string("end")));
    });
  }
  asio::post(io, [&] {
    r->push(10);
    r->push(11);
    r->push(12);
    r->push_eof();
  });
  io.run();
  EXPECT_EQ(got,
            (std::vector<std::string>{"call 0: 10", "call 1: 11", "call 2: 12", "call 3: end"}));
}

TEST(AsyncNext, UseFutureFromAnotherThread) {
  asio::io_context io;
  sluice::asio_loop loop(io);
  auto work = asio::make_work_guard(io);
  auto src = sluice::from(loop, std::vector<int>{1, 2, 3});
  std::vector<std::string> trace;
  auto sink = posting_sink(loop, 1, trace);
  sluice::reader<int> rd(src);
  std::thread runner([&] { io.run(); });
  // This thread never touches the streams: each operation hops onto the io_context's thread.
  std::vector<int> got;
  while (auto x = sluice::async_next(rd, asio::use_future).get()) {
    got.push_back(*x);
    sluice::async_write(*sink, *x * 100, asio::use_future).get();
  }
  sluice::async_end(*sink, asio::use_future).get();
  std::future<void> after_end = sluice::async_write(*sink, 9, asio::use_future);
  std::string late_error;
  try {
    after_end.get();
  } catch (const boost::system::system_error& e) {
    late_error = code_of(e) == errc::write_after_end ? "write after end" : code_of(e).message();
  }
  asio::post(io, [&] { work.reset(); });
  runner.join();
  EXPECT_EQ(got, (std::vector<int>{1, 2, 3}));
  EXPECT_EQ(late_error, "write after end");
  EXPECT_EQ(trace.front(), "sink 100");
  EXPECT_NE(std::find(trace.begin(), trace.end(), "finish"), trace.end());
}

TEST(AsyncNext, CancelledCallTakesNothingFromTheStream) {
  asio::io_context io;
  sluice::asio_loop loop(io);
  auto r = manual_source(loop);
  sluice::reader<int> rd(r);
  asio::cancellation_signal cancel;
  std::vector<std::string> got;
  auto record = [&got](std::string label) {
    return [&got, label](async_error ec, std::optional<int> x) {
      got.push_back(label + ": " +
                    (ec == asio::error::operation_aborted ? "aborted"
                     : x                                  ? std::to_string(*x)
                                                          : std::string("end")));
    };
  };
  sluice::async_next(rd, asio::bind_cancellation_slot(cancel.slot(), record("first")));
  sluice::async_next(rd, record("second"));
  asio::post(io, [&] {
    cancel.emit(asio::cancellation_type::terminal);
    r->push(42);  // goes to the second call: the cancelled one took nothing
    r->push_eof();
  });
  io.run();
  EXPECT_EQ(got, (std::vector<std::string>{"first: aborted", "second: 42"}));
  EXPECT_TRUE(r->readable_ended());
}

TEST(AsyncWrite, CancelledWaitLeavesTheChunkAcceptedAndTheStreamUsable) {
  asio::io_context io;
  sluice::asio_loop loop(io);
  std::vector<iwcb> held;
  auto w = sluice::make_writable<int>(
      loop, {.high_water_mark = 1,
             .write = [&held](sluice::writable<int>&, int&&, iwcb cb) { held.push_back(cb); }});
  asio::cancellation_signal cancel;
  std::vector<std::string> got;
  sluice::async_write(*w, 1, asio::bind_cancellation_slot(cancel.slot(), [&](async_error ec) {
    got.push_back(ec == asio::error::operation_aborted ? "aborted" : "done");
  }));
  io.poll();  // not run(): the pending operation keeps the io_context busy, as Asio's do
  EXPECT_TRUE(got.empty());  // waiting for 'drain'
  cancel.emit(asio::cancellation_type::terminal);
  io.run();
  io.restart();
  EXPECT_EQ(got, (std::vector<std::string>{"aborted"}));
  EXPECT_EQ(w->writable_length(), 1u);  // the chunk is still accepted and in flight
  EXPECT_EQ(w->drain_listener_count(), 0u);
  held.front()();
  bool ended = false;
  sluice::async_end(*w, [&](async_error ec) { ended = !ec; });
  io.run();
  EXPECT_TRUE(ended);
  EXPECT_EQ(w->counters().drains, 1u);
}

TEST(AsyncNext, ReaderDestroyedWithPendingCallsAbortsThem) {
  asio::io_context io;
  sluice::asio_loop loop(io);
  auto r = manual_source(loop);
  std::string got;
  {
    sluice::reader<int> rd(r);
    sluice::async_next(rd, [&got](async_error ec, std::optional<int>) {
      got = ec == asio::error::operation_aborted ? "aborted" : "other";
    });
    io.poll();
  }
  io.run();
  EXPECT_EQ(got, "aborted");
  EXPECT_TRUE(r->destroyed());
}

TEST(AsyncEnd, WithALastChunk) {
  asio::io_context io;
  sluice::asio_loop loop(io);
  std::vector<std::string> trace;
  auto w = posting_sink(loop, 4, trace);
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        co_await sluice::async_write(*w, 1);
        co_await sluice::async_end(*w, 2);
        trace.push_back("ended");
      },
      asio::detached);
  io.run();
  EXPECT_EQ(trace, (std::vector<std::string>{"sink 1", "sink 2", "finish", "ended"}));
}

TEST(AsyncNext, TimeoutWithAwaitableOperatorsLosesNothing) {
  using namespace asio::experimental::awaitable_operators;
  asio::io_context io;
  sluice::asio_loop loop(io);
  auto r = manual_source(loop);
  std::vector<std::string> got;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        sluice::reader<int> rd(r);
        asio::steady_timer timeout(io, std::chrono::milliseconds(1));
        // The timer wins; the losing async_next is cancelled and must take nothing.
        auto first = co_await (sluice::async_next(rd) || timeout.async_wait(asio::use_awaitable));
        got.push_back(first.index() == 1 ? "timed out" : "item first");
        asio::post(io, [&] {
          r->push(5);
          r->push_eof();
        });
        while (auto x = co_await sluice::async_next(rd)) got.push_back(std::to_string(*x));
        got.push_back("end");
      },
      asio::detached);
  io.run();
  EXPECT_EQ(got, (std::vector<std::string>{"timed out", "5", "end"}));
}

TEST(Reader, TryNextAndKeepingTheStreamOnExit) {
  asio::io_context io;
  sluice::asio_loop loop(io);
  auto r = sluice::from(loop, std::vector<int>{1, 2, 3, 4}, {.high_water_mark = 2});
  std::vector<int> got;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        {
          sluice::reader<int> rd(r, {.destroy_on_exit = false});
          // from() produces synchronously, so an item can be had without waiting.
          if (auto x = rd.try_next()) got.push_back(*x);
          if (auto x = co_await sluice::async_next(rd)) got.push_back(*x);
        }
        EXPECT_FALSE(r->destroyed());  // the first reader let go without destroying
        sluice::reader<int> rest(r);
        while (auto x = co_await sluice::async_next(rest)) got.push_back(*x);
        EXPECT_TRUE(rest.done());
        EXPECT_FALSE(rest.try_next());
      },
      asio::detached);
  io.run();
  EXPECT_EQ(got, (std::vector<int>{1, 2, 3, 4}));
}

TEST(AsyncWrite, AProducerCoroutineNeverBuffersMoreThanHwm) {
  asio::io_context io;
  sluice::asio_loop loop(io);
  std::vector<std::string> trace;
  auto w = posting_sink(loop, 8, trace);
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        for (int i = 0; i < 1000; ++i) co_await sluice::async_write(*w, i);
        co_await sluice::async_end(*w);
      },
      asio::detached);
  io.run();
  EXPECT_EQ(w->counters().chunks_in, 1000u);
  EXPECT_EQ(trace.back(), "finish");
  EXPECT_LE(w->counters().peak_writable_length, 8u);  // memory bounded by the hwm
  EXPECT_GT(w->counters().drains, 0u);                // and it did have to wait
}

TEST(AsyncNext, ByteModeYieldsWhatIsBuffered) {
  asio::io_context io;
  sluice::asio_loop loop(io);
  std::vector<sluice::buffer> parts;
  for (const char* p : {"hello ", "coroutine ", "world"})
    parts.push_back(sluice::buffer::copy_of(p));
  auto r = sluice::from(loop, std::move(parts));
  std::string text;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        sluice::reader<sluice::buffer> rd(r);
        while (auto b = co_await sluice::async_next(rd)) text += b->to_string();
      },
      asio::detached);
  io.run();
  EXPECT_EQ(text, "hello coroutine world");
  EXPECT_EQ(r->counters().bytes_out, text.size());
}

}  // namespace

// ---- completion without a post, and batches into the caller's vector -------------------------

namespace {

// Runs `io` to the end; returns how many handlers it ran.
std::size_t run_counting(asio::io_context& io) {
  std::size_t n = 0;
  while (io.run_one() != 0) ++n;
  return n;
}

std::vector<int> iota_vector(int n) {
  std::vector<int> v(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) v[static_cast<std::size_t>(i)] = i;
  return v;
}

}  // namespace

TEST(AsyncNext, CoroutineResumesWithoutAPostWhenTheStreamCanAnswerAtOnce) {
  asio::io_context io;
  sluice::asio_loop loop(io);
  auto r = sluice::from(loop, iota_vector(10000));
  std::vector<int> got;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        sluice::reader<int> rd(r);
        while (auto x = co_await sluice::async_next(rd)) got.push_back(*x);
      },
      asio::detached);
  const std::size_t handlers = run_counting(io);
  EXPECT_EQ(got, iota_vector(10000));
  EXPECT_LT(handlers, 20u);  // not one post per item
  EXPECT_TRUE(r->readable_ended());
}

TEST(AsyncNext, ACallbackIsStillNeverInvokedFromWithinTheInitiatingCall) {
  asio::io_context io;
  sluice::asio_loop loop(io);
  auto r = sluice::from(loop, std::vector<int>{1, 2, 3});
  std::vector<std::string> got;
  asio::post(io, [&] {
    sluice::reader<int> rd(r, {.destroy_on_exit = false});
    sluice::async_next(rd, [&](async_error, std::optional<int> x) {
      got.push_back("item " + std::to_string(x.value_or(-1)));
    });
    std::vector<int> buf;
    sluice::async_next_batch(rd, buf, 8, [&](async_error, std::size_t n) {
      got.push_back("batch of " + std::to_string(n));
    });
    got.emplace_back("initiating calls returned");
  });
  io.run();
  EXPECT_EQ(got, (std::vector<std::string>{"initiating calls returned", "item 1", "batch of 2"}));
}

TEST(AsyncNext, AQueuedOperationIsNotOvertakenByOneThatCouldCompleteAtOnce) {
  asio::io_context io;
  sluice::asio_loop loop(io);
  auto r = manual_source(loop);
  sluice::reader<int> rd(r);
  std::vector<std::string> got;
  sluice::async_next(rd, [&](async_error, std::optional<int> x) {
    got.push_back("callback " + std::to_string(x.value_or(-1)));
  });  // queued: nothing is buffered yet
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        r->push(10);
        r->push(11);  // buffered now, while the callback's operation is still queued
        auto x = co_await sluice::async_next(rd);
        got.push_back("coroutine " + std::to_string(x.value_or(-1)));
      },
      asio::detached);
  io.run();
  EXPECT_EQ(got, (std::vector<std::string>{"callback 10", "coroutine 11"}));
}

TEST(AsyncNextBatch, IntoAReusedVectorInOrderToTheEnd) {
  asio::io_context io;
  sluice::asio_loop loop(io);
  auto r = sluice::from(loop, iota_vector(1000));
  std::vector<int> got;
  std::size_t batches = 0;
  std::size_t storage_changes = 0;
  std::size_t last = 1;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        sluice::reader<int> rd(r);
        std::vector<int> buf;
        const int* storage = nullptr;
        while (const std::size_t n = co_await sluice::async_next_batch(rd, buf, 64)) {
          EXPECT_EQ(n, buf.size());
          EXPECT_LE(n, 64u);
          if (buf.data() != storage) ++storage_changes;
          storage = buf.data();
          ++batches;
          got.insert(got.end(), buf.begin(), buf.end());
        }
        last = buf.size();
      },
      asio::detached);
  const std::size_t handlers = run_counting(io);
  EXPECT_EQ(got, iota_vector(1000));
  EXPECT_LE(batches, 1000u / 64 + 2);
  EXPECT_EQ(storage_changes, 1u);  // allocated for the first batch, reused after
  EXPECT_EQ(last, 0u);             // cleared at the end
  EXPECT_LT(handlers, 20u);
  EXPECT_TRUE(r->readable_ended());
}

TEST(AsyncNextBatch, ItemsTakenBeforeAnErrorComeFirstThenTheError) {
  asio::io_context io;
  sluice::asio_loop loop(io);
  auto r =
      sluice::make_readable<int>(loop, {.read = [](sluice::readable<int>& self, std::size_t) {
                                   self.push(1);
                                   self.push(2);
                                   self.fail(std::make_error_code(std::errc::io_error), "disk");
                                 }});
  std::vector<std::string> got;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        sluice::reader<int> rd(r);
        std::vector<int> buf;
        try {
          while (co_await sluice::async_next_batch(rd, buf, 16) != 0)
            for (int x : buf) got.push_back(std::to_string(x));
          got.emplace_back("end");
        } catch (const boost::system::system_error& e) {
          got.push_back(code_of(e) == std::errc::io_error ? "io_error" : code_of(e).message());
          got.push_back("buffer holds " + std::to_string(buf.size()));
        }
      },
      asio::detached);
  io.run();
  EXPECT_EQ(got, (std::vector<std::string>{"1", "2", "io_error", "buffer holds 0"}));
}

TEST(AsyncNextBatch, LeavingEarlyDestroysTheStream) {
  asio::io_context io;
  sluice::asio_loop loop(io);
  bool generator_cleaned = false;
  struct guard {
    bool* flag;
    ~guard() { *flag = true; }
  };
  auto endless = [](bool* flag) -> sluice::generator<int> {
    guard g{flag};
    for (int i = 0;; ++i) co_yield i;
  };
  auto r = sluice::from(loop, endless(&generator_cleaned));
  bool closed = false;
  r->on_close([&] { closed = true; });
  std::vector<int> first;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        sluice::reader<int> rd(r);
        std::vector<int> buf;
        co_await sluice::async_next_batch(rd, buf, 5);
        first = buf;
      },  // rd goes out of scope: the stream is destroyed
      asio::detached);
  io.run();
  EXPECT_EQ(first, (std::vector<int>{0, 1, 2, 3, 4}));
  EXPECT_TRUE(r->destroyed());
  EXPECT_TRUE(closed);
  EXPECT_EQ(r->counters().chunks_out, 5u);  // the stream counted what the batch took
  r.reset();
  EXPECT_TRUE(generator_cleaned);
}

namespace {

// An exception's what(), or "no exception".
template <class F>
asio::awaitable<std::string> what_of(F f) {
  try {
    co_await f();
  } catch (const sluice::stream_failure& e) {
    co_return e.what();
  }
  co_return "no exception";
}

}  // namespace

TEST(AsyncErrors, ThrownFailuresCarryTheStreamsMessage) {
  asio::io_context io;
  sluice::asio_loop loop(io);
  const auto enoent = std::make_error_code(std::errc::no_such_file_or_directory);
  const std::string expected = "open 'x.log': " + enoent.message();
  // Fails at its first read, synchronously: async_next answers without waiting.
  auto at_once = sluice::make_readable<int>(
      loop, {.read = [&](auto& self, std::size_t) { self.fail(enoent, "open 'x.log'"); }});
  // Fails later, while async_next waits.
  auto later = manual_source(loop);
  auto sink = sluice::make_writable<int>(loop, {.write = [&](auto& self, int&&, iwcb cb) {
                                           self.fail(enoent, "open 'x.log'");
                                           cb(enoent);
                                         }});
  auto ending = sluice::make_writable<int>(
      loop, {.write = [](auto&, int&&, iwcb cb) { cb(); },
             .final =
                 [](auto& self, sluice::callback cb) {
                   self.fail(std::make_error_code(std::errc::io_error), "close 'y.log'");
                   cb(std::make_error_code(std::errc::io_error));
                 }});
  std::vector<std::string> got;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        sluice::reader<int> a(at_once), b(later);
        got.push_back(co_await what_of([&] { return sluice::async_next(a); }));
        got.push_back(co_await what_of([&] { return sluice::async_next(b); }));
        got.push_back(co_await what_of([&] { return sluice::async_write(*sink, 1); }));
        got.push_back(co_await what_of([&] { return sluice::async_end(*ending); }));
        // Not the stream's error: the code's own message.
        got.push_back(co_await what_of([&] { return sluice::async_write(*ending, 2); }));
      },
      asio::detached);
  asio::post(io, [&] { later->fail(enoent, "open 'x.log'"); });
  io.run();
  EXPECT_EQ(got, (std::vector<std::string>{
                     expected, expected, expected,
                     "close 'y.log': " + std::make_error_code(std::errc::io_error).message(),
                     make_error_code(errc::write_after_end).message()}));
}
