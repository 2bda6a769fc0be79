// HTTPS under HTTP: an http_transport over boost::asio::ssl::stream<tcp::socket>, with the
// handshake as a step of its own (the server runs it under the headers timeout, the client after
// connecting). The TLS contexts come from the net layer (src/net/tls_context.hpp), so a socket
// and an HTTP connection check certificates the same way.
#pragma once

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <functional>
#include <memory>
#include <string>
#include <system_error>

#include "transport.hpp"

namespace sluice::detail {

class tls_http_transport : public http_transport {
 public:
  using handshake_handler = std::function<void(std::error_code)>;
  /// Client handshake: sends `server_name` as SNI (host names only) and, with `verify`, checks
  /// the certificate against it (DNS name or IP address). A failed verification is an error of
  /// tls_verify_category() ("certificate verify failed: hostname mismatch"). Closing or
  /// resetting the transport meanwhile completes it with operation_aborted. Called once.
  virtual void async_handshake_client(const std::string& server_name, bool verify,
                                      handshake_handler h) = 0;
  /// Server handshake. Called once.
  virtual void async_handshake_server(handshake_handler h) = 0;
};

/// TLS over `s` with `ctx` (kept alive by the transport). Reads and writes wait for a handshake.
[[nodiscard]] std::unique_ptr<tls_http_transport> make_tls_transport(
    boost::asio::ip::tcp::socket s, std::shared_ptr<boost::asio::ssl::context> ctx);

}  // namespace sluice::detail
