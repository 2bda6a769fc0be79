// The server's internals: http_server_impl (the acceptor and its connections) and
// server_connection (one socket: Beast's request_parser<buffer_body> fed by hand, so the body is
// read from the socket only when the request stream asks for it; responses through a queue).
// server.cpp has the acceptor, server_connection.cpp the connection.
#pragma once

#include <boost/asio/error.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/status.hpp>
#include <deque>
#include <unordered_map>

#include "exchange.hpp"
#include "transport.hpp"

namespace sluice::detail {

namespace asio = boost::asio;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;

class server_connection;

class http_server_impl : public std::enable_shared_from_this<http_server_impl> {
 public:
  http_server_impl(asio_loop& l, http_server_options o, http_handler h)
      : loop_(l), opts_(o), handler_(std::move(h)), acceptor_(l.context()) {}

  void accept_next();
  void remove(server_connection* c);
  void close(callback cb);
  void maybe_closed();
  /// HTTPS: loads the certificate and key (once); sets error_ on failure (tls_server.cpp).
  std::error_code load_tls();

  asio_loop& loop_;
  http_server_options opts_;
  http_handler handler_;
  tcp::acceptor acceptor_;
  std::unordered_map<server_connection*, std::shared_ptr<server_connection>> conns_;
  std::size_t active_ = 0;  // connections being served (not counting 503 rejections)
  std::uint64_t requests_ = 0;
  bool closing_ = false;
  std::vector<callback> close_cbs_;
  std::shared_ptr<asio::ssl::context> tls_;  // HTTPS: made by listen()
  std::uint64_t tls_failures_ = 0;
  std::string error_;  // what listen() failed on
};

class server_connection final : public http_exchange,
                                public std::enable_shared_from_this<server_connection> {
 public:
  server_connection(std::shared_ptr<http_server_impl> srv, tcp::socket s);

  void start() {
    if (handshake_pending_)
      start_tls(0);
    else
      wait_head(true);
  }
  void reject(unsigned status) {
    if (handshake_pending_) {  // the 503 goes out in TLS, after the handshake
      start_tls(status);
      return;
    }
    keep_alive_ = false;
    send_simple(status);
    linger_close();
  }
  /// The server closes: idle connections go now, busy ones after their exchange.
  void server_closing() {
    keep_alive_ = false;
    if (in_exchange_ || closing_) return;
    if (in_.size() == 0 && !writing_)
      finish_close(false);  // idle between requests: nothing to answer
    else
      linger_close();
  }
  /// The server object goes: close now.
  void close_now() { finish_close(false); }
  [[nodiscard]] bool counted() const noexcept { return counted_; }
  bool counted_ = true;

  // ---- http_exchange ----
  void read_body() override { pump_body(); }
  void write_body(std::vector<buffer> chunks, std::function<void(std::error_code)> cb) override;
  void finish_body(std::function<void(std::error_code)> cb) override;
  void response_failed(std::error_code ec) override;
  void request_destroyed() override;
  [[nodiscard]] bool accepts_gzip() const override { return gzip_ok_; }
  [[nodiscard]] bool is_head() const override { return head_; }
  [[nodiscard]] bool can_send_file() const override { return t_->native_handle() >= 0; }
  void send_file(int fd, std::uint64_t offset, std::uint64_t length,
                 std::function<void(std::error_code, std::uint64_t, bool)> cb) override;

 private:
  // ---- reading ----
  void wait_head(bool first);
  /// The time a request head has: the earlier of the headers and request timeouts.
  [[nodiscard]] std::chrono::milliseconds head_limit() const;
  void parse_head();
  void on_head();
  void pump_body();
  void body_too_large(std::uint64_t limit);
  void read_more(void (server_connection::*next)());
  void read_now(void (server_connection::*next)(), std::size_t size);
  // ---- writing ----
  void send(std::vector<buffer> data, std::function<void(std::error_code)> done);
  void write_next();
  void write_done(std::error_code ec, const std::string& what);
  void send_file_turn();
  void send_simple(unsigned status);
  std::string make_head();
  void end_exchange();
  void abort_exchange(unsigned status);
  /// The exchange is over, cut short: drops its streams and closes, with a reset once the
  /// response head went out (`head_out`), else with a lingering close.
  void drop_exchange(bool head_out);
  // ---- the request and idle timeouts of an exchange (one timer, at the earlier deadline) ----
  using clock = std::chrono::steady_clock;
  void start_exchange_clock();
  void arm_exchange_timer();
  void exchange_timer_fired();
  void stop_exchange_timer();
  void exchange_timed_out(bool waiting_for_client, std::string why);
  /// The body is wanted and no byte is there: a socket read, on the request timeout's clock.
  void await_body();
  /// Time spent waiting for the client's request so far (its head, and reads for its body).
  [[nodiscard]] clock::duration request_waited(clock::time_point now) const {
    return request_waited_ + (body_waiting_ ? now - body_wait_since_ : clock::duration{});
  }
  [[nodiscard]] bool timing_request() const {
    return srv_->opts_.request_timeout.count() > 0 && parser_ && !parser_->is_done();
  }
  void note_io() {
    if (srv_->opts_.idle_timeout.count() > 0) last_io_ = clock::now();
  }
  // ---- closing ----
  void arm_timer(std::chrono::milliseconds d, void (server_connection::*fn)());
  void head_timeout();
  void linger_close();
  void drain();
  void linger_expired() { finish_close(false); }
  void finish_close(bool reset);
  // ---- HTTPS (tls_server.cpp) ----
  /// The handshake, under the headers timeout; then the first request, or `reject_status`.
  void start_tls(unsigned reject_status);
  void handshake_timeout();

  std::shared_ptr<http_server_impl> srv_;
  std::unique_ptr<http_transport> t_;
  asio::steady_timer timer_;
  std::uint64_t timer_gen_ = 0;
  asio::steady_timer exchange_timer_;  // request_timeout and idle_timeout
  std::uint64_t exchange_gen_ = 0;
  bool exchange_timer_armed_ = false;
  clock::time_point request_start_{};    // the current request's first byte (or the accept)
  clock::duration request_waited_{};     // waited for it: the head, and body reads completed
  clock::time_point body_wait_since_{};  // the outstanding body read started
  bool body_waiting_ = false;            // a socket read for the body is outstanding
  clock::time_point last_io_{};          // the last socket read or write that completed
  boost::beast::flat_buffer in_;
  std::optional<bhttp::request_parser<bhttp::buffer_body>> parser_;
  std::shared_ptr<http_request> req_;
  std::shared_ptr<http_response> res_;
  struct file_part {  // a region of a file sent with sendfile(2) after `data`
    int fd = -1;
    std::uint64_t offset = 0;
    std::uint64_t left = 0;
    std::uint64_t sent = 0;
    bool unsupported = false;  // sendfile failed with EINVAL/ENOSYS before its first byte
  };
  struct pending_write {
    std::vector<buffer> data;
    std::function<void(std::error_code)> done;
    std::shared_ptr<file_part> file{};
  };
  std::deque<pending_write> wq_;
  std::uint64_t body_read_ = 0;   // request body bytes pushed
  std::uint64_t sent_body_ = 0;   // response body bytes sent
  unsigned served_ = 0;           // requests on this connection
  unsigned version_ = 11;         // of the current request
  bool reading_ = false;          // a socket read is in flight
  bool writing_ = false;          // a socket write is in flight
  bool keep_alive_ = true;        // the connection may serve another request
  bool head_ = false;             // the current request is HEAD
  bool gzip_ok_ = false;          // the current request accepts gzip
  bool expect_continue_ = false;  // the current request sent Expect: 100-continue
  bool head_sent_ = false;        // the current response's head (or an error page) is out
  bool no_body_ = false;          // the current response has no body on the wire
  bool chunked_ = false;          // the current response is chunked
  bool in_exchange_ = false;      // between a request head and its response's end
  bool aborted_ = false;          // the current exchange was cut short by the connection
  // The body parser stopped inside a chunk header and asked for more: it is not called again
  // until at least 5 bytes wait (pump_body explains why).
  bool partial_chunk_header_ = false;
  bool waiting_keep_alive_ = false;  // the timer is the keep-alive one (no byte yet)
  bool closing_ = false;             // lingering close: sending side shut, draining input
  bool closed_ = false;              // the socket is closed
  bool handshake_pending_ = false;   // HTTPS: the TLS handshake has not completed yet
};

}  // namespace sluice::detail
