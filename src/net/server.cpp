// server: an acceptor (TCP or Unix-domain) whose accepted connections become sockets owned by
// the server until they close.
#include "sluice/net/server.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <boost/asio/ip/v6_only.hpp>
#include <unordered_map>
#include <utility>
#include <vector>

#include "socket_impl.hpp"

namespace sluice {

namespace {

using detail::tcp;
using detail::unix_stream;

// A Unix path that is in the way: a socket nobody accepts on is stale and removed; anything
// else (a live socket, a file) is "Address already in use".
std::error_code clear_unix_path(boost::asio::io_context& io, const std::string& path) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) return {};
  if (!S_ISSOCK(st.st_mode)) return detail::sys_error(EADDRINUSE);
  unix_stream::socket probe(io);
  boost::system::error_code ec;
  probe.connect(unix_stream::endpoint(path), ec);
  if (!ec) return detail::sys_error(EADDRINUSE);
  if (ec != boost::asio::error::connection_refused) return {};
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) return detail::sys_error(errno);
  return {};
}

}  // namespace

struct server::impl : std::enable_shared_from_this<server::impl> {
  impl(asio_loop& l, server_options o, std::string p)
      : loop(l), opts(std::move(o)), path(std::move(p)) {}

  asio_loop& loop;
  server_options opts;
  std::string path;  // Unix-domain server: the socket file
  std::optional<tcp::acceptor> tcp_acceptor;
  std::optional<unix_stream::acceptor> unix_acceptor;
  std::shared_ptr<boost::asio::ssl::context> tls;
  connection_handler handler;
  std::unordered_map<const socket*, std::shared_ptr<socket>> conns;
  std::vector<callback> close_cbs;
  std::string error;
  std::uint64_t accepted = 0;
  std::uint64_t rejected = 0;
  std::uint16_t bound_port = 0;
  bool accepting = false;
  bool closing = false;
  bool closed = false;  // close() completed
  timer grace_timer;
  timer retry_timer;

  std::error_code fail(std::error_code ec, const std::string& what) {
    error = what + ": " + ec.message();
    return ec;
  }

  std::error_code listen() {
    if (accepting || closing) return fail(detail::sys_error(EINVAL), "listen " + address());
    if (opts.tls) {
      std::error_code ec;
      std::string what;
      tls = detail::make_server_tls_context(*opts.tls, ec, what);
      if (!tls) return fail(ec, what);
    }
    return path.empty() ? listen_tcp() : listen_unix();
  }

  std::error_code listen_tcp() {
    const std::string where = "listen " + detail::host_port(opts.host, opts.port);
    boost::system::error_code ec;
    tcp::resolver r(loop.context());
    auto res = r.resolve(opts.host, std::to_string(opts.port),
                         tcp::resolver::numeric_service | tcp::resolver::passive, ec);
    if (ec) return fail(detail::to_std(ec), where);
    const tcp::endpoint ep = res.begin()->endpoint();
    tcp::acceptor a(loop.context());
    a.open(ep.protocol(), ec);
    if (!ec && ep.address().is_v6()) a.set_option(boost::asio::ip::v6_only(false), ec);
    if (!ec) a.set_option(tcp::acceptor::reuse_address(true), ec);
    if (!ec) a.bind(ep, ec);
    if (!ec) a.listen(opts.backlog, ec);
    if (ec) return fail(detail::to_std(ec), where);
    bound_port = a.local_endpoint(ec).port();
    tcp_acceptor.emplace(std::move(a));
    accepting = true;
    accept_next();
    return {};
  }

  std::error_code listen_unix() {
    const std::string where = "listen " + path;
    if (auto e = clear_unix_path(loop.context(), path)) return fail(e, where);
    boost::system::error_code ec;
    unix_stream::acceptor a(loop.context());
    a.open(unix_stream(), ec);
    if (!ec) a.bind(unix_stream::endpoint(path), ec);
    if (!ec) a.listen(opts.backlog, ec);
    if (ec) return fail(detail::to_std(ec), where);
    unix_acceptor.emplace(std::move(a));
    accepting = true;
    accept_next();
    return {};
  }

  [[nodiscard]] std::string address() const {
    if (!path.empty()) return path;
    boost::system::error_code ec;
    if (tcp_acceptor) {
      const auto ep = tcp_acceptor->local_endpoint(ec);
      if (!ec) return detail::endpoint_text(ep);
    }
    return detail::host_port(opts.host, opts.port);
  }

  void accept_next() {
    if (!accepting) return;
    auto self = shared_from_this();
    if (tcp_acceptor) {
      tcp_acceptor->async_accept([self](const boost::system::error_code& ec, tcp::socket s) {
        self->on_accepted(ec, std::move(s));
      });
    } else {
      unix_acceptor->async_accept(
          [self](const boost::system::error_code& ec, unix_stream::socket s) {
            self->on_accepted(ec, std::move(s));
          });
    }
  }

  template <class Socket>
  void on_accepted(const boost::system::error_code& ec, Socket s) {
    if (!accepting) return;
    if (ec) {
      // Out of descriptors or a connection gone before accept: try again a little later
      // rather than spin.
      std::weak_ptr<impl> weak = shared_from_this();
      retry_timer = loop.start_timer(std::chrono::milliseconds(50), [weak] {
        if (auto self = weak.lock()) self->accept_next();
      });
      return;
    }
    ++accepted;
    if (opts.max_connections != 0 && conns.size() >= opts.max_connections) {
      ++rejected;
      boost::system::error_code ignored;
      s.close(ignored);
      accept_next();
      return;
    }
    std::shared_ptr<detail::socket_impl> body;
    if constexpr (std::is_same_v<Socket, tcp::socket>) {
      boost::system::error_code e;
      const auto peer = s.remote_endpoint(e);
      const std::string peer_text = e ? std::string("?") : detail::endpoint_text(peer);
      if (tls) {
        body = std::make_shared<detail::socket_impl>(
            loop.context(), std::make_unique<detail::tls_stream>(std::move(s), *tls));
        body->tls = tls;
        body->plan = detail::construct_plan::tls_server;
      } else {
        body = std::make_shared<detail::socket_impl>(loop.context(), std::move(s));
      }
      body->peer = peer_text;
    } else {
      body = std::make_shared<detail::socket_impl>(loop.context(), std::move(s));
      body->peer = path;
    }
    auto conn = std::make_shared<socket>(loop, std::move(body), opts.connection);
    conns.emplace(conn.get(), conn);
    std::weak_ptr<impl> weak = shared_from_this();
    conn->on_close([weak, key = conn.get()] {
      if (auto self = weak.lock()) self->on_connection_closed(key);
    });
    accept_next();
    if (handler) handler(conn);
  }

  void on_connection_closed(const socket* key) {
    conns.erase(key);
    maybe_closed();
  }

  void stop_accepting() {
    if (!accepting) return;
    accepting = false;
    retry_timer.cancel();
    boost::system::error_code ignored;
    if (tcp_acceptor) tcp_acceptor->close(ignored);
    if (unix_acceptor) {
      unix_acceptor->close(ignored);
      ::unlink(path.c_str());
    }
  }

  void close(callback cb) {
    if (cb) {
      if (closed) {
        loop.defer([cb] { cb({}); });
        return;
      }
      close_cbs.push_back(std::move(cb));
    }
    if (closing) return;
    closing = true;
    stop_accepting();
    maybe_closed();
  }

  void maybe_closed() {
    if (!closing || closed || !conns.empty()) return;
    closed = true;
    grace_timer.cancel();
    loop.defer([self = shared_from_this()] {
      auto cbs = std::move(self->close_cbs);
      self->close_cbs.clear();
      for (auto& c : cbs) c({});
    });
  }

  void shutdown(loop::duration grace, callback cb) {
    close(std::move(cb));
    std::vector<std::shared_ptr<socket>> open;
    open.reserve(conns.size());
    for (auto& [k, c] : conns) open.push_back(c);
    for (auto& c : open) c->end();
    if (closed) return;
    std::weak_ptr<impl> weak = shared_from_this();
    grace_timer = loop.start_timer(grace, [weak] {
      auto self = weak.lock();
      if (!self) return;
      std::vector<std::shared_ptr<socket>> left;
      for (auto& [k, c] : self->conns) left.push_back(c);
      for (auto& c : left) c->destroy();
    });
  }
};

server::server(asio_loop& l, server_options opts, std::string unix_path)
    : impl_(std::make_shared<impl>(l, std::move(opts), std::move(unix_path))) {}

server::~server() { impl_->stop_accepting(); }

void server::on_connection(connection_handler fn) { impl_->handler = std::move(fn); }
std::error_code server::listen() { return impl_->listen(); }
bool server::listening() const noexcept { return impl_->accepting; }
std::uint16_t server::port() const noexcept { return impl_->bound_port; }
std::string server::address() const { return impl_->address(); }
const std::string& server::error_message() const noexcept { return impl_->error; }
std::size_t server::connections() const noexcept { return impl_->conns.size(); }
std::uint64_t server::accepted_connections() const noexcept { return impl_->accepted; }
std::uint64_t server::rejected_connections() const noexcept { return impl_->rejected; }
void server::close(callback cb) { impl_->close(std::move(cb)); }
void server::shutdown(loop::duration grace, callback cb) { impl_->shutdown(grace, std::move(cb)); }

std::shared_ptr<server> make_tcp_server(asio_loop& l, server_options opts) {
  return std::make_shared<server>(l, std::move(opts), std::string());
}

std::shared_ptr<server> make_unix_server(asio_loop& l, std::string path, server_options opts) {
  return std::make_shared<server>(l, std::move(opts), std::move(path));
}

}  // namespace sluice
