// Conformance: readable push()/read() against Node 20
// (tests/core/node/readable_push_read.js, traces/readable_push_read.txt).
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

// Node's track() with the default events (those a readable has).
template <class T>
void track(readable<T>& r, trace& tr) {
  r.on_end([&tr] { tr("event end"); });
  r.on_close([&tr] { tr("event close"); });
  r.on_error([&tr](std::error_code ec) { tr("event error " + sluice::test::node_code(ec)); });
  r.on_pause([&tr] { tr("event pause"); });
  r.on_resume([&tr] { tr("event resume"); });
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
std::optional<T> read(readable<T>& r, trace& tr, std::size_t n) {
  auto v = r.read(n);
  tr("read(" + std::to_string(n) + ") -> " + fmt(v));
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
  if (k == "destroyed") return fmt_bool(r.destroyed());
  if (k == "errored") return r.errored() ? sluice::test::node_code(r.errored()) : "null";
  ADD_FAILURE() << "unknown state key " << k;
  return "?";
}

template <class T>
void state(readable<T>& r, trace& tr,
           std::initializer_list<std::string_view> keys = {"readableLength", "readableFlowing",
                                                           "readableEnded"}) {
  std::string line = "state";
  for (auto k : keys) line.append(" ").append(k).append("=").append(field(r, k));
  tr(line);
}

// Node's mkR: a readable whose read hook only logs.
template <class T>
std::shared_ptr<readable<T>> mk_r(manual_loop& loop, trace& tr,
                                  std::optional<std::size_t> hwm = std::nullopt) {
  return sluice::make_readable<T>(
      loop, {.high_water_mark = hwm,
             .read = [&tr](readable<T>&, std::size_t n) { tr("hook read " + std::to_string(n)); }});
}

// --- scenarios --------------------------------------------------------------------------------

TEST(ReadablePushRead, push_returns_false_obj_hwm2) {
  manual_loop loop;
  trace t;
  auto r = mk_r<str>(loop, t, 2);
  track(*r, t);
  push(*r, t, "a");
  push(*r, t, "b");
  push(*r, t, "c");
  state(*r, t);
  t.sync();
  loop.run();
  EXPECT_TRACE(t, R"(
push(a) -> true
push(b) -> false
push(c) -> false
state readableLength=3 readableFlowing=null readableEnded=false
-- sync
)");
}

TEST(ReadablePushRead, push_returns_false_bytes_hwm4) {
  manual_loop loop;
  trace t;
  auto r = mk_r<buffer>(loop, t, 4);
  track(*r, t);
  push(*r, t, "ab");
  push(*r, t, "cd");
  push(*r, t, "e");
  state(*r, t);
  t.sync();
  loop.run();
  EXPECT_TRACE(t, R"(
push(ab) -> true
push(cd) -> false
push(e) -> false
state readableLength=5 readableFlowing=null readableEnded=false
-- sync
)");
}

TEST(ReadablePushRead, read_hook_only_below_hwm) {
  manual_loop loop;
  trace t;
  auto r = mk_r<str>(loop, t, 2);
  track(*r, t);
  push(*r, t, "a");
  push(*r, t, "b");
  later(loop, [&] {
    t("no _read so far");
    read(*r, t);
    state(*r, t);
    read(*r, t);
    state(*r, t);
  });
  t.sync();
  loop.run();
  EXPECT_TRACE(t, R"(
push(a) -> true
push(b) -> false
-- sync
no _read so far
hook read 2
read() -> a
state readableLength=1 readableFlowing=null readableEnded=false
read() -> b
state readableLength=0 readableFlowing=null readableEnded=false
)");
}

TEST(ReadablePushRead, read_hook_called_to_fill) {
  manual_loop loop;
  trace t;
  auto r = mk_r<str>(loop, t, 3);
  track(*r, t);
  push(*r, t, "a");
  t.sync();
  loop.run();
  EXPECT_TRACE(t, R"(
push(a) -> true
-- sync
hook read 3
)");
}

TEST(ReadablePushRead, read_n_join_split) {
  manual_loop loop;
  trace t;
  auto r = mk_r<buffer>(loop, t, 16);
  track(*r, t);
  push(*r, t, "abc");
  push(*r, t, "def");
  read(*r, t, 4);
  state(*r, t);
  read(*r, t, 2);
  state(*r, t);
  read(*r, t, 1);
  t.sync();
  loop.run();
  EXPECT_TRACE(t, R"(
push(abc) -> true
push(def) -> true
hook read 16
read(4) -> abcd
state readableLength=2 readableFlowing=null readableEnded=false
read(2) -> ef
state readableLength=0 readableFlowing=null readableEnded=false
read(1) -> null
-- sync
)");
}

TEST(ReadablePushRead, read_n_more_than_buffered) {
  manual_loop loop;
  trace t;
  auto r = mk_r<buffer>(loop, t, 16);
  track(*r, t);
  push(*r, t, "abc");
  read(*r, t, 5);
  state(*r, t);
  push_eof(*r, t);
  read(*r, t, 5);
  state(*r, t);
  read(*r, t, 5);
  t.sync();
  loop.run();
  EXPECT_TRACE(t, R"(
push(abc) -> true
hook read 16
read(5) -> null
state readableLength=3 readableFlowing=null readableEnded=false
push(null) -> false
read(5) -> abc
state readableLength=0 readableFlowing=null readableEnded=false
read(5) -> null
-- sync
event end
event close
)");
}

TEST(ReadablePushRead, read_all_bytes) {
  manual_loop loop;
  trace t;
  auto r = mk_r<buffer>(loop, t, 16);
  track(*r, t);
  push(*r, t, "ab");
  push(*r, t, "cd");
  push(*r, t, "ef");
  read(*r, t);
  state(*r, t);
  t.sync();
  loop.run();
  EXPECT_TRACE(t, R"(
push(ab) -> true
push(cd) -> true
push(ef) -> true
hook read 16
read() -> abcdef
state readableLength=0 readableFlowing=null readableEnded=false
-- sync
)");
}

TEST(ReadablePushRead, read_obj_single_item) {
  manual_loop loop;
  trace t;
  auto r = mk_r<str>(loop, t, 4);
  track(*r, t);
  push(*r, t, "a");
  push(*r, t, "b");
  push(*r, t, "c");
  read(*r, t);
  read(*r, t, 5);
  read(*r, t, 0);
  state(*r, t);
  t.sync();
  loop.run();
  EXPECT_TRACE(t, R"(
push(a) -> true
push(b) -> true
push(c) -> true
hook read 4
read() -> a
read(5) -> b
read(0) -> null
state readableLength=1 readableFlowing=null readableEnded=false
-- sync
)");
}

TEST(ReadablePushRead, read0_triggers_read_hook) {
  manual_loop loop;
  trace t;
  auto r = mk_r<str>(loop, t, 2);
  track(*r, t);
  read(*r, t, 0);
  state(*r, t);
  t.sync();
  loop.run();
  EXPECT_TRACE(t, R"(
hook read 2
read(0) -> null
state readableLength=0 readableFlowing=null readableEnded=false
-- sync
)");
}

TEST(ReadablePushRead, read_n_raises_hwm) {
  manual_loop loop;
  trace t;
  auto r = mk_r<buffer>(loop, t, 4);
  track(*r, t);
  read(*r, t, 10);
  t("readableHighWaterMark=" + std::to_string(r->readable_high_water_mark()));
  t.sync();
  loop.run();
  EXPECT_TRACE(t, R"(
hook read 16
read(10) -> null
readableHighWaterMark=16
-- sync
)");
}

TEST(ReadablePushRead, hwm0_readable) {
  manual_loop loop;
  trace t;
  auto r = mk_r<str>(loop, t, 0);
  track(*r, t);
  push(*r, t, "a");
  push(*r, t, "b");
  state(*r, t);
  read(*r, t);
  read(*r, t);
  read(*r, t);
  t.sync();
  loop.run();
  EXPECT_TRACE(t, R"(
push(a) -> false
push(b) -> false
state readableLength=2 readableFlowing=null readableEnded=false
read() -> a
read() -> b
hook read 0
read() -> null
-- sync
)");
}

TEST(ReadablePushRead, push_after_eof) {
  manual_loop loop;
  trace t;
  auto r = mk_r<str>(loop, t);
  track(*r, t);
  push(*r, t, "a");
  push_eof(*r, t);
  push(*r, t, "b");
  state(*r, t, {"readableLength", "destroyed", "errored"});
  t.sync();
  loop.run();
  EXPECT_TRACE(t, R"(
push(a) -> true
push(null) -> false
push(b) -> false
state readableLength=1 destroyed=true errored=ERR_STREAM_PUSH_AFTER_EOF
-- sync
event error ERR_STREAM_PUSH_AFTER_EOF
event close
)");
}

TEST(ReadablePushRead, push_null_twice) {
  manual_loop loop;
  trace t;
  auto r = mk_r<str>(loop, t);
  track(*r, t);
  push_eof(*r, t);
  push_eof(*r, t);
  r->on_data([&t](str&& c) { t("event data " + c); });
  t.sync();
  loop.run();
  EXPECT_TRACE(t, R"(
push(null) -> false
push(null) -> false
-- sync
event resume
event end
event close
)");
}

TEST(ReadablePushRead, unshift_obj) {
  manual_loop loop;
  trace t;
  auto r = mk_r<str>(loop, t, 4);
  track(*r, t);
  push(*r, t, "b");
  push(*r, t, "c");
  auto x = read(*r, t);
  ASSERT_TRUE(x.has_value());
  const std::string xs = *x;
  t("unshift(" + xs + ") -> " + fmt_bool(r->unshift(std::move(*x))));
  t("unshift(a) -> " + fmt_bool(r->unshift("a")));
  read(*r, t);
  read(*r, t);
  read(*r, t);
  t.sync();
  loop.run();
  EXPECT_TRACE(t, R"(
push(b) -> true
push(c) -> true
hook read 4
read() -> b
unshift(b) -> true
unshift(a) -> true
read() -> a
read() -> b
read() -> c
-- sync
)");
}

TEST(ReadablePushRead, unshift_bytes) {
  manual_loop loop;
  trace t;
  auto r = mk_r<buffer>(loop, t, 16);
  track(*r, t);
  push(*r, t, "abcdef");
  auto x = read(*r, t, 2);
  ASSERT_TRUE(x.has_value());
  const std::string xs = x->to_string();
  t("unshift(" + xs + ") -> " + fmt_bool(r->unshift(std::move(*x))));
  read(*r, t, 3);
  read(*r, t);
  t.sync();
  loop.run();
  EXPECT_TRACE(t, R"(
push(abcdef) -> true
hook read 16
read(2) -> ab
unshift(ab) -> true
read(3) -> abc
read() -> def
-- sync
)");
}

TEST(ReadablePushRead, unshift_after_end_event) {
  manual_loop loop;
  trace t;
  auto r = mk_r<str>(loop, t);
  track(*r, t);
  r->on_data([&t](str&& c) { t("event data " + c); });
  push(*r, t, "a");
  push_eof(*r, t);
  r->on_end([&] { t("unshift(z) -> " + fmt_bool(r->unshift("z"))); });
  t.sync();
  loop.run();
  EXPECT_TRACE(t, R"(
push(a) -> true
push(null) -> false
-- sync
event resume
event data a
event end
unshift(z) -> false
event error ERR_STREAM_UNSHIFT_AFTER_END_EVENT
event close
)");
}

TEST(ReadablePushRead, end_waits_for_consumption) {
  manual_loop loop;
  trace t;
  auto r = mk_r<str>(loop, t);
  track(*r, t);
  push(*r, t, "a");
  push_eof(*r, t);
  later(loop, [&] {
    t("no end yet");
    state(*r, t);
    read(*r, t);
    state(*r, t);
  });
  t.sync();
  loop.run();
  EXPECT_TRACE(t, R"(
push(a) -> true
push(null) -> false
-- sync
no end yet
state readableLength=1 readableFlowing=null readableEnded=false
read() -> a
state readableLength=0 readableFlowing=null readableEnded=false
event end
event close
)");
}

TEST(ReadablePushRead, end_after_readable_loop) {
  manual_loop loop;
  trace t;
  auto r = mk_r<str>(loop, t);
  track(*r, t);
  r->on_readable([&] {
    t("event readable");
    while (read(*r, t)) {
    }
  });
  push(*r, t, "a");
  push(*r, t, "b");
  push_eof(*r, t);
  t.sync();
  loop.run();
  EXPECT_TRACE(t, R"(
push(a) -> true
push(b) -> true
push(null) -> false
-- sync
event readable
read() -> a
read() -> b
read() -> null
event end
event close
)");
}

TEST(ReadablePushRead, sync_read_hook_counter) {
  manual_loop loop;
  trace t;
  int i = 0;
  auto r = sluice::make_readable<str>(
      loop, {.high_water_mark = 2, .read = [&](readable<str>& self, std::size_t n) {
               ++i;
               t("hook read " + std::to_string(n));
               if (i <= 3)
                 push(self, t, "v" + std::to_string(i));
               else
                 push_eof(self, t);
             }});
  track(*r, t);
  read(*r, t);
  state(*r, t);
  read(*r, t);
  state(*r, t);
  later(loop, [&] {
    read(*r, t);
    read(*r, t);
    read(*r, t);
    read(*r, t);
  });
  t.sync();
  loop.run();
  EXPECT_TRACE(t, R"(
hook read 2
push(v1) -> true
read() -> v1
state readableLength=0 readableFlowing=null readableEnded=false
hook read 2
push(v2) -> true
read() -> v2
state readableLength=0 readableFlowing=null readableEnded=false
-- sync
hook read 2
push(v3) -> true
hook read 2
push(null) -> false
read() -> v3
read() -> null
read() -> null
read() -> null
event end
event close
)");
}

TEST(ReadablePushRead, async_read_hook_flowing) {
  manual_loop loop;
  trace t;
  int i = 0;
  auto r = sluice::make_readable<str>(
      loop, {.high_water_mark = 1, .read = [&](readable<str>& self, std::size_t n) {
               const int k = ++i;
               t("hook read " + std::to_string(n));
               loop.defer([&self, &t, k] {
                 if (k <= 3)
                   push(self, t, "v" + std::to_string(k));
                 else
                   push_eof(self, t);
               });
             }});
  track(*r, t);
  r->on_data([&t](str&& c) { t("event data " + c); });
  t.sync();
  loop.run();
  EXPECT_TRACE(t, R"(
-- sync
hook read 1
event resume
event data v1
push(v1) -> true
hook read 1
event data v2
push(v2) -> true
hook read 1
event data v3
push(v3) -> true
hook read 1
push(null) -> false
event end
event close
)");
}

TEST(ReadablePushRead, construct_then_read) {
  manual_loop loop;
  trace t;
  auto r = sluice::make_readable<str>(loop, {.read =
                                                 [&t](readable<str>& self, std::size_t n) {
                                                   t("hook read " + std::to_string(n));
                                                   self.push("x");
                                                   self.push_eof();
                                                 },
                                             .construct =
                                                 [&](readable<str>&, sluice::callback cb) {
                                                   t("hook construct");
                                                   loop.defer([&t, cb] {
                                                     t("construct done");
                                                     cb({});
                                                   });
                                                 }});
  track(*r, t);
  read(*r, t);
  r->on_data([&t](str&& c) { t("event data " + c); });
  t.sync();
  loop.run();
  EXPECT_TRACE(t, R"(
read() -> null
-- sync
hook construct
event resume
construct done
hook read 16
event data x
event end
event close
)");
}

TEST(ReadablePushRead, push_empty_string_bytes) {
  manual_loop loop;
  trace t;
  auto r = mk_r<buffer>(loop, t, 4);
  track(*r, t);
  push(*r, t, "");
  state(*r, t);
  t.sync();
  loop.run();
  EXPECT_TRACE(t, R"(
push('') -> true
state readableLength=0 readableFlowing=null readableEnded=false
-- sync
hook read 4
)");
}

TEST(ReadablePushRead, read_hook_not_reentered) {
  manual_loop loop;
  trace t;
  auto r = mk_r<str>(loop, t, 2);
  track(*r, t);
  read(*r, t);
  read(*r, t);
  read(*r, t, 0);
  later(loop, [&] {
    push(*r, t, "a");
    read(*r, t);
  });
  t.sync();
  loop.run();
  EXPECT_TRACE(t, R"(
hook read 2
read() -> null
read() -> null
read(0) -> null
-- sync
push(a) -> true
hook read 2
read() -> a
)");
}

// --- beyond the traces ------------------------------------------------------------------------

// Counters: every chunk handed out by read() is counted once, in bytes too; push() returning
// false counts one backpressure episode until the next read.
TEST(ReadablePushRead, counters_track_reads_and_push_backpressure) {
  manual_loop loop;
  trace t;
  auto r = mk_r<buffer>(loop, t, 4);
  EXPECT_TRUE(r->push(buffer::copy_of("ab")));
  EXPECT_FALSE(r->push(buffer::copy_of("cde")));
  EXPECT_FALSE(r->push(buffer::copy_of("f")));  // same episode
  EXPECT_EQ(r->counters().push_backpressure, 1u);
  EXPECT_EQ(r->counters().peak_readable_length, 6u);
  auto v = r->read(3);
  ASSERT_TRUE(v);
  EXPECT_EQ(v->to_string(), "abc");
  EXPECT_EQ(r->counters().chunks_out, 1u);
  EXPECT_EQ(r->counters().bytes_out, 3u);
  EXPECT_EQ(r->readable_length(), 3u);
  EXPECT_FALSE(r->push(buffer::copy_of("gh")));  // a new episode after the read
  EXPECT_EQ(r->counters().push_backpressure, 2u);
  r->push_eof();
  v = r->read();
  ASSERT_TRUE(v);
  EXPECT_EQ(v->to_string(), "defgh");
  EXPECT_EQ(r->counters().chunks_out, 2u);
  EXPECT_EQ(r->counters().bytes_out, 8u);
  loop.run();
  EXPECT_TRUE(r->readable_ended());
}

// State observers through the end: eof_pushed() at once, readable_ended()/is_readable() only
// after the last item was consumed and 'end' went out.
TEST(ReadablePushRead, state_observers_through_end) {
  manual_loop loop;
  trace t;
  auto r = mk_r<str>(loop, t, 2);
  r->push("a");
  r->push_eof();
  EXPECT_TRUE(r->eof_pushed());
  EXPECT_FALSE(r->readable_ended());
  EXPECT_TRUE(r->is_readable());
  loop.run();
  EXPECT_FALSE(r->readable_ended());  // 'a' still buffered: no 'end'
  EXPECT_EQ(r->readable_length(), 1u);
  EXPECT_EQ(r->read(), std::optional<str>("a"));
  EXPECT_FALSE(r->readable_ended());  // 'end' comes on a later tick
  loop.run();
  EXPECT_TRUE(r->readable_ended());
  EXPECT_FALSE(r->is_readable());
  EXPECT_TRUE(r->destroyed());  // autoDestroy
  EXPECT_TRUE(r->closed());
  EXPECT_FALSE(r->errored());
}

// Object mode: an item is never split or joined, whatever read(n) asks for; the read hook is
// asked for the highWaterMark each time.
TEST(ReadablePushRead, read_hook_size_is_hwm_and_items_stay_whole) {
  manual_loop loop;
  trace t;
  std::vector<std::size_t> sizes;
  int i = 0;
  auto r = sluice::make_readable<str>(
      loop, {.high_water_mark = 3, .read = [&](readable<str>& self, std::size_t n) {
               sizes.push_back(n);
               if (++i <= 5)
                 self.push("item" + std::to_string(i));
               else
                 self.push_eof();
             }});
  std::vector<str> got;
  while (auto v = r->read(100)) got.push_back(*v);
  loop.run();
  while (auto v = r->read(2)) got.push_back(*v);
  loop.run();
  EXPECT_EQ(got, (std::vector<str>{"item1", "item2", "item3", "item4", "item5"}));
  ASSERT_FALSE(sizes.empty());
  // read(100) raised the hwm to 128 (next power of two) before the first hook call.
  for (auto s : sizes) EXPECT_EQ(s, 128u);
  EXPECT_TRUE(r->readable_ended());
}

}  // namespace
