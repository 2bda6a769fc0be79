// tools/sluice/stages.cpp: stream construction for each stage kind, and run_stages().
#include "stages.hpp"

#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <memory>
#include <optional>

#include "codec_messages.hpp"
#include "net_stages.hpp"
#include "report.hpp"
#include "sluice/compose/runtime_pipeline.hpp"
#include "sluice/core/asio_loop.hpp"
#include "sluice/io/copy_file.hpp"
#include "sluice/io/file.hpp"
#include "sluice/io/stdio.hpp"
#include "stage_kinds.hpp"

namespace sluice::cli {
namespace {

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

int run_stages(const std::vector<stage_spec>& specs, const run_options& opts) {
  const auto t0 = std::chrono::steady_clock::now();
  boost::asio::io_context io;
  asio_loop loop(io);  // destroyed last: it waits for work still on the I/O threads
  std::optional<pipeline_error> result;
  std::unique_ptr<progress_meter> progress;
  auto handle = std::make_shared<pipeline_handle>();
  std::shared_ptr<file_reader> source_file;
  std::vector<byte_stage> stages;
  try {
    for (std::size_t i = 0; i < specs.size(); ++i) {
      build_context ctx{loop, i, specs[i].name, handle, nullptr};
      stages.push_back(specs[i].config->build(ctx));
      if (ctx.source_file) source_file = ctx.source_file;
    }
  } catch (const std::exception& e) {
    // Options the library rejects (the parser checks most of them first).
    std::fprintf(opts.err, "sluice: %s: %s\n", opts.command.c_str(), e.what());
    return 1;
  }
  if (opts.progress && !opts.quiet && ::isatty(STDERR_FILENO) == 1) {
    progress = std::make_unique<progress_meter>(
        loop,
        [source = stages.front().get(), src = source_file, t0] {
          progress_sample s;
          s.bytes = source->counters().bytes_out;
          if (src)
            s.total = src->expected_bytes();
          else
            s.total = network_source_size(source.get());
          s.seconds = seconds_since(t0);
          return s;
        },
        opts.err);
    progress->start();
  }
  *handle = pipeline(stages, [&](const pipeline_error& e) {
    result = e;
    if (progress) progress->stop();
  });
  io.run();
  if (progress) progress->stop();

  const double seconds = seconds_since(t0);
  if (opts.stats) {
    std::vector<stage_stats> rows;
    for (const auto& s : stages)
      rows.push_back({s.name(), s.get()->counters(), s.writable_side() != nullptr,
                      s.readable_side() != nullptr});
    std::fputs(format_stats(rows, seconds).c_str(), opts.err);
  }
  if (!result) {
    std::fprintf(opts.err, "sluice: %s: the streams stopped before finishing (internal error)\n",
                 opts.command.c_str());
    return 1;
  }
  if (!*result) return 0;
  // The reader of our output went away (`sluice cat big | head`): stop quietly, as cat does.
  if (result->stage == specs.size() && is_broken_pipe(result->code)) return 0;
  std::fprintf(opts.err, "sluice: %s: %s\n", opts.command.c_str(),
               failure_message(specs, *result, opts.command).c_str());
  return 1;
}

int run_file_copy(const std::string& from, const std::string& to, bool atomic,
                  const run_options& opts) {
  const auto t0 = std::chrono::steady_clock::now();
  boost::asio::io_context io;
  asio_loop loop(io);  // destroyed last: it waits for work still on the I/O threads
  std::optional<std::error_code> result;
  std::unique_ptr<progress_meter> progress;
  std::shared_ptr<file_copy> copy;
  try {
    copy = copy_file(loop, from, to, {.atomic = atomic, .fail_if_changed = true},
                     [&](std::error_code ec) {
                       result = ec;
                       if (progress) progress->stop();
                     });
  } catch (const std::exception& e) {
    std::fprintf(opts.err, "sluice: %s: %s\n", opts.command.c_str(), e.what());
    return 1;
  }
  if (opts.progress && !opts.quiet && ::isatty(STDERR_FILENO) == 1) {
    progress = std::make_unique<progress_meter>(
        loop,
        [&copy, t0] {
          return progress_sample{copy->bytes_copied(), copy->size(), seconds_since(t0)};
        },
        opts.err);
    progress->start();
  }
  io.run();
  if (progress) progress->stop();

  if (opts.stats) {
    // One stage: the kernel (or the read/write fallback) moved the bytes; slices are its chunks.
    stream_counters c;
    c.chunks_in = c.chunks_out = copy->slices();
    c.bytes_in = c.bytes_out = copy->bytes_copied();
    const std::string name = copy->fell_back() ? "copy (read/write)" : "copy (copy_file_range)";
    std::fputs(format_stats({{name, c, true, true}}, seconds_since(t0)).c_str(), opts.err);
  }
  if (!result) {
    std::fprintf(opts.err, "sluice: %s: the copy stopped before finishing (internal error)\n",
                 opts.command.c_str());
    return 1;
  }
  if (!*result) return 0;
  std::fprintf(opts.err, "sluice: %s: %s\n", opts.command.c_str(), copy->error_message().c_str());
  return 1;
}

}  // namespace sluice::cli
