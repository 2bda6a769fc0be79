// sluice/net/tls.hpp: how TLS connections are configured (Node's tls.connect / tls.createServer
// options, the part sluice supports).
//
// `tls_client_options` says whom a client trusts and which name it expects the server to prove;
// `tls_server_options` names the certificate and key a server presents. Both are plain data,
// loaded (and checked) when a connection or a server starts: make_tls_connection() in socket.hpp
// and server_options::tls in server.hpp take them, as do http_server_options::tls and
// http_client_request::tls in the HTTP layer. The TLS engine
// (OpenSSL 3 under Boost.Asio's ssl::stream) stays in the sources: no OpenSSL or Asio SSL header
// reaches a user's build through this file.
#pragma once

#include <string>
#include <system_error>

namespace sluice {

/// Options of a TLS client (make_tls_connection).
struct tls_client_options {
  /// PEM file of the certificate authorities to trust; empty: the system's default store.
  std::string ca_file{};
  /// Verify the server's certificate chain and its name. Turning it off accepts any server
  /// (tests against self-signed peers only).
  bool verify_peer = true;
  /// The name sent as SNI and checked against the certificate (DNS name or IP address);
  /// empty: the host connected to.
  std::string server_name{};
};

/// Options of a TLS server (server_options::tls).
struct tls_server_options {
  /// PEM certificate (chain) file.
  std::string cert_file{};
  /// PEM private key file (unencrypted).
  std::string key_file{};
};

/// The category of certificate verification failures in a TLS handshake: the value is OpenSSL's
/// X509_V_ERR_* code, the message reads "certificate verify failed: <reason>", e.g.
/// "certificate verify failed: hostname mismatch". Its name() is "sluice.tls.verify".
[[nodiscard]] const std::error_category& tls_verify_category() noexcept;

}  // namespace sluice
