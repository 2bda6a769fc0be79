// The byte transport under HTTP: a connected stream socket behind a small virtual interface, so
// the HTTP code (server.cpp, client.cpp) does not care whether it is plain TCP or, later, TLS
// (boost::asio::ssl::stream<tcp::socket> behind the same four operations).
#pragma once

#include <boost/asio/buffer.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <functional>
#include <memory>
#include <string>
#include <system_error>
#include <vector>

namespace sluice::detail {

class http_transport {
 public:
  using io_handler = std::function<void(boost::system::error_code, std::size_t)>;
  virtual ~http_transport() = default;

  /// One read of at most the buffer's size. Only one read at a time.
  virtual void async_read_some(boost::asio::mutable_buffer b, io_handler h) = 0;
  /// Writes every byte of `bufs` (the memory they point to must outlive the write). One at a time.
  virtual void async_write(std::vector<boost::asio::const_buffer> bufs, io_handler h) = 0;
  /// Half-closes the sending side (TLS: close_notify); reads still work.
  virtual void shutdown_send() = 0;
  /// Cancels the pending operations (they complete with operation_aborted).
  virtual void cancel() = 0;
  /// Closes; pending operations complete with operation_aborted.
  virtual void close() = 0;
  /// Aborts: the peer sees a reset (SO_LINGER 0), never a clean end.
  virtual void reset() = 0;
  /// "address:port" of the peer (empty if unknown).
  [[nodiscard]] virtual const std::string& peer() const = 0;
  [[nodiscard]] virtual bool is_open() const = 0;

  // ---- added for idle connections and sendfile; the defaults suit any transport ----
  /// The socket's file descriptor when bytes written to it reach the peer as they are (plain
  /// TCP: sendfile(2) may write to it); -1 otherwise (TLS), which means "no zero-copy path".
  [[nodiscard]] virtual int native_handle() const { return -1; }
  /// Calls `h` once the socket can take more bytes (after EAGAIN from a direct write to
  /// native_handle()). Default: at once, through the next operation's completion.
  virtual void async_wait_writable(std::function<void(boost::system::error_code)> h) {
    h(boost::system::error_code{});
  }
  /// Calls `h` once bytes can be read, without holding a read buffer meanwhile (an idle
  /// keep-alive connection then pins no memory). Default: at once (the read that follows waits).
  virtual void async_wait_readable(std::function<void(boost::system::error_code)> h) {
    h(boost::system::error_code{});
  }
};

/// Plain TCP.
[[nodiscard]] std::unique_ptr<http_transport> make_tcp_transport(boost::asio::ip::tcp::socket s);

/// A boost error as a std::error_code: system errors keep std::system_category (so messages and
/// comparisons with std::errc work), asio's end of file becomes errc::premature_close.
[[nodiscard]] std::error_code to_std_error(const boost::system::error_code& ec);

}  // namespace sluice::detail
