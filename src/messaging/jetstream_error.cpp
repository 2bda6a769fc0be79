// The JetStream error category (sluice/messaging/jetstream_error.hpp).
#include "sluice/messaging/jetstream_error.hpp"

#include <string>

namespace sluice::messaging {
namespace {

class jetstream_category_impl final : public std::error_category {
 public:
  const char* name() const noexcept override { return "sluice.jetstream"; }
  std::string message(int value) const override {
    switch (static_cast<jetstream_errc>(value)) {
      case jetstream_errc::connect_failed:
        return "could not connect to a NATS server";
      case jetstream_errc::disconnected:
        return "not connected to a NATS server (reconnecting)";
      case jetstream_errc::connection_closed:
        return "the NATS connection is closed";
      case jetstream_errc::no_responders:
        return "no stream takes the subject (no responders)";
      case jetstream_errc::timeout:
        return "no answer in time";
      case jetstream_errc::maximum_messages_exceeded:
        return "maximum messages exceeded";
      case jetstream_errc::maximum_bytes_exceeded:
        return "maximum bytes exceeded";
      case jetstream_errc::wrong_last_message:
        return "wrong last message ID (an earlier message is missing)";
      case jetstream_errc::stream_not_found:
        return "stream not found";
      case jetstream_errc::consumer_not_found:
        return "consumer not found";
      case jetstream_errc::server_error:
        return "refused by the JetStream server";
      case jetstream_errc::client_error:
        return "NATS client error";
      case jetstream_errc::max_deliver_exceeded:
        return "delivered more often than max_deliver";
    }
    return "Unknown JetStream error " + std::to_string(value);
  }
};

}  // namespace

const std::error_category& jetstream_category() noexcept {
  static const jetstream_category_impl category;
  return category;
}

std::error_code make_error_code(jetstream_errc e) noexcept {
  return {static_cast<int>(e), jetstream_category()};
}

bool is_transient(std::error_code ec) noexcept {
  return ec == jetstream_errc::timeout || ec == jetstream_errc::no_responders ||
         ec == jetstream_errc::disconnected || ec == jetstream_errc::wrong_last_message;
}

}  // namespace sluice::messaging
