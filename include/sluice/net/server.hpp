// sluice/net/server.hpp: `server`, which listens on a TCP port or a Unix-domain path and hands
// each accepted connection, a sluice::socket (socket.hpp), to a handler (Node's net.Server and,
// with server_options::tls, tls.Server).
//
// The server owns the connections it accepted until they close, counts them, turns away those
// beyond max_connections (closing them at once, as Node does), and shuts down in two ways:
// close() stops accepting and completes once every open connection has closed by itself;
// shutdown() also ends each of them (FIN) and destroys the ones still open after a grace period.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <system_error>

#include "sluice/core/asio_loop.hpp"
#include "sluice/core/stream.hpp"
#include "sluice/net/socket.hpp"
#include "sluice/net/tls.hpp"

namespace sluice {

/// Options of a server.
struct server_options {
  /// Address to listen on (make_tcp_server): an IPv4 or IPv6 literal or a name; "::" or
  /// "0.0.0.0" for every interface.
  std::string host = "127.0.0.1";
  /// 0 picks a free port (read it with port() after listen()).
  std::uint16_t port = 0;
  /// listen(2)'s backlog.
  int backlog = 511;
  /// Connections open at once beyond which new ones are closed as soon as they are accepted
  /// (counted in rejected_connections()); 0: no limit.
  std::size_t max_connections = 0;
  /// Options of each accepted socket (highWaterMarks, allow_half_open, no_delay).
  socket_options connection{};
  /// Serve TLS: each accepted socket performs the server handshake in its construct step.
  std::optional<tls_server_options> tls{};
};

class server : public std::enable_shared_from_this<server> {
 public:
  using connection_handler = std::function<void(std::shared_ptr<socket>)>;

  struct impl;
  /// Internal: use make_tcp_server() or make_unix_server().
  server(asio_loop& l, server_options opts, std::string unix_path);
  server(const server&) = delete;
  server& operator=(const server&) = delete;
  ~server();

  /// Called with each accepted connection (for TLS before its handshake: writes are buffered
  /// until it completes, and a failed handshake fails the socket).
  void on_connection(connection_handler fn);

  /// Binds and listens now; accepting starts on the loop. On failure returns the system's error
  /// and error_message() says what failed: "listen 127.0.0.1:80: Permission denied",
  /// "listen 127.0.0.1:8080: Address already in use", "load certificate 'c.pem': ...". For a
  /// Unix path, a stale socket file (one that nobody accepts on) is removed first; any other
  /// file there is left alone (Address already in use).
  [[nodiscard]] std::error_code listen();
  [[nodiscard]] bool listening() const noexcept;
  /// The port listened on (after listen(); 0 for Unix-domain servers).
  [[nodiscard]] std::uint16_t port() const noexcept;
  /// "127.0.0.1:5000", "[::1]:5000" or the Unix path.
  [[nodiscard]] std::string address() const;
  [[nodiscard]] const std::string& error_message() const noexcept;

  /// Open connections.
  [[nodiscard]] std::size_t connections() const noexcept;
  /// Connections accepted (including the rejected ones).
  [[nodiscard]] std::uint64_t accepted_connections() const noexcept;
  /// Connections closed at once because max_connections were open.
  [[nodiscard]] std::uint64_t rejected_connections() const noexcept;

  /// Stops accepting (and removes the Unix socket file); `cb` runs, on a later tick, once every
  /// open connection has closed. A second call's `cb` runs once the first's would.
  void close(callback cb = nullptr);
  /// close(cb), and end() every open connection now; those still open after `grace` are
  /// destroyed.
  void shutdown(loop::duration grace, callback cb = nullptr);

 private:
  std::shared_ptr<impl> impl_;
};

/// A TCP (or, with opts.tls, TLS) server on opts.host:opts.port; call listen().
[[nodiscard]] std::shared_ptr<server> make_tcp_server(asio_loop& l, server_options opts = {});
/// A Unix-domain server on `path` (opts.host and opts.port are ignored); call listen().
[[nodiscard]] std::shared_ptr<server> make_unix_server(asio_loop& l, std::string path,
                                                       server_options opts = {});

}  // namespace sluice
