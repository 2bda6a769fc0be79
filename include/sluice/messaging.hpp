// sluice/messaging.hpp: the messaging layer in one include: streams over a distributed log.
// NATS JetStream through libnats: jetstream_writer (a publish per item, its write done when
// the server stored it), jetstream_reader (a durable pull consumer that fetches only what its
// readable side has room for), the deliveries that carry their acknowledgement to the sink
// (make_acknowledging_writer), and the stream and consumer admin calls (docs/messaging.md).
#pragma once

#include "sluice/core.hpp"
#include "sluice/messaging/delivery.hpp"
#include "sluice/messaging/jetstream_admin.hpp"
#include "sluice/messaging/jetstream_error.hpp"
#include "sluice/messaging/jetstream_options.hpp"
#include "sluice/messaging/jetstream_reader.hpp"
#include "sluice/messaging/jetstream_writer.hpp"
