// sluice/sinks.hpp: the sinks layer in one include: the writable-streams tutorial's writers,
// done with backpressure, bounded memory and callbacks that mean "done" (docs/writers.md).
//
// batch_writer (batches by count, bytes and time, flushed by a hook; retries; dead letter),
// multi_writer (fan-out to several writables under all / any / quorum(k), with timeouts and a
// circuit breaker), log_writer and rotating_file_writer (structured logs; size-based rotation,
// gzip of rotated files), buffered_writer (one gather write per flush), validating_writer
// (fail / skip / divert / log invalid items), adaptive_writer (paces writes to the destination's
// rate by AIMD).
#pragma once

#include "sluice/core.hpp"
#include "sluice/sinks/adaptive_writer.hpp"
#include "sluice/sinks/batch_writer.hpp"
#include "sluice/sinks/buffered_writer.hpp"
#include "sluice/sinks/log_writer.hpp"
#include "sluice/sinks/multi_writer.hpp"
#include "sluice/sinks/validating_writer.hpp"
