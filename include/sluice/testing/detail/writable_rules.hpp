// sluice/testing/detail/writable_rules.hpp: the scenarios of the writable side's rules.
//
// Each function makes a fresh stream (session), drives it through one scenario and judges the
// recorded events against one rule. A stream that is also readable (a transform) gets a
// flowing consumer first, so that its output never holds its input back.
#pragma once

#include <algorithm>
#include <cstddef>
#include <string>
#include <vector>

#include "sluice/testing/detail/session.hpp"

namespace sluice::testing::detail {

/// Sets a stream up for a writable-side scenario: a consumer on its readable side, if it has
/// one, and the loop run until idle (construction done).
template <class S>
void set_up_writer(session<S>& ss) {
  if constexpr (checkable_readable<S>) (void)consume(ss, false);
  (void)ss.settle();
}

/// "after N writes": the note a passing rule carries.
inline std::string writes_note(std::size_t n, std::size_t hwm) {
  return std::to_string(n) + " writes, highWaterMark " + std::to_string(hwm);
}

template <class S>
result write_backpressure(const settings<S>& st) {
  session<S> ss(st, st.factory);
  if (!ss.problem().empty()) return fail(rule::write_backpressure, ss.problem());
  set_up_writer(ss);
  const std::size_t hwm = ss.s().writable_high_water_mark();
  const std::size_t n = item_count(st, hwm);
  verdict v(rule::write_backpressure);
  std::size_t falses = 0;
  std::vector<event> early;  // false below the mark: allowed only for a write that failed
  for (std::size_t i = 0; i < n; ++i) {
    const bool ok = ss.write(i, true);
    const std::size_t len = ss.s().writable_length();
    const bool want = len < hwm || len == 0;
    falses += ok ? 0 : 1;
    if (ok && !want) {
      v.problem("write #" + std::to_string(i) + " returned true with writable_length() " +
                std::to_string(len) + " >= highWaterMark " + std::to_string(hwm));
      break;
    }
    if (!ok && want) early.push_back({ev::write_false, i, {}, len});
  }
  (void)ss.settle();
  for (const event& e : early) {
    const event* cb = nullptr;
    for (const event& c : ss.rec().events())
      if (c.kind == ev::write_cb && c.index == e.index) cb = &c;
    if (cb == nullptr || !cb->ec) {
      v.problem("write #" + std::to_string(e.index) + " returned false with writable_length() " +
                std::to_string(e.length) + " < highWaterMark " + std::to_string(hwm) +
                " and its write did not fail");
      break;
    }
  }
  if (auto err = ss.rec().unexpected_error(); !err.empty()) v.problem(err);
  v.note(writes_note(n, hwm) + ", " + std::to_string(falses) + " returned false");
  return v.done(ss.rec());
}

template <class S>
result write_drain(const settings<S>& st) {
  session<S> ss(st, st.factory);
  if (!ss.problem().empty()) return fail(rule::write_drain, ss.problem());
  set_up_writer(ss);
  const std::size_t hwm = ss.s().writable_high_water_mark();
  const std::size_t n = item_count(st, hwm);
  verdict v(rule::write_drain);
  std::size_t next = 0;
  // One write, then the loop: a write that returned true owes no 'drain'.
  (void)ss.write(next++, false);
  (void)ss.settle();
  // Two bursts, each until write() returns false, each followed by the wait for 'drain'.
  std::size_t episodes = 0;
  std::string waited;
  for (int burst = 0; burst < 2 && ss.rec().count(ev::error) == 0; ++burst) {
    bool stopped = false;
    while (next < n * (burst + 1) + 1 && !stopped) stopped = !ss.write(next++, false);
    if (!stopped) break;
    ++episodes;
    const std::size_t drains = ss.rec().count(ev::drain);
    const wait_status w = ss.run_until([&] { return ss.rec().count(ev::drain) > drains; });
    if (w != wait_status::reached) {
      waited = ss.why(w);
      break;
    }
  }
  (void)ss.settle();
  // Every 'drain' closes an episode a false write() opened, with the buffer below the mark;
  // every episode is closed.
  const event* open = nullptr;
  for (const event& e : ss.rec().events()) {
    if (e.kind == ev::write_false && open == nullptr) open = &e;
    if (e.kind != ev::drain) continue;
    if (open == nullptr) {
      v.problem("'drain' without a write() that returned false before it");
      break;
    }
    if (e.length >= hwm && e.length != 0) {
      v.problem("'drain' with writable_length() " + std::to_string(e.length) +
                " >= highWaterMark " + std::to_string(hwm));
      break;
    }
    open = nullptr;
  }
  if (open != nullptr && ss.rec().count(ev::destroy_called) == 0)
    v.problem("no 'drain' after write #" + std::to_string(open->index) +
              " returned false (writable_length() then " + std::to_string(open->length) + ", now " +
              std::to_string(ss.s().writable_length()) +
              (waited.empty() ? std::string() : "; " + waited) + ")");
  if (auto err = ss.rec().unexpected_error(); !err.empty()) v.problem(err);
  v.note(episodes == 0 ? "write() never returned false: the stream kept up"
                       : std::to_string(episodes) + " false write()s, each drained");
  return v.done(ss.rec());
}

template <class S>
result write_callbacks(const settings<S>& st) {
  session<S> ss(st, st.factory);
  if (!ss.problem().empty()) return fail(rule::write_callbacks, ss.problem());
  set_up_writer(ss);
  const std::size_t n = item_count(st, ss.s().writable_high_water_mark());
  for (std::size_t i = 0; i < n; ++i) (void)ss.write(i, true);
  ss.end();
  verdict v(rule::write_callbacks);
  const wait_status w = ss.wait_for(ev::write_cb, n);
  (void)ss.settle();
  judge_write_callbacks(ss.rec(), n, true, v);
  if (w != wait_status::reached && ss.rec().count(ev::write_cb) < n)
    v.problem("waited for the callbacks: " + ss.why(w));
  if (auto err = ss.rec().unexpected_error(); !err.empty()) v.problem(err);
  v.note(std::to_string(n) + " writes");
  return v.done(ss.rec());
}

template <class S>
result write_finish(const settings<S>& st) {
  session<S> ss(st, st.factory);
  if (!ss.problem().empty()) return fail(rule::write_finish, ss.problem());
  set_up_writer(ss);
  S& s = ss.s();
  for (std::size_t i = 0; i < 3; ++i) (void)ss.write(i, true);
  ss.end_with_callback();
  const bool auto_close = s.auto_destroy() && s.emits_close();
  verdict v(rule::write_finish);
  wait_status w = ss.run_until([&] {
    const recorder& r = ss.rec();
    bool done = r.count(ev::finish) != 0 || r.count(ev::error) != 0;
    if constexpr (checkable_readable<S>) done = done && r.count(ev::end) != 0;
    return done && (!auto_close || r.count(ev::close) != 0);
  });
  (void)ss.settle();
  if (!s.auto_destroy() && ss.rec().count(ev::close) == 0) {
    ss.destroy();  // autoDestroy off: 'close' comes once the owner destroys it
    w = ss.wait_for(ev::close);
    (void)ss.settle();
  }
  const recorder& r = ss.rec();
  if (r.count(ev::finish) != 1)
    v.problem("'finish' came " + std::to_string(r.count(ev::finish)) + " times" +
              (w != wait_status::reached ? " (" + ss.why(w) + ")" : std::string()));
  if (r.count(ev::end_cb) != 1) {
    v.problem("end()'s callback ran " + std::to_string(r.count(ev::end_cb)) + " times");
  } else if (r.find(ev::end_cb)->ec) {
    v.problem("end()'s callback got " + describe(r.find(ev::end_cb)->ec));
  }
  const std::size_t finish = r.first(ev::finish);
  if (finish != recorder::npos && r.last(ev::write_cb) != recorder::npos &&
      r.last(ev::write_cb) > finish)
    v.problem("a write callback ran after 'finish'");
  if (r.count(ev::write_cb) < 3)
    v.problem("only " + std::to_string(r.count(ev::write_cb)) + " of 3 write callbacks ran");
  const std::size_t close = r.first(ev::close);
  if (close != recorder::npos && finish != recorder::npos && close < finish)
    v.problem("'close' before 'finish'");
  if constexpr (checkable_readable<S>) {
    if (r.count(ev::end) != 1)
      v.problem("'end' came " + std::to_string(r.count(ev::end)) + " times");
    const std::size_t end = r.first(ev::end);
    if (close != recorder::npos && end != recorder::npos && close < end)
      v.problem("'close' before 'end'");
  }
  const std::size_t ended = r.first(ev::end_called);
  if (r.find(ev::drain, ended) != nullptr) v.problem("'drain' after end()");
  judge_close(r, ss.closes(), v);
  if (auto err = r.unexpected_error(); !err.empty()) v.problem(err);
  return v.done(r);
}

template <class S>
result write_after_end(const settings<S>& st) {
  session<S> ss(st, st.factory);
  if (!ss.problem().empty()) return fail(rule::write_after_end, ss.problem());
  set_up_writer(ss);
  (void)ss.write(0, false);
  ss.end();
  verdict v(rule::write_after_end);
  if (ss.write(1, true)) v.problem("write() after end() returned true");
  const wait_status w = ss.run_until(
      [&] { return ss.rec().count(ev::write_cb) != 0 && ss.rec().count(ev::error) != 0; });
  (void)ss.settle();
  const recorder& r = ss.rec();
  const std::size_t cbs = r.count(ev::write_cb);
  if (cbs != 1) {
    v.problem("the late write's callback ran " + std::to_string(cbs) + " times" +
              (w != wait_status::reached ? " (" + ss.why(w) + ")" : std::string()));
  } else if (r.find(ev::write_cb)->ec != errc::write_after_end) {
    const std::error_code ec = r.find(ev::write_cb)->ec;
    v.problem("the late write's callback got " + (ec ? describe(ec) : std::string("success")) +
              ", not write_after_end");
  }
  const std::size_t errors = r.count(ev::error);
  if (errors != 1) {
    v.problem("'error' came " + std::to_string(errors) + " times");
  } else if (r.find(ev::error)->ec != errc::write_after_end) {
    v.problem("'error' was " + describe(r.find(ev::error)->ec) + ", not write_after_end");
  }
  const bool closes = ss.s().auto_destroy() && ss.closes();
  if (closes) {
    judge_close(r, true, v);
    const std::size_t close = r.first(ev::close);
    if (close != recorder::npos && close < r.first(ev::error)) v.problem("'close' before 'error'");
  }
  return v.done(r);
}

}  // namespace sluice::testing::detail
