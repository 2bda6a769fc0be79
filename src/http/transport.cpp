// Plain TCP under HTTP.
#include "transport.hpp"

#include <boost/asio/error.hpp>
#include <boost/asio/write.hpp>

#include "../net/socket_impl.hpp"
#include "sluice/core/error.hpp"

namespace sluice::detail {

namespace {

class tcp_transport final : public http_transport {
 public:
  explicit tcp_transport(boost::asio::ip::tcp::socket s) : sock_(std::move(s)) {
    boost::system::error_code ec;
    auto ep = sock_.remote_endpoint(ec);
    if (!ec) peer_ = endpoint_text(ep);
    sock_.set_option(boost::asio::ip::tcp::no_delay(true), ec);
    sock_.native_non_blocking(true, ec);  // sendfile(2) on native_handle() must not block
  }
  void async_read_some(boost::asio::mutable_buffer b, io_handler h) override {
    sock_.async_read_some(b, std::move(h));
  }
  void async_write(std::vector<boost::asio::const_buffer> bufs, io_handler h) override {
    boost::asio::async_write(sock_, bufs, std::move(h));
  }
  void shutdown_send() override {
    boost::system::error_code ec;
    if (sock_.is_open()) sock_.shutdown(boost::asio::ip::tcp::socket::shutdown_send, ec);
  }
  void cancel() override {
    boost::system::error_code ec;
    if (sock_.is_open()) sock_.cancel(ec);
  }
  void close() override {
    boost::system::error_code ec;
    if (sock_.is_open()) sock_.close(ec);
  }
  void reset() override {
    boost::system::error_code ec;
    if (!sock_.is_open()) return;
    sock_.set_option(boost::asio::socket_base::linger(true, 0), ec);
    sock_.close(ec);
  }
  [[nodiscard]] const std::string& peer() const override { return peer_; }
  [[nodiscard]] bool is_open() const override { return sock_.is_open(); }
  [[nodiscard]] int native_handle() const override {
    return sock_.is_open() ? const_cast<boost::asio::ip::tcp::socket&>(sock_).native_handle() : -1;
  }
  void async_wait_writable(std::function<void(boost::system::error_code)> h) override {
    sock_.async_wait(boost::asio::socket_base::wait_write, std::move(h));
  }
  void async_wait_readable(std::function<void(boost::system::error_code)> h) override {
    sock_.async_wait(boost::asio::socket_base::wait_read, std::move(h));
  }

 private:
  boost::asio::ip::tcp::socket sock_;
  std::string peer_;
};

}  // namespace

std::unique_ptr<http_transport> make_tcp_transport(boost::asio::ip::tcp::socket s) {
  return std::make_unique<tcp_transport>(std::move(s));
}

std::error_code to_std_error(const boost::system::error_code& ec) {
  if (!ec) return {};
  if (ec == boost::asio::error::eof) return make_error_code(errc::premature_close);
  if (ec.category() == boost::system::system_category())
    return {ec.value(), std::system_category()};
  return static_cast<std::error_code>(ec);
}

}  // namespace sluice::detail
