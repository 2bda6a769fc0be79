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
std::shared_ptr<sluice::server> echo_server(loop_fixture& f, sluice::server_options o = {}) {
  auto srv = sluice::make_tcp_server(f.loop, std::move(o));
  f.track(srv);
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
  auto srv = echo_server(f);
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
  auto srv = echo_server(f, {.host = "::1"});
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
  f.track(srv);
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
    f.track(probe);
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

namespace {

// Waits until `s` is connected (or fails the test).
void wait_connected(loop_fixture& f, sluice::socket& s) {
  bool up = !s.connecting();
  s.on_connect([&] { up = true; });
  ASSERT_TRUE(f.run_until([&] { return up || s.destroyed(); }));
  ASSERT_FALSE(s.destroyed()) << s.error_message();
}

// The server's side of the next connection.
struct accepting_server {
  std::shared_ptr<sluice::server> srv;
  std::vector<std::shared_ptr<sluice::socket>> accepted;
  accepting_server(loop_fixture& f, sluice::server_options o = {}) {
    srv = sluice::make_tcp_server(f.loop, std::move(o));
    f.track(srv);
    srv->on_connection([this](std::shared_ptr<sluice::socket> s) { accepted.push_back(s); });
    EXPECT_FALSE(srv->listen()) << srv->error_message();
  }
};

TEST(TcpSocket, HalfOpenWeEndFirstAndStillRead) {
  loop_fixture f;
  accepting_server a(f, {.connection = {.allow_half_open = true}});
  auto c = sluice::make_tcp_connection(f.loop, "127.0.0.1", a.srv->port());
  collector got;
  got.attach(*c);
  c->end(buffer::copy_of("request"));
  ASSERT_TRUE(f.run_until([&] { return a.accepted.size() == 1; }));
  auto s = a.accepted[0];
  collector at_server;
  at_server.attach(*s);
  ASSERT_TRUE(f.run_until([&] { return at_server.ended; }));
  EXPECT_EQ(at_server.data, "request");
  // The server's side is still open (allow_half_open): it answers after the client's FIN.
  EXPECT_TRUE(s->is_writable());
  s->end(buffer::copy_of("response after your FIN"));
  ASSERT_TRUE(f.run_until([&] { return c->closed() && s->closed(); }));
  EXPECT_EQ(got.data, "response after your FIN");
  EXPECT_FALSE(c->errored());
  EXPECT_FALSE(s->errored());
}

TEST(TcpSocket, HalfOpenPeerEndsFirst) {
  loop_fixture f;
  accepting_server a(f);
  // This client keeps writing after the server's FIN.
  auto c =
      sluice::make_tcp_connection(f.loop, "127.0.0.1", a.srv->port(), {.allow_half_open = true});
  collector got;
  got.attach(*c);
  ASSERT_TRUE(f.run_until([&] { return a.accepted.size() == 1; }));
  auto s = a.accepted[0];
  collector at_server;
  at_server.attach(*s);
  s->end(buffer::copy_of("bye"));
  ASSERT_TRUE(f.run_until([&] { return got.ended; }));
  EXPECT_TRUE(c->is_writable());
  c->write(buffer::copy_of("still "));
  c->end(buffer::copy_of("here"));
  ASSERT_TRUE(f.run_until([&] { return c->closed() && s->closed(); }));
  EXPECT_EQ(got.data, "bye");
  EXPECT_EQ(at_server.data, "still here");
}

TEST(TcpSocket, WithoutHalfOpenThePeersEndEndsUsToo) {
  loop_fixture f;
  accepting_server a(f, {.connection = {.allow_half_open = true}});
  auto c = sluice::make_tcp_connection(f.loop, "127.0.0.1", a.srv->port());  // default: false
  collector got;
  got.attach(*c);
  ASSERT_TRUE(f.run_until([&] { return a.accepted.size() == 1; }));
  auto s = a.accepted[0];
  collector at_server;
  at_server.attach(*s);
  s->end();
  // The client never calls end(): its FIN follows the server's by itself.
  ASSERT_TRUE(f.run_until([&] { return at_server.ended; }));
  EXPECT_TRUE(c->ended());
  ASSERT_TRUE(f.run_until([&] { return c->closed() && s->closed(); }));
}

TEST(TcpSocket, IdleTimeoutEmitsOncePerIdlePeriod) {
  loop_fixture f;
  auto srv = echo_server(f);
  auto c = sluice::make_tcp_connection(f.loop, "127.0.0.1", srv->port());
  collector got;
  got.attach(*c);
  wait_connected(f, *c);
  int timeouts = 0;
  c->on_timeout([&] { ++timeouts; });
  c->set_timeout(40ms);
  ASSERT_TRUE(f.run_until([&] { return timeouts == 1; }));
  f.run_for(100ms);  // still idle: no second event for the same idle period
  EXPECT_EQ(timeouts, 1);
  EXPECT_FALSE(c->destroyed());  // nothing is closed: the user decides
  c->write(buffer::copy_of("activity"));
  ASSERT_TRUE(f.run_until([&] { return timeouts == 2; }));
  EXPECT_EQ(got.data, "activity");
  c->set_timeout(0ms);
  f.run_for(100ms);
  EXPECT_EQ(timeouts, 2);
  c->destroy();
  ASSERT_TRUE(f.run_until([&] { return c->closed(); }));
}

// reset_on_abort: a sender destroyed mid-stream resets the connection, so the receiver's read
// fails instead of ending (without it, the receiver cannot tell the abort from the end).
TEST(TcpSocket, ResetOnAbortMakesADestroyMidStreamAReadErrorAtThePeer) {
  for (const bool reset : {false, true}) {
    SCOPED_TRACE(reset ? "reset_on_abort" : "default");
    loop_fixture f;
    accepting_server a(f);
    auto c =
        sluice::make_tcp_connection(f.loop, "127.0.0.1", a.srv->port(), {.reset_on_abort = reset});
    c->write(buffer::copy_of("half of the data"));
    ASSERT_TRUE(f.run_until([&] { return a.accepted.size() == 1; }));
    auto s = a.accepted[0];
    collector at_server;
    at_server.attach(*s);
    std::error_code error;
    s->on_error([&](std::error_code ec) { error = ec; });
    ASSERT_TRUE(f.run_until([&] { return at_server.data == "half of the data"; }));
    c->destroy();  // no end(): an abort
    ASSERT_TRUE(f.run_until([&] { return s->closed(); }));
    if (reset) {
      EXPECT_FALSE(at_server.ended);
      EXPECT_TRUE(error == std::errc::connection_reset) << error.message();
      EXPECT_EQ(s->error_message().rfind("read from 127.0.0.1:", 0), 0U) << s->error_message();
    } else {
      EXPECT_TRUE(at_server.ended) << "Node's behaviour: a destroy is a FIN";
      EXPECT_FALSE(error);
    }
  }
}

TEST(TcpSocket, ResetOnAbortKeepsANormalEndAnEndOnBothSides) {
  loop_fixture f;
  accepting_server a(f, {.connection = {.reset_on_abort = true}});
  auto c =
      sluice::make_tcp_connection(f.loop, "127.0.0.1", a.srv->port(), {.reset_on_abort = true});
  collector got;
  got.attach(*c);
  const std::string data = net_test::stream_bytes(0, 1 << 20);
  c->end(buffer::copy_of(data));
  ASSERT_TRUE(f.run_until([&] { return a.accepted.size() == 1; }));
  auto s = a.accepted[0];
  collector at_server;
  at_server.attach(*s);
  // The server ends its side after the client's FIN, then both close: ordinary closes, so
  // neither side sees a reset, whichever closes first.
  ASSERT_TRUE(f.run_until([&] { return c->closed() && s->closed(); }));
  EXPECT_EQ(at_server.data.size(), data.size());
  EXPECT_TRUE(at_server.data == data);
  EXPECT_TRUE(at_server.ended);
  EXPECT_TRUE(got.ended);
  EXPECT_FALSE(c->errored()) << c->error_message();
  EXPECT_FALSE(s->errored()) << s->error_message();
}

TEST(TcpSocket, ConnectTimeoutToAFullBacklog) {
  loop_fixture f;
  // A listener that never accepts, with backlog 0: once one connection waits in its queue, the
  // kernel drops further SYNs, so the next connect hangs until our timeout.
  const int lfd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ::sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(lfd, reinterpret_cast<::sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(::listen(lfd, 0), 0);
  ::socklen_t len = sizeof addr;
  ::getsockname(lfd, reinterpret_cast<::sockaddr*>(&addr), &len);
  const std::uint16_t port = ntohs(addr.sin_port);
  std::vector<int> fillers;
  for (int i = 0; i < 2; ++i) {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    (void)::connect(fd, reinterpret_cast<::sockaddr*>(&addr), sizeof addr);
    fillers.push_back(fd);
  }
  f.run_for(20ms);  // (lets the fillers' handshakes finish)
  const auto start = std::chrono::steady_clock::now();
  auto c = sluice::make_tcp_connection(f.loop, "127.0.0.1", port, {.connect_timeout = 200ms});
  ASSERT_TRUE(f.run_until([&] { return c->closed(); }));
  const auto took = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(c->errored(), std::errc::timed_out);
  EXPECT_EQ(c->error_message(),
            "connect 127.0.0.1:" + std::to_string(port) + ": Connection timed out");
  EXPECT_GE(took, 190ms);
  EXPECT_LT(took, 900ms);
  for (int fd : fillers) ::close(fd);
  ::close(lfd);
}

TEST(TcpSocket, HostNotFound) {
  loop_fixture f;
  // ".invalid" never resolves (RFC 6761); a resolver without a network says so at once.
  auto c =
      sluice::make_tcp_connection(f.loop, "no-such-host.invalid", 80, {.connect_timeout = 3000ms});
  ASSERT_TRUE(f.run_until([&] { return c->closed(); }, 4000ms));
  EXPECT_TRUE(c->errored());
  EXPECT_EQ(c->error_message().rfind("connect no-such-host.invalid:80: ", 0), 0u)
      << c->error_message();
}

}  // namespace
