// sluice/offload.hpp: the offload layer in one include: CPU-heavy work on a pool of threads,
// with bounded work in flight and ordered output (docs/offload.md).
//
// offload (a duplex that runs a function on each item on the CPU pool), cpu_pool (the
// process-wide pool it shares with parallel gzip).
#pragma once

#include "sluice/core.hpp"
#include "sluice/offload/cpu_pool.hpp"
#include "sluice/offload/offload.hpp"
