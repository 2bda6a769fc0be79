// The keep-alive pool under the client: client_conn (one socket and its input buffer) and
// http_agent_impl (connections per scheme, host, port and TLS options, with a bound and idle
// reuse: an http and an https connection to the same port are never mixed). client.cpp runs
// exchanges on the connections; agent.cpp implements the pool.
#pragma once

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <chrono>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "sluice/http/client.hpp"
#include "transport.hpp"

namespace sluice::detail {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

/// Where a connection goes: host and port, and for https the TLS options it was verified with.
struct conn_target {
  std::string host, port;
  bool tls = false;
  tls_client_options tls_options{};
  /// https: the handshake's time limit (the request's timeout); zero: none. Not in the key.
  std::chrono::milliseconds handshake_timeout{0};
  /// A new connection even if an idle one is there (a retry after an idle one turned out to be
  /// closed by the server). Not in the key.
  bool fresh = false;
  /// The pool's key: "http://host:port", "https://host:port ca verify name".
  [[nodiscard]] std::string key() const;
};

/// One connection, owned by the agent while idle and by an exchange while in use.
struct client_conn {
  explicit client_conn(asio::io_context& io) : idle_timer(io) {}
  std::unique_ptr<http_transport> t;
  boost::beast::flat_buffer in;
  std::string key;
  asio::steady_timer idle_timer;
  std::uint64_t idle_gen = 0;  // bumped when the connection leaves the idle list
  bool idle_reading = false;
  char idle_byte = 0;
  bool reused = false;  // handed out from the idle list (it served a request before)
};

class http_agent_impl : public std::enable_shared_from_this<http_agent_impl> {
 public:
  using acquired = std::function<void(std::error_code, std::shared_ptr<client_conn>)>;
  http_agent_impl(asio_loop& l, http_agent_options o)
      : loop_(l), opts_(o), resolver_(l.context()) {}

  void acquire(const conn_target& target, acquired fn);
  void release(const std::shared_ptr<client_conn>& c, bool reusable);
  void close_idle();

  asio_loop& loop_;
  http_agent_options opts_;
  tcp::resolver resolver_;
  struct pool {
    std::vector<std::shared_ptr<client_conn>> idle;
    std::size_t active = 0;
    std::deque<std::pair<conn_target, acquired>> waiters;
    std::shared_ptr<asio::ssl::context> tls;  // https: made by the first connection
  };
  std::unordered_map<std::string, pool> pools_;
  std::uint64_t created_ = 0;
  std::uint64_t retried_ = 0;  // requests sent again after a reused connection was found closed
  std::uint64_t reused_ = 0;

 private:
  void connect(const conn_target& target, acquired fn);
  /// A connection could not be made: its slot goes to the next waiter, if any, which connects.
  void connect_failed(const std::string& key);
  /// https: the TLS handshake on a connected socket (tls_client.cpp).
  void start_tls(const conn_target& target, tcp::socket s, acquired fn);
  void watch_idle(const std::shared_ptr<client_conn>& c);
  void drop_idle(client_conn* c);
};

}  // namespace sluice::detail
