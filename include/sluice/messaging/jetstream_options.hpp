// sluice/messaging/jetstream_options.hpp: how to reach a NATS cluster, and what a stream is.
//
// jetstream_options      the connection: the servers (a cluster's members, comma-separated),
//                        the connect timeout, how libnats reconnects when its server goes, the
//                        timeout of JetStream API requests. Every writer, reader and admin call
//                        takes one and opens a connection of its own with it.
// jetstream_stream_config a stream as ensure_stream() (jetstream_admin.hpp) or a writer's
//                        `ensure_stream` option creates it when it is missing: name, subjects,
//                        replicas, limits and what happens at a limit.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "sluice/core/loop.hpp"

namespace sluice::messaging {

/// A NATS connection as libnats makes it.
struct jetstream_options {
  /// The servers, comma-separated: "nats://10.0.0.1:4222,nats://10.0.0.2:4222". libnats
  /// connects to one of them and, when that one is lost, reconnects to another (and to the
  /// servers the cluster announces).
  std::string urls = "nats://127.0.0.1:4222";
  /// How long one attempt to connect to one server may take.
  loop::duration connect_timeout = std::chrono::seconds(2);
  /// Reconnect attempts per server after the connection is lost; -1: for ever.
  int max_reconnects = -1;
  /// Wait before trying a server again that was just tried.
  loop::duration reconnect_wait = std::chrono::milliseconds(250);
  /// Bytes that publishes may put in libnats' buffer while it reconnects (sent once
  /// reconnected); a publish beyond fails with jetstream_errc::disconnected.
  std::size_t reconnect_buffer = std::size_t{8} << 20;
  /// Try the servers in a random order (libnats' default), so clients spread over a cluster;
  /// false: in the order of `urls`.
  bool randomize = true;
  /// How long a JetStream API request (creating or inspecting a stream or consumer) may take.
  loop::duration request_timeout = std::chrono::seconds(5);
  /// The connection's name, as the server's monitoring shows it.
  std::string connection_name = "sluice";
};

/// Where a stream keeps its messages.
enum class jetstream_storage : std::uint8_t { file, memory };
/// When a stream removes messages: at its limits only, once every consumer acknowledged them,
/// or once one consumer did (a work queue).
enum class jetstream_retention : std::uint8_t { limits, interest, work_queue };
/// What a stream at a limit does with a new message: removes its oldest (discard_old) or
/// refuses the new one (discard_new: the publish fails, jetstream_errc::maximum_*_exceeded).
enum class jetstream_discard : std::uint8_t { discard_old, discard_new };

/// A stream, for creating it when it is missing.
struct jetstream_stream_config {
  std::string name;
  /// Subjects the stream stores (wildcards allowed: "orders.>"). Empty: the stream's name.
  std::vector<std::string> subjects{};
  /// Servers holding a copy: 1, or 3 (or 5) in a cluster. A publish is acknowledged once a
  /// majority of them stored it.
  int replicas = 1;
  jetstream_storage storage = jetstream_storage::file;
  jetstream_retention retention = jetstream_retention::limits;
  jetstream_discard discard = jetstream_discard::discard_old;
  std::int64_t max_msgs = -1;   ///< -1: no limit
  std::int64_t max_bytes = -1;  ///< -1: no limit
  loop::duration max_age{};     ///< 0: no limit
  /// How long the stream remembers message IDs to drop a second copy of a message (a retried
  /// publish): a retry later than this would be stored twice.
  loop::duration duplicate_window = std::chrono::minutes(2);
};

}  // namespace sluice::messaging
