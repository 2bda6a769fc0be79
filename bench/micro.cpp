// sluice-bench micro: Google Benchmark micro-benchmarks of the building blocks the scenario
// benchmarks are made of, to see where a pipeline's per-item time goes. All run on a
// manual_loop. Arguments after `micro` go to Google Benchmark (--benchmark_filter=..., ...).
#include <benchmark/benchmark.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "bench.hpp"
#include "sluice/core/buffer.hpp"
#include "sluice/core/make.hpp"
#include "sluice/core/readable.hpp"
#include "sluice/core/transform.hpp"
#include "sluice/core/writable.hpp"

namespace sluice_bench {

namespace {

using item = std::int64_t;
constexpr int batch = 1024;

// One deferred no-op task: queue + run.
void bm_loop_defer(benchmark::State& state) {
  sluice::manual_loop loop;
  std::uint64_t ran = 0;
  for (auto _ : state) {
    for (int i = 0; i < batch; ++i) loop.defer([&ran] { ++ran; });
    loop.run_until_idle();
  }
  benchmark::DoNotOptimize(ran);
  state.SetItemsProcessed(state.iterations() * batch);
}
BENCHMARK(bm_loop_defer);

// write() into a writable whose hook completes synchronously (no user callback).
void bm_writable_write_sync(benchmark::State& state) {
  sluice::manual_loop loop;
  std::uint64_t sum = 0;
  auto w = sluice::make_writable<item>(
      loop, {.write = [&sum](sluice::writable<item>&, item&& x, auto cb) {
        sum += static_cast<std::uint64_t>(x);
        cb();
      }});
  item x = 0;
  for (auto _ : state) {
    for (int i = 0; i < batch; ++i) benchmark::DoNotOptimize(w->write(x++));
    loop.run_until_idle();
  }
  benchmark::DoNotOptimize(sum);
  state.SetItemsProcessed(state.iterations() * batch);
}
BENCHMARK(bm_writable_write_sync);

// read() in paused mode from a readable whose hook pushes until push() returns false.
void bm_readable_read(benchmark::State& state) {
  sluice::manual_loop loop;
  item next = 0;
  auto r = sluice::make_readable<item>(loop,
                                       {.read = [&next](sluice::readable<item>& self, std::size_t) {
                                         while (self.push(next++)) {
                                         }
                                       }});
  std::uint64_t sum = 0;
  for (auto _ : state) {
    for (int i = 0; i < batch; ++i) {
      if (auto v = r->read()) sum += static_cast<std::uint64_t>(*v);
    }
    loop.run_until_idle();
  }
  benchmark::DoNotOptimize(sum);
  state.SetItemsProcessed(state.iterations() * batch);
}
BENCHMARK(bm_readable_read);

// Copying (and dropping) a sluice::buffer: the cost of "zero copy" (a refcount round trip).
void bm_buffer_copy(benchmark::State& state) {
  const sluice::buffer b(std::string(64 * 1024, 'x'));
  for (auto _ : state) {
    sluice::buffer c = b;
    benchmark::DoNotOptimize(c);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(bm_buffer_copy);

// The objmode scenario, small: source → K transforms → sink, 100k items per iteration.
void bm_objmode_pipeline(benchmark::State& state) {
  const auto stages = static_cast<unsigned>(state.range(0));
  constexpr item n = 100'000;
  std::uint64_t sum = 0;
  for (auto _ : state) {
    sluice::manual_loop loop;
    item next = 0;
    auto src = sluice::make_readable<item>(
        loop, {.read = [&next](sluice::readable<item>& self, std::size_t) {
          while (next < n) {
            if (!self.push(next++)) return;
          }
          self.push_eof();
        }});
    std::shared_ptr<sluice::readable<item>> tail = src;
    for (unsigned k = 0; k < stages; ++k) {
      tail = tail->pipe(sluice::make_transform<item>(
          loop, {.transform = [](sluice::transform<item>&, item&& x, auto cb) { cb(x + 1); }}));
    }
    tail->pipe(sluice::make_writable<item>(
        loop, {.write = [&sum](sluice::writable<item>&, item&& x, auto cb) {
          sum += static_cast<std::uint64_t>(x);
          cb();
        }}));
    loop.run();
  }
  benchmark::DoNotOptimize(sum);
  state.SetItemsProcessed(state.iterations() * n);
}
BENCHMARK(bm_objmode_pipeline)->Arg(0)->Arg(1)->Arg(3)->Unit(benchmark::kMillisecond);

}  // namespace

int run_micro(std::vector<std::string> args) {
  args.insert(args.begin(), "sluice-bench micro");
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  int argc = static_cast<int>(args.size());
  benchmark::Initialize(&argc, argv.data());
  if (benchmark::ReportUnrecognizedArguments(argc, argv.data())) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}

}  // namespace sluice_bench
