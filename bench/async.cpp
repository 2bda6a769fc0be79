// sluice-bench iterate: coroutine iteration over a readable of integers (sluice/compose/async.hpp).
//
//   from(loop, values) → reader → co_await async_next_batch(rd, B) / co_await async_next(rd)
//
// on an asio_loop, in an asio::awaitable coroutine. Five ways over the same N int64 values
// 0 .. N-1, in the same run, each checked by its sum:
//   raw     a plain loop over the std::vector (the baseline: what the data costs by itself)
//   read    read() in a loop on the stream, no coroutine (what the stream core costs per item)
//   batch   co_await async_next_batch(rd, buf, B): up to B items per resumption into one reused
//           vector (the fast path)
//   vbatch  co_await async_next_batch(rd, B): the same, a new vector per batch
//   next    co_await async_next(rd): one item per co_await
// --ways picks some of them (e.g. for callgrind).

#include <CLI/CLI.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "bench.hpp"
#include "sluice/compose/async.hpp"
#include "sluice/compose/from.hpp"

namespace sluice_bench {

namespace {

struct iterate_options {
  std::uint64_t items = 20'000'000;
  std::size_t batch = 1024;
  std::optional<std::size_t> hwm{};
  unsigned repeat = 5;
  unsigned warmup = 1;
  std::vector<std::string> ways{};  // empty: all
};

iterate_options iterate_opts;
std::size_t iterate_hwm = 0;
CLI::Option* iterate_hwm_opt = nullptr;

using item = std::int64_t;
namespace asio = boost::asio;

enum class way { raw, read, batch, vbatch, next };
constexpr way all_ways[] = {way::raw, way::read, way::batch, way::vbatch, way::next};

const char* name_of(way w) {
  switch (w) {
    case way::raw:
      return "raw";
    case way::read:
      return "read";
    case way::batch:
      return "batch";
    case way::vbatch:
      return "vbatch";
    case way::next:
      return "next";
  }
  return "?";
}

// One timed pass over `values` (the first `n` of them); returns seconds, or an error.
run_result iterate_once(way w, const std::vector<item>& values, std::size_t n,
                        const iterate_options& o) {
  const std::vector<item> slice(values.begin(), values.begin() + static_cast<std::ptrdiff_t>(n));
  std::uint64_t sum = 0;
  std::string error;
  double seconds = 0;
  if (w == way::raw) {
    const stopwatch sw;
    for (item x : slice) sum += static_cast<std::uint64_t>(x);
    seconds = sw.seconds();
  } else {
    asio::io_context io;
    sluice::asio_loop loop(io);
    auto r = sluice::from(loop, slice, {.high_water_mark = o.hwm});
    r->on_error([&error, &r](std::error_code) { error = r->error_message(); });
    const stopwatch sw;
    if (w == way::read) {
      asio::post(io, [&] {
        while (auto x = r->read()) sum += static_cast<std::uint64_t>(*x);
      });
    } else {
      asio::co_spawn(
          io,
          [&]() -> asio::awaitable<void> {
            sluice::reader<item> rd(r);
            if (w == way::batch) {
              std::vector<item> b;
              while (co_await sluice::async_next_batch(rd, b, o.batch) != 0)
                for (item x : b) sum += static_cast<std::uint64_t>(x);
            } else if (w == way::vbatch) {
              for (;;) {
                const std::vector<item> b = co_await sluice::async_next_batch(rd, o.batch);
                if (b.empty()) break;
                for (item x : b) sum += static_cast<std::uint64_t>(x);
              }
            } else {
              while (auto x = co_await sluice::async_next(rd))
                sum += static_cast<std::uint64_t>(*x);
            }
          },
          [&error](std::exception_ptr e) {
            try {
              if (e) std::rethrow_exception(e);
            } catch (const std::exception& ex) {
              error = ex.what();
            }
          });
    }
    io.run();
    seconds = sw.seconds();
  }
  const std::uint64_t m = n;
  const std::uint64_t want = m % 2 == 0 ? (m / 2) * (m - 1) : m * ((m - 1) / 2);
  if (error.empty() && sum != want)
    error = "wrong sum: got " + std::to_string(sum) + ", expected " + std::to_string(want);
  return run_result{seconds, error};
}

int run_iterate(const iterate_options& o) {
  const std::string hwm =
      o.hwm ? std::to_string(*o.hwm)
            : std::to_string(sluice::default_high_water_mark(sluice::stream_mode::objects)) +
                  " (default)";
  std::printf(
      "sluice iterate: %llu int64 items, batch %zu, hwm %s, asio loop, %u runs (+%u warm-up)\n",
      static_cast<unsigned long long>(o.items), o.batch, hwm.c_str(), o.repeat, o.warmup);
  std::vector<item> values(o.items);
  for (std::size_t i = 0; i < values.size(); ++i) values[i] = static_cast<item>(i);

  double best_rate[std::size(all_ways)] = {};
  for (way w : all_ways) {
    if (!o.ways.empty() && std::find(o.ways.begin(), o.ways.end(), name_of(w)) == o.ways.end())
      continue;
    const std::size_t n = values.size();
    std::vector<double> times;
    for (unsigned i = 0; i < o.warmup + o.repeat; ++i) {
      const run_result r = iterate_once(w, values, n, o);
      if (!r.error.empty()) {
        std::fprintf(stderr, "sluice-bench iterate: %s run %u failed: %s\n", name_of(w), i + 1,
                     r.error.c_str());
        return 1;
      }
      if (i >= o.warmup) times.push_back(r.seconds);
    }
    const timing_summary s = summarize(times);
    best_rate[static_cast<int>(w)] = static_cast<double>(n) / s.best_seconds;
    std::printf("  %-6s %9zu items: best %14.0f items/s %8.2f ns/item   median %14.0f items/s\n",
                name_of(w), n, static_cast<double>(n) / s.best_seconds,
                s.best_seconds * 1e9 / static_cast<double>(n),
                static_cast<double>(n) / s.median_seconds);
    std::fflush(stdout);
  }
  const double raw = best_rate[0], read = best_rate[1], batch = best_rate[2], vbatch = best_rate[3],
               next = best_rate[4];
  std::printf("  batch / raw = %.4f   batch / read = %.2f   next / read = %.2f\n", batch / raw,
              batch / read, next / read);
  std::printf(
      "RESULT iterate batch_items_per_s=%.0f vbatch_items_per_s=%.0f next_items_per_s=%.0f "
      "read_items_per_s=%.0f raw_items_per_s=%.0f batch_over_raw=%.4f batch_over_read=%.3f "
      "items=%llu batch=%zu hwm=%s runs=%u warmup=%u\n",
      batch, vbatch, next, read, raw, batch / raw, batch / read,
      static_cast<unsigned long long>(o.items), o.batch,
      o.hwm ? std::to_string(*o.hwm).c_str() : "default", o.repeat, o.warmup);
  return 0;
}

}  // namespace

CLI::App* add_iterate_subcommand(CLI::App& app) {
  CLI::App* cmd = app.add_subcommand(
      "iterate",
      "Coroutine iteration over readable<int64> (from a vector): batch and per-item vs read() "
      "vs a raw loop (asio loop)");
  cmd->add_option("--ways", iterate_opts.ways,
                  "Run only these ways (raw, read, batch, vbatch, next; default: all)")
      ->check(CLI::IsMember({"raw", "read", "batch", "vbatch", "next"}));
  iterate_options& o = iterate_opts;
  cmd->add_option("--items,-n", o.items, "Items to iterate")
      ->check(CLI::Range(std::uint64_t{1}, std::uint64_t{1} << 32))
      ->capture_default_str();
  cmd->add_option("--batch,-b", o.batch, "Most items per async_next_batch")
      ->check(CLI::Range(std::size_t{1}, std::size_t{1} << 24))
      ->capture_default_str();
  iterate_hwm_opt = cmd->add_option("--hwm", iterate_hwm,
                                    "The readable's highWaterMark (default: library default, 16)");
  cmd->add_option("--repeat,-r", o.repeat, "Timed runs per way; best and median are reported")
      ->check(CLI::Range(1u, 1000u))
      ->capture_default_str();
  cmd->add_option("--warmup,-w", o.warmup, "Untimed warm-up runs before the timed ones")
      ->check(CLI::Range(0u, 1000u))
      ->capture_default_str();
  return cmd;
}

int run_iterate_subcommand() {
  if (iterate_hwm_opt != nullptr && *iterate_hwm_opt) iterate_opts.hwm = iterate_hwm;
  return run_iterate(iterate_opts);
}

}  // namespace sluice_bench
