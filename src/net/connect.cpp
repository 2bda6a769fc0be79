// socket's construct step: resolve and connect (TCP, Unix), the TLS handshake, the connect
// timeout; and the make_*_connection functions.
#include <boost/asio/connect.hpp>
#include <utility>

#include "socket_impl.hpp"

namespace sluice {

namespace {

using detail::construct_plan;

}  // namespace

void socket::do_construct(callback cb) {
  detail::socket_impl& im = *impl_;
  // Shared by the steps below: completes construction once, with the operation that failed.
  auto done = [self = self(), cb = std::move(cb)](std::error_code ec, const std::string& op) {
    detail::socket_impl& m = *self->impl_;
    m.connect_timer.cancel();
    if (!ec && self->destroyed()) {  // destroyed while connecting: no 'connect'
      cb({});
      return;
    }
    if (ec && m.timed_out) ec = detail::sys_error(ETIMEDOUT);
    if (ec) {
      self->fail(ec, op);
      cb(ec);
      return;
    }
    self->on_connected();
    cb({});
    // As Node's afterConnect: start reading at once (up to the highWaterMark), so a peer's
    // bytes are taken even before a consumer attaches.
    self->get_loop().defer([self] {
      if (!self->destroyed()) self->read(0);
    });
    self->connect_signal_.emit();
  };
  if (im.connect_timeout.count() > 0 && im.plan != construct_plan::none) {
    std::weak_ptr<detail::socket_impl> weak = impl_;
    im.connect_timer = get_loop().start_timer(im.connect_timeout, [weak] {
      if (auto m = weak.lock()) {
        m->timed_out = true;
        m->close();  // whatever is in flight completes with operation_aborted
      }
    });
  }
  const std::string target =
      im.plan == construct_plan::unix_client ? im.path : detail::host_port(im.host, im.port);
  auto handshake = [this, done](boost::asio::ssl::stream_base::handshake_type type) {
    auto& s = *std::get<std::unique_ptr<detail::tls_stream>>(impl_->stream);
    s.async_handshake(type, [self = self(), done](const boost::system::error_code& ec) {
      auto& st = *std::get<std::unique_ptr<detail::tls_stream>>(self->impl_->stream);
      done(ec ? detail::handshake_error(st, ec) : std::error_code(),
           "TLS handshake with " + self->impl_->peer);
    });
  };
  switch (im.plan) {
    case construct_plan::none:
      done({}, {});
      return;
    case construct_plan::tls_server:
      handshake(boost::asio::ssl::stream_base::server);
      return;
    case construct_plan::unix_client:
      std::get<detail::unix_stream::socket>(im.stream).async_connect(
          detail::unix_stream::endpoint(im.path),
          [done, target](const boost::system::error_code& ec) {
            done(detail::to_std(ec), "connect " + target);
          });
      return;
    case construct_plan::tcp_client:
    case construct_plan::tls_client:
      break;
  }
  im.resolver.emplace(im.io);
  im.resolver->async_resolve(
      im.host, std::to_string(im.port), detail::tcp::resolver::numeric_service,
      [self = self(), done, target, handshake](const boost::system::error_code& rec,
                                               const detail::tcp::resolver::results_type& res) {
        if (rec) {
          done(detail::to_std(rec), "connect " + target);
          return;
        }
        detail::socket_impl& m = *self->impl_;
        if (m.timed_out) {
          done(detail::sys_error(ETIMEDOUT), "connect " + target);
          return;
        }
        if (m.plan == construct_plan::tls_client) {
          auto& s = *std::get<std::unique_ptr<detail::tls_stream>>(m.stream);
          const std::string name =
              m.tls_client->server_name.empty() ? m.host : m.tls_client->server_name;
          if (auto e = detail::prepare_tls_client(s, name, m.tls_client->verify_peer)) {
            done(e, "TLS setup for " + target);
            return;
          }
        }
        m.visit_lowest([&](auto& sock) {
          if constexpr (std::is_same_v<std::decay_t<decltype(sock)>, detail::tcp::socket>) {
            boost::asio::async_connect(
                sock, res,
                [self, done, target, handshake](const boost::system::error_code& ec,
                                                const detail::tcp::endpoint&) {
                  if (ec || self->impl_->plan != construct_plan::tls_client) {
                    done(detail::to_std(ec), "connect " + target);
                    return;
                  }
                  // Errors from here on name the address actually reached.
                  self->impl_->peer = self->remote_address();
                  handshake(boost::asio::ssl::stream_base::client);
                });
          }
        });
      });
}

// ---- making connections ---------------------------------------------------------------------

namespace {

std::shared_ptr<socket> make_client(asio_loop& l, std::shared_ptr<detail::socket_impl> impl,
                                    const socket_options& opts) {
  return std::make_shared<socket>(l, std::move(impl), opts);
}

}  // namespace

std::shared_ptr<socket> make_tcp_connection(asio_loop& l, std::string host, std::uint16_t port,
                                            socket_options opts) {
  auto impl = std::make_shared<detail::socket_impl>(l.context(), detail::tcp::socket(l.context()));
  impl->plan = construct_plan::tcp_client;
  impl->peer = detail::host_port(host, port);
  impl->host = std::move(host);
  impl->port = port;
  return make_client(l, std::move(impl), opts);
}

std::shared_ptr<socket> make_unix_connection(asio_loop& l, std::string path, socket_options opts) {
  auto impl =
      std::make_shared<detail::socket_impl>(l.context(), detail::unix_stream::socket(l.context()));
  impl->plan = construct_plan::unix_client;
  impl->peer = path;
  impl->path = std::move(path);
  return make_client(l, std::move(impl), opts);
}

std::shared_ptr<socket> make_tls_connection(asio_loop& l, std::string host, std::uint16_t port,
                                            tls_client_options tls, socket_options opts) {
  std::error_code ec;
  std::string what;
  auto ctx = detail::make_client_tls_context(tls, ec, what);
  if (!ctx) {
    // A socket that fails at once, saying which file was wrong.
    auto impl =
        std::make_shared<detail::socket_impl>(l.context(), detail::tcp::socket(l.context()));
    impl->peer = detail::host_port(host, port);
    auto s = make_client(l, std::move(impl), opts);
    s->fail(ec, what);
    return s;
  }
  auto impl = std::make_shared<detail::socket_impl>(
      l.context(), std::make_unique<detail::tls_stream>(l.context(), *ctx));
  impl->tls = std::move(ctx);
  impl->plan = construct_plan::tls_client;
  impl->peer = detail::host_port(host, port);
  impl->host = std::move(host);
  impl->port = port;
  impl->tls_client = std::move(tls);
  return make_client(l, std::move(impl), opts);
}

}  // namespace sluice
