// 36-jetstream: a durable log between a producer and a file. Readings are published to a NATS
// JetStream stream (three replicas on a cluster), each write done once the cluster stored it;
// a durable consumer reads them back, as fast as the file takes them, and each message is
// acknowledged only once its line is written (docs/messaging.md). Run it twice and the second
// run's reader starts where the first one's stopped.
//
//   example-36-jetstream URLS [COUNT] [FILE]
//     URLS   the cluster's servers, comma-separated (nats://127.0.0.1:4222,nats://...)
//     COUNT  readings to publish (default 10000)
//     FILE   where the reader appends them, one JSON line each (default readings.jsonl)
//
// A test cluster: scripts/nats-cluster.sh start /tmp/nats; its URLs are in /tmp/nats/urls.
#include <boost/asio/io_context.hpp>
#include <boost/describe/class.hpp>
#include <cstdio>
#include <cstdlib>
#include <sluice/codec/json_frames.hpp>
#include <sluice/compose.hpp>
#include <sluice/io.hpp>
#include <sluice/messaging.hpp>
#include <string>

struct reading {
  std::string sensor;
  std::int64_t at = 0;  // milliseconds
  double value = 0;
};
BOOST_DESCRIBE_STRUCT(reading, (), (sensor, at, value))

namespace ms = sluice::messaging;

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s URLS [COUNT] [FILE]\n", argv[0]);
    return 2;
  }
  const long count = argc > 2 ? std::atol(argv[2]) : 10000;
  const std::string file = argc > 3 ? argv[3] : "readings.jsonl";
  boost::asio::io_context io;
  sluice::asio_loop loop(io);
  const ms::jetstream_options nats{.urls = argv[1]};

  // The producer: readings → jetstream_writer, which creates the stream if it is missing.
  long next = 0;
  auto source = sluice::make_readable<reading>(
      loop, {.read = [&](sluice::readable<reading>& self, std::size_t) {
        if (next == count) return self.push_eof();
        self.push(
            reading{"s" + std::to_string(next % 8), next * 10, 0.5 * static_cast<double>(next)});
        ++next;
      }});
  auto publish = ms::make_jetstream_writer<reading>(
      loop, nats,
      {.subject = "readings.all",
       .ensure_stream =
           ms::jetstream_stream_config{
               .name = "READINGS", .subjects = {"readings.>"}, .replicas = 3}},
      sluice::json_serializer<reading>{});
  int status = 0;
  sluice::pipeline(source, publish, [&](const sluice::pipeline_error& e) {
    if (e) {
      std::fprintf(stderr, "publish: %s\n", e.message().c_str());
      status = 1;
      return;
    }
    std::printf("published %ld readings (%llu retries)\n", count,
                static_cast<unsigned long long>(publish->stats().retries));

    // The consumer: a durable consumer → one JSON line per reading → the file. Each message is
    // acknowledged in the file writer's callback for its line; it ends once no message came
    // for a second.
    auto read = ms::make_jetstream_reader<reading>(
        loop, nats,
        {.stream = "READINGS", .consumer = "to-file", .end_after_idle = std::chrono::seconds(1)},
        sluice::json_serializer<reading>{});
    auto lines = sluice::map(read, ms::map_values([](reading r) {
                               std::string line;
                               sluice::json_serializer<reading>{}.encode(r, line);
                               return sluice::buffer::copy_of(line + "\n");
                             }));
    auto out = ms::make_acknowledging_writer<sluice::buffer>(
        sluice::make_file_writer(loop, file, {.flags = sluice::open_mode::append}));
    sluice::pipeline(lines, out, [&, read](const sluice::pipeline_error& e2) {
      if (e2) {
        std::fprintf(stderr, "read: %s\n", e2.message().c_str());
        status = 1;
        return;
      }
      const ms::jetstream_reader_stats s = read->stats();
      std::printf("wrote %llu readings to %s (%llu acknowledged, %llu redelivered)\n",
                  static_cast<unsigned long long>(s.handed_on), file.c_str(),
                  static_cast<unsigned long long>(s.acked),
                  static_cast<unsigned long long>(s.redelivered));
    });
  });
  io.run();
  return status;
}
