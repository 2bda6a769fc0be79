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

#include "sluice/loop.hpp"
#include "sluice/make.hpp"
#include "support/trace.hpp"

namespace {

// ---- Harness: the C++ side of tests/conformance/node/lib.js ------------------------------------
using sluice::buffer;
using sluice::callback;
using sluice::manual_loop;
using sluice::writable;
using sluice::test::cb_line;
using sluice::test::node_code;
using sluice::test::trace;

// How a hook completes (lib.js mkWritable's modes): before returning, on the next tick
// (process.nextTick), in a 0-duration timer (setImmediate), or when the test says so.
enum class done { sync, tick, imm, hold };

std::string fmt(const std::string& s) { return s; }
[[maybe_unused]] std::string fmt(const buffer& b) { return b.to_string(); }

template <class T>
T chunk_of(std::string_view s);
template <>
std::string chunk_of<std::string>(std::string_view s) {
  return std::string(s);
}
template <>
[[maybe_unused]] buffer chunk_of<buffer>(std::string_view s) {
  return buffer::copy_of(s);
}

std::string code(std::error_code ec) { return ec ? node_code(ec) : std::string("null"); }
std::string tf(bool b) { return b ? "true" : "false"; }

// Node's setImmediate (lib.js later()): timers fire after every deferred task.
void later(manual_loop& loop, std::function<void()> fn) {
  (void)loop.start_timer(std::chrono::nanoseconds(0), std::move(fn));
}

// Errors with a plain message, as `new Error('boom')` (node_code prints the message).
class test_category_impl final : public std::error_category {
 public:
  [[nodiscard]] const char* name() const noexcept override { return "test"; }
  [[nodiscard]] std::string message(int v) const override {
    switch (v) {
      case 1:
        return "boom";
      case 2:
        return "vfail";
      default:
        return "unknown";
    }
  }
};
[[maybe_unused]] std::error_code test_error(int v) {
  static const test_category_impl cat;
  return {v, cat};
}

// lib.js mkWritable's options.
struct mk_opts {
  done write = done::sync;
  bool writev = false;
  std::optional<done> final{};
  std::optional<std::size_t> hwm{};
  bool auto_destroy = true;
  bool emit_close = true;
};

using pending_list = std::deque<std::function<void()>>;

template <class T>
struct test_writable {
  std::shared_ptr<writable<T>> s;
  std::shared_ptr<pending_list> pending;  // held ('hold') completions, oldest first
  writable<T>* operator->() const { return s.get(); }
  writable<T>& operator*() const { return *s; }
  // pending.shift()()
  void complete_next() const {
    ASSERT_FALSE(pending->empty());
    auto fn = std::move(pending->front());
    pending->pop_front();
    fn();
  }
};

void complete(manual_loop& loop, sluice::stream& self, done mode, std::function<void()> fn,
              pending_list& pending) {
  switch (mode) {
    case done::sync:
      fn();
      break;
    case done::tick:
      loop.defer([keep = self.shared_from_this(), fn] { fn(); });
      break;
    case done::imm:
      later(loop, [keep = self.shared_from_this(), fn] { fn(); });
      break;
    case done::hold:
      pending.push_back(std::move(fn));
      break;
  }
}

template <class T>
test_writable<T> mk_writable(manual_loop& loop, trace& t, mk_opts o) {
  using wcb = typename writable<T>::write_callback;
  auto pending = std::make_shared<pending_list>();
  sluice::writable_spec<T> spec;
  spec.high_water_mark = o.hwm;
  spec.auto_destroy = o.auto_destroy;
  spec.emit_close = o.emit_close;
  spec.write = [&loop, &t, pending, mode = o.write](writable<T>& self, T&& c, wcb cb) {
    t("hook write " + fmt(c));
    complete(
        loop, self, mode, [cb] { cb(); }, *pending);
  };
  if (o.writev) {
    spec.writev = [&loop, &t, pending, mode = o.write](writable<T>& self, std::vector<T>& cs,
                                                       wcb cb) {
      std::string list;
      for (const auto& c : cs) list += (list.empty() ? "" : ",") + fmt(c);
      t("hook writev " + std::to_string(cs.size()) + " [" + list + "]");
      complete(
          loop, self, mode, [cb] { cb(); }, *pending);
    };
  }
  if (o.final) {
    spec.final = [&loop, &t, pending, mode = *o.final](writable<T>& self, callback cb) {
      t("hook final");
      complete(
          loop, self, mode, [cb] { cb({}); }, *pending);
    };
  }
  return {sluice::make_writable<T>(loop, std::move(spec)), pending};
}

// lib.js track(): logs drain, prefinish, finish, close and error.
template <class T>
void track(writable<T>& s, trace& t) {
  s.on_drain([&t] { t("event drain"); });
  s.on_prefinish([&t] { t("event prefinish"); });
  s.on_finish([&t] { t("event finish"); });
  s.on_close([&t] { t("event close"); });
  s.on_error([&t](std::error_code ec) { t("event error " + code(ec)); });
}

// lib.js w(): write with a logging callback (labelled with the chunk), then log the result.
template <class T>
bool w(writable<T>& s, trace& t, std::string_view chunk) {
  const std::string label(chunk);
  const bool r =
      s.write(chunk_of<T>(chunk), [&t, label](std::error_code ec) { t(cb_line(label, ec)); });
  t("write(" + std::string(chunk) + ") -> " + tf(r));
  return r;
}

// lib.js w(s, chunk, false): no callback.
template <class T>
[[maybe_unused]] bool w_nocb(writable<T>& s, trace& t, std::string_view chunk) {
  const bool r = s.write(chunk_of<T>(chunk));
  t("write(" + std::string(chunk) + ") -> " + tf(r));
  return r;
}

template <class T>
std::string state_value(const writable<T>& s, std::string_view key) {
  if (key == "writableLength") return std::to_string(s.writable_length());
  if (key == "writableNeedDrain") return tf(s.need_drain());
  if (key == "writableEnded") return tf(s.ended());
  if (key == "writableFinished") return tf(s.finished());
  if (key == "writableCorked") return std::to_string(s.corked());
  if (key == "destroyed") return tf(s.destroyed());
  if (key == "errored") return code(s.errored());
  ADD_FAILURE() << "unknown state key " << key;
  return "?";
}

// lib.js state(): "state k=v k=v".
template <class T>
void state(const writable<T>& s, trace& t, std::initializer_list<std::string_view> keys) {
  std::string line = "state";
  for (auto k : keys) line += " " + std::string(k) + "=" + state_value(s, k);
  t(line);
}

// An end() callback that logs "cb <label> <code>".
[[maybe_unused]] callback endcb(trace& t, std::string label) {
  return [&t, label = std::move(label)](std::error_code ec) { t(cb_line(label, ec)); };
}

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
