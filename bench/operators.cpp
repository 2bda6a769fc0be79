// sluice-bench map: what bounded concurrency buys an asynchronous map.
//
//   readable<int64> (0 .. N-1) → map(f, {.concurrency = C}) → for_each (sum += x)
//
// on a sluice::asio_loop over a real io_context, where f completes each item after a real
// `--wait-ms` timer (an I/O-bound mapper: a lookup, a request). The same pipeline runs with
// concurrency 1 and with concurrency C in one process; the ratio of the two times is the figure
// to read (ideal: C). Every run checks the sum and the peak number of items in flight.
#include <CLI/CLI.hpp>
#include <boost/asio/io_context.hpp>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "bench.hpp"
#include "sluice/compose/operators.hpp"
#include "sluice/core/asio_loop.hpp"
#include "sluice/core/make.hpp"

namespace sluice_bench {

namespace {

using item = std::int64_t;

struct map_bench_options {
  std::uint64_t items = 400;
  unsigned concurrency = 8;
  unsigned wait_ms = 1;
  unsigned repeat = 3;
};

map_bench_options map_opts;

struct map_run {
  double seconds = 0;
  unsigned peak_in_flight = 0;
  std::string error{};
};

map_run map_once(const map_bench_options& o, unsigned concurrency) {
  boost::asio::io_context io;
  sluice::asio_loop loop(io);
  const auto n = static_cast<item>(o.items);
  item next = 0;
  auto src = sluice::make_readable<item>(
      loop, {.name = "source", .read = [&next, n](auto& self, std::size_t) {
               while (next < n)
                 if (!self.push(next++)) return;
               self.push_eof();
             }});
  unsigned in_flight = 0;
  map_run r;
  const auto delay = std::chrono::milliseconds(o.wait_ms);
  auto mapped = sluice::map(src,
                            [&](item x, sluice::done<item> cb) {
                              if (++in_flight > r.peak_in_flight) r.peak_in_flight = in_flight;
                              loop.start_timer(delay, [&in_flight, cb, x] {
                                --in_flight;
                                cb(x * 2);
                              });
                            },
                            {.concurrency = concurrency});
  std::uint64_t sum = 0;
  std::error_code result = make_error_code(std::errc::interrupted);
  sluice::for_each(
      mapped, [&sum](item x) { sum += static_cast<std::uint64_t>(x); },
      [&result](std::error_code ec) { result = ec; });
  const stopwatch sw;
  io.run();
  r.seconds = sw.seconds();
  const std::uint64_t want = o.items * (o.items - 1);  // 2 · N(N-1)/2
  if (result)
    r.error = "map failed: " + mapped->error_message() + " (" + result.message() + ")";
  else if (sum != want)
    r.error = "wrong sum: got " + std::to_string(sum) + ", expected " + std::to_string(want);
  else if (r.peak_in_flight > concurrency)
    r.error =
        "in flight: " + std::to_string(r.peak_in_flight) + " > " + std::to_string(concurrency);
  return r;
}

// Best of `repeat` runs at `concurrency`; prints each. Returns a negative time on failure.
double best_of(const map_bench_options& o, unsigned concurrency) {
  std::vector<double> times;
  for (unsigned i = 0; i < o.repeat; ++i) {
    const map_run r = map_once(o, concurrency);
    if (!r.error.empty()) {
      std::fprintf(stderr, "sluice-bench map: concurrency %u, run %u: %s\n", concurrency, i + 1,
                   r.error.c_str());
      return -1;
    }
    times.push_back(r.seconds);
    std::printf("  concurrency %3u run %u: %8.3f s %10.0f items/s  peak in flight %u\n",
                concurrency, i + 1, r.seconds, static_cast<double>(o.items) / r.seconds,
                r.peak_in_flight);
    std::fflush(stdout);
  }
  return summarize(times).best_seconds;
}

}  // namespace

CLI::App* add_map_subcommand(CLI::App& app) {
  CLI::App* cmd = app.add_subcommand(
      "map",
      "Asynchronous map over a mapper that waits on a real timer: concurrency C vs 1 (asio loop)");
  cmd->add_option("--items,-n", map_opts.items, "Items to map")
      ->check(CLI::Range(std::uint64_t{1}, std::uint64_t{1} << 32))
      ->capture_default_str();
  cmd->add_option("--concurrency,-c", map_opts.concurrency, "Items in flight at once (C)")
      ->check(CLI::Range(1u, 100000u))
      ->capture_default_str();
  cmd->add_option("--wait-ms", map_opts.wait_ms, "How long the mapper waits per item, in ms")
      ->check(CLI::Range(0u, 10000u))
      ->capture_default_str();
  cmd->add_option("--repeat,-r", map_opts.repeat, "Timed runs per concurrency; best is reported")
      ->check(CLI::Range(1u, 1000u))
      ->capture_default_str();
  return cmd;
}

int run_map_subcommand() {
  const map_bench_options& o = map_opts;
  std::printf(
      "sluice map: %llu items, mapper waits %u ms on an asio timer, concurrency 1 vs %u, "
      "%u runs each\n",
      static_cast<unsigned long long>(o.items), o.wait_ms, o.concurrency, o.repeat);
  const double seq = best_of(o, 1);
  if (seq < 0) return 1;
  const double par = best_of(o, o.concurrency);
  if (par < 0) return 1;
  const double ratio = seq / par;
  std::printf("  best: concurrency 1 %.3f s, concurrency %u %.3f s: %.2fx faster (ideal %ux)\n",
              seq, o.concurrency, par, ratio, o.concurrency);
  std::printf(
      "RESULT map ratio=%.3f seq_s=%.4f conc_s=%.4f items=%llu concurrency=%u wait_ms=%u "
      "runs=%u\n",
      ratio, seq, par, static_cast<unsigned long long>(o.items), o.concurrency, o.wait_ms,
      o.repeat);
  return 0;
}

}  // namespace sluice_bench
