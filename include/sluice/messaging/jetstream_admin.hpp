// sluice/messaging/jetstream_admin.hpp: streams and consumers as the server sees them.
//
// ensure_stream        creates a stream if it is missing (an existing one is left as it is)
// get_stream_info      a stream's messages, sequences and leader
// get_consumer_info    a consumer's backlog: pending, waiting for acknowledgement, redelivered
// delete_stream        removes a stream and its consumers
// delete_consumer      removes one consumer (its readers fail: jetstream_errc::consumer_not_found)
//
// Each opens a connection of its own on a thread of the messaging layer (so the loop never
// waits on the network), makes its JetStream API request and calls its callback once, on the
// loop's thread, never from within the call. A failure comes with a message naming the
// servers, the stream (and consumer) and the server's or libnats' words.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <system_error>

#include "sluice/core/loop.hpp"
#include "sluice/messaging/jetstream_error.hpp"
#include "sluice/messaging/jetstream_options.hpp"

namespace sluice::messaging {

/// A stream's state.
struct jetstream_stream_info {
  std::string name;
  std::uint64_t messages = 0;
  std::uint64_t bytes = 0;
  std::uint64_t first_sequence = 0;
  std::uint64_t last_sequence = 0;
  std::int64_t consumers = 0;
  std::string leader;  ///< the server that leads the stream's replicas ("" without a cluster)
};

/// A consumer's state.
struct jetstream_consumer_info {
  std::string stream;
  std::string name;
  std::uint64_t num_pending = 0;      ///< messages not yet delivered
  std::uint64_t num_ack_pending = 0;  ///< delivered, not yet acknowledged
  std::uint64_t num_redelivered = 0;  ///< delivered more than once, not yet acknowledged
  std::int64_t num_waiting = 0;       ///< pull requests waiting
  std::uint64_t delivered_stream_sequence = 0;
  std::uint64_t ack_floor_stream_sequence = 0;  ///< every message up to here is acknowledged
  std::string leader;
};

/// How an admin call ended: `ec` empty on success; otherwise `message` says what failed.
using admin_callback = std::function<void(std::error_code ec, const std::string& message)>;

/// Creates the stream `config` describes unless a stream of that name exists.
void ensure_stream(loop& l, const jetstream_options& o, jetstream_stream_config config,
                   admin_callback done);

void get_stream_info(
    loop& l, const jetstream_options& o, std::string stream,
    std::function<void(std::error_code, const std::string&, jetstream_stream_info)> done);

void get_consumer_info(
    loop& l, const jetstream_options& o, std::string stream, std::string consumer,
    std::function<void(std::error_code, const std::string&, jetstream_consumer_info)> done);

/// Deletes the stream (jetstream_errc::stream_not_found if there is none).
void delete_stream(loop& l, const jetstream_options& o, std::string stream, admin_callback done);

/// Deletes a consumer of the stream (jetstream_errc::consumer_not_found if there is none). A
/// jetstream_reader reading from it fails with consumer_not_found; what it had fetched and not
/// acknowledged goes with the consumer.
void delete_consumer(loop& l, const jetstream_options& o, std::string stream, std::string consumer,
                     admin_callback done);

}  // namespace sluice::messaging
