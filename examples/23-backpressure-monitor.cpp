// 23-backpressure-monitor: watching backpressure without wrapping the streams.
//
// A fast producer writes 24 items into a slow writer (100 ms per item, highWaterMark 4),
// honouring write()'s false and 'drain'. A sluice::monitor watches the writer: it prints each
// backpressure episode as it starts and ends, the episodes that outlast 300 ms, and, at the end,
// the snapshot of what it measured. The monitor's one timer stops by itself once the writer
// has closed, so io.run() returns.
//
//   example-23-backpressure-monitor
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <cstdio>
#include <functional>
#include <memory>

#include <sluice/core.hpp>
#include <sluice/core/monitor.hpp>

namespace {

using namespace std::chrono_literals;

long long ms(sluice::loop::duration d) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(d).count();
}

}  // namespace

int main() {
  boost::asio::io_context io;
  sluice::asio_loop loop(io);
  const auto start = loop.now();
  auto at = [&] { return ms(loop.now() - start); };

  // The slow writer: each item takes 100 ms.
  auto slow = sluice::make_writable<int>(
      loop, {.high_water_mark = 4,
             .name = "slow-writer",
             .write = [&loop](sluice::writable<int>& self, int&&, auto cb) {
               loop.start_timer(100ms, [cb, keep = self.shared_from_this()] { cb(); });
             }});

  auto mon = sluice::monitor::create(
      loop, {.tick = 50ms, .backpressure_timeout = 300ms, .stall_after = 2s, .window = 1s});
  mon->on_backpressure_start([&](sluice::stream& s, sluice::stream_side, std::uint64_t n) {
    std::printf("%5lld ms  %s: backpressure #%llu starts (write() returned false)\n", at(),
                s.name().c_str(), static_cast<unsigned long long>(n));
  });
  mon->on_backpressure_end([&](sluice::stream& s, sluice::stream_side, auto lasted) {
    std::printf("%5lld ms  %s: backpressure ends after %lld ms ('drain')\n", at(), s.name().c_str(),
                ms(lasted));
  });
  mon->on_backpressure_timeout([&](sluice::stream& s, sluice::stream_side, auto lasted) {
    std::printf("%5lld ms  %s: TIMEOUT, backpressured for %lld ms already\n", at(),
                s.name().c_str(), ms(lasted));
  });
  mon->on_stalled(
      [&](sluice::stream& s) { std::printf("%5lld ms  %s: stalled\n", at(), s.name().c_str()); });
  mon->watch(slow);

  // The fast producer: writes until false, resumes on 'drain'.
  int next = 0;
  const int total = 24;
  std::function<void()> produce = [&] {
    while (next < total) {
      if (!slow->write(next++)) {
        slow->once_drain(produce);
        return;
      }
    }
    slow->end();
  };
  produce();

  // Halfway through, a snapshot (taken from a plain asio timer, outside the monitor).
  boost::asio::steady_timer half(io, 1200ms);
  half.async_wait([&](auto) {
    const auto snap = mon->snapshot();
    const auto& st = snap.streams[0];
    std::printf("%5lld ms  snapshot: %zu/%zu buffered, in backpressure: %s, out %.1f items/s\n",
                at(), st.writable_length, st.writable_high_water_mark,
                st.writable_side.active ? "yes" : "no", st.out_per_second);
  });

  io.run();

  const auto snap = mon->snapshot();
  const auto& st = snap.streams[0];
  std::printf("\nsnapshot of '%s' (%s):\n", st.name.c_str(), st.alive ? "open" : "closed");
  std::printf("  episodes %llu, timeouts %llu, total %lld ms, longest %lld ms\n",
              static_cast<unsigned long long>(st.writable_side.episodes),
              static_cast<unsigned long long>(st.writable_side.timeouts),
              ms(st.writable_side.total), ms(st.writable_side.longest));
  std::printf("  all streams: %llu episodes, %lld ms backpressured\n",
              static_cast<unsigned long long>(snap.episodes), ms(snap.backpressured_time));
  std::printf("  (the stream's own counters agree: %llu episodes, %lld ms)\n",
              static_cast<unsigned long long>(slow->counters().write_backpressure),
              ms(slow->counters().write_backpressured_time));
}
