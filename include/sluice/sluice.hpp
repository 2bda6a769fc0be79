// sluice/sluice.hpp: all of sluice in one include, every layer's umbrella header.
//
// For faster builds include a layer (<sluice/core.hpp>, <sluice/compose.hpp>, <sluice/io.hpp>,
// <sluice/codec.hpp>, <sluice/net.hpp>, <sluice/http.hpp>, <sluice/sinks.hpp>, <sluice/db.hpp>,
// <sluice/messaging.hpp>, <sluice/metrics.hpp>, <sluice/offload.hpp>) or a single header
// (<sluice/codec/gzip.hpp>) instead.
#pragma once

#include "sluice/codec.hpp"
#include "sluice/compose.hpp"
#include "sluice/core.hpp"
#include "sluice/db.hpp"
#include "sluice/http.hpp"
#include "sluice/io.hpp"
#include "sluice/messaging.hpp"
#include "sluice/metrics.hpp"
#include "sluice/net.hpp"
#include "sluice/offload.hpp"
#include "sluice/sinks.hpp"
