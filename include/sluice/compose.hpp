// sluice/compose.hpp: the composition layer in one include (and the core it builds on).
//
// pipeline(), async_pipeline() and run_pipeline() (stages known at compile time, or a vector of
// them known at run time), finished(), compose(), the coroutine adapters (async_write, reader,
// async_next), from() and generator<T>, and the operators (map, filter, batch, tee, reduce, ...).
#pragma once

#include "sluice/compose/async.hpp"
#include "sluice/compose/compose.hpp"
#include "sluice/compose/finished.hpp"
#include "sluice/compose/from.hpp"
#include "sluice/compose/generator.hpp"
#include "sluice/compose/operators.hpp"
#include "sluice/compose/pipeline.hpp"
#include "sluice/compose/run_pipeline.hpp"
#include "sluice/compose/runtime_pipeline.hpp"
#include "sluice/compose/supervise.hpp"
#include "sluice/core.hpp"
