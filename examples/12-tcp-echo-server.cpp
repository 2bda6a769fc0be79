// 12-tcp-echo-server: a TCP echo server. Each accepted socket is piped into itself, so what a
// client sends comes back, with backpressure: a client that stops reading stops the server from
// reading what it sends (docs/net.md).
//
//   example-12-tcp-echo-server [PORT [SECONDS [CONNECTIONS]]]
//
// Serves on 127.0.0.1:PORT (0 picks one) until SECONDS have passed (default 2) or CONNECTIONS
// connections have been served (default: none counted), then shuts down gracefully: open
// connections are ended, and destroyed if still open a second later. Without arguments it also
// connects to itself once, so it ends on its own: try `nc 127.0.0.1 PORT` while it runs.
#include <boost/asio/io_context.hpp>
#include <cstdio>
#include <cstdlib>
#include <sluice/net.hpp>
#include <string>

int main(int argc, char** argv) {
  const auto port = static_cast<std::uint16_t>(argc > 1 ? std::atoi(argv[1]) : 0);
  const int seconds = argc > 2 ? std::atoi(argv[2]) : 2;
  const long limit = argc > 3 ? std::atol(argv[3]) : (argc > 1 ? 0 : 1);

  boost::asio::io_context io;
  sluice::asio_loop loop(io);
  auto server = sluice::make_tcp_server(loop, {.port = port});
  long served = 0;
  sluice::timer deadline;
  auto stop = [&] {
    deadline.cancel();  // (a pending timer would keep io.run() going)
    server->shutdown(std::chrono::seconds(1), [&](std::error_code) {
      std::printf("served %ld connection(s); bye\n", served);
    });
  };
  server->on_connection([&](std::shared_ptr<sluice::socket> s) {
    std::printf("connection from %s\n", s->remote_address().c_str());
    s->pipe(s);  // echo
    s->on_close([&] {
      if (++served == limit) stop();
    });
  });
  if (auto ec = server->listen()) {
    std::fprintf(stderr, "%s\n", server->error_message().c_str());
    return 1;
  }
  std::printf("echoing on %s\n", server->address().c_str());
  deadline = loop.start_timer(std::chrono::seconds(seconds), [&] {
    if (server->listening()) stop();
  });

  std::string echoed;
  if (argc <= 1) {  // talk to ourselves once
    auto client = sluice::make_tcp_connection(loop, "127.0.0.1", server->port());
    client->on_data([&](sluice::buffer&& b) { echoed += b.view(); });
    client->on_end([&] { std::printf("client got back: %s\n", echoed.c_str()); });
    client->on_error(
        [&](std::error_code) { std::fprintf(stderr, "%s\n", client->error_message().c_str()); });
    client->end(sluice::buffer::copy_of("hello, echo"));
  }
  io.run();
  return argc <= 1 && echoed != "hello, echo" ? 1 : 0;
}
