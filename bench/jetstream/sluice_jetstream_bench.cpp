// sluice-jetstream-bench: N small messages through sluice's JetStream streams
// (scripts/bench-jetstream.sh runs it beside nats-baseline-bench on the same cluster).
//
//   sluice-jetstream-bench pub URLS STREAM SUBJECT N SIZE
//       N messages of SIZE bytes through a jetstream_writer (at most 256 unacknowledged), into
//       STREAM (created with three replicas when missing); done when all are acknowledged.
//   sluice-jetstream-bench sub URLS STREAM CONSUMER N FILE
//       a jetstream_reader on the durable CONSUMER (created when missing) -> a line per message
//       -> a file writer, each message acknowledged in the file writer's callback for its line;
//       done after N messages.
//
// Prints one line: "<mode> <N> messages in <seconds> s: <messages/s> msg/s".
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <sluice/compose.hpp>
#include <sluice/io.hpp>
#include <sluice/messaging.hpp>
#include <string>

namespace ms = sluice::messaging;

namespace {

int report(const char* mode, std::uint64_t n, std::chrono::steady_clock::time_point t0) {
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("%s %llu messages in %.3f s: %.0f msg/s\n", mode, static_cast<unsigned long long>(n),
              s, static_cast<double>(n) / s);
  return 0;
}

int publish(const ms::jetstream_options& nats, const std::string& stream,
            const std::string& subject, std::uint64_t n, std::size_t size) {
  boost::asio::io_context io;
  sluice::asio_loop loop(io);
  auto w = ms::make_jetstream_writer<std::string>(
      loop, nats,
      {.subject = subject,
       .max_pending = 256,
       .ensure_stream =
           ms::jetstream_stream_config{.name = stream, .subjects = {subject}, .replicas = 3}});
  const auto t0 = std::chrono::steady_clock::now();
  std::uint64_t i = 0;
  int status = 1;
  std::function<void()> run = [&] {
    while (i < n) {
      std::string m = std::to_string(i++);
      m.resize(size, '.');
      if (!w->write(std::move(m))) {
        w->once_drain(run);
        return;
      }
    }
    w->end([&](std::error_code ec) {
      if (ec) {
        std::fprintf(stderr, "pub: %s\n", w->error_message().c_str());
        return;
      }
      status = report("pub", n, t0);
    });
  };
  run();
  io.run();
  return status;
}

int subscribe(const ms::jetstream_options& nats, const std::string& stream,
              const std::string& consumer, std::uint64_t n, const std::string& file) {
  boost::asio::io_context io;
  sluice::asio_loop loop(io);
  auto r = ms::make_jetstream_reader<std::string>(loop, nats,
                                                  {.stream = stream,
                                                   .consumer = consumer,
                                                   .max_ack_pending = 4096,
                                                   .max_batch = 256,
                                                   .high_water_mark = 512});
  std::uint64_t seen = 0;
  auto lines = sluice::map(r, ms::map_values([&](std::string&& s) {
                             if (++seen == n) loop.defer([r] { r->stop(); });
                             s += '\n';
                             return sluice::buffer(std::move(s));
                           }));
  auto out = ms::make_acknowledging_writer<sluice::buffer>(
      std::shared_ptr<sluice::writable<sluice::buffer>>(sluice::make_file_writer(loop, file)),
      {.high_water_mark = 512});
  const auto t0 = std::chrono::steady_clock::now();
  int status = 1;
  sluice::pipeline(lines, out, [&](const sluice::pipeline_error& e) {
    if (e) {
      std::fprintf(stderr, "sub: %s\n", e.message().c_str());
      return;
    }
    status = report("sub", r->stats().handed_on, t0);
  });
  io.run();
  return status;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 7) {
    std::fprintf(stderr,
                 "usage: %s pub URLS STREAM SUBJECT N SIZE\n"
                 "       %s sub URLS STREAM CONSUMER N FILE\n",
                 argv[0], argv[0]);
    return 2;
  }
  const std::string mode = argv[1];
  const ms::jetstream_options nats{.urls = argv[2]};
  const std::uint64_t n = std::strtoull(argv[5], nullptr, 10);
  if (mode == "pub") return publish(nats, argv[3], argv[4], n, std::strtoull(argv[6], nullptr, 10));
  if (mode == "sub") return subscribe(nats, argv[3], argv[4], n, argv[6]);
  std::fprintf(stderr, "%s: pub or sub, not %s\n", argv[0], argv[1]);
  return 2;
}
