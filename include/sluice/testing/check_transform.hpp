// sluice/testing/check_transform.hpp: check_transform(), the conformance kit for a transform.
//
//   auto report = sluice::testing::check_transform(
//       [](sluice::loop& l) { return sluice::make_gzip(l); },
//       {.check_output = gunzips_to_the_input});
//
// Both sides' rules, with the kit on the other side of each: while it checks the writable
// side a consumer reads the output; while it checks the readable side it feeds sample items in
// as pipe() would. Plus transform_backpressure (in the place of read_backpressure: a consumer
// that does not read must stop the transform taking input) and transform_flush (end() flushes
// everything out before 'end'; `check_output`, if given, judges the whole output).
#pragma once

#include "sluice/testing/check_readable.hpp"
#include "sluice/testing/check_writable.hpp"
#include "sluice/testing/detail/lifecycle_rules.hpp"
#include "sluice/testing/detail/readable_rules.hpp"
#include "sluice/testing/detail/run.hpp"
#include "sluice/testing/detail/writable_rules.hpp"
#include "sluice/testing/options.hpp"
#include "sluice/testing/report.hpp"

namespace sluice::testing {

/// Checks the transform made by `factory` against every writable and readable rule and the
/// transform's own.
template <class F>
requires checkable_transform<stream_of<F>>
[[nodiscard]] report check_transform(F factory,
                                     const transform_check_options<stream_of<F>>& o = {}) {
  using S = stream_of<F>;
  detail::settings<S> st = detail::common_settings<S>(factory, o);
  st.items = o.items;
  st.burst = o.burst;
  st.read_limit = detail::read_limit_of<output_t<S>>(0);
  st.item = o.item ? o.item : default_items<input_t<S>>();
  const std::string subject = detail::subject_of("transform", o.name);
  if (!st.item) return detail::without_items(subject);
  using namespace detail;
  return run_rules(subject, o.skip,
                   {
                       {rule::write_backpressure, [&] { return write_backpressure(st); }},
                       {rule::write_drain, [&] { return write_drain(st); }},
                       {rule::write_callbacks, [&] { return write_callbacks(st); }},
                       {rule::write_finish, [&] { return write_finish(st); }},
                       {rule::write_after_end, [&] { return write_after_end(st); }},
                       {rule::read_resume, [&] { return read_resume(st); }},
                       {rule::read_end, [&] { return read_end(st); }},
                       {rule::transform_backpressure, [&] { return transform_backpressure(st); }},
                       {rule::transform_flush, [&] { return transform_flush(st, o.check_output); }},
                       {rule::destroy_new, [&] { return destroy_new(st); }},
                       {rule::destroy_idle, [&] { return destroy_idle(st); }},
                       {rule::destroy_writing, [&] { return destroy_writing(st); }},
                       {rule::destroy_ending, [&] { return destroy_ending(st); }},
                       {rule::destroy_finished, [&] { return destroy_finished(st); }},
                       {rule::destroy_flowing, [&] { return destroy_flowing(st); }},
                       {rule::destroy_paused, [&] { return destroy_paused(st); }},
                       {rule::destroy_ended, [&] { return destroy_ended(st); }},
                       {rule::destroy_twice, [&] { return destroy_twice(st); }},
                       {rule::error_once, [&] { return error_once(st); }},
                   });
}

}  // namespace sluice::testing
