// HTTPS in the client: the TLS handshake of a new pooled connection. The pool keeps one TLS
// context per key (scheme, host, port, TLS options), so the CA file is read once per agent.
#include <boost/asio/steady_timer.hpp>
#include <optional>

#include "../net/tls_context.hpp"
#include "agent.hpp"
#include "tls_transport.hpp"

namespace sluice::detail {

void http_agent_impl::start_tls(const conn_target& target, tcp::socket s, acquired fn) {
  const std::string key = target.key();
  auto& p = pools_[key];
  if (!p.tls) {
    std::error_code ec;
    std::string what;
    p.tls = make_client_tls_context(target.tls_options, ec, what);
    if (!p.tls) {
      connect_failed(key);
      fn(ec, nullptr);
      return;
    }
  }
  struct attempt {
    std::unique_ptr<tls_http_transport> t;
    std::optional<asio::steady_timer> timer;
    bool timed_out = false;
  };
  auto a = std::make_shared<attempt>();
  a->t = make_tls_transport(std::move(s), p.tls);
  if (target.handshake_timeout.count() > 0) {
    a->timer.emplace(loop_.context());
    a->timer->expires_after(target.handshake_timeout);
    a->timer->async_wait([w = std::weak_ptr(a)](boost::system::error_code ec) {
      auto a = w.lock();
      if (ec || !a || !a->t) return;
      a->timed_out = true;
      a->t->close();
    });
  }
  const auto& o = target.tls_options;
  a->t->async_handshake_client(
      o.server_name.empty() ? target.host : o.server_name, o.verify_peer,
      [self = shared_from_this(), key, a, fn = std::move(fn)](std::error_code ec) {
        if (a->timer) a->timer->cancel();
        if (ec) {
          a->t.reset();
          self->connect_failed(key);
          fn(a->timed_out ? std::make_error_code(std::errc::timed_out) : ec, nullptr);
          return;
        }
        auto c = std::make_shared<client_conn>(self->loop_.context());
        c->t = std::move(a->t);
        c->key = key;
        ++self->created_;
        fn({}, c);
      });
}

}  // namespace sluice::detail
