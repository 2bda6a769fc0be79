// sluice/testing/check_writable.hpp: check_writable(), the conformance kit for a writable.
//
//   auto report = sluice::testing::check_writable(
//       [](sluice::loop& l) { return std::make_shared<my_sink>(l); },
//       {.item = [](std::size_t i) { return row{i}; }});
//   if (!report.ok()) std::cerr << report;
//
// The factory is called once per scenario (some rules need two), on a fresh loop, and must
// return a fresh stream each time: a sink writing to a file takes a new file name per call.
// Every rule check_writable judges (rule's comment in report.hpp; docs/reliability.md):
// write_backpressure, write_drain, write_callbacks, write_finish, write_after_end,
// destroy_new, destroy_idle, destroy_writing, destroy_ending, destroy_finished, destroy_twice,
// error_once. check_transform (check_transform.hpp) judges a transform's writable side too.
#pragma once

#include <memory>
#include <utility>

#include "sluice/testing/detail/lifecycle_rules.hpp"
#include "sluice/testing/detail/run.hpp"
#include "sluice/testing/detail/writable_rules.hpp"
#include "sluice/testing/options.hpp"
#include "sluice/testing/report.hpp"

namespace sluice::testing {

/// Checks the writable made by `factory` (`std::shared_ptr<S>(sluice::loop&)`) against every
/// writable rule; see writable_check_options for what can be set. Never throws for what the
/// stream does: a scenario that throws fails its rule.
template <class F>
requires checkable_writable<stream_of<F>>
[[nodiscard]] report check_writable(F factory, const writable_check_options<stream_of<F>>& o = {}) {
  using S = stream_of<F>;
  detail::settings<S> st = detail::common_settings<S>(factory, o);
  st.items = o.items;
  st.item = o.item ? o.item : default_items<input_t<S>>();
  const std::string subject = detail::subject_of("writable", o.name);
  if (!st.item) return detail::without_items(subject);
  using namespace detail;
  return run_rules(subject, o.skip,
                   {
                       {rule::write_backpressure, [&] { return write_backpressure(st); }},
                       {rule::write_drain, [&] { return write_drain(st); }},
                       {rule::write_callbacks, [&] { return write_callbacks(st); }},
                       {rule::write_finish, [&] { return write_finish(st); }},
                       {rule::write_after_end, [&] { return write_after_end(st); }},
                       {rule::destroy_new, [&] { return destroy_new(st); }},
                       {rule::destroy_idle, [&] { return destroy_idle(st); }},
                       {rule::destroy_writing, [&] { return destroy_writing(st); }},
                       {rule::destroy_ending, [&] { return destroy_ending(st); }},
                       {rule::destroy_finished, [&] { return destroy_finished(st); }},
                       {rule::destroy_twice, [&] { return destroy_twice(st); }},
                       {rule::error_once, [&] { return error_once(st); }},
                   });
}

}  // namespace sluice::testing
