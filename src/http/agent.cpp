// http_agent: connections per scheme, host, port (and TLS options), a bound on them, idle ones
// watched and reused.
#include <boost/asio/connect.hpp>
#include <boost/asio/post.hpp>

#include "agent.hpp"

namespace sluice {

namespace detail {

std::string conn_target::key() const {
  std::string k = (tls ? "https://" : "http://") + host + ":" + port;
  if (tls) {
    k.append(" ").append(tls_options.ca_file).append(tls_options.verify_peer ? " 1 " : " 0 ");
    k.append(tls_options.server_name);
  }
  return k;
}

void http_agent_impl::acquire(const conn_target& target, acquired fn) {
  const std::string key = target.key();
  auto& p = pools_[key];
  while (!target.fresh && !p.idle.empty()) {
    auto c = std::move(p.idle.back());
    p.idle.pop_back();
    ++c->idle_gen;
    c->idle_timer.cancel();
    if (!c->t->is_open()) continue;
    c->t->cancel();
    c->reused = true;
    ++p.active;
    ++reused_;
    asio::post(loop_.context(), [fn = std::move(fn), c] { fn({}, c); });
    return;
  }
  if (opts_.max_sockets_per_host != 0 && p.active >= opts_.max_sockets_per_host) {
    p.waiters.emplace_back(target, std::move(fn));
    return;
  }
  ++p.active;
  connect(target, std::move(fn));
}

void http_agent_impl::connect(const conn_target& target, acquired fn) {
  auto self = shared_from_this();
  const std::string key = target.key();
  resolver_.async_resolve(
      target.host, target.port,
      [self, key, target, fn = std::move(fn)](boost::system::error_code ec,
                                              tcp::resolver::results_type results) mutable {
        if (ec) {
          self->connect_failed(key);
          fn(to_std_error(ec), nullptr);
          return;
        }
        auto sock = std::make_shared<tcp::socket>(self->loop_.context());
        asio::async_connect(*sock, results,
                            [self, key, target, sock, fn = std::move(fn)](
                                boost::system::error_code ec, const tcp::endpoint&) mutable {
                              if (ec) {
                                self->connect_failed(key);
                                fn(to_std_error(ec), nullptr);
                                return;
                              }
                              if (target.tls) {
                                self->start_tls(target, std::move(*sock), std::move(fn));
                                return;
                              }
                              auto c = std::make_shared<client_conn>(self->loop_.context());
                              c->t = make_tcp_transport(std::move(*sock));
                              c->key = key;
                              ++self->created_;
                              fn({}, c);
                            });
      });
}

void http_agent_impl::connect_failed(const std::string& key) {
  auto& p = pools_[key];
  if (p.active > 0) --p.active;
  if (p.waiters.empty()) return;
  auto [target, fn] = std::move(p.waiters.front());
  p.waiters.pop_front();
  ++p.active;
  connect(target, std::move(fn));
}

void http_agent_impl::release(const std::shared_ptr<client_conn>& c, bool reusable) {
  auto& p = pools_[c->key];
  if (p.active > 0) --p.active;
  if (reusable && c->t->is_open() && !p.waiters.empty() &&
      !p.waiters.front().first.fresh) {  // hand it straight on
    auto fn = std::move(p.waiters.front().second);
    p.waiters.pop_front();
    c->reused = true;
    ++p.active;
    ++reused_;
    asio::post(loop_.context(), [fn = std::move(fn), c] { fn({}, c); });
    return;
  }
  if (reusable && c->t->is_open() && p.idle.size() < opts_.max_free_sockets_per_host) {
    p.idle.push_back(c);
    watch_idle(c);
  } else {
    c->t->close();
  }
  if (!p.waiters.empty()) {  // a socket slot is free: open a new connection for the next one
    auto [target, fn] = std::move(p.waiters.front());
    p.waiters.pop_front();
    ++p.active;
    connect(target, std::move(fn));
  }
}

void http_agent_impl::watch_idle(const std::shared_ptr<client_conn>& c) {
  const auto gen = ++c->idle_gen;
  std::weak_ptr<http_agent_impl> weak = shared_from_this();
  // Any byte or end of file on an idle connection means the server is done with it.
  c->t->async_read_some(asio::buffer(&c->idle_byte, 1),
                        [weak, c, gen](boost::system::error_code, std::size_t) {
                          if (c->idle_gen != gen) return;
                          if (auto self = weak.lock()) self->drop_idle(c.get());
                        });
  if (opts_.free_socket_timeout.count() > 0) {
    c->idle_timer.expires_after(opts_.free_socket_timeout);
    c->idle_timer.async_wait([weak, c, gen](boost::system::error_code ec) {
      if (ec || c->idle_gen != gen) return;
      if (auto self = weak.lock()) self->drop_idle(c.get());
    });
  }
}

void http_agent_impl::drop_idle(client_conn* c) {
  auto& idle = pools_[c->key].idle;
  for (auto it = idle.begin(); it != idle.end(); ++it) {
    if (it->get() == c) {
      ++c->idle_gen;
      c->idle_timer.cancel();
      c->t->close();
      idle.erase(it);
      return;
    }
  }
}

void http_agent_impl::close_idle() {
  for (auto& [key, p] : pools_) {
    for (auto& c : p.idle) {
      ++c->idle_gen;
      c->idle_timer.cancel();
      c->t->close();
    }
    p.idle.clear();
  }
}

}  // namespace detail

// ---- public --------------------------------------------------------------------------------

http_agent::http_agent(asio_loop& l, http_agent_options o)
    : impl_(std::make_shared<detail::http_agent_impl>(l, o)) {}

http_agent::~http_agent() { impl_->close_idle(); }

std::uint64_t http_agent::connections_created() const noexcept { return impl_->created_; }
std::uint64_t http_agent::connections_reused() const noexcept { return impl_->reused_; }
std::uint64_t http_agent::requests_retried() const noexcept { return impl_->retried_; }
std::size_t http_agent::idle_count() const noexcept {
  std::size_t n = 0;
  for (const auto& [k, p] : impl_->pools_) n += p.idle.size();
  return n;
}
void http_agent::close_idle() { impl_->close_idle(); }

}  // namespace sluice
