// sluice-bench bytes: byte-stream throughput through passthroughs.
//
//   readable<buffer> → K × passthrough<buffer> → writable<buffer> (counts bytes)
//
// The source pushes the same pre-allocated chunk over and over: a sluice::buffer is a
// reference-counted view, so pushing, buffering and writing it copies no bytes. What is measured
// is the per-chunk cost of the stream machinery, expressed as bytes per second. The sink checks
// that every chunk it gets still shares the source chunk's storage (no copy was made on the way).
#include <cstdint>
#include <cstdio>
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

using sluice::buffer;

run_result bytes_once(sluice::loop& loop, const std::function<void()>& run, const bytes_options& o,
                      const buffer& block) {
  std::uint64_t produced = 0;
  std::uint64_t consumed = 0;
  std::uint64_t copied_chunks = 0;
  bool finished = false;
  std::vector<std::string> errors;
  auto watch = [&errors](sluice::stream& s) {
    s.on_error(
        [&errors, &s](std::error_code ec) { errors.push_back(s.name() + ": " + ec.message()); });
  };

  const std::uint64_t size = o.size;
  auto src = sluice::make_readable<buffer>(
      loop, {.high_water_mark = o.hwm,
             .name = "source",
             .read = [&produced, size, &block](sluice::readable<buffer>& self, std::size_t) {
               while (produced < size) {
                 const std::uint64_t left = size - produced;
                 buffer b = left >= block.size() ? block : block.slice(0, left);
                 produced += b.size();
                 if (!self.push(std::move(b))) return;
               }
               self.push_eof();
             }});
  watch(*src);

  std::vector<std::shared_ptr<sluice::passthrough<buffer>>> stages;
  for (unsigned k = 0; k < o.stages; ++k) {
    stages.push_back(std::make_shared<sluice::passthrough<buffer>>(
        loop, sluice::transform_options{.readable_high_water_mark = o.hwm,
                                        .writable_high_water_mark = o.hwm,
                                        .name = "passthrough " + std::to_string(k + 1)}));
    watch(*stages.back());
  }

  auto sink = sluice::make_writable<buffer>(
      loop, {.high_water_mark = o.hwm,
             .name = "sink",
             .write = [&consumed, &copied_chunks, &block](sluice::writable<buffer>&, buffer&& b,
                                                          auto cb) {
               consumed += b.size();
               if (!b.shares_storage_with(block)) ++copied_chunks;
               cb();
             }});
  watch(*sink);
  sink->once_finish([&finished] { finished = true; });

  std::shared_ptr<sluice::readable<buffer>> tail = src;
  for (auto& t : stages) tail = tail->pipe(t);
  tail->pipe(sink);

  const stopwatch sw;
  run();
  run_result r{sw.seconds(), {}};

  if (!errors.empty()) {
    r.error = "stream error: " + errors.front();
  } else if (!finished) {
    r.error = "the sink never emitted 'finish' (" + std::to_string(produced) + " of " +
              std::to_string(size) + " bytes produced)";
  } else if (consumed != size) {
    r.error =
        "wrong byte count: got " + std::to_string(consumed) + ", expected " + std::to_string(size);
  } else if (copied_chunks != 0) {
    r.error = std::to_string(copied_chunks) + " chunks reached the sink in new storage (copied)";
  }
  return r;
}

}  // namespace

int run_bytes(const bytes_options& o) {
  const std::string hwm =
      o.hwm
          ? format_size(*o.hwm)
          : format_size(sluice::default_high_water_mark(sluice::stream_mode::bytes)) + " (default)";
  std::printf(
      "sluice bytes: %s in %s chunks, %u passthroughs, hwm %s, %s loop, %u runs (+%u warm-up)\n",
      format_size(o.size).c_str(), format_size(o.chunk).c_str(), o.stages, hwm.c_str(),
      to_string(o.loop), o.repeat, o.warmup);
  const buffer block(std::string(o.chunk, 'x'));  // allocated once, pushed over and over
  const double chunks = static_cast<double>((o.size + o.chunk - 1) / o.chunk);
  std::vector<double> times;
  for (unsigned i = 0; i < o.warmup + o.repeat; ++i) {
    const run_result r =
        with_loop(o.loop, [&o, &block](sluice::loop& l, const std::function<void()>& run) {
          return bytes_once(l, run, o, block);
        });
    if (!r.error.empty()) {
      std::fprintf(stderr, "sluice-bench bytes: run %u failed: %s\n", i + 1, r.error.c_str());
      return 1;
    }
    const bool warm_up = i < o.warmup;
    if (!warm_up) times.push_back(r.seconds);
    std::printf("  %s %2u: %8.3f s %9.2f GB/s %9.1f ns/chunk\n", warm_up ? "warm-up" : "run    ",
                warm_up ? i + 1 : i + 1 - o.warmup, r.seconds,
                static_cast<double>(o.size) / r.seconds / 1e9, r.seconds * 1e9 / chunks);
    std::fflush(stdout);
  }
  const timing_summary s = summarize(times);
  const double best = static_cast<double>(o.size) / s.best_seconds / 1e9;
  const double median = static_cast<double>(o.size) / s.median_seconds / 1e9;
  std::printf("  best:           %9.2f GB/s %9.1f ns/chunk\n", best, s.best_seconds * 1e9 / chunks);
  std::printf("  median:         %9.2f GB/s %9.1f ns/chunk\n", median,
              s.median_seconds * 1e9 / chunks);
  std::printf(
      "RESULT bytes gb_per_s=%.3f median_gb_per_s=%.3f ns_per_chunk=%.1f impl=sluice loop=%s "
      "size=%llu chunk=%zu stages=%u hwm=%s runs=%u warmup=%u\n",
      best, median, s.best_seconds * 1e9 / chunks, to_string(o.loop),
      static_cast<unsigned long long>(o.size), o.chunk, o.stages,
      o.hwm ? std::to_string(*o.hwm).c_str() : "default", o.repeat, o.warmup);
  return 0;
}

}  // namespace sluice_bench
