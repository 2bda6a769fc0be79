// sluice/http/server.hpp: an HTTP/1.1 server whose request and response bodies are streams
// (Node's http.createServer, with limits).
//
//   - `http_server` accepts connections on an asio_loop and calls the handler once per request
//     with an `http_request` (a readable<buffer>: the body, read from the socket only as fast as
//     the handler consumes it) and an `http_response` (a writable<buffer>: status and headers are
//     set before the first write; Content-Length when set, chunked otherwise).
//   - Limits (header size 431, body size 413, malformed 400, headers timeout, keep-alive
//     timeout, request timeout 408, idle timeout, connections 503, requests per connection)
//     are in http_server_options, with Node's defaults; docs/http.md has the table and the
//     backpressure diagram.
//
// Boost.Beast's parser does the HTTP parsing; it stays in src/http/, out of this header.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "sluice/core/asio_loop.hpp"
#include "sluice/core/readable.hpp"
#include "sluice/core/writable.hpp"
#include "sluice/http/headers.hpp"
#include "sluice/net/tls.hpp"

namespace sluice {

namespace detail {
class http_exchange;
struct http_gzip;
class http_server_impl;
}  // namespace detail

/// Options of an http_server. Durations of zero disable the timeout.
struct http_server_options {
  /// Largest request head (request line and header fields); larger: 431 and close. Node: 16 KiB.
  std::size_t max_header_size = 16 * 1024;
  /// Largest request body, unless the handler sets another with http_request::set_body_limit();
  /// larger: 413 and close. Unset: no limit (as Node; the body streams in bounded memory anyway).
  std::optional<std::uint64_t> max_body_size{};
  /// Time a client has to send a complete request head once the server waits for it; when it
  /// runs out the connection is closed (slowloris). Node's headersTimeout: 60 s.
  std::chrono::milliseconds headers_timeout{60'000};
  /// Time an idle keep-alive connection is kept open waiting for its next request. Node: 5 s.
  std::chrono::milliseconds keep_alive_timeout{5'000};
  /// Time a client has to send a whole request, head and body, counted from its first byte but
  /// only while the server is waiting for the client: while the handler leaves the body unread
  /// (the request stream is full), the clock stops. When it runs out the request stream fails
  /// with std::errc::timed_out, the client gets 408 (or, after the response head, a reset) and
  /// the connection closes: a client trickling a body (slow POST) cannot hold a connection
  /// forever. Node's requestTimeout: 300 s (which also counts time the handler holds back).
  std::chrono::milliseconds request_timeout{300'000};
  /// Longest an exchange (from the request head to the response's end) may go without a socket
  /// read or write completing, whoever is the cause: a handler that never answers, a client that
  /// stops sending its body or stops reading the response. When it runs out the request and
  /// response streams fail with std::errc::timed_out and the connection closes: before the
  /// response head the client gets 408 if the server was waiting for its body, 503 if it was
  /// waiting for the handler; after it, a reset. A write completes when the kernel took all of
  /// it (a highWaterMark at most). 0 (the default, as Node's server.timeout): no limit, so long
  /// polls and slow streams are not cut.
  std::chrono::milliseconds idle_timeout{0};
  /// Connections served at once; more are answered 503 and closed. 0: no limit (Node).
  std::size_t max_connections = 0;
  /// Requests served on one connection; the last one's response says "Connection: close".
  /// 0: no limit (Node's maxRequestsPerSocket).
  std::size_t max_requests_per_connection = 0;
  /// gzip response bodies of compressible types for clients that accept it (per response:
  /// http_response::set_compress).
  bool gzip = false;
  /// highWaterMark of request bodies (bytes buffered before the socket is read no further) and
  /// of responses (bytes buffered before write() returns false). Default 64 KiB.
  std::optional<std::size_t> high_water_mark{};
  /// Serve HTTPS: the certificate and key are loaded by listen() (which fails naming the file
  /// that could not be loaded), and each connection's TLS handshake must complete within
  /// headers_timeout; a failed or timed-out handshake closes the connection and is counted
  /// (http_server::tls_handshake_failures()).
  std::optional<tls_server_options> tls{};
};

/// The request: its head, and its body as a readable<buffer> (Node's IncomingMessage). The body
/// is read from the socket only when this stream is read; a body that exceeds the limit fails
/// the stream with errc::out_of_range ("request body exceeds N bytes") and the client gets 413.
/// An `Expect: 100-continue` is answered when the body is first read. Destroying it before
/// its body was read to the end resets the connection (Node's req.destroy()).
class http_request final : public readable<buffer> {
 public:
  http_request(sluice::loop& l, std::shared_ptr<detail::http_exchange> x, readable_options o);
  ~http_request() override;

  [[nodiscard]] const std::string& method() const noexcept { return method_; }
  [[nodiscard]] const std::string& target() const noexcept { return target_; }
  /// 11 for HTTP/1.1, 10 for HTTP/1.0.
  [[nodiscard]] unsigned version() const noexcept { return version_; }
  [[nodiscard]] const http_headers& headers() const noexcept { return headers_; }
  /// The Content-Length, if the request has one (chunked requests do not).
  [[nodiscard]] std::optional<std::uint64_t> content_length() const noexcept { return length_; }
  /// "address:port" of the client.
  [[nodiscard]] const std::string& remote() const noexcept { return remote_; }
  /// This stream, as the body.
  [[nodiscard]] std::shared_ptr<readable<buffer>> body();
  /// Limits this request's body (overrides http_server_options::max_body_size). Call it before
  /// the first read; later it throws std::logic_error.
  void set_body_limit(std::uint64_t bytes);
  [[nodiscard]] std::optional<std::uint64_t> body_limit() const noexcept { return limit_; }

 protected:
  void do_read(std::size_t size) override;
  void do_destroy(std::error_code ec, callback cb) override;

 private:
  friend class detail::http_exchange;
  std::shared_ptr<detail::http_exchange> x_;
  std::string method_, target_, remote_;
  unsigned version_ = 11;
  http_headers headers_;
  std::optional<std::uint64_t> length_;
  std::optional<std::uint64_t> limit_;
  bool read_started_ = false;
};

/// A region of a file to send as a whole response body (http_response::send_file).
struct http_file_body {
  std::string path{};  ///< the file to open, unless `fd` is set
  int fd = -1;         ///< an open file to send from instead (duplicated: the caller keeps it)
  std::uint64_t offset = 0;
  std::optional<std::uint64_t> length{};  ///< default: from `offset` to the end of the file
};

/// How the bytes of a send_file went: sendfile(2) straight from the page cache to the socket,
/// or read into memory and written (small files, gzip, TLS, sendfile unsupported).
struct http_file_sent {
  std::uint64_t bytes_by_sendfile = 0;
  std::uint64_t bytes_by_copy = 0;
};

/// The response: a writable<buffer> of the body (Node's ServerResponse). Status, headers, the
/// length and compression are set before the first write() or end(); after that the setters
/// throw std::logic_error ("http_response: headers already sent"). Without a content length the
/// body goes chunked (HTTP/1.1). write() returns false while the client does not keep up.
///
/// Destroying the response with an error (or before end() completed) is a failed handler:
/// before the head went out the client gets 500 and the connection closes; after it, the
/// connection is reset (RST), so the client sees a truncated body, never a short success.
class http_response final : public writable<buffer> {
 public:
  http_response(sluice::loop& l, std::shared_ptr<detail::http_exchange> x, writable_options o);
  ~http_response() override;

  void set_status(unsigned code);
  void set_header(std::string name, std::string value);
  void add_header(std::string name, std::string value);
  void set_content_length(std::uint64_t n);
  /// gzip the body if the request accepts it (default: http_server_options::gzip). Only types
  /// worth compressing are (text/*, JSON, JavaScript, XML, SVG, or no Content-Type).
  void set_compress(bool on);

  [[nodiscard]] unsigned status() const noexcept { return status_; }
  [[nodiscard]] const http_headers& headers() const noexcept { return headers_; }
  [[nodiscard]] std::optional<std::uint64_t> content_length() const noexcept { return length_; }
  [[nodiscard]] bool compress() const noexcept { return compress_; }
  /// Sends a file region as the whole body and ends the response, instead of write()/end().
  /// Plain TCP without gzip: sendfile(2), nonblocking, at most 4 MiB per turn of the loop so
  /// other connections keep being served; otherwise (or sendfile failing with EINVAL/ENOSYS
  /// before its first byte) the file is read and written, with backpressure. Files of 16 KiB
  /// or less go with the head in one write. Sets the content length (if unset; a different
  /// one set before is an error). Returns an error, and leaves the response untouched, when
  /// the file cannot be opened, is not a regular file or the region is not inside it; then
  /// `cb` is not called. Otherwise `cb` runs once, when the response finished or failed (a
  /// client that goes away: the write error; the connection is reset), with the bytes per path.
  /// Throws std::logic_error if the body was begun.
  std::error_code send_file(http_file_body f,
                            std::function<void(std::error_code, http_file_sent)> cb = nullptr);

  /// The head was committed (first write() or end()).
  [[nodiscard]] bool headers_sent() const noexcept { return committed_; }

 protected:
  void do_write(buffer&& chunk, write_callback cb) override;
  bool do_writev(std::vector<buffer>& chunks, write_callback cb) override;
  void do_final(callback cb) override;
  void do_destroy(std::error_code ec, callback cb) override;

 private:
  friend class detail::http_exchange;
  void check_open() const;
  void commit();
  std::shared_ptr<detail::http_exchange> x_;
  std::shared_ptr<detail::http_gzip> gzip_;  // set at commit when the body is compressed
  unsigned status_ = 200;
  http_headers headers_;
  std::optional<std::uint64_t> length_;
  bool compress_ = false;
  bool committed_ = false;
};

/// Called once per request, on the loop thread. The handler owns nothing: keep the two streams
/// for as long as they are used (the server keeps them too until the exchange is done). They
/// refer to their connection (an Asio socket): drop them before the io_context is destroyed.
using http_handler =
    std::function<void(std::shared_ptr<http_request>, std::shared_ptr<http_response>)>;

class http_server {
 public:
  http_server(asio_loop& l, http_server_options o, http_handler h);
  ~http_server();
  http_server(const http_server&) = delete;
  http_server& operator=(const http_server&) = delete;

  /// Binds and listens. Port 0 picks a free port (see port()). Returns the error, if any (the bind
  /// error, or with options.tls the certificate or key that failed to load); error_message()
  /// says what failed: "listen on 127.0.0.1:80: Permission denied", "load certificate
  /// 'c.pem': No such file or directory".
  std::error_code listen(const std::string& host, std::uint16_t port);
  /// What the last listen() failed on; empty after a successful one.
  [[nodiscard]] const std::string& error_message() const noexcept;
  /// The port listened on (0 before listen()).
  [[nodiscard]] std::uint16_t port() const noexcept;
  /// Stops accepting, closes idle connections, lets the exchanges in progress finish (their
  /// connections close after them) and calls `cb` once every connection is closed. `cb` is
  /// never invoked from within this function.
  void close(callback cb = nullptr);
  /// Connections open now.
  [[nodiscard]] std::size_t connection_count() const noexcept;
  /// Requests whose handler was called, over the server's life.
  [[nodiscard]] std::uint64_t request_count() const noexcept;
  /// HTTPS: connections whose TLS handshake failed or timed out, over the server's life.
  [[nodiscard]] std::uint64_t tls_handshake_failures() const noexcept;

 private:
  std::shared_ptr<detail::http_server_impl> impl_;
};

/// Makes a server; call listen() on it.
[[nodiscard]] std::unique_ptr<http_server> make_http_server(asio_loop& l, http_server_options o,
                                                            http_handler h);

}  // namespace sluice
