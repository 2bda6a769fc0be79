// http_server: the acceptor, and the public wrapper over http_server_impl.
#include "server_impl.hpp"

namespace sluice {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

namespace detail {

// ---- the server ------------------------------------------------------------------------------

void http_server_impl::accept_next() {
  acceptor_.async_accept([self = shared_from_this()](boost::system::error_code ec, tcp::socket s) {
    if (self->closing_ || ec == asio::error::operation_aborted) return;
    if (ec) {  // a transient failure (EMFILE, ECONNABORTED): keep accepting
      self->accept_next();
      return;
    }
    auto c = std::make_shared<server_connection>(self, std::move(s));
    self->conns_.emplace(c.get(), c);
    if (self->opts_.max_connections != 0 && self->active_ >= self->opts_.max_connections) {
      c->counted_ = false;
      c->reject(503);
    } else {
      ++self->active_;
      c->start();
    }
    self->accept_next();
  });
}

void http_server_impl::remove(server_connection* c) {
  auto it = conns_.find(c);
  if (it == conns_.end()) return;
  if (it->second->counted()) --active_;
  conns_.erase(it);
  maybe_closed();
}

void http_server_impl::close(callback cb) {
  if (cb) close_cbs_.push_back(std::move(cb));
  if (!closing_) {
    closing_ = true;
    boost::system::error_code ec;
    acceptor_.close(ec);
    for (auto& [p, c] : std::unordered_map(conns_)) c->server_closing();
  }
  asio::post(loop_.context(), [self = shared_from_this()] { self->maybe_closed(); });
}

void http_server_impl::maybe_closed() {
  if (!closing_ || !conns_.empty()) return;
  auto cbs = std::move(close_cbs_);
  close_cbs_.clear();
  for (auto& cb : cbs) cb({});
}

}  // namespace detail

// ---- public wrapper ----------------------------------------------------------------------------

http_server::http_server(asio_loop& l, http_server_options o, http_handler h)
    : impl_(std::make_shared<detail::http_server_impl>(l, o, std::move(h))) {}

http_server::~http_server() {
  // Close everything now: the io_context may never run again, and connections and the server
  // refer to each other until removed.
  impl_->closing_ = true;
  boost::system::error_code ec;
  impl_->acceptor_.close(ec);
  for (auto& [p, c] : std::unordered_map(impl_->conns_)) c->close_now();
  impl_->conns_.clear();
  impl_->active_ = 0;
}

std::error_code http_server::listen(const std::string& host, std::uint16_t port) {
  impl_->error_.clear();
  if (auto e = impl_->load_tls()) return e;
  boost::system::error_code ec;
  auto addr = asio::ip::make_address(host, ec);
  if (ec) {
    impl_->error_ = "listen on " + host + ": " + ec.message();
    return detail::to_std_error(ec);
  }
  tcp::endpoint ep(addr, port);
  auto& a = impl_->acceptor_;
  a.open(ep.protocol(), ec);
  if (!ec) a.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) a.bind(ep, ec);
  if (!ec) a.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    boost::system::error_code ignored;
    a.close(ignored);
    impl_->error_ = "listen on " + host + ":" + std::to_string(port) + ": " + ec.message();
    return detail::to_std_error(ec);
  }
  impl_->accept_next();
  return {};
}

std::uint16_t http_server::port() const noexcept {
  boost::system::error_code ec;
  auto ep = impl_->acceptor_.local_endpoint(ec);
  return ec ? 0 : ep.port();
}

void http_server::close(callback cb) { impl_->close(std::move(cb)); }

std::size_t http_server::connection_count() const noexcept { return impl_->conns_.size(); }

std::uint64_t http_server::request_count() const noexcept { return impl_->requests_; }

std::uint64_t http_server::tls_handshake_failures() const noexcept { return impl_->tls_failures_; }

const std::string& http_server::error_message() const noexcept { return impl_->error_; }

std::unique_ptr<http_server> make_http_server(asio_loop& l, http_server_options o, http_handler h) {
  return std::make_unique<http_server>(l, o, std::move(h));
}

}  // namespace sluice
