// A writable cannot be the source of a pipeline.
// EXPECT: sluice::pipeline: the first stage must be readable
#include <sluice/compose/pipeline.hpp>
#include <sluice/core/loop.hpp>
#include <sluice/core/make.hpp>

int main() {
  sluice::manual_loop loop;
#ifdef SLUICE_COMPILE_FAIL_CONTROL
  auto first = sluice::make_readable<int>(loop, {});
#else
  auto first = sluice::make_writable<int>(loop, {});
#endif
  auto dst = sluice::make_writable<int>(loop, {});
  sluice::pipeline(first, dst, [](std::error_code) {});
}
