// http_response::send_file against real peers (curl, raw loopback sockets): sendfile(2) for
// plain TCP, the copy path for small files and gzip, ranges, HEAD, a client that resets
// mid-file, a file that cannot be opened; and idle keep-alive connections that wait without a
// read buffer and still take a request arriving in pieces.
#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <memory>
#include <string>

#include "http_support.hpp"

namespace {

namespace asio = boost::asio;
using sluice::http_file_body;
using sluice::http_file_sent;
using sluice::http_request;
using sluice::http_response;
using namespace sluice::test;
using namespace std::chrono_literals;

struct outcome {
  int calls = 0;
  std::error_code ec;
  http_file_sent sent;
  std::error_code start_error;
};

// A server whose handler sends `file` with send_file: "/" whole, "/range" bytes 1000..(1000+n).
struct file_env {
  file_env(std::string file, bool gzip = false, std::uint64_t range_len = 0)
      : loop(io), path(std::move(file)) {
    sluice::http_server_options o;
    o.gzip = gzip;
    server = sluice::make_http_server(
        loop, o,
        [this, range_len](std::shared_ptr<http_request> req, std::shared_ptr<http_response> res) {
          http_file_body f{.path = path};
          if (req->target() == "/range") f.offset = 1000, f.length = range_len;
          if (req->target() == "/missing") f.path = path + ".none";
          res->set_header("Content-Type", "text/plain");
          held = res;
          r.start_error = res->send_file(f, [this](std::error_code ec, http_file_sent s) {
            ++r.calls;
            r.ec = ec;
            r.sent = s;
          });
          if (r.start_error) {
            res->set_status(404);
            res->end();
          }
        });
    EXPECT_FALSE(server->listen("127.0.0.1", 0));
    port = server->port();
    url = "http://127.0.0.1:" + std::to_string(port);
  }
  ~file_env() {
    held.reset();
    bool closed = false;
    server->close([&](std::error_code) { closed = true; });
    run_until(
        io, [&] { return closed; }, 5s);
    EXPECT_TRUE(closed);
  }
  command_result curl(const std::string& args) {
    return run_command_with(io, "curl -s --max-time 20 " + args);
  }
  asio::io_context io;
  sluice::asio_loop loop;
  std::string path;
  std::unique_ptr<sluice::http_server> server;
  std::shared_ptr<http_response> held;
  outcome r;
  std::uint16_t port = 0;
  std::string url;
};

TEST(HttpSendFile, LargeFileGoesBySendfileByteExact) {
  temp_dir dir;
  const std::string body = pattern(9 * 1024 * 1024 + 17, 3);  // more than two 4 MiB turns
  write_file(dir / "big", body);
  file_env env((dir / "big").string());
  auto c = env.curl("-o " + (dir / "out").string() + " -w '%{http_code} %{size_download}' " +
                    env.url + "/");
  EXPECT_EQ(c.out, "200 " + std::to_string(body.size()));
  EXPECT_TRUE(read_file(dir / "out") == body);
  ASSERT_TRUE(run_until(env.io, [&] { return env.r.calls == 1; }));
  EXPECT_FALSE(env.r.ec) << env.r.ec.message();
  EXPECT_EQ(env.r.sent.bytes_by_sendfile, body.size());
  EXPECT_EQ(env.r.sent.bytes_by_copy, 0u);
}

TEST(HttpSendFile, RangeAndHead) {
  temp_dir dir;
  const std::string body = pattern(200 * 1024, 5);
  write_file(dir / "f", body);
  file_env env((dir / "f").string(), false, 100 * 1024);
  auto c = env.curl("-o " + (dir / "out").string() + " " + env.url + "/range");
  EXPECT_EQ(c.exit_code, 0);
  EXPECT_TRUE(read_file(dir / "out") == body.substr(1000, 100 * 1024));
  ASSERT_TRUE(run_until(env.io, [&] { return env.r.calls == 1; }));
  EXPECT_EQ(env.r.sent.bytes_by_sendfile, 100u * 1024);

  // HEAD: the length of the whole file, no body, and the connection stays usable.
  raw_socket s(env.port);
  ASSERT_TRUE(s.ok());
  s.send_all("HEAD / HTTP/1.1\r\nHost: x\r\n\r\n");
  auto got = read_while_running(
      env.io, s, [](const std::string& g) { return g.find("\r\n\r\n") != std::string::npos; });
  EXPECT_NE(got.find("Content-Length: " + std::to_string(body.size())), std::string::npos) << got;
  EXPECT_TRUE(got.ends_with("\r\n\r\n")) << got;
  ASSERT_TRUE(run_until(env.io, [&] { return env.r.calls == 2; }));
  EXPECT_FALSE(env.r.ec);
  EXPECT_EQ(env.r.sent.bytes_by_sendfile + env.r.sent.bytes_by_copy, 0u);
}

TEST(HttpSendFile, SmallFileGoesWithTheHeadByCopy) {
  temp_dir dir;
  write_file(dir / "small", "Hello, world\n");
  file_env env((dir / "small").string());
  auto c = env.curl(env.url + "/");
  EXPECT_EQ(c.out, "Hello, world\n");
  ASSERT_TRUE(run_until(env.io, [&] { return env.r.calls == 1; }));
  EXPECT_EQ(env.r.sent.bytes_by_copy, 13u);
  EXPECT_EQ(env.r.sent.bytes_by_sendfile, 0u);
}

TEST(HttpSendFile, GzipFallsBackToCopy) {
  temp_dir dir;
  std::string body;
  while (body.size() < 300 * 1024) body += "all work and no play makes jack a dull boy\n";
  write_file(dir / "t.txt", body);
  file_env env((dir / "t.txt").string(), true);
  auto c = env.curl("--compressed -D - -o " + (dir / "out").string() + " " + env.url + "/");
  EXPECT_NE(c.out.find("Content-Encoding: gzip"), std::string::npos) << c.out;
  EXPECT_TRUE(read_file(dir / "out") == body);
  ASSERT_TRUE(run_until(env.io, [&] { return env.r.calls == 1; }));
  EXPECT_EQ(env.r.sent.bytes_by_copy, body.size());
  EXPECT_EQ(env.r.sent.bytes_by_sendfile, 0u);
}

TEST(HttpSendFile, MissingFileIsAnErrorAndTheResponseIsUntouched) {
  temp_dir dir;
  write_file(dir / "f", "x");
  file_env env((dir / "f").string());
  auto c = env.curl("-o /dev/null -w '%{http_code}' " + env.url + "/missing");
  EXPECT_EQ(c.out, "404");
  EXPECT_EQ(env.r.start_error, std::errc::no_such_file_or_directory);
  EXPECT_EQ(env.r.calls, 0);
}

TEST(HttpSendFile, ClientResetMidFileIsAnErrorAndNothingLeaks) {
  temp_dir dir;
  write_file(dir / "big", pattern(32 * 1024 * 1024, 9));
  file_env env((dir / "big").string());
  {
    raw_socket s(env.port);
    ASSERT_TRUE(s.ok());
    s.set_receive_buffer(4096);
    s.send_all("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    auto got = read_while_running(env.io, s, [](const std::string& g) { return g.size() > 20000; });
    ASSERT_GT(got.size(), 20000u);
    ::linger l{1, 0};
    ::setsockopt(s.fd(), SOL_SOCKET, SO_LINGER, &l, sizeof l);
  }  // closed with a reset while the server has most of the file to go
  ASSERT_TRUE(run_until(env.io, [&] { return env.r.calls == 1; }));
  EXPECT_TRUE(env.r.ec);
  EXPECT_LT(env.r.sent.bytes_by_sendfile, 32u * 1024 * 1024);
  env.held.reset();
  EXPECT_TRUE(run_until(env.io, [&] { return env.server->connection_count() == 0; }));
}

TEST(HttpSendFile, IdleKeepAliveConnectionTakesARequestArrivingInPieces) {
  temp_dir dir;
  write_file(dir / "small", "Hello, world\n");
  file_env env((dir / "small").string());
  raw_socket s(env.port);
  ASSERT_TRUE(s.ok());
  s.send_all("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
  auto got =
      read_while_running(env.io, s, [](const std::string& g) { return g.ends_with("world\n"); });
  EXPECT_TRUE(got.starts_with("HTTP/1.1 200")) << got;
  run_until(
      env.io, [] { return false; }, 50ms);  // idle: no read buffer now
  s.send_all("GET / HT");
  run_until(
      env.io, [] { return false; }, 50ms);
  s.send_all("TP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n");  // and a pipelined one
  got = read_while_running(
      env.io, s, [](const std::string& g) { return g.find("world\n") != g.rfind("world\n"); });
  EXPECT_TRUE(got.starts_with("HTTP/1.1 200")) << got;
  EXPECT_NE(got.find("world\n"), got.rfind("world\n")) << got;
}

}  // namespace
