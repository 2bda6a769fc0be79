// 14-streaming-upload: POSTs a file to an HTTP server, streamed from a file_reader as a chunked
// body: the file is read only as fast as the socket takes it.
//
//   example-14-streaming-upload [FILE URL]
//
// Without arguments it writes an 8 MiB temporary file, starts a server that counts what it
// receives (reading the request body with backpressure), uploads the file to it and exits.
#include <boost/asio/io_context.hpp>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sluice/http.hpp>
#include <sluice/io.hpp>
#include <string>

namespace fs = std::filesystem;

int main(int argc, char** argv) {
  const bool demo = argc < 3;
  const fs::path file =
      demo ? fs::temp_directory_path() / "sluice-example-14.bin" : fs::path(argv[1]);
  if (demo) std::ofstream(file) << std::string(8 << 20, 'u');

  boost::asio::io_context io;
  sluice::asio_loop loop(io);
  std::unique_ptr<sluice::http_server> server;
  std::string url = demo ? "" : argv[2];
  if (demo) {
    server = sluice::make_http_server(loop, {}, [](auto req, auto res) {
      auto n = std::make_shared<std::uint64_t>(0);
      req->on_data([n](sluice::buffer&& b) { *n += b.size(); });
      req->on_end([n, res] {
        res->end(sluice::buffer::copy_of("received " + std::to_string(*n) + " bytes\n"));
      });
    });
    if (auto ec = server->listen("127.0.0.1", 0)) {
      std::fprintf(stderr, "listen: %s\n", ec.message().c_str());
      return 1;
    }
    url = "http://127.0.0.1:" + std::to_string(server->port()) + "/upload";
  }

  int status = 1;
  auto done = [&] {
    if (server) server->close();
  };
  sluice::http_client_request req{
      .method = "POST", .url = url, .timeout = std::chrono::seconds(30)};
  req.headers.set("Content-Type", "application/octet-stream");
  req.body = sluice::make_file_reader(loop, file);
  sluice::http_fetch(loop, std::move(req),
                     [&](std::error_code ec, std::shared_ptr<sluice::http_client_response> res) {
                       if (ec) {
                         std::fprintf(stderr, "upload: %s\n", ec.message().c_str());
                         done();
                         return;
                       }
                       auto text = std::make_shared<std::string>();
                       auto body = res->body();
                       body->on_data([text](sluice::buffer&& b) { text->append(b.view()); });
                       body->on_end([&, text, code = res->status()] {
                         std::printf("%u: %s", code, text->c_str());
                         status = code == 200 ? 0 : 1;
                         done();
                       });
                       body->on_error([&, body](std::error_code) {
                         std::fprintf(stderr, "%s\n", body->error_message().c_str());
                         done();
                       });
                     });
  io.run();
  if (demo) fs::remove(file);
  return status;
}
