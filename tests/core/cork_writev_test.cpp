// Conformance: the scenarios of node/cork_writev.js, each asserting the trace Node 20 printed
// (node/traces/cork_writev.txt), plus a few checks beyond the traces.
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
using wcb_str = writable<str>::write_callback;

TEST(CorkWritev, cork_three_uncork) {
  manual_loop loop;
  trace t;
  auto s = mk_writable<str>(loop, t, {.write = done::sync, .writev = true});
  track(*s, t);
  s->cork();
  w(*s, t, "a");
  w(*s, t, "b");
  w(*s, t, "c");
  state(*s, t, {"writableLength", "writableCorked"});
  s->uncork();
  t("-- after uncork");
  state(*s, t, {"writableLength", "writableCorked"});
  t.sync();
  loop.run();
  EXPECT_TRACE(t, R"(
    write(a) -> true
    write(b) -> true
    write(c) -> true
    state writableLength=3 writableCorked=1
    hook writev 3 [a,b,c]
    -- after uncork
    state writableLength=0 writableCorked=0
    -- sync
    cb a null
    cb b null
    cb c null
  )");
}

TEST(CorkWritev, cork_three_uncork_tick) {
  manual_loop loop;
  trace t;
  auto s = mk_writable<str>(loop, t, {.write = done::tick, .writev = true});
  track(*s, t);
  s->cork();
  w(*s, t, "a");
  w(*s, t, "b");
  w(*s, t, "c");
  s->uncork();
  t("-- after uncork");
  t.sync();
  loop.run();
  EXPECT_TRACE(t, R"(
    write(a) -> true
    write(b) -> true
    write(c) -> true
    hook writev 3 [a,b,c]
    -- after uncork
    -- sync
    cb a null
    cb b null
    cb c null
  )");
}

TEST(CorkWritev, nested_cork) {
  manual_loop loop;
  trace t;
  auto s = mk_writable<str>(loop, t, {.write = done::sync, .writev = true});
  track(*s, t);
  s->cork();
  s->cork();
  w(*s, t, "a");
  w(*s, t, "b");
  state(*s, t, {"writableLength", "writableCorked"});
  s->uncork();
  t("-- after uncork 1");
  state(*s, t, {"writableLength", "writableCorked"});
  s->uncork();
  t("-- after uncork 2");
  state(*s, t, {"writableLength", "writableCorked"});
  t.sync();
  loop.run();
  EXPECT_TRACE(t, R"(
    write(a) -> true
    write(b) -> true
    state writableLength=2 writableCorked=2
    -- after uncork 1
    state writableLength=2 writableCorked=1
    hook writev 2 [a,b]
    -- after uncork 2
    state writableLength=0 writableCorked=0
    -- sync
    cb a null
    cb b null
  )");
}

TEST(CorkWritev, uncork_not_corked) {
  manual_loop loop;
  trace t;
  auto s = mk_writable<str>(loop, t, {.write = done::sync, .writev = true});
  track(*s, t);
  s->uncork();
  state(*s, t, {"writableLength", "writableCorked"});
  w(*s, t, "a");
  t.sync();
  loop.run();
  EXPECT_TRACE(t, R"(
    state writableLength=0 writableCorked=0
    hook write a
    write(a) -> true
    -- sync
    cb a null
  )");
}

TEST(CorkWritev, end_while_corked) {
  manual_loop loop;
  trace t;
  auto s = mk_writable<str>(loop, t, {.write = done::sync, .writev = true, .final = done::sync});
  track(*s, t);
  s->cork();
  s->cork();
  w(*s, t, "a");
  w(*s, t, "b");
  s->end("c");
  t("-- after end");
  state(*s, t, {"writableLength", "writableCorked"});
  t.sync();
  loop.run();
  EXPECT_TRACE(t, R"(
    write(a) -> true
    write(b) -> true
    hook writev 3 [a,b,c]
    hook final
    event prefinish
    -- after end
    state writableLength=0 writableCorked=0
    -- sync
    cb a null
    cb b null
    event finish
    event close
  )");
}

TEST(CorkWritev, writev_single_chunk) {
  manual_loop loop;
  trace t;
  auto s = mk_writable<str>(loop, t, {.write = done::sync, .writev = true});
  track(*s, t);
  s->cork();
  w(*s, t, "a");
  s->uncork();
  t("-- after uncork");
  t.sync();
  loop.run();
  EXPECT_TRACE(t, R"(
    write(a) -> true
    hook write a
    -- after uncork
    -- sync
    cb a null
  )");
}

TEST(CorkWritev, cork_without_writev) {
  manual_loop loop;
  trace t;
  auto s = mk_writable<str>(loop, t, {.write = done::sync});
  track(*s, t);
  s->cork();
  w(*s, t, "a");
  w(*s, t, "b");
  w(*s, t, "c");
  s->uncork();
  t("-- after uncork");
  t.sync();
  loop.run();
  EXPECT_TRACE(t, R"(
    write(a) -> true
    write(b) -> true
    write(c) -> true
    hook write a
    hook write b
    hook write c
    -- after uncork
    -- sync
    cb a null
    cb b null
    cb c null
  )");
}

TEST(CorkWritev, cork_without_writev_tick) {
  manual_loop loop;
  trace t;
  auto s = mk_writable<str>(loop, t, {.write = done::tick});
  track(*s, t);
  s->cork();
  w(*s, t, "a");
  w(*s, t, "b");
  w(*s, t, "c");
  s->uncork();
  t("-- after uncork");
  state(*s, t, {"writableLength", "writableCorked"});
  t.sync();
  loop.run();
  EXPECT_TRACE(t, R"(
    write(a) -> true
    write(b) -> true
    write(c) -> true
    hook write a
    -- after uncork
    state writableLength=3 writableCorked=0
    -- sync
    hook write b
    cb a null
    hook write c
    cb b null
    cb c null
  )");
}

TEST(CorkWritev, writev_from_backlog) {
  manual_loop loop;
  trace t;
  auto s = mk_writable<str>(loop, t, {.write = done::tick, .writev = true});
  track(*s, t);
  w(*s, t, "a");
  w(*s, t, "b");
  w(*s, t, "c");
  w(*s, t, "d");
  t.sync();
  loop.run();
  EXPECT_TRACE(t, R"(
    hook write a
    write(a) -> true
    write(b) -> true
    write(c) -> true
    write(d) -> true
    -- sync
    hook writev 3 [b,c,d]
    cb a null
    cb b null
    cb c null
    cb d null
  )");
}

TEST(CorkWritev, cork_backpressure) {
  manual_loop loop;
  trace t;
  auto s = mk_writable<str>(loop, t, {.write = done::sync, .writev = true, .hwm = 2});
  track(*s, t);
  s->cork();
  w(*s, t, "a");
  w(*s, t, "b");
  w(*s, t, "c");
  state(*s, t, {"writableLength", "writableNeedDrain"});
  s->uncork();
  t("-- after uncork");
  state(*s, t, {"writableLength", "writableNeedDrain"});
  t.sync();
  loop.run();
  EXPECT_TRACE(t, R"(
    write(a) -> true
    write(b) -> false
    write(c) -> false
    state writableLength=3 writableNeedDrain=true
    hook writev 3 [a,b,c]
    -- after uncork
    state writableLength=0 writableNeedDrain=true
    -- sync
    event drain
    cb a null
    cb b null
    cb c null
  )");
}

TEST(CorkWritev, uncork_on_next_tick) {
  manual_loop loop;
  trace t;
  auto s = mk_writable<str>(loop, t, {.write = done::sync, .writev = true});
  track(*s, t);
  s->cork();
  w(*s, t, "a");
  w(*s, t, "b");
  loop.defer([&] {
    t("uncork in nextTick");
    s->uncork();
  });
  t.sync();
  loop.run();
  EXPECT_TRACE(t, R"(
    write(a) -> true
    write(b) -> true
    -- sync
    uncork in nextTick
    hook writev 2 [a,b]
    cb a null
    cb b null
  )");
}

TEST(CorkWritev, writev_error) {
  manual_loop loop;
  trace t;
  auto s =
      sluice::make_writable<str>(loop, {.write =
                                            [&](writable<str>&, str&& c, wcb_str cb) {
                                              t("hook write " + c);
                                              cb();
                                            },
                                        .writev =
                                            [&](writable<str>&, std::vector<str>& cs, wcb_str cb) {
                                              t("hook writev " + std::to_string(cs.size()));
                                              cb(test_error(2));
                                            }});
  track(*s, t);
  s->cork();
  w(*s, t, "a");
  w(*s, t, "b");
  s->uncork();
  t("-- after uncork");
  t.sync();
  loop.run();
  EXPECT_TRACE(t, R"(
    write(a) -> true
    write(b) -> true
    hook writev 2
    -- after uncork
    -- sync
    cb a vfail
    cb b vfail
    event error vfail
    event close
  )");
}

// ---- Beyond the traces
// ---------------------------------------------------------------------------

// Chunks reach the sink in write order across writev batches, single writes and a corked
// section, with an asynchronous sink.
TEST(CorkWritev, order_preserved_across_batches) {
  manual_loop loop;
  std::vector<int> got;
  std::vector<std::size_t> batches;
  auto s = sluice::make_writable<int>(
      loop, {.write =
                 [&](writable<int>& self, int&& x, writable<int>::write_callback cb) {
                   got.push_back(x);
                   batches.push_back(1);
                   loop.defer([keep = self.shared_from_this(), cb] { cb(); });
                 },
             .writev =
                 [&](writable<int>& self, std::vector<int>& xs, writable<int>::write_callback cb) {
                   got.insert(got.end(), xs.begin(), xs.end());
                   batches.push_back(xs.size());
                   loop.defer([keep = self.shared_from_this(), cb] { cb(); });
                 }});
  for (int i = 0; i < 5; ++i) s->write(i);
  loop.run();
  s->cork();
  for (int i = 5; i < 8; ++i) s->write(i);
  EXPECT_EQ(got.size(), 5u);  // nothing leaves while corked
  s->uncork();
  loop.run();
  s->write(8);
  loop.run();
  ASSERT_EQ(got.size(), 9u);
  for (int i = 0; i < 9; ++i) EXPECT_EQ(got[static_cast<std::size_t>(i)], i);
  EXPECT_EQ(batches, (std::vector<std::size_t>{1, 4, 3, 1}));
  EXPECT_EQ(s->writable_length(), 0u);
  EXPECT_EQ(s->counters().chunks_in, 9u);
}

// Without a writev hook, the default do_write of a writev-only stream still works chunk by chunk.
TEST(CorkWritev, writev_only_stream_gets_single_chunk_batches) {
  manual_loop loop;
  trace t;
  auto s = sluice::make_writable<str>(
      loop, {.writev = [&](writable<str>&, std::vector<str>& cs, wcb_str cb) {
        std::string list;
        for (const auto& c : cs) list += (list.empty() ? "" : ",") + c;
        t("hook writev " + std::to_string(cs.size()) + " [" + list + "]");
        cb();
      }});
  track(*s, t);
  w(*s, t, "a");
  s->cork();
  w(*s, t, "b");
  w(*s, t, "c");
  s->uncork();
  loop.run();
  EXPECT_TRACE(t, R"(
    hook writev 1 [a]
    write(a) -> true
    write(b) -> true
    write(c) -> true
    hook writev 2 [b,c]
    cb a null
    cb b null
    cb c null
  )");
}

// A write hook that is missing altogether fails the stream with method_not_implemented (Node
// throws from write(); see docs/node-differences.md).
TEST(CorkWritev, missing_write_hook_errors) {
  manual_loop loop;
  trace t;
  auto s = sluice::make_writable<str>(loop, {});
  track(*s, t);
  w(*s, t, "a");
  loop.run();
  EXPECT_TRACE(t, R"(
    write(a) -> false
    cb a ERR_METHOD_NOT_IMPLEMENTED
    event error ERR_METHOD_NOT_IMPLEMENTED
    event close
  )");
}

}  // namespace
