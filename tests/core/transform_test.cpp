// Conformance: transform<In, Out> and passthrough<T> against Node 20's stream.Transform and
// stream.PassThrough. One TEST per scenario of tests/core/node/transform.js; the expected
// traces are copied from tests/core/node/traces/transform.txt.
#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <system_error>
#include <type_traits>
#include <utility>

#include "sluice/core/buffer.hpp"
#include "sluice/core/loop.hpp"
#include "sluice/core/make.hpp"
#include "sluice/core/transform.hpp"
#include "support/trace.hpp"

namespace {

using sluice::buffer;
using sluice::manual_loop;
using sluice::test::node_code;
using sluice::test::trace;

using str_transform = sluice::transform<std::string, std::string>;
using str_spec = sluice::transform_spec<std::string, std::string>;
using str_cb = str_spec::transform_callback;

// The scenarios' `new Error('tfail')` / `new Error('ffail')`: node_code() prints a non-stream
// error's message, which is what Node's trace prints for an error without a code.
enum class scenario_error { tfail = 1, ffail };

class scenario_category final : public std::error_category {
 public:
  [[nodiscard]] const char* name() const noexcept override { return "scenario"; }
  [[nodiscard]] std::string message(int v) const override {
    return v == static_cast<int>(scenario_error::tfail) ? "tfail" : "ffail";
  }
};

std::error_code make_error(scenario_error e) {
  static const scenario_category cat;
  return {static_cast<int>(e), cat};
}

std::string code(std::error_code ec) { return ec ? node_code(ec) : "null"; }

std::string upper(std::string s) {
  for (char& c : s)
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  return s;
}

std::string fmt(const std::optional<std::string>& c) { return c ? *c : "null"; }

// lib.js track(s, null, ['prefinish', 'finish', 'end', 'close', 'error', 'drain']).
template <class S>
void track(S& s, trace& tr) {
  s.on_prefinish([&tr] { tr("event prefinish"); });
  s.on_finish([&tr] { tr("event finish"); });
  s.on_end([&tr] { tr("event end"); });
  s.on_close([&tr] { tr("event close"); });
  s.on_error([&tr](std::error_code ec) { tr("event error " + code(ec)); });
  s.on_drain([&tr] { tr("event drain"); });
}

void on_data(sluice::readable<std::string>& s, trace& tr) {
  s.on_data([&tr](std::string&& c) { tr("event data " + c); });
}

// lib.js w(s, chunk): write with a logging callback, then log the return value.
template <class S>
bool w(S& s, trace& tr, const std::string& chunk) {
  bool r = false;
  if constexpr (std::is_same_v<typename S::input_type, buffer>)
    r = s.write(buffer::copy_of(chunk),
                [&tr, chunk](std::error_code ec) { tr("cb " + chunk + " " + code(ec)); });
  else
    r = s.write(chunk, [&tr, chunk](std::error_code ec) { tr("cb " + chunk + " " + code(ec)); });
  tr("write(" + chunk + ") -> " + (r ? "true" : "false"));
  return r;
}

template <class S>
bool push(S& s, trace& tr, const std::string& v) {
  const bool r = s.push(v);
  tr("push(" + v + ") -> " + (r ? "true" : "false"));
  return r;
}

sluice::callback endcb(trace& tr, const std::string& label) {
  return [&tr, label](std::error_code ec) { tr("cb " + label + " " + code(ec)); };
}

void state(str_transform& s, trace& tr) {
  tr("state writableLength=" + std::to_string(s.writable_length()) +
     " readableLength=" + std::to_string(s.readable_length()));
}

// setImmediate: a zero timer fires after every deferred task queued before it.
void later(manual_loop& loop, sluice::task fn) {
  loop.start_timer(std::chrono::nanoseconds(0), std::move(fn));
}

enum class mode { push, cbval, tick };
enum class flush_mode { none, sync, tick };

// transform.js mkT(): the hook upper-cases each chunk.
std::shared_ptr<str_transform> mk_t(manual_loop& loop, trace& tr, mode m,
                                    flush_mode f = flush_mode::none, str_spec spec = {}) {
  spec.transform = [&loop, &tr, m](str_transform& self, std::string&& chunk, str_cb cb) {
    tr("hook transform " + chunk);
    std::string v = upper(chunk);
    if (m == mode::push) {
      push(self, tr, v);
      cb();
    } else if (m == mode::cbval) {
      cb(std::move(v));
    } else {
      loop.defer([cb, v] { cb(v); });
    }
  };
  if (f != flush_mode::none) {
    spec.flush = [&loop, &tr, f](str_transform& self, sluice::callback cb) {
      tr("hook flush");
      if (f == flush_mode::sync) {
        push(self, tr, "TAIL");
        cb({});
      } else {
        loop.defer([&self, &tr, cb] {
          push(self, tr, "TAIL");
          cb({});
        });
      }
    };
  }
  return sluice::make_transform<std::string, std::string>(loop, std::move(spec));
}

TEST(TransformConformance, push_in_hook) {
  manual_loop loop;
  trace tr;
  auto t = mk_t(loop, tr, mode::push);
  track(*t, tr);
  on_data(*t, tr);
  w(*t, tr, "a");
  w(*t, tr, "b");
  t->end();
  tr.sync();
  loop.run();
  EXPECT_TRACE(tr, R"(
    hook transform a
    event data A
    push(A) -> true
    write(a) -> true
    hook transform b
    event data B
    push(B) -> true
    write(b) -> true
    event prefinish
    -- sync
    cb a null
    cb b null
    event end
    event finish
    event close
  )");
}

TEST(TransformConformance, callback_value) {
  manual_loop loop;
  trace tr;
  auto t = mk_t(loop, tr, mode::cbval);
  track(*t, tr);
  on_data(*t, tr);
  w(*t, tr, "a");
  w(*t, tr, "b");
  t->end();
  tr.sync();
  loop.run();
  EXPECT_TRACE(tr, R"(
    hook transform a
    event data A
    write(a) -> true
    hook transform b
    event data B
    write(b) -> true
    event prefinish
    -- sync
    cb a null
    cb b null
    event end
    event finish
    event close
  )");
}

TEST(TransformConformance, async_transform) {
  manual_loop loop;
  trace tr;
  auto t = mk_t(loop, tr, mode::tick);
  track(*t, tr);
  on_data(*t, tr);
  w(*t, tr, "a");
  w(*t, tr, "b");
  t->end();
  tr.sync();
  loop.run();
  EXPECT_TRACE(tr, R"(
    hook transform a
    write(a) -> true
    write(b) -> true
    -- sync
    event data A
    hook transform b
    cb a null
    event data B
    cb b null
    event prefinish
    event end
    event finish
    event close
  )");
}

TEST(TransformConformance, finish_vs_end_no_flush) {
  manual_loop loop;
  trace tr;
  auto t = mk_t(loop, tr, mode::cbval);
  track(*t, tr);
  on_data(*t, tr);
  w(*t, tr, "a");
  t->end(endcb(tr, "end"));
  tr.sync();
  loop.run();
  EXPECT_TRACE(tr, R"(
    hook transform a
    event data A
    write(a) -> true
    event prefinish
    -- sync
    cb a null
    event end
    cb end null
    event finish
    event close
  )");
}

TEST(TransformConformance, flush_sync_order) {
  manual_loop loop;
  trace tr;
  auto t = mk_t(loop, tr, mode::cbval, flush_mode::sync);
  track(*t, tr);
  on_data(*t, tr);
  w(*t, tr, "a");
  t->end(endcb(tr, "end"));
  tr("end() returned");
  tr.sync();
  loop.run();
  EXPECT_TRACE(tr, R"(
    hook transform a
    event data A
    write(a) -> true
    hook flush
    event data TAIL
    push(TAIL) -> true
    event prefinish
    end() returned
    -- sync
    cb a null
    event end
    cb end null
    event finish
    event close
  )");
}

TEST(TransformConformance, flush_tick_order) {
  manual_loop loop;
  trace tr;
  auto t = mk_t(loop, tr, mode::cbval, flush_mode::tick);
  track(*t, tr);
  on_data(*t, tr);
  w(*t, tr, "a");
  t->end(endcb(tr, "end"));
  tr("end() returned");
  tr.sync();
  loop.run();
  EXPECT_TRACE(tr, R"(
    hook transform a
    event data A
    write(a) -> true
    hook flush
    end() returned
    -- sync
    cb a null
    event data TAIL
    push(TAIL) -> true
    event prefinish
    event end
    cb end null
    event finish
    event close
  )");
}

TEST(TransformConformance, finish_without_consumer) {
  manual_loop loop;
  trace tr;
  auto t = mk_t(loop, tr, mode::cbval, flush_mode::sync);
  track(*t, tr);
  w(*t, tr, "a");
  t->end();
  later(loop, [&] {
    tr("consume");
    for (int i = 0; i < 3; ++i) tr("read() -> " + fmt(t->read()));
  });
  tr.sync();
  loop.run();
  EXPECT_TRACE(tr, R"(
    hook transform a
    write(a) -> true
    hook flush
    push(TAIL) -> true
    event prefinish
    -- sync
    cb a null
    event finish
    consume
    read() -> A
    read() -> TAIL
    read() -> null
    event end
    event close
  )");
}

TEST(TransformConformance, backpressure_no_consumer) {
  manual_loop loop;
  trace tr;
  auto t = mk_t(loop, tr, mode::cbval, flush_mode::none,
                {.readable_high_water_mark = 1, .writable_high_water_mark = 2});
  track(*t, tr);
  for (const char* c : {"a", "b", "c", "d", "e"}) {
    w(*t, tr, c);
    state(*t, tr);
  }
  later(loop, [&] {
    tr("read one");
    tr("read() -> " + fmt(t->read()));
    state(*t, tr);
  });
  later(loop, [&] {
    tr("start flowing");
    on_data(*t, tr);
  });
  tr.sync();
  loop.run();
  EXPECT_TRACE(tr, R"(
    hook transform a
    write(a) -> true
    state writableLength=1 readableLength=1
    write(b) -> false
    state writableLength=2 readableLength=1
    write(c) -> false
    state writableLength=3 readableLength=1
    write(d) -> false
    state writableLength=4 readableLength=1
    write(e) -> false
    state writableLength=5 readableLength=1
    -- sync
    read one
    hook transform b
    cb a null
    read() -> A
    state writableLength=4 readableLength=1
    start flowing
    hook transform c
    cb b null
    event data B
    hook transform d
    cb c null
    event data C
    hook transform e
    cb d null
    event data D
    event drain
    cb e null
    event data E
  )");
}

TEST(TransformConformance, transform_error) {
  manual_loop loop;
  trace tr;
  auto t = sluice::make_transform<std::string>(
      loop, {.transform = [&tr](str_transform&, std::string&& c, str_cb cb) {
        tr("hook transform " + c);
        if (c == "b")
          cb(make_error(scenario_error::tfail));
        else
          cb(std::move(c));
      }});
  track(*t, tr);
  on_data(*t, tr);
  w(*t, tr, "a");
  w(*t, tr, "b");
  w(*t, tr, "c");
  tr.sync();
  loop.run();
  EXPECT_TRACE(tr, R"(
    hook transform a
    event data a
    write(a) -> true
    hook transform b
    write(b) -> false
    write(c) -> false
    -- sync
    cb a null
    cb b tfail
    cb c tfail
    event error tfail
    event close
  )");
}

TEST(TransformConformance, transform_error_tick) {
  manual_loop loop;
  trace tr;
  auto t = sluice::make_transform<std::string>(
      loop, {.transform = [&tr, &loop](str_transform&, std::string&& c, str_cb cb) {
        tr("hook transform " + c);
        loop.defer([cb] { cb(make_error(scenario_error::tfail)); });
      }});
  track(*t, tr);
  on_data(*t, tr);
  w(*t, tr, "a");
  w(*t, tr, "b");
  tr.sync();
  loop.run();
  EXPECT_TRACE(tr, R"(
    hook transform a
    write(a) -> true
    write(b) -> true
    -- sync
    cb a tfail
    cb b tfail
    event error tfail
    event close
  )");
}

TEST(TransformConformance, flush_error) {
  manual_loop loop;
  trace tr;
  auto t = sluice::make_transform<std::string>(
      loop, {.transform = [](str_transform&, std::string&& c, str_cb cb) { cb(std::move(c)); },
             .flush =
                 [&tr](str_transform&, sluice::callback cb) {
                   tr("hook flush");
                   cb(make_error(scenario_error::ffail));
                 }});
  track(*t, tr);
  on_data(*t, tr);
  w(*t, tr, "a");
  t->end(endcb(tr, "end"));
  tr.sync();
  loop.run();
  EXPECT_TRACE(tr, R"(
    event data a
    write(a) -> true
    hook flush
    -- sync
    cb a null
    event error ffail
    event close
    cb end ffail
  )");
}

// readableObjectMode only: bytes in, one string per character out.
TEST(TransformConformance, split_chunks) {
  manual_loop loop;
  trace tr;
  using bytes_to_str = sluice::transform<buffer, std::string>;
  auto t = sluice::make_transform<buffer, std::string>(
      loop,
      {.transform = [&tr](bytes_to_str& self, buffer&& c,
                          sluice::transform_spec<buffer, std::string>::transform_callback cb) {
        tr("hook transform " + c.to_string());
        for (char ch : c.view()) push(self, tr, std::string(1, ch));
        cb();
      }});
  track(*t, tr);
  on_data(*t, tr);
  w(*t, tr, "xyz");
  t->end();
  tr.sync();
  loop.run();
  EXPECT_TRACE(tr, R"(
    hook transform xyz
    event data x
    push(x) -> true
    event data y
    push(y) -> true
    event data z
    push(z) -> true
    write(xyz) -> true
    event prefinish
    -- sync
    cb xyz null
    event end
    event finish
    event close
  )");
}

TEST(TransformConformance, passthrough) {
  manual_loop loop;
  trace tr;
  auto p = std::make_shared<sluice::passthrough<std::string>>(loop);
  track(*p, tr);
  on_data(*p, tr);
  w(*p, tr, "a");
  w(*p, tr, "b");
  p->end("c");
  tr.sync();
  loop.run();
  EXPECT_TRACE(tr, R"(
    event data a
    write(a) -> true
    event data b
    write(b) -> true
    event data c
    event prefinish
    -- sync
    cb a null
    cb b null
    event end
    event finish
    event close
  )");
}

// Node's highWaterMark: 2 sets both sides.
TEST(TransformConformance, passthrough_backpressure) {
  manual_loop loop;
  trace tr;
  auto p = std::make_shared<sluice::passthrough<std::string>>(
      loop,
      sluice::transform_options{.readable_high_water_mark = 2, .writable_high_water_mark = 2});
  track(*p, tr);
  for (const char* c : {"a", "b", "c", "d", "e", "f"}) {
    w(*p, tr, c);
    state(*p, tr);
  }
  later(loop, [&] {
    tr("flowing");
    on_data(*p, tr);
  });
  tr.sync();
  loop.run();
  EXPECT_TRACE(tr, R"(
    write(a) -> true
    state writableLength=0 readableLength=1
    write(b) -> true
    state writableLength=1 readableLength=2
    write(c) -> false
    state writableLength=2 readableLength=2
    write(d) -> false
    state writableLength=3 readableLength=2
    write(e) -> false
    state writableLength=4 readableLength=2
    write(f) -> false
    state writableLength=5 readableLength=2
    -- sync
    cb a null
    flowing
    cb b null
    event data a
    cb c null
    event data b
    cb d null
    event data c
    cb e null
    event data d
    event drain
    cb f null
    event data e
    event data f
  )");
}

TEST(TransformConformance, transform_destroy) {
  manual_loop loop;
  trace tr;
  auto t = mk_t(loop, tr, mode::push);
  track(*t, tr);
  on_data(*t, tr);
  w(*t, tr, "a");
  t->destroy();
  tr.sync();
  loop.run();
  EXPECT_TRACE(tr, R"(
    hook transform a
    event data A
    push(A) -> true
    write(a) -> true
    -- sync
    cb a null
    event close
  )");
}

// ---- Beyond the traces ----

// State observers through a transform's whole life, with a flowing consumer.
TEST(TransformConformance, extra_state_observers_through_lifecycle) {
  manual_loop loop;
  trace tr;
  auto t = mk_t(loop, tr, mode::cbval);
  on_data(*t, tr);
  w(*t, tr, "a");
  EXPECT_FALSE(t->ended());
  t->end();
  EXPECT_TRUE(t->ended());
  EXPECT_FALSE(t->finished());
  EXPECT_FALSE(t->readable_ended());
  EXPECT_EQ(t->flowing(), std::optional<bool>(true));
  loop.run();
  EXPECT_TRUE(t->finished());
  EXPECT_TRUE(t->readable_ended());
  EXPECT_TRUE(t->destroyed());
  EXPECT_TRUE(t->closed());
  EXPECT_FALSE(t->errored());
}

// Counters see each side: chunks written in, chunks delivered out (a split gives more out).
TEST(TransformConformance, extra_counters_count_both_sides) {
  manual_loop loop;
  trace tr;
  using bytes_to_str = sluice::transform<buffer, std::string>;
  auto t = sluice::make_transform<buffer, std::string>(
      loop, {.transform = [](bytes_to_str& self, buffer&& c,
                             sluice::transform_spec<buffer, std::string>::transform_callback cb) {
        for (char ch : c.view()) self.push(std::string(1, ch));
        cb();
      }});
  on_data(*t, tr);
  t->write(buffer::copy_of("ab"));
  t->write(buffer::copy_of("cde"));
  t->end();
  loop.run();
  const auto& k = t->counters();
  EXPECT_EQ(k.chunks_in, 2u);
  EXPECT_EQ(k.bytes_in, 5u);
  EXPECT_EQ(k.chunks_out, 5u);
  EXPECT_EQ(k.bytes_out, 0u);  // object mode output
}

// A transform callback called twice errors the stream with ERR_MULTIPLE_CALLBACK.
TEST(TransformConformance, extra_transform_callback_twice) {
  manual_loop loop;
  trace tr;
  auto t = sluice::make_transform<std::string>(
      loop, {.transform = [](str_transform&, std::string&& c, str_cb cb) {
        cb(c);
        cb(c);
      }});
  t->on_error([&tr](std::error_code ec) { tr("event error " + code(ec)); });
  t->on_close([&tr] { tr("event close"); });
  on_data(*t, tr);
  w(*t, tr, "a");
  loop.run();
  EXPECT_EQ(t->errored(), sluice::errc::multiple_callback);
  EXPECT_EQ(tr.lines().back(), "event close");
}

// A held transform callback is released when the consumer reads, and the producer sees 'drain'
// once everything went through.
TEST(TransformConformance, extra_held_callback_released_by_pipe) {
  manual_loop loop;
  trace tr;
  auto t = mk_t(loop, tr, mode::cbval, flush_mode::none,
                {.readable_high_water_mark = 1, .writable_high_water_mark = 2});
  std::string got;
  auto sink = sluice::make_writable<std::string>(
      loop, {.write = [&got](sluice::writable<std::string>&, std::string&& s, auto cb) {
        got += s;
        cb();
      }});
  int drains = 0;
  t->on_drain([&] { ++drains; });
  EXPECT_TRUE(t->write("a"));
  EXPECT_FALSE(t->write("b"));
  EXPECT_FALSE(t->write("c"));
  t->pipe(sink);
  t->end();
  loop.run();
  EXPECT_EQ(got, "ABC");
  EXPECT_EQ(drains, 0);  // end() was called while the drain was pending
  EXPECT_TRUE(sink->finished());
}

}  // namespace
