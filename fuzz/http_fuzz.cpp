// fuzz/http_fuzz.cpp: the request path of sluice's HTTP server (sluice/http/server.hpp), over a
// real loopback socket. One server lives for the whole run (small limits, gzip on, short
// timeouts); each input is sent on a fresh connection, as the control byte (driver.hpp) cuts it
// into writes, then the client half-closes and reads until the server closes. The payload is the
// raw bytes of one or more requests (the corpus has well-formed ones to start from). Checked:
// - the server answers with nothing or with an HTTP/1.1 status line of a 1xx-5xx code, never
//   crashes, leaks (LeakSanitizer at exit) or overflows (HTTP/1.0 for a 1.0 request);
// - once the client is gone, the server holds no connection any more (none stuck open);
// - it goes on accepting: every input gets its connection.
// The handler: /hello a fixed text, /echo the request body streamed back, /gzip a compressible
// text (gzip when asked), /drop destroys the request at its first body chunk, anything else
// 404. (Every request gets an answer: a handler that never answers holds its connection, as in
// Node.)
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>

#include "driver.hpp"
#include "sluice/core/asio_loop.hpp"
#include "sluice/http/server.hpp"

namespace {

namespace asio = boost::asio;
using asio::ip::tcp;
using sluice::buffer;
namespace fz = sluice::fuzz;

void handle(const std::shared_ptr<sluice::http_request>& req,
            const std::shared_ptr<sluice::http_response>& res) {
  if (req->target() == "/hello") {
    res->set_header("Content-Type", "text/plain");
    res->end(buffer::copy_of("hello"));
  } else if (req->target() == "/echo") {
    res->set_header("Content-Type", "application/octet-stream");
    req->body()->pipe(res);
  } else if (req->target() == "/gzip") {
    res->set_header("Content-Type", "text/plain");
    for (int i = 0; i < 200; ++i) res->write(buffer::copy_of("all work and no play\n"));
    res->end();
  } else if (req->target() == "/drop") {
    // Destroyed at its first body chunk (the server resets the connection); without a body, 204.
    // (Weak captures: the body's listeners must not keep the exchange alive.)
    auto body = req->body();
    body->on_data([w = std::weak_ptr(req)](buffer&&) {
      if (auto r = w.lock()) r->destroy();
    });
    body->on_end([w = std::weak_ptr(res)] {
      if (auto r = w.lock()) {
        r->set_status(204);
        r->end();
      }
    });
  } else {
    res->set_status(404);
    res->end();
  }
}

struct server {
  server() : loop(io) {
    sluice::http_server_options o;
    o.max_header_size = 2048;
    o.max_body_size = 4096;
    o.headers_timeout = std::chrono::milliseconds(2000);
    o.keep_alive_timeout = std::chrono::milliseconds(200);
    o.gzip = true;
    o.high_water_mark = 512;
    srv = sluice::make_http_server(loop, o, handle);
    fuzz_check(!srv->listen("127.0.0.1", 0));
    port = srv->port();
  }
  asio::io_context io;
  sluice::asio_loop loop;
  std::unique_ptr<sluice::http_server> srv;
  std::uint16_t port = 0;
};

server& the_server() {
  static auto* s = new server;  // for the whole run (libFuzzer exits without destructors)
  return *s;
}

// Runs the loop until `done` or `limit` has passed; returns done().
template <class Done>
bool run_until(asio::io_context& io, Done done, std::chrono::milliseconds limit) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  io.restart();
  while (!done() && std::chrono::steady_clock::now() < deadline)
    io.run_one_for(std::chrono::milliseconds(20));
  return done();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  fz::input in(data, size);
  server& s = the_server();
  const std::string payload(in.payload());

  tcp::socket client(s.io);
  bool connected = false;
  client.async_connect(tcp::endpoint(asio::ip::address_v4::loopback(), s.port),
                       [&](boost::system::error_code ec) {
                         fuzz_check(!ec);
                         connected = true;
                       });
  fuzz_check(run_until(
      s.io, [&] { return connected; }, std::chrono::milliseconds(20000)));

  // Send in pieces the input chooses, then half-close; read whatever comes back until the
  // server closes (or resets) the connection.
  std::size_t sent = 0;
  bool send_done = false;
  std::function<void()> send_next = [&] {
    if (sent >= payload.size()) {
      boost::system::error_code ignored;
      client.shutdown(tcp::socket::shutdown_send, ignored);
      send_done = true;
      return;
    }
    const std::size_t n = std::min(in.chunk_size(), payload.size() - sent);
    asio::async_write(client, asio::buffer(payload.data() + sent, n),
                      [&, n](boost::system::error_code ec, std::size_t) {
                        if (ec) {  // the server closed first (a 4xx and close): fine
                          send_done = true;
                          return;
                        }
                        sent += n;
                        send_next();
                      });
  };
  std::string response;
  bool read_done = false;
  std::array<char, 4096> buf{};
  std::function<void()> read_next = [&] {
    client.async_read_some(asio::buffer(buf), [&](boost::system::error_code ec, std::size_t n) {
      response.append(buf.data(), n);
      if (ec) {
        read_done = true;
        return;
      }
      read_next();
    });
  };
  send_next();
  read_next();
  // The server closes once the requests are answered and it sees the client's end (or when a
  // timeout of a few seconds runs out); wait for it, generously (a loaded machine is slow; a
  // connection held for ever still fails).
  const bool closed = run_until(
      s.io, [&] { return send_done && read_done; }, std::chrono::milliseconds(20000));
  fuzz_check(closed);
  client.close();

  if (!response.empty()) {
    const bool status_line =
        response.size() >= 12 &&
        (response.starts_with("HTTP/1.1 ") || response.starts_with("HTTP/1.0 ")) &&
        response[9] >= '1' && response[9] <= '5' &&
        std::isdigit(static_cast<unsigned char>(response[10])) &&
        std::isdigit(static_cast<unsigned char>(response[11]));
    if (!status_line) std::fprintf(stderr, "response: %.80s\n", response.c_str());
    fuzz_check(status_line);
  }
  // Nothing stays open on the server's side once the client is gone.
  fuzz_check(run_until(
      s.io, [&] { return s.srv->connection_count() == 0; }, std::chrono::milliseconds(20000)));
  return 0;
}
