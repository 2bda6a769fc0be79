// sluice/core.hpp: the core layer in one include.
//
// Loop-agnostic stream state machines with Node's semantics: buffer (the byte chunk), error,
// loop and asio_loop, signal (listeners), stream, readable, writable, duplex, transform and
// passthrough, and make (streams from lambdas). The core knows nothing of files, sockets or
// threads beyond the loop; every other layer builds on it (docs/design.md, "Layers").
#pragma once

#include "sluice/core/asio_loop.hpp"
#include "sluice/core/buffer.hpp"
#include "sluice/core/chunk.hpp"
#include "sluice/core/duplex.hpp"
#include "sluice/core/error.hpp"
#include "sluice/core/loop.hpp"
#include "sluice/core/make.hpp"
#include "sluice/core/monitor.hpp"
#include "sluice/core/readable.hpp"
#include "sluice/core/signal.hpp"
#include "sluice/core/stream.hpp"
#include "sluice/core/transform.hpp"
#include "sluice/core/writable.hpp"
