// Conformance: duplex streams (allowHalfOpen, per-side highWaterMark and mode, shared lifecycle).
// Scenarios: tests/core/node/duplex.js; reference: tests/core/node/traces/duplex.txt.
#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <initializer_list>
#include <memory>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <vector>

#include "sluice/core/make.hpp"
#include "support/trace.hpp"

namespace {

using namespace std::chrono_literals;
using sluice::buffer;
using sluice::test::cb_line;
using sluice::test::trace;
using str = std::string;

// ---- helpers (the C++ side of lib.js) -----------------------------------------------------------

// Errors a scenario creates with `new Error('boom')`: the trace prints their message.
class message_category final : public std::error_category {
 public:
  const char* name() const noexcept override { return "test.message"; }
  std::string message(int v) const override {
    return v > 0 && static_cast<std::size_t>(v) <= messages().size() ? messages()[v - 1] : "?";
  }
  static std::vector<std::string>& messages() {
    static std::vector<std::string> m;
    return m;
  }
};

const message_category& message_cat() {
  static const message_category c;
  return c;
}

std::error_code error(const std::string& msg) {
  auto& m = message_category::messages();
  for (std::size_t i = 0; i < m.size(); ++i)
    if (m[i] == msg) return {static_cast<int>(i + 1), message_cat()};
  m.push_back(msg);
  return {static_cast<int>(m.size()), message_cat()};
}

std::string code(std::error_code ec) { return ec ? sluice::test::node_code(ec) : "null"; }
std::string b(bool v) { return v ? "true" : "false"; }

std::string fmt(const str& c) { return c.empty() ? "''" : c; }
std::string fmt(int c) { return std::to_string(c); }

// setImmediate.
void later(sluice::loop& loop, std::function<void()> fn) { loop.start_timer(0ns, std::move(fn)); }

const std::initializer_list<std::string_view> DEFAULT_EVENTS = {
    "drain", "prefinish", "finish", "end", "close", "error", "pause", "resume"};
// duplex.js ALL.
const std::initializer_list<std::string_view> ALL = {"prefinish", "finish", "end",
                                                     "close",     "error",  "drain"};

// lib.js track(): log the given events (those the stream has).
template <class S>
void track(S& s, trace& tr, std::initializer_list<std::string_view> events = DEFAULT_EVENTS) {
  for (auto ev : events) {
    const std::string line = "event " + std::string(ev);
    auto log = [&tr, line] { tr(line); };
    if (ev == "error") {
      s.on_error([&tr](std::error_code ec) { tr("event error " + code(ec)); });
    } else if (ev == "close") {
      s.on_close(log);
    } else if constexpr (requires { s.on_drain(log); }) {
      if (ev == "drain") s.on_drain(log);
      if (ev == "prefinish") s.on_prefinish(log);
      if (ev == "finish") s.on_finish(log);
    }
    if constexpr (requires { s.on_end(log); }) {
      if (ev == "end") s.on_end(log);
      if (ev == "pause") s.on_pause(log);
      if (ev == "resume") s.on_resume(log);
    }
  }
}

// lib.js state().
template <class S>
void state(S& s, trace& tr, std::initializer_list<std::string_view> keys) {
  std::string line = "state";
  for (auto k : keys) {
    std::string v = "?";
    if (k == "destroyed") v = b(s.destroyed());
    if (k == "errored") v = code(s.errored());
    if (k == "writableEnded") v = b(s.ended());
    if (k == "writableFinished") v = b(s.finished());
    if (k == "readableEnded") v = b(s.readable_ended());
    line.append(" ").append(k).append("=").append(v);
  }
  tr(line);
}

const std::initializer_list<std::string_view> WS = {"writableEnded", "writableFinished",
                                                    "readableEnded", "destroyed"};

// lib.js w(): write with a logging callback.
template <class T>
bool w(sluice::writable<T>& s, trace& tr, const std::string& chunk) {
  T c;
  if constexpr (std::is_same_v<T, buffer>)
    c = buffer::copy_of(chunk);
  else
    c = chunk;
  const bool r =
      s.write(std::move(c), [&tr, chunk](std::error_code ec) { tr(cb_line(chunk, ec)); });
  tr("write(" + chunk + ") -> " + b(r));
  return r;
}

// lib.js push().
template <class T>
bool push(sluice::readable<T>& r, trace& tr, T chunk) {
  const std::string f = fmt(chunk);
  const bool ok = r.push(std::move(chunk));
  tr("push(" + f + ") -> " + b(ok));
  return ok;
}

// push(null): Node's push(null) always returns false (the stream is ended); push_eof() is void.
template <class T>
void push_null(sluice::readable<T>& r, trace& tr) {
  r.push_eof();
  tr("push(null) -> false");
}

// lib.js onData().
template <class T>
void on_data(sluice::readable<T>& r, trace& tr) {
  r.on_data([&tr](T&& c) { tr("event data " + fmt(c)); });
}

// duplex.js mkD(): a sync write hook and a no-op read hook (pushes are manual).
std::shared_ptr<sluice::duplex<str, str>> mk_d(sluice::manual_loop& loop, trace& tr,
                                               bool allow_half_open = true) {
  using D = sluice::duplex<str, str>;
  return sluice::make_duplex<str, str>(
      loop, {.allow_half_open = allow_half_open,
             .read = [&tr](D&, std::size_t n) { tr("hook read " + std::to_string(n)); },
             .write =
                 [&tr](D&, str&& c, D::write_callback cb) {
                   tr("hook write " + fmt(c));
                   cb();
                 },
             .final =
                 [&tr](D&, sluice::callback cb) {
                   tr("hook final");
                   cb({});
                 },
             .destroy =
                 [&tr](D&, std::error_code ec, sluice::callback cb) {
                   tr("hook destroy " + code(ec));
                   cb(ec);
                 }});
}

// Node 20's byte-mode default highWaterMark (16 KiB) for the scenarios that print it; sluice's own
// default is 64 KiB (a deliberate difference, see docs/node-differences.md).
class node20_byte_default {
 public:
  node20_byte_default() { sluice::set_default_high_water_mark(sluice::stream_mode::bytes, 16384); }
  ~node20_byte_default() {
    sluice::set_default_high_water_mark(sluice::stream_mode::bytes, saved_);
  }
  node20_byte_default(const node20_byte_default&) = delete;
  node20_byte_default& operator=(const node20_byte_default&) = delete;

 private:
  std::size_t saved_ = sluice::default_high_water_mark(sluice::stream_mode::bytes);
};

// ---- scenarios
// ------------------------------------------------------------------------------------

TEST(DuplexConformance, AllowHalfOpenTrue) {
  sluice::manual_loop loop;
  trace tr;
  auto d = mk_d(loop, tr);
  track(*d, tr);
  on_data(*d, tr);
  push(*d, tr, str("r1"));
  push_null(*d, tr);
  d->on_end([&] {
    tr("in end");
    state(*d, tr, WS);
  });
  later(loop, [&] {
    tr("write after readable end");
    w(*d, tr, "w1");
    d->end();
  });
  tr.sync();
  loop.run();
  EXPECT_TRACE(tr, R"(
    push(r1) -> true
    push(null) -> false
    -- sync
    event resume
    event data r1
    event end
    in end
    state writableEnded=false writableFinished=false readableEnded=true destroyed=false
    write after readable end
    hook write w1
    write(w1) -> true
    hook final
    event prefinish
    cb w1 null
    event finish
    hook destroy null
    event close
  )");
}

TEST(DuplexConformance, AllowHalfOpenFalse) {
  sluice::manual_loop loop;
  trace tr;
  auto d = mk_d(loop, tr, false);
  track(*d, tr);
  on_data(*d, tr);
  push(*d, tr, str("r1"));
  push_null(*d, tr);
  d->on_end([&] {
    tr("in end");
    state(*d, tr, WS);
    loop.defer([&] {
      tr("nextTick queued in end");
      state(*d, tr, WS);
    });
  });
  tr.sync();
  loop.run();
  EXPECT_TRACE(tr, R"(
    push(r1) -> true
    push(null) -> false
    -- sync
    event resume
    event data r1
    event end
    in end
    state writableEnded=false writableFinished=false readableEnded=true destroyed=false
    nextTick queued in end
    state writableEnded=false writableFinished=false readableEnded=true destroyed=false
    hook final
    event prefinish
    event finish
    hook destroy null
    event close
  )");
}

TEST(DuplexConformance, AllowHalfOpenFalseWriteInEnd) {
  sluice::manual_loop loop;
  trace tr;
  auto d = mk_d(loop, tr, false);
  track(*d, tr);
  on_data(*d, tr);
  push_null(*d, tr);
  d->on_end([&] { w(*d, tr, "late"); });
  tr.sync();
  loop.run();
  EXPECT_TRACE(tr, R"(
    push(null) -> false
    -- sync
    event resume
    event end
    hook write late
    write(late) -> true
    cb late null
    hook final
    event prefinish
    event finish
    hook destroy null
    event close
  )");
}

TEST(DuplexConformance, AllowHalfOpenFalseWritableFirst) {
  sluice::manual_loop loop;
  trace tr;
  auto d = mk_d(loop, tr, false);
  track(*d, tr);
  on_data(*d, tr);
  d->end();
  later(loop, [&] {
    tr("push after finish");
    push(*d, tr, str("r1"));
    push_null(*d, tr);
  });
  tr.sync();
  loop.run();
  EXPECT_TRACE(tr, R"(
    hook final
    event prefinish
    -- sync
    hook read 16
    event resume
    event finish
    push after finish
    event data r1
    push(r1) -> true
    push(null) -> false
    event end
    hook destroy null
    event close
  )");
}

TEST(DuplexConformance, CloseAfterBothSides) {
  sluice::manual_loop loop;
  trace tr;
  auto d = mk_d(loop, tr);
  track(*d, tr);
  on_data(*d, tr);
  d->end();
  later(loop, [&] {
    tr("end readable");
    push_null(*d, tr);
  });
  tr.sync();
  loop.run();
  EXPECT_TRACE(tr, R"(
    hook final
    event prefinish
    -- sync
    hook read 16
    event resume
    event finish
    end readable
    push(null) -> false
    event end
    hook destroy null
    event close
  )");
}

TEST(DuplexConformance, PerSideHwm) {
  sluice::manual_loop loop;
  trace tr;
  using D = sluice::duplex<str, str>;
  auto d =
      sluice::make_duplex<str, str>(loop, {.readable_high_water_mark = 1,
                                           .writable_high_water_mark = 3,
                                           .read = [](D&, std::size_t) {},
                                           .write =
                                               [&tr, &loop](D&, str&& c, D::write_callback cb) {
                                                 tr("hook write " + c);
                                                 loop.defer([cb] { cb(); });
                                               }});
  track(*d, tr, ALL);
  tr("readableHighWaterMark=" + std::to_string(d->readable_high_water_mark()) +
     " writableHighWaterMark=" + std::to_string(d->writable_high_water_mark()));
  push(*d, tr, str("a"));
  push(*d, tr, str("b"));
  w(*d, tr, "x");
  w(*d, tr, "y");
  w(*d, tr, "z");
  tr.sync();
  loop.run();
  EXPECT_TRACE(tr, R"(
    readableHighWaterMark=1 writableHighWaterMark=3
    push(a) -> false
    push(b) -> false
    hook write x
    write(x) -> true
    write(y) -> true
    write(z) -> false
    -- sync
    hook write y
    cb x null
    hook write z
    cb y null
    event drain
    cb z null
  )");
}

// hwm_overrides_per_side: not ported. duplex_options has no combined `highWaterMark` that could
// override the per-side values; each side's highWaterMark is set on its own.

TEST(DuplexConformance, PerSideObjectMode) {
  node20_byte_default node20;
  sluice::manual_loop loop;
  trace tr;
  // Bytes in, objects out: duplex<buffer, int>.
  using D = sluice::duplex<buffer, int>;
  auto d = sluice::make_duplex<buffer, int>(loop, {.read = [](D&, std::size_t) {},
                                                   .write =
                                                       [&tr](D&, buffer&& c, D::write_callback cb) {
                                                         tr("hook write buffer:" + c.to_string());
                                                         cb();
                                                       }});
  track(*d, tr, ALL);
  tr("readableObjectMode=" + b(!sluice::is_byte_mode<D::output_type>) +
     " writableObjectMode=" + b(!sluice::is_byte_mode<D::input_type>));
  tr("readableHighWaterMark=" + std::to_string(d->readable_high_water_mark()) +
     " writableHighWaterMark=" + std::to_string(d->writable_high_water_mark()));
  on_data(*d, tr);
  push(*d, tr, 42);
  w(*d, tr, "ab");
  tr.sync();
  loop.run();
  EXPECT_TRACE(tr, R"(
    readableObjectMode=true writableObjectMode=false
    readableHighWaterMark=16 writableHighWaterMark=16384
    push(42) -> true
    hook write buffer:ab
    write(ab) -> true
    -- sync
    event data 42
    cb ab null
  )");
}

TEST(DuplexConformance, DestroyDuplex) {
  sluice::manual_loop loop;
  trace tr;
  auto d = mk_d(loop, tr);
  track(*d, tr, ALL);
  on_data(*d, tr);
  w(*d, tr, "a");
  d->destroy(error("dboom"));
  state(*d, tr, {"destroyed", "errored", "writableEnded", "readableEnded"});
  tr.sync();
  loop.run();
  EXPECT_TRACE(tr, R"(
    hook write a
    write(a) -> true
    hook destroy dboom
    state destroyed=true errored=dboom writableEnded=false readableEnded=false
    -- sync
    cb a null
    event error dboom
    event close
  )");
}

TEST(DuplexConformance, DestroyDuplexNoError) {
  sluice::manual_loop loop;
  trace tr;
  auto d = mk_d(loop, tr);
  track(*d, tr, ALL);
  on_data(*d, tr);
  push(*d, tr, str("r1"));
  d->destroy();
  tr.sync();
  loop.run();
  EXPECT_TRACE(tr, R"(
    push(r1) -> true
    hook destroy null
    -- sync
    event data r1
    event close
  )");
}

TEST(DuplexConformance, WriteErrorDuplex) {
  sluice::manual_loop loop;
  trace tr;
  using D = sluice::duplex<str, str>;
  auto d =
      sluice::make_duplex<str, str>(loop, {.read = [](D&, std::size_t) {},
                                           .write =
                                               [&tr, &loop](D&, str&& c, D::write_callback cb) {
                                                 tr("hook write " + c);
                                                 loop.defer([cb] { cb(error("wfail")); });
                                               }});
  track(*d, tr, ALL);
  on_data(*d, tr);
  w(*d, tr, "a");
  later(loop, [&] { state(*d, tr, {"destroyed", "errored", "readableEnded"}); });
  tr.sync();
  loop.run();
  EXPECT_TRACE(tr, R"(
    hook write a
    write(a) -> true
    -- sync
    cb a wfail
    event error wfail
    event close
    state destroyed=true errored=wfail readableEnded=false
  )");
}

// readable_false_option: not ported. sluice has no `readable: false` option: a write-only stream
// is a writable<T>.

// ---- beyond the traces -------------------------------------------------------------------------

TEST(DuplexConformance, AllowHalfOpenObserver) {
  sluice::manual_loop loop;
  trace tr;
  EXPECT_TRUE(mk_d(loop, tr)->allow_half_open());
  EXPECT_FALSE(mk_d(loop, tr, false)->allow_half_open());
}

// Both sides share one lifecycle: destroying through the writable<In> view is seen through the
// readable<Out> view, with one 'error' and one 'close' in all.
TEST(DuplexConformance, SidesShareOneLifecycle) {
  sluice::manual_loop loop;
  trace tr;
  auto d = mk_d(loop, tr);
  std::shared_ptr<sluice::writable<str>> ws = d;
  std::shared_ptr<sluice::readable<str>> rs = d;
  track(*ws, tr, {"error", "close"});
  track(*rs, tr, {"error", "close"});
  ws->destroy(error("boom"));
  EXPECT_TRUE(rs->destroyed());
  EXPECT_EQ(code(rs->errored()), "boom");
  EXPECT_FALSE(rs->is_readable());
  EXPECT_FALSE(ws->is_writable());
  tr.sync();
  loop.run();
  EXPECT_TRACE(tr, R"(
    hook destroy boom
    -- sync
    event error boom
    event error boom
    event close
    event close
  )");
}

// Counters: what went in through the writable side and out through the readable side.
TEST(DuplexConformance, CountersPerSide) {
  sluice::manual_loop loop;
  trace tr;
  auto d = mk_d(loop, tr);
  on_data(*d, tr);
  d->write("w1");
  d->write("w2");
  d->push("r1");
  loop.run();
  EXPECT_EQ(d->counters().chunks_in, 2u);
  EXPECT_EQ(d->counters().chunks_out, 1u);
  EXPECT_EQ(d->counters().bytes_in, 0u);  // object mode
}

// A readable side that ended without consumption keeps the duplex open until it is read.
TEST(DuplexConformance, NoCloseWhileReadableSideUnconsumed) {
  sluice::manual_loop loop;
  trace tr;
  auto d = mk_d(loop, tr);
  track(*d, tr, {"finish", "end", "close"});
  d->push("r1");
  d->push_eof();
  d->end();
  loop.run();
  EXPECT_FALSE(d->destroyed());
  tr.sync();
  auto v = d->read();
  tr("read() -> " + (v ? *v : std::string("null")));
  loop.run();
  EXPECT_TRUE(d->destroyed());
  EXPECT_TRACE(tr, R"(
    hook final
    event finish
    -- sync
    read() -> r1
    event end
    hook destroy null
    event close
  )");
}

}  // namespace
