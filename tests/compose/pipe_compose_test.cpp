// Conformance: the pipe() points of issue 3 that pipeline() and compose() build on:
// backpressure pause/resume, several destinations, unpipe, a destination that is already full,
// a failing destination, end = false, and an already-ended source.
#include <gtest/gtest.h>

#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <system_error>
#include <vector>

#include "sluice/core/loop.hpp"
#include "sluice/core/make.hpp"

namespace {

using sluice::manual_loop;
using write_cb = sluice::writable<int>::write_callback;

std::shared_ptr<sluice::readable<int>> count_to(manual_loop& loop, int n) {
  return sluice::make_readable<int>(loop, {.read = [i = 0, n](auto& self, std::size_t) mutable {
                                      if (i < n)
                                        self.push(i++);
                                      else
                                        self.push_eof();
                                    }});
}

std::vector<int> iota(int n) {
  std::vector<int> v;
  for (int i = 0; i < n; ++i) v.push_back(i);
  return v;
}

// A sink that completes each write on a later tick (slow), or holds it until release().
struct sink {
  std::shared_ptr<sluice::writable<int>> w;
  std::vector<int> got;
  std::vector<write_cb> held;
  int drains = 0;
  void release() {
    auto h = std::move(held);
    held.clear();
    for (auto& cb : h) cb();
  }
};

enum class pace { sync, next_tick, hold };

std::unique_ptr<sink> make_sink(manual_loop& loop, std::size_t hwm, pace p) {
  auto s = std::make_unique<sink>();
  sink* raw = s.get();
  s->w = sluice::make_writable<int>(
      loop, {.high_water_mark = hwm, .write = [&loop, raw, p](auto&, int&& x, write_cb cb) {
               raw->got.push_back(x);
               if (p == pace::sync)
                 cb();
               else if (p == pace::next_tick)
                 loop.defer([cb] { cb(); });
               else
                 raw->held.push_back(cb);
             }});
  s->w->on_drain([raw] { ++raw->drains; });
  return s;
}

TEST(PipeIssue3, PauseAndResumeFollowTheSlowWritablesDrains) {
  manual_loop loop;
  auto src = count_to(loop, 40);
  auto dst = make_sink(loop, 2, pace::next_tick);
  int pauses = 0, resumes = 0;
  src->on_pause([&] { ++pauses; });
  src->on_resume([&] { ++resumes; });
  src->pipe(dst->w);
  loop.run();
  EXPECT_EQ(dst->got, iota(40));
  // Node 20 prints "pause 20 resume 20 drain 19" for this scenario: one resume to start, one
  // pause and resume per drain, and a last pause when the finished destination is unpiped.
  EXPECT_EQ(dst->drains, 19);
  EXPECT_EQ(resumes, 20);
  EXPECT_EQ(pauses, 20);
  EXPECT_LE(dst->w->counters().peak_writable_length, 2u);
}

// Node resumes at once: the pipe writes one more chunk into the full destination, gets false and
// pauses again, so each such resume() puts a chunk beyond the highWaterMark. sluice waits for the
// destination's 'drain' (docs/node-differences.md, "Backpressure").
TEST(PipeIssue3, ManualResumeWhileDestIsFullWaitsForItsDrain) {
  manual_loop loop;
  auto src = count_to(loop, 100);
  auto dst = make_sink(loop, 1, pace::hold);
  src->pipe(dst->w);
  loop.run();
  ASSERT_EQ(dst->got.size(), 1u);  // one write in flight, the rest waits
  EXPECT_EQ(src->flowing(), std::optional<bool>(false));
  for (int i = 0; i < 3; ++i) {
    src->resume();  // the user insists, but dest is still full
    loop.run();
  }
  EXPECT_EQ(src->flowing(), std::optional<bool>(false));  // still waiting for the 'drain'
  EXPECT_FALSE(src->is_paused());
  EXPECT_EQ(dst->w->counters().chunks_in, 1u);  // nothing more went in
  EXPECT_EQ(dst->w->writable_length(), 1u);
  dst->release();
  loop.run();
  while (!dst->held.empty()) {
    dst->release();
    loop.run();
  }
  EXPECT_EQ(dst->got, iota(100));
}

TEST(PipeIssue3, SlowestDestinationGovernsAndEachGetsEveryChunkOnce) {
  manual_loop loop;
  auto src = count_to(loop, 30);
  auto fast = make_sink(loop, 16, pace::sync);
  auto slow = make_sink(loop, 1, pace::next_tick);
  int pauses = 0;
  src->on_pause([&] { ++pauses; });
  std::size_t max_lead = 0;
  fast->w->on_drain([] {});
  src->pipe(fast->w);
  src->pipe(slow->w);
  src->on_data([&](int&&) {
    max_lead = std::max(max_lead, fast->got.size() - std::min(fast->got.size(), slow->got.size()));
  });
  loop.run();
  EXPECT_EQ(fast->got, iota(30));
  EXPECT_EQ(slow->got, iota(30));
  EXPECT_GT(pauses, 0);     // the slow one paused the source...
  EXPECT_LE(max_lead, 1u);  // ...so the fast one never ran ahead
}

TEST(PipeIssue3, UnpipeOneDestinationThenAll) {
  manual_loop loop;
  auto src = sluice::make_readable<int>(loop, {.read = [](auto&, std::size_t) {}});
  auto a = make_sink(loop, 16, pace::sync);
  auto b = make_sink(loop, 16, pace::sync);
  src->pipe(a->w);
  src->pipe(b->w);
  loop.run();
  src->push(1);
  loop.run();
  src->unpipe(*a->w);
  EXPECT_EQ(src->pipe_count(), 1u);
  src->push(2);
  loop.run();
  src->unpipe();
  EXPECT_EQ(src->pipe_count(), 0u);
  EXPECT_EQ(src->flowing(), std::optional<bool>(false));  // nobody left: paused
  src->push(3);
  src->push_eof();
  loop.run();
  EXPECT_EQ(a->got, (std::vector<int>{1}));
  EXPECT_EQ(b->got, (std::vector<int>{1, 2}));
  EXPECT_FALSE(a->w->ended());  // unpipe does not end
  EXPECT_FALSE(b->w->ended());
  EXPECT_EQ(src->readable_length(), 1u);  // 3 is still waiting for a consumer
}

TEST(PipeIssue3, PipingIntoAFullDestinationPausesAtOnce) {
  manual_loop loop;
  auto dst = make_sink(loop, 1, pace::hold);
  dst->w->write(-1);  // full: write() said false
  ASSERT_TRUE(dst->w->need_drain());
  auto src = count_to(loop, 5);
  src->pipe(dst->w);
  EXPECT_EQ(src->flowing(), std::optional<bool>(false));
  loop.run();
  EXPECT_EQ(dst->got, (std::vector<int>{-1}));  // nothing flowed while full
  while (!dst->held.empty()) {
    dst->release();
    loop.run();
  }
  EXPECT_EQ(dst->got, (std::vector<int>{-1, 0, 1, 2, 3, 4}));
}

TEST(PipeIssue3, DestinationErrorUnpipesWithoutDestroyingTheSource) {
  manual_loop loop;
  auto src = sluice::make_readable<int>(loop, {.read = [](auto&, std::size_t) {}});
  auto dst = make_sink(loop, 16, pace::sync);
  src->pipe(dst->w);
  src->push(1);
  loop.run();
  dst->w->destroy(make_error_code(std::errc::broken_pipe));
  loop.run();
  EXPECT_EQ(src->pipe_count(), 0u);
  EXPECT_FALSE(src->destroyed());
  EXPECT_FALSE(src->errored());
  auto other = make_sink(loop, 16, pace::sync);
  src->pipe(other->w);  // the source lives on
  src->push(2);
  src->push_eof();
  loop.run();
  EXPECT_EQ(other->got, (std::vector<int>{2}));
  EXPECT_TRUE(other->w->finished());
}

TEST(PipeIssue3, EndFalseLeavesTheDestinationOpen) {
  manual_loop loop;
  auto src = count_to(loop, 3);
  auto dst = make_sink(loop, 16, pace::sync);
  src->pipe(dst->w, {.end = false});
  loop.run();
  EXPECT_TRUE(src->readable_ended());
  EXPECT_EQ(dst->got, iota(3));
  EXPECT_FALSE(dst->w->ended());
  EXPECT_TRUE(dst->w->write(99));  // still writable
  loop.run();
  EXPECT_EQ(dst->got.back(), 99);
}

TEST(PipeIssue3, PipingAnAlreadyEndedReadableStillEndsTheDestination) {
  manual_loop loop;
  auto src = sluice::make_readable<int>(
      loop, {.auto_destroy = false, .read = [](auto& self, std::size_t) { self.push_eof(); }});
  src->on_data([](int&&) {});
  loop.run();
  ASSERT_TRUE(src->readable_ended());
  auto dst = make_sink(loop, 16, pace::sync);
  bool finished = false;
  dst->w->on_finish([&] { finished = true; });
  src->pipe(dst->w);
  loop.run();
  EXPECT_TRUE(finished);
}

}  // namespace
