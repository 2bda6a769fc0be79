// A plain readable in the middle of a pipeline cannot be written to.
// EXPECT: sluice::pipeline: a middle stage must be a duplex or transform
#include <sluice/compose/pipeline.hpp>
#include <sluice/core/loop.hpp>
#include <sluice/core/make.hpp>

int main() {
  sluice::manual_loop loop;
  auto src = sluice::make_readable<int>(loop, {});
#ifdef SLUICE_COMPILE_FAIL_CONTROL
  auto middle = sluice::make_transform<int>(loop, {});
#else
  auto middle = sluice::make_readable<int>(loop, {});
#endif
  auto dst = sluice::make_writable<int>(loop, {});
  sluice::pipeline(src, middle, dst, [](std::error_code) {});
}
