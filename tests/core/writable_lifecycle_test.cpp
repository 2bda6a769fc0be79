// Conformance: the scenarios of node/writable_lifecycle.js, each asserting the trace Node 20
// printed (node/traces/writable_lifecycle.txt), plus a few checks beyond the traces.
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
using wcb_buf = writable<buffer>::write_callback;

TEST(WritableLifecycle, end_no_final) {
  manual_loop loop;
  trace t;
  auto s = mk_writable<buffer>(loop, t, {.write = done::sync});
  track(*s, t);
  w(*s, t, "a");
  s->end();
  t("end() returned");
  state(*s, t, {"writableEnded", "writableFinished", "destroyed"});
  s->on_finish([&] { state(*s, t, {"writableEnded", "writableFinished", "destroyed"}); });
  t.sync();
  loop.run();
  EXPECT_TRACE(t, R"(
    hook write a
    write(a) -> true
    event prefinish
    end() returned
    state writableEnded=true writableFinished=false destroyed=false
    -- sync
    cb a null
    event finish
    state writableEnded=true writableFinished=true destroyed=false
    event close
  )");
}

TEST(WritableLifecycle, end_sync_final) {
  manual_loop loop;
  trace t;
  auto s = mk_writable<buffer>(loop, t, {.write = done::sync, .final = done::sync});
  track(*s, t);
  s->end();
  t("end() returned");
  state(*s, t, {"writableEnded", "writableFinished", "destroyed"});
  t.sync();
  loop.run();
  EXPECT_TRACE(t, R"(
    hook final
    event prefinish
    end() returned
    state writableEnded=true writableFinished=false destroyed=false
    -- sync
    event finish
    event close
  )");
}

TEST(WritableLifecycle, end_tick_final) {
  manual_loop loop;
  trace t;
  auto s = mk_writable<buffer>(loop, t, {.write = done::sync, .final = done::tick});
  track(*s, t);
  s->end();
  t("end() returned");
  t.sync();
  loop.run();
  EXPECT_TRACE(t, R"(
    hook final
    end() returned
    -- sync
    event prefinish
    event finish
    event close
  )");
}

TEST(WritableLifecycle, end_imm_final) {
  manual_loop loop;
  trace t;
  auto s = mk_writable<buffer>(loop, t, {.write = done::sync, .final = done::imm});
  track(*s, t);
  s->end();
  t("end() returned");
  t.sync();
  loop.run();
  EXPECT_TRACE(t, R"(
    hook final
    end() returned
    -- sync
    event prefinish
    event finish
    event close
  )");
}

TEST(WritableLifecycle, end_waits_for_pending_write) {
  manual_loop loop;
  trace t;
  auto s = mk_writable<str>(loop, t, {.write = done::tick, .final = done::sync});
  track(*s, t);
  w(*s, t, "a");
  w(*s, t, "b");
  s->end();
  t("end() returned");
  t.sync();
  loop.run();
  EXPECT_TRACE(t, R"(
    hook write a
    write(a) -> true
    write(b) -> true
    end() returned
    -- sync
    hook write b
    cb a null
    cb b null
    hook final
    event prefinish
    event finish
    event close
  )");
}

TEST(WritableLifecycle, end_chunk_cb) {
  manual_loop loop;
  trace t;
  auto s = mk_writable<buffer>(loop, t, {.write = done::sync, .final = done::sync});
  track(*s, t);
  s->end(chunk_of<buffer>("z"), endcb(t, "end"));
  t("end() returned");
  t.sync();
  loop.run();
  EXPECT_TRACE(t, R"(
    hook write z
    hook final
    event prefinish
    end() returned
    -- sync
    cb end null
    event finish
    event close
  )");
}

TEST(WritableLifecycle, end_cb_no_final) {
  manual_loop loop;
  trace t;
  auto s = mk_writable<buffer>(loop, t, {.write = done::sync});
  track(*s, t);
  s->end(endcb(t, "end"));
  t("end() returned");
  t.sync();
  loop.run();
  EXPECT_TRACE(t, R"(
    event prefinish
    end() returned
    -- sync
    cb end null
    event finish
    event close
  )");
}

TEST(WritableLifecycle, end_chunk_cb_tick_write) {
  manual_loop loop;
  trace t;
  auto s = mk_writable<buffer>(loop, t, {.write = done::tick});
  track(*s, t);
  s->end(chunk_of<buffer>("z"), endcb(t, "end"));
  t("end() returned");
  t.sync();
  loop.run();
  EXPECT_TRACE(t, R"(
    hook write z
    end() returned
    -- sync
    event prefinish
    cb end null
    event finish
    event close
  )");
}

TEST(WritableLifecycle, write_after_end_cb) {
  manual_loop loop;
  trace t;
  auto s = mk_writable<buffer>(loop, t, {.write = done::sync});
  track(*s, t);
  s->end();
  t("end() returned");
  w(*s, t, "x");
  state(*s, t, {"writableEnded", "destroyed", "errored"});
  t.sync();
  loop.run();
  EXPECT_TRACE(t, R"(
    event prefinish
    end() returned
    write(x) -> false
    state writableEnded=true destroyed=true errored=ERR_STREAM_WRITE_AFTER_END
    -- sync
    cb x ERR_STREAM_WRITE_AFTER_END
    event error ERR_STREAM_WRITE_AFTER_END
    event close
  )");
}

TEST(WritableLifecycle, write_after_end_no_cb) {
  manual_loop loop;
  trace t;
  auto s = mk_writable<buffer>(loop, t, {.write = done::sync});
  track(*s, t);
  s->end();
  w_nocb(*s, t, "x");
  t.sync();
  loop.run();
  EXPECT_TRACE(t, R"(
    event prefinish
    write(x) -> false
    -- sync
    event error ERR_STREAM_WRITE_AFTER_END
    event close
  )");
}

TEST(WritableLifecycle, write_after_finish) {
  manual_loop loop;
  trace t;
  auto s = mk_writable<buffer>(loop, t, {.write = done::sync});
  track(*s, t);
  s->end();
  s->on_finish([&] {
    later(loop, [&] {
      t("late write");
      w(*s, t, "x");
    });
  });
  t.sync();
  loop.run();
  EXPECT_TRACE(t, R"(
    event prefinish
    -- sync
    event finish
    event close
    late write
    write(x) -> false
    cb x ERR_STREAM_WRITE_AFTER_END
  )");
}

TEST(WritableLifecycle, end_twice_same_tick) {
  manual_loop loop;
  trace t;
  auto s = mk_writable<buffer>(loop, t, {.write = done::sync, .final = done::tick});
  track(*s, t);
  s->end(endcb(t, "end1"));
  s->end(endcb(t, "end2"));
  t("both end() returned");
  t.sync();
  loop.run();
  EXPECT_TRACE(t, R"(
    hook final
    both end() returned
    -- sync
    event prefinish
    cb end1 null
    cb end2 null
    event finish
    event close
  )");
}

TEST(WritableLifecycle, end_after_finish) {
  manual_loop loop;
  trace t;
  auto s = mk_writable<buffer>(loop, t, {.write = done::sync, .auto_destroy = false});
  track(*s, t);
  s->end();
  s->on_finish([&] {
    later(loop, [&] {
      t("late end");
      s->end(endcb(t, "end2"));
    });
  });
  t.sync();
  loop.run();
  EXPECT_TRACE(t, R"(
    event prefinish
    -- sync
    event finish
    late end
    cb end2 ERR_STREAM_ALREADY_FINISHED
  )");
}

TEST(WritableLifecycle, end_after_close) {
  manual_loop loop;
  trace t;
  auto s = mk_writable<buffer>(loop, t, {.write = done::sync});
  track(*s, t);
  s->end();
  s->on_close([&] {
    later(loop, [&] {
      t("late end");
      s->end(endcb(t, "end2"));
    });
  });
  t.sync();
  loop.run();
  EXPECT_TRACE(t, R"(
    event prefinish
    -- sync
    event finish
    event close
    late end
    cb end2 ERR_STREAM_ALREADY_FINISHED
  )");
}

TEST(WritableLifecycle, end_chunk_after_end) {
  manual_loop loop;
  trace t;
  auto s = mk_writable<buffer>(loop, t, {.write = done::sync});
  track(*s, t);
  s->end(chunk_of<buffer>("a"), endcb(t, "end1"));
  s->end(chunk_of<buffer>("b"), endcb(t, "end2"));
  t("both end() returned");
  t.sync();
  loop.run();
  EXPECT_TRACE(t, R"(
    hook write a
    event prefinish
    both end() returned
    -- sync
    cb end1 ERR_STREAM_WRITE_AFTER_END
    event error ERR_STREAM_WRITE_AFTER_END
    event close
    cb end2 ERR_STREAM_WRITE_AFTER_END
  )");
}

TEST(WritableLifecycle, construct_tick) {
  manual_loop loop;
  trace t;
  auto s = sluice::make_writable<str>(loop, {.write =
                                                 [&](writable<str>&, str&& c, wcb_str cb) {
                                                   t("hook write " + c);
                                                   cb();
                                                 },
                                             .final =
                                                 [&](writable<str>&, callback cb) {
                                                   t("hook final");
                                                   cb({});
                                                 },
                                             .construct =
                                                 [&](writable<str>&, callback cb) {
                                                   t("hook construct");
                                                   loop.defer([&t, cb] {
                                                     t("construct done");
                                                     cb({});
                                                   });
                                                 }});
  track(*s, t);
  w(*s, t, "a");
  w(*s, t, "b");
  state(*s, t, {"writableLength"});
  s->end(endcb(t, "end"));
  t.sync();
  loop.run();
  EXPECT_TRACE(t, R"(
    write(a) -> true
    write(b) -> true
    state writableLength=2
    -- sync
    hook construct
    construct done
    hook write a
    hook write b
    hook final
    event prefinish
    cb a null
    cb b null
    cb end null
    event finish
    event close
  )");
}

TEST(WritableLifecycle, construct_tick_writev) {
  manual_loop loop;
  trace t;
  auto s = sluice::make_writable<str>(
      loop, {.write =
                 [&](writable<str>&, str&& c, wcb_str cb) {
                   t("hook write " + c);
                   cb();
                 },
             .writev =
                 [&](writable<str>&, std::vector<str>& cs, wcb_str cb) {
                   std::string list;
                   for (const auto& c : cs) list += (list.empty() ? "" : ",") + c;
                   t("hook writev " + std::to_string(cs.size()) + " [" + list + "]");
                   cb();
                 },
             .construct =
                 [&](writable<str>&, callback cb) {
                   t("hook construct");
                   loop.defer([cb] { cb({}); });
                 }});
  track(*s, t);
  w(*s, t, "a");
  w(*s, t, "b");
  w(*s, t, "c");
  t.sync();
  loop.run();
  EXPECT_TRACE(t, R"(
    write(a) -> true
    write(b) -> true
    write(c) -> true
    -- sync
    hook construct
    hook writev 3 [a,b,c]
    cb a null
    cb b null
    cb c null
  )");
}

TEST(WritableLifecycle, construct_sync) {
  manual_loop loop;
  trace t;
  auto s = sluice::make_writable<buffer>(loop, {.write =
                                                    [&](writable<buffer>&, buffer&& c, wcb_buf cb) {
                                                      t("hook write " + c.to_string());
                                                      cb();
                                                    },
                                                .construct =
                                                    [&](writable<buffer>&, callback cb) {
                                                      t("hook construct");
                                                      cb({});
                                                    }});
  track(*s, t);
  w(*s, t, "a");
  s->end();
  t.sync();
  loop.run();
  EXPECT_TRACE(t, R"(
    write(a) -> true
    -- sync
    hook construct
    hook write a
    event prefinish
    cb a null
    event finish
    event close
  )");
}

TEST(WritableLifecycle, construct_error) {
  manual_loop loop;
  trace t;
  auto s = sluice::make_writable<buffer>(
      loop, {.write =
                 [&](writable<buffer>&, buffer&& c, wcb_buf cb) {
                   t("hook write " + c.to_string());
                   cb();
                 },
             .destroy =
                 [&](writable<buffer>&, std::error_code ec, callback cb) {
                   t("hook destroy " + code(ec));
                   cb(ec);
                 },
             .construct =
                 [&](writable<buffer>&, callback cb) {
                   t("hook construct");
                   loop.defer([cb] { cb(test_error(1)); });
                 }});
  track(*s, t);
  w(*s, t, "a");
  s->end(endcb(t, "end"));
  t.sync();
  loop.run();
  EXPECT_TRACE(t, R"(
    write(a) -> true
    -- sync
    hook construct
    hook destroy boom
    cb a boom
    cb end boom
    event error boom
    event close
  )");
}

TEST(WritableLifecycle, emit_close_false) {
  manual_loop loop;
  trace t;
  auto s = mk_writable<buffer>(loop, t, {.write = done::sync, .emit_close = false});
  track(*s, t);
  s->end();
  s->on_finish([&] {
    loop.defer([&] { state(*s, t, {"writableEnded", "writableFinished", "destroyed"}); });
  });
  t.sync();
  loop.run();
  EXPECT_TRACE(t, R"(
    event prefinish
    -- sync
    event finish
    state writableEnded=true writableFinished=true destroyed=true
  )");
}

TEST(WritableLifecycle, auto_destroy_false) {
  manual_loop loop;
  trace t;
  auto s = mk_writable<buffer>(loop, t, {.write = done::sync, .auto_destroy = false});
  track(*s, t);
  s->end();
  s->on_finish([&] {
    later(loop, [&] { state(*s, t, {"writableEnded", "writableFinished", "destroyed"}); });
  });
  t.sync();
  loop.run();
  EXPECT_TRACE(t, R"(
    event prefinish
    -- sync
    event finish
    state writableEnded=true writableFinished=true destroyed=false
  )");
}

TEST(WritableLifecycle, state_in_events) {
  manual_loop loop;
  trace t;
  auto s = mk_writable<buffer>(loop, t, {.write = done::sync, .final = done::sync});
  auto show = [&](const char* ev) {
    t(std::string("event ") + ev);
    state(*s, t, {"writableEnded", "writableFinished", "destroyed"});
  };
  s->on_prefinish([&] { show("prefinish"); });
  s->on_finish([&] { show("finish"); });
  s->on_close([&] { show("close"); });
  s->end();
  state(*s, t, {"writableEnded", "writableFinished", "destroyed"});
  t.sync();
  loop.run();
  EXPECT_TRACE(t, R"(
    hook final
    event prefinish
    state writableEnded=true writableFinished=false destroyed=false
    state writableEnded=true writableFinished=false destroyed=false
    -- sync
    event finish
    state writableEnded=true writableFinished=true destroyed=false
    event close
    state writableEnded=true writableFinished=true destroyed=true
  )");
}

// ---- Beyond the traces
// ---------------------------------------------------------------------------

// is_writable() (Node's `writable`) and closed() through the whole lifecycle.
TEST(WritableLifecycle, observers_through_lifecycle) {
  manual_loop loop;
  trace t;
  auto s = mk_writable<str>(loop, t, {.write = done::tick, .final = done::tick});
  EXPECT_TRUE(s->is_writable());
  EXPECT_FALSE(s->ended());
  w(*s, t, "a");
  s->end();
  EXPECT_FALSE(s->is_writable());
  EXPECT_TRUE(s->ended());
  EXPECT_FALSE(s->finished());
  EXPECT_FALSE(s->closed());
  EXPECT_EQ(s->writable_length(), 1u);
  loop.run();
  EXPECT_TRUE(s->finished());
  EXPECT_TRUE(s->destroyed());
  EXPECT_TRUE(s->closed());
  EXPECT_FALSE(s->errored());
  EXPECT_EQ(s->writable_length(), 0u);
}

// Every event of a normal lifecycle fires exactly once, even with extra end() calls.
TEST(WritableLifecycle, events_fire_once) {
  manual_loop loop;
  trace t;
  auto s = mk_writable<str>(loop, t, {.write = done::sync, .final = done::tick});
  int prefinish = 0, finish = 0, close = 0, error = 0, ends = 0;
  s->on_prefinish([&] { ++prefinish; });
  s->on_finish([&] { ++finish; });
  s->on_close([&] { ++close; });
  s->on_error([&](std::error_code) { ++error; });
  s->end([&](std::error_code ec) { ends += ec ? 100 : 1; });
  s->end([&](std::error_code ec) { ends += ec ? 100 : 1; });
  loop.run();
  s->end();  // after close: no error event, nothing re-emitted
  loop.run();
  EXPECT_EQ(prefinish, 1);
  EXPECT_EQ(finish, 1);
  EXPECT_EQ(close, 1);
  EXPECT_EQ(error, 0);
  EXPECT_EQ(ends, 2);
}

// A stream dropped by the user after end() still finishes and closes: queued ticks own it.
TEST(WritableLifecycle, finishes_after_user_drops_reference) {
  manual_loop loop;
  trace t;
  {
    auto s = mk_writable<str>(loop, t, {.write = done::tick, .final = done::tick});
    track(*s, t);
    w(*s, t, "a");
    s->end();
  }
  loop.run();
  EXPECT_TRACE(t, R"(
    hook write a
    write(a) -> true
    cb a null
    hook final
    event prefinish
    event finish
    event close
  )");
}

// Several 'close' and 'error' listeners on one stream: each runs once, in order, and the stream
// drops them after 'close' (end_after_close has two 'close' listeners too).
TEST(WritableLifecycle, several_close_and_error_listeners) {
  manual_loop loop;
  trace t;
  auto s = mk_writable<str>(loop, t, {.write = done::sync});
  for (int i = 1; i <= 3; ++i) {
    s->on_close([&t, i] { t("close " + std::to_string(i)); });
    s->on_error([&t, i](std::error_code ec) { t("error " + std::to_string(i) + " " + code(ec)); });
  }
  s->destroy(sluice::make_error_code(sluice::errc::premature_close));
  loop.run();
  EXPECT_TRACE(t, R"(
    error 1 ERR_STREAM_PREMATURE_CLOSE
    error 2 ERR_STREAM_PREMATURE_CLOSE
    error 3 ERR_STREAM_PREMATURE_CLOSE
    close 1
    close 2
    close 3
  )");
}

}  // namespace
