// http_fetch and http_agent: a request is a client_exchange on a pooled client_conn. The
// response is parsed by Beast's response_parser<buffer_body>, fed by hand so the body is read
// from the socket only when its stream asks for more.
#include <unistd.h>
#include <boost/asio/connect.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>

#include <deque>
#include <unordered_map>

#include "agent.hpp"
#include "sluice/codec/gzip.hpp"
#include "sluice/http/client.hpp"
#include "transport.hpp"

namespace sluice {

namespace asio = boost::asio;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;

namespace detail {

namespace {
constexpr std::size_t read_size = 16 * 1024;
}  // namespace

// ---- the response body -----------------------------------------------------------------------

class client_exchange;

class client_body final : public readable<buffer> {
 public:
  client_body(sluice::loop& l, std::shared_ptr<client_exchange> x, readable_options o)
      : readable<buffer>(l, std::move(o)), x_(std::move(x)) {}

 protected:
  void do_read(std::size_t) override;
  void do_destroy(std::error_code ec, callback cb) override;

 private:
  std::shared_ptr<client_exchange> x_;
};

// ---- the upload ------------------------------------------------------------------------------

class upload_sink final : public writable<buffer> {
 public:
  upload_sink(sluice::loop& l, std::shared_ptr<client_exchange> x)
      : writable<buffer>(l, writable_options{.name = "http upload"}), x_(std::move(x)) {}

 protected:
  void do_write(buffer&& chunk, write_callback cb) override {
    std::vector<buffer> one;
    one.push_back(std::move(chunk));
    do_writev(one, cb);
  }
  bool do_writev(std::vector<buffer>& chunks, write_callback cb) override;
  void do_final(callback cb) override;

 private:
  std::shared_ptr<client_exchange> x_;
};

// ---- the exchange ----------------------------------------------------------------------------

class client_exchange final : public std::enable_shared_from_this<client_exchange> {
 public:
  client_exchange(asio_loop& l, http_client_request r, http_fetch_callback cb)
      : loop_(l), req_(std::move(r)), cb_(std::move(cb)), timer_(l.context()) {}

  void start();
  void pump_body();
  void body_destroyed();
  void upload(std::vector<buffer> chunks, std::function<void(std::error_code)> cb);
  void upload_end(std::function<void(std::error_code)> cb);

 private:
  void fail_request(std::error_code ec);
  void on_conn(std::error_code ec, std::shared_ptr<client_conn> c);
  void read_head();
  void on_head();
  void read_more(void (client_exchange::*next)());
  void on_read_error(const boost::system::error_code& ec);
  void body_done();
  void fail_body(std::error_code ec, std::string context);
  void send(std::vector<buffer> data, std::function<void(std::error_code)> done);
  void write_next();
  void touch();
  void on_timeout();
  /// Gives the connection back (`reusable`) or closes it: cleanly after a complete exchange,
  /// with a reset otherwise (`clean` false), so the server never sees a cut request as whole.
  void finish(bool reusable, bool clean = false);
  /// A reused connection ended (`ec`) before a byte of the answer: whether to send again.
  [[nodiscard]] bool may_retry(const boost::system::error_code& ec) const;
  void retry();

  asio_loop& loop_;
  http_client_request req_;
  http_fetch_callback cb_;  // until the head arrived (or the request failed)
  asio::steady_timer timer_;
  std::uint64_t timer_gen_ = 0;
  std::shared_ptr<http_agent_impl> agent_;
  std::shared_ptr<client_conn> conn_;
  std::string host_, port_, target_;
  bool tls_ = false;  // https
  std::optional<bhttp::response_parser<bhttp::buffer_body>> parser_;
  std::shared_ptr<client_body> raw_;  // the body as read from the socket
  std::shared_ptr<upload_sink> sink_;
  struct pending_write {
    std::vector<buffer> data;
    std::function<void(std::error_code)> done;
  };
  std::deque<pending_write> wq_;
  std::uint64_t body_read_ = 0;
  std::error_code write_error_;  // the upload failed: later writes fail at once
  bool writing_ = false;
  bool reading_ = false;
  bool upload_done_ = true;  // the request (head and body) is all written
  bool chunked_upload_ = false;
  bool done_ = false;      // the connection was given back or closed
  bool answered_ = false;  // a byte of the answer came
  bool retry_ = false;     // this is the request sent again (on a new connection)
};

struct parsed_url {
  std::string host, port, target;
  bool tls = false;
};

std::optional<parsed_url> parse_url(const std::string& url) {
  parsed_url u;
  std::string rest;
  if (url.compare(0, 7, "http://") == 0) {
    rest = url.substr(7);
  } else if (url.compare(0, 8, "https://") == 0) {
    rest = url.substr(8);
    u.tls = true;
  } else {
    return std::nullopt;
  }
  const std::string default_port = u.tls ? "443" : "80";
  const auto slash = rest.find_first_of("/?");
  std::string authority = rest.substr(0, slash);
  u.target = slash == std::string::npos ? "/" : rest.substr(slash);
  if (u.target[0] == '?') u.target.insert(0, "/");
  if (authority.empty()) return std::nullopt;
  if (authority[0] == '[') {  // [v6]:port
    const auto close = authority.find(']');
    if (close == std::string::npos) return std::nullopt;
    u.host = authority.substr(1, close - 1);
    if (close + 1 < authority.size() && authority[close + 1] != ':') return std::nullopt;
    u.port = close + 1 < authority.size() ? authority.substr(close + 2) : default_port;
  } else {
    const auto colon = authority.rfind(':');
    u.host = authority.substr(0, colon);
    u.port = colon == std::string::npos ? default_port : authority.substr(colon + 1);
  }
  if (u.host.empty() || u.port.empty()) return std::nullopt;
  return u;
}

void client_exchange::start() {
  auto u = parse_url(req_.url);
  if (!u) {
    fail_request(make_error_code(errc::invalid_argument));
    return;
  }
  host_ = u->host;
  port_ = u->port;
  target_ = u->target;
  tls_ = u->tls;
  agent_ = req_.agent ? req_.agent->impl_
                      : std::make_shared<http_agent_impl>(
                            loop_, http_agent_options{.max_free_sockets_per_host = 0});
  touch();
  agent_->acquire(conn_target{.host = host_,
                              .port = port_,
                              .tls = tls_,
                              .tls_options = req_.tls,
                              .handshake_timeout = req_.timeout,
                              .fresh = retry_},
                  [self = shared_from_this()](std::error_code ec, std::shared_ptr<client_conn> c) {
                    self->on_conn(ec, std::move(c));
                  });
}

void client_exchange::fail_request(std::error_code ec) {
  if (!cb_) return;
  auto cb = std::move(cb_);
  cb_ = nullptr;
  asio::post(loop_.context(), [cb = std::move(cb), ec] { cb(ec, nullptr); });
}

void client_exchange::on_conn(std::error_code ec, std::shared_ptr<client_conn> c) {
  if (ec) {
    done_ = true;
    fail_request(ec);
    return;
  }
  conn_ = std::move(c);
  if (!cb_) {  // timed out while waiting for a connection
    finish(true);
    return;
  }
  // The head.
  std::string h = req_.method + " " + target_ + " HTTP/1.1\r\n";
  bool has_host = false;
  for (const auto& [n, v] : req_.headers) {
    if (http_name_equal(n, "Host")) has_host = true;
    if (http_name_equal(n, "Content-Length") || http_name_equal(n, "Transfer-Encoding")) continue;
    h.append(n).append(": ").append(v).append("\r\n");
  }
  if (!has_host) {
    const bool v6 = host_.find(':') != std::string::npos;
    h.append("Host: ").append(v6 ? "[" + host_ + "]" : host_);
    if (port_ != (tls_ ? "443" : "80")) h.append(":" + port_);
    h.append("\r\n");
  }
  if (req_.decompress && !req_.headers.contains("Accept-Encoding"))
    h.append("Accept-Encoding: gzip\r\n");
  if (!req_.agent && !req_.headers.contains("Connection")) h.append("Connection: close\r\n");
  if (req_.body) {
    upload_done_ = false;
    if (req_.content_length)
      h.append("Content-Length: " + std::to_string(*req_.content_length) + "\r\n");
    else
      chunked_upload_ = true, h.append("Transfer-Encoding: chunked\r\n");
  } else if (req_.content_length) {
    h.append("Content-Length: " + std::to_string(*req_.content_length) + "\r\n");
  }
  h.append("\r\n");
  send({buffer(std::move(h))}, nullptr);
  if (req_.body) {
    sink_ = std::make_shared<upload_sink>(loop_, shared_from_this());
    std::weak_ptr<client_exchange> weak = weak_from_this();
    req_.body->on_error([weak](std::error_code e) {
      auto self = weak.lock();
      if (!self || self->done_) return;
      // The upload failed half-way: the server must not take a short body for a whole one.
      self->fail_request(e);
      self->fail_body(e, "upload");
      self->finish(false);
    });
    req_.body->pipe(sink_);
  }
  parser_.emplace();
  parser_->body_limit(boost::none);
  parser_->header_limit(64 * 1024);
  if (req_.method == "HEAD") parser_->skip(true);
  read_head();
}

void client_exchange::read_head() {
  if (done_) return;
  auto& in = conn_->in;
  if (in.size() > 0) {
    boost::system::error_code ec;
    const std::size_t n = parser_->put(in.data(), ec);
    in.consume(n);
    if (ec && ec != bhttp::error::need_more) {
      fail_request(to_std_error(ec));
      finish(false);
      return;
    }
    if (parser_->is_header_done()) {
      if (parser_->get().result_int() / 100 == 1) {  // 100 Continue and friends: skip
        parser_.emplace();
        parser_->body_limit(boost::none);
        if (req_.method == "HEAD") parser_->skip(true);
        read_head();
        return;
      }
      on_head();
      return;
    }
  }
  read_more(&client_exchange::read_head);
}

void client_exchange::on_head() {
  const auto& m = parser_->get();
  auto res = std::make_shared<http_client_response>();
  res->status_ = m.result_int();
  res->reason_ = std::string(m.reason());
  for (const auto& f : m) res->headers_.add(std::string(f.name_string()), std::string(f.value()));
  if (auto cl = parser_->content_length()) res->length_ = *cl;
  raw_ = std::make_shared<client_body>(
      loop_, shared_from_this(),
      readable_options{.high_water_mark = req_.high_water_mark, .name = "http response body"});
  res->body_ = raw_;
  auto enc = res->headers_.get("Content-Encoding");
  if (req_.decompress && enc && http_name_equal(*enc, "gzip")) {
    auto gunzip = make_gunzip(loop_);
    std::weak_ptr<transform<buffer, buffer>> weak = gunzip;
    raw_->on_error([weak, raw = std::weak_ptr(raw_)](std::error_code ec) {
      auto g = weak.lock();
      auto r = raw.lock();
      if (g) g->fail(ec, r ? r->error_context() : std::string("http response body"));
    });
    raw_->pipe(gunzip);
    res->body_ = gunzip;
  }
  auto cb = std::move(cb_);
  cb_ = nullptr;
  if (parser_->is_done()) raw_->push_eof();  // no body (HEAD, 204, 304, Content-Length: 0)
  if (cb) cb({}, std::move(res));
  if (parser_->is_done()) body_done();
}

void client_exchange::pump_body() {
  if (done_ || reading_ || !raw_) return;
  auto& in = conn_->in;
  for (;;) {
    if (parser_->is_done()) {
      raw_->push_eof();
      body_done();
      return;
    }
    if (in.size() == 0) {
      read_more(&client_exchange::pump_body);
      return;
    }
    std::size_t cap = raw_->readable_high_water_mark();
    if (cap == 0 || cap > 64 * 1024) cap = 64 * 1024;
    buffer_builder b(cap);
    auto space = b.free_space();
    auto& body = parser_->get().body();
    body.data = space.data();
    body.size = space.size();
    body.more = true;
    boost::system::error_code ec;
    const std::size_t n = parser_->put(in.data(), ec);
    in.consume(n);
    const std::size_t produced = space.size() - body.size;
    body.data = nullptr;
    if (ec == bhttp::error::need_buffer || ec == bhttp::error::need_more) ec = {};
    if (ec) {
      fail_body(to_std_error(ec), "parse response body from " + conn_->t->peer());
      finish(false);
      return;
    }
    if (produced > 0) {
      b.commit(produced);
      body_read_ += produced;
      raw_->push(std::move(b).freeze());
      if (parser_->is_done()) {
        raw_->push_eof();
        body_done();
      }
      return;
    }
    if (n == 0) {
      read_more(&client_exchange::pump_body);
      return;
    }
  }
}

void client_exchange::read_more(void (client_exchange::*next)()) {
  if (reading_ || done_) return;
  reading_ = true;
  auto space = conn_->in.prepare(read_size);
  conn_->t->async_read_some(
      space, [self = shared_from_this(), next](boost::system::error_code ec, std::size_t n) {
        self->reading_ = false;
        if (self->done_) return;
        self->conn_->in.commit(n);
        if (n > 0) self->answered_ = true;
        self->touch();
        if (ec) {
          self->on_read_error(ec);
          return;
        }
        ((*self).*next)();
      });
}

bool client_exchange::may_retry(const boost::system::error_code& ec) const {
  if (retry_ || answered_ || !conn_ || !conn_->reused || req_.body) return false;
  if (ec != asio::error::eof && ec != asio::error::connection_reset &&
      ec != asio::error::broken_pipe)
    return false;
  for (const char* m : {"GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE"})
    if (req_.method == m) return true;
  return false;
}

void client_exchange::retry() {
  auto again = std::make_shared<client_exchange>(loop_, req_, std::move(cb_));
  cb_ = nullptr;
  again->retry_ = true;
  ++agent_->retried_;
  finish(false);
  asio::post(loop_.context(), [again] { again->start(); });
}

void client_exchange::on_read_error(const boost::system::error_code& ec) {
  if (cb_ && may_retry(ec)) {
    retry();
    return;
  }
  if (cb_) {  // no head yet
    fail_request(to_std_error(ec));
    finish(false);
    return;
  }
  if (ec == asio::error::eof) {
    boost::system::error_code e;
    parser_->put_eof(e);
    if (!e && parser_->is_done()) {  // a body that ends with the connection
      pump_body();
      return;
    }
    std::string what = "response body truncated: " + std::to_string(body_read_);
    if (auto cl = parser_->content_length_remaining(); cl && parser_->content_length())
      what += " of " + std::to_string(*parser_->content_length()) + " bytes";
    else
      what += " bytes, the chunked body did not end";
    fail_body(make_error_code(errc::premature_close), what);
  } else {
    fail_body(to_std_error(ec), "read from " + conn_->t->peer());
  }
  finish(false);
}

void client_exchange::fail_body(std::error_code ec, std::string context) {
  if (raw_ && !raw_->destroyed()) raw_->fail(ec, std::move(context));
}

void client_exchange::body_done() {
  if (upload_done_) {
    finish(parser_->get().keep_alive(), true);
    return;
  }
  // The server answered before the upload ended: the connection cannot be reused.
  finish(false, true);
}

void client_exchange::body_destroyed() {
  if (!done_ && !(parser_ && parser_->is_done())) finish(false);
}

void client_exchange::upload(std::vector<buffer> chunks, std::function<void(std::error_code)> cb) {
  std::uint64_t n = 0;
  for (const auto& c : chunks) n += c.size();
  if (n == 0 || !chunked_upload_) {
    send(std::move(chunks), std::move(cb));
    return;
  }
  char hex[24];
  const int k = std::snprintf(hex, sizeof hex, "%llx\r\n", static_cast<unsigned long long>(n));
  std::vector<buffer> out;
  out.push_back(buffer::copy_of(std::string_view(hex, static_cast<std::size_t>(k))));
  for (auto& c : chunks) out.push_back(std::move(c));
  out.push_back(buffer::copy_of("\r\n"));
  send(std::move(out), std::move(cb));
}

void client_exchange::upload_end(std::function<void(std::error_code)> cb) {
  std::vector<buffer> out;
  if (chunked_upload_) out.push_back(buffer::copy_of("0\r\n\r\n"));
  send(std::move(out), [self = shared_from_this(), cb = std::move(cb)](std::error_code ec) {
    if (!ec) self->upload_done_ = true;
    cb(ec);
  });
}

void client_exchange::send(std::vector<buffer> data, std::function<void(std::error_code)> done) {
  if (done_ || write_error_) {
    if (done) done(write_error_ ? write_error_ : make_error_code(errc::premature_close));
    return;
  }
  wq_.push_back({std::move(data), std::move(done)});
  if (!writing_) write_next();
}

void client_exchange::write_next() {
  if (wq_.empty() || done_) {
    writing_ = false;
    return;
  }
  writing_ = true;
  std::vector<asio::const_buffer> v;
  for (const auto& b : wq_.front().data)
    if (!b.empty()) v.emplace_back(b.data(), b.size());
  conn_->t->async_write(std::move(v),
                        [self = shared_from_this()](boost::system::error_code ec, std::size_t) {
                          auto w = std::move(self->wq_.front());
                          self->wq_.pop_front();
                          // writing_ stays set while the callbacks run: a send() they make only
                          // queues.
                          self->touch();
                          if (ec) {
                            // The server may have answered and closed before taking the whole
                            // upload: that answer is read as usual; a write error alone fails only
                            // the upload.
                            auto rest = std::move(self->wq_);
                            self->wq_.clear();
                            const auto sec = to_std_error(ec);
                            self->write_error_ = sec;
                            self->writing_ = false;
                            if (w.done) w.done(sec);
                            for (auto& r : rest)
                              if (r.done) r.done(sec);
                            return;
                          }
                          if (w.done) w.done({});
                          self->writing_ = false;
                          self->write_next();
                        });
}

void client_exchange::touch() {
  if (req_.timeout.count() <= 0 || done_) return;
  const auto gen = ++timer_gen_;
  timer_.expires_after(req_.timeout);
  timer_.async_wait([weak = weak_from_this(), gen](boost::system::error_code ec) {
    auto self = weak.lock();
    if (ec || !self || self->timer_gen_ != gen || self->done_) return;
    self->on_timeout();
  });
}

void client_exchange::on_timeout() {
  const auto ec = std::make_error_code(std::errc::timed_out);
  if (cb_) {
    fail_request(ec);
  } else {
    fail_body(ec, "read from " + (conn_ ? conn_->t->peer() : host_ + ":" + port_));
  }
  if (conn_) finish(false);
}

void client_exchange::finish(bool reusable, bool clean) {
  if (done_) return;
  done_ = true;
  ++timer_gen_;
  timer_.cancel();
  if (!conn_) return;
  if (!reusable && !clean) conn_->t->reset();
  if (sink_ && !sink_->destroyed()) sink_->destroy();
  if (req_.body && !upload_done_ && !req_.body->destroyed()) req_.body->destroy();
  // Queued writes fail; the one in flight (the front) completes by itself, its bytes alive
  // until then, and keeps the connection from going back to the pool.
  std::deque<pending_write> pending;
  const std::size_t keep = writing_ && !wq_.empty() ? 1 : 0;
  while (wq_.size() > keep) {
    pending.push_back(std::move(wq_.back()));
    wq_.pop_back();
  }
  for (auto it = pending.rbegin(); it != pending.rend(); ++it)
    if (it->done) it->done(make_error_code(errc::premature_close));
  agent_->release(conn_, reusable && !writing_ && conn_->in.size() == 0);
  sink_.reset();
  raw_.reset();  // the body stream keeps us, not the other way round
}

void client_body::do_read(std::size_t) { x_->pump_body(); }

void client_body::do_destroy(std::error_code ec, callback cb) {
  x_->body_destroyed();
  cb(ec);
}

bool upload_sink::do_writev(std::vector<buffer>& chunks, write_callback cb) {
  x_->upload(std::move(chunks), [cb, self = shared_from_this()](std::error_code ec) { cb(ec); });
  return true;
}

void upload_sink::do_final(callback cb) {
  x_->upload_end([cb = std::move(cb), self = shared_from_this()](std::error_code ec) { cb(ec); });
}

}  // namespace detail

std::string http_fetch_error_message(const http_client_request& req, std::error_code ec) {
  auto u = detail::parse_url(req.url);
  if (!u) return "bad URL '" + req.url + "': " + ec.message();
  const std::string where =
      (u->host.find(':') != std::string::npos ? "[" + u->host + "]" : u->host) + ":" + u->port;
  const std::string_view cat = ec.category().name();
  if (u->tls && !req.tls.ca_file.empty() && ::access(req.tls.ca_file.c_str(), R_OK) != 0)
    return "load CA file '" + req.tls.ca_file + "': " + ec.message();
  if (&ec.category() == &tls_verify_category() || cat.substr(0, 8) == "asio.ssl")
    return "TLS handshake with " + where + ": " + ec.message();
  if (ec == std::errc::connection_refused || ec == std::errc::network_unreachable ||
      ec == std::errc::host_unreachable)
    return "connect " + where + ": " + ec.message();
  return req.url + ": " + ec.message();
}

void http_fetch(asio_loop& l, http_client_request req, http_fetch_callback cb) {
  auto x = std::make_shared<detail::client_exchange>(l, std::move(req), std::move(cb));
  asio::post(l.context(), [x] { x->start(); });
}

}  // namespace sluice
