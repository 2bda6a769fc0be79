// 16-http-hello: the smallest HTTP server, answering every request with the same small body
// from memory, with keep-alive: the library's counterpart of Node's
// `http.createServer((req, res) => res.end(body))` (bench/node/http-hello.js), and the
// `sluice-lib` contender of `scripts/bench-http.sh small`.
//
//   example-16-http-hello FILE PORT [HOST]
//
// FILE is read once at start. Without arguments it answers "Hello, world\n" on a free port,
// fetches it from itself twice over one kept-alive connection, checks it and exits.
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <functional>
#include <iterator>
#include <memory>
#include <sluice/http.hpp>
#include <string>

int main(int argc, char** argv) {
  if (argc != 1 && argc != 3 && argc != 4) {
    std::fprintf(stderr, "usage: example-16-http-hello [FILE PORT [HOST]]\n");
    return 2;
  }
  const bool demo = argc == 1;
  std::string body = "Hello, world\n";
  if (!demo) {
    std::ifstream in(argv[1], std::ios::binary);
    if (!in) {
      std::fprintf(stderr, "cannot read %s\n", argv[1]);
      return 1;
    }
    body.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }

  boost::asio::io_context io;
  sluice::asio_loop loop(io);
  // Idle connections stay 300 s, as in the benchmark's nginx and Node servers.
  sluice::http_server_options options;
  options.keep_alive_timeout = std::chrono::seconds(300);
  auto server = sluice::make_http_server(loop, options, [&body](auto req, auto res) {
    res->set_header("Content-Type", "text/plain");
    res->set_content_length(body.size());
    if (req->method() == "HEAD") {
      res->end();
    } else {
      res->end(sluice::buffer::copy_of(body));
    }
  });
  const auto port = demo ? std::uint16_t{0} : static_cast<std::uint16_t>(std::stoi(argv[2]));
  if (server->listen(argc == 4 ? argv[3] : "127.0.0.1", port)) {
    std::fprintf(stderr, "%s\n", server->error_message().c_str());
    return 1;
  }
  if (!demo) {
    io.run();
    return 0;
  }

  // Self-check: two requests through one agent (the second reuses the connection).
  int ok = 0;
  auto agent = std::make_shared<sluice::http_agent>(loop);
  const std::string url = "http://127.0.0.1:" + std::to_string(server->port()) + "/";
  std::function<void(int)> get = [&](int left) {
    sluice::http_fetch(
        loop, {.url = url, .agent = agent},
        [&, left](std::error_code ec, std::shared_ptr<sluice::http_client_response> res) {
          if (ec) {
            std::fprintf(stderr, "GET %s: %s\n", url.c_str(), ec.message().c_str());
            server->close();
            return;
          }
          auto got = std::make_shared<std::string>();
          auto b = res->body();
          b->on_data([got](sluice::buffer&& chunk) { got->append(chunk.view()); });
          b->on_end([&, got, left, status = res->status()] {
            std::printf("GET /: %u, %s", status, got->c_str());
            if (status == 200 && *got == body) ++ok;
            if (left > 1) {
              get(left - 1);
            } else {
              agent->close_idle();
              server->close();
            }
          });
          b->on_error([&, b](std::error_code) {
            std::fprintf(stderr, "body: %s\n", b->error_message().c_str());
            server->close();
          });
        });
  };
  get(2);
  io.run();
  return ok == 2 ? 0 : 1;
}
