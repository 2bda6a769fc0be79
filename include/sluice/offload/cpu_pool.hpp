// sluice/offload/cpu_pool.hpp: the process-wide pool of threads for CPU-heavy work.
//
// offload() (offload.hpp) and parallel gzip (sluice/codec/gzip.hpp) run their work here: one
// thread per core by default, created on first use and joined when the program exits. It is
// separate from the pool that runs file system calls (core/detail/io_pool.hpp), so reads and
// writes never queue behind computation.
#pragma once

#include <cstddef>

#include "sluice/core/detail/io_pool.hpp"

namespace sluice {

/// Sets the number of threads of the CPU pool (at least 1). Only before its first use: returns
/// false, changing nothing, once the pool exists.
bool set_cpu_pool_threads(std::size_t threads);
/// The number of threads the CPU pool has (or will have when first used).
[[nodiscard]] std::size_t cpu_pool_threads();

namespace detail {
/// The pool itself (created on first use).
[[nodiscard]] io_pool& shared_cpu_pool();
}  // namespace detail

}  // namespace sluice
