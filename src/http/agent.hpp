// The keep-alive pool under the client: client_conn (one socket and its input buffer) and
// http_agent_impl (connections per host:port, with a bound and idle reuse). client.cpp runs
// exchanges on the connections; agent.cpp implements the pool.
#pragma once

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/flat_buffer.hpp>
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
};

class http_agent_impl : public std::enable_shared_from_this<http_agent_impl> {
 public:
  using acquired = std::function<void(boost::system::error_code, std::shared_ptr<client_conn>)>;
  http_agent_impl(asio_loop& l, http_agent_options o)
      : loop_(l), opts_(o), resolver_(l.context()) {}

  void acquire(const std::string& host, const std::string& port, acquired fn);
  void release(const std::shared_ptr<client_conn>& c, bool reusable);
  void close_idle();

  asio_loop& loop_;
  http_agent_options opts_;
  tcp::resolver resolver_;
  struct pool {
    std::vector<std::shared_ptr<client_conn>> idle;
    std::size_t active = 0;
    std::deque<std::pair<std::string, acquired>> waiters;  // host, continuation
  };
  std::unordered_map<std::string, pool> pools_;
  std::uint64_t created_ = 0;
  std::uint64_t reused_ = 0;

 private:
  void connect(const std::string& host, const std::string& port, acquired fn);
  void watch_idle(const std::shared_ptr<client_conn>& c);
  void drop_idle(client_conn* c);
};

}  // namespace sluice::detail
