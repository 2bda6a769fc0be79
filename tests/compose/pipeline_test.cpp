// Conformance: pipeline() and async_pipeline() (Node's stream.pipeline), on a manual_loop for
// exact ordering, plus the Asio forms on an io_context. Node 20 was run on the same scenarios
// for success ordering (callback after every 'close'), which error the other stages are
// destroyed with (the pipeline's), and whether cleanly finished streams are destroyed (no).
#include <gtest/gtest.h>

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>  // IWYU pragma: keep
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>

#include <unistd.h>

#include <cstddef>
#include <filesystem>
#include <fstream>
#include <future>
#include <iterator>
#include <memory>
#include <stdexcept>
#include <stop_token>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include "sluice/codec/gzip.hpp"
#include "sluice/compose/pipeline.hpp"
#include "sluice/core/asio_loop.hpp"
#include "sluice/core/loop.hpp"
#include "sluice/core/make.hpp"
#include "sluice/io/file.hpp"
#include "support/trace.hpp"

namespace {

using sluice::errc;
using sluice::manual_loop;
using sluice::pipeline_error;
using sluice::test::trace;

std::string code_of(std::error_code ec) { return ec ? sluice::test::node_code(ec) : "null"; }

// Every stream counts its do_destroy calls, so "destroyed exactly once" can be asserted.
struct destroy_count {
  int n = 0;
};

struct options {
  bool auto_destroy = true;
  std::string name{};
};

// 0 .. n-1, one per read, each pushed on a later tick (like a file read completing), so a
// pipeline takes several ticks and a test can interrupt it half-way.
std::shared_ptr<sluice::readable<int>> numbers(sluice::loop& loop, int n, destroy_count& d,
                                               options o = {}) {
  auto next = std::make_shared<int>(0);
  return sluice::make_readable<int>(
      loop, {.high_water_mark = 4,
             .auto_destroy = o.auto_destroy,
             .name = o.name,
             .read =
                 [&loop, next, n](sluice::readable<int>& self, std::size_t) {
                   loop.defer([s = self.shared_from_this(), &self, next, n] {
                     if (self.destroyed()) return;
                     if (*next < n)
                       self.push((*next)++);
                     else
                       self.push_eof();
                   });
                 },
             .destroy =
                 [&d](auto&, std::error_code ec, sluice::callback cb) {
                   ++d.n;
                   cb(ec);
                 }});
}

std::shared_ptr<sluice::transform<int, int>> plus_one(sluice::loop& loop, destroy_count& d,
                                                      options o = {}) {
  return sluice::make_transform<int>(loop,
                                     {.readable_high_water_mark = 4,
                                      .writable_high_water_mark = 4,
                                      .auto_destroy = o.auto_destroy,
                                      .name = o.name,
                                      .transform = [](auto&, int&& x, auto cb) { cb(x + 1); },
                                      .destroy =
                                          [&d](auto&, std::error_code ec, sluice::callback cb) {
                                            ++d.n;
                                            cb(ec);
                                          }});
}

std::shared_ptr<sluice::writable<int>> collect(sluice::loop& loop, std::vector<int>& out,
                                               destroy_count& d, options o = {}) {
  return sluice::make_writable<int>(loop,
                                    {.high_water_mark = 4,
                                     .auto_destroy = o.auto_destroy,
                                     .name = o.name,
                                     .write =
                                         [&out](auto&, int&& x, auto cb) {
                                           out.push_back(x);
                                           cb();
                                         },
                                     .destroy =
                                         [&d](auto&, std::error_code ec, sluice::callback cb) {
                                           ++d.n;
                                           cb(ec);
                                         }});
}

std::vector<int> iota(int from, int n) {
  std::vector<int> v;
  for (int i = 0; i < n; ++i) v.push_back(from + i);
  return v;
}

TEST(Pipeline, SuccessDeliversInOrderAndCallsBackOnceAfterEveryClose) {
  manual_loop loop;
  trace tr;
  destroy_count d;
  std::vector<int> out;
  auto src = numbers(loop, 50, d);
  auto t1 = plus_one(loop, d);
  auto t2 = plus_one(loop, d);
  auto dst = collect(loop, out, d);
  dst->on_close([&] { tr("dst close"); });
  src->on_close([&] { tr("src close"); });
  int calls = 0;
  auto h = sluice::pipeline(src, t1, t2, dst, [&](const pipeline_error& e) {
    ++calls;
    tr("cb " + code_of(e.code));
  });
  EXPECT_TRUE(h.running());
  loop.run_until_idle();
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(tr.lines().back(), "cb null");  // after both closes
  EXPECT_EQ(out, iota(2, 50));
  EXPECT_FALSE(h.running());
  EXPECT_EQ(d.n, 4);  // each destroyed itself once (auto_destroy); the pipeline added none
}

TEST(Pipeline, CallbackRunsOnALaterTickThanTheLastEvent) {
  manual_loop loop;
  destroy_count d;
  std::vector<int> out;
  auto src = numbers(loop, 3, d);
  auto dst = collect(loop, out, d);
  bool closed = false, called = false;
  dst->on_close([&] {
    closed = true;
    loop.defer([&] { EXPECT_FALSE(called); });  // queued before the callback's tick
  });
  sluice::pipeline(src, dst, [&](std::error_code ec) {
    EXPECT_FALSE(ec);
    EXPECT_TRUE(closed);
    called = true;
  });
  EXPECT_FALSE(called);
  loop.run();
  EXPECT_TRUE(called);
}

TEST(Pipeline, CleanlyFinishedStreamsAreNotDestroyedAndNothingIsLeftBehind) {
  manual_loop loop;
  destroy_count d;
  std::vector<int> out;
  const options keep{.auto_destroy = false};
  auto src = numbers(loop, 20, d, keep);
  auto t = plus_one(loop, d, keep);
  auto dst = collect(loop, out, d, keep);
  const std::size_t before[] = {src->listener_count(), t->listener_count(), dst->listener_count()};
  int calls = 0;
  auto h = sluice::pipeline(src, t, dst, [&](std::error_code ec) {
    EXPECT_FALSE(ec);
    ++calls;
  });
  EXPECT_GT(h.listener_count(), 0u);
  EXPECT_GT(src->listener_count(), before[0]);
  loop.run();
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(out, iota(1, 20));
  // Node destroys nothing that completed; neither do we.
  EXPECT_EQ(d.n, 0);
  EXPECT_FALSE(src->destroyed() || t->destroyed() || dst->destroyed());
  // No listener, pipe or reference of the pipeline is left on any stage.
  EXPECT_EQ(h.listener_count(), 0u);
  EXPECT_EQ(src->pipe_count(), 0u);
  EXPECT_EQ(t->pipe_count(), 0u);
  EXPECT_EQ(src->data_listener_count(), 0u);
  EXPECT_EQ(t->data_listener_count(), 0u);
  EXPECT_EQ(t->drain_listener_count(), 0u);
  EXPECT_EQ(dst->drain_listener_count(), 0u);
  // Every listener of every event, counted by the streams themselves.
  EXPECT_EQ(src->listener_count(), before[0]);
  EXPECT_EQ(t->listener_count(), before[1]);
  EXPECT_EQ(dst->listener_count(), before[2]);
  EXPECT_EQ(src.use_count(), 1);
  EXPECT_EQ(t.use_count(), 1);
  EXPECT_EQ(dst.use_count(), 1);
}

TEST(Pipeline, StagesAreReleasedBeforeTheCallback) {
  manual_loop loop;
  destroy_count d;
  std::vector<int> out;
  std::weak_ptr<sluice::stream> weak_src, weak_dst;
  bool called = false;
  {
    auto src = numbers(loop, 5, d);
    auto dst = collect(loop, out, d);
    weak_src = src;
    weak_dst = dst;
    sluice::pipeline(src, dst, [&](std::error_code) {
      called = true;
      EXPECT_TRUE(weak_src.expired());
      EXPECT_TRUE(weak_dst.expired());
    });
  }
  EXPECT_FALSE(weak_src.expired());  // the running pipeline owns its stages
  loop.run();
  EXPECT_TRUE(called);
  EXPECT_EQ(out, iota(0, 5));
}

// ---- each stage failing in turn
// ------------------------------------------------------------------

class PipelineStageError : public ::testing::TestWithParam<int> {};

TEST_P(PipelineStageError, FirstRealErrorWinsAndEveryStageIsDestroyedOnce) {
  const int failing = GetParam();  // 1-based
  manual_loop loop;
  destroy_count d1, d2, d3, d4;
  std::vector<int> out;
  auto src = numbers(loop, 1000, d1, {.name = "numbers"});
  auto t1 = plus_one(loop, d2, {.name = "first"});
  auto t2 = plus_one(loop, d3);  // unnamed: a default from its type
  auto dst = collect(loop, out, d4, {.name = "collect"});
  std::vector<sluice::stream*> all{src.get(), t1.get(), t2.get(), dst.get()};
  std::vector<std::error_code> seen(4);
  for (std::size_t i = 0; i < 4; ++i)
    all[i]->on_error([&seen, i](std::error_code ec) { seen[i] = ec; });

  int calls = 0;
  pipeline_error got;
  sluice::pipeline(src, t1, t2, dst, [&](const pipeline_error& e) {
    ++calls;
    got = e;
  });
  for (int i = 0; i < 20; ++i) loop.step();  // a few items flow
  ASSERT_FALSE(out.empty());
  all[static_cast<std::size_t>(failing - 1)]->fail(make_error_code(std::errc::io_error),
                                                   "read 'part " + std::to_string(failing) + "'");
  loop.run();

  ASSERT_EQ(calls, 1);
  EXPECT_EQ(got.code, std::errc::io_error);
  EXPECT_EQ(got.stage, static_cast<std::size_t>(failing));
  const char* names[] = {"numbers", "first", "transform<int, int>", "collect"};
  EXPECT_EQ(got.stage_name, names[failing - 1]);
  const std::string io = make_error_code(std::errc::io_error).message();
  EXPECT_EQ(got.detail, "read 'part " + std::to_string(failing) + "': " + io);
  EXPECT_EQ(got.message(), "stage " + std::to_string(failing) + " (" + names[failing - 1] +
                               "): read 'part " + std::to_string(failing) + "': " + io);
  EXPECT_EQ(src->errored(), std::errc::io_error);
  EXPECT_TRUE(src->closed());
  EXPECT_EQ(d1.n, 1);
  EXPECT_EQ(d2.n, 1);
  EXPECT_EQ(d3.n, 1);
  EXPECT_EQ(d4.n, 1);
  // As in Node, the other stages are destroyed with the pipeline's error.
  for (std::size_t i = 0; i < 4; ++i) EXPECT_EQ(seen[i], std::errc::io_error) << "stage " << i + 1;
}

INSTANTIATE_TEST_SUITE_P(EachStage, PipelineStageError, ::testing::Values(1, 2, 3, 4));

TEST(Pipeline, TransformCallbackErrorNamesItsStage) {
  manual_loop loop;
  destroy_count d;
  std::vector<int> out;
  auto src = numbers(loop, 100, d);
  auto bad =
      sluice::make_transform<int>(loop, {.name = "picky", .transform = [](auto&, int&& x, auto cb) {
                                           if (x == 7)
                                             cb(make_error_code(std::errc::bad_message));
                                           else
                                             cb(x);
                                         }});
  auto dst = collect(loop, out, d);
  pipeline_error got;
  sluice::pipeline(src, bad, dst, [&](const pipeline_error& e) { got = e; });
  loop.run();
  EXPECT_EQ(got.code, std::errc::bad_message);
  EXPECT_EQ(got.stage, 2u);
  EXPECT_EQ(got.stage_name, "picky");
  EXPECT_EQ(out, iota(0, 7));
  EXPECT_TRUE(src->destroyed());
  EXPECT_TRUE(dst->destroyed());
}

TEST(Pipeline, SourceDestroyedIsPrematureClose) {
  manual_loop loop;
  destroy_count d;
  std::vector<int> out;
  auto src = sluice::make_readable<int>(loop, {.name = "src", .read = [](auto&, std::size_t) {}});
  auto t = plus_one(loop, d);
  auto dst = collect(loop, out, d);
  pipeline_error got;
  sluice::pipeline(src, t, dst, [&](const pipeline_error& e) { got = e; });
  loop.run();
  src->destroy();
  loop.run();
  EXPECT_EQ(got.code, errc::premature_close);
  EXPECT_EQ(got.stage, 1u);
  EXPECT_EQ(got.message(), "stage 1 (src): Premature close");
  EXPECT_EQ(d.n, 2);
}

TEST(Pipeline, LastStageDestroyedIsPrematureClose) {
  manual_loop loop;
  destroy_count d;
  std::vector<int> out;
  auto src = sluice::make_readable<int>(loop, {.read = [](auto&, std::size_t) {}});
  auto dst = collect(loop, out, d, {.name = "sink"});
  pipeline_error got;
  sluice::pipeline(src, dst, [&](const pipeline_error& e) { got = e; });
  loop.run();
  dst->destroy();
  loop.run();
  EXPECT_EQ(got.code, errc::premature_close);
  EXPECT_EQ(got.stage, 2u);
  EXPECT_TRUE(src->destroyed());
}

TEST(Pipeline, PrematureCloseNeverMasksARealError) {
  // Stage 3 closes without an error just before stage 2 fails for real in the same tick: the
  // premature close is seen first, the real error still wins (nodejs/node#36760).
  manual_loop loop;
  destroy_count d;
  std::vector<int> out;
  auto src = sluice::make_readable<int>(loop, {.read = [](auto&, std::size_t) {}});
  auto t = plus_one(loop, d, {.name = "parser"});
  auto dst = collect(loop, out, d, {.name = "sink"});
  trace tr;
  pipeline_error got;
  sluice::pipeline(src, t, dst, [&](const pipeline_error& e) { got = e; });
  loop.run();
  dst->destroy();
  t->fail(make_error_code(std::errc::protocol_error), "parse line 3");
  loop.run();
  EXPECT_EQ(got.code, std::errc::protocol_error);
  EXPECT_EQ(got.stage, 2u);
  EXPECT_EQ(got.detail, "parse line 3: " + make_error_code(std::errc::protocol_error).message());
}

TEST(Pipeline, CallbackWaitsForAsynchronousDestroys) {
  // On failure the callback comes after every stage has released its resources (do_destroy
  // completed), even when that takes several ticks.
  manual_loop loop;
  std::vector<std::string> order;
  auto slow_destroy = [&](std::string name) {
    return [&loop, &order, name](auto&, std::error_code ec, sluice::callback cb) {
      loop.defer([&loop, &order, name, ec, cb] {
        loop.defer([&order, name, ec, cb] {
          order.push_back(name + " released");
          cb(ec);
        });
      });
    };
  };
  auto src = sluice::make_readable<int>(
      loop, {.read = [](auto&, std::size_t) {}, .destroy = slow_destroy("src")});
  auto dst = sluice::make_writable<int>(
      loop, {.write = [](auto&, int&&, auto cb) { cb(); }, .destroy = slow_destroy("dst")});
  sluice::pipeline(src, dst, [&](std::error_code ec) {
    EXPECT_EQ(ec, std::errc::io_error);
    order.push_back("cb");
  });
  loop.run();
  dst->destroy(make_error_code(std::errc::io_error));
  loop.run();
  EXPECT_EQ(order, (std::vector<std::string>{"dst released", "src released", "cb"}));
}

// ---- abort
// ---------------------------------------------------------------------------------------

TEST(Pipeline, AbortThroughTheHandle) {
  manual_loop loop;
  destroy_count d;
  std::vector<int> out;
  auto src = sluice::make_readable<int>(loop, {.read = [](auto&, std::size_t) {}});
  auto t = plus_one(loop, d);
  auto dst = collect(loop, out, d);
  int calls = 0;
  pipeline_error got;
  auto h = sluice::pipeline(src, t, dst, [&](const pipeline_error& e) {
    ++calls;
    got = e;
  });
  loop.run();
  h.abort();
  h.abort();
  loop.run();
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(got.code, errc::aborted);
  EXPECT_EQ(got.code, std::errc::operation_canceled);
  EXPECT_EQ(got.stage, 0u);
  EXPECT_EQ(got.message(), "The operation was aborted");
  EXPECT_TRUE(src->destroyed() && t->destroyed() && dst->destroyed());
  EXPECT_EQ(d.n, 2);
  h.abort();  // after completion: nothing
  loop.run();
  EXPECT_EQ(calls, 1);
}

TEST(Pipeline, AbortThroughAStopToken) {
  manual_loop loop;
  destroy_count d;
  std::vector<int> out;
  std::stop_source stop;
  auto src = sluice::make_readable<int>(loop, {.read = [](auto&, std::size_t) {}});
  auto dst = collect(loop, out, d);
  std::error_code got;
  int calls = 0;
  sluice::pipeline(stop.get_token(), src, dst, [&](std::error_code ec) {
    ++calls;
    got = ec;
  });
  loop.run();
  stop.request_stop();
  loop.run();
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(got, errc::aborted);
  EXPECT_TRUE(src->destroyed());
  EXPECT_EQ(d.n, 1);
}

TEST(Pipeline, StopFromAnotherThreadAbortsOnTheLoopThread) {
  manual_loop loop;
  std::vector<int> out;
  destroy_count d;
  std::stop_source stop;
  const std::thread::id loop_thread = std::this_thread::get_id();
  std::thread::id destroyed_on;
  auto src =
      sluice::make_readable<int>(loop, {.read = [](auto&, std::size_t) {},
                                        .destroy =
                                            [&destroyed_on](auto&, std::error_code ec, auto cb) {
                                              destroyed_on = std::this_thread::get_id();
                                              cb(ec);
                                            }});
  auto dst = collect(loop, out, d);
  std::error_code got;
  sluice::pipeline(stop.get_token(), src, dst, [&](std::error_code ec) { got = ec; });
  loop.run();
  std::thread([&stop] { stop.request_stop(); }).join();
  // The other thread only posted the abort: nothing was torn down on it.
  EXPECT_FALSE(src->destroyed());
  loop.run();
  EXPECT_EQ(got, errc::aborted);
  EXPECT_TRUE(src->destroyed());
  EXPECT_EQ(destroyed_on, loop_thread);
}

TEST(Pipeline, AlreadyStoppedTokenAbortsAtOnce) {
  manual_loop loop;
  destroy_count d;
  std::vector<int> out;
  std::stop_source stop;
  stop.request_stop();
  auto src = numbers(loop, 10, d);
  auto dst = collect(loop, out, d);
  std::error_code got;
  sluice::pipeline(stop.get_token(), src, dst, [&](std::error_code ec) { got = ec; });
  loop.run();
  EXPECT_EQ(got, errc::aborted);
  EXPECT_TRUE(out.empty());
  EXPECT_EQ(d.n, 2);
}

TEST(Pipeline, AbortAfterARealErrorKeepsTheRealError) {
  manual_loop loop;
  destroy_count d;
  std::vector<int> out;
  auto src = sluice::make_readable<int>(loop, {.read = [](auto&, std::size_t) {}});
  auto dst = collect(loop, out, d);
  std::error_code got;
  auto h = sluice::pipeline(src, dst, [&](std::error_code ec) { got = ec; });
  loop.run();
  src->destroy(make_error_code(std::errc::io_error));
  loop.step();
  h.abort();
  loop.run();
  EXPECT_EQ(got, std::errc::io_error);
}

// ---- setup
// ---------------------------------------------------------------------------------------

TEST(Pipeline, NullStageDestroysWhatItOwnsAndReportsInvalidArgument) {
  manual_loop loop;
  destroy_count d;
  std::vector<int> out;
  auto src = numbers(loop, 10, d);
  std::shared_ptr<sluice::transform<int, int>> missing;
  auto dst = collect(loop, out, d);
  int calls = 0;
  pipeline_error got;
  auto h = sluice::pipeline(src, missing, dst, [&](const pipeline_error& e) {
    ++calls;
    got = e;
  });
  EXPECT_EQ(calls, 0);  // not from within pipeline()
  loop.run();
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(got.code, errc::invalid_argument);
  EXPECT_EQ(got.stage, 2u);
  EXPECT_EQ(got.message(), "stage 2 (transform<int, int>): stage 2 is null");
  EXPECT_EQ(d.n, 2);
  EXPECT_TRUE(out.empty());
  EXPECT_EQ(src.use_count(), 1);
  EXPECT_EQ(dst.use_count(), 1);
}

TEST(Pipeline, AlreadyFinishedSourceStillEndsTheSink) {
  manual_loop loop;
  destroy_count d;
  std::vector<int> out;
  auto src = numbers(loop, 0, d, {.auto_destroy = false});
  src->on_data([](int&&) {});
  loop.run();
  ASSERT_TRUE(src->readable_ended());
  auto dst = collect(loop, out, d);
  std::error_code got = make_error_code(errc::aborted);
  sluice::pipeline(src, dst, [&](std::error_code ec) { got = ec; });
  loop.run();
  EXPECT_FALSE(got);
  EXPECT_TRUE(dst->finished());
}

TEST(Pipeline, DuplexAsMiddleStage) {
  manual_loop loop;
  std::vector<std::string> out;
  auto src = sluice::make_readable<int>(loop, {.read = [n = 0](auto& self, std::size_t) mutable {
                                          if (n < 3)
                                            self.push(n++);
                                          else
                                            self.push_eof();
                                        }});
  // A duplex whose writable side turns ints into strings on its readable side.
  auto dup = sluice::make_duplex<int, std::string>(
      loop, {.read = [](auto&, std::size_t) {},
             .write =
                 [](sluice::duplex<int, std::string>& self, int&& x, auto cb) {
                   self.push("#" + std::to_string(x));
                   cb();
                 },
             .final =
                 [](sluice::duplex<int, std::string>& self, sluice::callback cb) {
                   self.push_eof();
                   cb({});
                 }});
  auto dst = sluice::make_writable<std::string>(loop, {.write = [&out](auto&, auto&& s, auto cb) {
                                                  out.push_back(s);
                                                  cb();
                                                }});
  std::error_code got = make_error_code(errc::aborted);
  sluice::pipeline(src, dup, dst, [&](std::error_code ec) { got = ec; });
  loop.run();
  EXPECT_FALSE(got);
  EXPECT_EQ(out, (std::vector<std::string>{"#0", "#1", "#2"}));
}

// ---- Asio
// ----------------------------------------------------------------------------------------

struct awaited {
  std::error_code ok_result = make_error_code(errc::aborted);
  std::error_code bad_result;
  pipeline_error details;
  std::vector<int> out;
};

// Two pipelines awaited in turn: one that succeeds, one whose middle stage fails.
boost::asio::awaitable<void> await_two(sluice::loop& loop, awaited& r) {
  destroy_count d;
  // (no temporaries inside co_await expressions: GCC 12 mishandles them)
  auto src = numbers(loop, 100, d);
  auto t = plus_one(loop, d);
  auto dst = collect(loop, r.out, d);
  // The completion is void(std::error_code): co_await yields the code (Asio throws only for
  // boost::system::error_code).
  r.ok_result = co_await sluice::async_pipeline(src, t, dst, boost::asio::use_awaitable);
  auto src2 = numbers(loop, 100, d);
  auto bad = sluice::make_transform<int>(
      loop, {.name = "bad", .transform = [](auto& self, int&&, auto) {
               self.fail(make_error_code(std::errc::bad_message), "decode");
             }});
  auto dst2 = collect(loop, r.out, d);
  r.bad_result =
      co_await sluice::async_pipeline(r.details, src2, bad, dst2, boost::asio::use_awaitable);
}

TEST(AsyncPipeline, AwaitableCompletesAndReportsTheFailingStage) {
  boost::asio::io_context io;
  sluice::asio_loop loop(io);
  awaited r;
  boost::asio::co_spawn(io, await_two(loop, r), boost::asio::detached);
  io.run();
  EXPECT_FALSE(r.ok_result);
  EXPECT_EQ(r.out.size(), 100u);
  EXPECT_EQ(r.bad_result, std::errc::bad_message);
  EXPECT_EQ(r.details.stage, 2u);
  EXPECT_EQ(r.details.message(),
            "stage 2 (bad): decode: " + make_error_code(std::errc::bad_message).message());
}

TEST(AsyncPipeline, CancellationSlotAborts) {
  boost::asio::io_context io;
  sluice::asio_loop loop(io);
  destroy_count d;
  std::vector<int> out;
  auto src = sluice::make_readable<int>(loop, {.read = [](auto&, std::size_t) {}});
  auto dst = collect(loop, out, d);
  boost::asio::cancellation_signal cancel;
  std::error_code got;
  int calls = 0;
  sluice::async_pipeline(
      src, dst, boost::asio::bind_cancellation_slot(cancel.slot(), [&](std::error_code ec) {
        ++calls;
        got = ec;
      }));
  io.poll();
  EXPECT_EQ(calls, 0);
  cancel.emit(boost::asio::cancellation_type::terminal);
  io.restart();  // poll() stopped the io_context when it ran out of ready handlers
  io.run();
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(got, errc::aborted);
  EXPECT_TRUE(src->destroyed());
  EXPECT_TRUE(dst->destroyed());
}

TEST(AsyncPipeline, UseFuture) {
  boost::asio::io_context io;
  sluice::asio_loop loop(io);
  destroy_count d;
  std::vector<int> out;
  std::future<std::error_code> f =
      sluice::async_pipeline(numbers(loop, 10, d), collect(loop, out, d), boost::asio::use_future);
  io.run();
  EXPECT_EQ(f.get(), std::error_code{});
  EXPECT_EQ(out, iota(0, 10));
}

// ---- real files and zlib
// -------------------------------------------------------------------------

class PipelineFiles : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (std::filesystem::temp_directory_path() / "sluice-pipeline-XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  static void write_file(const std::filesystem::path& p, const std::string& text) {
    std::ofstream(p, std::ios::binary) << text;
  }
  static std::string read_file(const std::filesystem::path& p) {
    std::ifstream in(p, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  }

  std::filesystem::path dir_;
};

TEST_F(PipelineFiles, GzipThenGunzipRoundTripsARealFile) {
  std::string text;
  for (int i = 0; i < 20000; ++i) text += "line " + std::to_string(i) + "\n";
  write_file(dir_ / "in.txt", text);
  {
    boost::asio::io_context io;
    sluice::asio_loop loop(io);
    pipeline_error got{make_error_code(errc::aborted)};
    sluice::pipeline(sluice::make_file_reader(loop, dir_ / "in.txt"), sluice::make_gzip(loop),
                     sluice::make_file_writer(loop, dir_ / "in.txt.gz"),
                     [&](const pipeline_error& e) { got = e; });
    io.run();
    ASSERT_FALSE(got) << got.message();
  }
  boost::asio::io_context io;
  sluice::asio_loop loop(io);
  pipeline_error got{make_error_code(errc::aborted)};
  sluice::pipeline(sluice::make_file_reader(loop, dir_ / "in.txt.gz"), sluice::make_gunzip(loop),
                   sluice::make_file_writer(loop, dir_ / "out.txt"),
                   [&](const pipeline_error& e) { got = e; });
  io.run();
  ASSERT_FALSE(got) << got.message();
  EXPECT_EQ(read_file(dir_ / "out.txt"), text);
}

TEST_F(PipelineFiles, CorruptInputNamesTheGunzipStage) {
  write_file(dir_ / "bad.gz", std::string("\x1f\x8b\x08\x00garbage that is not deflate data", 37));
  boost::asio::io_context io;
  sluice::asio_loop loop(io);
  pipeline_error got;
  int calls = 0;
  auto writer = sluice::make_file_writer(loop, dir_ / "out.txt", {.atomic = true});
  sluice::pipeline(sluice::make_file_reader(loop, dir_ / "bad.gz"), sluice::make_gunzip(loop),
                   writer, [&](const pipeline_error& e) {
                     ++calls;
                     got = e;
                   });
  io.run();
  EXPECT_EQ(calls, 1);
  ASSERT_TRUE(got);
  EXPECT_EQ(got.stage, 2u);
  EXPECT_EQ(got.stage_name, "gunzip");
  EXPECT_EQ(got.message().rfind("stage 2 (gunzip): ", 0), 0u) << got.message();
  EXPECT_TRUE(writer->destroyed());
  EXPECT_FALSE(std::filesystem::exists(dir_ / "out.txt"));  // the atomic writer was rolled back
}

TEST_F(PipelineFiles, MissingInputFileIsStageOneAndNamesThePath) {
  boost::asio::io_context io;
  sluice::asio_loop loop(io);
  pipeline_error got;
  const auto missing = dir_ / "missing.txt";
  sluice::pipeline(sluice::make_file_reader(loop, missing),
                   sluice::make_file_writer(loop, dir_ / "copy.txt", {.atomic = true}),
                   [&](const pipeline_error& e) { got = e; });
  io.run();
  EXPECT_EQ(got.code, std::errc::no_such_file_or_directory);
  EXPECT_EQ(got.stage, 1u);
  EXPECT_NE(got.message().find(missing.string()), std::string::npos) << got.message();
  EXPECT_FALSE(std::filesystem::exists(dir_ / "copy.txt"));
}

// Node's #65063: a pipeline whose set-up throws leaked the file descriptors of the streams it had
// been given. Here a listener on the writer's 'pipe' event throws half-way through the set-up:
// the exception reaches the caller, the callback never runs, and every stage is destroyed, so
// the reader's file and the atomic writer's temporary are closed and removed.
TEST_F(PipelineFiles, SetupThatThrowsClosesEveryFileItWasGiven) {
  write_file(dir_ / "in.txt", std::string(200000, 'x'));
  std::size_t fds_before = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator("/proc/self/fd"))
    ++fds_before;
  boost::asio::io_context io;
  sluice::asio_loop loop(io);
  auto reader = sluice::make_file_reader(loop, dir_ / "in.txt");
  auto gzip = sluice::make_gzip(loop);
  auto writer = sluice::make_file_writer(loop, dir_ / "out.gz", {.atomic = true});
  // Let both files open (on the I/O pool), so that there is something to leak.
  while (!reader->size() || writer->temp_path().empty()) {
    io.run_one_for(std::chrono::milliseconds(100));
    io.restart();
  }
  ASSERT_TRUE(std::filesystem::exists(writer->temp_path()));
  writer->on_pipe([](sluice::stream&) { throw std::runtime_error("listener failed"); });
  int calls = 0;
  EXPECT_THROW(sluice::pipeline(reader, gzip, writer, [&](std::error_code) { ++calls; }),
               std::runtime_error);
  io.run();
  EXPECT_EQ(calls, 0);
  EXPECT_TRUE(reader->destroyed());
  EXPECT_TRUE(gzip->destroyed());
  EXPECT_TRUE(writer->destroyed());
  std::size_t fds_after = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator("/proc/self/fd"))
    ++fds_after;
  EXPECT_EQ(fds_after, fds_before);
  std::vector<std::string> left;
  for (const auto& e : std::filesystem::directory_iterator(dir_))
    left.push_back(e.path().filename());
  EXPECT_EQ(left, std::vector<std::string>{"in.txt"});  // no temporary, no out.gz
}

}  // namespace
