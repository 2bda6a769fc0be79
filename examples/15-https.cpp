// 15-https: an HTTPS server and a client of it in one program. The client verifies the server's
// certificate against the CA file it is given (here the self-signed certificate itself) and that
// the certificate names the host in the URL.
//
//   example-15-https [CERT KEY]
//
// Without arguments it makes a self-signed certificate for localhost with openssl(1) in a
// temporary directory. The server streams the request body back; the client POSTs a line and
// prints what came back.
#include <boost/asio/io_context.hpp>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <sluice/compose/from.hpp>
#include <sluice/http.hpp>
#include <string>
#include <vector>

namespace fs = std::filesystem;

int main(int argc, char** argv) {
  std::string cert, key;
  fs::path dir;
  if (argc >= 3) {
    cert = argv[1];
    key = argv[2];
  } else {
    dir = fs::temp_directory_path() / "sluice-example-15";
    fs::create_directories(dir);
    cert = (dir / "cert.pem").string();
    key = (dir / "key.pem").string();
    const std::string cmd =
        "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 "
        "-subj /CN=localhost -addext subjectAltName=DNS:localhost,IP:127.0.0.1 -keyout '" +
        key + "' -out '" + cert + "' 2>/dev/null";
    if (std::system(cmd.c_str()) != 0) {
      std::fprintf(stderr, "openssl could not make a certificate; pass CERT KEY instead\n");
      return 1;
    }
  }

  boost::asio::io_context io;
  sluice::asio_loop loop(io);
  sluice::http_server_options o;
  o.tls = sluice::tls_server_options{.cert_file = cert, .key_file = key};
  auto server = sluice::make_http_server(loop, o, [](auto req, auto res) {
    res->set_header("Content-Type", "text/plain");
    req->body()->pipe(res);  // the upload, streamed back with backpressure
  });
  if (server->listen("127.0.0.1", 0)) {
    std::fprintf(stderr, "%s\n", server->error_message().c_str());
    return 1;
  }

  int status = 1;
  sluice::http_client_request req{
      .method = "POST",
      .url = "https://localhost:" + std::to_string(server->port()) + "/echo",
      .timeout = std::chrono::seconds(10),
      .tls = {.ca_file = cert}};
  std::vector<sluice::buffer> lines;
  lines.push_back(sluice::buffer::copy_of("hello "));
  lines.push_back(sluice::buffer::copy_of("over TLS\n"));
  req.body = sluice::from(loop, std::move(lines));
  const auto request = req;
  sluice::http_fetch(loop, std::move(req), [&](std::error_code ec, auto res) {
    if (ec) {
      std::fprintf(stderr, "%s\n", sluice::http_fetch_error_message(request, ec).c_str());
      server->close();
      return;
    }
    auto text = std::make_shared<std::string>();
    auto body = res->body();
    body->on_data([text](sluice::buffer&& b) { text->append(b.view()); });
    body->on_end([&, text, code = res->status()] {
      std::printf("%u: %s", code, text->c_str());
      status = code == 200 ? 0 : 1;
      server->close();
    });
    body->on_error([&, body](std::error_code) {
      std::fprintf(stderr, "%s\n", body->error_message().c_str());
      server->close();
    });
  });
  io.run();
  if (!dir.empty()) fs::remove_all(dir);
  return status;
}
