// TLS contexts and handshake errors, shared by the net layer's TLS sockets (socket_impl.hpp) and
// the HTTP layer's TLS transport (src/http/tls_transport.cpp). Private to src/: no public header
// sees an Asio SSL or OpenSSL type.
#pragma once

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <memory>
#include <string>
#include <system_error>

#include "sluice/net/tls.hpp"

namespace sluice::detail {

using tls_stream = boost::asio::ssl::stream<boost::asio::ip::tcp::socket>;

/// Builds a client TLS context; on failure sets `ec` and `what` ("load CA file 'x.pem'").
[[nodiscard]] std::shared_ptr<boost::asio::ssl::context> make_client_tls_context(
    const tls_client_options& o, std::error_code& ec, std::string& what);
/// Builds a server TLS context ("load certificate 'c.pem'", "load private key 'k.pem'").
[[nodiscard]] std::shared_ptr<boost::asio::ssl::context> make_server_tls_context(
    const tls_server_options& o, std::error_code& ec, std::string& what);
/// Sets SNI and the name (DNS or IP) the certificate must match on a client stream.
[[nodiscard]] std::error_code prepare_tls_client(tls_stream& s, const std::string& server_name,
                                                 bool verify);
/// A failed handshake's error: the certificate verification result when that is what failed.
[[nodiscard]] std::error_code handshake_error(tls_stream& s, const boost::system::error_code& ec);

}  // namespace sluice::detail
