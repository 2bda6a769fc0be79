// The last argument must be the completion callback.
// EXPECT: sluice::pipeline: the last argument must be a callback
#include <sluice/compose/pipeline.hpp>
#include <sluice/core/loop.hpp>
#include <sluice/core/make.hpp>

int main() {
  sluice::manual_loop loop;
  auto src = sluice::make_readable<int>(loop, {});
  auto dst = sluice::make_writable<int>(loop, {});
#ifdef SLUICE_COMPILE_FAIL_CONTROL
  sluice::pipeline(src, dst, [](const sluice::pipeline_error&) {});
#else
  sluice::pipeline(src, dst, [](int) {});
#endif
}
