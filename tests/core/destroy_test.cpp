// Conformance: destroy(), hook errors and callbacks called twice.
// Scenarios: tests/core/node/destroy.js; reference:
// tests/core/node/traces/destroy.txt.
#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <initializer_list>
#include <memory>
#include <optional>
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
std::string fmt(const buffer& c) { return c.to_string(); }

template <class T>
T chunk_of(const std::string& s) {
  if constexpr (std::is_same_v<T, buffer>)
    return buffer::copy_of(s);
  else
    return s;
}

// setImmediate.
void later(sluice::loop& loop, std::function<void()> fn) { loop.start_timer(0ns, std::move(fn)); }

// lib.js track(): log the given events (those the stream has).
template <class S>
void track(S& s, trace& tr,
           std::initializer_list<std::string_view> events = {"drain", "prefinish", "finish", "end",
                                                             "close", "error", "pause", "resume"}) {
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
    if constexpr (requires { s.writable_length(); }) {
      if (k == "writableLength") v = std::to_string(s.writable_length());
      if (k == "writableEnded") v = b(s.ended());
      if (k == "writableFinished") v = b(s.finished());
    }
    if constexpr (requires { s.readable_length(); }) {
      if (k == "readableLength") v = std::to_string(s.readable_length());
      if (k == "readableEnded") v = b(s.readable_ended());
    }
    line.append(" ").append(k).append("=").append(v);
  }
  tr(line);
}

// lib.js w(): write with a logging callback.
template <class T>
bool w(sluice::writable<T>& s, trace& tr, const std::string& chunk) {
  const bool r =
      s.write(chunk_of<T>(chunk), [&tr, chunk](std::error_code ec) { tr(cb_line(chunk, ec)); });
  tr("write(" + chunk + ") -> " + b(r));
  return r;
}

sluice::callback endcb(trace& tr, const std::string& label) {
  return [&tr, label](std::error_code ec) { tr(cb_line(label, ec)); };
}

// lib.js mkWritable() (+ destroy.js mkW(): a _destroy hook that logs and completes at once).
enum class done { sync, tick, imm, hold };

template <class T>
using write_cb = typename sluice::writable<T>::write_callback;

template <class T>
struct mk_opts {
  done write = done::sync;
  std::vector<write_cb<T>>* pending = nullptr;  // done::hold stores the callbacks here
  bool destroy_hook = true;
  bool auto_destroy = true;
};

template <class T>
std::shared_ptr<sluice::writable<T>> mk_w(sluice::manual_loop& loop, trace& tr, mk_opts<T> o = {}) {
  sluice::writable_spec<T> spec{.auto_destroy = o.auto_destroy};
  spec.write = [&loop, &tr, o](sluice::writable<T>&, T&& c, write_cb<T> cb) {
    tr("hook write " + fmt(c));
    switch (o.write) {
      case done::sync:
        cb();
        break;
      case done::tick:
        loop.defer([cb] { cb(); });
        break;
      case done::imm:
        later(loop, [cb] { cb(); });
        break;
      case done::hold:
        o.pending->push_back(cb);
        break;
    }
  };
  if (o.destroy_hook) {
    spec.destroy = [&tr](sluice::writable<T>&, std::error_code ec, sluice::callback cb) {
      tr("hook destroy " + code(ec));
      cb(ec);
    };
  }
  return sluice::make_writable<T>(loop, std::move(spec));
}

template <class Cb>
void complete_next(std::vector<Cb>& pending) {
  auto cb = pending.front();
  pending.erase(pending.begin());
  cb();
}

// A _destroy hook that logs and completes at once (destroy.js).
template <class S>
auto destroy_hook(trace& tr) {
  return [&tr](S&, std::error_code ec, sluice::callback cb) {
    tr("hook destroy " + code(ec));
    cb(ec);
  };
}

const std::initializer_list<std::string_view> S_KEYS = {"destroyed", "errored", "writableLength"};

// ---- scenarios
// ------------------------------------------------------------------------------------

TEST(DestroyConformance, DestroyWithQueuedWrites) {
  sluice::manual_loop loop;
  trace tr;
  std::vector<write_cb<str>> pending;
  auto s = mk_w<str>(loop, tr, {.write = done::hold, .pending = &pending});
  track(*s, tr);
  w(*s, tr, "a");
  w(*s, tr, "b");
  w(*s, tr, "c");
  s->destroy();
  tr("destroy() returned");
  state(*s, tr, S_KEYS);
  later(loop, [&] {
    tr("complete held write a");
    complete_next(pending);
  });
  tr.sync();
  loop.run();
  EXPECT_TRACE(tr, R"(
    hook write a
    write(a) -> true
    write(b) -> true
    write(c) -> true
    hook destroy null
    destroy() returned
    state destroyed=true errored=null writableLength=3
    -- sync
    event close
    complete held write a
    cb a null
    cb b ERR_STREAM_DESTROYED
    cb c ERR_STREAM_DESTROYED
  )");
}

TEST(DestroyConformance, DestroyErrWithQueuedWrites) {
  sluice::manual_loop loop;
  trace tr;
  auto s = mk_w<str>(loop, tr, {.write = done::tick});
  track(*s, tr);
  w(*s, tr, "a");
  w(*s, tr, "b");
  w(*s, tr, "c");
  s->destroy(error("boom"));
  tr("destroy() returned");
  state(*s, tr, S_KEYS);
  tr.sync();
  loop.run();
  EXPECT_TRACE(tr, R"(
    hook write a
    write(a) -> true
    write(b) -> true
    write(c) -> true
    hook destroy boom
    destroy() returned
    state destroyed=true errored=boom writableLength=3
    -- sync
    cb a null
    cb b boom
    cb c boom
    event error boom
    event close
  )");
}

TEST(DestroyConformance, DestroyWithPendingEndCb) {
  sluice::manual_loop loop;
  trace tr;
  std::vector<write_cb<str>> pending;
  auto s = mk_w<str>(loop, tr, {.write = done::hold, .pending = &pending});
  track(*s, tr);
  w(*s, tr, "a");
  w(*s, tr, "b");
  s->end(endcb(tr, "end"));
  s->destroy();
  tr("destroy() returned");
  later(loop, [&] {
    tr("complete held write a");
    complete_next(pending);
  });
  tr.sync();
  loop.run();
  EXPECT_TRACE(tr, R"(
    hook write a
    write(a) -> true
    write(b) -> true
    hook destroy null
    destroy() returned
    -- sync
    event close
    complete held write a
    cb a null
    cb b ERR_STREAM_DESTROYED
    cb end ERR_STREAM_DESTROYED
  )");
}

TEST(DestroyConformance, DestroyErrWithPendingEndCb) {
  sluice::manual_loop loop;
  trace tr;
  std::vector<write_cb<str>> pending;
  auto s = mk_w<str>(loop, tr, {.write = done::hold, .pending = &pending});
  track(*s, tr);
  w(*s, tr, "a");
  w(*s, tr, "b");
  s->end(endcb(tr, "end"));
  s->destroy(error("boom"));
  later(loop, [&] {
    tr("complete held write a");
    complete_next(pending);
  });
  tr.sync();
  loop.run();
  EXPECT_TRACE(tr, R"(
    hook write a
    write(a) -> true
    write(b) -> true
    hook destroy boom
    -- sync
    event error boom
    event close
    complete held write a
    cb a null
    cb b boom
    cb end boom
  )");
}

TEST(DestroyConformance, DestroyWithHeldWriteNeverCompleted) {
  sluice::manual_loop loop;
  trace tr;
  std::vector<write_cb<str>> pending;
  auto s = mk_w<str>(loop, tr, {.write = done::hold, .pending = &pending});
  track(*s, tr);
  w(*s, tr, "a");
  w(*s, tr, "b");
  s->end(endcb(tr, "end"));
  s->destroy();
  tr.sync();
  loop.run();
  EXPECT_TRACE(tr, R"(
    hook write a
    write(a) -> true
    write(b) -> true
    hook destroy null
    -- sync
    event close
  )");
}

TEST(DestroyConformance, DestroyTwiceTwoErrors) {
  sluice::manual_loop loop;
  trace tr;
  auto s = mk_w<str>(loop, tr);
  track(*s, tr);
  s->destroy(error("first"));
  s->destroy(error("second"));
  state(*s, tr, S_KEYS);
  tr.sync();
  loop.run();
  EXPECT_TRACE(tr, R"(
    hook destroy first
    state destroyed=true errored=first writableLength=0
    -- sync
    event error first
    event close
  )");
}

TEST(DestroyConformance, DestroyThenDestroyErr) {
  sluice::manual_loop loop;
  trace tr;
  auto s = mk_w<str>(loop, tr);
  track(*s, tr);
  s->destroy();
  s->destroy(error("late"));
  state(*s, tr, S_KEYS);
  tr.sync();
  loop.run();
  EXPECT_TRACE(tr, R"(
    hook destroy null
    state destroyed=true errored=null writableLength=0
    -- sync
    event close
  )");
}

TEST(DestroyConformance, DestroyInsideWriteHook) {
  sluice::manual_loop loop;
  trace tr;
  auto s = sluice::make_writable<str>(
      loop, {.write =
                 [&tr](sluice::writable<str>& self, str&& c, write_cb<str>) {
                   tr("hook write " + c);
                   self.destroy(error("inhook"));
                   tr("destroy returned in hook");
                 },
             .destroy = destroy_hook<sluice::writable<str>>(tr)});
  track(*s, tr);
  w(*s, tr, "a");
  w(*s, tr, "b");
  tr.sync();
  loop.run();
  EXPECT_TRACE(tr, R"(
    hook write a
    hook destroy inhook
    destroy returned in hook
    write(a) -> false
    write(b) -> false
    -- sync
    event error inhook
    event close
    cb b ERR_STREAM_DESTROYED
  )");
}

TEST(DestroyConformance, DestroyInsideWriteHookThenCb) {
  sluice::manual_loop loop;
  trace tr;
  auto s = sluice::make_writable<str>(
      loop, {.write =
                 [&tr](sluice::writable<str>& self, str&& c, write_cb<str> cb) {
                   tr("hook write " + c);
                   self.destroy();
                   cb();
                 },
             .destroy = destroy_hook<sluice::writable<str>>(tr)});
  track(*s, tr);
  w(*s, tr, "a");
  w(*s, tr, "b");
  tr.sync();
  loop.run();
  EXPECT_TRACE(tr, R"(
    hook write a
    hook destroy null
    write(a) -> false
    write(b) -> false
    -- sync
    event close
    cb a null
    cb b ERR_STREAM_DESTROYED
  )");
}

TEST(DestroyConformance, DestroyBeforeConstructDone) {
  sluice::manual_loop loop;
  trace tr;
  auto s = sluice::make_writable<buffer>(
      loop, {.write =
                 [&tr](sluice::writable<buffer>&, buffer&& c, write_cb<buffer> cb) {
                   tr("hook write " + c.to_string());
                   cb();
                 },
             .destroy = destroy_hook<sluice::writable<buffer>>(tr),
             .construct =
                 [&tr, &loop](sluice::writable<buffer>&, sluice::callback cb) {
                   tr("hook construct");
                   loop.defer([&tr, cb] {
                     tr("construct done");
                     cb({});
                   });
                 }});
  track(*s, tr);
  w(*s, tr, "a");
  s->destroy(error("early"));
  state(*s, tr, S_KEYS);
  tr.sync();
  loop.run();
  EXPECT_TRACE(tr, R"(
    write(a) -> true
    state destroyed=true errored=early writableLength=1
    -- sync
    hook construct
    cb a early
    construct done
    hook destroy early
    event error early
    event close
  )");
}

TEST(DestroyConformance, WriteHookErrorSync) {
  sluice::manual_loop loop;
  trace tr;
  auto s = sluice::make_writable<str>(
      loop, {.write =
                 [&tr](sluice::writable<str>&, str&& c, write_cb<str> cb) {
                   tr("hook write " + c);
                   cb(error("fail-" + c));
                 },
             .destroy = destroy_hook<sluice::writable<str>>(tr)});
  track(*s, tr);
  w(*s, tr, "a");
  state(*s, tr, S_KEYS);
  w(*s, tr, "b");
  tr.sync();
  loop.run();
  EXPECT_TRACE(tr, R"(
    hook write a
    write(a) -> false
    state destroyed=false errored=fail-a writableLength=0
    write(b) -> false
    -- sync
    cb a fail-a
    cb b fail-a
    hook destroy fail-a
    event error fail-a
    event close
  )");
}

TEST(DestroyConformance, WriteHookErrorTick) {
  sluice::manual_loop loop;
  trace tr;
  auto s = sluice::make_writable<str>(
      loop, {.write =
                 [&tr, &loop](sluice::writable<str>&, str&& c, write_cb<str> cb) {
                   tr("hook write " + c);
                   loop.defer([cb, e = error("fail-" + c)] { cb(e); });
                 },
             .destroy = destroy_hook<sluice::writable<str>>(tr)});
  track(*s, tr);
  w(*s, tr, "a");
  w(*s, tr, "b");
  w(*s, tr, "c");
  tr.sync();
  loop.run();
  EXPECT_TRACE(tr, R"(
    hook write a
    write(a) -> true
    write(b) -> true
    write(c) -> true
    -- sync
    cb a fail-a
    cb b fail-a
    cb c fail-a
    hook destroy fail-a
    event error fail-a
    event close
  )");
}

TEST(DestroyConformance, WriteHookErrorNoAutodestroy) {
  sluice::manual_loop loop;
  trace tr;
  auto s = sluice::make_writable<str>(
      loop, {.auto_destroy = false,
             .write = [&tr, &loop](sluice::writable<str>&, str&& c, write_cb<str> cb) {
               tr("hook write " + c);
               loop.defer([cb, e = error("fail-" + c)] { cb(e); });
             }});
  track(*s, tr);
  w(*s, tr, "a");
  w(*s, tr, "b");
  later(loop, [&] {
    state(*s, tr, S_KEYS);
    w(*s, tr, "c");
  });
  tr.sync();
  loop.run();
  EXPECT_TRACE(tr, R"(
    hook write a
    write(a) -> true
    write(b) -> true
    -- sync
    cb a fail-a
    cb b fail-a
    event error fail-a
    state destroyed=false errored=fail-a writableLength=0
    write(c) -> false
  )");
}

TEST(DestroyConformance, FinalErrorSync) {
  sluice::manual_loop loop;
  trace tr;
  auto s = sluice::make_writable<buffer>(
      loop, {.write = [](sluice::writable<buffer>&, buffer&&, write_cb<buffer> cb) { cb(); },
             .final =
                 [&tr](sluice::writable<buffer>&, sluice::callback cb) {
                   tr("hook final");
                   cb(error("finalfail"));
                 }});
  track(*s, tr);
  s->end(endcb(tr, "end"));
  tr("end() returned");
  tr.sync();
  loop.run();
  EXPECT_TRACE(tr, R"(
    hook final
    end() returned
    -- sync
    event error finalfail
    event close
    cb end finalfail
  )");
}

TEST(DestroyConformance, FinalErrorTick) {
  sluice::manual_loop loop;
  trace tr;
  auto s = sluice::make_writable<buffer>(
      loop, {.write = [](sluice::writable<buffer>&, buffer&&, write_cb<buffer> cb) { cb(); },
             .final =
                 [&tr, &loop](sluice::writable<buffer>&, sluice::callback cb) {
                   tr("hook final");
                   loop.defer([cb] { cb(error("finalfail")); });
                 }});
  track(*s, tr);
  s->end(endcb(tr, "end"));
  tr("end() returned");
  tr.sync();
  loop.run();
  EXPECT_TRACE(tr, R"(
    hook final
    end() returned
    -- sync
    cb end finalfail
    event error finalfail
    event close
  )");
}

// final_throws: not ported. sluice hooks must not throw (they report errors through their
// callback, see docs/node-differences.md); the sync cb(err) case is FinalErrorSync.

TEST(DestroyConformance, WriteCbTwiceSync) {
  sluice::manual_loop loop;
  trace tr;
  auto s = sluice::make_writable<str>(
      loop, {.write = [&tr](sluice::writable<str>&, str&& c, write_cb<str> cb) {
        tr("hook write " + c);
        cb();
        cb();
      }});
  track(*s, tr);
  w(*s, tr, "a");
  tr.sync();
  loop.run();
  EXPECT_TRACE(tr, R"(
    hook write a
    write(a) -> false
    -- sync
    cb a null
    event error ERR_MULTIPLE_CALLBACK
    event close
  )");
}

TEST(DestroyConformance, WriteCbTwiceTick) {
  sluice::manual_loop loop;
  trace tr;
  auto s = sluice::make_writable<str>(
      loop, {.write = [&tr, &loop](sluice::writable<str>&, str&& c, write_cb<str> cb) {
        tr("hook write " + c);
        cb();
        loop.defer([cb] { cb(); });
      }});
  track(*s, tr);
  w(*s, tr, "a");
  tr.sync();
  loop.run();
  EXPECT_TRACE(tr, R"(
    hook write a
    write(a) -> true
    -- sync
    cb a null
    event error ERR_MULTIPLE_CALLBACK
    event close
  )");
}

TEST(DestroyConformance, FinalCbTwice) {
  sluice::manual_loop loop;
  trace tr;
  auto s = sluice::make_writable<buffer>(
      loop, {.write = [](sluice::writable<buffer>&, buffer&&, write_cb<buffer> cb) { cb(); },
             .final =
                 [&tr](sluice::writable<buffer>&, sluice::callback cb) {
                   tr("hook final");
                   cb({});
                   cb({});
                 }});
  track(*s, tr);
  s->end();
  tr.sync();
  loop.run();
  EXPECT_TRACE(tr, R"(
    hook final
    event prefinish
    -- sync
    event finish
    event error ERR_MULTIPLE_CALLBACK
    event close
  )");
}

TEST(DestroyConformance, WriteAfterDestroy) {
  sluice::manual_loop loop;
  trace tr;
  auto s = mk_w<str>(loop, tr);
  track(*s, tr);
  s->destroy();
  w(*s, tr, "x");
  state(*s, tr, S_KEYS);
  tr.sync();
  loop.run();
  EXPECT_TRACE(tr, R"(
    hook destroy null
    write(x) -> false
    state destroyed=true errored=null writableLength=0
    -- sync
    event close
    cb x ERR_STREAM_DESTROYED
  )");
}

TEST(DestroyConformance, WriteAfterDestroyErr) {
  sluice::manual_loop loop;
  trace tr;
  auto s = mk_w<str>(loop, tr);
  track(*s, tr);
  s->destroy(error("boom"));
  w(*s, tr, "x");
  tr.sync();
  loop.run();
  EXPECT_TRACE(tr, R"(
    hook destroy boom
    write(x) -> false
    -- sync
    event error boom
    event close
    cb x ERR_STREAM_DESTROYED
  )");
}

TEST(DestroyConformance, EndAfterDestroy) {
  sluice::manual_loop loop;
  trace tr;
  auto s = mk_w<str>(loop, tr);
  track(*s, tr);
  s->destroy();
  s->end(endcb(tr, "end"));
  tr.sync();
  loop.run();
  EXPECT_TRACE(tr, R"(
    hook destroy null
    -- sync
    event close
  )");
}

TEST(DestroyConformance, EndAfterDestroyErr) {
  sluice::manual_loop loop;
  trace tr;
  auto s = mk_w<str>(loop, tr);
  track(*s, tr);
  s->destroy(error("boom"));
  s->end(endcb(tr, "end"));
  tr.sync();
  loop.run();
  EXPECT_TRACE(tr, R"(
    hook destroy boom
    -- sync
    event error boom
    event close
    cb end ERR_STREAM_DESTROYED
  )");
}

TEST(DestroyConformance, EndAfterDestroyClose) {
  sluice::manual_loop loop;
  trace tr;
  auto s = mk_w<str>(loop, tr);
  track(*s, tr);
  s->destroy();
  s->on_close([&tr, &loop, p = s.get()] {
    later(loop, [&tr, p] {
      tr("late end");
      p->end(endcb(tr, "end"));
    });
  });
  tr.sync();
  loop.run();
  EXPECT_TRACE(tr, R"(
    hook destroy null
    -- sync
    event close
    late end
  )");
}

TEST(DestroyConformance, AsyncDestroyHook) {
  sluice::manual_loop loop;
  trace tr;
  auto s = sluice::make_writable<buffer>(
      loop, {.write = [](sluice::writable<buffer>&, buffer&&, write_cb<buffer> cb) { cb(); },
             .destroy =
                 [&tr, &loop](sluice::writable<buffer>&, std::error_code ec, sluice::callback cb) {
                   tr("hook destroy " + code(ec));
                   loop.defer([&tr, ec, cb] {
                     tr("destroy hook done");
                     cb(ec);
                   });
                 }});
  track(*s, tr);
  s->destroy(error("boom"));
  tr("destroy() returned");
  tr.sync();
  loop.run();
  EXPECT_TRACE(tr, R"(
    hook destroy boom
    destroy() returned
    -- sync
    destroy hook done
    event error boom
    event close
  )");
}

TEST(DestroyConformance, DestroyHookSwallowsError) {
  sluice::manual_loop loop;
  trace tr;
  auto s = sluice::make_writable<buffer>(
      loop, {.write = [](sluice::writable<buffer>&, buffer&&, write_cb<buffer> cb) { cb(); },
             .destroy =
                 [&tr](sluice::writable<buffer>&, std::error_code ec, sluice::callback cb) {
                   tr("hook destroy " + code(ec));
                   cb({});
                 }});
  track(*s, tr);
  s->destroy(error("boom"));
  state(*s, tr, S_KEYS);
  tr.sync();
  loop.run();
  EXPECT_TRACE(tr, R"(
    hook destroy boom
    state destroyed=true errored=boom writableLength=0
    -- sync
    event close
  )");
}

TEST(DestroyConformance, DestroyHookReplacesError) {
  sluice::manual_loop loop;
  trace tr;
  auto s = sluice::make_writable<buffer>(
      loop, {.write = [](sluice::writable<buffer>&, buffer&&, write_cb<buffer> cb) { cb(); },
             .destroy =
                 [&tr](sluice::writable<buffer>&, std::error_code ec, sluice::callback cb) {
                   tr("hook destroy " + code(ec));
                   cb(error("replaced"));
                 }});
  track(*s, tr);
  s->destroy(error("boom"));
  tr.sync();
  loop.run();
  EXPECT_TRACE(tr, R"(
    hook destroy boom
    -- sync
    event error replaced
    event close
  )");
}

TEST(DestroyConformance, DestroyErrAfterFinish) {
  sluice::manual_loop loop;
  trace tr;
  auto s = mk_w<buffer>(loop, tr, {.auto_destroy = false});
  track(*s, tr);
  s->end();
  s->on_finish([&tr, &loop, p = s.get()] {
    later(loop, [&tr, p] {
      tr("late destroy");
      p->destroy(error("late"));
    });
  });
  tr.sync();
  loop.run();
  EXPECT_TRACE(tr, R"(
    event prefinish
    -- sync
    event finish
    late destroy
    hook destroy late
    event error late
    event close
  )");
}

TEST(DestroyConformance, DestroyDuringFinal) {
  sluice::manual_loop loop;
  trace tr;
  auto s = sluice::make_writable<buffer>(
      loop, {.write = [](sluice::writable<buffer>&, buffer&&, write_cb<buffer> cb) { cb(); },
             .final =
                 [&tr, &loop](sluice::writable<buffer>&, sluice::callback cb) {
                   tr("hook final");
                   later(loop, [&tr, cb] {
                     tr("final done");
                     cb({});
                   });
                 },
             .destroy = destroy_hook<sluice::writable<buffer>>(tr)});
  track(*s, tr);
  s->end(endcb(tr, "end"));
  loop.defer([&] {
    tr("destroy");
    s->destroy();
  });
  tr.sync();
  loop.run();
  EXPECT_TRACE(tr, R"(
    hook final
    -- sync
    destroy
    hook destroy null
    cb end ERR_STREAM_DESTROYED
    event close
    final done
  )");
}

TEST(DestroyConformance, ReadableDestroyWithBuffer) {
  sluice::manual_loop loop;
  trace tr;
  auto r = sluice::make_readable<str>(loop, {.read = [](sluice::readable<str>&, std::size_t) {}});
  track(*r, tr);
  r->push("a");
  r->push("b");
  r->destroy();
  state(*r, tr, {"readableLength", "destroyed"});
  tr.sync();
  loop.run();
  EXPECT_TRACE(tr, R"(
    state readableLength=2 destroyed=true
    -- sync
    event close
  )");
}

TEST(DestroyConformance, ReadableDestroyErrFlowing) {
  sluice::manual_loop loop;
  trace tr;
  auto r = sluice::make_readable<str>(loop, {.read = [](sluice::readable<str>&, std::size_t) {}});
  track(*r, tr);
  r->on_data([&tr, p = r.get()](str&& c) {
    tr("event data " + c);
    if (c == "b") p->destroy(error("stop"));
  });
  r->push("a");
  r->push("b");
  r->push("c");
  tr.sync();
  loop.run();
  EXPECT_TRACE(tr, R"(
    -- sync
    event resume
    event data a
    event data b
    event data c
    event error stop
    event close
  )");
}

TEST(DestroyConformance, ReadablePushAfterDestroy) {
  sluice::manual_loop loop;
  trace tr;
  auto r = sluice::make_readable<str>(loop, {.read = [](sluice::readable<str>&, std::size_t) {}});
  track(*r, tr);
  r->destroy();
  tr("push(a) -> " + b(r->push("a")));
  state(*r, tr, {"readableLength", "destroyed", "errored"});
  tr.sync();
  loop.run();
  EXPECT_TRACE(tr, R"(
    push(a) -> false
    state readableLength=0 destroyed=true errored=null
    -- sync
    event close
  )");
}

// ---- beyond the traces -------------------------------------------------------------------------

// The state observers a user polls after destroy(err): destroyed() at once, closed() once the
// hook completed, errored() keeps the first error, and is_writable() turns false.
TEST(DestroyConformance, ObserversAfterDestroyErr) {
  sluice::manual_loop loop;
  trace tr;
  auto s = mk_w<str>(loop, tr);
  EXPECT_TRUE(s->is_writable());
  EXPECT_FALSE(s->destroyed());
  EXPECT_FALSE(s->closed());
  s->destroy(error("boom"));
  EXPECT_TRUE(s->destroyed());
  EXPECT_TRUE(s->closed());  // the hook completed synchronously
  EXPECT_FALSE(s->is_writable());
  EXPECT_EQ(code(s->errored()), "boom");
  s->destroy(error("second"));
  EXPECT_EQ(code(s->errored()), "boom");
  loop.run();
  EXPECT_EQ(code(s->errored()), "boom");
}

// The destroy(ec, cb) callback runs when the hook completes (and at once on a second call).
TEST(DestroyConformance, DestroyCallbackRunsWhenHookCompletes) {
  sluice::manual_loop loop;
  trace tr;
  sluice::callback hook_cb;
  auto s = sluice::make_writable<str>(
      loop, {.write = [](sluice::writable<str>&, str&&, write_cb<str> cb) { cb(); },
             .destroy =
                 [&](sluice::writable<str>&, std::error_code ec, sluice::callback cb) {
                   tr("hook destroy " + code(ec));
                   hook_cb = [cb, ec](std::error_code) { cb(ec); };
                 }});
  track(*s, tr);
  s->destroy(error("boom"), endcb(tr, "destroy"));
  EXPECT_FALSE(s->closed());
  s->destroy({}, endcb(tr, "destroy2"));
  tr("hook completes");
  hook_cb({});
  EXPECT_TRUE(s->closed());
  tr.sync();
  loop.run();
  EXPECT_TRACE(tr, R"(
    hook destroy boom
    cb destroy2 null
    hook completes
    cb destroy boom
    -- sync
    event error boom
    event close
  )");
}

// 'close' is delivered even if the user drops every reference right after destroy().
TEST(DestroyConformance, CloseDeliveredAfterLastReferenceDropped) {
  sluice::manual_loop loop;
  trace tr;
  std::weak_ptr<sluice::writable<str>> weak;
  {
    auto s = mk_w<str>(loop, tr);
    weak = s;
    track(*s, tr, {"error", "close"});
    s->destroy(error("boom"));
  }
  tr.sync();
  loop.run();
  EXPECT_TRACE(tr, R"(
    hook destroy boom
    -- sync
    event error boom
    event close
  )");
  EXPECT_TRUE(weak.expired());
}

// Listeners are released after 'close' (their captures do not outlive the stream's events).
TEST(DestroyConformance, ListenersReleasedAfterClose) {
  sluice::manual_loop loop;
  trace tr;
  auto s = mk_w<str>(loop, tr, {.destroy_hook = false});
  auto token = std::make_shared<int>(0);
  s->on_close([token] {});
  s->on_error([token](std::error_code) {});
  EXPECT_EQ(token.use_count(), 3);
  s->destroy(error("boom"));
  loop.run();
  EXPECT_EQ(token.use_count(), 1);
}

// Write counters stop at the writes the stream accepted.
TEST(DestroyConformance, CountersIgnoreWritesAfterDestroy) {
  sluice::manual_loop loop;
  trace tr;
  std::vector<write_cb<str>> pending;
  auto s = mk_w<str>(loop, tr, {.write = done::hold, .pending = &pending});
  s->write("a");
  s->write("b");
  s->destroy();
  s->write("c");
  loop.run();
  EXPECT_EQ(s->counters().chunks_in, 2u);
  EXPECT_EQ(s->counters().peak_writable_length, 2u);
}

}  // namespace
