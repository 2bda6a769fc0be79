// sluice-bench offload: CPU work per chunk on the CPU pool (docs/benchmarks.md, "Metrics and
// offload").
//
//   sha       SIZE bytes in chunks of CHUNK (slices of one generated buffer: no copy, no I/O)
//             through sluice::offload computing each chunk's SHA-256 (OpenSSL) on THREADS
//             threads, at most MAX_IN_FLIGHT chunks out, in order; the digests folded on the
//             loop thread. Reports MB/s.
//   overhead  N integers through offload (x + 1 on a pool of one thread) and through a plain
//             transform doing the same on the loop: the difference per item is what handing an
//             item to a thread and its result back costs.
//
//   sluice-bench offload sha --size 1G --chunk 64K --threads 2 [--max-in-flight 8] [--repeat R]
//   sluice-bench offload overhead --items 1000000 [--max-in-flight 64] [--repeat R]
#include <openssl/sha.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "bench.hpp"
#include "sluice/compose/pipeline.hpp"
#include "sluice/core/asio_loop.hpp"
#include "sluice/core/make.hpp"
#include "sluice/offload/offload.hpp"

namespace sluice_bench {

namespace {

struct offload_bench_options {
  std::string size = "1G";
  std::string chunk = "64K";
  std::size_t threads = 2;
  std::size_t max_in_flight = 0;
  std::uint64_t items = 1'000'000;
  unsigned repeat = 3;
};
offload_bench_options opts;
CLI::App* sha_cmd = nullptr;
CLI::App* overhead_cmd = nullptr;

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// One run of `sha`: seconds, and the folded digests (to check that runs agree).
std::pair<double, std::uint64_t> sha_once(std::uint64_t size, std::size_t chunk) {
  boost::asio::io_context io;
  sluice::asio_loop loop(io);
  std::string bytes(chunk, '\0');
  for (std::size_t i = 0; i < chunk; ++i) bytes[i] = static_cast<char>((i * 2654435761U) >> 13);
  const sluice::buffer block(std::move(bytes));
  std::uint64_t left = size / chunk;
  auto source = sluice::make_readable<sluice::buffer>(
      loop, {.name = "chunks"}, [&left, &block](sluice::readable<sluice::buffer>& r, std::size_t) {
        while (left > 0) {
          --left;
          if (!r.push(block)) return;
        }
        r.push_eof();
      });
  auto sha = sluice::offload<sluice::buffer>(
      loop,
      [](const sluice::buffer& b) {
        unsigned char d[SHA256_DIGEST_LENGTH];
        SHA256(reinterpret_cast<const unsigned char*>(b.data()), b.size(), d);
        std::uint64_t v = 0;
        std::memcpy(&v, d, sizeof v);
        return v;
      },
      {.threads = opts.threads, .max_in_flight = opts.max_in_flight});
  std::uint64_t folded = 0;
  auto sink = sluice::make_writable<std::uint64_t>(loop, {.name = "fold"},
                                                   [&folded](auto&, std::uint64_t&& d, auto cb) {
                                                     folded = folded * 31 + d;
                                                     cb();
                                                   });
  std::error_code result;
  const auto t0 = std::chrono::steady_clock::now();
  sluice::pipeline(source, sha, sink, [&](std::error_code ec) { result = ec; });
  io.run();
  if (result) throw std::runtime_error("offload sha: " + result.message());
  return {seconds_since(t0), folded};
}

// One run of `overhead`: seconds through offload (or, `plain`, a transform on the loop).
double overhead_once(bool plain) {
  boost::asio::io_context io;
  sluice::asio_loop loop(io);
  std::int64_t next = 0;
  const auto n = static_cast<std::int64_t>(opts.items);
  auto source = sluice::make_readable<std::int64_t>(
      loop, {.name = "numbers"}, [&next, n](sluice::readable<std::int64_t>& r, std::size_t) {
        while (next < n)
          if (!r.push(next++)) return;
        r.push_eof();
      });
  std::int64_t sum = 0;
  auto sink = sluice::make_writable<std::int64_t>(loop, {.name = "sum"},
                                                  [&sum](auto&, std::int64_t&& x, auto cb) {
                                                    sum += x;
                                                    cb();
                                                  });
  std::error_code result;
  const auto t0 = std::chrono::steady_clock::now();
  if (plain) {
    auto add = sluice::make_transform<std::int64_t>(
        loop, {.name = "x+1"}, [](auto&, std::int64_t&& x, auto cb) { cb(x + 1); });
    sluice::pipeline(source, add, sink, [&](std::error_code ec) { result = ec; });
  } else {
    auto add = sluice::offload<std::int64_t>(
        loop, [](std::int64_t x) { return x + 1; },
        {.threads = 1, .max_in_flight = opts.max_in_flight != 0 ? opts.max_in_flight : 64});
    sluice::pipeline(source, add, sink, [&](std::error_code ec) { result = ec; });
  }
  io.run();
  const double secs = seconds_since(t0);
  if (result) throw std::runtime_error("offload overhead: " + result.message());
  if (sum != n * (n - 1) / 2 + n) throw std::runtime_error("offload overhead: wrong sum");
  return secs;
}

}  // namespace

CLI::App* add_offload_subcommand(CLI::App& app) {
  CLI::App* cmd = app.add_subcommand("offload", "CPU work per chunk on the CPU pool (offload)");
  cmd->require_subcommand(1);
  sha_cmd = cmd->add_subcommand("sha", "SHA-256 of each chunk on the pool");
  sha_cmd->add_option("--size", opts.size, "Bytes in all (K/M/G)")->capture_default_str();
  sha_cmd->add_option("--chunk", opts.chunk, "Chunk size (K/M)")->capture_default_str();
  sha_cmd->add_option("--threads", opts.threads, "Threads of the pool")->capture_default_str();
  sha_cmd->add_option("--max-in-flight", opts.max_in_flight, "0: twice the threads");
  sha_cmd->add_option("--repeat", opts.repeat, "Timed runs")->capture_default_str();
  overhead_cmd = cmd->add_subcommand("overhead", "Per-item cost of offload over a transform");
  overhead_cmd->add_option("--items", opts.items, "Items")->capture_default_str();
  overhead_cmd->add_option("--max-in-flight", opts.max_in_flight, "0: 64");
  overhead_cmd->add_option("--repeat", opts.repeat, "Timed runs")->capture_default_str();
  return cmd;
}

int run_offload_subcommand() {
  if (*sha_cmd) {
    const auto size = parse_size(opts.size);
    const auto chunk = parse_size(opts.chunk);
    if (!size || !chunk || *chunk == 0 || *size < *chunk) {
      std::fprintf(stderr, "sluice-bench offload sha: bad --size or --chunk\n");
      return 1;
    }
    double best = 1e100;
    std::uint64_t digest = 0;
    for (unsigned i = 0; i < std::max(1U, opts.repeat); ++i) {
      const auto [secs, folded] = sha_once(*size, static_cast<std::size_t>(*chunk));
      if (i > 0 && folded != digest) throw std::runtime_error("offload sha: runs disagree");
      digest = folded;
      best = std::min(best, secs);
      std::printf("  run %u: %.3f s, %.1f MB/s\n", i + 1, secs,
                  static_cast<double>(*size) / secs / 1e6);
    }
    std::printf("RESULT offload_sha threads=%zu chunk=%llu mb_per_s=%.1f seconds=%.3f\n",
                opts.threads, static_cast<unsigned long long>(*chunk),
                static_cast<double>(*size) / best / 1e6, best);
    return 0;
  }
  double best_plain = 1e100;
  double best_offload = 1e100;
  for (unsigned i = 0; i < std::max(1U, opts.repeat); ++i) {
    best_plain = std::min(best_plain, overhead_once(true));
    best_offload = std::min(best_offload, overhead_once(false));
  }
  const double n = static_cast<double>(opts.items);
  std::printf(
      "RESULT offload_overhead items=%llu plain_ns_per_item=%.1f offload_ns_per_item=%.1f "
      "overhead_ns_per_item=%.1f\n",
      static_cast<unsigned long long>(opts.items), best_plain * 1e9 / n, best_offload * 1e9 / n,
      (best_offload - best_plain) * 1e9 / n);
  return 0;
}

}  // namespace sluice_bench
