// sluice-bench memory: what respecting write()'s return value does to buffering.
//
// A producer writes N chunks into a slow writable whose write hook completes each write on a
// later tick (loop.defer) or from a zero-delay timer, the way a disk or socket completes later.
// It either
//   - respects backpressure: writes until write() returns false, then waits for 'drain'; or
//   - ignores it (--ignore-backpressure): writes all N chunks at once.
// The writable's own counter, counters().peak_writable_length, says how much was ever buffered
// (written but not yet acknowledged by the sink). Respecting write() should bound it by
// hwm + one chunk whatever N is; ignoring it makes it grow with N.
//
// Object mode (default): the chunks are int64 items and the hwm counts items (one chunk = 1).
// Byte mode (--chunk SIZE): the chunks are SIZE-byte buffers (one pre-allocated buffer, shared)
// and the hwm counts bytes.
#include <sys/resource.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <memory>
#include <string>

#include "bench.hpp"
#include "sluice/core/buffer.hpp"
#include "sluice/core/make.hpp"
#include "sluice/core/writable.hpp"

namespace sluice_bench {

namespace {

using item = std::int64_t;

struct memory_report {
  std::size_t hwm = 0;
  std::size_t chunk_size = 1;  // in hwm units
  sluice::stream_counters counters{};
  std::size_t max_producer_seen = 0;  // largest writable_length() the producer observed
};

// A chunk for write number i, and what it adds to the sink's checksum.
struct item_chunks {
  static item make(item i) { return i; }
  static std::uint64_t weight(const item& x) { return static_cast<std::uint64_t>(x); }
};
struct buffer_chunks {
  const sluice::buffer* block;
  [[nodiscard]] sluice::buffer make(item) const { return *block; }
  static std::uint64_t weight(const sluice::buffer& b) { return b.size(); }
};

template <class T, class Chunks>
run_result memory_once(sluice::loop& loop, const std::function<void()>& run,
                       const memory_options& o, const Chunks& chunks, std::uint64_t want,
                       memory_report& rep) {
  const auto n = static_cast<item>(o.items);
  std::uint64_t sum = 0;
  std::uint64_t consumed = 0;
  item next = 0;
  bool finished = false;
  std::string error;

  auto sink = sluice::make_writable<T>(
      loop, {.high_water_mark = o.hwm,
             .name = "slow sink",
             .write = [&sum, &consumed, &loop, &o](sluice::writable<T>& self, T&& x, auto cb) {
               sum += Chunks::weight(x);
               ++consumed;
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
      const bool ok = sink->write(chunks.make(next++));
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

  if (!error.empty())
    r.error = "stream error: " + error;
  else if (!finished)
    r.error = "the sink never emitted 'finish' (" + std::to_string(next) + " of " +
              std::to_string(n) + " chunks written)";
  else if (consumed != o.items || sum != want)
    r.error = "wrong data at the sink: " + std::to_string(consumed) + " chunks, checksum " +
              std::to_string(sum) + " (expected " + std::to_string(o.items) + " chunks, checksum " +
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
  const bool bytes = o.chunk.has_value();
  const long rss_before = max_rss_kib();
  run_result r;
  if (bytes) {
    const sluice::buffer block(std::string(*o.chunk, 'x'));
    rep.chunk_size = *o.chunk;
    r = with_loop(o.loop, [&](sluice::loop& l, const std::function<void()>& run) {
      return memory_once<sluice::buffer>(l, run, o, buffer_chunks{&block}, o.items * *o.chunk, rep);
    });
  } else {
    const std::uint64_t n = o.items;  // checksum: 0 + 1 + ... + (n - 1), modulo 2^64
    const std::uint64_t want = n % 2 == 0 ? (n / 2) * (n - 1) : n * ((n - 1) / 2);
    r = with_loop(o.loop, [&](sluice::loop& l, const std::function<void()>& run) {
      return memory_once<item>(l, run, o, item_chunks{}, want, rep);
    });
  }
  const long rss_after = max_rss_kib();
  if (!r.error.empty()) {
    std::fprintf(stderr, "sluice-bench memory: %s\n", r.error.c_str());
    return 1;
  }
  const char* unit = bytes ? "bytes" : "items";
  const std::size_t peak = rep.counters.peak_writable_length;
  const std::size_t bound = rep.hwm + rep.chunk_size;
  const bool within = peak <= bound;
  const bool respect = !o.ignore_backpressure;

  std::printf(
      "sluice memory: %llu chunks of %zu %s, hwm %zu %s, producer %s write(), "
      "completions %s, %s loop\n",
      static_cast<unsigned long long>(o.items), rep.chunk_size, unit, rep.hwm, unit,
      respect ? "respects" : "ignores", o.complete == completion::defer ? "deferred" : "on a timer",
      to_string(o.loop));
  std::printf("  peak writable_length: %zu %s (hwm %zu; hwm + 1 chunk = %zu): %s\n", peak, unit,
              rep.hwm, bound, within ? "within hwm + 1 chunk" : "EXCEEDS hwm + 1 chunk");
  if (rep.max_producer_seen != peak)
    std::printf("  note: the producer saw writable_length() reach %zu, the counter says %zu\n",
                rep.max_producer_seen, peak);
  std::printf("  write() returned false %llu times; 'drain' emitted %llu times\n",
              static_cast<unsigned long long>(rep.counters.write_backpressure),
              static_cast<unsigned long long>(rep.counters.drains));
  std::printf(
      "  elapsed %.3f s (%.0f chunks/s); process max RSS %.1f MiB (%+.1f MiB during the run)\n",
      r.seconds, static_cast<double>(o.items) / r.seconds, rss_after / 1024.0,
      (rss_after - rss_before) / 1024.0);
  std::printf(
      "RESULT memory peak_writable_length=%zu hwm=%zu bound=%zu within_bound=%d respect=%d "
      "items=%llu chunk=%s backpressure_episodes=%llu drains=%llu max_rss_kib=%ld complete=%s "
      "loop=%s\n",
      peak, rep.hwm, bound, within ? 1 : 0, respect ? 1 : 0,
      static_cast<unsigned long long>(o.items), bytes ? std::to_string(*o.chunk).c_str() : "item",
      static_cast<unsigned long long>(rep.counters.write_backpressure),
      static_cast<unsigned long long>(rep.counters.drains), rss_after,
      o.complete == completion::defer ? "defer" : "timer", to_string(o.loop));
  if (respect && !within) {
    std::fprintf(stderr,
                 "sluice-bench memory: a producer that respects write() buffered %zu %s, more "
                 "than hwm + 1 chunk = %zu\n",
                 peak, unit, bound);
    return 2;
  }
  return 0;
}

}  // namespace sluice_bench
