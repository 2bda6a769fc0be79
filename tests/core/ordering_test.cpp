// Orderings where sluice keeps its own order on purpose (docs/node-differences.md, "Orderings").
// Each test runs the scenario of tests/core/node/ordering.js, pins sluice's trace, and quotes
// Node 20's (traces/ordering.txt) with the difference, so a change either way is noticed.
#include <gtest/gtest.h>

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "sluice/core/buffer.hpp"
#include "sluice/core/loop.hpp"
#include "sluice/core/make.hpp"
#include "sluice/core/readable.hpp"
#include "sluice/core/writable.hpp"
#include "support/trace.hpp"

namespace {

using sluice::manual_loop;
using sluice::test::trace;
using str = std::string;

std::string code_of(std::error_code ec) { return ec ? sluice::test::node_code(ec) : "null"; }

// An error whose node_code() is "EBOOM".
class boom_category final : public std::error_category {
 public:
  [[nodiscard]] const char* name() const noexcept override { return "ordering-test"; }
  [[nodiscard]] std::string message(int) const override { return "EBOOM"; }
};
std::error_code boom() {
  static const boom_category cat;
  return {1, cat};
}

// An object-mode source of "1".."n" (one push per read), logging pause/resume/end as [src].
std::shared_ptr<sluice::readable<str>> counting(manual_loop& loop, trace& tr, int n,
                                                std::size_t hwm = 2) {
  auto i = std::make_shared<int>(0);
  auto src = sluice::make_readable<str>(
      loop, {.high_water_mark = hwm, .read = [i, n](sluice::readable<str>& self, std::size_t) {
               ++*i;
               if (*i <= n)
                 self.push(std::to_string(*i));
               else
                 self.push_eof();
             }});
  src->on_pause([&tr] { tr("[src] event pause"); });
  src->on_resume([&tr] { tr("[src] event resume"); });
  src->on_end([&tr] { tr("[src] event end"); });
  return src;
}

// A highWaterMark-0 object-mode destination whose writes complete on the next tick.
std::shared_ptr<sluice::writable<str>> tick_dst(manual_loop& loop, trace& tr) {
  auto dst = sluice::make_writable<str>(
      loop, {.high_water_mark = 0, .write = [&loop, &tr](auto&, str&& x, auto cb) {
               tr("[dst] hook write " + x);
               loop.defer([cb] { cb(); });
             }});
  dst->on_drain([&tr] { tr("[dst] event drain"); });
  dst->on_finish([&tr] { tr("[dst] event finish"); });
  return dst;
}

// Node: "cb a null", "end cb EBOOM", "cb b null", "cb c null", "event error EBOOM", "event close".
// sluice delivers the callbacks of writes that completed synchronously together, in write order,
// in one tick (its batching of synchronous completions), and the end callback after them.
TEST(Ordering, SyncWritesThenEndThenDestroyCallsEveryWriteCallbackFirst) {
  manual_loop loop;
  trace tr;
  auto s = sluice::make_writable<str>(loop, {.write = [&tr](auto&, str&& x, auto cb) {
                                        tr("hook write " + x);
                                        cb();
                                      }});
  s->on_finish([&tr] { tr("event finish"); });
  s->on_error([&tr](std::error_code ec) { tr("event error " + code_of(ec)); });
  s->on_close([&tr] { tr("event close"); });
  for (const char* x : {"a", "b", "c"}) {
    const bool r = s->write(
        x, [&tr, x](std::error_code ec) { tr(std::string("cb ") + x + " " + code_of(ec)); });
    tr(std::string("write(") + x + ") -> " + (r ? "true" : "false"));
  }
  s->end([&tr](std::error_code ec) { tr("end cb " + code_of(ec)); });
  s->destroy(boom());
  tr.sync();
  loop.run();
  EXPECT_TRACE(tr, R"(
    hook write a
    write(a) -> true
    hook write b
    write(b) -> true
    hook write c
    write(c) -> true
    -- sync
    cb a null
    cb b null
    cb c null
    end cb EBOOM
    event error EBOOM
    event close
  )");
}

// Node: "-- sync", "event finish", "tick queued after end", "event close": in byte mode a
// finished writable emits 'finish' in the tick end() queued, before a tick queued after end().
// sluice emits 'finish' from a tick queued by the write's completion path, after it.
TEST(Ordering, ByteModeFinishComesAfterATickQueuedAfterEnd) {
  manual_loop loop;
  trace tr;
  auto s = sluice::make_writable<sluice::buffer>(
      loop, {.write = [&tr](auto&, sluice::buffer&& x, auto cb) {
        tr("hook write " + x.to_string());
        cb();
      }});
  s->on_finish([&tr] { tr("event finish"); });
  s->on_close([&tr] { tr("event close"); });
  const bool r = s->write(sluice::buffer(std::string("x")));
  tr(std::string("write(x) -> ") + (r ? "true" : "false"));
  s->end();
  tr("end() returned");
  loop.defer([&tr] { tr("tick queued after end"); });
  tr.sync();
  loop.run();
  EXPECT_TRACE(tr, R"(
    hook write x
    write(x) -> true
    end() returned
    -- sync
    tick queued after end
    event finish
    event close
  )");
}

// Node (pipe_hwm0_tick: source highWaterMark 16, four items): after the second 'drain' the next
// chunk goes out before the source's 'resume': "[dst] event drain", "[dst] hook write 3",
// "[src] event pause", "[src] event resume", "[dst] event drain", "[src] event resume", "[dst]
// hook write 4". sluice resumes the source first ("[src] event resume", "[dst] hook write 3",
// "[src] event pause"). The items, the number of each event and the end are the same.
TEST(Ordering, PipeIntoAnHwm0DestinationResumesBeforeTheNextWrite) {
  manual_loop loop;
  trace tr;
  auto src = counting(loop, tr, 4, 16);
  auto dst = tick_dst(loop, tr);
  src->pipe(dst);
  tr.sync();
  loop.run();
  EXPECT_TRACE(tr, R"(
    -- sync
    [src] event resume
    [dst] hook write 1
    [src] event pause
    [dst] event drain
    [dst] hook write 2
    [src] event pause
    [src] event resume
    [dst] event drain
    [src] event resume
    [dst] hook write 3
    [src] event pause
    [dst] event drain
    [src] event resume
    [dst] hook write 4
    [src] event pause
    [src] event end
    [dst] event finish
  )");
}

// Node (pipe_twice_hwm0_tick): at 'finish' the two pipes are unpiped one after the other, and
// the source emits 'pause' then 'resume' ("[dst] event unpipe", "[src] event pause", "[dst]
// event unpipe", "[src] event resume"). sluice's source has ended by then and emits neither.
TEST(Ordering, ADestinationPipedTwiceUnpipesWithoutPauseOrResume) {
  manual_loop loop;
  trace tr;
  auto src = counting(loop, tr, 2);
  auto dst = tick_dst(loop, tr);
  dst->on_unpipe([&tr](sluice::stream&) { tr("[dst] event unpipe"); });
  src->pipe(dst);
  src->pipe(dst);
  tr.sync();
  loop.run();
  EXPECT_TRACE(tr, R"(
    -- sync
    [src] event resume
    [dst] hook write 1
    [src] event pause
    [dst] hook write 1
    [dst] event drain
    [src] event resume
    [dst] hook write 2
    [src] event pause
    [src] event end
    [dst] hook write 2
    [dst] event finish
    [dst] event unpipe
    [dst] event unpipe
  )");
}

}  // namespace
