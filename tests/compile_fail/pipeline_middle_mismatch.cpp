// The middle transform yields long but the sink takes int.
// EXPECT: sluice::pipeline: stage types do not match
#include <sluice/compose/pipeline.hpp>
#include <sluice/core/loop.hpp>
#include <sluice/core/make.hpp>

int main() {
  sluice::manual_loop loop;
  auto src = sluice::make_readable<int>(loop, {});
  auto square = sluice::make_transform<int, long>(loop, {});
#ifdef SLUICE_COMPILE_FAIL_CONTROL
  auto dst = sluice::make_writable<long>(loop, {});
#else
  auto dst = sluice::make_writable<int>(loop, {});
#endif
  sluice::pipeline(src, square, dst, [](std::error_code) {});
}
