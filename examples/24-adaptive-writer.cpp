// 24-adaptive-writer: pacing writes to a consumer's rate, learnt from its backpressure.
//
// A consumer takes 200 items per second (5 ms each, highWaterMark 16). A producer writes 800
// items as fast as an adaptive_writer in front of the consumer lets it. The writer starts at
// 50 items/s, adds 25 items/s every 100 ms while the consumer keeps up, and multiplies its rate
// by 0.875 at each backpressure episode of the consumer. Every 250 ms this prints the writer's
// rate, what it delivered over that quarter second, and the consumer's buffer. (On a real clock
// the consumer's timers run a little late, so it takes somewhat under 200/s.)
//
//   example-24-adaptive-writer
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <cstdio>
#include <functional>
#include <memory>

#include <sluice/core.hpp>
#include <sluice/sinks/adaptive_writer.hpp>

using namespace std::chrono_literals;

int main() {
  boost::asio::io_context io;
  sluice::asio_loop loop(io);

  auto consumer = sluice::make_writable<int>(
      loop, {.high_water_mark = 16,
             .name = "consumer",
             .write = [&loop](sluice::writable<int>& self, int&&, auto cb) {
               loop.start_timer(5ms, [cb, keep = self.shared_from_this()] { cb(); });
             }});
  auto paced = sluice::adaptive_writer<int>::create(
      loop, consumer,
      {.high_water_mark = 8, .initial_rate = 50, .increase = 25, .decrease = 0.875});

  int next = 0;
  const int total = 800;
  std::function<void()> produce = [&] {
    while (next < total) {
      if (!paced->write(next++)) {
        paced->once_drain(produce);
        return;
      }
    }
    paced->end([](std::error_code ec) {
      std::printf("all delivered, consumer finished: %s\n", ec ? ec.message().c_str() : "ok");
    });
  };
  produce();

  const auto start = loop.now();
  std::uint64_t last = 0;
  boost::asio::steady_timer report(io);
  std::function<void()> every_quarter = [&] {
    report.expires_after(250ms);
    report.async_wait([&](auto) {
      const std::uint64_t now = paced->pacing().forwarded;
      std::printf(
          "%5lld ms  rate %6.1f/s  delivered %6.1f/s  consumer buffer %2zu/16\n",
          static_cast<long long>(
              std::chrono::duration_cast<std::chrono::milliseconds>(loop.now() - start).count()),
          paced->current_rate(), static_cast<double>(now - last) * 4, consumer->writable_length());
      last = now;
      if (!consumer->finished()) every_quarter();
    });
  };
  every_quarter();
  io.run();
  std::printf("%llu decreases, %llu increases\n",
              static_cast<unsigned long long>(paced->pacing().decreases),
              static_cast<unsigned long long>(paced->pacing().increases));
}
