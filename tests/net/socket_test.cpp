// sluice::socket and sluice::server on loopback: round trips, half-open, errors that name the
// operation and the peer, the idle timeout.
#include "sluice/net/socket.hpp"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "net/net_support.hpp"
#include "sluice/net/server.hpp"

namespace {

using namespace std::chrono_literals;
using net_test::loop_fixture;
using sluice::buffer;

// An echo server: every accepted socket is piped into itself.
std::shared_ptr<sluice::server> echo_server(sluice::asio_loop& l, sluice::server_options o = {}) {
  auto srv = sluice::make_tcp_server(l, std::move(o));
  srv->on_connection([](std::shared_ptr<sluice::socket> s) { s->pipe(s); });
  EXPECT_FALSE(srv->listen()) << srv->error_message();
  return srv;
}

// Collects everything a socket reads, and its end.
struct collector {
  std::string data;
  bool ended = false;
  void attach(sluice::socket& s) {
    s.on_data([this](buffer&& b) { data += b.view(); });
    s.on_end([this] { ended = true; });
  }
};

TEST(TcpSocket, EchoRoundTrip) {
  loop_fixture f;
  auto srv = echo_server(f.loop);
  ASSERT_NE(srv->port(), 0);
  auto c = sluice::make_tcp_connection(f.loop, "127.0.0.1", srv->port());
  collector got;
  got.attach(*c);
  bool connected = false;
  c->on_connect([&] { connected = true; });
  EXPECT_TRUE(c->connecting());
  c->write(buffer::copy_of("hello, "));  // before the connection is up: buffered
  c->write(buffer::copy_of("world"));
  c->end();
  bool closed = false;
  c->on_close([&] { closed = true; });
  ASSERT_TRUE(f.run_until([&] { return closed; }));
  EXPECT_TRUE(connected);
  EXPECT_EQ(got.data, "hello, world");
  EXPECT_TRUE(got.ended);
  EXPECT_FALSE(c->errored());
  EXPECT_EQ(c->bytes_written(), 12u);
  EXPECT_EQ(c->bytes_read(), 12u);
  EXPECT_EQ(c->remote_address(), "");  // closed now
  ASSERT_TRUE(f.run_until([&] { return srv->connections() == 0; }));
}

TEST(TcpSocket, AddressesAndIpv6) {
  loop_fixture f;
  auto srv = echo_server(f.loop, {.host = "::1"});
  auto c = sluice::make_tcp_connection(f.loop, "::1", srv->port());
  bool connected = false;
  c->on_connect([&] { connected = true; });
  ASSERT_TRUE(f.run_until([&] { return connected; }));
  EXPECT_EQ(c->remote_address(), "[::1]:" + std::to_string(srv->port()));
  EXPECT_EQ(c->remote_port(), srv->port());
  EXPECT_NE(c->local_port(), 0);
  EXPECT_EQ(c->local_address(), "[::1]:" + std::to_string(c->local_port()));
  EXPECT_EQ(srv->address(), "[::1]:" + std::to_string(srv->port()));
  EXPECT_EQ(c->kind(), sluice::socket_kind::tcp);
  EXPECT_FALSE(c->set_no_delay(true));
  EXPECT_FALSE(c->set_keep_alive(true, 30s));
  c->destroy();
  ASSERT_TRUE(f.run_until([&] { return c->closed() && srv->connections() == 0; }));
}

TEST(UnixSocket, EchoRoundTrip) {
  loop_fixture f;
  const std::string path =
      (std::filesystem::temp_directory_path() / ("sluice-net-" + std::to_string(::getpid())))
          .string();
  auto srv = sluice::make_unix_server(f.loop, path);
  srv->on_connection([](std::shared_ptr<sluice::socket> s) { s->pipe(s); });
  ASSERT_FALSE(srv->listen()) << srv->error_message();
  auto c = sluice::make_unix_connection(f.loop, path);
  collector got;
  got.attach(*c);
  c->end(buffer::copy_of("over a unix socket"));
  ASSERT_TRUE(f.run_until([&] { return c->closed(); }));
  EXPECT_EQ(got.data, "over a unix socket");
  EXPECT_EQ(c->kind(), sluice::socket_kind::unix_domain);
  bool closed = false;
  srv->close([&](std::error_code) { closed = true; });
  ASSERT_TRUE(f.run_until([&] { return closed; }));
  EXPECT_FALSE(std::filesystem::exists(path));
}

TEST(TcpSocket, ConnectRefusedNamesThePeer) {
  loop_fixture f;
  // A port that was just free: bind, read the port, close.
  std::uint16_t port = 0;
  {
    auto probe = sluice::make_tcp_server(f.loop);
    ASSERT_FALSE(probe->listen());
    port = probe->port();
    probe->close();
  }
  auto c = sluice::make_tcp_connection(f.loop, "127.0.0.1", port);
  std::error_code err;
  c->on_error([&](std::error_code ec) { err = ec; });
  c->write(buffer::copy_of("lost"), [&](std::error_code ec) { EXPECT_TRUE(ec); });
  ASSERT_TRUE(f.run_until([&] { return c->closed(); }));
  EXPECT_EQ(err, std::errc::connection_refused);
  EXPECT_EQ(c->error_message(),
            "connect 127.0.0.1:" + std::to_string(port) + ": Connection refused");
}

}  // namespace
