// HTTPS in the server: the TLS context made at listen(), and each connection's handshake before
// its first request (under the headers timeout, so a client that connects and says nothing is
// closed as a slow-header one would be).
#include "../net/tls_context.hpp"
#include "server_impl.hpp"
#include "tls_transport.hpp"

namespace sluice::detail {

std::error_code http_server_impl::load_tls() {
  if (!opts_.tls || tls_) return {};
  std::error_code ec;
  std::string what;
  tls_ = make_server_tls_context(*opts_.tls, ec, what);
  if (!tls_) error_ = what + ": " + ec.message();
  return ec;
}

server_connection::server_connection(std::shared_ptr<http_server_impl> srv, tcp::socket s)
    : srv_(std::move(srv)), timer_(srv_->loop_.context()), exchange_timer_(srv_->loop_.context()) {
  if (srv_->tls_) {
    t_ = make_tls_transport(std::move(s), srv_->tls_);
    handshake_pending_ = true;
  } else {
    t_ = make_tcp_transport(std::move(s));
  }
}

void server_connection::start_tls(unsigned reject_status) {
  arm_timer(srv_->opts_.headers_timeout, &server_connection::handshake_timeout);
  auto& tls = static_cast<tls_http_transport&>(*t_);
  tls.async_handshake_server([self = shared_from_this(), reject_status](std::error_code ec) {
    if (self->closed_) return;  // timed out, or the server closed
    self->handshake_pending_ = false;
    if (ec) {
      ++self->srv_->tls_failures_;
      self->finish_close(false);
      return;
    }
    if (reject_status != 0)
      self->reject(reject_status);
    else
      self->wait_head(true);
  });
}

void server_connection::handshake_timeout() {
  if (!handshake_pending_) return;
  ++srv_->tls_failures_;
  finish_close(false);
}

}  // namespace sluice::detail
