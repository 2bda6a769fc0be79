// The C++ side of tests/core/node/lib.js for the writable scenarios: a writable whose
// hooks complete in a chosen way (sync, next tick, setImmediate, held), tracked into a trace the
// way lib.js prints Node's events. Shared by the writable_backpressure, writable_lifecycle and
// cork_writev conformance tests.
#pragma once

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

namespace sluice::test::writable_harness {

// ---- Harness: the C++ side of tests/core/node/lib.js ------------------------------------
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

inline std::string fmt(const std::string& s) { return s; }
inline std::string fmt(const buffer& b) { return b.to_string(); }

template <class T>
T chunk_of(std::string_view s);
template <>
inline std::string chunk_of<std::string>(std::string_view s) {
  return std::string(s);
}
template <>
inline buffer chunk_of<buffer>(std::string_view s) {
  return buffer::copy_of(s);
}

inline std::string code(std::error_code ec) { return ec ? node_code(ec) : std::string("null"); }
inline std::string tf(bool b) { return b ? "true" : "false"; }

// Node's setImmediate (lib.js later()): timers fire after every deferred task.
inline void later(manual_loop& loop, std::function<void()> fn) {
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
inline std::error_code test_error(int v) {
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

inline void complete(manual_loop& loop, sluice::stream& self, done mode, std::function<void()> fn,
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
bool w_nocb(writable<T>& s, trace& t, std::string_view chunk) {
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
inline callback endcb(trace& t, std::string label) {
  return [&t, label = std::move(label)](std::error_code ec) { t(cb_line(label, ec)); };
}

}  // namespace sluice::test::writable_harness
