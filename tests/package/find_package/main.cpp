// Package smoke test: a consumer project can include and link sluice, and the conformance kit
// (sluice::testing) beside it.
#include <sluice/sluice.hpp>
#include <sluice/testing.hpp>

int main() {
  sluice::manual_loop loop;
  bool ran = false;
  loop.defer([&ran] { ran = true; });
  loop.run_until_idle();
  const auto report = sluice::testing::check_writable([](sluice::loop& l) {
    return sluice::make_writable<int>(l, {.write = [](auto&, int&&, auto cb) { cb(); }});
  });
  return ran && report.ok() ? 0 : 1;
}
