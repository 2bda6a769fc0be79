// HTTPS under HTTP: the TLS http_transport.
//
// Asio's ssl::stream allows one read and one write at a time, and its shutdown is both (it writes
// close_notify, then reads until the peer's). So shutdown_send() waits for the read and the write
// in flight, and a read asked for while the shutdown runs is parked and completes with it: end of
// file once the peer answered with its close_notify or closed, the error otherwise. Application
// data that arrives meanwhile is discarded (OpenSSL drops it once close_notify is sent), which is
// what the only caller, the server's lingering close, wants.
#include "tls_transport.hpp"

#include <boost/asio/error.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/write.hpp>
#include <cstring>

#include "../net/socket_impl.hpp"
#include "../net/tls_context.hpp"

namespace sluice::detail {

namespace {

namespace asio = boost::asio;
namespace ssl = boost::asio::ssl;
using tcp = asio::ip::tcp;

/// Writes of several buffers are copied into one below this size: the TLS stream writes one
/// record per buffer, so a chunk header, its data and its CRLF would be three records and three
/// system calls.
constexpr std::size_t coalesce_limit = 256 * 1024;

/// A peer that closes the TCP connection without close_notify (most HTTP servers on a
/// keep-alive timeout) ends the stream like a FIN on plain TCP: HTTP's own framing (Content-Length,
/// chunked) still tells a cut body from a whole one.
boost::system::error_code as_eof(const boost::system::error_code& ec) {
  if (ec == ssl::error::stream_truncated) return asio::error::eof;
  return ec;
}

/// The stream and its state, shared with the operations in flight: they may complete after the
/// transport is gone (it closes the socket when destroyed, so they do so at once).
struct tls_core {
  tls_core(tcp::socket s, std::shared_ptr<ssl::context> c)
      : ctx(std::move(c)), s(std::move(s), *ctx) {}
  enum class shut_state { none, wanted, in_flight, done };
  std::shared_ptr<ssl::context> ctx;
  ssl::stream<tcp::socket> s;
  std::string peer;
  std::vector<char> staging;  // a coalesced write
  bool handshaken = false;    // reads and writes go through TLS
  bool reading = false;       // an async_read_some is in flight
  bool writing = false;       // an async_write is in flight
  shut_state shut = shut_state::none;
  boost::system::error_code shut_result;  // what reads return once the shutdown is done
  http_transport::io_handler parked;      // a read asked for during the shutdown
};

class tls_transport final : public tls_http_transport {
 public:
  tls_transport(tcp::socket s, std::shared_ptr<ssl::context> ctx)
      : c_(std::make_shared<tls_core>(std::move(s), std::move(ctx))) {
    boost::system::error_code ec;
    auto& sock = c_->s.next_layer();
    auto ep = sock.remote_endpoint(ec);
    if (!ec) c_->peer = endpoint_text(ep);
    sock.set_option(tcp::no_delay(true), ec);
  }
  ~tls_transport() override { close(); }
  tls_transport(const tls_transport&) = delete;
  tls_transport& operator=(const tls_transport&) = delete;

  void async_handshake_client(const std::string& server_name, bool verify,
                              handshake_handler h) override {
    if (auto e = prepare_tls_client(c_->s, server_name, verify)) {
      asio::post(c_->s.get_executor(), [h = std::move(h), e] { h(e); });
      return;
    }
    handshake(ssl::stream_base::client, std::move(h));
  }
  void async_handshake_server(handshake_handler h) override {
    handshake(ssl::stream_base::server, std::move(h));
  }

  void async_read_some(asio::mutable_buffer b, io_handler h) override {
    auto c = c_;
    switch (c->shut) {
      case tls_core::shut_state::done:
        asio::post(c->s.get_executor(), [h = std::move(h), ec = c->shut_result] { h(ec, 0); });
        return;
      case tls_core::shut_state::wanted:
        if (!c->writing) start_shutdown(c);
        [[fallthrough]];
      case tls_core::shut_state::in_flight:
        c->parked = std::move(h);
        return;
      case tls_core::shut_state::none:
        break;
    }
    c->reading = true;
    c->s.async_read_some(b, [c, h = std::move(h)](boost::system::error_code ec, std::size_t n) {
      c->reading = false;
      h(as_eof(ec), n);
      if (c->shut == tls_core::shut_state::wanted && !c->reading && !c->writing) start_shutdown(c);
    });
  }

  void async_write(std::vector<asio::const_buffer> bufs, io_handler h) override {
    auto c = c_;
    if (c->shut != tls_core::shut_state::none) {
      asio::post(c->s.get_executor(), [h = std::move(h)] { h(asio::error::shut_down, 0); });
      return;
    }
    std::size_t total = 0;
    for (const auto& b : bufs) total += b.size();
    if (bufs.size() > 1 && total <= coalesce_limit) {
      c->staging.resize(total);
      std::size_t off = 0;
      for (const auto& b : bufs) {
        std::memcpy(c->staging.data() + off, b.data(), b.size());
        off += b.size();
      }
      bufs.assign(1, asio::buffer(c->staging));
    }
    c->writing = true;
    asio::async_write(c->s, bufs,
                      [c, h = std::move(h)](boost::system::error_code ec, std::size_t n) {
                        c->writing = false;
                        h(ec, n);
                        if (c->shut == tls_core::shut_state::wanted && !c->reading && !c->writing)
                          start_shutdown(c);
                      });
  }

  void shutdown_send() override {
    auto c = c_;
    if (c->shut != tls_core::shut_state::none || !c->s.next_layer().is_open()) return;
    if (!c->handshaken) {  // nothing was said in TLS: a FIN is all there is to send
      boost::system::error_code ec;
      c->s.next_layer().shutdown(tcp::socket::shutdown_send, ec);
      return;
    }
    c->shut = tls_core::shut_state::wanted;
    if (!c->reading && !c->writing) start_shutdown(c);
  }
  void cancel() override {
    boost::system::error_code ec;
    if (c_->s.next_layer().is_open()) c_->s.next_layer().cancel(ec);
  }
  void close() override {
    boost::system::error_code ec;
    if (c_->s.next_layer().is_open()) c_->s.next_layer().close(ec);
  }
  void reset() override {
    boost::system::error_code ec;
    auto& sock = c_->s.next_layer();
    if (!sock.is_open()) return;
    sock.set_option(asio::socket_base::linger(true, 0), ec);
    sock.close(ec);
  }
  [[nodiscard]] const std::string& peer() const override { return c_->peer; }
  [[nodiscard]] bool is_open() const override { return c_->s.next_layer().is_open(); }

 private:
  void handshake(ssl::stream_base::handshake_type type, handshake_handler h) {
    auto c = c_;
    c->s.async_handshake(type, [c, h = std::move(h)](const boost::system::error_code& ec) {
      if (!ec) c->handshaken = true;
      h(ec ? handshake_error(c->s, ec) : std::error_code());
    });
  }

  /// close_notify, then the peer's (or its FIN): the parked read completes with the outcome.
  static void start_shutdown(const std::shared_ptr<tls_core>& c) {
    c->shut = tls_core::shut_state::in_flight;
    c->s.async_shutdown([c](boost::system::error_code ec) {
      c->shut = tls_core::shut_state::done;
      ec = as_eof(ec);
      c->shut_result = !ec ? boost::system::error_code(asio::error::eof) : ec;
      boost::system::error_code ignored;
      if (c->s.next_layer().is_open())
        c->s.next_layer().shutdown(tcp::socket::shutdown_send, ignored);
      if (auto h = std::move(c->parked)) {
        c->parked = nullptr;
        h(c->shut_result, 0);
      }
    });
  }

  std::shared_ptr<tls_core> c_;
};

}  // namespace

std::unique_ptr<tls_http_transport> make_tls_transport(tcp::socket s,
                                                       std::shared_ptr<ssl::context> ctx) {
  return std::make_unique<tls_transport>(std::move(s), std::move(ctx));
}

}  // namespace sluice::detail
