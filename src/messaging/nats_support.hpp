// What the JetStream streams share on the libnats side (private to src/messaging/): the
// connection bundle, the messaging threads, the mapping of libnats' statuses and the server's
// error codes to jetstream_errc, and the routes by which libnats' callbacks find their C++
// owners.
#pragma once

#include <nats/nats.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <system_error>

#include "sluice/core/detail/io_pool.hpp"
#include "sluice/messaging/jetstream_error.hpp"
#include "sluice/messaging/jetstream_options.hpp"

namespace sluice::messaging::detail {

/// The threads that run libnats' blocking calls (connect, JetStream API requests, closing): a
/// pool of the messaging layer's own, so a connect that waits for a dead server's timeout does
/// not hold up the file streams' calls on the shared I/O pool. Joined at exit.
sluice::detail::io_pool& messaging_pool();

/// A connection with its JetStream context (and, for a reader, its pull subscription). Closed
/// and freed by the destructor, which make_bundle() runs on a messaging thread.
struct nats_bundle {
  natsOptions* options = nullptr;
  natsConnection* connection = nullptr;
  jsCtx* js = nullptr;
  natsSubscription* subscription = nullptr;

  nats_bundle() = default;
  nats_bundle(const nats_bundle&) = delete;
  nats_bundle& operator=(const nats_bundle&) = delete;
  ~nats_bundle();
};

/// A new, empty bundle, shared by whoever uses its connection (a reader's messages keep it for
/// their acknowledgements) and destroyed on a messaging thread when the last of them lets go:
/// closing a connection flushes and joins libnats' threads, which the loop must not wait for.
std::shared_ptr<nats_bundle> make_bundle();

/// Callbacks libnats makes on its own threads, routed by a number rather than a pointer: the
/// owner may be gone by the time a late callback comes (libnats does not wait for its handler
/// threads when a connection is destroyed), and then the number finds nothing.
class nats_route {
 public:
  virtual ~nats_route() = default;
  virtual void pub_ack(natsMsg* msg, jsPubAck* pa, jsPubAckErr* pae) = 0;
  virtual void closed() = 0;
};

/// Registers `r`; the number is the closure to give libnats.
std::uint64_t add_route(std::weak_ptr<nats_route> r);
void remove_route(std::uint64_t id);
std::shared_ptr<nats_route> find_route(void* closure);
inline void* route_closure(std::uint64_t id) {
  return reinterpret_cast<void*>(static_cast<std::uintptr_t>(id));
}

/// Connects with `o` (the server list split at commas), with libnats' closed callback on
/// `route` (0: none), and makes the JetStream context with `jo`. On failure returns the code and
/// sets `context` ("jetstream connect to <urls>: <libnats' words>").
std::error_code open_bundle(const jetstream_options& o, jsOptions* jo, std::uint64_t route,
                            nats_bundle& b, std::string& context);

/// "No JetStream error code" (jsErrCode is a C enum without a zero).
inline constexpr jsErrCode no_js_error = static_cast<jsErrCode>(0);

/// A libnats status (and the server's JetStream error code and text, if any) as a jetstream_errc.
std::error_code classify(natsStatus s, jsErrCode code = no_js_error, std::string_view text = {});

/// libnats' words for the last failure on this thread: the status' text and, if libnats says
/// more, its last error ("Timeout: no response ...").
std::string last_error_text(natsStatus s);

/// The server's words for a refusal: "maximum messages exceeded (error 10077)".
std::string server_text(std::string_view text, jsErrCode code);

/// Creates the stream unless it exists. On failure sets `context` naming it.
std::error_code ensure_stream_on(jsCtx* js, const jetstream_stream_config& c,
                                 const std::string& urls, std::string& context);

/// Milliseconds of `d`, at least 1 (libnats' unit for timeouts).
std::int64_t to_ms(std::chrono::nanoseconds d);

}  // namespace sluice::messaging::detail
