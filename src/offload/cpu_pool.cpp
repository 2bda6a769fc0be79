// The process-wide CPU pool (sluice/offload/cpu_pool.hpp).
#include "sluice/offload/cpu_pool.hpp"

#include <algorithm>
#include <atomic>
#include <mutex>
#include <thread>

namespace sluice {

namespace {
std::mutex mu;
std::size_t wanted = 0;         // 0: one per core
std::atomic<bool> made{false};  // the pool exists: its size is fixed
}  // namespace

bool set_cpu_pool_threads(std::size_t threads) {
  std::lock_guard lk(mu);
  if (made.load()) return false;
  wanted = std::max<std::size_t>(1, threads);
  return true;
}

std::size_t cpu_pool_threads() {
  std::lock_guard lk(mu);
  return wanted != 0 ? wanted : std::max(1U, std::thread::hardware_concurrency());
}

namespace detail {
io_pool& shared_cpu_pool() {
  static io_pool pool([] {
    std::lock_guard lk(mu);  // (a set_cpu_pool_threads() racing with this waits, then fails)
    made.store(true);
    return wanted != 0 ? wanted : std::max<std::size_t>(1, std::thread::hardware_concurrency());
  }());
  return pool;
}
}  // namespace detail

}  // namespace sluice
