// server_connection: one HTTP/1.1 connection of an http_server.
#include <sys/sendfile.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdio>

#include "server_impl.hpp"

namespace sluice::detail {

namespace {

constexpr std::size_t read_size = 16 * 1024;
// The read buffer of a keep-alive connection waiting for its next request: a request head of
// this size arrives in one read; a larger one grows the buffer to read_size.
constexpr std::size_t next_request_read_size = 1024;
constexpr auto linger_time = std::chrono::seconds(2);

bool contains_token(std::string_view value, std::string_view token) {
  for (std::size_t i = 0; i + token.size() <= value.size(); ++i)
    if (http_name_equal(value.substr(i, token.size()), token)) return true;
  return false;
}

std::string reason_of(unsigned status) {
  auto r = bhttp::obsolete_reason(static_cast<bhttp::status>(status));
  return r.empty() ? std::string("Unknown") : std::string(r);
}

}  // namespace

// ---- reading the head ------------------------------------------------------------------------

void server_connection::wait_head(bool first) {
  parser_.emplace();
  parser_->header_limit(static_cast<std::uint32_t>(srv_->opts_.max_header_size));
  parser_->body_limit(boost::none);  // limits are ours: the handler may change them
  waiting_keep_alive_ = !first && in_.size() == 0;
  const auto& o = srv_->opts_;
  if (!waiting_keep_alive_) request_start_ = clock::now();
  arm_timer(waiting_keep_alive_ ? o.keep_alive_timeout : head_limit(),
            &server_connection::head_timeout);
  parse_head();
}

// The head must come within the headers timeout, and within the request timeout (0: none).
std::chrono::milliseconds server_connection::head_limit() const {
  const auto& o = srv_->opts_;
  if (o.headers_timeout.count() <= 0) return o.request_timeout;
  if (o.request_timeout.count() <= 0) return o.headers_timeout;
  return std::min(o.headers_timeout, o.request_timeout);
}

void server_connection::parse_head() {
  if (closed_ || closing_) return;
  if (in_.size() > 0) {
    if (waiting_keep_alive_) {  // the first byte of the next request: its head has a deadline
      waiting_keep_alive_ = false;
      request_start_ = clock::now();
      arm_timer(head_limit(), &server_connection::head_timeout);
    }
    boost::system::error_code ec;
    const std::size_t n = parser_->put(in_.data(), ec);
    in_.consume(n);
    if (ec && ec != bhttp::error::need_more) {
      abort_exchange(ec == bhttp::error::header_limit ? 431 : 400);
      return;
    }
    if (parser_->is_header_done()) {
      on_head();
      return;
    }
    if (in_.size() > srv_->opts_.max_header_size) {
      abort_exchange(431);
      return;
    }
  }
  read_more(&server_connection::parse_head);
}

void server_connection::on_head() {
  ++timer_gen_;
  timer_.cancel();
  partial_chunk_header_ = false;
  const auto& m = parser_->get();
  ++served_;
  ++srv_->requests_;
  const auto& o = srv_->opts_;
  keep_alive_ = m.keep_alive() && !srv_->closing_ &&
                (o.max_requests_per_connection == 0 || served_ < o.max_requests_per_connection);
  head_ = m.method() == bhttp::verb::head;
  version_ = m.version();
  http_headers h;
  for (const auto& f : m) h.add(std::string(f.name_string()), std::string(f.value()));
  expect_continue_ =
      m.version() >= 11 && h.get("Expect") && contains_token(*h.get("Expect"), "100-continue");
  gzip_ok_ = h.get("Accept-Encoding") && contains_token(*h.get("Accept-Encoding"), "gzip");
  body_read_ = 0;
  sent_body_ = 0;
  head_sent_ = false;
  aborted_ = false;
  in_exchange_ = true;
  std::optional<std::uint64_t> length;
  if (auto cl = parser_->content_length()) length = *cl;
  auto self = shared_from_this();
  req_ = std::make_shared<http_request>(
      srv_->loop_, self,
      readable_options{.high_water_mark = o.high_water_mark, .name = "http request"});
  set_head(*req_, std::string(m.method_string()), std::string(m.target()), m.version(),
           std::move(h), length, t_->peer(), o.max_body_size);
  res_ = std::make_shared<http_response>(
      srv_->loop_, self,
      writable_options{.high_water_mark = o.high_water_mark, .name = "http response"});
  set_compress_default(*res_, o.gzip);
  start_exchange_clock();
  auto req = req_;
  auto res = res_;
  try {
    srv_->handler_(req, res);
  } catch (...) {
    res->destroy(make_error_code(errc::aborted));
  }
}

// ---- reading the body, on demand ------------------------------------------------------------

void server_connection::pump_body() {
  if (body_waiting_ && !reading_) {  // the read for the body completed: stop its clock
    request_waited_ += clock::now() - body_wait_since_;
    body_waiting_ = false;
  }
  if (!req_ || closed_ || closing_ || reading_ || aborted_) return;
  const auto limit = req_->body_limit();
  const auto length = req_->content_length();
  if (limit && length && *length > *limit) {
    body_too_large(*limit);
    return;
  }
  if (expect_continue_ && !head_sent_) {
    expect_continue_ = false;
    send({buffer::copy_of("HTTP/1.1 100 Continue\r\n\r\n")}, nullptr);
  }
  for (;;) {
    if (parser_->is_done()) {
      req_->push_eof();
      return;
    }
    // After a partial chunk header, wait for 5 bytes before parsing again: Beast 1.81 asserts
    // that a chunk header it resumes has at least "0\r\n\r\n" (boostorg/beast#2861, fixed in
    // 1.86), so a final chunk arriving split as "0\r\n" then "\r" aborted a Debug build of the
    // server. Whatever completes a chunked body from there is at least 5 bytes long, so waiting
    // for them loses nothing. (Found by fuzz/http_fuzz.cpp.)
    if (in_.size() == 0 || (partial_chunk_header_ && in_.size() < 5)) {
      await_body();
      return;
    }
    std::size_t cap = req_->readable_high_water_mark();
    if (cap == 0 || cap > 64 * 1024) cap = 64 * 1024;
    if (length && *length - body_read_ < cap) cap = static_cast<std::size_t>(*length - body_read_);
    buffer_builder b(std::max<std::size_t>(cap, 1));
    auto space = b.free_space();
    auto& body = parser_->get().body();
    body.data = space.data();
    body.size = space.size();
    body.more = true;
    boost::system::error_code ec;
    const std::size_t n = parser_->put(in_.data(), ec);
    in_.consume(n);
    partial_chunk_header_ = n == 0 && ec == bhttp::error::need_more;
    const std::size_t produced = space.size() - body.size;
    body.data = nullptr;
    if (ec == bhttp::error::need_buffer || ec == bhttp::error::need_more) ec = {};
    if (ec) {
      aborted_ = true;  // our own failure: request_destroyed() must not act on it
      req_->fail(to_std_error(ec), "read request body from " + t_->peer());
      abort_exchange(400);
      return;
    }
    if (produced > 0) {
      b.commit(produced);
      body_read_ += produced;
      if (limit && body_read_ > *limit) {
        body_too_large(*limit);
        return;
      }
      req_->push(std::move(b).freeze());  // do_read asks again when there is room
      if (parser_->is_done() && req_) req_->push_eof();
      return;
    }
    if (n == 0 && !parser_->is_done()) {  // a partial chunk header: more bytes are needed
      await_body();
      return;
    }
  }
}

void server_connection::await_body() {
  read_more(&server_connection::pump_body);
  const auto& o = srv_->opts_;
  if (reading_ && !body_waiting_ && (o.request_timeout.count() > 0 || o.idle_timeout.count() > 0)) {
    body_waiting_ = true;
    body_wait_since_ = clock::now();
  }
}

void server_connection::body_too_large(std::uint64_t limit) {
  aborted_ = true;
  req_->fail(make_error_code(errc::out_of_range),
             "request body exceeds " + std::to_string(limit) + " bytes");
  abort_exchange(413);
}

void server_connection::read_more(void (server_connection::*next)()) {
  if (reading_ || closed_) return;
  if (in_.size() == 0 && !in_exchange_ && !closing_ && served_ > 0) {
    // A keep-alive connection after a response: its next request usually comes at once. A
    // read straight away (Asio tries it, and on EAGAIN queues it for the edge-triggered epoll
    // with no system call) costs less than waiting for readability (an epoll_ctl per wait);
    // the buffer it holds while idle is small.
    if (in_.capacity() > next_request_read_size) in_.shrink_to_fit();
    read_now(next, next_request_read_size);
    return;
  }
  if (in_.size() == 0 && !in_exchange_ && !closing_) {
    // Just accepted, nothing read yet: hold no read buffer while waiting, only take one when
    // bytes are there. Ten thousand connections that never send cost their sockets and this
    // object, not a buffer each.
    in_.shrink_to_fit();
    reading_ = true;
    t_->async_wait_readable([self = shared_from_this(), next](boost::system::error_code ec) {
      self->reading_ = false;
      if (self->closed_) return;
      if (self->closing_) {  // linger_close() came meanwhile: drain as it asks
        if (ec)
          self->finish_close(false);
        else
          self->drain();
        return;
      }
      if (ec) {
        self->finish_close(false);  // idle: nothing to fail
        return;
      }
      self->read_now(next, read_size);
    });
    return;
  }
  read_now(next, read_size);
}

void server_connection::read_now(void (server_connection::*next)(), std::size_t size) {
  if (reading_ || closed_) return;
  reading_ = true;
  auto space = in_.prepare(size);
  t_->async_read_some(space, [self = shared_from_this(), next](boost::system::error_code ec,
                                                               std::size_t n) {
    self->reading_ = false;
    if (self->closed_) return;
    self->in_.commit(n);
    if (!ec) self->note_io();
    if (self->closing_) {
      if (ec)
        self->finish_close(false);
      else
        self->drain();
      return;
    }
    if (ec) {
      // The peer went away. A request body being read fails; an idle connection just closes.
      if (self->req_ && !self->req_->eof_pushed() && self->in_exchange_)
        self->aborted_ = true, self->req_->fail(to_std_error(ec), "read from " + self->t_->peer());
      self->finish_close(false);
      return;
    }
    ((*self).*next)();
  });
}

// ---- writing ---------------------------------------------------------------------------------

void server_connection::send(std::vector<buffer> data, std::function<void(std::error_code)> done) {
  if (closed_) {
    if (done) done(make_error_code(errc::premature_close));
    return;
  }
  wq_.push_back({std::move(data), std::move(done)});
  if (!writing_) write_next();
}

void server_connection::write_next() {
  if (wq_.empty() || closed_) {
    writing_ = false;
    return;
  }
  writing_ = true;
  std::vector<asio::const_buffer> v;
  for (const auto& b : wq_.front().data)
    if (!b.empty()) v.emplace_back(b.data(), b.size());
  if (v.empty() && wq_.front().file) {
    send_file_turn();
    return;
  }
  t_->async_write(std::move(v),
                  [self = shared_from_this()](boost::system::error_code ec, std::size_t) {
                    if (!ec && !self->closed_ && self->wq_.front().file) {
                      self->send_file_turn();  // the head is out: now the file
                      return;
                    }
                    self->write_done(to_std_error(ec), "write to ");
                  });
}

void server_connection::write_done(std::error_code ec, const std::string& what) {
  auto w = std::move(wq_.front());
  wq_.pop_front();
  // writing_ stays set while the callbacks run: a send() they make only queues.
  if (ec) {
    auto rest = std::move(wq_);
    wq_.clear();
    if (res_ && !res_->destroyed()) res_->fail(ec, what + t_->peer());
    if (w.done) w.done(ec);
    for (auto& r : rest)
      if (r.done) r.done(ec);
    writing_ = false;
    finish_close(true);
    return;
  }
  note_io();
  if (w.done) w.done({});
  writing_ = false;
  write_next();
}

void server_connection::send_file_turn() {
  constexpr std::uint64_t per_turn = 4 * 1024 * 1024;  // then let other connections run
  if (closed_) {
    write_done(make_error_code(errc::premature_close), "sendfile to ");
    return;
  }
  auto& f = *wq_.front().file;
  const int out = t_->native_handle();
  // sendfile(2) has no MSG_NOSIGNAL: SIGPIPE is blocked around it, and one it raised is
  // taken back, so a client that goes away is an EPIPE error, never a dead process.
  sigset_t pipe_set, old_set, pending;
  sigemptyset(&pipe_set);
  sigaddset(&pipe_set, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &pipe_set, &old_set);
  sigpending(&pending);
  const bool was_pending = sigismember(&pending, SIGPIPE) == 1;
  std::uint64_t turn = 0;
  int err = 0;
  bool again = false;
  while (f.left > 0 && turn < per_turn) {
    off_t o = static_cast<off_t>(f.offset);
    const auto want = static_cast<std::size_t>(std::min(f.left, per_turn - turn));
    const ssize_t n = ::sendfile(out, f.fd, &o, want);
    if (n > 0) {
      const auto k = static_cast<std::uint64_t>(n);
      f.offset += k, f.left -= k, f.sent += k, turn += k;
      sent_body_ += k;
      continue;
    }
    if (n == 0) {
      err = -1;  // the file ended before the region did (it shrank)
      break;
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      again = true;
      break;
    }
    err = errno;
    break;
  }
  if (err == EPIPE && !was_pending) {
    const timespec zero{};
    sigtimedwait(&pipe_set, nullptr, &zero);
  }
  pthread_sigmask(SIG_SETMASK, &old_set, nullptr);
  if (turn > 0) note_io();
  if (err == -1) {
    write_done(make_error_code(errc::premature_close), "sendfile (the file ended early) to ");
    return;
  }
  if (err != 0) {
    if ((err == EINVAL || err == ENOSYS || err == EOPNOTSUPP) && f.sent == 0) {
      f.unsupported = true;  // the caller copies instead
      write_done({}, {});
      return;
    }
    write_done({err, std::system_category()}, "sendfile to ");
    return;
  }
  if (f.left == 0) {
    write_done({}, {});
    return;
  }
  auto self = shared_from_this();
  if (again) {
    t_->async_wait_writable([self](boost::system::error_code ec) {
      if (ec || self->closed_) {
        self->write_done(ec ? to_std_error(ec) : make_error_code(errc::premature_close),
                         "sendfile to ");
        return;
      }
      self->send_file_turn();
    });
    return;
  }
  asio::post(srv_->loop_.context(), [self] { self->send_file_turn(); });
}

void server_connection::send_file(int fd, std::uint64_t offset, std::uint64_t length,
                                  std::function<void(std::error_code, std::uint64_t, bool)> cb) {
  if (aborted_ || closed_ || !res_) {
    cb(make_error_code(errc::premature_close), 0, false);
    return;
  }
  std::vector<buffer> out;
  if (!head_sent_) out.push_back(buffer(make_head()));
  if (no_body_ || chunked_ || length == 0) {  // nothing of the file goes on the wire
    send(std::move(out), [cb](std::error_code ec) { cb(ec, 0, false); });
    return;
  }
  if (auto len = res_->content_length(); len && sent_body_ + length > *len) {
    cb(make_error_code(errc::out_of_range), 0, false);
    return;
  }
  auto part = std::make_shared<file_part>();
  part->fd = fd;
  part->offset = offset;
  part->left = length;
  wq_.push_back({std::move(out),
                 [part, cb](std::error_code ec) { cb(ec, part->sent, part->unsupported); }, part});
  if (!writing_) write_next();
}

std::string server_connection::make_head() {
  const unsigned status = res_->status();
  no_body_ = head_ || status == 204 || status == 304 || status < 200;
  std::string h = version_ == 10 ? "HTTP/1.0 " : "HTTP/1.1 ";
  h.append(std::to_string(status)).append(" ").append(reason_of(status)).append("\r\n");
  for (const auto& [name, value] : res_->headers()) {
    if (http_name_equal(name, "Content-Length") || http_name_equal(name, "Transfer-Encoding"))
      continue;
    if (http_name_equal(name, "Connection")) {
      if (contains_token(value, "close")) keep_alive_ = false;
      continue;
    }
    h.append(name).append(": ").append(value).append("\r\n");
  }
  chunked_ = false;
  if (auto len = res_->content_length()) {
    if (status != 204 && status >= 200)
      h.append("Content-Length: " + std::to_string(*len) + "\r\n");
  } else if (!no_body_) {
    if (version_ >= 11)
      chunked_ = true, h.append("Transfer-Encoding: chunked\r\n");
    else
      keep_alive_ = false;  // HTTP/1.0: the end of the body is the end of the connection
  }
  h.append(keep_alive_ ? "Connection: keep-alive\r\n" : "Connection: close\r\n");
  if (keep_alive_ && srv_->opts_.keep_alive_timeout.count() > 0)
    h.append("Keep-Alive: timeout=" +
             std::to_string(srv_->opts_.keep_alive_timeout.count() / 1000) + "\r\n");
  h.append("\r\n");
  head_sent_ = true;
  return h;
}

void server_connection::write_body(std::vector<buffer> chunks,
                                   std::function<void(std::error_code)> cb) {
  if (aborted_ || closed_ || !res_) {
    cb(make_error_code(errc::premature_close));
    return;
  }
  std::vector<buffer> out;
  if (!head_sent_) out.push_back(buffer(make_head()));
  std::uint64_t n = 0;
  for (const auto& c : chunks) n += c.size();
  if (!no_body_ && n > 0) {
    if (auto len = res_->content_length(); len && sent_body_ + n > *len) {
      cb(make_error_code(errc::out_of_range));  // more than promised: the handler's bug
      return;
    }
    sent_body_ += n;
    if (chunked_) {
      char hex[24];
      const int k = std::snprintf(hex, sizeof hex, "%llx\r\n", static_cast<unsigned long long>(n));
      out.push_back(buffer::copy_of(std::string_view(hex, static_cast<std::size_t>(k))));
    }
    for (auto& c : chunks) out.push_back(std::move(c));
    if (chunked_) out.push_back(buffer::copy_of("\r\n"));
  }
  if (out.empty()) {
    cb({});
    return;
  }
  send(std::move(out), std::move(cb));
}

void server_connection::finish_body(std::function<void(std::error_code)> cb) {
  if (aborted_ || closed_ || !res_) {
    cb(make_error_code(errc::premature_close));
    return;
  }
  std::vector<buffer> out;
  if (!head_sent_) {
    if (!res_->content_length()) set_length(*res_, 0);  // ended without a byte
    out.push_back(buffer(make_head()));
  }
  if (auto len = res_->content_length(); len && !no_body_ && sent_body_ < *len) {
    cb(make_error_code(errc::premature_close));  // fewer bytes than promised: response_failed
    return;
  }
  if (chunked_) out.push_back(buffer::copy_of("0\r\n\r\n"));
  auto done = [self = shared_from_this(), cb = std::move(cb)](std::error_code ec) {
    cb(ec);
    if (!ec) self->end_exchange();
  };
  if (out.empty()) {
    done({});
    return;
  }
  send(std::move(out), std::move(done));
}

void server_connection::send_simple(unsigned status) {
  const std::string text = reason_of(status) + "\n";
  std::string h = "HTTP/1.1 " + std::to_string(status) + " " + reason_of(status) + "\r\n";
  h.append("Content-Type: text/plain\r\nContent-Length: " + std::to_string(text.size()) +
           "\r\nConnection: close\r\n\r\n" + text);
  head_sent_ = true;
  send({buffer(std::move(h))}, nullptr);
}

void server_connection::end_exchange() {
  if (!in_exchange_) return;
  in_exchange_ = false;
  stop_exchange_timer();
  const bool body_done = parser_ && parser_->is_done();
  if (req_ && !body_done && !req_->destroyed())
    req_->destroy(make_error_code(errc::premature_close));
  req_.reset();
  res_.reset();
  if (!keep_alive_ || !body_done || srv_->closing_) {
    linger_close();  // an unread request body is not drained: the connection goes
    return;
  }
  wait_head(false);
}

void server_connection::abort_exchange(unsigned status) {
  keep_alive_ = false;
  const bool head_out = head_sent_;
  aborted_ = true;
  stop_exchange_timer();
  if (!head_out) send_simple(status);
  if (res_ && !res_->destroyed()) res_->destroy(make_error_code(errc::aborted));
  if (req_ && !req_->destroyed() && !req_->eof_pushed())
    req_->destroy(make_error_code(errc::aborted));
  in_exchange_ = false;
  drop_exchange(head_out);
}

void server_connection::drop_exchange(bool head_out) {
  req_.reset();
  res_.reset();
  if (head_out)
    finish_close(true);  // the client has part of a response: only a reset says it is cut short
  else
    linger_close();
}

void server_connection::request_destroyed() {
  // The handler destroyed the request before its body was read to the end: as in Node, where
  // req.destroy() destroys the socket, the exchange cannot go on.
  if (!in_exchange_ || aborted_ || closed_ || !req_ || (parser_ && parser_->is_done())) return;
  aborted_ = true;
  in_exchange_ = false;
  if (res_ && !res_->destroyed()) res_->destroy(make_error_code(errc::aborted));
  req_.reset();
  res_.reset();
  finish_close(true);
}

void server_connection::response_failed(std::error_code) {
  if (aborted_ || closed_ || !in_exchange_) return;
  if (head_sent_) {
    // The client has a head and part of a body: only a reset tells it the body is cut short.
    aborted_ = true;
    in_exchange_ = false;
    if (req_ && !req_->destroyed() && !req_->eof_pushed())
      req_->destroy(make_error_code(errc::aborted));
    req_.reset();
    res_.reset();
    finish_close(true);
    return;
  }
  abort_exchange(500);
}

// ---- the request and idle timeouts ------------------------------------------------------------

void server_connection::start_exchange_clock() {
  const auto& o = srv_->opts_;
  body_waiting_ = false;
  if (!timing_request() && o.idle_timeout.count() <= 0) return;  // no body, or no limits
  const auto now = clock::now();
  request_waited_ = now - request_start_;
  last_io_ = now;
  arm_exchange_timer();
}

void server_connection::arm_exchange_timer() {
  const auto& o = srv_->opts_;
  const auto now = clock::now();
  auto at = clock::time_point::max();
  // While the handler holds the body back, the request clock stops: this deadline is then
  // early, and the timer looks again.
  if (timing_request()) at = std::min(at, now + (o.request_timeout - request_waited(now)));
  if (o.idle_timeout.count() > 0) at = std::min(at, last_io_ + o.idle_timeout);
  if (at == clock::time_point::max()) {
    stop_exchange_timer();
    return;
  }
  const auto gen = ++exchange_gen_;
  exchange_timer_armed_ = true;
  exchange_timer_.expires_at(at);
  exchange_timer_.async_wait([weak = weak_from_this(), gen](boost::system::error_code ec) {
    auto self = weak.lock();
    if (ec || !self || self->exchange_gen_ != gen) return;
    self->exchange_timer_armed_ = false;
    self->exchange_timer_fired();
  });
}

void server_connection::stop_exchange_timer() {
  if (!exchange_timer_armed_) return;
  exchange_timer_armed_ = false;
  ++exchange_gen_;
  exchange_timer_.cancel();
}

void server_connection::exchange_timer_fired() {
  if (!in_exchange_ || closed_ || closing_ || aborted_) return;
  const auto& o = srv_->opts_;
  const auto now = clock::now();
  if (timing_request() && request_waited(now) >= o.request_timeout) {
    exchange_timed_out(true, "request from " + t_->peer() + " not received within " +
                                 std::to_string(o.request_timeout.count()) +
                                 " ms (request_timeout)");
    return;
  }
  if (o.idle_timeout.count() > 0 && now - last_io_ >= o.idle_timeout) {
    exchange_timed_out(body_waiting_, "no read or write with " + t_->peer() + " for " +
                                          std::to_string(o.idle_timeout.count()) +
                                          " ms (idle_timeout)");
    return;
  }
  arm_exchange_timer();
}

void server_connection::exchange_timed_out(bool waiting_for_client, std::string why) {
  keep_alive_ = false;
  aborted_ = true;  // the streams' failures below are ours: response_failed leaves them
  in_exchange_ = false;
  const bool head_out = head_sent_;
  // Before the response head: 408 when the client kept the server waiting, 503 when the handler
  // did. After it, only a reset tells the client that the body is cut short.
  if (!head_out) send_simple(waiting_for_client ? 408 : 503);
  const auto ec = make_error_code(std::errc::timed_out);
  if (req_ && !req_->destroyed() && !req_->eof_pushed()) req_->fail(ec, why);
  if (res_ && !res_->destroyed() && !res_->finished()) res_->fail(ec, std::move(why));
  drop_exchange(head_out);
}

// ---- timers and closing ---------------------------------------------------------------------

void server_connection::arm_timer(std::chrono::milliseconds d, void (server_connection::*fn)()) {
  const auto gen = ++timer_gen_;
  timer_.cancel();
  if (d.count() <= 0) return;
  timer_.expires_after(d);
  timer_.async_wait([weak = weak_from_this(), gen, fn](boost::system::error_code ec) {
    auto self = weak.lock();
    if (ec || !self || self->timer_gen_ != gen || self->closed_) return;
    ((*self).*fn)();
  });
}

void server_connection::head_timeout() {
  if (in_exchange_) return;
  if (in_.size() > 0) {
    abort_exchange(408);
  } else {
    finish_close(false);  // an idle keep-alive connection, or one that never said anything
  }
}

void server_connection::linger_close() {
  if (closing_ || closed_) return;
  closing_ = true;
  // Send what is queued, then half-close and read until the peer closes too (or for a while):
  // closing with unread input would reset the connection and could destroy the response.
  send({}, [weak = weak_from_this()](std::error_code) {
    auto self = weak.lock();
    if (!self || self->closed_) return;
    self->t_->shutdown_send();
    self->arm_timer(std::chrono::duration_cast<std::chrono::milliseconds>(linger_time),
                    &server_connection::linger_expired);
    self->drain();
  });
}

void server_connection::drain() {
  if (closed_ || reading_) return;
  in_.consume(in_.size());
  read_more(&server_connection::drain);
}

void server_connection::finish_close(bool reset) {
  if (closed_) return;
  closed_ = true;
  ++timer_gen_;
  timer_.cancel();
  stop_exchange_timer();
  if (reset)
    t_->reset();
  else
    t_->close();
  if (req_ && !req_->destroyed() && !req_->eof_pushed())
    req_->destroy(make_error_code(errc::premature_close));
  if (res_ && !res_->destroyed() && !res_->finished())
    res_->destroy(make_error_code(errc::premature_close));
  req_.reset();
  res_.reset();
  auto srv = srv_;
  asio::post(srv->loop_.context(), [srv, self = shared_from_this()] { srv->remove(self.get()); });
}

}  // namespace sluice::detail
