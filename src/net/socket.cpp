// socket's data path: one read outstanding at most, and only while the readable side has room;
// every buffered chunk in one gathered async_write; FIN on end(); the idle timer.
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <algorithm>
#include <boost/asio/post.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <cerrno>
#include <limits>
#include <utility>
#include <vector>

#include "../io/sys.hpp"
#include "socket_impl.hpp"

namespace sluice {

namespace {

constexpr std::size_t default_read_size = 64 * 1024;

using detail::fault_injection::sys_op;

// The fault seam (docs/reliability.md, "Faults"): what a test's fault makes of this recv or
// send. EINTR and EAGAIN are retried, as Asio's reactor retries them (each try counts as a
// call); nothing is armed outside tests, and then this is one relaxed load.
detail::fault_injection::outcome injected(sys_op op) noexcept {
  for (;;) {
    const auto f = detail::sys::injected(op);
    if (f.error != EINTR && f.error != EAGAIN && f.error != EWOULDBLOCK) return f;
  }
}

struct write_state {
  std::vector<buffer> chunks;  // owns the bytes until the write completes
  std::vector<boost::asio::const_buffer> bufs;
  std::uint64_t calls = 0;
  int injected_error = 0;  // a fault failed a send (the seam)
};

// async_write's completion condition, counting its calls: asio asks it once before the first
// send and once after each send that leaves bytes to go (or failed), so a write that succeeds
// made `calls` sends and one that fails `calls - 1`. Each send may take up to 1 GiB
// (transfer_all would cut it at 64 KiB), or what a short-count fault allows; a fault's error
// stops the write before that send (start_write's handler reports it).
struct counting_transfer_all {
  write_state* st;
  std::size_t operator()(const boost::system::error_code& ec, std::size_t) const {
    ++st->calls;
    if (ec) return 0;
    const auto f = injected(sys_op::send);
    if (f.error != 0) [[unlikely]] {
      st->injected_error = f.error;
      return 0;
    }
    return std::min(f.limit, std::size_t{1} << 30);
  }
};

bool is_eof(const boost::system::error_code& ec) {
  // A TLS peer that closes without close_notify ends the stream as in Node, which accepts it.
  return ec == boost::asio::error::eof || ec == boost::asio::ssl::error::stream_truncated;
}

}  // namespace

namespace detail {

std::string endpoint_text(const tcp::endpoint& ep) {
  // (Built with append: GCC 12 warns falsely (-Wrestrict) on chained operator+.)
  const auto a = ep.address();
  std::string s;
  if (a.is_v6() && a.to_v6().is_v4_mapped()) {
    s = a.to_v6().to_v4().to_string();
  } else if (a.is_v6()) {
    s.append("[").append(a.to_string()).append("]");
  } else {
    s = a.to_string();
  }
  s.append(":").append(std::to_string(ep.port()));
  return s;
}

std::string host_port(const std::string& host, std::uint16_t port) {
  std::string s;
  if (host.find(':') != std::string::npos)
    s.append("[").append(host).append("]");
  else
    s = host;
  s.append(":").append(std::to_string(port));
  return s;
}

}  // namespace detail

socket::socket(asio_loop& l, std::shared_ptr<detail::socket_impl> impl, const socket_options& opts)
    : duplex<buffer, buffer>(
          l, duplex_options{.readable_high_water_mark = opts.readable_high_water_mark,
                            .writable_high_water_mark = opts.writable_high_water_mark,
                            .allow_half_open = opts.allow_half_open,
                            .name = opts.name.empty() ? impl->peer : opts.name}),
      impl_(std::move(impl)),
      read_size_(readable_high_water_mark() != 0 ? readable_high_water_mark() : default_read_size) {
  if (opts.no_delay) no_delay_ = true;
  reset_on_abort_ = opts.reset_on_abort;
  peer_timeout_ = opts.peer_timeout;
  impl_->connect_timeout = opts.connect_timeout;
  use_construct();
}

socket::~socket() {
  // Never destroyed (destroy() closes it and waits for the write in flight): close it now.
  impl_->connect_timer.cancel();
  impl_->close();
}

std::shared_ptr<socket> socket::self() {
  return std::dynamic_pointer_cast<socket>(shared_from_this());
}

socket_kind socket::kind() const noexcept { return impl_->kind(); }

int socket::native_handle() const noexcept {
  return impl_->visit_lowest([](auto& s) { return s.is_open() ? s.native_handle() : -1; });
}

std::string socket::local_address() const {
  return impl_->visit_lowest([&](auto& s) -> std::string {
    boost::system::error_code ec;
    const auto ep = s.local_endpoint(ec);
    if (ec) return {};
    if constexpr (std::is_same_v<std::decay_t<decltype(ep)>, detail::tcp::endpoint>)
      return detail::endpoint_text(ep);
    else
      return ep.path();
  });
}

std::string socket::remote_address() const {
  return impl_->visit_lowest([&](auto& s) -> std::string {
    boost::system::error_code ec;
    const auto ep = s.remote_endpoint(ec);
    if (ec) return {};
    if constexpr (std::is_same_v<std::decay_t<decltype(ep)>, detail::tcp::endpoint>)
      return detail::endpoint_text(ep);
    else
      return ep.path();
  });
}

std::uint16_t socket::local_port() const {
  return impl_->visit_lowest([&](auto& s) -> std::uint16_t {
    boost::system::error_code ec;
    const auto ep = s.local_endpoint(ec);
    if constexpr (std::is_same_v<std::decay_t<decltype(ep)>, detail::tcp::endpoint>)
      return ec ? 0 : ep.port();
    else
      return 0;
  });
}

std::uint16_t socket::remote_port() const {
  return impl_->visit_lowest([&](auto& s) -> std::uint16_t {
    boost::system::error_code ec;
    const auto ep = s.remote_endpoint(ec);
    if constexpr (std::is_same_v<std::decay_t<decltype(ep)>, detail::tcp::endpoint>)
      return ec ? 0 : ep.port();
    else
      return 0;
  });
}

std::error_code socket::set_no_delay(bool on) {
  no_delay_ = on;
  if (!connected_ || kind() == socket_kind::unix_domain) return {};
  boost::system::error_code ec;
  impl_->visit_lowest([&](auto& s) {
    if constexpr (std::is_same_v<std::decay_t<decltype(s)>, detail::tcp::socket>)
      s.set_option(detail::tcp::no_delay(on), ec);
  });
  return detail::to_std(ec);
}

std::error_code socket::set_keep_alive(bool on, std::chrono::seconds idle) {
  const int fd = native_handle();
  if (fd < 0 || kind() == socket_kind::unix_domain) return {};
  const int v = on ? 1 : 0;
  if (::setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &v, sizeof v) != 0)
    return detail::sys_error(errno);
  if (on && idle.count() > 0) {
    const int secs = static_cast<int>(idle.count());
    if (::setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &secs, sizeof secs) != 0)
      return detail::sys_error(errno);
  }
  return {};
}

void socket::apply_options() {
  if (no_delay_) (void)set_no_delay(*no_delay_);
  const int fd = native_handle();
  if (fd < 0 || kind() == socket_kind::unix_domain) return;
  // Best effort, like set_no_delay: a failure here leaves the system's behaviour.
  if (reset_on_abort_ && !read_eof_) set_linger_reset(true);
  if (peer_timeout_.count() > 0) {
    const auto ms = static_cast<unsigned>(peer_timeout_.count());
    ::setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &ms, sizeof ms);
    // Probes only matter while nothing is being sent; with TCP_USER_TIMEOUT set, the kernel
    // gives up on unanswered probes once the timeout has passed.
    const int probe_every = std::max(1, static_cast<int>(peer_timeout_.count() / 3000));
    (void)set_keep_alive(true, std::chrono::seconds(probe_every));
    ::setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &probe_every, sizeof probe_every);
  }
}

void socket::set_linger_reset(bool on) {
  const int fd = native_handle();
  if (fd < 0) return;
  const ::linger lg{on ? 1 : 0, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
}

void socket::reset_and_destroy() {
  set_linger_reset(true);
  destroy();
}

// ---- events ---------------------------------------------------------------------------------

listener_id socket::on_timeout(std::function<void()> fn) {
  const listener_id id = next_listener_id();
  timeout_signal_.connect(id, std::move(fn));
  return id;
}

listener_id socket::on_connect(std::function<void()> fn) {
  const listener_id id = next_listener_id();
  connect_signal_.connect(id, std::move(fn), true);
  return id;
}

bool socket::off(listener_id id) {
  return timeout_signal_.disconnect(id) || connect_signal_.disconnect(id) ||
         duplex<buffer, buffer>::off(id);
}

std::size_t socket::listener_count() const noexcept {
  return duplex<buffer, buffer>::listener_count() + timeout_signal_.size() + connect_signal_.size();
}

void socket::on_connected() {
  connected_ = true;
  if (impl_->plan != detail::construct_plan::none &&
      impl_->plan != detail::construct_plan::tls_server)
    impl_->peer = remote_address().empty() ? impl_->peer : remote_address();
  apply_options();
  touch();
}

// ---- idle timeout ---------------------------------------------------------------------------

void socket::set_timeout(loop::duration idle) {
  timeout_ = idle;
  idle_timer_.cancel();
  idle_fired_ = false;
  if (idle.count() > 0 && !destroyed()) {
    last_activity_ = get_loop().now();
    arm_idle_timer(idle);
  }
}

void socket::touch() {
  if (timeout_.count() <= 0) return;
  // (One clock read per completed read or write: Asio's completions do not refresh the loop's
  // event_time().)
  last_activity_ = get_loop().now();
  idle_fired_ = false;
  if (!idle_timer_.pending()) arm_idle_timer(timeout_);
}

void socket::arm_idle_timer(loop::duration after) {
  std::weak_ptr<socket> weak = self();
  idle_timer_ = get_loop().start_timer(after, [weak] {
    if (auto s = weak.lock()) s->on_idle_timer();
  });
}

void socket::on_idle_timer() {
  if (destroyed() || timeout_.count() <= 0) return;
  const loop::duration idle = get_loop().now() - last_activity_;
  if (idle < timeout_) {
    arm_idle_timer(timeout_ - idle);
    return;
  }
  if (idle_fired_) return;
  idle_fired_ = true;  // once per idle period: the next read or write starts another
  timeout_signal_.emit();
}

// ---- reading --------------------------------------------------------------------------------

void socket::do_read(std::size_t) {
  // One read at a time, and none once the peer ended. The core calls do_read only while the
  // readable side is below its highWaterMark, so a full buffer leaves no read outstanding.
  if (reading_ || read_eof_ || destroyed()) return;
  reading_ = true;
  const auto fault = injected(sys_op::recv);
  if (fault.error != 0) [[unlikely]] {  // the read fails without being made
    boost::asio::post(impl_->io, [self = self(), e = fault.error] {
      self->on_read(std::error_code(e, std::system_category()), buffer());
    });
    return;
  }
  buffer_builder b(read_size_);
  const auto space = b.free_space();
  impl_->visit([&](auto& s) {
    s.async_read_some(boost::asio::buffer(space.data(), std::min(space.size(), fault.limit)),
                      [self = self(), b = std::move(b)](const boost::system::error_code& ec,
                                                        std::size_t n) mutable {
                        if (ec) {
                          self->reading_ = false;
                          if (is_eof(ec)) {
                            self->on_read({}, buffer());
                          } else {
                            self->on_read(detail::to_std(ec), buffer());
                          }
                          return;
                        }
                        b.commit(n);
                        self->on_read({}, std::move(b).freeze());
                      });
  });
}

void socket::on_read(std::error_code ec, buffer data) {
  reading_ = false;
  if (destroyed()) return;
  if (ec) {
    fail(ec, "read from " + impl_->peer);
    return;
  }
  if (data.empty()) {
    read_eof_ = true;
    // The peer ended normally: from here a close of ours is an ordinary one (reset_on_abort).
    if (reset_on_abort_) set_linger_reset(false);
    push_eof();
    return;
  }
  bytes_read_ += data.size();
  touch();
  push(std::move(data));
}

// ---- writing --------------------------------------------------------------------------------

void socket::do_write(buffer&& chunk, write_callback cb) {
  std::vector<buffer> one;
  one.push_back(std::move(chunk));
  start_write(std::move(one), cb);
}

bool socket::do_writev(std::vector<buffer>& chunks, write_callback cb) {
  start_write(std::move(chunks), cb);
  return true;
}

void socket::start_write(std::vector<buffer> chunks, write_callback cb) {
  writing_ = true;
  ++write_batches_;
  auto st = std::make_shared<write_state>();
  st->chunks = std::move(chunks);
  st->bufs.reserve(st->chunks.size());
  for (const buffer& b : st->chunks)
    if (!b.empty()) st->bufs.emplace_back(b.data(), b.size());
  // Asio sends with MSG_NOSIGNAL on Linux: a peer gone is EPIPE, never SIGPIPE.
  impl_->visit([&](auto& s) {
    boost::asio::async_write(
        s, st->bufs, counting_transfer_all{st.get()},
        [self = self(), st, cb](const boost::system::error_code& ec, std::size_t n) {
          socket& me = *self;
          me.writing_ = false;
          me.bytes_written_ += n;
          const bool failed = ec || st->injected_error != 0;
          me.write_syscalls_ += failed && st->calls > 0 ? st->calls - 1 : st->calls;
          if (me.destroy_cb_) {
            // destroy() came while the write was in flight (and aborted it): the write fails
            // with the stream's error, then the destruction completes.
            const std::error_code err =
                me.errored() ? me.errored() : make_error_code(errc::stream_destroyed);
            cb(err);
            callback done = std::exchange(me.destroy_cb_, nullptr);
            done(me.destroy_ec_);
            return;
          }
          if (failed) {
            const std::error_code err =
                ec ? detail::to_std(ec)
                   : std::error_code(st->injected_error, std::system_category());
            me.fail(err, "write to " + me.impl_->peer);
            cb(err);
            return;
          }
          me.touch();
          cb();
        });
  });
}

void socket::do_final(callback cb) {
  // A normal end: the FIN below, and the close after it, are ordinary (reset_on_abort).
  if (reset_on_abort_) set_linger_reset(false);
  boost::system::error_code ec;
  if (kind() == socket_kind::tls && read_eof_) {
    // The peer has ended: our close_notify loses nothing (OpenSSL discards whatever arrives
    // after it has sent one, so it is not sent while the peer may still be sending). The
    // shutdown writes close_notify as it starts; we do not wait for the rest of it (the peer's
    // close_notify, which may never come) before the FIN below.
    auto& s = *std::get<std::unique_ptr<detail::tls_stream>>(impl_->stream);
    s.async_shutdown([self = self()](const boost::system::error_code&) {});
  }
  impl_->visit_lowest([&](auto& s) { s.shutdown(s.shutdown_send, ec); });
  // A peer that is already gone (reset) makes shutdown fail with ENOTCONN; the read side
  // reports what happened.
  if (ec && ec != boost::asio::error::not_connected) {
    const std::error_code err = detail::to_std(ec);
    fail(err, "shutdown " + impl_->peer);
    cb(err);
    return;
  }
  cb({});
}

void socket::do_destroy(std::error_code ec, callback cb) {
  idle_timer_.cancel();
  impl_->connect_timer.cancel();
  impl_->close();
  if (writing_) {  // the aborted write completes first (see start_write)
    destroy_ec_ = ec;
    destroy_cb_ = std::move(cb);
    return;
  }
  cb(ec);
}

}  // namespace sluice
