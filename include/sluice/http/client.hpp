// sluice/http/client.hpp: HTTP/1.1 requests whose upload and response bodies are streams
// (Node's http.request and http.Agent).
//
//   - `http_fetch` sends one request: the upload streams from a readable<buffer> (Content-Length
//     when given, chunked otherwise), and the callback gets an `http_client_response` once the
//     response head arrived; its body() is a readable<buffer> read from the socket only as fast
//     as it is consumed.
//   - `http_agent` pools keep-alive connections per host (a bound on sockets per host, idle
//     sockets reused, like Node's Agent).
// A body cut short (the server closed before Content-Length, a reset, the timeout) is an error
// on the body stream, never a clean end. https:// URLs go through TLS (OpenSSL), verifying the
// server's certificate and name by default (http_client_request::tls).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "sluice/core/asio_loop.hpp"
#include "sluice/core/readable.hpp"
#include "sluice/http/headers.hpp"
#include "sluice/net/tls.hpp"

namespace sluice {

namespace detail {
class http_agent_impl;
class client_exchange;
}  // namespace detail

struct http_client_request;
class http_client_response;
using http_fetch_callback =
    std::function<void(std::error_code, std::shared_ptr<http_client_response>)>;

/// Options of an http_agent. Node's Agent has no socket bound by default; ours has one.
struct http_agent_options {
  /// Connections open at once to one host:port; more requests wait for one to be free.
  std::size_t max_sockets_per_host = 64;
  /// Idle connections kept per host:port (Node's maxFreeSockets: 256).
  std::size_t max_free_sockets_per_host = 256;
  /// How long an idle connection is kept. Below the 5 s keep-alive timeout of Node's servers
  /// (and ours), so a socket is not reused just as the server closes it.
  std::chrono::milliseconds free_socket_timeout{4'000};
};

/// A pool of keep-alive connections, per scheme, host, port (and, for https, TLS options). Share it
/// among requests by putting it in http_client_request::agent. Loop thread only.
class http_agent {
 public:
  http_agent(asio_loop& l, http_agent_options o = {});
  ~http_agent();
  http_agent(const http_agent&) = delete;
  http_agent& operator=(const http_agent&) = delete;

  /// Connections opened so far.
  [[nodiscard]] std::uint64_t connections_created() const noexcept;
  /// Requests that went out on a reused idle connection.
  [[nodiscard]] std::uint64_t connections_reused() const noexcept;
  /// Requests sent again on a new connection because the reused one they went out on was closed
  /// by the server before a byte of the answer (see http_fetch).
  [[nodiscard]] std::uint64_t requests_retried() const noexcept;
  /// Idle connections now, all hosts.
  [[nodiscard]] std::size_t idle_count() const noexcept;
  /// Closes the idle connections.
  void close_idle();

 private:
  friend class detail::client_exchange;
  std::shared_ptr<detail::http_agent_impl> impl_;
};

/// One request.
struct http_client_request {
  std::string method = "GET";
  /// "http://host[:port]/path?query" or "https://...", port 80 or 443 by default; an IPv6
  /// address in brackets ("http://[::1]:8080/").
  std::string url;
  http_headers headers{};
  /// The upload, streamed with backpressure. Null: no body.
  std::shared_ptr<readable<buffer>> body{};
  /// The upload's length: sent as Content-Length. Unset with a body: chunked.
  std::optional<std::uint64_t> content_length{};
  /// Idle timeout: no byte sent or received for this long fails the request (std::errc::
  /// timed_out) or, once the response arrived, its body. Zero: none.
  std::chrono::milliseconds timeout{0};
  /// gunzip a body that comes with Content-Encoding: gzip (and ask for it with Accept-Encoding).
  bool decompress = false;
  /// The pool to use. Null: a connection of its own, closed after the response.
  std::shared_ptr<http_agent> agent{};
  /// highWaterMark of the response body (bytes buffered before the socket is read no further).
  std::optional<std::size_t> high_water_mark{};
  /// https:// only: whom to trust (ca_file; empty: the system's store), whether to verify the
  /// server (verify_peer, default true: its chain and that its certificate names the host) and
  /// the name sent as SNI and checked (server_name; empty: the URL's host).
  tls_client_options tls{};
};

/// The response head and its body.
class http_client_response {
 public:
  [[nodiscard]] unsigned status() const noexcept { return status_; }
  [[nodiscard]] const std::string& reason() const noexcept { return reason_; }
  [[nodiscard]] const http_headers& headers() const noexcept { return headers_; }
  /// The Content-Length the server sent (of the bytes on the wire, before any gunzip).
  [[nodiscard]] std::optional<std::uint64_t> content_length() const noexcept { return length_; }
  /// The body. Errors: "read from ADDRESS:PORT: <system message>", "response body truncated: N
  /// of M bytes", std::errc::timed_out. Read it to the end (or destroy it): the connection goes
  /// back to the agent only then.
  [[nodiscard]] const std::shared_ptr<readable<buffer>>& body() const noexcept { return body_; }

  // Filled in by the client.
  unsigned status_ = 0;
  std::string reason_;
  http_headers headers_;
  std::optional<std::uint64_t> length_;
  std::shared_ptr<readable<buffer>> body_;
};

/// Sends `req` and calls `cb` exactly once: with the response once its head arrived, or with
/// the error that prevented it (std::errc::connection_refused, host not found, timed_out,
/// errc::invalid_argument for a bad URL, errc::premature_close when the server closed without
/// answering; https: a tls_verify_category() error when the certificate is not trusted or not
/// for the host, an SSL error when the handshake failed otherwise) and a null response.
/// http_fetch_error_message() turns it into a line that names the server. `cb` is never invoked
/// from within this function.
///
/// A server may close an idle keep-alive connection just as the agent hands it out: the request
/// then meets the end of the connection (or a reset) before a byte of an answer. Such a request
/// is sent again, once, on a new connection, when that is safe: its method is idempotent (GET,
/// HEAD, OPTIONS, TRACE, PUT, DELETE: RFC 9110, 9.2.2) and it has no streamed body (which cannot
/// be sent twice). Otherwise it fails with the error (errc::premature_close for the end).
void http_fetch(asio_loop& l, http_client_request req, http_fetch_callback cb);

/// A failed request's error as a line naming what failed and where: "TLS handshake with
/// localhost:8443: certificate verify failed: hostname mismatch", "connect 127.0.0.1:9:
/// Connection refused", "https://h:1/: <message>" otherwise.
[[nodiscard]] std::string http_fetch_error_message(const http_client_request& req,
                                                   std::error_code ec);

}  // namespace sluice
