// tools/sluice/stages.cpp: stream construction for each stage kind, and run_stages().
#include "stages.hpp"

#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <memory>
#include <optional>

#include "codec_messages.hpp"
#include "live_view.hpp"
#include "net_stages.hpp"
#include "record_stages.hpp"
#include "report.hpp"
#include "sluice/compose/runtime_pipeline.hpp"
#include "sluice/core/asio_loop.hpp"
#include "sluice/io/copy_file.hpp"
#include "sluice/io/file.hpp"
#include "sluice/io/stdio.hpp"
#include "sluice/metrics/endpoint.hpp"
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
  // Per byte stage: the index of its (first) spec, and for a record segment its streams, one
  // per spec (record_stages.hpp).
  std::vector<std::size_t> first_spec;
  std::vector<std::vector<std::shared_ptr<stream>>> segments;
  run_hooks hooks;
  try {
    for (std::size_t i = 0; i < specs.size(); ++i) {
      build_context ctx{loop, i, specs[i].name, handle, nullptr, &hooks};
      first_spec.push_back(i);
      if (specs[i].is<record_parser_config>() || specs[i].is<record_source_config>()) {
        std::size_t last = i + 1;
        while (!specs[last].is<record_formatter_config>() && !specs[last].is<record_sink_config>())
          ++last;  // (the syntax check guarantees one)
        record_segment seg = build_record_segment(specs, i, last, ctx);
        stages.push_back(std::move(seg.stage));
        segments.push_back(std::move(seg.streams));
        i = last;
        continue;
      }
      stages.push_back(specs[i].config->build(ctx));
      segments.emplace_back();
      if (ctx.source_file) source_file = ctx.source_file;
    }
    if (!hooks.built.empty()) {
      // The sink takes the source's bytes as they are, and a write it completed stays: stdout,
      // or a file written in place (an atomic `write FILE` puts its bytes under their name at
      // the end; a network sink's completed write is in a kernel buffer, its peer may refuse).
      const auto* w = dynamic_cast<const write_stage*>(specs.back().config.get());
      const bool direct = specs.size() == 2 && (specs.back().is<stdout_stage>() ||
                                                (w != nullptr && (!w->atomic || w->append)));
      for (auto& f : hooks.built) f(stages.back(), direct);
    }
  } catch (const std::exception& e) {
    // Options the library rejects (the parser checks most of them first).
    std::fprintf(opts.err, "sluice: %s: %s\n", opts.command.c_str(), e.what());
    return 1;
  }
  // --monitor and --metrics: a monitor of every stage, in the expression's order.
  std::shared_ptr<monitor> mon;
  std::unique_ptr<live_view> live;
  std::unique_ptr<http_server> metrics_server;
  if (opts.monitor || !opts.metrics.empty()) {
    using namespace std::chrono_literals;
    mon = monitor::create(loop, {.tick = 100ms, .window = 1s});
    for (std::size_t i = 0; i < stages.size(); ++i) {
      if (segments[i].empty()) {
        (void)watch_stage(*mon, stages[i].get(), stages[i].name());
        continue;
      }
      for (std::size_t k = 0; k < segments[i].size(); ++k)
        (void)watch_stage(*mon, segments[i][k], specs[first_spec[i] + k].name);
    }
  }
  if (!opts.metrics.empty()) {
    const auto where = parse_host_port(opts.metrics, false);  // (main.cpp checked it)
    auto reg = std::make_shared<metrics::registry>();
    reg->add(opts.command, mon);
    metrics_server = make_http_server(loop, {}, metrics::metrics_handler(reg));
    if (!where || metrics_server->listen(where->host, where->port)) {
      std::fprintf(opts.err, "sluice: %s: --metrics: %s\n", opts.command.c_str(),
                   where ? metrics_server->error_message().c_str() : "not HOST:PORT");
      return 1;
    }
    const bool v6 = where->host.find(':') != std::string::npos;
    std::fprintf(opts.err, "sluice: %s: metrics at http://%s%s%s:%u/metrics\n",
                 opts.command.c_str(), v6 ? "[" : "", where->host.c_str(), v6 ? "]" : "",
                 static_cast<unsigned>(metrics_server->port()));
    std::fflush(opts.err);
  }
  if (opts.monitor && !opts.quiet) {
    live = std::make_unique<live_view>(loop, mon, opts.err, ::isatty(::fileno(opts.err)) == 1);
    live->start();
  } else if (opts.progress && !opts.quiet && ::isatty(STDERR_FILENO) == 1) {
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
    for (auto& f : hooks.finished) f(e);
    if (progress) progress->stop();
    if (live) live->stop();
    if (metrics_server) metrics_server->close();
  });
  io.run();
  if (progress) progress->stop();
  if (live) live->stop();

  const double seconds = seconds_since(t0);
  if (opts.stats) {
    std::vector<stage_stats> rows;
    for (std::size_t i = 0; i < stages.size(); ++i) {
      const auto& s = stages[i];
      if (segments[i].empty()) {
        rows.push_back({s.name(), s.get()->counters(), s.writable_side() != nullptr,
                        s.readable_side() != nullptr});
        continue;
      }
      // A record segment: a line per stage of it (a record source takes nothing in, a record
      // sink gives nothing out).
      for (std::size_t k = 0; k < segments[i].size(); ++k) {
        const stage_spec& spec = specs[first_spec[i] + k];
        rows.push_back({spec.name, segments[i][k]->counters(), !spec.is<record_source_config>(),
                        !spec.is<record_sink_config>()});
      }
    }
    std::fputs(format_stats(rows, seconds).c_str(), opts.err);
    for (auto& f : hooks.stats) std::fputs(f().c_str(), opts.err);
  }
  if (!result) {
    std::fprintf(opts.err, "sluice: %s: the streams stopped before finishing (internal error)\n",
                 opts.command.c_str());
    return 1;
  }
  if (!*result) return 0;
  // The reader of our output went away (`sluice cat big | head`): stop quietly, as cat does.
  if (result->stage == specs.size() && is_broken_pipe(result->code)) return 0;
  std::string message = failure_message(specs, *result, opts.command);
  if (const std::size_t b = result->stage - 1;
      result->stage != 0 && b < segments.size() && !segments[b].empty()) {
    // A record segment failed: name its stage that failed, in the expression's numbering.
    if (const std::size_t k = failed_stream(segments[b]); k < segments[b].size())
      message = "stage " + std::to_string(first_spec[b] + k + 1) + " (" +
                specs[first_spec[b] + k].name + "): " + segments[b][k]->error_message();
  }
  std::fprintf(opts.err, "sluice: %s: %s\n", opts.command.c_str(), message.c_str());
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
