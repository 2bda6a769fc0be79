// sluice-bench sinks: what the sinks layer costs (docs/benchmarks.md, "Writers").
//
//   overhead  readable<int64_t> (0 .. N-1) piped into a plain writable that sums each item, and
//             into a batch_writer (--batch items a batch) whose flush sums the batch and completes
//             at once: items/s of each, paired run by run, and the ratio of the cost per item.
//   memory    N items into a batch_writer whose flush completes --flush-ms later on a real timer
//             (asio loop): the process's RSS sampled at 10 %, 50 % and 100 % of the items. A
//             writer that holds what its batches hold stays flat; one that acknowledged early
//             would grow with N.
//
//   sluice-bench sinks overhead --items N --batch B [--repeat R]
//   sluice-bench sinks memory   --items N --batch B --flush-ms MS
#include <CLI/CLI.hpp>

#include <boost/asio/io_context.hpp>

#include <cstdint>
#include <cstdio>
#include <fstream>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "bench.hpp"
#include "sluice/core/asio_loop.hpp"
#include "sluice/core/make.hpp"
#include "sluice/sinks/batch_writer.hpp"

namespace sluice_bench {

namespace {

using item = std::int64_t;

struct sinks_options {
  std::uint64_t items = 5'000'000;
  std::size_t batch = 1000;
  unsigned repeat = 5;
  unsigned flush_ms = 1;
};
sinks_options sinks_opts;
CLI::App* overhead_cmd = nullptr;
CLI::App* memory_cmd = nullptr;

std::uint64_t triangle(std::uint64_t n) {
  return n % 2 == 0 ? (n / 2) * (n - 1) : n * ((n - 1) / 2);
}

std::shared_ptr<sluice::readable<item>> counting_source(sluice::loop& loop, std::uint64_t n,
                                                        item& next) {
  return sluice::make_readable<item>(loop, {.name = "source"},
                                     [&next, n](sluice::readable<item>& self, std::size_t) {
                                       while (next < static_cast<item>(n)) {
                                         if (!self.push(next++)) return;
                                       }
                                       self.push_eof();
                                     });
}

// One run into a plain summing writable (batch == 0) or a batch_writer; returns seconds, or -1.
double overhead_once(std::uint64_t n, std::size_t batch) {
  sluice::manual_loop loop;
  item next = 0;
  std::uint64_t sum = 0;
  bool finished = false;
  auto src = counting_source(loop, n, next);
  std::shared_ptr<sluice::writable<item>> sink;
  if (batch == 0) {
    sink = sluice::make_writable<item>(loop, {.name = "sink"},
                                       [&sum](sluice::writable<item>&, item&& x, auto cb) {
                                         sum += static_cast<std::uint64_t>(x);
                                         cb();
                                       });
  } else {
    sink = sluice::make_batch_writer<item>(
        loop,
        [&sum](const sluice::write_batch<item>& b, sluice::callback done) {
          for (const item x : b.items) sum += static_cast<std::uint64_t>(x);
          done({});
        },
        {.max_items = batch});
  }
  sink->once_finish([&finished] { finished = true; });
  src->pipe(sink);
  const stopwatch sw;
  loop.run();
  const double s = sw.seconds();
  if (!finished || sum != triangle(n)) {
    std::fprintf(stderr, "sluice-bench sinks: wrong result (finished %d, sum %llu)\n", finished,
                 static_cast<unsigned long long>(sum));
    return -1;
  }
  return s;
}

int run_overhead() {
  const sinks_options& o = sinks_opts;
  std::printf(
      "sluice sinks overhead: %llu items, source -> plain writable vs -> batch_writer "
      "(%zu a batch), paired runs, %u each\n",
      static_cast<unsigned long long>(o.items), o.batch, o.repeat);
  std::vector<double> plain;
  std::vector<double> batched;
  std::vector<double> ratios;
  (void)overhead_once(o.items / 10, 0);  // warm-up
  (void)overhead_once(o.items / 10, o.batch);
  for (unsigned i = 0; i < o.repeat; ++i) {
    const double p = overhead_once(o.items, 0);
    const double b = overhead_once(o.items, o.batch);
    if (p < 0 || b < 0) return 1;
    plain.push_back(p);
    batched.push_back(b);
    ratios.push_back(b / p);
    std::printf("  run %2u: plain %8.2f ns/item  batch_writer %8.2f ns/item  cost ratio %.3f\n",
                i + 1, p * 1e9 / static_cast<double>(o.items),
                b * 1e9 / static_cast<double>(o.items), b / p);
  }
  const timing_summary sp = summarize(plain);
  const timing_summary sb = summarize(batched);
  const timing_summary sr = summarize(ratios);
  std::sort(ratios.begin(), ratios.end());
  std::printf(
      "  median: plain %.2f ns/item, batch_writer %.2f ns/item, cost ratio %.3f "
      "(min %.3f, max %.3f)\n",
      sp.median_seconds * 1e9 / static_cast<double>(o.items),
      sb.median_seconds * 1e9 / static_cast<double>(o.items), sr.median_seconds, ratios.front(),
      ratios.back());
  std::printf(
      "RESULT sinks_overhead ratio=%.4f ratio_min=%.4f ratio_max=%.4f plain_ns=%.3f "
      "batch_ns=%.3f items=%llu batch=%zu runs=%u\n",
      sr.median_seconds, ratios.front(), ratios.back(),
      sp.median_seconds * 1e9 / static_cast<double>(o.items),
      sb.median_seconds * 1e9 / static_cast<double>(o.items),
      static_cast<unsigned long long>(o.items), o.batch, o.repeat);
  return 0;
}

long rss_kib() {
  std::ifstream f("/proc/self/status");
  std::string key;
  long v = -1;
  while (f >> key) {
    if (key == "VmRSS:") {
      f >> v;
      break;
    }
    std::getline(f, key);
  }
  return v;
}

int run_memory() {
  const sinks_options& o = sinks_opts;
  std::printf(
      "sluice sinks memory: %llu items into a batch_writer (%zu a batch), each flush "
      "completing %u ms later (asio timer)\n",
      static_cast<unsigned long long>(o.items), o.batch, o.flush_ms);
  boost::asio::io_context io;
  sluice::asio_loop loop(io);
  item next = 0;
  std::uint64_t sum = 0;
  bool finished = false;
  auto src = counting_source(loop, o.items, next);
  const auto delay = std::chrono::milliseconds(o.flush_ms);
  auto w = sluice::make_batch_writer<item>(
      loop,
      [&](const sluice::write_batch<item>& b, sluice::callback done) {
        for (const item x : b.items) sum += static_cast<std::uint64_t>(x);
        (void)loop.start_timer(delay, [done] { done({}); });
      },
      {.max_items = o.batch});
  const long before = rss_kib();
  std::vector<std::pair<int, long>> samples;
  const std::uint64_t marks[] = {o.items / 10, o.items / 2};
  std::size_t mark = 0;
  std::function<void()> sample;
  w->on_drain([&] {
    while (mark < 2 && static_cast<std::uint64_t>(next) >= marks[mark]) {
      samples.emplace_back(mark == 0 ? 10 : 50, rss_kib());
      ++mark;
    }
  });
  w->once_finish([&] { finished = true; });
  src->pipe(w);
  const stopwatch sw;
  io.run();
  const double secs = sw.seconds();
  samples.emplace_back(100, rss_kib());
  if (!finished || sum != triangle(o.items)) {
    std::fprintf(stderr, "sluice-bench sinks memory: wrong result\n");
    return 1;
  }
  std::printf("  %.2f s, %.0f items/s; RSS before %ld KiB", secs,
              static_cast<double>(o.items) / secs, before);
  for (const auto& [pct, kib] : samples) std::printf(", at %d %%: %ld KiB", pct, kib);
  std::printf("\n  most items held: %zu (highWaterMark %zu)\n", w->counters().peak_writable_length,
              w->writable_high_water_mark());
  const long growth = samples.back().second - samples.front().second;
  std::printf(
      "RESULT sinks_memory rss_before_kib=%ld rss_10_kib=%ld rss_end_kib=%ld "
      "growth_10_to_end_kib=%ld peak_items=%zu hwm=%zu items=%llu batch=%zu flush_ms=%u "
      "seconds=%.3f\n",
      before, samples.front().second, samples.back().second, growth,
      w->counters().peak_writable_length, w->writable_high_water_mark(),
      static_cast<unsigned long long>(o.items), o.batch, o.flush_ms, secs);
  return 0;
}

}  // namespace

CLI::App* add_sinks_subcommand(CLI::App& app) {
  CLI::App* cmd = app.add_subcommand("sinks", "What the sinks layer's writers cost");
  cmd->require_subcommand(1);
  overhead_cmd = cmd->add_subcommand("overhead", "Per-item cost: batch_writer vs plain writable");
  memory_cmd =
      cmd->add_subcommand("memory", "RSS of a batch_writer with slow flushes over N items");
  for (CLI::App* c : {overhead_cmd, memory_cmd}) {
    c->add_option("--items,-n", sinks_opts.items, "Items")
        ->check(CLI::Range(std::uint64_t{1000}, std::uint64_t{1} << 36))
        ->capture_default_str();
    c->add_option("--batch,-b", sinks_opts.batch, "Items a batch")
        ->check(CLI::Range(std::size_t{1}, std::size_t{1} << 24))
        ->capture_default_str();
  }
  overhead_cmd->add_option("--repeat,-r", sinks_opts.repeat, "Paired timed runs")
      ->check(CLI::Range(1u, 1000u))
      ->capture_default_str();
  memory_cmd->add_option("--flush-ms", sinks_opts.flush_ms, "How long each flush takes, in ms")
      ->check(CLI::Range(0u, 10000u))
      ->capture_default_str();
  return cmd;
}

int run_sinks_subcommand() {
  if (*overhead_cmd) return run_overhead();
  if (*memory_cmd) return run_memory();
  return 1;
}

}  // namespace sluice_bench
