// The body behind sluice::socket and sluice::server: the Asio stream a socket runs over, what
// its construct step has to do (connect, handshake), and the helpers both share. Private to
// src/net: public headers never see an Asio socket or an OpenSSL type.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/ssl.hpp>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <system_error>
#include <utility>
#include <variant>

#include "sluice/core/loop.hpp"
#include "sluice/net/socket.hpp"
#include "sluice/net/tls.hpp"
#include "tls_context.hpp"

namespace sluice::detail {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using unix_stream = asio::local::stream_protocol;

/// What a socket's construct step does.
enum class construct_plan {
  none,        // accepted plain connection: already up
  tcp_client,  // resolve, connect
  unix_client,
  tls_client,  // resolve, connect, client handshake
  tls_server,  // accepted: server handshake
};

struct socket_impl {
  socket_impl(asio::io_context& ctx, tcp::socket s) : io(ctx), stream(std::move(s)) {}
  socket_impl(asio::io_context& ctx, unix_stream::socket s) : io(ctx), stream(std::move(s)) {}
  socket_impl(asio::io_context& ctx, std::unique_ptr<tls_stream> s)
      : io(ctx), stream(std::move(s)) {}

  /// Calls f(stream) with the stream the data goes through (the TLS stream for TLS).
  template <class F>
  decltype(auto) visit(F&& f) {
    return std::visit(
        [&](auto& s) -> decltype(auto) {
          if constexpr (requires { *s; })
            return f(*s);
          else
            return f(s);
        },
        stream);
  }
  /// Calls f(socket) with the kernel socket (the TCP socket under TLS).
  template <class F>
  decltype(auto) visit_lowest(F&& f) {
    return std::visit(
        [&](auto& s) -> decltype(auto) {
          if constexpr (requires { *s; })
            return f(s->next_layer());
          else
            return f(s);
        },
        stream);
  }
  [[nodiscard]] socket_kind kind() const noexcept {
    if (std::holds_alternative<tcp::socket>(stream)) return socket_kind::tcp;
    if (std::holds_alternative<unix_stream::socket>(stream)) return socket_kind::unix_domain;
    return socket_kind::tls;
  }
  /// Cancels everything in flight and closes the descriptor (no FIN beyond the kernel's).
  void close() noexcept {
    if (resolver) resolver->cancel();
    boost::system::error_code ignored;
    visit_lowest([&](auto& s) { s.close(ignored); });
  }

  asio::io_context& io;
  std::variant<tcp::socket, unix_stream::socket, std::unique_ptr<tls_stream>> stream;
  construct_plan plan = construct_plan::none;
  std::string host;  // client: as given
  std::uint16_t port = 0;
  std::string path;                         // Unix: the path (client or server)
  std::string peer;                         // for error messages: "127.0.0.1:5000", a path
  std::shared_ptr<asio::ssl::context> tls;  // kept alive as long as the stream
  std::optional<tls_client_options> tls_client;
  std::optional<tcp::resolver> resolver;
  timer connect_timer;
  bool timed_out = false;
  std::chrono::milliseconds connect_timeout{0};
};

/// "127.0.0.1:5000", "[::1]:5000".
[[nodiscard]] std::string endpoint_text(const tcp::endpoint& ep);
/// "host:port", with an IPv6 literal in brackets.
[[nodiscard]] std::string host_port(const std::string& host, std::uint16_t port);
/// Boost's code as a std::error_code: system and generic codes become std::system_category /
/// std::generic_category values (so they compare with std::errc); others keep their message.
[[nodiscard]] inline std::error_code to_std(const boost::system::error_code& ec) { return ec; }
/// An errno value as a std::error_code.
[[nodiscard]] inline std::error_code sys_error(int err) { return {err, std::system_category()}; }

}  // namespace sluice::detail
