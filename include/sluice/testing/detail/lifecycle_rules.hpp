// sluice/testing/detail/lifecycle_rules.hpp: destroy() in every state, and the stream's own
// error, for every kind of stream.
//
// What every destroy scenario demands: 'close' exactly once (none with emit_close off), no
// 'error' (destroy() was given none), no 'drain' after destroy(), nothing after 'close', every
// write callback exactly once, none succeeding after one failed; and after destroy() nothing
// the stream was not already committed to. Node still delivers three things that were due when
// destroy() was called, and so does sluice: a 'finish' whose final hook had completed
// ('prefinish' came), chunks already buffered, and an 'end' already pushed. The kit allows
// exactly those.
#pragma once

#include <cstddef>
#include <memory>
#include <string>

#include "sluice/testing/detail/session.hpp"
#include "sluice/testing/detail/writable_rules.hpp"

namespace sluice::testing::detail {

/// Waits for 'close' (if the stream emits it) and for `callbacks` write callbacks, then for the
/// loop to go idle; returns why the wait ended if it fell short.
template <class S>
std::string wait_closed(session<S>& ss, std::size_t callbacks = 0, bool end_callback = false) {
  const bool closes = ss.closes();
  const wait_status w = ss.run_until([&] {
    const recorder& r = ss.rec();
    return (!closes || r.count(ev::close) != 0) && r.count(ev::write_cb) >= callbacks &&
           (!end_callback || r.count(ev::end_cb) != 0);
  });
  (void)ss.settle();
  return w == wait_status::reached ? std::string() : ss.why(w);
}

/// The judgement every destroy scenario shares.
template <class S>
result judge_destroy(session<S>& ss, rule r, std::size_t callbacks, const std::string& waited) {
  verdict v(r);
  const recorder& rec = ss.rec();
  judge_close(rec, ss.closes(), v);
  if (!waited.empty() && rec.count(ev::close) == 0 && ss.closes())
    v.problem("waited for 'close': " + waited);
  judge_after_destroy(rec, false, v);
  if (rec.first(ev::destroy_called) == recorder::npos) v.problem("destroy() was never called");
  if (auto err = rec.unexpected_error(); !err.empty()) v.problem(err);
  if (callbacks != 0) judge_write_callbacks(rec, callbacks, false, v);
  return v.done(rec);
}

template <class S>
result destroy_new(const settings<S>& st) {
  session<S> ss(st, st.factory);
  if (!ss.problem().empty()) return fail(rule::destroy_new, ss.problem());
  ss.destroy();
  std::size_t callbacks = 0;
  bool late_ok = false;
  if constexpr (checkable_writable<S>) {
    late_ok = ss.write(0, true);
    callbacks = 1;
  }
  const std::string waited = wait_closed(ss, callbacks);
  result res = judge_destroy(ss, rule::destroy_new, 0, waited);
  if constexpr (checkable_writable<S>) {
    verdict v(rule::destroy_new);
    const recorder& r = ss.rec();
    if (late_ok) v.problem("write() after destroy() returned true");
    if (r.count(ev::write_cb) != 1)
      v.problem("the callback of a write after destroy() ran " +
                std::to_string(r.count(ev::write_cb)) + " times");
    else if (!r.find(ev::write_cb)->ec)
      v.problem("a write after destroy() succeeded");
    if (res.passed() && !v.clean()) return v.done(r);
  }
  return res;
}

template <class S>
result destroy_idle(const settings<S>& st) {
  session<S> ss(st, st.factory);
  if (!ss.problem().empty()) return fail(rule::destroy_idle, ss.problem());
  (void)ss.settle();
  ss.destroy();
  return judge_destroy(ss, rule::destroy_idle, 0, wait_closed(ss));
}

template <class S>
result destroy_writing(const settings<S>& st) {
  session<S> ss(st, st.factory);
  if (!ss.problem().empty()) return fail(rule::destroy_writing, ss.problem());
  set_up_writer(ss);
  const std::size_t n = item_count(st, ss.s().writable_high_water_mark());
  for (std::size_t i = 0; i < n; ++i) (void)ss.write(i, true);
  ss.destroy();
  return judge_destroy(ss, rule::destroy_writing, n, wait_closed(ss, n));
}

template <class S>
result destroy_ending(const settings<S>& st) {
  session<S> ss(st, st.factory);
  if (!ss.problem().empty()) return fail(rule::destroy_ending, ss.problem());
  set_up_writer(ss);
  for (std::size_t i = 0; i < 2; ++i) (void)ss.write(i, true);
  (void)ss.wait_for(ev::write_cb, 2);
  ss.end_with_callback();
  ss.destroy();
  const std::string waited = wait_closed(ss, 2, true);
  result res = judge_destroy(ss, rule::destroy_ending, 2, waited);
  const recorder& r = ss.rec();
  verdict v(rule::destroy_ending);
  // end()'s callback says whether the stream finished ('finish' already due) or not.
  const bool finished = r.count(ev::finish) != 0;
  if (r.count(ev::end_cb) != 1)
    v.problem("end()'s callback ran " + std::to_string(r.count(ev::end_cb)) + " times");
  else if (!r.find(ev::end_cb)->ec && !finished)
    v.problem("end()'s callback succeeded, but no 'finish' came");
  else if (r.find(ev::end_cb)->ec && finished)
    v.problem("end()'s callback got " + describe(r.find(ev::end_cb)->ec) + ", but 'finish' came");
  if (res.passed() && !v.clean()) return v.done(r);
  return res;
}

template <class S>
result destroy_finished(const settings<S>& st) {
  session<S> ss(st, st.factory);
  if (!ss.problem().empty()) return fail(rule::destroy_finished, ss.problem());
  set_up_writer(ss);
  ss.on().on_finish = [&ss] {
    if (ss.rec().count(ev::destroy_called) == 0) ss.destroy();
  };
  // (Two items first: a decoder may rightly refuse an empty input.)
  for (std::size_t i = 0; i < 2; ++i) (void)ss.write(i, false);
  ss.end();
  const std::string waited = wait_closed(ss);
  if (ss.rec().count(ev::finish) == 0)
    return fail(rule::destroy_finished, "'finish' never came (" +
                                            (waited.empty() ? ss.why(wait_status::idle) : waited) +
                                            ")\n       events: " + ss.rec().story());
  return judge_destroy(ss, rule::destroy_finished, 0, waited);
}

template <class S>
result destroy_flowing(const settings<S>& st) {
  session<S> ss(st, st.factory);
  if (!ss.problem().empty()) return fail(rule::destroy_flowing, ss.problem());
  auto c = consume(ss, false);
  c->on_first = [&ss] { ss.destroy(); };
  if constexpr (checkable_writable<S>) feed(ss, item_count(st, ss.s().writable_high_water_mark()));
  const std::string waited = wait_closed(ss);
  if (ss.rec().count(ev::data) == 0)
    return fail(rule::destroy_flowing, "no 'data' came to destroy() from (" +
                                           (waited.empty() ? ss.why(wait_status::idle) : waited) +
                                           ")");
  return judge_destroy(ss, rule::destroy_flowing, 0, waited);
}

template <class S>
result destroy_paused(const settings<S>& st) {
  session<S> ss(st, st.factory);
  if (!ss.problem().empty()) return fail(rule::destroy_paused, ss.problem());
  auto c = consume(ss, true);
  if constexpr (checkable_writable<S>) feed(ss, item_count(st, ss.s().writable_high_water_mark()));
  (void)ss.settle();
  ss.destroy();
  result res = judge_destroy(ss, rule::destroy_paused, 0, wait_closed(ss));
  if (res.passed() && ss.rec().count(ev::data) != 0)
    return fail(rule::destroy_paused, "'data' while paused\n       events: " + ss.rec().story());
  return res;
}

template <class S>
result destroy_ended(const settings<S>& st) {
  if (!st.ends) return {rule::destroy_ended, outcome::skipped, "the source does not end"};
  session<S> ss(st, st.factory);
  if (!ss.problem().empty()) return fail(rule::destroy_ended, ss.problem());
  auto c = consume(ss, false);
  c->keep = false;
  ss.on().on_end = [&ss] {
    if (ss.rec().count(ev::destroy_called) == 0) ss.destroy();
  };
  if constexpr (checkable_writable<S>) feed(ss, item_count(st, ss.s().writable_high_water_mark()));
  const std::string waited = wait_closed(ss);
  if (ss.rec().count(ev::end) == 0)
    return fail(rule::destroy_ended, "'end' never came (" +
                                         (waited.empty() ? ss.why(wait_status::idle) : waited) +
                                         ")\n       events: " + ss.rec().story());
  return judge_destroy(ss, rule::destroy_ended, 0, waited);
}

template <class S>
result destroy_twice(const settings<S>& st) {
  session<S> ss(st, st.factory);
  if (!ss.problem().empty()) return fail(rule::destroy_twice, ss.problem());
  (void)ss.settle();
  ss.destroy();
  ss.destroy();
  const std::string waited = wait_closed(ss);
  ss.destroy();
  (void)ss.settle();
  return judge_destroy(ss, rule::destroy_twice, 0, waited);
}

template <class S>
result error_once(const settings<S>& st) {
  const bool failing = static_cast<bool>(st.failing_factory);
  session<S> ss(st, failing ? st.failing_factory : st.factory);
  if (!ss.problem().empty()) return fail(rule::error_once, ss.problem());
  S& s = ss.s();
  // A readable is consumed, but paused until the error is provoked: a source that ends before
  // would leave nothing to fail.
  std::shared_ptr<consumer<S>> c;
  if constexpr (checkable_readable<S>) c = consume(ss, !failing);
  std::size_t written = 0;
  std::string how;
  if (st.provoke_error) {
    how = "options.provoke_error";
    (void)ss.settle();
    st.provoke_error(s);
  } else if (failing) {
    how = "options.failing_factory";
    if constexpr (checkable_writable<S>) {
      written = item_count(st, s.writable_high_water_mark());
      for (std::size_t i = 0; i < written; ++i) (void)ss.write(i, true);
      ss.end();
    }
  } else {
    how = "destroy(ec) by the kit";
    (void)ss.settle();
    ss.destroy(injected_error());
  }
  if constexpr (checkable_readable<S>)
    if (c->paused) resume(ss, *c);
  const bool auto_close = s.auto_destroy() && ss.closes();
  wait_status w = ss.run_until([&] {
    const recorder& r = ss.rec();
    return r.count(ev::error) != 0 && (!auto_close || r.count(ev::close) != 0) &&
           r.count(ev::write_cb) >= written;
  });
  (void)ss.settle();
  if (!s.auto_destroy() && ss.rec().count(ev::error) != 0 && ss.rec().count(ev::close) == 0) {
    ss.destroy();  // autoDestroy off: the owner destroys a failed stream
    (void)ss.wait_for(ev::close);
    (void)ss.settle();
  }
  verdict v(rule::error_once);
  const recorder& r = ss.rec();
  const std::size_t errors = r.count(ev::error);
  if (errors == 0) v.problem("no 'error' (" + ss.why(w) + ")");
  if (errors > 1) v.problem("'error' came " + std::to_string(errors) + " times");
  if (errors != 0 && !failing && !st.provoke_error && r.find(ev::error)->ec != injected_error())
    v.problem("'error' was " + describe(r.find(ev::error)->ec) +
              ", not the error given to destroy()");
  judge_close(r, ss.closes(), v);
  const std::size_t error = r.first(ev::error);
  if (error != recorder::npos) {
    const std::size_t close = r.first(ev::close);
    if (close != recorder::npos && close < error) v.problem("'close' before 'error'");
    for (ev late : {ev::finish, ev::end, ev::drain})
      if (r.find(late, error) != nullptr)
        v.problem("'" + std::string(name_of(late)) + "' after 'error'");
  }
  if (written != 0) judge_write_callbacks(r, written, false, v);
  v.note(errors != 0 ? "provoked by " + how + ": " + describe(r.find(ev::error)->ec)
                     : "provoked by " + how);
  return v.done(r);
}

}  // namespace sluice::testing::detail
