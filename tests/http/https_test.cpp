// HTTPS: our client and server over TLS with certificates the test makes with openssl(1), curl as
// a client of our server, Python's http.server wrapped in ssl as a server for our client, and the
// failures a user meets (wrong host name, untrusted certificate, plain HTTP on either side, a
// client that never starts its handshake, a certificate file that is not there).
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>

#include <boost/asio/io_context.hpp>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "http_support.hpp"
#include "sluice/io/file.hpp"

extern char** environ;

namespace {

using sluice::buffer;
using sluice::http_client_response;
using namespace sluice::test;
using namespace std::chrono_literals;
using res_ptr = std::shared_ptr<http_client_response>;

/// A child process started with sh -c, killed at the end.
class child {
 public:
  child(const std::string& cmd, std::uint16_t port) {
    const char* argv[] = {"sh", "-c", cmd.c_str(), nullptr};
    ::posix_spawnp(&pid_, "sh", nullptr, nullptr, const_cast<char**>(argv), environ);
    for (int i = 0; i < 200; ++i) {  // until it accepts connections
      raw_socket s(port);
      if (s.ok()) return;
      std::this_thread::sleep_for(25ms);
    }
  }
  child(const child&) = delete;
  child& operator=(const child&) = delete;
  ~child() {
    ::kill(pid_, SIGTERM);
    int st = 0;
    ::waitpid(pid_, &st, 0);
  }

 private:
  pid_t pid_ = -1;
};

class Https : public ::testing::Test {
 protected:
  // Two self-signed certificates (EC keys: quick to make): one for localhost, 127.0.0.1 and ::1,
  // one for another name only.
  static void SetUpTestSuite() {
    dir_ = std::make_unique<temp_dir>();
    for (auto [name, san] : {std::pair{"local", "DNS:localhost,IP:127.0.0.1,IP:::1"},
                             std::pair{"other", "DNS:other.example"}}) {
      const std::string cmd =
          "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 "
          "-nodes -days 2 -subj /CN=" +
          std::string(name) + " -addext subjectAltName=" + san + " -keyout '" + key(name) +
          "' -out '" + cert(name) + "' 2>/dev/null";
      ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
    }
  }
  static void TearDownTestSuite() { dir_.reset(); }
  static std::string cert(const std::string& name = "local") {
    return (*dir_ / (name + "-cert.pem")).string();
  }
  static std::string key(const std::string& name = "local") {
    return (*dir_ / (name + "-key.pem")).string();
  }

  void TearDown() override {
    for (auto& s : servers_) {
      bool closed = false;
      s->close([&](std::error_code) { closed = true; });
      run_until(
          io_, [&] { return closed; }, 5s);
    }
  }

  /// An HTTPS server on 127.0.0.1 (or `host`) that echoes the request body, or answers
  /// "METHOD TARGET HOST" when there is none.
  sluice::http_server& server(sluice::http_server_options o = {}, const std::string& host = "",
                              const std::string& cert_name = "local") {
    if (!o.tls)
      o.tls = sluice::tls_server_options{.cert_file = cert(cert_name), .key_file = key(cert_name)};
    servers_.push_back(sluice::make_http_server(loop_, o, [](auto req, auto res) {
      if (req->content_length().value_or(1) == 0 || req->method() == "GET") {
        res->end(buffer(req->method() + " " + req->target() + " " +
                        std::string(req->headers().get("Host").value_or(""))));
        return;
      }
      req->body()->pipe(res);
    }));
    auto& s = *servers_.back();
    const auto ec = s.listen(host.empty() ? "127.0.0.1" : host, 0);
    EXPECT_FALSE(ec) << s.error_message();
    return s;
  }
  std::string url(const sluice::http_server& s, const std::string& path = "/") {
    return "https://127.0.0.1:" + std::to_string(s.port()) + path;
  }

  std::pair<std::error_code, res_ptr> fetch(sluice::http_client_request req) {
    bool called = false;
    std::pair<std::error_code, res_ptr> out;
    sluice::http_fetch(loop_, std::move(req), [&](std::error_code ec, res_ptr r) {
      called = true;
      out = {ec, std::move(r)};
    });
    EXPECT_TRUE(run_until(
        io_, [&] { return called; }, 5s));
    return out;
  }
  /// fetch, then the whole body ("" and the error's text on failure).
  std::string get(sluice::http_client_request req, std::string* error = nullptr) {
    auto copy = req;
    auto [ec, res] = fetch(std::move(req));
    if (ec) {
      if (error != nullptr) *error = sluice::http_fetch_error_message(copy, ec);
      return {};
    }
    auto c = collect(res->body());
    EXPECT_TRUE(run_until(
        io_, [&] { return c->done(); }, 5s));
    EXPECT_TRUE(c->ended) << c->message;
    return c->data;
  }

  boost::asio::io_context io_;
  sluice::asio_loop loop_{io_};
  std::vector<std::unique_ptr<sluice::http_server>> servers_;
  static inline std::unique_ptr<temp_dir> dir_;
};

TEST_F(Https, StreamsABodyBothWaysAndReusesTheConnection) {
  auto& s = server();
  const std::string content = pattern(3 * 1024 * 1024 + 11, 5);
  write_file(*dir_ / "up.bin", content);
  auto agent = std::make_shared<sluice::http_agent>(loop_);
  for (bool with_length : {false, true}) {  // chunked both ways, then Content-Length both ways
    sluice::http_client_request req{
        .method = "POST", .url = url(s, "/echo"), .agent = agent, .tls = {.ca_file = cert()}};
    req.body = sluice::make_file_reader(loop_, *dir_ / "up.bin");
    if (with_length) req.content_length = content.size();
    EXPECT_TRUE(get(std::move(req)) == content);
    run_until(
        io_, [&] { return agent->idle_count() == 1; }, 2s);
  }
  EXPECT_EQ(get({.url = url(s, "/x?y"), .agent = agent, .tls = {.ca_file = cert()}}),
            "GET /x?y 127.0.0.1:" + std::to_string(s.port()));
  EXPECT_EQ(agent->connections_created(), 1u);
  EXPECT_EQ(agent->connections_reused(), 2u);
  EXPECT_EQ(s.tls_handshake_failures(), 0u);
}

TEST_F(Https, CurlIsAClientOfOurServer) {
  auto& s = server();
  const std::string base = "https://localhost:" + std::to_string(s.port());
  const std::string ca = " --cacert '" + cert() + "' ";
  auto r = run_command_with(io_, "curl -sS --http1.1" + ca + base + "/a --next" + ca +
                                     "-d 'posted body' " + base + "/b 2>&1");
  EXPECT_EQ(r.exit_code, 0) << r.out;
  EXPECT_EQ(r.out, "GET /a localhost:" + std::to_string(s.port()) + "posted body");
  // Without our CA, curl refuses our certificate.
  r = run_command_with(io_, "curl -sS " + base + "/ 2>&1");
  EXPECT_EQ(r.exit_code, 60) << r.out;  // CURLE_PEER_FAILED_VERIFICATION
}

TEST_F(Https, GetsAFileFromPythonsHttpServerOverTls) {
  write_file(*dir_ / "page.bin", pattern(1024 * 1024 + 3, 7));
  const auto port = free_port();
  const std::string py =
      "import http.server,ssl,functools\n"
      "h=functools.partial(http.server.SimpleHTTPRequestHandler,directory='" +
      dir_->path().string() +
      "')\n"
      "s=http.server.HTTPServer(('127.0.0.1'," +
      std::to_string(port) +
      "),h)\n"
      "c=ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)\n"
      "c.load_cert_chain('" +
      cert() + "','" + key() +
      "')\n"
      "s.socket=c.wrap_socket(s.socket,server_side=True)\n"
      "s.serve_forever()\n";
  write_file(*dir_ / "tls_server.py", py);
  child server("exec python3 " + (*dir_ / "tls_server.py").string() + " >/dev/null 2>&1", port);
  const std::string base = "https://localhost:" + std::to_string(port);
  EXPECT_TRUE(get({.url = base + "/page.bin", .tls = {.ca_file = cert()}}) ==
              pattern(1024 * 1024 + 3, 7));
}

TEST_F(Https, WrongHostNameFailsNamingTheHost) {
  auto& s = server({}, "", "other");  // a certificate for other.example only
  const std::string port = std::to_string(s.port());
  std::string error;
  EXPECT_EQ(
      get({.url = "https://localhost:" + port + "/", .tls = {.ca_file = cert("other")}}, &error),
      "");
  EXPECT_EQ(error, "TLS handshake with localhost:" + port +
                       ": certificate verify failed: hostname mismatch");
  auto [ec, res] = fetch({.url = url(s), .tls = {.ca_file = cert("other")}});
  EXPECT_EQ(&ec.category(), &sluice::tls_verify_category());
  EXPECT_EQ(
      sluice::http_fetch_error_message({.url = url(s)}, ec),
      "TLS handshake with 127.0.0.1:" + port + ": certificate verify failed: IP address mismatch");
  // The name to check can be given apart from the address connected to.
  EXPECT_EQ(
      get({.url = url(s, "/n"), .tls = {.ca_file = cert("other"), .server_name = "other.example"}}),
      "GET /n 127.0.0.1:" + std::to_string(s.port()));
}

TEST_F(Https, UntrustedCertificateFailsUnlessVerificationIsOff) {
  auto& s = server();
  std::string error;
  EXPECT_EQ(get({.url = url(s)}, &error), "");  // the system's store does not know our CA
  EXPECT_EQ(error.rfind("TLS handshake with 127.0.0.1:", 0), 0u) << error;
  EXPECT_NE(error.find("certificate verify failed: self"), std::string::npos) << error;
  EXPECT_EQ(get({.url = url(s, "/k"), .tls = {.verify_peer = false}}),
            "GET /k 127.0.0.1:" + std::to_string(s.port()));
  // A CA file that is not there is named.
  EXPECT_EQ(get({.url = url(s), .tls = {.ca_file = "/nonexistent/ca.pem"}}, &error), "");
  EXPECT_EQ(error.rfind("load CA file '/nonexistent/ca.pem': ", 0), 0u) << error;
}

TEST_F(Https, PlainHttpOnEitherSideFailsCleanly) {
  auto& s = server();
  const auto started = std::chrono::steady_clock::now();
  // A plain client to the HTTPS server: the server's handshake fails and it closes.
  auto [ec, res] = fetch({.url = "http://127.0.0.1:" + std::to_string(s.port()) + "/"});
  EXPECT_EQ(ec, sluice::errc::premature_close) << ec.message();
  EXPECT_TRUE(run_until(
      io_, [&] { return s.tls_handshake_failures() == 1; }, 2s));
  // An HTTPS client to a plain server: the handshake reads an HTTP 400 and fails.
  auto plain = sluice::make_http_server(loop_, {}, [](auto, auto res) { res->end(); });
  ASSERT_FALSE(plain->listen("127.0.0.1", 0));
  std::string error;
  EXPECT_EQ(get({.url = "https://127.0.0.1:" + std::to_string(plain->port()) + "/",
                 .tls = {.verify_peer = false}},
                &error),
            "");
  EXPECT_EQ(error.rfind("TLS handshake with 127.0.0.1:", 0), 0u) << error;
  EXPECT_LT(std::chrono::steady_clock::now() - started, 2s);
  servers_.push_back(std::move(plain));
}

TEST_F(Https, AgentNeverMixesHttpAndHttpsToOnePort) {
  auto& s = server();
  auto agent = std::make_shared<sluice::http_agent>(loop_);
  EXPECT_NE(get({.url = url(s), .agent = agent, .tls = {.ca_file = cert()}}), "");
  ASSERT_TRUE(run_until(
      io_, [&] { return agent->idle_count() == 1; }, 2s));
  // Same host and port, plain http: not the idle TLS connection (which would have answered).
  auto [ec, res] =
      fetch({.url = "http://127.0.0.1:" + std::to_string(s.port()) + "/", .agent = agent});
  EXPECT_EQ(ec, sluice::errc::premature_close) << ec.message();
  EXPECT_EQ(agent->connections_created(), 2u);  // a new (plain) connection, which the server closed
  EXPECT_EQ(agent->connections_reused(), 0u);
  EXPECT_EQ(agent->idle_count(), 1u);  // the TLS one, still idle
  EXPECT_NE(get({.url = url(s), .agent = agent, .tls = {.ca_file = cert()}}), "");
  EXPECT_EQ(agent->connections_reused(), 1u);
}

TEST_F(Https, FailedHandshakesHandTheirSlotToTheNextRequest) {
  auto& s = server();
  auto agent = std::make_shared<sluice::http_agent>(
      loop_, sluice::http_agent_options{.max_sockets_per_host = 1});
  int failed = 0;
  for (int i = 0; i < 4; ++i)  // untrusted: every handshake fails, one at a time
    sluice::http_fetch(loop_, {.url = url(s), .agent = agent},
                       [&](std::error_code ec, res_ptr) { failed += ec ? 1 : 0; });
  EXPECT_TRUE(run_until(
      io_, [&] { return failed == 4; }, 3s))
      << failed;
  // And the slot is free for a request that succeeds.
  EXPECT_NE(get({.url = url(s), .agent = agent, .tls = {.ca_file = cert()}}), "");
}

TEST_F(Https, HandshakeTimeoutClosesASilentClient) {
  auto& s = server({.headers_timeout = 150ms});
  raw_socket silent(s.port());
  ASSERT_TRUE(silent.ok());
  bool eof = false;
  const auto started = std::chrono::steady_clock::now();
  read_while_running(
      io_, silent, [](const std::string&) { return false; }, nullptr, &eof, 3s);
  EXPECT_TRUE(eof);
  EXPECT_LT(std::chrono::steady_clock::now() - started, 2s);
  EXPECT_EQ(s.tls_handshake_failures(), 1u);
  EXPECT_TRUE(run_until(
      io_, [&] { return s.connection_count() == 0; }, 2s));
}

TEST_F(Https, MissingCertificateOrKeyIsNamedByListen) {
  auto a = sluice::make_http_server(
      loop_,
      {.tls = sluice::tls_server_options{.cert_file = "/nonexistent/c.pem", .key_file = key()}},
      [](auto, auto) {});
  EXPECT_TRUE(a->listen("127.0.0.1", 0));
  EXPECT_EQ(a->error_message().rfind("load certificate '/nonexistent/c.pem': ", 0), 0u)
      << a->error_message();
  auto b = sluice::make_http_server(
      loop_, {.tls = sluice::tls_server_options{.cert_file = cert(), .key_file = cert("other")}},
      [](auto, auto) {});
  EXPECT_TRUE(b->listen("127.0.0.1", 0));
  EXPECT_EQ(b->error_message().rfind("load private key '" + cert("other") + "': ", 0), 0u)
      << b->error_message();
}

TEST_F(Https, Ipv6HostKeepsItsBrackets) {
  sluice::http_server_options o;
  o.tls = sluice::tls_server_options{.cert_file = cert(), .key_file = key()};
  auto s = sluice::make_http_server(loop_, o, [](auto req, auto res) {
    res->end(buffer(std::string(req->headers().get("Host").value_or(""))));
  });
  if (s->listen("::1", 0)) GTEST_SKIP() << "no IPv6 loopback here: " << s->error_message();
  const std::string hp = "[::1]:" + std::to_string(s->port());
  EXPECT_EQ(get({.url = "https://" + hp + "/", .tls = {.ca_file = cert()}}), hp);
  servers_.push_back(std::move(s));
}

TEST_F(Https, NoDescriptorLeftAfter200Requests) {
  auto& s = server();
  const auto before = open_fd_count();
  auto agent = std::make_shared<sluice::http_agent>(loop_);
  const std::string host = " 127.0.0.1:" + std::to_string(s.port());
  int ok = 0;
  int done = 0;
  // One request after the other, each started when the previous body ended; half on connections
  // of their own (a handshake each), half through the agent.
  std::function<void(int)> next = [&](int i) {
    if (i == 200) return;
    sluice::http_client_request req{.url = url(s, "/" + std::to_string(i)),
                                    .tls = {.ca_file = cert()}};
    if (i % 2 == 1) req.agent = agent;
    sluice::http_fetch(loop_, std::move(req), [&, i](std::error_code ec, res_ptr r) {
      if (ec) {
        ADD_FAILURE() << i << ": " << ec.message();
        ++done;
        next(i + 1);
        return;
      }
      auto c = collect(r->body());
      r->body()->on_end([&, i, c] {
        ok += c->data == "GET /" + std::to_string(i) + host ? 1 : 0;
        ++done;
        next(i + 1);
      });
      r->body()->on_error([&, i](std::error_code) {
        ++done;
        next(i + 1);
      });
    });
  };
  next(0);
  EXPECT_TRUE(run_until(
      io_, [&] { return done == 200; }, 10s));
  EXPECT_EQ(ok, 200);
  agent->close_idle();
  EXPECT_TRUE(run_until(
      io_, [&] { return s.connection_count() == 0; }, 3s));
  EXPECT_EQ(open_fd_count(), before);
}

}  // namespace
