// sluice-bench memory: what respecting write()'s return value does to buffering.
//
// A producer writes N items into a slow writable (object mode: the highWaterMark counts items)
// whose write hook completes each write on a later tick (loop.defer) or from a zero-delay timer,
// the way a disk or socket would complete later. It either
//   - respects backpressure: writes until write() returns false, then waits for 'drain'; or
//   - ignores it (--ignore-backpressure): writes all N items at once.
// The writable's own counter, counters().peak_writable_length, says how much was ever buffered
// (written but not yet acknowledged by the sink). Respecting write() should bound it by
// hwm + one chunk whatever N is; ignoring it makes it grow with N.
#include <sys/resource.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <memory>
#include <string>

#include "bench.hpp"
#include "sluice/make.hpp"
#include "sluice/writable.hpp"

namespace sluice_bench {

namespace {

using item = std::int64_t;

struct memory_report {
  std::size_t hwm = 0;
  sluice::stream_counters counters{};
  std::uint64_t consumed = 0;
  std::size_t max_producer_seen = 0;  // largest writable_length() the producer observed
};

run_result memory_once(sluice::loop& loop, const std::function<void()>& run,
                       const memory_options& o, memory_report& rep) {
  const auto n = static_cast<item>(o.items);
  std::uint64_t sum = 0;
  item next = 0;
  bool finished = false;
  std::string error;

  auto sink = sluice::make_writable<item>(
      loop, {.high_water_mark = o.hwm,
             .name = "slow sink",
             .write = [&sum, &rep, &loop, &o](sluice::writable<item>& self, item&& x, auto cb) {
               sum += static_cast<std::uint64_t>(x);
               ++rep.consumed;
               // Complete later; the pending task keeps the stream alive until then.
               auto done = [cb, keep = self.shared_from_this()] { cb(); };
               if (o.complete == completion::defer)
                 loop.defer(std::move(done));
               else
                 (void)loop.start_timer(std::chrono::nanoseconds(0), std::move(done));
             }});
  sink->on_error([&error](std::error_code ec) { error = "sink: " + ec.message(); });
  sink->once_finish([&finished] { finished = true; });
  rep.hwm = sink->writable_high_water_mark();

  std::function<void()> produce = [&] {
    while (next < n) {
      const bool ok = sink->write(next++);
      if (sink->writable_length() > rep.max_producer_seen)
        rep.max_producer_seen = sink->writable_length();
      if (!ok && !o.ignore_backpressure) {
        sink->once_drain(produce);  // resume when the sink has caught up
        return;
      }
    }
    sink->end();
  };
  loop.defer([&produce] { produce(); });

  const stopwatch sw;
  run();
  run_result r{sw.seconds(), {}};
  rep.counters = sink->counters();

  const std::uint64_t un = o.items;
  const std::uint64_t want = un % 2 == 0 ? (un / 2) * (un - 1) : un * ((un - 1) / 2);
  if (!error.empty())
    r.error = "stream error: " + error;
  else if (!finished)
    r.error = "the sink never emitted 'finish' (" + std::to_string(next) + " of " +
              std::to_string(n) + " items written)";
  else if (rep.consumed != un || sum != want)
    r.error = "wrong data at the sink: " + std::to_string(rep.consumed) + " items, sum " +
              std::to_string(sum) + " (expected " + std::to_string(un) + " items, sum " +
              std::to_string(want) + ")";
  return r;
}

long max_rss_kib() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_maxrss;  // KiB on Linux
}

}  // namespace

int run_memory(const memory_options& o) {
  memory_report rep;
  const long rss_before = max_rss_kib();
  const run_result r = with_loop(o.loop, [&](sluice::loop& l, const std::function<void()>& run) {
    return memory_once(l, run, o, rep);
  });
  const long rss_after = max_rss_kib();
  if (!r.error.empty()) {
    std::fprintf(stderr, "sluice-bench memory: %s\n", r.error.c_str());
    return 1;
  }
  const std::size_t peak = rep.counters.peak_writable_length;
  const std::size_t bound = rep.hwm + 1;  // hwm + one chunk (object mode: one item)
  const bool within = peak <= bound;
  const bool respect = !o.ignore_backpressure;

  std::printf(
      "sluice memory: %llu items, hwm %zu items, producer %s write(), completions %s, %s "
      "loop\n",
      static_cast<unsigned long long>(o.items), rep.hwm, respect ? "respects" : "ignores",
      o.complete == completion::defer ? "deferred" : "on a timer", to_string(o.loop));
  std::printf("  peak writable_length: %zu items (hwm %zu; hwm + 1 chunk = %zu): %s\n", peak,
              rep.hwm, bound, within ? "within hwm + 1 chunk" : "EXCEEDS hwm + 1 chunk");
  if (rep.max_producer_seen != peak)
    std::printf("  note: the producer saw writable_length() reach %zu, the counter says %zu\n",
                rep.max_producer_seen, peak);
  std::printf("  write() returned false %llu times; 'drain' emitted %llu times\n",
              static_cast<unsigned long long>(rep.counters.write_backpressure),
              static_cast<unsigned long long>(rep.counters.drains));
  std::printf(
      "  elapsed %.3f s (%.0f items/s); process max RSS %.1f MiB (%+.1f MiB during the run)\n",
      r.seconds, static_cast<double>(o.items) / r.seconds, rss_after / 1024.0,
      (rss_after - rss_before) / 1024.0);
  std::printf(
      "RESULT memory peak_writable_length=%zu hwm=%zu bound=%zu within_bound=%d respect=%d "
      "items=%llu backpressure_episodes=%llu drains=%llu max_rss_kib=%ld complete=%s loop=%s\n",
      peak, rep.hwm, bound, within ? 1 : 0, respect ? 1 : 0,
      static_cast<unsigned long long>(o.items),
      static_cast<unsigned long long>(rep.counters.write_backpressure),
      static_cast<unsigned long long>(rep.counters.drains), rss_after,
      o.complete == completion::defer ? "defer" : "timer", to_string(o.loop));
  if (respect && !within) {
    std::fprintf(stderr,
                 "sluice-bench memory: a producer that respects write() buffered %zu items, more "
                 "than hwm + 1 chunk = %zu\n",
                 peak, bound);
    return 2;
  }
  return 0;
}

}  // namespace sluice_bench
