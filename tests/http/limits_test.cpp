// http_server_options limits, each with its status code: 431, 413 (server-wide and per
// request), 400 then close, slow headers closed while another client is served, idle
// keep-alive closed, requests per connection, connections (503), the request timeout (408 for
// a body trickled in; its clock stops while the handler holds the body back) and the idle
// timeout (503 for a handler that never answers, a reset for a client that stops reading).
#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <functional>
#include <memory>
#include <string>
#include <system_error>
#include <vector>

#include "http_support.hpp"

namespace {

namespace asio = boost::asio;
using sluice::buffer;
using sluice::http_request;
using sluice::http_response;
using namespace sluice::test;
using namespace std::chrono_literals;

using req_ptr = std::shared_ptr<http_request>;
using res_ptr = std::shared_ptr<http_response>;

// Reads the body to its end (or error), then answers how many bytes came.
void counting_handler(const req_ptr& req, const res_ptr& res) {
  if (req->target() == "/small") req->set_body_limit(10);
  auto n = std::make_shared<std::size_t>(0);
  req->on_data([n](buffer&& b) { *n += b.size(); });
  req->on_end([n, res] { res->end(buffer::copy_of("got " + std::to_string(*n))); });
}

struct env {
  explicit env(sluice::http_server_options o, sluice::http_handler h = counting_handler)
      : loop(io), server(sluice::make_http_server(loop, o, std::move(h))) {
    EXPECT_FALSE(server->listen("127.0.0.1", 0));
    port = server->port();
    url = "http://127.0.0.1:" + std::to_string(port);
  }
  ~env() {
    bool closed = false;
    server->close([&](std::error_code) { closed = true; });
    run_until(
        io, [&] { return closed; }, 5s);
  }
  std::string code(const std::string& args) {
    return run_command_with(io, "curl -s --max-time 20 -o /dev/null -w '%{http_code}' " + args).out;
  }
  asio::io_context io;
  sluice::asio_loop loop;
  std::unique_ptr<sluice::http_server> server;
  std::uint16_t port = 0;
  std::string url;
};

bool has_head(const std::string& g) { return g.find("\r\n\r\n") != std::string::npos; }

TEST(HttpLimits, HeaderTooLargeIs431) {
  env e({});
  EXPECT_EQ(e.code("-H 'X-Big: " + std::string(20000, 'a') + "' " + e.url + "/"), "431");
  EXPECT_EQ(e.code("-H 'X-Ok: " + std::string(8000, 'a') + "' " + e.url + "/"), "200");
  env small({.max_header_size = 1024});
  EXPECT_EQ(small.code("-H 'X-Big: " + std::string(2000, 'a') + "' " + small.url + "/"), "431");
}

TEST(HttpLimits, BodyTooLargeIs413ServerWideAndPerRequest) {
  env e({.max_body_size = 1000});
  EXPECT_EQ(e.code("--data-binary " + std::string(500, 'a') + " " + e.url + "/"), "200");
  EXPECT_EQ(e.code("--data-binary " + std::string(1500, 'a') + " " + e.url + "/"), "413");
  EXPECT_EQ(e.code("--data-binary " + std::string(50, 'a') + " " + e.url + "/small"), "413");
  // Chunked: the limit is found while reading.
  raw_socket s(e.port);
  s.send_all("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n");
  for (int i = 0; i < 4; ++i) s.send_all("190\r\n" + std::string(400, 'c') + "\r\n");
  bool eof = false;
  auto got = read_while_running(
      e.io, s, [](const std::string&) { return false; }, nullptr, &eof);
  EXPECT_TRUE(got.starts_with("HTTP/1.1 413")) << got;
  EXPECT_TRUE(eof);
}

TEST(HttpLimits, MalformedRequestIs400ThenClose) {
  env e({});
  raw_socket s(e.port);
  s.send_all("THIS IS NOT HTTP\r\n\r\n");
  bool eof = false;
  auto got = read_while_running(
      e.io, s, [](const std::string&) { return false; }, nullptr, &eof);
  EXPECT_TRUE(got.starts_with("HTTP/1.1 400 Bad Request")) << got;
  EXPECT_NE(got.find("Connection: close"), std::string::npos);
  EXPECT_TRUE(eof);
}

TEST(HttpLimits, SlowHeadersAreClosedWhileOthersAreServed) {
  env e({.headers_timeout = 400ms});
  raw_socket slow(e.port);
  slow.send_all("GET / HTTP/1.1\r\nHost: x\r\nX-Slow: ");  // and then nothing
  const auto start = std::chrono::steady_clock::now();
  // A normal client is served meanwhile.
  EXPECT_EQ(e.code(e.url + "/"), "200");
  bool eof = false;
  int err = 0;
  auto got = read_while_running(
      e.io, slow, [](const std::string&) { return false; }, &err, &eof);
  const auto waited = std::chrono::steady_clock::now() - start;
  EXPECT_TRUE(eof || err != 0);
  EXPECT_TRUE(got.empty() || got.starts_with("HTTP/1.1 408")) << got;
  EXPECT_GE(waited, 350ms);
  EXPECT_LT(waited, 3s);
}

TEST(HttpLimits, IdleKeepAliveConnectionIsClosed) {
  env e({.keep_alive_timeout = 300ms}, [](const req_ptr&, const res_ptr& res) { res->end(); });
  raw_socket s(e.port);
  s.send_all("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
  auto got = read_while_running(e.io, s, has_head);
  EXPECT_NE(got.find("Connection: keep-alive"), std::string::npos) << got;
  const auto start = std::chrono::steady_clock::now();
  bool eof = false;
  read_while_running(
      e.io, s, [](const std::string&) { return false; }, nullptr, &eof);
  EXPECT_TRUE(eof);
  EXPECT_GE(std::chrono::steady_clock::now() - start, 250ms);
}

TEST(HttpLimits, MaxRequestsPerConnection) {
  env e({.max_requests_per_connection = 2},
        [](const req_ptr&, const res_ptr& res) { res->end(buffer::copy_of("ok")); });
  raw_socket s(e.port);
  s.send_all(
      "GET /1 HTTP/1.1\r\nHost: x\r\n\r\nGET /2 HTTP/1.1\r\nHost: x\r\n\r\n"
      "GET /3 HTTP/1.1\r\nHost: x\r\n\r\n");
  bool eof = false;
  auto got = read_while_running(
      e.io, s, [](const std::string&) { return false; }, nullptr, &eof);
  EXPECT_TRUE(eof);
  const auto first = got.find("Connection: keep-alive");
  const auto second = got.find("Connection: close");
  EXPECT_NE(first, std::string::npos) << got;
  EXPECT_NE(second, std::string::npos) << got;
  EXPECT_LT(first, second);
  EXPECT_EQ(e.server->request_count(), 2u);
}

TEST(HttpLimits, MaxConnectionsAnswers503) {
  env e({.max_connections = 1}, [](const req_ptr&, const res_ptr& res) { res->end(); });
  raw_socket first(e.port);
  first.send_all("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
  read_while_running(e.io, first, has_head);  // the first connection is open and kept alive
  raw_socket second(e.port);
  bool eof = false;
  auto got = read_while_running(
      e.io, second, [](const std::string&) { return false; }, nullptr, &eof);
  EXPECT_TRUE(got.starts_with("HTTP/1.1 503")) << got;
  EXPECT_TRUE(eof);
}

// What a stream's failure said.
struct failure {
  std::error_code ec;
  std::string message;
};

template <class Stream>
void watch(const std::shared_ptr<Stream>& s, const std::shared_ptr<failure>& f) {
  s->on_error([f, w = std::weak_ptr(s)](std::error_code ec) {
    f->ec = ec;
    if (auto p = w.lock()) f->message = p->error_message();
  });
}

TEST(HttpLimits, ABodyTrickledInIs408AfterTheRequestTimeout) {
  auto req_failure = std::make_shared<failure>();
  std::size_t body_bytes = 0;
  env e({.request_timeout = 400ms}, [&](const req_ptr& req, const res_ptr& res) {
    watch(req, req_failure);
    req->on_data([&](buffer&& b) { body_bytes += b.size(); });
    req->on_end([res] { res->end(buffer::copy_of("whole")); });
  });
  raw_socket s(e.port);
  s.send_all("POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n");
  // A byte every 50 ms: the connection is never idle, the body never complete (slow POST).
  const auto start = std::chrono::steady_clock::now();
  std::string got;
  bool eof = false;
  int err = 0;
  for (int i = 0; i < 200 && !eof && err == 0; ++i) {
    s.send_all("b");
    got += read_while_running(
        e.io, s, [](const std::string&) { return false; }, &err, &eof, 50ms);
  }
  const auto waited = std::chrono::steady_clock::now() - start;
  EXPECT_TRUE(got.starts_with("HTTP/1.1 408 Request Timeout")) << got;
  EXPECT_NE(got.find("Connection: close"), std::string::npos) << got;
  EXPECT_TRUE(eof || err != 0);
  EXPECT_GE(waited, 350ms);
  EXPECT_LT(waited, 3s);
  EXPECT_GT(body_bytes, 0u);
  EXPECT_LT(body_bytes, 1000u);
  EXPECT_EQ(req_failure->ec, std::errc::timed_out);
  EXPECT_NE(req_failure->message.find("request from 127.0.0.1:"), std::string::npos)
      << req_failure->message;
  EXPECT_NE(req_failure->message.find("not received within 400 ms (request_timeout)"),
            std::string::npos)
      << req_failure->message;
  EXPECT_TRUE(run_until(
      e.io, [&] { return e.server->connection_count() == 0; }, 5s));
}

TEST(HttpLimits, TheRequestClockStopsWhileTheHandlerHoldsTheBodyBack) {
  // The whole body is sent at once; the handler leaves it unread for three request timeouts,
  // then reads it: the time it held the body back is not the client's.
  env e({.request_timeout = 300ms}, [&](const req_ptr& req, const res_ptr& res) {
    (void)e.loop.start_timer(900ms, [req, res] {
      auto n = std::make_shared<std::size_t>(0);
      req->on_data([n](buffer&& b) { *n += b.size(); });
      req->on_end([n, res] { res->end(buffer::copy_of("got " + std::to_string(*n))); });
    });
  });
  sluice::test::temp_dir dir;
  const std::string body = (dir / "body").string();
  sluice::test::write_file(body, std::string(256 * 1024, 'u'));
  const auto start = std::chrono::steady_clock::now();
  const auto r = run_command_with(
      e.io, "curl -s --max-time 20 -w ' %{http_code}' --data-binary @" + body + " " + e.url + "/");
  EXPECT_EQ(r.out, "got 262144 200");
  EXPECT_GE(std::chrono::steady_clock::now() - start, 850ms);
}

TEST(HttpLimits, AHandlerThatNeverAnswersIs503AfterTheIdleTimeout) {
  auto res_failure = std::make_shared<failure>();
  std::vector<res_ptr> held;  // answered never, kept alive
  env e({.idle_timeout = 300ms}, [&](const req_ptr&, const res_ptr& res) {
    watch(res, res_failure);
    held.push_back(res);
  });
  // The responses go before the server and its io_context (they refer to their connection).
  struct release_at_end {
    std::vector<res_ptr>& v;
    ~release_at_end() { v.clear(); }
  } release{held};
  const auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(e.code(e.url + "/"), "503");
  EXPECT_GE(std::chrono::steady_clock::now() - start, 250ms);
  EXPECT_EQ(res_failure->ec, std::errc::timed_out);
  EXPECT_NE(res_failure->message.find("no read or write with 127.0.0.1:"), std::string::npos)
      << res_failure->message;
  EXPECT_NE(res_failure->message.find("for 300 ms (idle_timeout)"), std::string::npos)
      << res_failure->message;
  ASSERT_EQ(held.size(), 1u);
  EXPECT_TRUE(held[0]->destroyed());
  EXPECT_TRUE(run_until(
      e.io, [&] { return e.server->connection_count() == 0; }, 5s));
}

TEST(HttpLimits, AClientThatStopsReadingIsResetAfterTheIdleTimeout) {
  constexpr std::size_t chunk = 16 * 1024;
  auto res_failure = std::make_shared<failure>();
  std::size_t written = 0;
  std::size_t completed = 0;
  std::size_t failed_writes = 0;
  std::function<void()> pump;
  std::weak_ptr<http_response> response;
  env e({.idle_timeout = 300ms}, [&](const req_ptr&, const res_ptr& res) {
    watch(res, res_failure);
    res->set_content_length(std::uint64_t{1} << 30);
    response = res;
    res->on_drain([&] { pump(); });
    pump();
  });
  // Writes until write() says stop, and again at each 'drain', until the socket's buffers are
  // full: the client stops reading after the head.
  pump = [&] {
    for (auto r = response.lock(); r && !r->destroyed();) {
      ++written;
      if (!r->write(buffer(std::string(chunk, 'r')),
                    [&](std::error_code ec) { ++(ec ? failed_writes : completed); }))
        break;
    }
  };
  {
    raw_socket s(e.port);
    s.set_receive_buffer(4096);
    s.send_all("GET /big HTTP/1.1\r\nHost: x\r\n\r\n");
    const auto start = std::chrono::steady_clock::now();
    ASSERT_TRUE(run_until(
        e.io, [&] { return static_cast<bool>(res_failure->ec); }, 10s));
    EXPECT_GE(std::chrono::steady_clock::now() - start, 250ms);
    EXPECT_EQ(res_failure->ec, std::errc::timed_out);
    EXPECT_NE(res_failure->message.find("(idle_timeout)"), std::string::npos)
        << res_failure->message;
    EXPECT_TRUE(run_until(
        e.io, [&] { return e.server->connection_count() == 0; }, 5s));
    // Every write completed exactly once: those the socket took, then the rest with the error.
    EXPECT_GT(completed, 0u);
    EXPECT_GT(failed_writes, 0u);
    EXPECT_EQ(completed + failed_writes, written);
    // The client finds the connection reset after what it had received.
    int err = 0;
    bool eof = false;
    for (int i = 0; i < 100000 && err == 0 && !eof; ++i) s.read_some(100ms, &err, &eof);
    EXPECT_EQ(err, ECONNRESET);
  }
}

}  // namespace
