// 22-performant-writer: the tutorial's "performant writer" (batching, compression, statistics)
// as a composition of parts sluice already has, rather than a class of its own:
//
//   records -> batch_writer (100 records or 50 ms a batch; each batch joined into one buffer)
//           -> gzip transform -> file_writer (atomic: the file appears whole or not at all)
//
// A record's callback runs once its batch was taken by the gzip stream, so the producer is held
// back by the slowest part (here, the compressor and the disk), never by a queue that grows. The
// statistics are the streams' own counters: nothing wraps write() to count.
//
//   example-22-performant-writer [OUTPUT]      (default: performant.log.gz)
#include <boost/asio/io_context.hpp>

#include <cstdio>
#include <functional>
#include <memory>
#include <string>
#include <system_error>

#include <sluice/codec/gzip.hpp>
#include <sluice/core.hpp>
#include <sluice/io/file.hpp>
#include <sluice/sinks/batch_writer.hpp>

int main(int argc, char** argv) {
  using namespace std::chrono_literals;
  const std::string path = argc > 1 ? argv[1] : "performant.log.gz";
  boost::asio::io_context io;
  sluice::asio_loop loop(io);

  auto gz = sluice::make_gzip(loop);
  auto file = sluice::make_file_writer(loop, path);
  gz->pipe(file);

  // Each batch becomes one buffer, one write into the compressor; its completion is the batch's.
  auto batches = sluice::make_batch_writer<std::string>(
      loop,
      [gz](const sluice::write_batch<std::string>& b, sluice::callback done) {
        std::string joined;
        joined.reserve(b.bytes);
        for (const auto& line : b.items) joined += line;
        gz->write(sluice::buffer(std::move(joined)), std::move(done));
      },
      {.max_items = 100,
       .max_delay = 50ms,
       .size_of = [](const std::string& s) { return s.size(); },
       .name = "records"});

  std::error_code failure;
  for (sluice::stream* s :
       {static_cast<sluice::stream*>(batches.get()), static_cast<sluice::stream*>(gz.get()),
        static_cast<sluice::stream*>(file.get())})
    s->on_error([&failure, s](std::error_code ec) {
      if (!failure) std::fprintf(stderr, "%s\n", s->error_message().c_str());
      failure = ec;
    });

  int next = 0;
  std::function<void()> produce = [&] {
    while (next < 20000) {
      const std::string line = "{\"id\":" + std::to_string(next) +
                               ",\"event\":\"page_view\",\"path\":\"/item/" +
                               std::to_string(next % 97) + "\"}\n";
      ++next;
      if (!batches->write(line)) {
        batches->once_drain(produce);
        return;
      }
    }
    batches->end([gz](std::error_code ec) {
      if (!ec) gz->end();  // every batch is in the compressor: let it finish the file
    });
  };
  produce();
  bool done = false;
  file->once_finish([&] { done = true; });
  io.run();
  if (!done || failure) return 1;

  const auto& bs = batches->stats();
  const std::uint64_t raw = gz->counters().bytes_in;
  const std::uint64_t packed = file->counters().bytes_in;
  std::printf("%d records in %llu batches (%.0f records a batch)\n", next,
              static_cast<unsigned long long>(bs.batches),
              static_cast<double>(next) / static_cast<double>(bs.batches));
  std::printf("%llu bytes compressed to %llu (%.1f %% smaller) into %s\n",
              static_cast<unsigned long long>(raw), static_cast<unsigned long long>(packed),
              100.0 * (1.0 - static_cast<double>(packed) / static_cast<double>(raw)), path.c_str());
  std::printf("most records held at once: %zu (highWaterMark %zu)\n",
              batches->counters().peak_writable_length, batches->writable_high_water_mark());
  return 0;
}
