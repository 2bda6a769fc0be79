// sluice-bench: the sluice benchmarks (docs/benchmarks.md).
//
//   sluice-bench objmode --items N --stages K [--hwm H] [--api typed|spec] [--loop manual|asio]
//                        [--monitor] [--metrics]
//                        [--repeat R]
//                        [--warmup W]
//   sluice-bench bytes   --size 1G --chunk 64K --stages K [--hwm H] [--loop manual|asio]
//                        [--repeat R] [--warmup W]
//   sluice-bench memory  --items N [--chunk SIZE] [--hwm H] [--ignore-backpressure]
//                        [--complete defer|timer] [--loop manual|asio]
//   sluice-bench micro   [Google Benchmark flags, e.g. --benchmark_filter=objmode]
//   sluice-bench iterate --items N [--batch B] [--hwm H] [--repeat R] [--warmup W]
//                        (bench/async.cpp)
//   sluice-bench map     --items N --concurrency C --wait-ms MS [--repeat R] (bench/operators.cpp)
//   sluice-bench pipeline --items N --stages K [--loop manual|asio] [--repeat R] [--warmup W]
//                        (bench/pipeline.cpp)
//   sluice-bench sinks overhead|memory --items N --batch B [--repeat R] [--flush-ms MS]
//                        (bench/sinks.cpp)
//   sluice-bench offload sha|overhead [--size S --chunk C --threads N] [--items N]
//                        (bench/offload.cpp)
//   sluice-bench sqlite write|read|csv --rows N --file F [--batch B] [--sync full|normal]
//                        (bench/db_sqlite.cpp)
//
// Every scenario checks its own output and exits non-zero when it is wrong (1: wrong result or
// stream error; 2: memory's bound exceeded by a producer that respects write()), and ends with
// one machine-readable line: `RESULT <scenario> key=value ...`.
#include <CLI/CLI.hpp>

#include <cstdint>
#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include "bench.hpp"

namespace sluice_bench {
// bench/operators.cpp: the `map` subcommand.
CLI::App* add_map_subcommand(CLI::App& app);
int run_map_subcommand();
}  // namespace sluice_bench

namespace sluice_bench {
// bench/pipeline.cpp: the `pipeline` subcommand.
CLI::App* add_pipeline_subcommand(CLI::App& app);
int run_pipeline_subcommand();
}  // namespace sluice_bench

namespace sluice_bench {
// bench/sinks.cpp: the `sinks` subcommand.
CLI::App* add_sinks_subcommand(CLI::App& app);
int run_sinks_subcommand();
}  // namespace sluice_bench

namespace sluice_bench {
// bench/offload.cpp: the `offload` subcommand.
CLI::App* add_offload_subcommand(CLI::App& app);
int run_offload_subcommand();
}  // namespace sluice_bench

namespace sluice_bench {
// bench/db_sqlite.cpp: the `sqlite` subcommand.
CLI::App* add_sqlite_subcommand(CLI::App& app);
int run_sqlite_subcommand();
}  // namespace sluice_bench

namespace sluice_bench {
// bench/async.cpp: the `iterate` subcommand.
CLI::App* add_iterate_subcommand(CLI::App& app);
int run_iterate_subcommand();
}  // namespace sluice_bench

namespace {

using namespace sluice_bench;

const std::map<std::string, loop_kind> loop_names{{"manual", loop_kind::manual},
                                                  {"asio", loop_kind::asio}};
const std::map<std::string, completion> completion_names{{"defer", completion::defer},
                                                         {"timer", completion::timer}};

// A CLI11 validator for byte sizes with binary suffixes.
const CLI::Validator size_validator(
    [](std::string& s) -> std::string {
      const auto v = parse_size(s);
      if (!v) return "not a size: '" + s + "' (digits with an optional K, M, G or T suffix)";
      return {};
    },
    "SIZE", "size");

// --loop manual|asio, stored in `kind`.
void add_loop_option(CLI::App& cmd, loop_kind& kind) {
  cmd.add_option_function<std::string>(
         "--loop", [&kind](const std::string& name) { kind = loop_names.at(name); },
         "Event loop: manual (sluice::manual_loop, default) or asio (sluice::asio_loop)")
      ->check(CLI::IsMember({"manual", "asio"}));
}

// --warmup W: untimed runs before the timed ones.
void add_warmup_option(CLI::App& cmd, unsigned& warmup) {
  cmd.add_option("--warmup,-w", warmup, "Untimed warm-up runs before the timed ones")
      ->check(CLI::Range(0u, 1000u))
      ->capture_default_str();
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"sluice-bench: benchmarks of the sluice stream library"};
  app.require_subcommand(1);

  // ---- objmode
  objmode_options om;
  std::size_t om_hwm = 0;
  CLI::App* objmode = app.add_subcommand(
      "objmode", "Object-mode pipeline: readable<int64> -> K transforms (x+1) -> summing writable");
  objmode->add_option("--items,-n", om.items, "Items to send through")
      ->check(CLI::Range(std::uint64_t{1}, std::uint64_t{1} << 62))
      ->capture_default_str();
  objmode->add_option("--stages,-k", om.stages, "Transforms between source and sink")
      ->check(CLI::Range(1u, 1000u))
      ->capture_default_str();
  CLI::Option* om_hwm_opt = objmode->add_option(
      "--hwm", om_hwm, "highWaterMark of every stream, in items (default: library default, 16)");
  objmode
      ->add_option("--api", om.api,
                   "How the streams are built: typed (lambdas kept with their type) or spec "
                   "(options struct of std::function hooks)")
      ->check(CLI::IsMember({"typed", "spec"}))
      ->capture_default_str();
  objmode->add_flag("--monitor", om.monitor,
                    "Watch every stream with a sluice::monitor (100 ms tick, throughput windows)");
  objmode->add_flag("--metrics", om.metrics,
                    "As --monitor, and register the monitor with a sluice::metrics::registry "
                    "(exported, not scraped)");
  add_loop_option(*objmode, om.loop);
  add_warmup_option(*objmode, om.warmup);
  objmode->add_option("--repeat,-r", om.repeat, "Timed runs; best and median are reported")
      ->check(CLI::Range(1u, 1000u))
      ->capture_default_str();

  // ---- bytes
  bytes_options bo;
  std::string bo_size = "1G", bo_chunk = "64K", bo_hwm;
  CLI::App* bytes = app.add_subcommand(
      "bytes", "Byte pipeline: one reused buffer -> K passthroughs -> byte-counting writable");
  bytes->add_option("--size,-s", bo_size, "Bytes to send through (K/M/G/T suffixes are binary)")
      ->check(size_validator)
      ->capture_default_str();
  bytes->add_option("--chunk,-c", bo_chunk, "Chunk size")
      ->check(size_validator)
      ->capture_default_str();
  bytes->add_option("--stages,-k", bo.stages, "Passthroughs between source and sink")
      ->check(CLI::Range(0u, 1000u))
      ->capture_default_str();
  CLI::Option* bo_hwm_opt = bytes->add_option(
      "--hwm", bo_hwm, "highWaterMark of every stream, in bytes (default: library default, 64K)");
  bo_hwm_opt->check(size_validator);
  add_loop_option(*bytes, bo.loop);
  add_warmup_option(*bytes, bo.warmup);
  bytes->add_option("--repeat,-r", bo.repeat, "Timed runs; best and median are reported")
      ->check(CLI::Range(1u, 1000u))
      ->capture_default_str();

  // ---- memory
  memory_options mo;
  std::string mo_hwm, mo_chunk;
  CLI::App* memory = app.add_subcommand(
      "memory",
      "Peak buffering of a producer writing into a slow writable, with and without "
      "respecting write()'s return value");
  memory->add_option("--items,-n", mo.items, "Chunks to write")
      ->check(CLI::Range(std::uint64_t{1}, std::uint64_t{1} << 62))
      ->capture_default_str();
  CLI::Option* mo_chunk_opt = memory->add_option(
      "--chunk,-c", mo_chunk,
      "Byte mode: write buffers of this size (default: object mode, int64 items)");
  mo_chunk_opt->check(size_validator);
  CLI::Option* mo_hwm_opt = memory->add_option(
      "--hwm", mo_hwm,
      "The writable's highWaterMark, in items or bytes (default: library default, 16 / 64K)");
  mo_hwm_opt->check(size_validator);
  memory->add_flag("--ignore-backpressure", mo.ignore_backpressure,
                   "Write everything at once instead of waiting for 'drain'");
  memory
      ->add_option_function<std::string>(
          "--complete", [&mo](const std::string& name) { mo.complete = completion_names.at(name); },
          "How the slow sink completes a write: defer (next tick, default) or timer (0 ms timer)")
      ->check(CLI::IsMember({"defer", "timer"}));
  add_loop_option(*memory, mo.loop);

  // ---- micro
  CLI::App* micro = app.add_subcommand(
      "micro", "Google Benchmark micro-benchmarks (extra arguments go to Google Benchmark)");
  micro->allow_extras();
  micro->prefix_command();

  // ---- map (bench/operators.cpp)
  CLI::App* map_cmd = add_map_subcommand(app);

  // ---- iterate (bench/async.cpp)
  CLI::App* iterate_cmd = add_iterate_subcommand(app);

  // ---- pipeline (bench/pipeline.cpp)
  CLI::App* pipeline_cmd = add_pipeline_subcommand(app);

  // ---- sinks (bench/sinks.cpp)
  CLI::App* sinks_cmd = add_sinks_subcommand(app);

  // ---- sqlite (bench/db_sqlite.cpp)
  CLI::App* sqlite_cmd = add_sqlite_subcommand(app);

  // ---- offload (bench/offload.cpp)
  CLI::App* offload_cmd = add_offload_subcommand(app);

  CLI11_PARSE(app, argc, argv);

  try {
    if (*objmode) {
      if (*om_hwm_opt) om.hwm = om_hwm;
      return run_objmode(om);
    }
    if (*bytes) {
      bo.size = *parse_size(bo_size);
      bo.chunk = static_cast<std::size_t>(*parse_size(bo_chunk));
      if (bo.size == 0 || bo.chunk == 0) {
        std::fprintf(stderr, "sluice-bench bytes: --size and --chunk must not be 0\n");
        return 1;
      }
      if (*bo_hwm_opt) bo.hwm = static_cast<std::size_t>(*parse_size(bo_hwm));
      return run_bytes(bo);
    }
    if (*memory) {
      if (*mo_hwm_opt) mo.hwm = static_cast<std::size_t>(*parse_size(mo_hwm));
      if (*mo_chunk_opt) {
        mo.chunk = static_cast<std::size_t>(*parse_size(mo_chunk));
        if (*mo.chunk == 0) {
          std::fprintf(stderr, "sluice-bench memory: --chunk must not be 0\n");
          return 1;
        }
      }
      return run_memory(mo);
    }
    if (*micro) return run_micro(micro->remaining());
    if (*iterate_cmd) return run_iterate_subcommand();
    if (*map_cmd) return run_map_subcommand();
    if (*pipeline_cmd) return run_pipeline_subcommand();
    if (*sinks_cmd) return run_sinks_subcommand();
    if (*sqlite_cmd) return run_sqlite_subcommand();
    if (*offload_cmd) return run_offload_subcommand();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "sluice-bench: %s\n", e.what());
    return 1;
  }
  return 1;
}
