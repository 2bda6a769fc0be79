// tools/sluice/net_stages.hpp: the network stages of `sluice run` (tcp-listen, tcp-connect,
// unix-connect, http-get, http-post) and what `sluice fetch` is made of.
//
// Every stage is a stream that exists from the moment it is built, so the pipeline can start at
// once; what it talks to arrives later:
//   - tcp-connect and unix-connect are the socket itself (a duplex: its readable side when the
//     stage is the source, its writable side when it is the sink);
//   - tcp-listen, http-get (and fetch) are a relay source: a readable<buffer> whose construct
//     step waits for the connection or the response head, then forwards the socket's or body's
//     chunks, pausing it while the relay is full (backpressure crosses the wire);
//   - http-post is a sink whose writes feed the request body, one highWaterMark at most held in
//     between, and whose 'finish' waits for the response (an error status fails it).
// Failures name the stage (pipeline_error) and the peer or URL: "GET http://h/x: HTTP 404 Not
// Found", "connect 127.0.0.1:9: Connection refused".
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <system_error>
#include <variant>

#include "run_syntax.hpp"
#include "sluice/http/client.hpp"
#include "stage_kinds.hpp"

namespace sluice::cli {

/// Errors of the network stages that are not the system's: HTTP statuses (the code is the
/// status, message "HTTP 404 Not Found") and these.
enum class net_stage_errc {
  too_many_redirects = 1,  ///< more than max_redirects redirects
  redirect_without_location,
  redirect_not_followed,  ///< a 3xx without -L
};
[[nodiscard]] const std::error_category& net_stage_category() noexcept;
[[nodiscard]] std::error_code make_error_code(net_stage_errc e) noexcept;
/// The error of an HTTP status (>= 300): message "HTTP 404 Not Found".
[[nodiscard]] std::error_code http_status_error(unsigned status) noexcept;

/// Redirects followed at most with -L / --location.
inline constexpr int max_redirects = 10;

/// How a request is made from a URL (fetch's options and the http-* stages').
struct request_options {
  std::string method = "GET";
  bool compressed = false;  ///< Accept-Encoding: gzip, and gunzip a gzip body
  std::chrono::milliseconds timeout{0};
  /// https: PEM file of the authorities to trust (--cacert); empty: the system's store (which
  /// OpenSSL lets SSL_CERT_FILE / SSL_CERT_DIR replace).
  std::string ca_file{};
  /// https: accept any server certificate (-k, --insecure).
  bool insecure = false;
};

/// The one place a URL and options become a request: the http client's request, or the error
/// that prevents it. https:// verifies the server against o.ca_file unless o.insecure.
[[nodiscard]] std::variant<http_client_request, std::error_code> make_http_request(
    const std::string& url, const request_options& o);

/// `location` (a Location header) resolved against `base` (an absolute http(s) URL).
[[nodiscard]] std::string resolve_location(const std::string& base, const std::string& location);

/// HOST:PORT, [V6]:PORT or PORT (host "" then).
struct host_port {
  std::string host;
  std::uint16_t port = 0;
};
[[nodiscard]] std::optional<host_port> parse_host_port(std::string_view s, bool host_optional);

/// What the TCP stages' --timeout defaults to: a peer that has acknowledged nothing for this
/// long (a cut link, a frozen host) fails the stage.
inline constexpr std::chrono::milliseconds default_peer_timeout{30'000};

/// tcp-listen [HOST:]PORT [--timeout S]: accepts one connection and reads it (source). The
/// connection is reset, not closed, when the run fails (socket_options::reset_on_abort).
struct tcp_listen_stage final : stage_config {
  std::string host = "127.0.0.1";
  std::uint16_t port = 0;
  std::chrono::milliseconds peer_timeout = default_peer_timeout;  ///< --timeout S (0: none)
  [[nodiscard]] byte_stage build(build_context& ctx) const override;
};
/// tcp-connect HOST:PORT [--timeout S], unix-connect PATH: the socket (source first, sink
/// last). A TCP connection is reset, not closed, when the run fails.
struct connect_stage final : stage_config {
  bool unix_domain = false;
  std::string host;  ///< or the path
  std::uint16_t port = 0;
  std::chrono::milliseconds peer_timeout = default_peer_timeout;  ///< --timeout S (TCP only)
  [[nodiscard]] byte_stage build(build_context& ctx) const override;
};
/// http-get URL (source) and `sluice fetch`.
struct http_get_stage final : stage_config {
  std::string url;
  bool follow = false;  ///< -L: follow up to max_redirects redirects
  request_options request;
  [[nodiscard]] byte_stage build(build_context& ctx) const override;
};
/// http-post URL (sink): the data is the request body.
struct http_post_stage final : stage_config {
  std::string url;
  request_options request{.method = "POST"};
  [[nodiscard]] byte_stage build(build_context& ctx) const override;
};

/// The size a network source expects to deliver (an http-get's Content-Length), for the
/// progress bar; nothing for other streams or when unknown.
[[nodiscard]] std::optional<std::uint64_t> network_source_size(const stream* s);

using stage_parse_result = std::variant<std::shared_ptr<const stage_config>, syntax_error>;
[[nodiscard]] stage_parse_result parse_tcp_listen(stage_args& args);
[[nodiscard]] stage_parse_result parse_tcp_connect(stage_args& args);
[[nodiscard]] stage_parse_result parse_unix_connect(stage_args& args);
[[nodiscard]] stage_parse_result parse_http_get(stage_args& args);
[[nodiscard]] stage_parse_result parse_http_post(stage_args& args);

}  // namespace sluice::cli

template <>
struct std::is_error_code_enum<sluice::cli::net_stage_errc> : std::true_type {};
