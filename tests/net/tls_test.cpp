// TLS sockets: a handshake against a certificate the test makes with openssl(1), a byte-exact
// transfer, and handshake failures that say what failed (untrusted issuer, wrong host name).
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>

#include "net/net_support.hpp"
#include "sluice/net/server.hpp"
#include "sluice/net/socket.hpp"

namespace {

using namespace std::chrono_literals;
using net_test::loop_fixture;
using sluice::buffer;
namespace fs = std::filesystem;

class Tls : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = fs::temp_directory_path() / ("sluice-tls-" + std::to_string(::getpid()));
    fs::create_directories(dir_);
    const std::string cmd =
        "openssl req -x509 -newkey rsa:2048 -nodes -subj /CN=localhost -addext "
        "subjectAltName=DNS:localhost,IP:127.0.0.1 -days 2 -keyout '" +
        (dir_ / "k.pem").string() + "' -out '" + (dir_ / "c.pem").string() + "' 2>/dev/null";
    ASSERT_EQ(std::system(cmd.c_str()), 0);
  }
  static void TearDownTestSuite() { fs::remove_all(dir_); }

  static std::string cert() { return (dir_ / "c.pem").string(); }
  static std::string key() { return (dir_ / "k.pem").string(); }

  // A TLS echo server.
  std::shared_ptr<sluice::server> echo_server() {
    sluice::server_options o;
    o.tls = sluice::tls_server_options{.cert_file = cert(), .key_file = key()};
    auto srv = sluice::make_tcp_server(f_.loop, o);
    f_.track(srv);
    srv->on_connection([](std::shared_ptr<sluice::socket> s) { s->pipe(s); });
    EXPECT_FALSE(srv->listen()) << srv->error_message();
    return srv;
  }

  loop_fixture f_;
  static inline fs::path dir_;
};

TEST_F(Tls, EchoWithAVerifiedCertificate) {
  auto srv = echo_server();
  for (const char* host : {"127.0.0.1", "localhost"}) {
    auto c = sluice::make_tls_connection(f_.loop, host, srv->port(), {.ca_file = cert()});
    EXPECT_EQ(c->kind(), sluice::socket_kind::tls);
    std::string got;
    c->on_data([&](buffer&& b) { got += b.view(); });
    c->write(buffer::copy_of("secret "));  // before the handshake: buffered
    c->end(buffer::copy_of("message"));
    ASSERT_TRUE(f_.run_until([&] { return c->closed(); })) << host;
    EXPECT_FALSE(c->errored()) << c->error_message();
    EXPECT_EQ(got, "secret message") << host;
    EXPECT_EQ(c->bytes_written(), 14u);
  }
  ASSERT_TRUE(f_.run_until([&] { return srv->connections() == 0; }));
}

TEST_F(Tls, LargeTransferByteExact) {
  auto srv = echo_server();
  auto c = sluice::make_tls_connection(f_.loop, "127.0.0.1", srv->port(), {.ca_file = cert()});
  std::string sent(4 * 1024 * 1024, '\0');
  for (std::size_t i = 0; i < sent.size(); ++i) sent[i] = static_cast<char>(i * 7 + (i >> 12));
  std::string got;
  c->on_data([&](buffer&& b) { got += b.view(); });
  for (std::size_t off = 0; off < sent.size(); off += 64 * 1024)
    c->write(buffer(sent.substr(off, 64 * 1024)));
  c->end();
  ASSERT_TRUE(f_.run_until([&] { return c->closed(); }, 10000ms));
  EXPECT_FALSE(c->errored()) << c->error_message();
  EXPECT_TRUE(got == sent) << got.size();
}

TEST_F(Tls, WrongHostNameFailsClearly) {
  auto srv = echo_server();
  auto c = sluice::make_tls_connection(f_.loop, "127.0.0.1", srv->port(),
                                       {.ca_file = cert(), .server_name = "example.com"});
  bool write_failed = false;
  c->write(buffer::copy_of("never sent"), [&](std::error_code ec) { write_failed = bool(ec); });
  ASSERT_TRUE(f_.run_until([&] { return c->closed(); }));
  EXPECT_TRUE(write_failed);
  EXPECT_EQ(&c->errored().category(), &sluice::tls_verify_category());
  EXPECT_EQ(c->error_message(), "TLS handshake with 127.0.0.1:" + std::to_string(srv->port()) +
                                    ": certificate verify failed: hostname mismatch");
}

TEST_F(Tls, UntrustedCertificateFailsClearly) {
  auto srv = echo_server();
  // The system's CA store does not know the test's self-signed certificate.
  auto c = sluice::make_tls_connection(f_.loop, "localhost", srv->port());
  ASSERT_TRUE(f_.run_until([&] { return c->closed(); }));
  EXPECT_EQ(c->error_message().rfind("TLS handshake with ", 0), 0u) << c->error_message();
  EXPECT_NE(c->error_message().find(": certificate verify failed: self"), std::string::npos)
      << c->error_message();
}

TEST_F(Tls, MissingCaFileNamesTheFile) {
  auto c = sluice::make_tls_connection(f_.loop, "127.0.0.1", 1, {.ca_file = "/nonexistent.pem"});
  ASSERT_TRUE(f_.run_until([&] { return c->closed(); }));
  EXPECT_EQ(c->error_message().rfind("load CA file '/nonexistent.pem': ", 0), 0u)
      << c->error_message();
}

}  // namespace
