// Conformance: the scenarios of node/writable_backpressure.js, each asserting the trace Node 20
// printed (node/traces/writable_backpressure.txt), plus a few checks beyond the traces.
#include <gtest/gtest.h>

#include <chrono>
#include <deque>
#include <functional>
#include <initializer_list>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include "sluice/core/loop.hpp"
#include "sluice/core/make.hpp"
#include "support/trace.hpp"
#include "support/writable_harness.hpp"

namespace {

using namespace sluice::test::writable_harness;  // NOLINT(google-build-using-namespace)

// ---- Scenarios
// -----------------------------------------------------------------------------------

using str = std::string;

TEST(WritableBackpressure, sync_hook_obj_hwm3) {
  manual_loop loop;
  trace t;
  auto s = mk_writable<str>(loop, t, {.write = done::sync, .hwm = 3});
  track(*s, t);
  for (const char* c : {"a", "b", "c", "d"}) {
    w(*s, t, c);
    state(*s, t, {"writableLength", "writableNeedDrain"});
  }
  t.sync();
  loop.run();
  EXPECT_TRACE(t, R"(
    hook write a
    write(a) -> true
    state writableLength=0 writableNeedDrain=false
    hook write b
    write(b) -> true
    state writableLength=0 writableNeedDrain=false
    hook write c
    write(c) -> true
    state writableLength=0 writableNeedDrain=false
    hook write d
    write(d) -> true
    state writableLength=0 writableNeedDrain=false
    -- sync
    cb a null
    cb b null
    cb c null
    cb d null
  )");
}

TEST(WritableBackpressure, sync_hook_obj_hwm1_drain_vs_cb) {
  manual_loop loop;
  trace t;
  auto s = mk_writable<str>(loop, t, {.write = done::sync, .hwm = 1});
  track(*s, t);
  for (const char* c : {"a", "b", "c"}) {
    w(*s, t, c);
    state(*s, t, {"writableLength", "writableNeedDrain"});
  }
  t.sync();
  loop.run();
  EXPECT_TRACE(t, R"(
    hook write a
    write(a) -> true
    state writableLength=0 writableNeedDrain=false
    hook write b
    write(b) -> true
    state writableLength=0 writableNeedDrain=false
    hook write c
    write(c) -> true
    state writableLength=0 writableNeedDrain=false
    -- sync
    cb a null
    cb b null
    cb c null
  )");
}

TEST(WritableBackpressure, tick_hook_obj_hwm2) {
  manual_loop loop;
  trace t;
  auto s = mk_writable<str>(loop, t, {.write = done::tick, .hwm = 2});
  track(*s, t);
  for (const char* c : {"a", "b", "c"}) {
    w(*s, t, c);
    state(*s, t, {"writableLength", "writableNeedDrain"});
  }
  s->on_drain([&] { state(*s, t, {"writableLength", "writableNeedDrain"}); });
  t.sync();
  loop.run();
  EXPECT_TRACE(t, R"(
    hook write a
    write(a) -> true
    state writableLength=1 writableNeedDrain=false
    write(b) -> false
    state writableLength=2 writableNeedDrain=true
    write(c) -> false
    state writableLength=3 writableNeedDrain=true
    -- sync
    hook write b
    cb a null
    hook write c
    cb b null
    event drain
    state writableLength=0 writableNeedDrain=false
    cb c null
  )");
}

TEST(WritableBackpressure, imm_hook_obj_hwm2) {
  manual_loop loop;
  trace t;
  auto s = mk_writable<str>(loop, t, {.write = done::imm, .hwm = 2});
  track(*s, t);
  w(*s, t, "a");
  w(*s, t, "b");
  w(*s, t, "c");
  t.sync();
  loop.run();
  EXPECT_TRACE(t, R"(
    hook write a
    write(a) -> true
    write(b) -> false
    write(c) -> false
    -- sync
    hook write b
    cb a null
    hook write c
    cb b null
    event drain
    cb c null
  )");
}

TEST(WritableBackpressure, held_then_sync_flush) {
  manual_loop loop;
  trace t;
  std::optional<writable<str>::write_callback> held;
  auto s = sluice::make_writable<str>(
      loop, {.high_water_mark = 2, .write = [&](writable<str>&, str&& c, auto cb) {
               t("hook write " + c);
               if (c == "a")
                 held = cb;
               else
                 cb();
             }});
  track(*s, t);
  w(*s, t, "a");
  w(*s, t, "b");
  w(*s, t, "c");
  later(loop, [&] {
    t("complete a");
    (*held)();
    t("complete a returned");
    state(*s, t, {"writableLength", "writableNeedDrain"});
  });
  t.sync();
  loop.run();
  EXPECT_TRACE(t, R"(
    hook write a
    write(a) -> true
    write(b) -> false
    write(c) -> false
    -- sync
    complete a
    hook write b
    hook write c
    event drain
    cb a null
    complete a returned
    state writableLength=0 writableNeedDrain=false
    cb b null
    cb c null
  )");
}

TEST(WritableBackpressure, drain_once_per_episode) {
  manual_loop loop;
  trace t;
  auto s = mk_writable<str>(loop, t, {.write = done::tick, .hwm = 2});
  track(*s, t);
  int episode = 0;
  s->on_drain([&] {
    ++episode;
    t("drain handler episode " + std::to_string(episode));
    if (episode == 1) {
      w(*s, t, "c");
      w(*s, t, "d");
      w(*s, t, "e");
    }
    if (episode == 2) {
      later(loop, [&] {
        t("third batch");
        w(*s, t, "f");
      });
    }
  });
  w(*s, t, "a");
  w(*s, t, "b");
  t.sync();
  loop.run();
  EXPECT_TRACE(t, R"(
    hook write a
    write(a) -> true
    write(b) -> false
    -- sync
    hook write b
    cb a null
    event drain
    drain handler episode 1
    hook write c
    write(c) -> true
    write(d) -> false
    write(e) -> false
    cb b null
    hook write d
    cb c null
    hook write e
    cb d null
    event drain
    drain handler episode 2
    cb e null
    third batch
    hook write f
    write(f) -> true
    cb f null
  )");
}

TEST(WritableBackpressure, write_inside_drain) {
  manual_loop loop;
  trace t;
  auto s = mk_writable<str>(loop, t, {.write = done::tick, .hwm = 1});
  track(*s, t);
  s->once_drain([&] {
    t("in drain");
    w(*s, t, "b");
    state(*s, t, {"writableLength", "writableNeedDrain"});
  });
  w(*s, t, "a");
  t.sync();
  loop.run();
  EXPECT_TRACE(t, R"(
    hook write a
    write(a) -> false
    -- sync
    event drain
    in drain
    hook write b
    write(b) -> false
    state writableLength=1 writableNeedDrain=true
    cb a null
    event drain
    cb b null
  )");
}

TEST(WritableBackpressure, hwm0_obj_sync) {
  manual_loop loop;
  trace t;
  auto s = mk_writable<str>(loop, t, {.write = done::sync, .hwm = 0});
  track(*s, t);
  w(*s, t, "a");
  w(*s, t, "b");
  state(*s, t, {"writableLength", "writableNeedDrain"});
  t.sync();
  loop.run();
  EXPECT_TRACE(t, R"(
    hook write a
    write(a) -> true
    hook write b
    write(b) -> true
    state writableLength=0 writableNeedDrain=false
    -- sync
    cb a null
    cb b null
  )");
}

TEST(WritableBackpressure, hwm0_bytes_tick) {
  manual_loop loop;
  trace t;
  auto s = mk_writable<buffer>(loop, t, {.write = done::tick, .hwm = 0});
  track(*s, t);
  w(*s, t, "x");
  w(*s, t, "y");
  state(*s, t, {"writableLength", "writableNeedDrain"});
  t.sync();
  loop.run();
  EXPECT_TRACE(t, R"(
    hook write x
    write(x) -> false
    write(y) -> false
    state writableLength=2 writableNeedDrain=true
    -- sync
    hook write y
    cb x null
    event drain
    cb y null
  )");
}

TEST(WritableBackpressure, no_drain_after_end) {
  manual_loop loop;
  trace t;
  auto s = mk_writable<str>(loop, t, {.write = done::tick, .hwm = 1});
  track(*s, t);
  w(*s, t, "a");
  w(*s, t, "b");
  s->end();
  state(*s, t, {"writableLength", "writableNeedDrain"});
  t.sync();
  loop.run();
  EXPECT_TRACE(t, R"(
    hook write a
    write(a) -> false
    write(b) -> false
    state writableLength=2 writableNeedDrain=false
    -- sync
    hook write b
    cb a null
    cb b null
    event prefinish
    event finish
    event close
  )");
}

TEST(WritableBackpressure, bytes_hwm5_strings) {
  manual_loop loop;
  trace t;
  auto s = mk_writable<buffer>(loop, t, {.write = done::tick, .hwm = 5});
  track(*s, t);
  for (const char* c : {"aa", "bb", "cc", "dd"}) {
    w(*s, t, c);
    state(*s, t, {"writableLength", "writableNeedDrain"});
  }
  t.sync();
  loop.run();
  EXPECT_TRACE(t, R"(
    hook write aa
    write(aa) -> true
    state writableLength=2 writableNeedDrain=false
    write(bb) -> true
    state writableLength=4 writableNeedDrain=false
    write(cc) -> false
    state writableLength=6 writableNeedDrain=true
    write(dd) -> false
    state writableLength=8 writableNeedDrain=true
    -- sync
    hook write bb
    cb aa null
    hook write cc
    cb bb null
    hook write dd
    cb cc null
    event drain
    cb dd null
  )");
}

TEST(WritableBackpressure, bytes_single_chunk_over_hwm_sync) {
  manual_loop loop;
  trace t;
  auto s = mk_writable<buffer>(loop, t, {.write = done::sync, .hwm = 4});
  track(*s, t);
  w(*s, t, "abcdef");
  state(*s, t, {"writableLength", "writableNeedDrain"});
  t.sync();
  loop.run();
  EXPECT_TRACE(t, R"(
    hook write abcdef
    write(abcdef) -> true
    state writableLength=0 writableNeedDrain=false
    -- sync
    cb abcdef null
  )");
}

TEST(WritableBackpressure, bytes_single_chunk_over_hwm_tick) {
  manual_loop loop;
  trace t;
  auto s = mk_writable<buffer>(loop, t, {.write = done::tick, .hwm = 4});
  track(*s, t);
  w(*s, t, "abcdef");
  state(*s, t, {"writableLength", "writableNeedDrain"});
  t.sync();
  loop.run();
  EXPECT_TRACE(t, R"(
    hook write abcdef
    write(abcdef) -> false
    state writableLength=6 writableNeedDrain=true
    -- sync
    event drain
    cb abcdef null
  )");
}

TEST(WritableBackpressure, sync_hook_shared_cb) {
  manual_loop loop;
  trace t;
  auto s = mk_writable<str>(loop, t, {.write = done::sync, .hwm = 1});
  track(*s, t);
  int n = 0;
  const callback cb = [&](std::error_code ec) {
    t("cb shared #" + std::to_string(++n) + " " + code(ec));
  };
  for (const char* c : {"a", "b", "c"})
    t(std::string("write(") + c + ") -> " + tf(s->write(str(c), cb)));
  loop.defer([&] { t("nextTick queued after the writes"); });
  t.sync();
  loop.run();
  EXPECT_TRACE(t, R"(
    hook write a
    write(a) -> true
    hook write b
    write(b) -> true
    hook write c
    write(c) -> true
    -- sync
    cb shared #1 null
    cb shared #2 null
    cb shared #3 null
    nextTick queued after the writes
  )");
}

TEST(WritableBackpressure, sync_hook_distinct_cb_vs_user_tick) {
  manual_loop loop;
  trace t;
  auto s = mk_writable<str>(loop, t, {.write = done::sync, .hwm = 1});
  track(*s, t);
  w(*s, t, "a");
  loop.defer([&] { t("user nextTick"); });
  w(*s, t, "b");
  t.sync();
  loop.run();
  EXPECT_TRACE(t, R"(
    hook write a
    write(a) -> true
    hook write b
    write(b) -> true
    -- sync
    cb a null
    user nextTick
    cb b null
  )");
}

TEST(WritableBackpressure, bytes_exact_hwm) {
  manual_loop loop;
  trace t;
  auto s = mk_writable<buffer>(loop, t, {.write = done::hold, .hwm = 4});
  track(*s, t);
  w(*s, t, "abc");
  state(*s, t, {"writableLength", "writableNeedDrain"});
  w(*s, t, "d");
  state(*s, t, {"writableLength", "writableNeedDrain"});
  later(loop, [&] {
    t("complete first");
    s.complete_next();
  });
  later(loop, [&] {
    t("complete second");
    s.complete_next();
  });
  t.sync();
  loop.run();
  EXPECT_TRACE(t, R"(
    hook write abc
    write(abc) -> true
    state writableLength=3 writableNeedDrain=false
    write(d) -> false
    state writableLength=4 writableNeedDrain=true
    -- sync
    complete first
    hook write d
    cb abc null
    complete second
    event drain
    cb d null
  )");
}

// ---- Beyond the traces
// ---------------------------------------------------------------------------

// The producer loop every user writes: write until false, resume on 'drain'. It must terminate
// and deliver everything in order, whatever the hook's completion mode.
TEST(WritableBackpressure, producer_loop_delivers_everything_in_order) {
  for (done mode : {done::sync, done::tick, done::imm}) {
    manual_loop loop;
    trace t;
    std::vector<int> got;
    auto s = sluice::make_writable<int>(
        loop, {.high_water_mark = 3,
               .write = [&](writable<int>& self, int&& x, writable<int>::write_callback cb) {
                 got.push_back(x);
                 pending_list unused;
                 complete(
                     loop, self, mode, [cb] { cb(); }, unused);
               }});
    int next = 0;
    int drains = 0;
    std::function<void()> produce = [&] {
      while (next < 100)
        if (!s->write(next++)) {
          s->once_drain([&] {
            ++drains;
            produce();
          });
          return;
        }
      s->end();
    };
    produce();
    loop.run();
    ASSERT_EQ(got.size(), 100u) << static_cast<int>(mode);
    for (int i = 0; i < 100; ++i) EXPECT_EQ(got[static_cast<std::size_t>(i)], i);
    EXPECT_TRUE(s->finished());
    EXPECT_EQ(s->writable_length(), 0u);
    EXPECT_EQ(s->counters().drains, static_cast<std::uint64_t>(drains));
    EXPECT_EQ(s->counters().write_backpressure, s->counters().drains);
  }
}

// write() returns false on a destroyed stream, and need_drain() reads false once destroyed.
TEST(WritableBackpressure, write_after_destroy_returns_false_and_need_drain_clears) {
  manual_loop loop;
  trace t;
  auto s = mk_writable<str>(loop, t, {.write = done::hold, .hwm = 1});
  EXPECT_FALSE(s->write("a"));
  EXPECT_TRUE(s->need_drain());
  s->destroy();
  EXPECT_FALSE(s->need_drain());
  EXPECT_FALSE(s->write("b"));
  EXPECT_FALSE(s->is_writable());
}

// A once_drain listener runs once; an on_drain listener every episode; off() removes one.
TEST(WritableBackpressure, drain_listener_bookkeeping) {
  manual_loop loop;
  trace t;
  auto s = mk_writable<str>(loop, t, {.write = done::tick, .hwm = 1});
  int once = 0, every = 0, removed = 0;
  s->once_drain([&] { ++once; });
  s->on_drain([&] { ++every; });
  const auto id = s->on_drain([&] { ++removed; });
  EXPECT_EQ(s->drain_listener_count(), 3u);
  EXPECT_TRUE(s->off(id));
  EXPECT_FALSE(s->off(id));
  EXPECT_EQ(s->drain_listener_count(), 2u);
  for (int episode = 0; episode < 3; ++episode) {
    EXPECT_FALSE(s->write("x"));
    loop.run();
  }
  EXPECT_EQ(once, 1);
  EXPECT_EQ(every, 3);
  EXPECT_EQ(removed, 0);
  EXPECT_EQ(s->drain_listener_count(), 1u);
}

// hwm 0 with a hook that completes synchronously and writes without callbacks: Node returns true
// (nothing is buffered once write() returns), so a write-until-false producer runs to the end.
// Whatever write() returns, the producer must never be left waiting for a 'drain' that never comes.
TEST(WritableBackpressure, hwm0_sync_hook_without_callbacks_does_not_strand_producer) {
  manual_loop loop;
  int written = 0;
  auto s = sluice::make_writable<int>(
      loop,
      {.high_water_mark = 0, .write = [&](writable<int>&, int&&, writable<int>::write_callback cb) {
         ++written;
         cb();
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
  EXPECT_EQ(written, 10);
  EXPECT_TRUE(s->finished());
}

}  // namespace
