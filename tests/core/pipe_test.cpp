// Conformance: readable.pipe() against Node 20
// (tests/core/node/pipe.js, traces/pipe.txt).
//
// Each expected trace below is Node's, verbatim, including the destinations' 'pipe' and
// 'unpipe' events, checked line for line.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include "sluice/core/loop.hpp"
#include "sluice/core/make.hpp"
#include "sluice/core/readable.hpp"
#include "sluice/core/writable.hpp"
#include "support/trace.hpp"

namespace {

using sluice::manual_loop;
using sluice::readable;
using sluice::writable;
using sluice::test::trace;
using str = std::string;
using write_cb = writable<str>::write_callback;

// --- helpers mirroring lib.js / pipe.js -------------------------------------------------------

std::string fmt_bool(bool b) { return b ? "true" : "false"; }

// An error whose message is "dfail" (node_code() prints the message of non-stream errors).
class test_category final : public std::error_category {
 public:
  [[nodiscard]] const char* name() const noexcept override { return "pipe-test"; }
  [[nodiscard]] std::string message(int) const override { return "dfail"; }
};
std::error_code dfail() {
  static const test_category cat;
  return {1, cat};
}

// setImmediate: a zero-length timer fires after every queued deferred task.
void later(manual_loop& loop, std::function<void()> fn) {
  loop.start_timer(std::chrono::nanoseconds(0), std::move(fn));
}

// Node's track(src, 'src', SRC_EV).
template <class T>
void track_src(readable<T>& r, trace& tr) {
  r.on_end([&tr] { tr("[src] event end"); });
  r.on_close([&tr] { tr("[src] event close"); });
  r.on_error([&tr](std::error_code ec) { tr("[src] event error " + sluice::test::node_code(ec)); });
  r.on_pause([&tr] { tr("[src] event pause"); });
  r.on_resume([&tr] { tr("[src] event resume"); });
}

// Node's trackDst.
template <class T>
void track_dst(writable<T>& d, trace& tr, const std::string& name = "dst") {
  const std::string p = "[" + name + "] ";
  d.on_drain([&tr, p] { tr(p + "event drain"); });
  d.on_pipe([&tr, p](sluice::stream&) { tr(p + "event pipe"); });
  d.on_unpipe([&tr, p](sluice::stream&) { tr(p + "event unpipe"); });
  d.on_finish([&tr, p] { tr(p + "event finish"); });
  d.on_close([&tr, p] { tr(p + "event close"); });
  d.on_error(
      [&tr, p](std::error_code ec) { tr(p + "event error " + sluice::test::node_code(ec)); });
}

// Node's counter(src, dst).
struct counts {
  int pause = 0, resume = 0, drain = 0;
};
void counter(readable<str>& src, writable<str>& dst, trace& tr, counts& c) {
  src.on_pause([&c] { ++c.pause; });
  src.on_resume([&c] { ++c.resume; });
  dst.on_drain([&c] { ++c.drain; });
  dst.on_finish([&tr, &c] {
    tr("summary pause=" + std::to_string(c.pause) + " resume=" + std::to_string(c.resume) +
       " drain=" + std::to_string(c.drain));
  });
}

// Node's mkSrc(n): pushes "1".."n" from the read hook, one per call, then EOF.
std::shared_ptr<readable<str>> mk_src(manual_loop& loop, trace& tr, int n,
                                      std::optional<std::size_t> hwm = std::nullopt) {
  auto i = std::make_shared<int>(0);
  return sluice::make_readable<str>(
      loop, {.high_water_mark = hwm, .read = [&tr, i, n](readable<str>& self, std::size_t size) {
               ++*i;
               tr("[src] hook read " + std::to_string(size));
               if (*i <= n)
                 self.push(std::to_string(*i));
               else
                 self.push_eof();
             }});
}

// A readable whose read hook does nothing (the scenario pushes by hand).
std::shared_ptr<readable<str>> mk_manual_src(manual_loop& loop) {
  return sluice::make_readable<str>(loop, {.read = [](readable<str>&, std::size_t) {}});
}

enum class mode { sync, tick, imm, hold };

// Node's mkWritable: object mode, logs "[name] hook write x", completes per `m`.
struct dst_t {
  std::shared_ptr<writable<str>> w;
  std::shared_ptr<std::vector<write_cb>> pending;  // mode::hold
};
dst_t mk_writable(manual_loop& loop, trace& tr, const std::string& name,
                  std::optional<std::size_t> hwm, mode m,
                  std::optional<mode> final_mode = std::nullopt) {
  auto pending = std::make_shared<std::vector<write_cb>>();
  const std::string p = "[" + name + "] ";
  sluice::writable_spec<str> spec{
      .high_water_mark = hwm,
      .write = [&loop, &tr, p, m, pending](writable<str>&, str&& c, write_cb cb) {
        tr(p + "hook write " + c);
        switch (m) {
          case mode::sync:
            cb();
            break;
          case mode::tick:
            loop.defer([cb] { cb(); });
            break;
          case mode::imm:
            later(loop, [cb] { cb(); });
            break;
          case mode::hold:
            pending->push_back(cb);
            break;
        }
      }};
  if (final_mode) {
    // Only 'sync' is used by the scenarios.
    spec.final = [&tr, p](writable<str>&, sluice::callback cb) {
      tr(p + "hook final");
      cb({});
    };
  }
  return {sluice::make_writable<str>(loop, std::move(spec)), pending};
}

// Node's w(dst, chunk): logs the result and the callback.
bool w(writable<str>& d, trace& tr, const str& chunk, const std::string& name) {
  const std::string p = "[" + name + "] ";
  const bool r = d.write(chunk, [&tr, p, chunk](std::error_code ec) {
    tr(p + "cb " + chunk + " " + (ec ? sluice::test::node_code(ec) : std::string("null")));
  });
  tr(p + "write(" + chunk + ") -> " + fmt_bool(r));
  return r;
}

bool push(readable<str>& r, trace& tr, const str& c) {
  const bool ok = r.push(c);
  tr("[src] push(" + c + ") -> " + fmt_bool(ok));
  return ok;
}

// Node's push(null) always returns false; push_eof() is void.
void push_eof(readable<str>& r, trace& tr) {
  r.push_eof();
  tr("[src] push(null) -> false");
}

std::string flowing_str(const readable<str>& r) {
  const auto f = r.flowing();
  return f ? fmt_bool(*f) : "null";
}

// --- scenarios --------------------------------------------------------------------------------

TEST(Pipe, slow_dest_10_items) {
  manual_loop loop;
  trace t;
  counts c;
  auto src = mk_src(loop, t, 10, 2);
  track_src(*src, t);
  auto dst = mk_writable(loop, t, "dst", 2, mode::imm);
  track_dst(*dst.w, t);
  counter(*src, *dst.w, t, c);
  src->pipe(dst.w);
  t.sync();
  loop.run();
  EXPECT_TRACE(t, R"(
[dst] event pipe
-- sync
[src] hook read 2
[src] event resume
[src] hook read 2
[dst] hook write 1
[src] hook read 2
[src] event pause
[src] hook read 2
[dst] hook write 2
[dst] event drain
[src] event resume
[src] hook read 2
[dst] hook write 3
[src] hook read 2
[src] event pause
[dst] hook write 4
[dst] event drain
[src] event resume
[src] hook read 2
[dst] hook write 5
[src] hook read 2
[src] event pause
[dst] hook write 6
[dst] event drain
[src] event resume
[src] hook read 2
[dst] hook write 7
[src] hook read 2
[src] event pause
[dst] hook write 8
[dst] event drain
[src] event resume
[src] hook read 2
[dst] hook write 9
[src] event pause
[src] event end
[src] event close
[dst] hook write 10
[dst] event finish
summary pause=5 resume=5 drain=4
[dst] event unpipe
[dst] event close
)");
}

TEST(Pipe, tick_dest_5_items) {
  manual_loop loop;
  trace t;
  counts c;
  auto src = mk_src(loop, t, 5, 2);
  track_src(*src, t);
  auto dst = mk_writable(loop, t, "dst", 2, mode::tick);
  track_dst(*dst.w, t);
  counter(*src, *dst.w, t, c);
  src->pipe(dst.w);
  t.sync();
  loop.run();
  EXPECT_TRACE(t, R"(
[dst] event pipe
-- sync
[src] hook read 2
[src] event resume
[src] hook read 2
[dst] hook write 1
[src] hook read 2
[src] event pause
[src] hook read 2
[dst] hook write 2
[dst] event drain
[src] event resume
[src] hook read 2
[dst] hook write 3
[src] hook read 2
[src] event pause
[dst] hook write 4
[dst] event drain
[src] event resume
[dst] hook write 5
[src] event end
[src] event close
[dst] event finish
summary pause=2 resume=3 drain=2
[src] event pause
[dst] event unpipe
[dst] event close
)");
}

TEST(Pipe, sync_dest_3_items) {
  manual_loop loop;
  trace t;
  auto src = mk_src(loop, t, 3);
  track_src(*src, t);
  auto dst = mk_writable(loop, t, "dst", 2, mode::sync);
  track_dst(*dst.w, t);
  // Strictly item by item: Node's order of read and write hooks (with runs, the default, the
  // source is asked for more once per run: sync_dest_3_items_in_runs below).
  t("pipe returns dst: " + fmt_bool(src->pipe(dst.w, {.runs = false}) == dst.w));
  t.sync();
  loop.run();
  EXPECT_TRACE(t, R"(
[dst] event pipe
pipe returns dst: true
-- sync
[src] hook read 16
[src] event resume
[src] hook read 16
[dst] hook write 1
[src] hook read 16
[dst] hook write 2
[src] hook read 16
[dst] hook write 3
[src] event end
[dst] event finish
[src] event pause
[dst] event unpipe
[src] event close
[dst] event close
)");
}

// The same with runs (the default): the destination completes every write during the call, so
// the two items buffered when the flow starts go over in one run, and the source's read hook
// runs before each run instead of before each item. Items, events and their order otherwise
// as above.
TEST(Pipe, sync_dest_3_items_in_runs) {
  manual_loop loop;
  trace t;
  auto src = mk_src(loop, t, 3);
  track_src(*src, t);
  auto dst = mk_writable(loop, t, "dst", 2, mode::sync);
  track_dst(*dst.w, t);
  src->pipe(dst.w);
  t.sync();
  loop.run();
  EXPECT_TRACE(t, R"(
[dst] event pipe
-- sync
[src] hook read 16
[src] event resume
[src] hook read 16
[dst] hook write 1
[dst] hook write 2
[src] hook read 16
[dst] hook write 3
[src] hook read 16
[src] event end
[dst] event finish
[src] event pause
[dst] event unpipe
[src] event close
[dst] event close
)");
}

TEST(Pipe, pipe_into_full_dest) {
  manual_loop loop;
  trace t;
  auto dst = mk_writable(loop, t, "dst", 1, mode::hold);
  track_dst(*dst.w, t);
  w(*dst.w, t, "pre", "dst");
  auto src = mk_manual_src(loop);
  track_src(*src, t);
  push(*src, t, "a");
  push(*src, t, "b");
  push_eof(*src, t);
  src->pipe(dst.w);
  auto release = [&] {
    t("release held writes");
    auto& pending = *dst.pending;
    while (!pending.empty()) {
      auto cb = pending.front();
      pending.erase(pending.begin());
      cb();
    }
  };
  later(loop, release);
  later(loop, release);
  later(loop, release);
  t.sync();
  loop.run();
  EXPECT_TRACE(t, R"(
[dst] hook write pre
[dst] write(pre) -> false
[src] push(a) -> true
[src] push(b) -> true
[src] push(null) -> false
[dst] event pipe
[src] event pause
-- sync
[src] event resume
release held writes
[dst] event drain
[dst] cb pre null
[src] event resume
[dst] hook write a
[src] event pause
release held writes
[dst] event drain
[src] event resume
[dst] hook write b
[src] event pause
[src] event end
[src] event close
release held writes
[dst] event finish
[dst] event unpipe
[dst] event close
)");
}

TEST(Pipe, unpipe) {
  manual_loop loop;
  trace t;
  auto src = mk_manual_src(loop);
  track_src(*src, t);
  auto dst = mk_writable(loop, t, "dst", std::nullopt, mode::sync);
  track_dst(*dst.w, t);
  src->pipe(dst.w);
  push(*src, t, "a");
  later(loop, [&] {
    t("unpipe");
    src->unpipe(*dst.w);
    t("[src] state readableFlowing=" + flowing_str(*src));
    push(*src, t, "b");
    push_eof(*src, t);
  });
  t.sync();
  loop.run();
  EXPECT_TRACE(t, R"(
[dst] event pipe
[src] push(a) -> true
-- sync
[src] event resume
[dst] hook write a
unpipe
[src] event pause
[dst] event unpipe
[src] state readableFlowing=false
[src] push(b) -> true
[src] push(null) -> false
)");
}

TEST(Pipe, dest_error_unpipes) {
  manual_loop loop;
  trace t;
  auto src = mk_manual_src(loop);
  track_src(*src, t);
  auto dst = sluice::make_writable<str>(loop, {.write = [&t](writable<str>&, str&& c, write_cb cb) {
                                          t("[dst] hook write " + c);
                                          cb(c == "b" ? dfail() : std::error_code{});
                                        }});
  track_dst(*dst, t);
  src->pipe(dst);
  push(*src, t, "a");
  push(*src, t, "b");
  push(*src, t, "c");
  later(loop, [&] {
    t("[src] state readableFlowing=" + flowing_str(*src) + " readableLength=" +
      std::to_string(src->readable_length()) + " destroyed=" + fmt_bool(src->destroyed()));
  });
  t.sync();
  loop.run();
  EXPECT_TRACE(t, R"(
[dst] event pipe
[src] push(a) -> true
[src] push(b) -> true
[src] push(c) -> true
-- sync
[src] event resume
[dst] hook write a
[dst] hook write b
[src] event pause
[dst] event unpipe
[dst] event error dfail
[dst] event close
[src] state readableFlowing=false readableLength=1 destroyed=false
)");
}

TEST(Pipe, end_false) {
  manual_loop loop;
  trace t;
  auto src = mk_src(loop, t, 2);
  track_src(*src, t);
  auto dst = mk_writable(loop, t, "dst", std::nullopt, mode::sync);
  track_dst(*dst.w, t);
  src->pipe(dst.w, {.end = false, .runs = false});  // Node's order: see sync_dest_3_items
  src->on_end([&] {
    later(loop, [&] {
      t("dst still writable");
      t("[dst] state writableEnded=" + fmt_bool(dst.w->ended()));
      dst.w->end("x");
    });
  });
  t.sync();
  loop.run();
  EXPECT_TRACE(t, R"(
[dst] event pipe
-- sync
[src] hook read 16
[src] event resume
[src] hook read 16
[dst] hook write 1
[src] hook read 16
[dst] hook write 2
[src] event end
[src] event pause
[dst] event unpipe
[src] event close
dst still writable
[dst] state writableEnded=false
[dst] hook write x
[dst] event finish
[dst] event close
)");
}

TEST(Pipe, end_default_timing) {
  manual_loop loop;
  trace t;
  auto src = mk_manual_src(loop);
  track_src(*src, t);
  auto dst = mk_writable(loop, t, "dst", std::nullopt, mode::sync, mode::sync);
  track_dst(*dst.w, t);
  src->pipe(dst.w);
  push(*src, t, "a");
  push_eof(*src, t);
  t.sync();
  loop.run();
  EXPECT_TRACE(t, R"(
[dst] event pipe
[src] push(a) -> true
[src] push(null) -> false
-- sync
[src] event resume
[dst] hook write a
[src] event end
[dst] hook final
[dst] event finish
[src] event pause
[dst] event unpipe
[src] event close
[dst] event close
)");
}

TEST(Pipe, two_dests_one_slow) {
  manual_loop loop;
  trace t;
  auto src = mk_src(loop, t, 4, 1);
  track_src(*src, t);
  auto fast = mk_writable(loop, t, "fast", 1, mode::sync);
  track_dst(*fast.w, t, "fast");
  auto slow = mk_writable(loop, t, "slow", 1, mode::imm);
  track_dst(*slow.w, t, "slow");
  src->pipe(fast.w);
  src->pipe(slow.w);
  t.sync();
  loop.run();
  EXPECT_TRACE(t, R"(
[fast] event pipe
[slow] event pipe
-- sync
[src] hook read 1
[src] event resume
[src] hook read 1
[fast] hook write 1
[slow] hook write 1
[src] event pause
[slow] event drain
[src] event resume
[src] hook read 1
[fast] hook write 2
[slow] hook write 2
[src] event pause
[slow] event drain
[src] event resume
[src] hook read 1
[fast] hook write 3
[slow] hook write 3
[src] event pause
[slow] event drain
[src] event resume
[src] hook read 1
[fast] hook write 4
[slow] hook write 4
[src] event pause
[src] event end
[src] event close
[fast] event finish
[fast] event unpipe
[fast] event close
[slow] event finish
[slow] event unpipe
[slow] event close
)");
}

TEST(Pipe, src_destroyed_mid_pipe) {
  manual_loop loop;
  trace t;
  auto src = mk_manual_src(loop);
  track_src(*src, t);
  auto dst = mk_writable(loop, t, "dst", std::nullopt, mode::sync);
  track_dst(*dst.w, t);
  src->pipe(dst.w);
  push(*src, t, "a");
  later(loop, [&] {
    t("destroy src");
    src->destroy();
  });
  later(loop, [&] {
    t("[dst] state writableEnded=" + fmt_bool(dst.w->ended()) +
      " destroyed=" + fmt_bool(dst.w->destroyed()));
  });
  t.sync();
  loop.run();
  EXPECT_TRACE(t, R"(
[dst] event pipe
[src] push(a) -> true
-- sync
[src] event resume
[dst] hook write a
destroy src
[src] event close
[dst] state writableEnded=false destroyed=false
)");
}

TEST(Pipe, pipe_into_ended_dest) {
  manual_loop loop;
  trace t;
  auto dst = mk_writable(loop, t, "dst", std::nullopt, mode::sync);
  track_dst(*dst.w, t);
  dst.w->end();
  auto src = mk_manual_src(loop);
  track_src(*src, t);
  src->pipe(dst.w);
  push(*src, t, "a");
  t.sync();
  loop.run();
  EXPECT_TRACE(t, R"(
[dst] event pipe
[src] push(a) -> true
-- sync
[dst] event finish
[src] event pause
[dst] event unpipe
[src] event resume
[dst] event close
)");
}

// --- beyond the traces ------------------------------------------------------------------------

// A slow destination (hwm 2, each write completing on a later tick) fed by a fast source of 100
// items: every item arrives once and in order, and the source pauses exactly once per write()
// that returned false. The pipe's write() happens inside the pipe's own 'data' listener; a
// second listener added after pipe() runs right after it and sees whether that write() returned
// false (writable_length() >= hwm on a healthy destination).
TEST(Pipe, slow_dest_100_items_pause_per_false_write) {
  manual_loop loop;
  int next = 0;
  auto src = sluice::make_readable<int>(loop, {.read = [&](readable<int>& self, std::size_t) {
                                          if (next < 100)
                                            self.push(next++);
                                          else
                                            self.push_eof();
                                        }});
  std::vector<int> got;
  auto dst = sluice::make_writable<int>(
      loop, {.high_water_mark = 2,
             .write = [&](writable<int>&, int&& v, writable<int>::write_callback cb) {
               got.push_back(v);
               loop.defer([cb] { cb(); });
             }});
  int pauses = 0;
  int false_writes = 0;
  std::optional<int> pauses_at_finish;
  src->on_pause([&] { ++pauses; });
  dst->on_finish([&] { pauses_at_finish = pauses; });
  src->pipe(dst);
  src->on_data([&](int&&) {
    if (dst->writable_length() >= dst->writable_high_water_mark()) ++false_writes;
  });
  loop.run();

  ASSERT_EQ(got.size(), 100u);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(got[static_cast<std::size_t>(i)], i) << i;
  EXPECT_TRUE(dst->finished());
  EXPECT_GT(false_writes, 10);  // backpressure really happened
  ASSERT_TRUE(pauses_at_finish.has_value());
  EXPECT_EQ(*pauses_at_finish, false_writes);
  EXPECT_EQ(dst->counters().write_backpressure, static_cast<std::uint64_t>(false_writes));
  EXPECT_EQ(dst->counters().chunks_in, 100u);
  EXPECT_LE(dst->counters().peak_writable_length, 2u);
  EXPECT_EQ(src->counters().chunks_out, 100u);
}

// Two destinations, one slow: both get every chunk exactly once, in order, and the source is
// never more than (slow hwm + source hwm) items ahead of what the slow one has completed.
TEST(Pipe, two_dests_bounded_by_slowest) {
  manual_loop loop;
  constexpr std::size_t src_hwm = 2;
  constexpr std::size_t slow_hwm = 3;
  constexpr int n = 60;
  int produced = 0;
  int slow_done = 0;
  int max_ahead = 0;
  auto src = sluice::make_readable<int>(
      loop, {.high_water_mark = src_hwm, .read = [&](readable<int>& self, std::size_t) {
               if (produced < n) {
                 self.push(produced++);
                 max_ahead = std::max(max_ahead, produced - slow_done);
               } else {
                 self.push_eof();
               }
             }});
  std::vector<int> fast_got, slow_got;
  auto fast = sluice::make_writable<int>(
      loop, {.high_water_mark = 1,
             .write = [&](writable<int>&, int&& v, writable<int>::write_callback cb) {
               fast_got.push_back(v);
               cb();
             }});
  auto slow = sluice::make_writable<int>(
      loop, {.high_water_mark = slow_hwm,
             .write = [&](writable<int>&, int&& v, writable<int>::write_callback cb) {
               slow_got.push_back(v);
               later(loop, [&slow_done, cb] {
                 ++slow_done;
                 cb();
               });
             }});
  src->pipe(fast);
  src->pipe(slow);
  loop.run();

  std::vector<int> want(n);
  for (int i = 0; i < n; ++i) want[static_cast<std::size_t>(i)] = i;
  EXPECT_EQ(fast_got, want);
  EXPECT_EQ(slow_got, want);
  EXPECT_TRUE(fast->finished());
  EXPECT_TRUE(slow->finished());
  EXPECT_GT(max_ahead, 1);
  EXPECT_LE(max_ahead, static_cast<int>(slow_hwm + src_hwm));
  EXPECT_LE(slow->counters().peak_writable_length, slow_hwm);
}

// unpipe(dest) stops delivery to dest, does not end it, and leaves the rest readable.
TEST(Pipe, unpipe_stops_delivery_without_ending) {
  manual_loop loop;
  auto src = mk_manual_src(loop);
  std::vector<str> got;
  auto dst = sluice::make_writable<str>(loop, {.write = [&](writable<str>&, str&& c, write_cb cb) {
                                          got.push_back(c);
                                          cb();
                                        }});
  src->pipe(dst);
  EXPECT_EQ(src->pipe_count(), 1u);
  src->push("a");
  loop.run();
  src->unpipe(*dst);
  EXPECT_EQ(src->pipe_count(), 0u);
  EXPECT_EQ(src->data_listener_count(), 0u);
  EXPECT_EQ(src->flowing(), std::optional<bool>(false));
  src->push("b");
  src->push_eof();
  loop.run();
  EXPECT_EQ(got, std::vector<str>{"a"});
  EXPECT_FALSE(dst->ended());
  EXPECT_FALSE(dst->finished());
  EXPECT_FALSE(dst->destroyed());
  EXPECT_TRUE(dst->is_writable());
  EXPECT_EQ(dst->drain_listener_count(), 0u);
  EXPECT_EQ(src->read(), std::optional<str>("b"));
  loop.run();
  EXPECT_TRUE(src->readable_ended());
  // dest still works on its own.
  EXPECT_TRUE(dst->write("z"));
  dst->end();
  loop.run();
  EXPECT_EQ(got, (std::vector<str>{"a", "z"}));
  EXPECT_TRUE(dst->finished());
}

// A destination error unpipes it; the source is neither destroyed nor errored, keeps its
// buffered data, and can be piped again.
TEST(Pipe, dest_error_unpipes_source_survives) {
  manual_loop loop;
  auto src = mk_manual_src(loop);
  auto dst = sluice::make_writable<str>(loop, {.write = [](writable<str>&, str&& c, write_cb cb) {
                                          cb(c == "b" ? dfail() : std::error_code{});
                                        }});
  src->pipe(dst);
  src->push("a");
  src->push("b");
  src->push("c");
  loop.run();
  EXPECT_EQ(dst->errored(), dfail());
  EXPECT_TRUE(dst->destroyed());
  EXPECT_EQ(src->pipe_count(), 0u);
  EXPECT_FALSE(src->destroyed());
  EXPECT_FALSE(src->errored());
  EXPECT_EQ(src->flowing(), std::optional<bool>(false));
  EXPECT_EQ(src->readable_length(), 1u);

  std::vector<str> got;
  auto dst2 = sluice::make_writable<str>(loop, {.write = [&](writable<str>&, str&& c, write_cb cb) {
                                           got.push_back(c);
                                           cb();
                                         }});
  src->pipe(dst2);
  src->push_eof();
  loop.run();
  EXPECT_EQ(got, std::vector<str>{"c"});
  EXPECT_TRUE(dst2->finished());
  EXPECT_TRUE(src->readable_ended());
}

// Node attaches pipe()'s 'error' handler to the destination before userland ones
// (prependListener), so a user 'error' listener added before pipe() already sees the source
// unpiped and paused (pipe.txt/dest_error_unpipes: "[dst] event unpipe" before "[dst] event
// error dfail").
TEST(Pipe, dest_error_listener_runs_after_unpipe) {
  manual_loop loop;
  auto src = mk_manual_src(loop);
  auto dst = sluice::make_writable<str>(
      loop, {.write = [](writable<str>&, str&&, write_cb cb) { cb(dfail()); }});
  std::optional<std::size_t> pipes_seen;
  dst->on_error([&](std::error_code) { pipes_seen = src->pipe_count(); });
  src->pipe(dst);
  src->push("a");
  loop.run();
  ASSERT_TRUE(pipes_seen.has_value());
  EXPECT_EQ(*pipes_seen, 0u);
  EXPECT_EQ(src->pipe_count(), 0u);
}

// pipe(dest, {.end = false}) leaves dest open after the source ends.
TEST(Pipe, end_false_leaves_dest_open) {
  manual_loop loop;
  auto src = mk_manual_src(loop);
  std::vector<str> got;
  auto dst = sluice::make_writable<str>(loop, {.write = [&](writable<str>&, str&& c, write_cb cb) {
                                          got.push_back(c);
                                          cb();
                                        }});
  src->pipe(dst, {.end = false});
  src->push("a");
  src->push_eof();
  loop.run();
  EXPECT_TRUE(src->readable_ended());
  EXPECT_EQ(src->pipe_count(), 0u);
  EXPECT_FALSE(dst->ended());
  EXPECT_FALSE(dst->finished());
  EXPECT_FALSE(dst->destroyed());
  EXPECT_TRUE(dst->is_writable());
  EXPECT_TRUE(dst->write("b"));
  dst->end();
  loop.run();
  EXPECT_EQ(got, (std::vector<str>{"a", "b"}));
  EXPECT_TRUE(dst->finished());
}

// Piping a readable that has already emitted 'end' still ends the destination.
TEST(Pipe, pipe_already_ended_source_ends_dest) {
  manual_loop loop;
  auto src = mk_manual_src(loop);
  src->push_eof();
  src->resume();
  loop.run();
  ASSERT_TRUE(src->readable_ended());
  int writes = 0;
  auto dst = sluice::make_writable<str>(loop, {.write = [&](writable<str>&, str&&, write_cb cb) {
                                          ++writes;
                                          cb();
                                        }});
  bool finished = false;
  dst->on_finish([&] { finished = true; });
  src->pipe(dst);
  loop.run();
  EXPECT_TRUE(dst->ended());
  EXPECT_TRUE(finished);
  EXPECT_EQ(writes, 0);
  EXPECT_EQ(src->pipe_count(), 0u);
}

}  // namespace
