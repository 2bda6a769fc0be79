// sluice/testing/check_readable.hpp: check_readable(), the conformance kit for a readable.
//
//   auto report = sluice::testing::check_readable(
//       [&](sluice::loop& l) { return sluice::make_file_reader(l, path); },
//       {.loop = sluice::testing::loop_kind::asio});
//
// The kit consumes the stream with a 'data' listener, flowing or paused; a source that never
// ends sets `ends = false` (the kit reads up to read_limit). Rules: read_backpressure,
// read_resume, read_end, destroy_new, destroy_idle, destroy_flowing, destroy_paused,
// destroy_ended, destroy_twice, error_once.
#pragma once

#include "sluice/testing/detail/lifecycle_rules.hpp"
#include "sluice/testing/detail/readable_rules.hpp"
#include "sluice/testing/detail/run.hpp"
#include "sluice/testing/options.hpp"
#include "sluice/testing/report.hpp"

namespace sluice::testing {

/// Checks the readable made by `factory` against every readable rule.
template <class F>
requires checkable_readable<stream_of<F>>
[[nodiscard]] report check_readable(F factory, const readable_check_options<stream_of<F>>& o = {}) {
  using S = stream_of<F>;
  detail::settings<S> st = detail::common_settings<S>(factory, o);
  st.ends = o.ends;
  st.read_limit = detail::read_limit_of<output_t<S>>(o.read_limit);
  st.burst = o.burst;
  using namespace detail;
  return run_rules(subject_of("readable", o.name), o.skip,
                   {
                       {rule::read_backpressure, [&] { return read_backpressure(st); }},
                       {rule::read_resume, [&] { return read_resume(st); }},
                       {rule::read_end, [&] { return read_end(st); }},
                       {rule::destroy_new, [&] { return destroy_new(st); }},
                       {rule::destroy_idle, [&] { return destroy_idle(st); }},
                       {rule::destroy_flowing, [&] { return destroy_flowing(st); }},
                       {rule::destroy_paused, [&] { return destroy_paused(st); }},
                       {rule::destroy_ended, [&] { return destroy_ended(st); }},
                       {rule::destroy_twice, [&] { return destroy_twice(st); }},
                       {rule::error_once, [&] { return error_once(st); }},
                   });
}

}  // namespace sluice::testing
