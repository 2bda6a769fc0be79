// Conformance: readable flowing/paused modes against Node 20
// (tests/core/node/readable_flow.js, traces/readable_flow.txt).
#include <gtest/gtest.h>

#include <chrono>
#include <cstddef>
#include <functional>
#include <initializer_list>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "sluice/core/buffer.hpp"
#include "sluice/core/loop.hpp"
#include "sluice/core/make.hpp"
#include "sluice/core/readable.hpp"
#include "support/trace.hpp"

namespace {

using sluice::buffer;
using sluice::manual_loop;
using sluice::readable;
using sluice::test::trace;
using str = std::string;

// --- helpers mirroring lib.js ---------------------------------------------------------------

std::string fmt(const std::string& s) { return s.empty() ? "''" : s; }
std::string fmt(const buffer& b) { return b.to_string(); }
template <class T>
std::string fmt(const std::optional<T>& v) {
  return v ? fmt(*v) : "null";
}
std::string fmt_bool(bool b) { return b ? "true" : "false"; }

template <class T>
T chunk_of(std::string_view s) {
  if constexpr (std::is_same_v<T, buffer>)
    return buffer::copy_of(s);
  else
    return T(s);
}

// setImmediate: a zero-length timer fires after every queued deferred task.
void later(manual_loop& loop, std::function<void()> fn) {
  loop.start_timer(std::chrono::nanoseconds(0), std::move(fn));
}

template <class T>
void track(readable<T>& r, trace& tr) {
  r.on_end([&tr] { tr("event end"); });
  r.on_close([&tr] { tr("event close"); });
  r.on_error([&tr](std::error_code ec) { tr("event error " + sluice::test::node_code(ec)); });
  r.on_pause([&tr] { tr("event pause"); });
  r.on_resume([&tr] { tr("event resume"); });
}

template <class T>
sluice::listener_id on_data(readable<T>& r, trace& tr) {
  return r.on_data([&tr](T&& c) { tr("event data " + fmt(c)); });
}

template <class T>
bool push(readable<T>& r, trace& tr, std::string_view c) {
  const bool ok = r.push(chunk_of<T>(c));
  tr("push(" + fmt(std::string(c)) + ") -> " + fmt_bool(ok));
  return ok;
}

// Node's push(null) always returns false (the stream is ended afterwards); push_eof() is void.
template <class T>
void push_eof(readable<T>& r, trace& tr) {
  r.push_eof();
  tr("push(null) -> false");
}

template <class T>
std::optional<T> read(readable<T>& r, trace& tr) {
  auto v = r.read();
  tr("read() -> " + fmt(v));
  return v;
}

template <class T>
std::string field(const readable<T>& r, std::string_view k) {
  if (k == "readableLength") return std::to_string(r.readable_length());
  if (k == "readableFlowing") {
    const auto f = r.flowing();
    return f ? fmt_bool(*f) : "null";
  }
  if (k == "readableEnded") return fmt_bool(r.readable_ended());
  ADD_FAILURE() << "unknown state key " << k;
  return "?";
}

template <class T>
void state(readable<T>& r, trace& tr,
           std::initializer_list<std::string_view> keys = {"readableFlowing", "readableLength"}) {
  std::string line = "state";
  for (auto k : keys) line.append(" ").append(k).append("=").append(field(r, k));
  tr(line);
}

// Node's mkR: an object-mode readable whose read hook only logs.
std::shared_ptr<readable<str>> mk_r(manual_loop& loop, trace& tr) {
  return sluice::make_readable<str>(loop, {.read = [&tr](readable<str>&, std::size_t n) {
                                      tr("hook read " + std::to_string(n));
                                    }});
}

// --- scenarios --------------------------------------------------------------------------------

TEST(ReadableFlow, on_data_starts_next_tick) {
  manual_loop loop;
  trace t;
  auto r = mk_r(loop, t);
  track(*r, t);
  push(*r, t, "a");
  push(*r, t, "b");
  on_data(*r, t);
  state(*r, t);
  push_eof(*r, t);
  t.sync();
  loop.run();
  EXPECT_TRACE(t, R"(
push(a) -> true
push(b) -> true
state readableFlowing=true readableLength=2
push(null) -> false
-- sync
event resume
event data a
event data b
event end
event close
)");
}

TEST(ReadableFlow, pause_in_data_handler) {
  manual_loop loop;
  trace t;
  auto r = mk_r(loop, t);
  track(*r, t);
  push(*r, t, "a");
  push(*r, t, "b");
  push(*r, t, "c");
  r->on_data([&](str&& c) {
    t("event data " + c);
    if (c == "a") {
      r->pause();
      state(*r, t);
    }
  });
  later(loop, [&] {
    t("resume");
    r->resume();
    t("resume returned");
  });
  t.sync();
  loop.run();
  EXPECT_TRACE(t, R"(
push(a) -> true
push(b) -> true
push(c) -> true
-- sync
hook read 16
event resume
event data a
event pause
state readableFlowing=false readableLength=2
resume
resume returned
event resume
event data b
event data c
)");
}

TEST(ReadableFlow, resume_is_deferred) {
  manual_loop loop;
  trace t;
  auto r = mk_r(loop, t);
  track(*r, t);
  push(*r, t, "a");
  on_data(*r, t);
  r->pause();
  state(*r, t);
  later(loop, [&] {
    t("resume");
    r->resume();
    state(*r, t);
  });
  t.sync();
  loop.run();
  EXPECT_TRACE(t, R"(
push(a) -> true
event pause
state readableFlowing=false readableLength=1
-- sync
hook read 16
event resume
resume
state readableFlowing=true readableLength=1
event resume
event data a
)");
}

TEST(ReadableFlow, flowing_state_values_data) {
  manual_loop loop;
  trace t;
  auto r = mk_r(loop, t);
  track(*r, t);
  state(*r, t);
  r->on_data([](str&&) {});
  state(*r, t);
  r->pause();
  state(*r, t);
  r->resume();
  state(*r, t);
  t.sync();
  loop.run();
  EXPECT_TRACE(t, R"(
state readableFlowing=null readableLength=0
state readableFlowing=true readableLength=0
event pause
state readableFlowing=false readableLength=0
state readableFlowing=true readableLength=0
-- sync
hook read 16
event resume
)");
}

TEST(ReadableFlow, flowing_state_values_readable) {
  manual_loop loop;
  trace t;
  auto r = mk_r(loop, t);
  track(*r, t);
  state(*r, t);
  r->on_readable([&t] { t("event readable"); });
  state(*r, t);
  r->resume();
  state(*r, t);
  t.sync();
  loop.run();
  EXPECT_TRACE(t, R"(
state readableFlowing=null readableLength=0
state readableFlowing=false readableLength=0
state readableFlowing=false readableLength=0
-- sync
hook read 16
event resume
)");
}

TEST(ReadableFlow, flowing_state_values_readable_removed) {
  manual_loop loop;
  trace t;
  auto r = mk_r(loop, t);
  track(*r, t);
  const auto h = r->on_readable([] {});
  state(*r, t);
  r->off(h);
  state(*r, t);
  r->on_data([](str&&) {});
  state(*r, t);
  r->pause();
  state(*r, t);
  r->resume();
  state(*r, t);
  t.sync();
  loop.run();
  EXPECT_TRACE(t, R"(
state readableFlowing=false readableLength=0
state readableFlowing=false readableLength=0
state readableFlowing=false readableLength=0
state readableFlowing=false readableLength=0
state readableFlowing=false readableLength=0
-- sync
hook read 16
event resume
)");
}

TEST(ReadableFlow, pause_before_on_data) {
  manual_loop loop;
  trace t;
  auto r = mk_r(loop, t);
  track(*r, t);
  push(*r, t, "a");
  r->pause();
  on_data(*r, t);
  state(*r, t);
  later(loop, [&] {
    t("later");
    state(*r, t);
  });
  t.sync();
  loop.run();
  EXPECT_TRACE(t, R"(
push(a) -> true
event pause
state readableFlowing=false readableLength=1
-- sync
hook read 16
later
state readableFlowing=false readableLength=1
)");
}

TEST(ReadableFlow, pause_resume_events) {
  manual_loop loop;
  trace t;
  auto r = mk_r(loop, t);
  track(*r, t);
  t("pause #1");
  r->pause();
  t("pause #2");
  r->pause();
  t("resume #1");
  r->resume();
  t("resume #2");
  r->resume();
  t("pause #3");
  r->pause();
  t.sync();
  loop.run();
  EXPECT_TRACE(t, R"(
pause #1
event pause
pause #2
resume #1
resume #2
pause #3
event pause
-- sync
hook read 16
event resume
)");
}

TEST(ReadableFlow, async_push_to_flowing_empty) {
  manual_loop loop;
  trace t;
  auto r = mk_r(loop, t);
  track(*r, t);
  on_data(*r, t);
  later(loop, [&] {
    t("push from setImmediate");
    push(*r, t, "x");
    push(*r, t, "y");
    state(*r, t);
  });
  t.sync();
  loop.run();
  EXPECT_TRACE(t, R"(
-- sync
hook read 16
event resume
push from setImmediate
event data x
push(x) -> true
event data y
push(y) -> true
state readableFlowing=true readableLength=0
hook read 16
)");
}

TEST(ReadableFlow, sync_push_after_on_data) {
  manual_loop loop;
  trace t;
  auto r = mk_r(loop, t);
  track(*r, t);
  on_data(*r, t);
  push(*r, t, "a");
  push(*r, t, "b");
  state(*r, t);
  t.sync();
  loop.run();
  EXPECT_TRACE(t, R"(
push(a) -> true
push(b) -> true
state readableFlowing=true readableLength=2
-- sync
hook read 16
event resume
event data a
event data b
)");
}

TEST(ReadableFlow, push_inside_read_hook_flowing) {
  manual_loop loop;
  trace t;
  int i = 0;
  auto r = sluice::make_readable<str>(loop, {.read = [&](readable<str>& self, std::size_t n) {
                                        ++i;
                                        t("hook read " + std::to_string(n));
                                        if (i <= 2)
                                          push(self, t, "v" + std::to_string(i));
                                        else
                                          push_eof(self, t);
                                      }});
  track(*r, t);
  on_data(*r, t);
  t.sync();
  loop.run();
  EXPECT_TRACE(t, R"(
-- sync
hook read 16
push(v1) -> true
event resume
hook read 16
push(v2) -> true
event data v1
hook read 16
push(null) -> false
event data v2
event end
event close
)");
}

TEST(ReadableFlow, readable_once_per_burst) {
  manual_loop loop;
  trace t;
  auto r = mk_r(loop, t);
  track(*r, t);
  r->on_readable([&] {
    t("event readable");
    while (read(*r, t)) {
    }
  });
  push(*r, t, "a");
  push(*r, t, "b");
  later(loop, [&] {
    t("burst 2");
    push(*r, t, "c");
    push(*r, t, "d");
  });
  later(loop, [&] {
    t("eof");
    push_eof(*r, t);
  });
  t.sync();
  loop.run();
  EXPECT_TRACE(t, R"(
push(a) -> true
push(b) -> true
-- sync
hook read 16
event readable
read() -> a
read() -> b
read() -> null
burst 2
push(c) -> true
push(d) -> true
event readable
hook read 16
read() -> c
read() -> d
read() -> null
eof
event readable
read() -> null
push(null) -> false
event end
event close
)");
}

TEST(ReadableFlow, readable_handler_not_reading) {
  manual_loop loop;
  trace t;
  auto r = mk_r(loop, t);
  track(*r, t);
  r->on_readable([&] {
    t("event readable");
    state(*r, t);
  });
  push(*r, t, "a");
  later(loop, [&] {
    t("push b");
    push(*r, t, "b");
  });
  later(loop, [&] {
    t("read all");
    read(*r, t);
    read(*r, t);
    read(*r, t);
  });
  later(loop, [&] {
    t("push c");
    push(*r, t, "c");
  });
  t.sync();
  loop.run();
  EXPECT_TRACE(t, R"(
push(a) -> true
-- sync
hook read 16
event readable
state readableFlowing=false readableLength=1
push b
push(b) -> true
event readable
state readableFlowing=false readableLength=2
hook read 16
read all
read() -> a
read() -> b
read() -> null
push c
push(c) -> true
event readable
state readableFlowing=false readableLength=1
hook read 16
)");
}

TEST(ReadableFlow, readable_read_one_per_event) {
  manual_loop loop;
  trace t;
  auto r = mk_r(loop, t);
  track(*r, t);
  r->on_readable([&] {
    t("event readable");
    read(*r, t);
  });
  push(*r, t, "a");
  push(*r, t, "b");
  push(*r, t, "c");
  push_eof(*r, t);
  t.sync();
  loop.run();
  EXPECT_TRACE(t, R"(
push(a) -> true
push(b) -> true
push(c) -> true
push(null) -> false
-- sync
event readable
read() -> a
)");
}

TEST(ReadableFlow, readable_read_one_per_event_open) {
  manual_loop loop;
  trace t;
  auto r = mk_r(loop, t);
  track(*r, t);
  r->on_readable([&] {
    t("event readable");
    read(*r, t);
  });
  push(*r, t, "a");
  push(*r, t, "b");
  push(*r, t, "c");
  later(loop, [&] {
    t("push d");
    push(*r, t, "d");
  });
  t.sync();
  loop.run();
  EXPECT_TRACE(t, R"(
push(a) -> true
push(b) -> true
push(c) -> true
-- sync
hook read 16
event readable
read() -> a
push d
push(d) -> true
event readable
hook read 16
read() -> b
)");
}

TEST(ReadableFlow, readable_and_data) {
  manual_loop loop;
  trace t;
  auto r = mk_r(loop, t);
  track(*r, t);
  on_data(*r, t);
  r->on_readable([&] {
    t("event readable");
    while (read(*r, t)) {
    }
  });
  state(*r, t);
  push(*r, t, "a");
  push_eof(*r, t);
  t.sync();
  loop.run();
  EXPECT_TRACE(t, R"(
state readableFlowing=false readableLength=0
push(a) -> true
push(null) -> false
-- sync
event resume
event readable
event data a
read() -> a
read() -> null
event end
event close
)");
}

TEST(ReadableFlow, remove_readable_listener_resumes) {
  manual_loop loop;
  trace t;
  auto r = mk_r(loop, t);
  track(*r, t);
  on_data(*r, t);
  const auto h = r->on_readable([&t] { t("event readable"); });
  push(*r, t, "a");
  later(loop, [&] {
    t("remove readable");
    r->off(h);
    state(*r, t);
  });
  t.sync();
  loop.run();
  EXPECT_TRACE(t, R"(
push(a) -> true
-- sync
hook read 16
event resume
event readable
remove readable
state readableFlowing=false readableLength=1
event resume
event data a
)");
}

TEST(ReadableFlow, resume_without_listener) {
  manual_loop loop;
  trace t;
  auto r = mk_r(loop, t);
  track(*r, t);
  push(*r, t, "a");
  push(*r, t, "b");
  push_eof(*r, t);
  r->resume();
  t.sync();
  loop.run();
  EXPECT_TRACE(t, R"(
push(a) -> true
push(b) -> true
push(null) -> false
-- sync
event resume
event end
event close
)");
}

TEST(ReadableFlow, flowing_end_placement) {
  manual_loop loop;
  trace t;
  auto r = mk_r(loop, t);
  track(*r, t);
  push(*r, t, "a");
  push_eof(*r, t);
  on_data(*r, t);
  t.sync();
  loop.run();
  EXPECT_TRACE(t, R"(
push(a) -> true
push(null) -> false
-- sync
event data a
event resume
event end
event close
)");
}

TEST(ReadableFlow, flowing_bytes_chunks) {
  manual_loop loop;
  trace t;
  auto r = sluice::make_readable<buffer>(loop, {.read = [](readable<buffer>&, std::size_t) {}});
  track(*r, t);
  push(*r, t, "ab");
  push(*r, t, "cd");
  on_data(*r, t);
  push_eof(*r, t);
  t.sync();
  loop.run();
  EXPECT_TRACE(t, R"(
push(ab) -> true
push(cd) -> true
push(null) -> false
-- sync
event resume
event data ab
event data cd
event end
event close
)");
}

TEST(ReadableFlow, readable_ended_timing) {
  manual_loop loop;
  trace t;
  auto r = mk_r(loop, t);
  track(*r, t);
  push(*r, t, "a");
  push_eof(*r, t);
  state(*r, t, {"readableEnded"});
  on_data(*r, t);
  r->on_end([&] { state(*r, t, {"readableEnded"}); });
  t.sync();
  loop.run();
  EXPECT_TRACE(t, R"(
push(a) -> true
push(null) -> false
state readableEnded=false
-- sync
event data a
event resume
event end
state readableEnded=true
event close
)");
}

// --- beyond the traces ------------------------------------------------------------------------

// Flowing mode delivers every pushed item exactly once and in order, across pauses and resumes
// from inside the 'data' listener, and 'end' only after the last one.
TEST(ReadableFlow, pause_resume_storm_delivers_everything_in_order) {
  manual_loop loop;
  int next = 0;
  auto r = sluice::make_readable<int>(
      loop, {.high_water_mark = 4, .read = [&](readable<int>& self, std::size_t) {
               if (next < 200)
                 self.push(next++);
               else
                 self.push_eof();
             }});
  std::vector<int> got;
  bool ended = false;
  r->on_data([&](int&& v) {
    EXPECT_FALSE(ended);
    got.push_back(v);
    if (v % 7 == 0) {
      r->pause();
      loop.defer([&] { r->resume(); });
    }
  });
  r->on_end([&] { ended = true; });
  loop.run();
  ASSERT_EQ(got.size(), 200u);
  for (int i = 0; i < 200; ++i) EXPECT_EQ(got[static_cast<std::size_t>(i)], i);
  EXPECT_TRUE(ended);
  EXPECT_EQ(r->counters().chunks_out, 200u);
  // read() calls the hook before taking its item (as Node does), so the buffer may briefly hold
  // one item over the highWaterMark, never more.
  EXPECT_LE(r->counters().peak_readable_length, 5u);
}

// is_paused() follows pause()/resume() (Node's isPaused), independently of readableFlowing.
TEST(ReadableFlow, is_paused_observer) {
  manual_loop loop;
  trace t;
  auto r = mk_r(loop, t);
  EXPECT_FALSE(r->is_paused());
  EXPECT_EQ(r->flowing(), std::nullopt);
  r->pause();
  EXPECT_TRUE(r->is_paused());
  EXPECT_EQ(r->flowing(), std::optional<bool>(false));
  r->on_data([](str&&) {});  // does not resume a paused stream
  EXPECT_TRUE(r->is_paused());
  EXPECT_EQ(r->data_listener_count(), 1u);
  r->resume();
  EXPECT_FALSE(r->is_paused());
  EXPECT_EQ(r->flowing(), std::optional<bool>(true));
  loop.run();
}

// Removing the only 'data' listener does not stop the flow by itself (Node: data is dropped);
// the stream still ends once the source is exhausted.
TEST(ReadableFlow, removing_data_listener_keeps_flowing) {
  manual_loop loop;
  trace t;
  auto r = mk_r(loop, t);
  int seen = 0;
  const auto id = r->on_data([&](str&&) { ++seen; });
  r->push("a");
  loop.run();
  EXPECT_EQ(seen, 1);
  EXPECT_TRUE(r->off(id));
  EXPECT_EQ(r->data_listener_count(), 0u);
  r->push("b");
  r->push_eof();
  loop.run();
  EXPECT_EQ(seen, 1);
  EXPECT_EQ(r->flowing(), std::optional<bool>(true));
  EXPECT_TRUE(r->readable_ended());
}

// A move-only item goes to the 'data' listener (read() returns nothing for it): flowing mode
// must go on to the next buffered item all the same. It used to stop after one item per
// flow(), so a pipe of move-only items stalled with items buffered.
TEST(ReadableFlow, move_only_items_all_flow_through_a_pipe) {
  manual_loop loop;
  std::vector<int> got;
  auto w = sluice::make_writable<std::unique_ptr<int>>(
      loop, {.write = [&](auto&, std::unique_ptr<int>&& x, auto cb) {
        got.push_back(*x);
        cb();
      }});
  auto r = sluice::make_readable<std::unique_ptr<int>>(
      loop, {.read = [n = 0](readable<std::unique_ptr<int>>& self, std::size_t) mutable {
        if (n == 100) return self.push_eof();
        self.push(std::make_unique<int>(n++));
      }});
  r->pipe(w, {.runs = false});
  loop.run();
  ASSERT_EQ(got.size(), 100u);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(got[static_cast<std::size_t>(i)], i);
  EXPECT_TRUE(w->finished());
}

}  // namespace
