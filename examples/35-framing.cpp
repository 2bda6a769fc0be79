// 35-framing: typed items across a TCP connection. The client turns each `reading` into a JSON
// frame (a 4-byte length, then the JSON text) and writes the frames to the socket; the server
// cuts frames out of what it receives and turns each back into a `reading` (docs/framing.md).
// Backpressure holds end to end: the server's consumer is slower than the client, so the
// client's frames wait in the kernel's socket buffers and at its highWaterMark, not in memory.
//
//   example-35-framing [COUNT]      (default 100000 readings)
#include <boost/asio/io_context.hpp>
#include <boost/describe/class.hpp>
#include <cstdio>
#include <cstdlib>
#include <sluice/codec/json_frames.hpp>
#include <sluice/compose.hpp>
#include <sluice/net.hpp>
#include <string>

struct reading {
  std::string sensor;
  std::int64_t at = 0;  // milliseconds
  double value = 0;
};
BOOST_DESCRIBE_STRUCT(reading, (), (sensor, at, value))

int main(int argc, char** argv) {
  const long count = argc > 1 ? std::atol(argv[1]) : 100000;
  boost::asio::io_context io;
  sluice::asio_loop loop(io);

  // The server: socket → frame decoder → a consumer that sums the values.
  long received = 0;
  double sum = 0;
  int exit_code = 1;
  auto server = sluice::make_tcp_server(loop, {.host = "127.0.0.1", .port = 0});
  server->on_connection([&](std::shared_ptr<sluice::socket> s) {
    auto decode = sluice::make_frame_decoder<reading>(loop, sluice::json_serializer<reading>{});
    auto consume = sluice::make_writable<reading>(
        loop, {.name = "sum", .write = [&](auto&, reading&& r, auto done) {
                 ++received;
                 sum += r.value;
                 done();
               }});
    sluice::pipeline(s, decode, consume, [&](const sluice::pipeline_error& e) {
      if (e) {
        std::fprintf(stderr, "server: %s\n", e.message().c_str());
      } else {
        std::printf("server: %ld readings, sum %.1f\n", received, sum);
        exit_code = received == count ? 0 : 1;
      }
      server->close();
    });
  });
  if (server->listen()) {
    std::fprintf(stderr, "%s\n", server->error_message().c_str());
    return 1;
  }

  // The client: readings → frame encoder → socket.
  long next = 0;
  auto source = sluice::make_readable<reading>(
      loop, {.read = [&](sluice::readable<reading>& self, std::size_t) {
        if (next == count) {
          self.push_eof();
          return;
        }
        reading r{"s" + std::to_string(next % 4), next, static_cast<double>(next % 10)};
        ++next;
        (void)self.push(std::move(r));
      }});
  auto encode = sluice::make_frame_encoder<reading>(loop, sluice::json_serializer<reading>{});
  auto client = sluice::make_tcp_connection(loop, "127.0.0.1", server->port());
  sluice::pipeline(source, encode, client, [&](const sluice::pipeline_error& e) {
    if (e) std::fprintf(stderr, "client: %s\n", e.message().c_str());
    std::printf("client: %ld readings sent in %llu frames\n", next,
                static_cast<unsigned long long>(encode->frame_count()));
  });
  io.run();
  return exit_code;
}
