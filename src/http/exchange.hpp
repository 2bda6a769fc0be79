// The seam between the public http_request / http_response streams and the connection that
// carries them (server.cpp). No Beast here: request_response.cpp includes only this.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <system_error>
#include <vector>

#include "sluice/http/server.hpp"

namespace sluice::detail {

/// One request/response exchange on a server connection. The streams call into it; it fills
/// the request's head through the accessors below (it is their friend).
class http_exchange {
 public:
  virtual ~http_exchange() = default;

  /// The request body stream wants data: push some (or its end, or fail it) later.
  virtual void read_body() = 0;
  /// Sends body bytes (the head first, on the first call); `cb` once they are written.
  virtual void write_body(std::vector<buffer> chunks, std::function<void(std::error_code)> cb) = 0;
  /// Ends the body (the head first if not sent); `cb` once everything is written.
  virtual void finish_body(std::function<void(std::error_code)> cb) = 0;
  /// The request was destroyed (by the handler: ours are ignored); unread body: the
  /// connection is reset.
  virtual void request_destroyed() = 0;
  /// The response was destroyed before it finished: 500 or a reset.
  virtual void response_failed(std::error_code ec) = 0;
  /// Whether the request accepts gzip.
  [[nodiscard]] virtual bool accepts_gzip() const = 0;
  /// HEAD request: the body is not sent.
  [[nodiscard]] virtual bool is_head() const = 0;
  /// Whether send_file() may use sendfile(2) (plain TCP).
  [[nodiscard]] virtual bool can_send_file() const { return false; }
  /// Sends the head (if not sent) then `length` bytes of `fd` from `offset` with sendfile(2);
  /// `cb(ec, bytes sent, unsupported)`: unsupported when sendfile failed before any byte with
  /// EINVAL/ENOSYS (the caller then copies; nothing of the file was sent).
  virtual void send_file(int fd, std::uint64_t offset, std::uint64_t length,
                         std::function<void(std::error_code, std::uint64_t, bool)> cb) {
    (void)fd, (void)offset, (void)length;
    cb({}, 0, true);
  }

 protected:
  static void set_head(http_request& r, std::string method, std::string target, unsigned version,
                       http_headers h, std::optional<std::uint64_t> length, std::string remote,
                       std::optional<std::uint64_t> limit) {
    r.method_ = std::move(method);
    r.target_ = std::move(target);
    r.version_ = version;
    r.headers_ = std::move(h);
    r.length_ = length;
    r.remote_ = std::move(remote);
    r.limit_ = limit;
  }
  static void set_length(http_response& r, std::uint64_t n) { r.length_ = n; }
  static void set_compress_default(http_response& r, bool on) { r.compress_ = on; }
  static bool read_started(const http_request& r) { return r.read_started_; }
};

}  // namespace sluice::detail
