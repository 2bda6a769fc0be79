// 25-tutorial-backpressure-demo: the writable-streams tutorial's backpressure demo, in sluice.
//
// A slow writer (each write takes 100 ms, highWaterMark 1024 bytes) fed by a fast producer of
// 2000 chunks of 64 KiB, watched by a sluice::monitor (episode timeout 1 s). After 3 s the run
// stops and prints the episodes the monitor saw, its timeouts, the most bytes the writer ever
// held and the process's peak RSS, as a `RESULT sluice_monitor ...` line.
// scripts/bench-writers.sh runs it beside bench/node/backpressure-manager.js, the tutorial's own
// manager on the same scenario, where the producer ignores write()'s return value.
//
// Here the producer waits for 'drain' when write() returns false, so the writer never holds more
// than one chunk beyond its highWaterMark; every episode starts and ends exactly once, and a
// timeout is reported only for an episode that really outlasts the threshold (one timer for the
// monitor, not one per episode).
//
//   example-25-tutorial-backpressure-demo [SECONDS]
#include <sys/resource.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <memory>
#include <string>

#include <sluice/core.hpp>

int main(int argc, char** argv) {
  using namespace std::chrono_literals;
  const int seconds = argc > 1 ? std::max(1, std::atoi(argv[1])) : 3;
  constexpr std::size_t chunk_size = 64 * 1024;
  constexpr int chunks = 2000;
  boost::asio::io_context io;
  sluice::asio_loop loop(io);

  auto slow = sluice::make_writable<sluice::buffer>(
      loop, {.high_water_mark = 1024,
             .name = "slow-writer",
             .write = [&loop](sluice::writable<sluice::buffer>& self, sluice::buffer&&, auto cb) {
               (void)loop.start_timer(100ms, [cb, keep = self.shared_from_this()] { cb(); });
             }});
  slow->on_error([](std::error_code) {});

  auto mon = sluice::monitor::create(loop, {.tick = 50ms, .backpressure_timeout = 1s});
  std::uint64_t episodes = 0;
  std::uint64_t timeouts = 0;
  mon->on_backpressure_start([&](sluice::stream& s, sluice::stream_side, std::uint64_t n) {
    ++episodes;
    std::printf("backpressure start: %s, episode %llu\n", s.name().c_str(),
                static_cast<unsigned long long>(n));
  });
  mon->on_backpressure_end([&](sluice::stream& s, sluice::stream_side, auto lasted) {
    std::printf("backpressure end: %s, %lld ms\n", s.name().c_str(),
                static_cast<long long>(
                    std::chrono::duration_cast<std::chrono::milliseconds>(lasted).count()));
  });
  mon->on_backpressure_timeout([&](sluice::stream& s, sluice::stream_side, auto) {
    ++timeouts;
    std::printf("backpressure timeout: %s\n", s.name().c_str());
  });
  mon->watch(slow);

  const sluice::buffer chunk(std::string(chunk_size, 'x'));
  int written = 0;
  std::function<void()> produce = [&] {
    while (written < chunks) {
      ++written;
      if (!slow->write(chunk)) {
        slow->once_drain(produce);
        return;
      }
    }
  };
  produce();

  boost::asio::steady_timer stop(io, std::chrono::seconds(seconds));
  stop.async_wait([&](auto) { slow->destroy(); });
  io.run();

  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  const double rss_mib = static_cast<double>(ru.ru_maxrss) / 1024.0;
  const std::size_t peak = slow->counters().peak_writable_length;
  std::printf(
      "after %d s: %d chunks written, %llu episodes, %llu timeouts, most bytes held %zu, "
      "peak RSS %.1f MiB\n",
      seconds, written, static_cast<unsigned long long>(episodes),
      static_cast<unsigned long long>(timeouts), peak, rss_mib);
  std::printf(
      "RESULT sluice_monitor mode=respect written=%d episodes=%llu timeouts=%llu "
      "peak_buffered_bytes=%zu peak_rss_mib=%.1f\n",
      written, static_cast<unsigned long long>(episodes), static_cast<unsigned long long>(timeouts),
      peak, rss_mib);
  return 0;
}
