// http_request and http_response: the streams a handler sees; they forward to the exchange.
#include <stdexcept>
#include <utility>

#include "exchange.hpp"
#include "sluice/codec/gzip.hpp"

namespace sluice {

namespace {

// The response body after gzip: forwards what the transform produces to the connection.
class wire_sink final : public writable<buffer> {
 public:
  wire_sink(sluice::loop& l, std::shared_ptr<detail::http_exchange> x)
      : writable<buffer>(l, writable_options{.name = "http response (gzip)"}), x_(std::move(x)) {}

 protected:
  bool do_writev(std::vector<buffer>& chunks, write_callback cb) override {
    x_->write_body(std::move(chunks),
                   [cb, self = shared_from_this()](std::error_code ec) { cb(ec); });
    return true;
  }
  void do_write(buffer&& chunk, write_callback cb) override {
    std::vector<buffer> one;
    one.push_back(std::move(chunk));
    do_writev(one, cb);
  }
  void do_final(callback cb) override {
    x_->finish_body(
        [cb = std::move(cb), self = shared_from_this()](std::error_code ec) { cb(ec); });
  }

 private:
  std::shared_ptr<detail::http_exchange> x_;
};

bool compressible(const http_headers& h) {
  if (h.contains("Content-Encoding")) return false;
  auto type = h.get("Content-Type");
  if (!type) return true;
  const std::string_view t = *type;
  for (std::string_view k : {"text/", "json", "javascript", "xml", "svg"})
    if (t.find(k) != std::string_view::npos) return true;
  return false;
}

}  // namespace

// ---- http_request ----------------------------------------------------------------------------

http_request::http_request(sluice::loop& l, std::shared_ptr<detail::http_exchange> x,
                           readable_options o)
    : readable<buffer>(l, o), x_(std::move(x)) {}

http_request::~http_request() = default;

std::shared_ptr<readable<buffer>> http_request::body() {
  return std::dynamic_pointer_cast<readable<buffer>>(shared_from_this());
}

void http_request::set_body_limit(std::uint64_t bytes) {
  if (read_started_) throw std::logic_error("http_request: body limit set after the first read");
  limit_ = bytes;
}

void http_request::do_read(std::size_t) {
  read_started_ = true;
  x_->read_body();
}

void http_request::do_destroy(std::error_code ec, callback cb) {
  x_->request_destroyed();
  cb(ec);
}

// ---- http_response ---------------------------------------------------------------------------

namespace detail {
struct http_gzip {
  std::shared_ptr<transform<buffer, buffer>> gzip;
  std::shared_ptr<wire_sink> sink;
  callback final_cb;  // do_final's, until the sink finishes or either fails
};
}  // namespace detail

http_response::http_response(sluice::loop& l, std::shared_ptr<detail::http_exchange> x,
                             writable_options o)
    : writable<buffer>(l, o), x_(std::move(x)) {}

http_response::~http_response() = default;

void http_response::check_open() const {
  if (committed_) throw std::logic_error("http_response: headers already sent");
}

void http_response::set_status(unsigned code) {
  check_open();
  if (code < 100 || code > 999) throw std::logic_error("http_response: bad status code");
  status_ = code;
}

void http_response::set_header(std::string name, std::string value) {
  check_open();
  headers_.set(std::move(name), std::move(value));
}

void http_response::add_header(std::string name, std::string value) {
  check_open();
  headers_.add(std::move(name), std::move(value));
}

void http_response::set_content_length(std::uint64_t n) {
  check_open();
  length_ = n;
}

void http_response::set_compress(bool on) {
  check_open();
  compress_ = on;
}

void http_response::commit() {
  if (committed_) return;
  committed_ = true;
  const bool no_body = x_->is_head() || status_ == 204 || status_ == 304 || status_ < 200;
  if (!compress_ || no_body || !x_->accepts_gzip() || !compressible(headers_)) return;
  headers_.set("Content-Encoding", "gzip");
  headers_.add("Vary", "Accept-Encoding");
  length_.reset();
  gzip_ = std::make_shared<detail::http_gzip>();
  gzip_->gzip = make_gzip(get_loop());
  gzip_->sink = std::make_shared<wire_sink>(get_loop(), x_);
  gzip_->gzip->pipe(gzip_->sink);
  // Either stage failing fails the response (which resets the connection: the head is out).
  std::weak_ptr<stream> weak = weak_from_this();
  auto on_error = [weak, g = std::weak_ptr(gzip_)](std::error_code ec) {
    auto self = weak.lock();
    auto gz = g.lock();
    if (gz && gz->final_cb) std::exchange(gz->final_cb, nullptr)(ec);
    if (self) self->destroy(ec);
  };
  gzip_->gzip->on_error(on_error);
  gzip_->sink->on_error(on_error);
  gzip_->sink->once_finish([g = std::weak_ptr(gzip_)] {
    if (auto gz = g.lock(); gz && gz->final_cb) std::exchange(gz->final_cb, nullptr)({});
  });
}

void http_response::do_write(buffer&& chunk, write_callback cb) {
  std::vector<buffer> one;
  one.push_back(std::move(chunk));
  do_writev(one, cb);
}

bool http_response::do_writev(std::vector<buffer>& chunks, write_callback cb) {
  commit();
  if (!gzip_) {
    x_->write_body(std::move(chunks),
                   [cb, self = shared_from_this()](std::error_code ec) { cb(ec); });
    return true;
  }
  // Completes when gzip has taken the last chunk: while the client is slow, gzip's output side
  // fills, gzip stops taking input and this write stays pending, so write() returns false.
  auto& gz = *gzip_->gzip;
  for (std::size_t i = 0; i + 1 < chunks.size(); ++i) gz.write(std::move(chunks[i]));
  if (chunks.empty()) {
    cb();
  } else {
    gz.write(std::move(chunks.back()),
             [cb, self = shared_from_this()](std::error_code ec) { cb(ec); });
  }
  return true;
}

void http_response::do_final(callback cb) {
  commit();
  if (!gzip_) {
    x_->finish_body(
        [cb = std::move(cb), self = shared_from_this()](std::error_code ec) { cb(ec); });
    return;
  }
  gzip_->final_cb = std::move(cb);
  gzip_->gzip->end();
}

void http_response::do_destroy(std::error_code ec, callback cb) {
  if (!finished()) x_->response_failed(ec ? ec : make_error_code(errc::premature_close));
  if (gzip_) {
    if (gzip_->final_cb) std::exchange(gzip_->final_cb, nullptr)(ec);
    gzip_->gzip->destroy();
    gzip_->sink->destroy();
  }
  cb(ec);
}

}  // namespace sluice
