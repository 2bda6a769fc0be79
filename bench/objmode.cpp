// sluice-bench objmode: per-item overhead of an object-mode pipeline.
//
//   readable<int64_t> (0 .. N-1) → K × transform (x + 1) → writable (sum += x)
//
// wired with pipe(), so every item goes through every stream's buffer, 'data' event, write() and
// callbacks, and backpressure is live at each link (default highWaterMark: 16 items). The sum
// proves every item arrived exactly once: N(N-1)/2 + K·N.
#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "bench.hpp"
#include "sluice/core/make.hpp"
#include "sluice/core/monitor.hpp"
#include "sluice/core/readable.hpp"
#include "sluice/core/transform.hpp"
#include "sluice/core/writable.hpp"
#include "sluice/metrics/registry.hpp"

namespace sluice_bench {

namespace {

using item = std::int64_t;

// N(N-1)/2 + K·N, modulo 2^64 (the sum is accumulated modulo 2^64 too).
std::uint64_t expected_sum(std::uint64_t n, std::uint64_t k) {
  const std::uint64_t triangle = n % 2 == 0 ? (n / 2) * (n - 1) : n * ((n - 1) / 2);
  return triangle + k * n;
}

run_result objmode_once(sluice::loop& loop, const std::function<void()>& run,
                        const objmode_options& o) {
  const auto n = static_cast<item>(o.items);
  item next = 0;
  std::uint64_t sum = 0;
  bool finished = false;
  std::vector<std::string> errors;
  auto watch = [&errors](sluice::stream& s) {
    s.on_error(
        [&errors, &s](std::error_code ec) { errors.push_back(s.name() + ": " + ec.message()); });
  };

  // The same three functions for both ways of building the streams.
  auto read = [&next, n](sluice::readable<item>& self, std::size_t) {
    while (next < n) {
      if (!self.push(next++)) return;
    }
    self.push_eof();
  };
  auto add_one = [](sluice::transform<item>&, item&& x, auto cb) { cb(x + 1); };
  auto add_to_sum = [&sum](sluice::writable<item>&, item&& x, auto cb) {
    sum += static_cast<std::uint64_t>(x);
    cb();
  };
  const bool typed = o.api == "typed";

  std::shared_ptr<sluice::readable<item>> src =
      typed ? sluice::make_readable<item>(loop, {.high_water_mark = o.hwm, .name = "source"}, read)
            : sluice::make_readable<item>(
                  loop, {.high_water_mark = o.hwm, .name = "source", .read = read});
  watch(*src);

  std::vector<std::shared_ptr<sluice::transform<item>>> stages;
  for (unsigned k = 0; k < o.stages; ++k) {
    std::string name = "stage " + std::to_string(k + 1);
    stages.push_back(typed ? sluice::make_transform<item>(loop,
                                                          {.readable_high_water_mark = o.hwm,
                                                           .writable_high_water_mark = o.hwm,
                                                           .name = std::move(name)},
                                                          add_one)
                           : sluice::make_transform<item>(loop, {.readable_high_water_mark = o.hwm,
                                                                 .writable_high_water_mark = o.hwm,
                                                                 .name = std::move(name),
                                                                 .transform = add_one}));
    watch(*stages.back());
  }

  std::shared_ptr<sluice::writable<item>> sink =
      typed ? sluice::make_writable<item>(loop, {.high_water_mark = o.hwm, .name = "sink"},
                                          add_to_sum)
            : sluice::make_writable<item>(
                  loop, {.high_water_mark = o.hwm, .name = "sink", .write = add_to_sum});
  watch(*sink);
  sink->once_finish([&finished] { finished = true; });

  // --monitor: every stream watched (the manual loop runs the monitor's timer once nothing else is
  // left to run, so on it the cost is that of the observer calls; on the asio loop the ticks too).
  // --metrics: that monitor exported by a registry nobody scrapes.
  std::shared_ptr<sluice::monitor> mon;
  sluice::metrics::registry registry;
  if (o.monitor || o.metrics) {
    mon = sluice::monitor::create(loop);
    mon->watch(src);
    for (auto& t : stages) mon->watch(t);
    mon->watch(sink);
    if (o.metrics) registry.add("objmode", mon);
  }

  // src->pipe(t1)->pipe(t2)->...->pipe(sink)
  std::shared_ptr<sluice::readable<item>> tail = src;
  for (auto& t : stages) tail = tail->pipe(t);
  tail->pipe(sink);

  const stopwatch sw;
  run();
  run_result r{sw.seconds(), {}};

  if (!errors.empty()) {
    r.error = "stream error: " + errors.front();
  } else if (!finished) {
    r.error = "the sink never emitted 'finish' (" + std::to_string(next) + " of " +
              std::to_string(n) + " items produced)";
  } else if (const std::uint64_t want = expected_sum(o.items, o.stages); sum != want) {
    r.error = "wrong sum: got " + std::to_string(sum) + ", expected " + std::to_string(want);
  }
  return r;
}

}  // namespace

int run_objmode(const objmode_options& o) {
  const std::string hwm =
      o.hwm ? std::to_string(*o.hwm)
            : std::to_string(sluice::default_high_water_mark(sluice::stream_mode::objects)) +
                  " (default)";
  std::printf(
      "sluice objmode: %llu items, %u stages, hwm %s, %s api, %s loop, %u runs (+%u warm-up)%s\n",
      static_cast<unsigned long long>(o.items), o.stages, hwm.c_str(), o.api.c_str(),
      to_string(o.loop), o.repeat, o.warmup,
      o.metrics   ? ", every stream monitored, metrics registered"
      : o.monitor ? ", every stream monitored"
                  : "");
  const double item_stages = static_cast<double>(o.items) * o.stages;
  std::vector<double> times;
  for (unsigned i = 0; i < o.warmup + o.repeat; ++i) {
    const run_result r = with_loop(o.loop, [&o](sluice::loop& l, const std::function<void()>& run) {
      return objmode_once(l, run, o);
    });
    if (!r.error.empty()) {
      std::fprintf(stderr, "sluice-bench objmode: run %u failed: %s\n", i + 1, r.error.c_str());
      return 1;
    }
    const bool warm_up = i < o.warmup;
    if (!warm_up) times.push_back(r.seconds);
    std::printf("  %s %2u: %8.3f s %14.0f items/s %9.2f ns/item/stage\n",
                warm_up ? "warm-up" : "run    ", warm_up ? i + 1 : i + 1 - o.warmup, r.seconds,
                static_cast<double>(o.items) / r.seconds, r.seconds * 1e9 / item_stages);
    std::fflush(stdout);
  }
  const timing_summary s = summarize(times);
  const double best_rate = static_cast<double>(o.items) / s.best_seconds;
  const double median_rate = static_cast<double>(o.items) / s.median_seconds;
  const double best_ns = s.best_seconds * 1e9 / item_stages;
  const double median_ns = s.median_seconds * 1e9 / item_stages;
  std::printf("  best:           %14.0f items/s %9.2f ns/item/stage\n", best_rate, best_ns);
  std::printf("  median:         %14.0f items/s %9.2f ns/item/stage\n", median_rate, median_ns);
  std::printf(
      "RESULT objmode items_per_s=%.0f ns_per_item_stage=%.3f median_items_per_s=%.0f "
      "median_ns_per_item_stage=%.3f impl=sluice api=%s loop=%s items=%llu stages=%u hwm=%s "
      "runs=%u warmup=%u monitor=%d metrics=%d\n",
      best_rate, best_ns, median_rate, median_ns, o.api.c_str(), to_string(o.loop),
      static_cast<unsigned long long>(o.items), o.stages,
      o.hwm ? std::to_string(*o.hwm).c_str() : "default", o.repeat, o.warmup,
      o.monitor || o.metrics ? 1 : 0, o.metrics ? 1 : 0);
  return 0;
}

}  // namespace sluice_bench
