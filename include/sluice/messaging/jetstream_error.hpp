// sluice/messaging/jetstream_error.hpp: what the JetStream streams report.
//
// jetstream_errc values ("sluice.jetstream" category) classify a failure the way a retry policy
// needs it: the connection (connect_failed, disconnected, connection_closed), a publish that got
// no answer (timeout) or found no stream (no_responders), the server's refusals by kind (a full
// stream, a missing stream or consumer, an ordering precondition), a message that was delivered
// too often. The stream's error_message() adds what failed: the subject and item, or the stream,
// consumer and sequence, and the server's own words. is_transient() is the writer's default
// retry rule.
#pragma once

#include <system_error>
#include <type_traits>

namespace sluice::messaging {

/// JetStream and NATS failures. Zero is unused (it means success).
enum class jetstream_errc {
  connect_failed = 1,         ///< no server of the list could be reached
  disconnected,               ///< the connection is down and reconnecting
  connection_closed,          ///< the connection is closed for good (reconnects exhausted)
  no_responders,              ///< no stream takes the subject (or its leader is being elected)
  timeout,                    ///< no answer in time (a publish's acknowledgement, a request)
  maximum_messages_exceeded,  ///< the stream is at max_msgs and discards new messages
  maximum_bytes_exceeded,     ///< the stream is at max_bytes and discards new messages
  wrong_last_message,         ///< an ordered publish whose predecessor is not the stream's last
  stream_not_found,           ///< no stream of that name
  consumer_not_found,         ///< no consumer of that name on the stream
  server_error,               ///< another refusal by the server (its words are in the context)
  client_error,               ///< libnats failed locally (its words are in the context)
  max_deliver_exceeded,       ///< a message was delivered more often than max_deliver
};

/// The "sluice.jetstream" error category.
[[nodiscard]] const std::error_category& jetstream_category() noexcept;
[[nodiscard]] std::error_code make_error_code(jetstream_errc e) noexcept;

/// The writer's default retry rule: failures that a later attempt with the same message ID may
/// overcome. timeout (the acknowledgement was lost: the message may or may not be stored, and
/// the retry is de-duplicated), no_responders (the stream has no leader for a moment, as during
/// an election after a server died), disconnected (libnats is reconnecting) and
/// wrong_last_message (an earlier message of an ordered writer is being retried).
[[nodiscard]] bool is_transient(std::error_code ec) noexcept;

}  // namespace sluice::messaging

template <>
struct std::is_error_code_enum<sluice::messaging::jetstream_errc> : std::true_type {};
