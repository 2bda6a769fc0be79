// sluice-bench pipeline: what pipeline() costs over wiring the same chain by hand with pipe().
//
//   sluice-bench pipeline --items N --stages K [--loop manual|asio] [--repeat R] [--warmup W]
//
//   readable<int64_t> (0 .. N-1) → K × transform (x + 1) → writable (sum += x)
//
// Both variants run in the same process, alternately (hand, pipeline, hand, ...), so drift on a
// shared machine hits both alike. pipeline() adds a finished() watch and an error listener per
// stage and one completion; per item it should cost nothing. The sum proves every item arrived
// exactly once. Prints the best and median of each and the ratio pipeline / hand (1.00 = same).
#include <CLI/CLI.hpp>

#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <system_error>
#include <vector>

#include "bench.hpp"
#include "sluice/compose/pipeline.hpp"
#include "sluice/core/make.hpp"

namespace sluice_bench {

namespace {

using item = std::int64_t;

struct pipeline_bench_options {
  std::uint64_t items = 2'000'000;
  unsigned stages = 3;
  loop_kind loop = loop_kind::manual;
  unsigned repeat = 5;
  unsigned warmup = 1;
};

pipeline_bench_options opts;

std::uint64_t expected_sum(std::uint64_t n, std::uint64_t k) {
  const std::uint64_t triangle = n % 2 == 0 ? (n / 2) * (n - 1) : n * ((n - 1) / 2);
  return triangle + k * n;
}

run_result once(sluice::loop& loop, const std::function<void()>& run, bool use_pipeline) {
  const auto n = static_cast<item>(opts.items);
  item next = 0;
  std::uint64_t sum = 0;
  auto src = sluice::make_readable<item>(
      loop, {.read = [&next, n](sluice::readable<item>& self, std::size_t) {
        while (next < n)
          if (!self.push(next++)) return;
        self.push_eof();
      }});
  std::vector<std::shared_ptr<sluice::transform<item>>> stages;
  for (unsigned k = 0; k < opts.stages; ++k)
    stages.push_back(sluice::make_transform<item>(
        loop, {.transform = [](sluice::transform<item>&, item&& x, auto cb) { cb(x + 1); }}));
  auto sink = sluice::make_writable<item>(loop, {.write = [&sum](auto&, item&& x, auto cb) {
                                            sum += static_cast<std::uint64_t>(x);
                                            cb();
                                          }});
  std::error_code result = make_error_code(sluice::errc::aborted);
  if (use_pipeline) {
    // pipeline() takes its stages as arguments: K is dispatched to a fixed arity (1 to 5).
    auto done = [&result](std::error_code ec) { result = ec; };
    switch (opts.stages) {
      case 1:
        sluice::pipeline(src, stages[0], sink, done);
        break;
      case 2:
        sluice::pipeline(src, stages[0], stages[1], sink, done);
        break;
      case 3:
        sluice::pipeline(src, stages[0], stages[1], stages[2], sink, done);
        break;
      case 4:
        sluice::pipeline(src, stages[0], stages[1], stages[2], stages[3], sink, done);
        break;
      default:
        sluice::pipeline(src, stages[0], stages[1], stages[2], stages[3], stages[4], sink, done);
        break;
    }
  } else {
    std::shared_ptr<sluice::readable<item>> tail = src;
    for (auto& t : stages) tail = tail->pipe(t);
    tail->pipe(sink);
    sink->once_finish([&result] { result = {}; });
  }

  const stopwatch sw;
  run();
  run_result r{sw.seconds(), {}};
  if (result) {
    r.error = "failed: " + result.message();
  } else if (const std::uint64_t want = expected_sum(opts.items, opts.stages); sum != want) {
    r.error = "wrong sum: got " + std::to_string(sum) + ", expected " + std::to_string(want);
  }
  return r;
}

}  // namespace

CLI::App* add_pipeline_subcommand(CLI::App& app) {
  CLI::App* cmd = app.add_subcommand(
      "pipeline", "pipeline() over K object-mode transforms vs the same chain wired with pipe()");
  cmd->add_option("--items,-n", opts.items, "Items to send through")
      ->check(CLI::Range(std::uint64_t{1}, std::uint64_t{1} << 62))
      ->capture_default_str();
  cmd->add_option("--stages,-k", opts.stages, "Transforms between source and sink (1 to 5)")
      ->check(CLI::Range(1u, 5u))
      ->capture_default_str();
  cmd->add_option_function<std::string>(
         "--loop",
         [](const std::string& name) {
           opts.loop = name == "asio" ? loop_kind::asio : loop_kind::manual;
         },
         "Event loop: manual (default) or asio")
      ->check(CLI::IsMember({"manual", "asio"}));
  cmd->add_option("--repeat,-r", opts.repeat, "Timed runs of each variant")
      ->check(CLI::Range(1u, 1000u))
      ->capture_default_str();
  cmd->add_option("--warmup,-w", opts.warmup, "Untimed warm-up runs of each variant")
      ->check(CLI::Range(0u, 1000u))
      ->capture_default_str();
  return cmd;
}

int run_pipeline_subcommand() {
  std::printf("sluice pipeline: %llu items, %u stages, %s loop, %u runs (+%u warm-up) each\n",
              static_cast<unsigned long long>(opts.items), opts.stages, to_string(opts.loop),
              opts.repeat, opts.warmup);
  std::vector<double> hand, piped;
  const double item_stages = static_cast<double>(opts.items) * opts.stages;
  for (unsigned i = 0; i < opts.warmup + opts.repeat; ++i) {
    for (const bool use_pipeline : {false, true}) {
      const run_result r = with_loop(opts.loop, [use_pipeline](sluice::loop& l, const auto& run) {
        return once(l, run, use_pipeline);
      });
      const char* what = use_pipeline ? "pipeline()" : "pipe()    ";
      if (!r.error.empty()) {
        std::fprintf(stderr, "sluice-bench pipeline: %s run %u %s\n", what, i + 1, r.error.c_str());
        return 1;
      }
      const bool warm_up = i < opts.warmup;
      if (!warm_up) (use_pipeline ? piped : hand).push_back(r.seconds);
      std::printf("  %s %s: %8.3f s %9.2f ns/item/stage\n", warm_up ? "warm-up" : "run    ", what,
                  r.seconds, r.seconds * 1e9 / item_stages);
      std::fflush(stdout);
    }
  }
  const timing_summary h = summarize(hand), p = summarize(piped);
  const double ratio = p.best_seconds / h.best_seconds;
  const double median_ratio = p.median_seconds / h.median_seconds;
  std::printf("  best:   pipe() %.3f s, pipeline() %.3f s, ratio %.3f\n", h.best_seconds,
              p.best_seconds, ratio);
  std::printf("  median: pipe() %.3f s, pipeline() %.3f s, ratio %.3f\n", h.median_seconds,
              p.median_seconds, median_ratio);
  std::printf(
      "RESULT pipeline ratio=%.4f median_ratio=%.4f pipe_s=%.4f pipeline_s=%.4f items=%llu "
      "stages=%u loop=%s runs=%u warmup=%u\n",
      ratio, median_ratio, h.best_seconds, p.best_seconds,
      static_cast<unsigned long long>(opts.items), opts.stages, to_string(opts.loop), opts.repeat,
      opts.warmup);
  return 0;
}

}  // namespace sluice_bench
