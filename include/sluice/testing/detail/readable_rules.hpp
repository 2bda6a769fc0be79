// sluice/testing/detail/readable_rules.hpp: the scenarios of the readable side's rules, and
// the transform's own.
//
// A readable is its own source. A transform's source is the kit: feed() writes sample items
// into it as pipe() would (waiting for 'drain') and ends it after the last.
#pragma once

#include <algorithm>
#include <concepts>
#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "sluice/core/buffer.hpp"
#include "sluice/testing/detail/session.hpp"

namespace sluice::testing::detail {

/// Input items for a transform scenario: enough to fill both sides twice over (assuming about
/// one unit of output per unit of input).
template <class S>
std::size_t transform_items(const settings<S>& st, std::size_t whwm, std::size_t rhwm) {
  return item_count(st, whwm + rhwm);
}

/// Starts the source: nothing for a readable, feed() for a transform.
template <class S>
void start_source(session<S>& ss) {
  if constexpr (checkable_writable<S>)
    feed(ss, transform_items(ss.opts(), ss.s().writable_high_water_mark(),
                             ss.s().readable_high_water_mark()));
}

/// Whether the source is done for a straight read: 'end', an error, or read_limit reached.
template <class S>
bool source_done(const session<S>& ss, const consumer<S>& c) {
  return ss.rec().count(ev::end) != 0 || ss.rec().count(ev::error) != 0 ||
         c.total >= ss.opts().read_limit;
}

/// The consumer's data compared with another run's: empty if the same, else how it differs.
template <class Out>
std::string compare_data(const std::vector<Out>& got, const std::vector<Out>& want) {
  if constexpr (std::same_as<Out, buffer>) {
    std::string a;
    std::string b;
    for (const buffer& x : got) a += x.view();
    for (const buffer& x : want) b += x.view();
    if (a == b) return {};
    const auto diff = std::mismatch(a.begin(), a.end(), b.begin(), b.end());
    return std::to_string(a.size()) + " bytes instead of " + std::to_string(b.size()) +
           ", the first difference at byte " + std::to_string(diff.first - a.begin());
  } else if constexpr (std::equality_comparable<Out>) {
    if (got == want) return {};
    const auto diff = std::mismatch(got.begin(), got.end(), want.begin(), want.end());
    return std::to_string(got.size()) + " items instead of " + std::to_string(want.size()) +
           ", the first difference at item " + std::to_string(diff.first - got.begin());
  } else {
    if (got.size() == want.size()) return {};
    return std::to_string(got.size()) + " items instead of " + std::to_string(want.size());
  }
}

/// The most the readable side may hold when nobody reads: the highWaterMark, plus `burst` of
/// the largest chunk (the push that found the buffer full, or one input's output).
inline std::size_t buffer_bound(std::size_t hwm, std::size_t largest, std::size_t burst) {
  return std::max<std::size_t>(hwm, 1) - 1 + burst * std::max<std::size_t>(largest, 1);
}

/// read_backpressure and transform_backpressure: paused from the start, the loop run until
/// idle, then what is buffered is judged; resumed, the largest chunk is learnt.
template <class S>
result paused_bound(const settings<S>& st, rule r) {
  session<S> ss(st, st.factory);
  if (!ss.problem().empty()) return fail(r, ss.problem());
  auto c = consume(ss, true);
  start_source(ss);
  (void)ss.settle();
  const std::size_t held = ss.s().readable_length();
  const std::size_t hwm = ss.s().readable_high_water_mark();
  const std::size_t while_paused = ss.rec().count(ev::data);
  resume(ss, *c);
  c->keep = false;
  (void)ss.run_until([&] { return source_done(ss, *c); });
  verdict v(r);
  const std::size_t bound = buffer_bound(hwm, c->max_chunk, st.burst);
  if (held > bound)
    v.problem("with nobody reading, readable_length() reached " + std::to_string(held) +
              " (highWaterMark " + std::to_string(hwm) + ", largest chunk " +
              std::to_string(c->max_chunk) + ", burst " + std::to_string(st.burst) + "): the " +
              (r == rule::read_backpressure ? "source" : "transform") +
              " went on after push() returned false");
  if (while_paused != 0) v.problem(std::to_string(while_paused) + " 'data' events while paused");
  if (auto err = ss.rec().unexpected_error(); !err.empty()) v.problem(err);
  v.note(std::to_string(held) + " buffered while paused, highWaterMark " + std::to_string(hwm));
  return v.done(ss.rec());
}

template <class S>
result read_backpressure(const settings<S>& st) {
  return paused_bound(st, rule::read_backpressure);
}

template <class S>
result transform_backpressure(const settings<S>& st) {
  return paused_bound(st, rule::transform_backpressure);
}

/// A straight read of a fresh stream: what read_resume compares with. Empty `why` if it ended.
template <class S>
struct straight_read {
  std::vector<output_t<S>> data;
  std::string why;
};

template <class S>
straight_read<S> read_straight(const settings<S>& st) {
  straight_read<S> out;
  session<S> ss(st, st.factory);
  if (!ss.problem().empty()) {
    out.why = ss.problem();
    return out;
  }
  auto c = consume(ss, false);
  start_source(ss);
  const wait_status w = ss.run_until([&] { return source_done(ss, *c); });
  if (auto err = ss.rec().unexpected_error(); !err.empty())
    out.why = err;
  else if (w != wait_status::reached)
    out.why = "it did not end: " + ss.why(w);
  out.data = std::move(c->chunks);
  return out;
}

template <class S>
result read_resume(const settings<S>& st) {
  straight_read<S> want = read_straight(st);
  if (!want.why.empty()) return fail(rule::read_resume, "a straight read failed: " + want.why);
  session<S> ss(st, st.factory);
  if (!ss.problem().empty()) return fail(rule::read_resume, ss.problem());
  auto c = consume(ss, true, 3);  // paused at first, and again after every third chunk
  start_source(ss);
  verdict v(rule::read_resume);
  std::size_t resumes = 0;
  for (;;) {
    const wait_status w = ss.settle();
    if (source_done(ss, *c)) break;
    if (w == wait_status::threw) {
      v.problem(ss.why(w));
      break;
    }
    if (!c->paused) {
      v.problem("resumed, but neither 'data' nor 'end' came (readable_length() " +
                std::to_string(ss.s().readable_length()) + ", " + std::to_string(c->count) +
                " chunks so far; " + ss.why(w) + ")");
      break;
    }
    ++resumes;
    resume(ss, *c);
  }
  for (const event& e : ss.rec().events()) {
    if (e.kind == ev::data && e.flag) {
      v.problem("'data' #" + std::to_string(e.index) + " while paused");
      break;
    }
  }
  if (v.clean()) {
    if (std::string d = compare_data(c->chunks, want.data); !d.empty())
      v.problem("paused and resumed, the consumer got " + d + " of a straight read");
  }
  if (auto err = ss.rec().unexpected_error(); !err.empty()) v.problem(err);
  v.note(std::to_string(resumes) + " resumes, " + std::to_string(c->count) + " chunks");
  return v.done(ss.rec());
}

template <class S>
result read_end(const settings<S>& st) {
  if (!st.ends) return {rule::read_end, outcome::skipped, "the source does not end"};
  session<S> ss(st, st.factory);
  if (!ss.problem().empty()) return fail(rule::read_end, ss.problem());
  S& s = ss.s();
  auto c = consume(ss, false);
  c->keep = false;
  start_source(ss);
  const bool auto_close = s.auto_destroy() && ss.closes();
  wait_status w = ss.run_until([&] {
    const recorder& r = ss.rec();
    return r.count(ev::error) != 0 ||
           (r.count(ev::end) != 0 && (!auto_close || r.count(ev::close) != 0));
  });
  (void)ss.settle();
  if (!s.auto_destroy() && ss.rec().count(ev::end) != 0 && ss.rec().count(ev::close) == 0) {
    ss.destroy();
    (void)ss.wait_for(ev::close);
    (void)ss.settle();
  }
  verdict v(rule::read_end);
  const recorder& r = ss.rec();
  const std::size_t ends = r.count(ev::end);
  if (ends != 1)
    v.problem("'end' came " + std::to_string(ends) + " times" +
              (w != wait_status::reached ? " (" + ss.why(w) + ")" : std::string()));
  const std::size_t end = r.first(ev::end);
  if (end != recorder::npos && r.find(ev::data, end) != nullptr) v.problem("'data' after 'end'");
  const std::size_t close = r.first(ev::close);
  if (close != recorder::npos && end != recorder::npos && close < end)
    v.problem("'close' before 'end'");
  judge_close(r, ss.closes(), v);
  if (auto err = r.unexpected_error(); !err.empty()) v.problem(err);
  v.note(std::to_string(c->count) + " chunks, " + std::to_string(c->total) + " units");
  return v.done(r);
}

template <class S>
result transform_flush(const settings<S>& st,
                       const std::function<std::string(const std::vector<input_t<S>>&,
                                                       const std::vector<output_t<S>>&)>& check) {
  session<S> ss(st, st.factory);
  if (!ss.problem().empty()) return fail(rule::transform_flush, ss.problem());
  S& s = ss.s();
  auto c = consume(ss, false);
  const std::size_t n =
      transform_items(st, s.writable_high_water_mark(), s.readable_high_water_mark());
  feed(ss, n);
  const bool auto_close = s.auto_destroy() && ss.closes();
  const wait_status w = ss.run_until([&] {
    const recorder& r = ss.rec();
    return r.count(ev::error) != 0 || (r.count(ev::end) != 0 && r.count(ev::finish) != 0 &&
                                       (!auto_close || r.count(ev::close) != 0));
  });
  (void)ss.settle();
  verdict v(rule::transform_flush);
  const recorder& r = ss.rec();
  for (ev k : {ev::finish, ev::end}) {
    const std::size_t times = r.count(k);
    if (times != 1)
      v.problem("'" + std::string(name_of(k)) + "' came " + std::to_string(times) + " times" +
                (w != wait_status::reached ? " (" + ss.why(w) + ")" : std::string()));
  }
  const std::size_t end = r.first(ev::end);
  if (end != recorder::npos && r.find(ev::data, end) != nullptr) v.problem("'data' after 'end'");
  if (auto_close) {
    const std::size_t close = r.first(ev::close);
    if (close != recorder::npos && (close < end || close < r.first(ev::finish)))
      v.problem("'close' before 'finish' and 'end'");
  }
  judge_close(r, ss.closes() && s.auto_destroy(), v);
  if (auto err = r.unexpected_error(); !err.empty()) v.problem(err);
  if (check && v.clean()) {
    std::vector<input_t<S>> inputs;
    inputs.reserve(n);
    for (std::size_t i = 0; i < n; ++i) inputs.push_back(st.item(i));
    if (std::string d = check(inputs, c->chunks); !d.empty())
      v.problem("the output check failed: " + d);
  }
  v.note(std::to_string(n) + " inputs, " + std::to_string(c->count) + " outputs" +
         (check ? ", output checked" : ""));
  return v.done(r);
}

}  // namespace sluice::testing::detail
