// 17-batch-writer: 10,000 rows through a batch_writer whose flush takes 2 ms and fails now and
// then, as a database's bulk insert would.
//
// The producer writes as fast as write() allows; the batch_writer groups rows by 500, keeps two
// batches flushing at once, retries a flush that fails with EAGAIN (backoff with jitter), and a
// row's callback runs only once its batch is in. At the end: how many batches, retries, and the
// most rows ever held (the highWaterMark, not the input size).
//
//   example-17-batch-writer
#include <boost/asio/io_context.hpp>

#include <chrono>
#include <cstdio>
#include <functional>
#include <memory>
#include <string>
#include <system_error>

#include <sluice/core.hpp>
#include <sluice/sinks/batch_writer.hpp>

struct row {
  int id;
  std::string name;
};

int main() {
  using namespace std::chrono_literals;
  boost::asio::io_context io;
  sluice::asio_loop loop(io);

  int flushes = 0;
  std::size_t stored = 0;
  auto w = sluice::make_batch_writer<row>(
      loop,
      [&](const sluice::write_batch<row>& b, sluice::callback done) {
        // A "bulk insert" that takes 2 ms, and every seventh call fails with EAGAIN.
        const bool fail = ++flushes % 7 == 0;
        (void)loop.start_timer(2ms, [&, fail, n = b.items.size(), done] {
          if (fail) return done(std::make_error_code(std::errc::resource_unavailable_try_again));
          stored += n;
          done({});
        });
      },
      {.max_items = 500,
       .max_delay = 50ms,
       .max_in_flight = 2,
       .max_attempts = 4,
       .backoff_base = 5ms,
       .retryable =
           [](std::error_code ec) { return ec == std::errc::resource_unavailable_try_again; },
       .name = "rows"});

  int next = 0;
  int acknowledged = 0;
  std::function<void()> produce = [&] {
    while (next < 10000) {
      const bool more = w->write(row{next, "row " + std::to_string(next)}, [&](std::error_code ec) {
        if (!ec) ++acknowledged;  // the row's batch is stored
      });
      ++next;
      if (!more) {
        w->once_drain(produce);  // every row written so far is stored
        return;
      }
    }
    w->end([&](std::error_code ec) {
      std::printf("end: %s\n", ec ? w->error_message().c_str() : "ok");
    });
  };
  produce();
  io.run();

  const auto& s = w->stats();
  std::printf("rows acknowledged %d, stored %zu\n", acknowledged, stored);
  std::printf("batches %llu, retries %llu, flush calls %d\n",
              static_cast<unsigned long long>(s.batches),
              static_cast<unsigned long long>(s.retries), flushes);
  std::printf("most rows held at once: %zu (highWaterMark %zu)\n",
              w->counters().peak_writable_length, w->writable_high_water_mark());
  return acknowledged == 10000 && stored == 10000 ? 0 : 1;
}
