// Request bodies at their edges, against the sluice HTTP server with raw loopback clients: a
// client that resets mid-upload or half-closes mid-body fails the handler's body stream (never
// a clean end) with a message naming the peer; a client that uploads in small delayed pieces
// (splitting chunk headers too) arrives byte-exact; a client that sends its whole request and
// then half-closes still gets its response; a server that resets a download fails the sluice
// client's body; and 1,000 connections leave no descriptor and no memory behind.
#include <gtest/gtest.h>
#include <sys/socket.h>

#include <boost/asio/io_context.hpp>
#include <future>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "http_support.hpp"
#include "net/net_support.hpp"

namespace {

namespace asio = boost::asio;
using sluice::buffer;
using sluice::http_request;
using sluice::http_response;
using namespace sluice::test;
using namespace std::chrono_literals;

using req_ptr = std::shared_ptr<http_request>;
using res_ptr = std::shared_ptr<http_response>;

// What a handler saw of a request body.
struct seen_body {
  std::string data;
  bool ended = false;
  std::error_code error;
  std::string message;
  bool requested = false;
};

struct env {
  explicit env(sluice::http_handler h, sluice::http_server_options o = {})
      : loop(io), server(sluice::make_http_server(loop, o, std::move(h))) {
    EXPECT_FALSE(server->listen("127.0.0.1", 0));
    port = server->port();
  }
  ~env() {
    bool closed = false;
    server->close([&](std::error_code) { closed = true; });
    run_until(
        io, [&] { return closed; }, 5s);
  }
  // Runs `client` on a thread while the loop runs; its result.
  template <class F>
  auto with_client(F client) {
    auto f = std::async(std::launch::async, std::move(client));
    run_until(
        io, [&] { return f.wait_for(0s) == std::future_status::ready; }, 30s);
    return f.get();
  }
  asio::io_context io;
  sluice::asio_loop loop;
  std::unique_ptr<sluice::http_server> server;
  std::uint16_t port = 0;
};

// A handler that records the body in `seen` and answers with its length at the end.
sluice::http_handler recording(seen_body& seen) {
  return [&seen](const req_ptr& req, const res_ptr& res) {
    seen.requested = true;
    req->on_data([&seen](buffer&& b) { seen.data.append(b.view()); });
    req->on_end([&seen, res] {
      seen.ended = true;
      const std::string n = std::to_string(seen.data.size());
      res->set_content_length(n.size());
      res->end(buffer::copy_of(n));
    });
    req->on_error([&seen, w = std::weak_ptr(req)](std::error_code ec) {
      seen.error = ec;
      if (auto r = w.lock()) seen.message = r->error_message();
    });
  };
}

std::string local_address(int fd) {
  sockaddr_in a{};
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  return "127.0.0.1:" + std::to_string(ntohs(a.sin_port));
}

// Pattern bytes, so that a lost or reordered piece shows.
std::string pattern(std::size_t n) {
  std::string s(n, '\0');
  for (std::size_t i = 0; i < n; ++i) s[i] = static_cast<char>('a' + (i * 7 + i / 251) % 26);
  return s;
}

TEST(HttpUpload, ClientResetMidUploadFailsTheBodyNamingThePeer) {
  seen_body seen;
  env e(recording(seen));
  const auto fds_before = open_fd_count();
  std::optional<raw_socket> c(std::in_place, e.port);
  ASSERT_TRUE(c->ok());
  const std::string peer = local_address(c->fd());
  const std::string part = pattern(100 * 1024);
  c->send_all("POST /up HTTP/1.1\r\nHost: x\r\nContent-Length: 1048576\r\n\r\n" + part);
  ASSERT_TRUE(run_until(
      e.io, [&] { return seen.data.size() == part.size(); }, 10s))
      << seen.data.size() << " bytes arrived";
  ::linger l{1, 0};  // close with RST
  ::setsockopt(c->fd(), SOL_SOCKET, SO_LINGER, &l, sizeof l);
  c.reset();
  ASSERT_TRUE(run_until(
      e.io, [&] { return seen.error || seen.ended; }, 10s));
  EXPECT_FALSE(seen.ended) << "a reset upload ended cleanly";
  EXPECT_EQ(seen.error, std::errc::connection_reset) << seen.error.message();
  EXPECT_EQ(seen.message, "read from " + peer + ": Connection reset by peer");
  EXPECT_EQ(seen.data, part);
  EXPECT_TRUE(run_until(
      e.io, [&] { return e.server->connection_count() == 0; }, 5s));
  EXPECT_EQ(open_fd_count(), fds_before);
}

TEST(HttpUpload, ClientHalfCloseMidBodyIsPrematureCloseNeverAnEnd) {
  for (const bool chunked : {false, true}) {
    SCOPED_TRACE(chunked ? "chunked" : "Content-Length");
    seen_body seen;
    env e(recording(seen));
    const auto fds_before = open_fd_count();
    raw_socket c(e.port);
    const std::string peer = local_address(c.fd());
    const std::string part = pattern(10000);
    if (chunked)
      c.send_all("POST /up HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n2710\r\n" +
                 part + "\r\n");
    else
      c.send_all("POST /up HTTP/1.1\r\nHost: x\r\nContent-Length: 20000\r\n\r\n" + part);
    ASSERT_TRUE(run_until(
        e.io, [&] { return seen.data.size() == part.size(); }, 10s));
    ::shutdown(c.fd(), SHUT_WR);  // FIN in the middle of the body
    ASSERT_TRUE(run_until(
        e.io, [&] { return seen.error || seen.ended; }, 10s));
    EXPECT_FALSE(seen.ended) << "a body cut short by FIN ended cleanly";
    EXPECT_EQ(seen.error, sluice::errc::premature_close) << seen.error.message();
    EXPECT_TRUE(seen.message.starts_with("read from " + peer + ": ")) << seen.message;
    // The server closes the connection: no answer was promised for half a request.
    bool eof = false;
    int err = 0;
    read_while_running(
        e.io, c, [](const std::string&) { return false; }, &err, &eof);
    EXPECT_TRUE(eof || err != 0);
    EXPECT_TRUE(run_until(
        e.io, [&] { return e.server->connection_count() == 0; }, 5s));
    EXPECT_EQ(open_fd_count(), fds_before + 1);  // (the client's own socket)
  }
}

TEST(HttpUpload, SlowUploadInSmallDelayedPiecesArrivesByteExact) {
  for (const bool chunked : {false, true}) {
    SCOPED_TRACE(chunked ? "chunked" : "Content-Length");
    seen_body seen;
    env e(recording(seen));
    const std::string body = pattern(48 * 1024);
    std::string wire;
    if (chunked) {
      wire = "POST /up HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n";
      // Chunks of odd sizes, a trailer at the end.
      for (std::size_t off = 0, k = 1; off < body.size(); k = k * 3 % 1000 + 1) {
        const std::size_t n = std::min(body.size() - off, k * 13);
        char hex[16];
        std::snprintf(hex, sizeof hex, "%zx\r\n", n);
        wire += hex + body.substr(off, n) + "\r\n";
        off += n;
      }
      wire += "0\r\nX-Trailer: done\r\n\r\n";
    } else {
      wire = "POST /up HTTP/1.1\r\nHost: x\r\nContent-Length: " + std::to_string(body.size()) +
             "\r\n\r\n" + body;
    }
    // 7-byte pieces at first (the head, chunk headers split anywhere), then 1 KiB pieces, each
    // after a pause: about 60 sends over half a second.
    const std::string response = e.with_client([&] {
      raw_socket c(e.port);
      std::size_t off = 0;
      for (int i = 0; off < wire.size(); ++i) {
        const std::size_t n = std::min(wire.size() - off, i < 20 ? std::size_t{7} : 1024);
        if (!c.send_all(wire.substr(off, n))) return std::string("send failed");
        off += n;
        std::this_thread::sleep_for(8ms);
      }
      std::string got;
      bool eof = false;
      while (got.find("\r\n\r\n") == std::string::npos ||
             !got.ends_with(std::to_string(body.size()))) {
        const auto part = c.read_some(5s, nullptr, &eof);
        if (part.empty()) break;
        got += part;
      }
      return got;
    });
    EXPECT_TRUE(seen.ended) << seen.message;
    EXPECT_FALSE(seen.error);
    EXPECT_EQ(seen.data.size(), body.size());
    EXPECT_TRUE(seen.data == body) << "the body arrived altered";
    EXPECT_TRUE(response.starts_with("HTTP/1.1 200 OK")) << response;
    EXPECT_TRUE(response.ends_with("\r\n\r\n" + std::to_string(body.size()))) << response;
  }
}

TEST(HttpUpload, CompleteRequestThenHalfCloseStillGetsItsResponse) {
  seen_body seen;
  env e(recording(seen));
  raw_socket c(e.port);
  c.send_all("POST /up HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello");
  ::shutdown(c.fd(), SHUT_WR);  // nothing more to send; the answer is still wanted
  bool eof = false;
  const auto got = read_while_running(
      e.io, c, [](const std::string&) { return false; }, nullptr, &eof);
  EXPECT_TRUE(seen.ended);
  EXPECT_EQ(seen.data, "hello");
  EXPECT_TRUE(got.starts_with("HTTP/1.1 200 OK")) << got;
  EXPECT_TRUE(got.ends_with("\r\n\r\n5")) << got;
  EXPECT_TRUE(eof);
}

TEST(HttpUpload, ServerResettingADownloadFailsTheClientsBody) {
  env e([](const req_ptr&, const res_ptr& res) {
    res->set_content_length(1 << 20);
    res->write(buffer(pattern(64 * 1024)), [res](std::error_code) {
      res->destroy(std::make_error_code(std::errc::io_error));  // the handler fails mid-body
    });
  });
  bool called = false;
  std::shared_ptr<sluice::http_client_response> res;
  sluice::http_fetch(e.loop, {.url = "http://127.0.0.1:" + std::to_string(e.port) + "/"},
                     [&](std::error_code ec, std::shared_ptr<sluice::http_client_response> r) {
                       called = true;
                       EXPECT_FALSE(ec) << ec.message();
                       res = std::move(r);
                     });
  ASSERT_TRUE(run_until(
      e.io, [&] { return called; }, 10s));
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status(), 200u);
  auto body = collect(res->body());
  ASSERT_TRUE(run_until(
      e.io, [&] { return body->done(); }, 10s));
  EXPECT_FALSE(body->ended) << "a reset download ended cleanly after " << body->data.size();
  EXPECT_TRUE(body->error == std::errc::connection_reset ||
              body->error == sluice::errc::premature_close)
      << body->error.message();
  EXPECT_LT(body->data.size(), std::size_t{1} << 20);
  EXPECT_FALSE(body->message.empty());
  res.reset();
  body.reset();
}

TEST(HttpUpload, AThousandConnectionsLeaveNoDescriptorOrMemoryBehind) {
  env e([](const req_ptr& req, const res_ptr& res) {
    if (req->target() == "/echo") {
      req->body()->pipe(res);
    } else {
      res->set_content_length(5);
      res->end(buffer::copy_of("hello"));
    }
  });
  // `n` connections one after the other, on a thread: GET /hello and POST /echo of 1 KiB in
  // turn, each with "Connection: close", read to the server's FIN. How many went right.
  const std::string upload = pattern(1024);
  auto connections = [&](int n) {
    return e.with_client([&, n] {
      int ok = 0;
      for (int i = 0; i < n; ++i) {
        raw_socket c(e.port);
        if (i % 2 == 0)
          c.send_all("GET /hello HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        else
          c.send_all("POST /echo HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 1024" +
                     std::string("\r\n\r\n") + upload);
        std::string got;
        bool eof = false;
        while (!eof) {
          const auto part = c.read_some(5s, nullptr, &eof);
          if (part.empty() && !eof) break;
          got += part;
        }
        const bool good = got.starts_with("HTTP/1.1 200 OK") &&
                          (i % 2 == 0 ? got.ends_with("\r\n\r\nhello") : dechunk(got) == upload);
        ok += good ? 1 : 0;
      }
      return ok;
    });
  };
  ASSERT_EQ(connections(50), 50);  // warm up: allocator pools, the reactor
  ASSERT_TRUE(run_until(
      e.io, [&] { return e.server->connection_count() == 0; }, 5s));
  const auto fds_before = open_fd_count();
  const auto rss_before = net_test::rss_kib();
  const auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(connections(1000), 1000);
  const double secs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  ASSERT_TRUE(run_until(
      e.io, [&] { return e.server->connection_count() == 0; }, 5s));
  EXPECT_EQ(open_fd_count(), fds_before);
  const auto growth = net_test::growth_kib(rss_before, net_test::rss_kib());
  if (net_test::rss_is_meaningful) {
    EXPECT_LT(growth, 2048u) << "RSS grew by " << growth << " KiB over 1,000 connections";
  }
  EXPECT_EQ(e.server->request_count(), 1050u);
  std::printf("1,000 connections in %.2f s; RSS +%llu KiB\n", secs,
              static_cast<unsigned long long>(growth));
}

}  // namespace
