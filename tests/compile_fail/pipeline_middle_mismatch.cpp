// The middle transform yields celsius but the sink takes fahrenheit. The first error line names
// the stage (2), both stages' types, and what one yields and the other accepts.
// EXPECT: sluice::pipeline: stage types do not match
// EXPECT-FIRST-ERROR: pipeline_stage_types_do_not_match<2, sluice::transform<int, celsius>,
// sluice::writable<fahrenheit>, celsius, fahrenheit>
#include <sluice/compose/pipeline.hpp>
#include <sluice/core/loop.hpp>
#include <sluice/core/make.hpp>

struct celsius {};
struct fahrenheit {};

int main() {
  sluice::manual_loop loop;
  auto src = sluice::make_readable<int>(loop, {});
  auto convert = sluice::make_transform<int, celsius>(loop, {});
#ifdef SLUICE_COMPILE_FAIL_CONTROL
  auto dst = sluice::make_writable<celsius>(loop, {});
#else
  auto dst = sluice::make_writable<fahrenheit>(loop, {});
#endif
  sluice::pipeline(src, convert, dst, [](std::error_code) {});
}
