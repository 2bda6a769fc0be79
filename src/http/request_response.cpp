// http_request and http_response: the streams a handler sees; they forward to the exchange.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
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

// One send_file in progress: owns its descriptor (a dup or its own open).
struct file_job {
  int fd = -1;
  std::uint64_t offset = 0;
  std::uint64_t left = 0;
  http_file_sent sent{};
  std::function<void(std::error_code, http_file_sent)> cb;
  bool done = false;
  ~file_job() {
    if (fd >= 0) ::close(fd);
  }
  void finish(std::error_code ec) {
    if (done) return;
    done = true;
    if (cb) std::exchange(cb, nullptr)(ec, sent);
  }
};

constexpr std::uint64_t small_file = 16 * 1024;  // goes with the head in one write
constexpr std::size_t copy_chunk = 64 * 1024;

// The copy path: pread()s chunks and writes them, waiting for 'drain' when write() says so.
void copy_file_part(const std::weak_ptr<http_response>& weak,
                    const std::shared_ptr<file_job>& job) {
  auto res = weak.lock();
  if (!res || job->done) return;
  if (res->destroyed()) {
    job->finish(make_error_code(errc::premature_close));
    return;
  }
  while (job->left > 0) {
    const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(job->left, copy_chunk));
    buffer_builder b(n);
    auto space = b.free_space();
    ssize_t r = 0;
    do {
      r = ::pread(job->fd, space.data(), n, static_cast<off_t>(job->offset));
    } while (r < 0 && errno == EINTR);
    if (r <= 0) {
      const std::error_code ec = r < 0 ? std::error_code(errno, std::system_category())
                                       : make_error_code(errc::premature_close);
      res->fail(ec,
                r < 0 ? "read the file being sent" : "read the file being sent: it ended early");
      job->finish(ec);
      return;
    }
    const auto k = static_cast<std::size_t>(r);
    b.commit(k);
    job->offset += k;
    job->left -= k;
    job->sent.bytes_by_copy += k;
    if (job->left == 0) {
      res->end(std::move(b).freeze(), [job](std::error_code ec) { job->finish(ec); });
      return;
    }
    if (!res->write(std::move(b).freeze())) {
      if (res->destroyed()) {
        job->finish(make_error_code(errc::premature_close));
        return;
      }
      res->once_drain([weak, job] { copy_file_part(weak, job); });
      return;
    }
  }
  res->end([job](std::error_code ec) { job->finish(ec); });
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

std::error_code http_response::send_file(http_file_body f,
                                         std::function<void(std::error_code, http_file_sent)> cb) {
  if (committed_ || writable_length() > 0 || finished() || destroyed())
    throw std::logic_error("http_response: send_file after the body was begun");
  const int fd =
      f.fd >= 0 ? ::fcntl(f.fd, F_DUPFD_CLOEXEC, 0) : ::open(f.path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return {errno, std::system_category()};
  auto job = std::make_shared<file_job>();
  job->fd = fd;
  struct stat st {};
  if (::fstat(fd, &st) != 0) return {errno, std::system_category()};
  if (!S_ISREG(st.st_mode)) return std::make_error_code(std::errc::invalid_argument);
  const auto size = static_cast<std::uint64_t>(st.st_size);
  if (f.offset > size) return std::make_error_code(std::errc::invalid_argument);
  const std::uint64_t len = f.length.value_or(size - f.offset);
  if (len > size - f.offset) return std::make_error_code(std::errc::invalid_argument);
  if (length_ && *length_ != len) return std::make_error_code(std::errc::invalid_argument);
  job->offset = f.offset;
  job->left = len;
  job->cb = std::move(cb);
  length_ = len;
  commit();  // gzip, if it applies, drops the length (chunked)
  std::weak_ptr<http_response> weak = std::dynamic_pointer_cast<http_response>(shared_from_this());
  const bool no_body = x_->is_head() || status_ == 204 || status_ == 304 || status_ < 200;
  if (no_body || len == 0) {
    job->left = 0;
    end([job](std::error_code ec) { job->finish(ec); });
    return {};
  }
  if (gzip_ || len <= small_file || !x_->can_send_file()) {
    copy_file_part(weak, job);
    return {};
  }
  x_->send_file(job->fd, job->offset, len,
                [weak, job](std::error_code ec, std::uint64_t sent, bool unsupported) {
                  job->sent.bytes_by_sendfile = sent;
                  job->offset += sent;
                  job->left -= sent;
                  auto res = weak.lock();
                  if (ec || !res) {
                    job->finish(ec ? ec : make_error_code(errc::premature_close));
                    return;
                  }
                  if (unsupported) {
                    copy_file_part(weak, job);
                    return;
                  }
                  res->end([job](std::error_code e) { job->finish(e); });
                });
  return {};
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
