// 13-http-file-server: serves the files of a directory over HTTP, each streamed from a
// file_reader into the response with backpressure (a slow client slows the disk reads).
//
//   example-13-http-file-server [DIR [PORT]]
//
// With a directory it serves until killed (curl http://127.0.0.1:PORT/name). Without arguments
// it makes a temporary directory with one file, serves it on a free port, fetches the file from
// itself with http_fetch, checks it and exits.
#include <boost/asio/io_context.hpp>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sluice/http.hpp>
#include <sluice/io.hpp>
#include <string>

namespace fs = std::filesystem;

int main(int argc, char** argv) {
  const bool demo = argc < 2;
  fs::path root = demo ? fs::temp_directory_path() / "sluice-example-13" : fs::path(argv[1]);
  if (demo) {
    fs::create_directories(root);
    std::ofstream(root / "hello.txt") << std::string(1 << 20, 'h');
  }
  boost::asio::io_context io;
  sluice::asio_loop loop(io);

  auto server = sluice::make_http_server(loop, {.gzip = true}, [&](auto req, auto res) {
    const std::string name = req->target().substr(1);
    const fs::path path = root / name;
    std::error_code ec;
    if (name.empty() || name.find("..") != std::string::npos || !fs::is_regular_file(path, ec)) {
      res->set_status(404);
      res->end(sluice::buffer::copy_of("not found\n"));
      return;
    }
    res->set_header("Content-Type",
                    name.ends_with(".txt") ? "text/plain" : "application/octet-stream");
    res->set_content_length(fs::file_size(path, ec));
    auto file = sluice::make_file_reader(loop, path);
    // A read error after the head went out resets the connection: the client sees a
    // truncated body, never a short success.
    file->on_error([res](std::error_code e) { res->destroy(e); });
    file->pipe(res);
  });
  const std::uint16_t port = argc > 2 ? static_cast<std::uint16_t>(std::stoi(argv[2])) : 0;
  if (auto ec = server->listen("127.0.0.1", port)) {
    std::fprintf(stderr, "listen: %s\n", ec.message().c_str());
    return 1;
  }
  std::printf("serving %s on http://127.0.0.1:%u/\n", root.c_str(), server->port());
  if (!demo) {
    io.run();
    return 0;
  }

  int status = 1;
  std::size_t received = 0;
  sluice::http_fetch(loop,
                     {.url = "http://127.0.0.1:" + std::to_string(server->port()) + "/hello.txt"},
                     [&](std::error_code ec, std::shared_ptr<sluice::http_client_response> res) {
                       if (ec) {
                         std::fprintf(stderr, "fetch: %s\n", ec.message().c_str());
                         server->close();
                         return;
                       }
                       auto body = res->body();
                       body->on_data([&](sluice::buffer&& b) { received += b.size(); });
                       body->on_end([&, code = res->status()] {
                         std::printf("GET /hello.txt: %u, %zu bytes\n", code, received);
                         status = (code == 200 && received == (1u << 20)) ? 0 : 1;
                         server->close();
                       });
                       body->on_error([&, body](std::error_code) {
                         std::fprintf(stderr, "body: %s\n", body->error_message().c_str());
                         server->close();
                       });
                     });
  io.run();
  fs::remove_all(root);
  return status;
}
