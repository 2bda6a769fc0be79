// sluice/http/client.hpp against real servers: Python's http.server, Node's http, our own
// server, and scripted loopback servers that cut the body short, reset, or say nothing.
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>

#include <boost/asio/io_context.hpp>
#include <memory>
#include <string>
#include <thread>

#include "http_support.hpp"
#include "sluice/io/file.hpp"

extern char** environ;

namespace {

namespace asio = boost::asio;
using sluice::buffer;
using sluice::http_client_response;
using namespace sluice::test;
using namespace std::chrono_literals;

using res_ptr = std::shared_ptr<http_client_response>;

// A listening socket on a free loopback port.
int listen_any(std::uint16_t& port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  ::listen(fd, 16);
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  port = ntohs(a.sin_port);
  return fd;
}

// A server that runs `script` on the first connection, on a thread.
class scripted_server {
 public:
  explicit scripted_server(std::function<void(int)> script) {
    lfd_ = listen_any(port_);
    thread_ = std::thread([this, script = std::move(script)] {
      ::pollfd p{lfd_, POLLIN, 0};
      if (::poll(&p, 1, 10000) <= 0) return;
      const int c = ::accept(lfd_, nullptr, nullptr);
      if (c < 0) return;
      char buf[65536];
      (void)::recv(c, buf, sizeof buf, 0);  // the request head
      script(c);
      ::close(c);
    });
  }
  ~scripted_server() {
    stop_ = true;
    thread_.join();
    ::close(lfd_);
  }
  [[nodiscard]] std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  [[nodiscard]] std::uint16_t port() const { return port_; }
  std::atomic<bool> stop_{false};

 private:
  int lfd_ = -1;
  std::uint16_t port_ = 0;
  std::thread thread_;
};

void send_text(int fd, const std::string& s) { (void)::send(fd, s.data(), s.size(), MSG_NOSIGNAL); }

// A child process (python, node) started with sh -c, killed at the end.
class child {
 public:
  child(const std::string& cmd, std::uint16_t port) {
    const char* argv[] = {"sh", "-c", cmd.c_str(), nullptr};
    ::posix_spawnp(&pid_, "sh", nullptr, nullptr, const_cast<char**>(argv), environ);
    // Wait until it accepts connections.
    for (int i = 0; i < 200; ++i) {
      raw_socket s(port);
      if (s.ok()) return;
      std::this_thread::sleep_for(25ms);
    }
  }
  ~child() {
    ::kill(pid_, SIGTERM);
    int st = 0;
    ::waitpid(pid_, &st, 0);
  }

 private:
  pid_t pid_ = -1;
};

std::uint16_t free_port() {
  std::uint16_t p = 0;
  ::close(listen_any(p));
  return p;
}

struct client_env {
  client_env() : loop(io) {}
  // Sends `req`; runs the loop until the head (or an error) is there.
  std::pair<std::error_code, res_ptr> fetch(sluice::http_client_request req) {
    bool called = false;
    std::pair<std::error_code, res_ptr> out;
    sluice::http_fetch(loop, std::move(req), [&](std::error_code ec, res_ptr r) {
      called = true;
      out = {ec, std::move(r)};
    });
    run_until(io, [&] { return called; });
    EXPECT_TRUE(called);
    return out;
  }
  // fetch, then the whole body.
  std::pair<res_ptr, std::shared_ptr<collected>> get(sluice::http_client_request req) {
    auto [ec, res] = fetch(std::move(req));
    EXPECT_FALSE(ec) << ec.message();
    if (!res) return {};
    auto c = collect(res->body());
    run_until(io, [&] { return c->done(); });
    return {res, c};
  }
  asio::io_context io;
  sluice::asio_loop loop;
};

TEST(HttpClient, GetsAFileFromPythonHttpServer) {
  temp_dir dir;
  const std::string content = pattern(3 * 1024 * 1024 + 17, 3);
  write_file(dir / "data.bin", content);
  const auto port = free_port();
  child py("exec python3 -m http.server " + std::to_string(port) +
               " --bind 127.0.0.1 --directory " + dir.path().string() + " >/dev/null 2>&1",
           port);
  client_env env;
  auto [res, body] = env.get({.url = "http://127.0.0.1:" + std::to_string(port) + "/data.bin"});
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status(), 200u);
  EXPECT_EQ(res->content_length(), content.size());
  EXPECT_TRUE(body->ended) << body->message;
  EXPECT_TRUE(body->data == content);
  auto [res404, body404] = env.get({.url = "http://127.0.0.1:" + std::to_string(port) + "/nope"});
  ASSERT_TRUE(res404);
  EXPECT_EQ(res404->status(), 404u);
}

TEST(HttpClient, StreamsUploadsToNodeAndGunzips) {
  temp_dir dir;
  const std::string content = pattern(2 * 1024 * 1024 + 5, 9);
  write_file(dir / "up.bin", content);
  const auto port = free_port();
  const std::string js =
      "const http=require('http'),zlib=require('zlib'),crypto=require('crypto');"
      "http.createServer((q,r)=>{if(q.url==='/gz'){r.writeHead(200,{'Content-Encoding':'gzip'});"
      "r.end(zlib.gzipSync('compressed '.repeat(10000)));return;}"
      "const h=crypto.createHash('sha256');let n=0;q.on('data',d=>{h.update(d);n+=d.length;});"
      "q.on('end',()=>r.end(n+' '+h.digest('hex')+' '+(q.headers['transfer-encoding']||'')));})"
      ".listen(" +
      std::to_string(port) + ",'127.0.0.1');";
  write_file(dir / "server.js", js);
  child node("exec node " + (dir / "server.js").string(), port);
  const auto expected = run_command("sha256sum " + (dir / "up.bin").string()).out.substr(0, 64);
  client_env env;
  const std::string base = "http://127.0.0.1:" + std::to_string(port);
  // Chunked (no length), then with Content-Length.
  for (bool with_length : {false, true}) {
    sluice::http_client_request req{.method = "POST", .url = base + "/up"};
    req.body = sluice::make_file_reader(env.loop, dir / "up.bin");
    if (with_length) req.content_length = content.size();
    auto [res, body] = env.get(std::move(req));
    ASSERT_TRUE(res);
    EXPECT_EQ(body->data,
              std::to_string(content.size()) + " " + expected + (with_length ? " " : " chunked"));
  }
  auto [res, body] = env.get({.url = base + "/gz", .decompress = true});
  ASSERT_TRUE(res);
  std::string expect_text;
  for (int i = 0; i < 10000; ++i) expect_text += "compressed ";
  EXPECT_TRUE(body->data == expect_text);
}

TEST(HttpClient, AgentReusesKeepAliveConnections) {
  client_env env;
  auto server = sluice::make_http_server(
      env.loop, {}, [](auto req, auto res) { res->end(buffer::copy_of("hi " + req->target())); });
  ASSERT_FALSE(server->listen("127.0.0.1", 0));
  const std::string base = "http://127.0.0.1:" + std::to_string(server->port());
  auto agent = std::make_shared<sluice::http_agent>(env.loop);
  for (int i = 0; i < 3; ++i) {
    auto [res, body] = env.get({.url = base + "/" + std::to_string(i), .agent = agent});
    ASSERT_TRUE(res);
    EXPECT_EQ(body->data, "hi /" + std::to_string(i));
    run_until(
        env.io, [&] { return agent->idle_count() == 1; }, 2s);
  }
  EXPECT_EQ(agent->connections_created(), 1u);
  EXPECT_EQ(agent->connections_reused(), 2u);
  // A bound of one socket: parallel requests wait for it.
  auto one = std::make_shared<sluice::http_agent>(
      env.loop, sluice::http_agent_options{.max_sockets_per_host = 1});
  int done = 0;
  std::vector<std::shared_ptr<collected>> bodies;
  for (int i = 0; i < 4; ++i)
    sluice::http_fetch(env.loop, {.url = base + "/p", .agent = one},
                       [&](std::error_code ec, res_ptr r) {
                         EXPECT_FALSE(ec);
                         if (r) bodies.push_back(collect(r->body()));
                         ++done;
                       });
  run_until(env.io, [&] {
    return done == 4 && std::all_of(bodies.begin(), bodies.end(), [](auto& b) { return b->ended; });
  });
  EXPECT_EQ(one->connections_created(), 1u);
  EXPECT_EQ(server->request_count(), 7u);
  agent->close_idle();
  one->close_idle();
  bool closed = false;
  server->close([&](std::error_code) { closed = true; });
  run_until(
      env.io, [&] { return closed; }, 5s);
}

// A keep-alive server that closes a connection just as its next request arrives (as a server
// whose keep-alive timeout runs out at that moment does): connection 1 answers one request,
// reads the next and closes without a word; connection 2 (if one comes within 2 s) answers.
// Records each request line per connection.
class closing_server {
 public:
  closing_server() {
    lfd_ = listen_any(port_);
    thread_ = std::thread([this] {
      const int c1 = accept_within(5000);
      if (c1 < 0) return;
      lines_.push_back("1 " + read_request_line(c1));
      send_text(c1, "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nConnection: keep-alive\r\n\r\none");
      lines_.push_back("1 " + read_request_line(c1));
      ::close(c1);  // the request read, never answered
      const int c2 = accept_within(2000);
      if (c2 < 0) return;
      lines_.push_back("2 " + read_request_line(c2));
      send_text(c2, "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nConnection: close\r\n\r\ntwo");
      ::close(c2);
    });
  }
  ~closing_server() {
    if (thread_.joinable()) thread_.join();
    ::close(lfd_);
  }
  [[nodiscard]] std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  /// GET /a through `agent`: answered "one", and its connection back in the agent, idle.
  bool first_request_answered(client_env& env, const std::shared_ptr<sluice::http_agent>& agent) {
    auto [res, body] = env.get({.url = url() + "/a", .agent = agent});
    return res && body->data == "one" &&
           run_until(
               env.io, [&] { return agent->idle_count() == 1; }, 2s);
  }
  /// The request lines seen, "CONNECTION METHOD TARGET", once the server is done.
  const std::vector<std::string>& lines() {
    if (thread_.joinable()) thread_.join();
    return lines_;
  }

 private:
  int accept_within(int ms) const {
    ::pollfd p{lfd_, POLLIN, 0};
    if (::poll(&p, 1, ms) <= 0) return -1;
    return ::accept(lfd_, nullptr, nullptr);
  }
  static std::string read_request_line(int fd) {
    std::string got;
    char buf[4096];
    while (got.find("\r\n\r\n") == std::string::npos) {
      const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
      if (n <= 0) break;
      got.append(buf, static_cast<std::size_t>(n));
    }
    const auto eol = got.find(" HTTP/1.1\r\n");
    return eol == std::string::npos ? got : got.substr(0, eol);
  }
  int lfd_ = -1;
  std::uint16_t port_ = 0;
  std::vector<std::string> lines_;
  std::thread thread_;
};

TEST(HttpClient, AnIdempotentRequestOnAConnectionTheServerClosedIsSentAgainOnce) {
  closing_server srv;
  client_env env;
  auto agent = std::make_shared<sluice::http_agent>(env.loop);
  ASSERT_TRUE(srv.first_request_answered(env, agent));
  // The idle connection goes out with GET /b; the server reads it and closes.
  auto [second, two] = env.get({.url = srv.url() + "/b", .agent = agent});
  ASSERT_TRUE(second);
  EXPECT_EQ(second->status(), 200u);
  EXPECT_EQ(two->data, "two");
  EXPECT_EQ(agent->requests_retried(), 1u);
  EXPECT_EQ(agent->connections_created(), 2u);
  EXPECT_EQ(srv.lines(), (std::vector<std::string>{"1 GET /a", "1 GET /b", "2 GET /b"}));
}

TEST(HttpClient, APostOnAConnectionTheServerClosedFailsAndIsNotSentAgain) {
  closing_server srv;
  client_env env;
  auto agent = std::make_shared<sluice::http_agent>(env.loop);
  ASSERT_TRUE(srv.first_request_answered(env, agent));
  // POST is not idempotent: the server may have acted on it before it closed.
  auto [ec, res] = env.fetch({.method = "POST", .url = srv.url() + "/order", .agent = agent});
  EXPECT_EQ(ec, sluice::errc::premature_close);
  EXPECT_FALSE(res);
  EXPECT_EQ(agent->requests_retried(), 0u);
  EXPECT_EQ(srv.lines(), (std::vector<std::string>{"1 GET /a", "1 POST /order"}));
}

TEST(HttpClient, TruncatedBodyIsAnErrorNotAnEnd) {
  scripted_server srv([](int fd) {
    send_text(fd, "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n" + std::string(500, 'x'));
  });
  client_env env;
  auto [res, body] = env.get({.url = srv.url() + "/"});
  ASSERT_TRUE(res);
  EXPECT_FALSE(body->ended);
  EXPECT_EQ(body->error, sluice::errc::premature_close);
  EXPECT_NE(body->message.find("response body truncated: 500 of 1000 bytes"), std::string::npos)
      << body->message;
}

TEST(HttpClient, ResetIsAnErrorOnTheBody) {
  scripted_server srv([](int fd) {
    send_text(fd, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n");
    std::this_thread::sleep_for(50ms);
    ::linger l{1, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
  });
  client_env env;
  auto [res, body] = env.get({.url = srv.url() + "/"});
  ASSERT_TRUE(res);
  EXPECT_FALSE(body->ended);
  EXPECT_EQ(body->error, std::errc::connection_reset);
  EXPECT_EQ(body->message,
            "read from 127.0.0.1:" + std::to_string(srv.port()) + ": Connection reset by peer");
}

TEST(HttpClient, TimeoutFailsTheRequestOrTheBody) {
  client_env env;
  {
    scripted_server silent([](int) { std::this_thread::sleep_for(600ms); });
    auto [ec, res] = env.fetch({.url = silent.url() + "/", .timeout = 200ms});
    EXPECT_EQ(ec, std::errc::timed_out);
    EXPECT_FALSE(res);
  }
  {
    scripted_server stalls([](int fd) {
      send_text(fd, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nab");
      std::this_thread::sleep_for(600ms);
    });
    auto [res, body] = env.get({.url = stalls.url() + "/", .timeout = 200ms});
    ASSERT_TRUE(res);
    EXPECT_EQ(body->error, std::errc::timed_out);
    EXPECT_EQ(body->data, "ab");
  }
}

TEST(HttpClient, ConnectionRefusedAndBadUrls) {
  client_env env;
  const auto port = free_port();
  auto [ec, res] = env.fetch({.url = "http://127.0.0.1:" + std::to_string(port) + "/"});
  EXPECT_EQ(ec, std::errc::connection_refused);
  EXPECT_EQ(ec.message(), "Connection refused");
  EXPECT_FALSE(res);
  EXPECT_EQ(env.fetch({.url = "ftp://127.0.0.1/"}).first, sluice::errc::invalid_argument);
  EXPECT_EQ(env.fetch({.url = "not a url"}).first, sluice::errc::invalid_argument);
}

TEST(HttpClient, DecompressesOurServersGzipAndStreamsAnUploadToIt) {
  client_env env;
  auto server = sluice::make_http_server(env.loop, {.gzip = true}, [](auto req, auto res) {
    res->set_header("Content-Type", "text/plain");
    req->body()->pipe(res);
  });
  ASSERT_FALSE(server->listen("127.0.0.1", 0));
  temp_dir dir;
  std::string text;
  while (text.size() < 3 * 1024 * 1024) text += "line " + std::to_string(text.size()) + "\n";
  write_file(dir / "t.txt", text);
  sluice::http_client_request req{.method = "PUT",
                                  .url = "http://127.0.0.1:" + std::to_string(server->port()),
                                  .decompress = true};
  req.body = sluice::make_file_reader(env.loop, dir / "t.txt");
  auto [res, body] = env.get(std::move(req));
  ASSERT_TRUE(res);
  EXPECT_EQ(res->headers().get("Content-Encoding"), "gzip");
  EXPECT_TRUE(body->ended) << body->message;
  EXPECT_TRUE(body->data == text);
  bool closed = false;
  server->close([&](std::error_code) { closed = true; });
  run_until(
      env.io, [&] { return closed; }, 5s);
}

TEST(HttpClient, UnreadBodyHoldsTheServerBack) {
  client_env env;
  bool saw_false = false;
  std::size_t written = 0;
  auto server = sluice::make_http_server(env.loop, {}, [&](auto, auto res) {
    auto pump = std::make_shared<std::function<void()>>();
    *pump = [&, w = std::weak_ptr(res)] {  // weak: the drain listener must not own res
      auto res = w.lock();
      if (!res) return;
      while (written < (24u << 20)) {
        written += 64 * 1024;
        if (!res->write(buffer(std::string(64 * 1024, 'z')))) {
          saw_false = true;
          return;
        }
      }
      res->end();
    };
    res->on_drain([pump] { (*pump)(); });
    (*pump)();
  });
  ASSERT_FALSE(server->listen("127.0.0.1", 0));
  auto [ec, res] = env.fetch({.url = "http://127.0.0.1:" + std::to_string(server->port())});
  ASSERT_TRUE(res);
  std::size_t got = 0;
  bool paused = false;
  auto body = res->body();
  body->on_data([&](buffer&& b) {
    got += b.size();
    if (got > (1u << 20) && !paused) {  // the consumer stops after 1 MiB
      paused = true;
      body->pause();
    }
  });
  run_until(
      env.io, [] { return false; }, 500ms);
  EXPECT_TRUE(saw_false);
  EXPECT_LT(written, 20u << 20);  // socket buffers and highWaterMarks, not the whole body
  const auto before = written;
  run_until(
      env.io, [] { return false; }, 200ms);
  EXPECT_EQ(written, before);
  body->resume();  // and the flow goes on to the end
  bool ended = false;
  body->on_end([&] { ended = true; });
  run_until(
      env.io, [&] { return ended; }, 30s);
  EXPECT_TRUE(ended);
  EXPECT_EQ(got, written);
  bool closed = false;
  server->close([&](std::error_code) { closed = true; });
  run_until(
      env.io, [&] { return closed; }, 5s);
}

}  // namespace
