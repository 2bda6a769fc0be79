// sluice/net/socket.hpp: `socket`, a connected byte stream over TCP, a Unix-domain socket or TLS
// (Node's net.Socket and tls.TLSSocket), and the functions that connect one.
//
// A socket is a duplex<buffer, buffer>: what is written goes to the peer, what the peer sends is
// read. Backpressure crosses the wire in both directions:
//   - write() returns false once the writable side holds its highWaterMark, and 'drain' follows
//     when the kernel has taken everything; whatever piled up meanwhile goes out as ONE gathered
//     write (write_batches(), write_syscalls()).
//   - a read is outstanding only while the readable side is below its highWaterMark: a consumer
//     that stops consuming stops the reads, the kernel's receive window closes and the peer's
//     writes block (docs/net.md draws it).
// The peer's FIN is 'end'. Unless allow_half_open, the socket then ends its own side too. end()
// sends FIN (shutdown(SHUT_WR)); with TLS, see docs/net.md for close_notify.
//
// Connecting happens in the stream's construct step, so writes made before the connection is up
// are buffered and flushed once it is (as in Node). Failures destroy the stream with the
// system's error code and an error_message() that names the operation and the peer, e.g.
// "connect 127.0.0.1:9: Connection refused", "read from 127.0.0.1:5000: Connection reset by
// peer", "TLS handshake with 127.0.0.1:4433: certificate verify failed: hostname mismatch".
//
// server.hpp accepts sockets; tls.hpp holds the TLS options. Asio's socket types stay in the
// sources (handle/body): this header needs only the asio_loop.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <system_error>

#include "sluice/core/asio_loop.hpp"
#include "sluice/core/buffer.hpp"
#include "sluice/core/duplex.hpp"
#include "sluice/net/tls.hpp"

namespace sluice {

namespace detail {
struct socket_impl;
}  // namespace detail

/// Options of a socket (connected or accepted).
struct socket_options {
  /// Buffered bytes at which the readable side stops reading (default 64 KiB; also the size of
  /// each read).
  std::optional<std::size_t> readable_high_water_mark{};
  /// Buffered bytes at which write() returns false (default 64 KiB).
  std::optional<std::size_t> writable_high_water_mark{};
  /// Keep the writable side open after the peer's FIN (Node's allowHalfOpen, default false: the
  /// socket ends its side too).
  bool allow_half_open = false;
  /// Give up connecting (resolving, connecting and the TLS handshake together) after this long
  /// with "Connection timed out"; zero: no limit beyond the system's.
  std::chrono::milliseconds connect_timeout{0};
  /// TCP_NODELAY once connected (Node's noDelay).
  bool no_delay = false;
  /// TCP and TLS: close with a reset (RST) rather than a FIN unless the stream ended normally,
  /// so the peer can tell an abort from an end. While the connection is up, SO_LINGER is 0: a
  /// destroy() (with or without an error) or the death of the process resets the connection,
  /// and the peer's reads fail with "Connection reset by peer" instead of seeing the end of the
  /// data. Once either side has ended normally (end() sent our FIN, or the peer's FIN arrived)
  /// the close is an ordinary one. Default false (Node's behaviour: every close is a FIN).
  bool reset_on_abort = false;
  /// TCP and TLS: fail the connection with "Connection timed out" when the peer has
  /// acknowledged nothing for this long: data sent and not acknowledged (TCP_USER_TIMEOUT), or,
  /// when nothing is being sent, keep-alive probes unanswered (SO_KEEPALIVE, probes after a
  /// third of it). A cut link or a frozen host is noticed then rather than after TCP's own
  /// retransmission limit (about 15 minutes); a peer that is alive but not reading is not a
  /// timeout, since its kernel still acknowledges. Zero (the default): the system's.
  std::chrono::milliseconds peer_timeout{0};
  /// Name for diagnostics; default: the peer.
  std::string name{};
};

/// What a socket runs over.
enum class socket_kind { tcp, unix_domain, tls };

/// A connected byte stream. Create it with make_tcp_connection(), make_unix_connection() or
/// make_tls_connection(), or receive it from a server. Keep a reference while it is in use; a
/// read or write in flight keeps it alive until that completes.
class socket final : public duplex<buffer, buffer> {
 public:
  /// Internal: use the make_* functions or a server.
  socket(asio_loop& l, std::shared_ptr<detail::socket_impl> impl, const socket_options& opts);
  ~socket() override;

  [[nodiscard]] socket_kind kind() const noexcept;
  /// Still connecting (resolving, connecting or in the TLS handshake).
  [[nodiscard]] bool connecting() const noexcept { return !connected_ && !destroyed(); }

  /// "127.0.0.1:5000", "[::1]:5000", or the Unix path (empty for an unnamed Unix socket and
  /// before the connection is up).
  [[nodiscard]] std::string local_address() const;
  [[nodiscard]] std::string remote_address() const;
  /// TCP/TLS ports (0 for Unix-domain sockets and before the connection is up).
  [[nodiscard]] std::uint16_t local_port() const;
  [[nodiscard]] std::uint16_t remote_port() const;

  /// TCP_NODELAY (no-op for Unix-domain sockets). Applied once connected if called before.
  std::error_code set_no_delay(bool on);
  /// SO_KEEPALIVE, and TCP_KEEPIDLE when `idle` is positive (no-op for Unix-domain sockets and
  /// before the connection is up: call it from on_connect).
  std::error_code set_keep_alive(bool on, std::chrono::seconds idle = std::chrono::seconds{0});
  /// Emits 'timeout' after `idle` without reads or writes, once per idle period (Node's
  /// setTimeout). Nothing is closed: the listener decides. Zero disables it.
  void set_timeout(loop::duration idle);
  [[nodiscard]] loop::duration timeout() const noexcept { return timeout_; }

  /// 'timeout': the socket was idle for timeout().
  listener_id on_timeout(std::function<void()> fn);
  /// 'connect': the connection (and the TLS handshake) is up; writes flow from here.
  listener_id on_connect(std::function<void()> fn);
  bool off(listener_id id) override;
  [[nodiscard]] std::size_t listener_count() const noexcept override;

  /// Bytes received from the peer (pushed into the readable side).
  [[nodiscard]] std::uint64_t bytes_read() const noexcept { return bytes_read_; }
  /// Bytes the kernel accepted for sending (plaintext bytes for TLS).
  [[nodiscard]] std::uint64_t bytes_written() const noexcept { return bytes_written_; }
  /// Gathered writes started: each takes every chunk buffered at that point (do_writev).
  [[nodiscard]] std::uint64_t write_batches() const noexcept { return write_batches_; }
  /// Send calls those writes took (each gathers up to 64 chunks; partial sends add more). For
  /// TLS: the TLS stream's write_some calls (one chunk each, encrypted into one record or more).
  [[nodiscard]] std::uint64_t write_syscalls() const noexcept { return write_syscalls_; }
  /// A read is outstanding (false while the readable side is full: backpressure).
  [[nodiscard]] bool reading() const noexcept { return reading_; }

  /// Sends a TCP RST instead of FIN (SO_LINGER 0) and destroys the socket (Node's
  /// resetAndDestroy()).
  void reset_and_destroy();
  /// The descriptor, for options sluice does not wrap (-1 when closed). Do not read, write or
  /// close it.
  [[nodiscard]] int native_handle() const noexcept;

 protected:
  void do_construct(callback cb) override;
  void do_read(std::size_t size) override;
  void do_write(buffer&& chunk, write_callback cb) override;
  bool do_writev(std::vector<buffer>& chunks, write_callback cb) override;
  void do_final(callback cb) override;
  void do_destroy(std::error_code ec, callback cb) override;

 private:
  std::shared_ptr<socket> self();
  void on_connected();
  void start_write(std::vector<buffer> chunks, write_callback cb);
  void on_read(std::error_code ec, buffer data);
  void touch();
  void arm_idle_timer(loop::duration after);
  void on_idle_timer();
  void apply_options();
  void set_linger_reset(bool on);

  std::shared_ptr<detail::socket_impl> impl_;
  std::size_t read_size_;
  bool connected_ = false;
  bool reading_ = false;
  bool writing_ = false;
  bool read_eof_ = false;
  std::optional<bool> no_delay_;
  bool reset_on_abort_ = false;
  std::chrono::milliseconds peer_timeout_{0};
  std::uint64_t bytes_read_ = 0;
  std::uint64_t bytes_written_ = 0;
  std::uint64_t write_batches_ = 0;
  std::uint64_t write_syscalls_ = 0;
  callback destroy_cb_;  // do_destroy waiting for the write in flight
  std::error_code destroy_ec_;
  loop::duration timeout_{};
  loop::time_point last_activity_{};
  timer idle_timer_;
  bool idle_fired_ = false;  // 'timeout' went out for the current idle period
  signal<> timeout_signal_;
  signal<> connect_signal_;
};

/// Connects to `host`:`port` over TCP: resolves the name (IPv4 and IPv6) and tries each address
/// in turn. The socket is returned at once; connecting runs on the loop.
[[nodiscard]] std::shared_ptr<socket> make_tcp_connection(asio_loop& l, std::string host,
                                                          std::uint16_t port,
                                                          socket_options opts = {});
/// Connects to the Unix-domain socket at `path`.
[[nodiscard]] std::shared_ptr<socket> make_unix_connection(asio_loop& l, std::string path,
                                                           socket_options opts = {});
/// Connects over TCP and performs a TLS handshake (client side). Certificate files are loaded
/// when connecting; a bad file fails the socket with "load CA file 'x.pem': ...".
[[nodiscard]] std::shared_ptr<socket> make_tls_connection(asio_loop& l, std::string host,
                                                          std::uint16_t port,
                                                          tls_client_options tls = {},
                                                          socket_options opts = {});

}  // namespace sluice
