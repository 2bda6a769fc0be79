// Package smoke test: a consumer project can include and link sluice.
#include <sluice/sluice.hpp>

int main() {
  sluice::manual_loop loop;
  bool ran = false;
  loop.defer([&ran] { ran = true; });
  loop.run_until_idle();
  return ran ? 0 : 1;
}
