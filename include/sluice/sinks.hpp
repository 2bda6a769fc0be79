// sluice/sinks.hpp: the sinks layer in one include: the writable-streams tutorial's writers,
// done with backpressure, bounded memory and callbacks that mean "done" (docs/writers.md).
#pragma once

#include "sluice/core.hpp"
