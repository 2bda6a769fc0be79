// tools/sluice/stages.cpp: stream construction for each stage kind, and run_stages().
#include "stages.hpp"

#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <memory>
#include <optional>

#include "chain.hpp"
#include "concat.hpp"
#include "filters.hpp"
#include "report.hpp"
#include "sluice/asio_loop.hpp"
#include "sluice/compress.hpp"
#include "sluice/copy_file.hpp"
#include "sluice/file.hpp"
#include "sluice/stdio.hpp"

namespace sluice::cli {
namespace {

// Output buffers of 64 KiB: larger than the library's 16 KiB default, fewer chunks per byte.
constexpr std::size_t codec_chunk = 64 * 1024;

// What build_stage needs besides the spec.
struct build_context {
  sluice::loop& loop;
  // Set once the chain exists; head stages call it to stop what is upstream of them.
  std::shared_ptr<std::function<void(std::size_t)>> stop_before;
  std::shared_ptr<file_reader> source_file;  // for the progress bar's total
};

std::shared_ptr<transform<buffer, buffer>> make_codec(sluice::loop& l, const codec_stage& c) {
  switch (c.kind) {
    case codec_kind::gzip: {
      gzip_options o;
      o.level = c.level.value_or(-1);
      o.chunk_size = codec_chunk;
      o.engine = c.engine == gzip_engine_kind::isal ? gzip_engine::isal : gzip_engine::zlib;
      o.threads = c.threads;
      return make_gzip(l, o);
    }
    case codec_kind::gunzip: {
      zlib_options o;
      o.chunk_size = codec_chunk;
      return make_gunzip(
          l, o, c.engine == gzip_engine_kind::isal ? gzip_engine::isal : gzip_engine::zlib);
    }
    case codec_kind::zstd: {
      zstd_options o;
      o.level = c.level.value_or(3);
      o.chunk_size = codec_chunk;
      return make_zstd_compress(l, o);
    }
    case codec_kind::unzstd: {
      zstd_options o;
      o.chunk_size = codec_chunk;
      return make_zstd_decompress(l, o);
    }
    case codec_kind::brotli: {
      brotli_options o;
      o.quality = c.level.value_or(11);
      o.chunk_size = codec_chunk;
      return make_brotli_compress(l, o);
    }
    case codec_kind::unbrotli: {
      brotli_options o;
      o.chunk_size = codec_chunk;
      return make_brotli_decompress(l, o);
    }
  }
  return nullptr;
}

chain_stage build_stage(build_context& ctx, const stage_spec& spec, std::size_t index) {
  sluice::loop& l = ctx.loop;
  return std::visit(
      [&](const auto& s) -> chain_stage {
        using S = std::decay_t<decltype(s)>;
        if constexpr (std::is_same_v<S, read_stage>) {
          if (s.paths.size() != 1)
            return chain_stage::source(std::make_shared<concat_reader>(l, s.paths), spec.name);
          auto r = make_file_reader(l, s.paths.front(), {.name = s.paths.front()});
          ctx.source_file = r;
          return chain_stage::source(r, spec.name);
        } else if constexpr (std::is_same_v<S, stdin_stage>) {
          return chain_stage::source(make_stdin(l), spec.name);
        } else if constexpr (std::is_same_v<S, write_stage>) {
          file_writer_options o;
          o.flags = s.append ? open_mode::append : open_mode::truncate;
          o.atomic = s.atomic && !s.append;
          o.name = s.path;
          return chain_stage::sink(make_file_writer(l, s.path, o), spec.name);
        } else if constexpr (std::is_same_v<S, stdout_stage>) {
          return chain_stage::sink(make_stdout(l), spec.name);
        } else if constexpr (std::is_same_v<S, codec_stage>) {
          return chain_stage::middle(make_codec(l, s), spec.name);
        } else if constexpr (std::is_same_v<S, lines_stage>) {
          return chain_stage::middle(std::make_shared<line_splitter>(l), spec.name);
        } else if constexpr (std::is_same_v<S, grep_stage>) {
          grep_options g{s.pattern, s.invert, s.fixed, s.ignore_case};
          return chain_stage::middle(std::make_shared<grep_filter>(l, std::move(g)), spec.name);
        } else if constexpr (std::is_same_v<S, head_stage>) {
          head_filter::options h{s.count, s.bytes, [stop = ctx.stop_before, index] {
                                   if (*stop) (*stop)(index);
                                 }};
          return chain_stage::middle(std::make_shared<head_filter>(l, std::move(h)), spec.name);
        } else {
          static_assert(std::is_same_v<S, count_stage>);
          return chain_stage::middle(std::make_shared<line_counter>(l, s.bytes), spec.name);
        }
      },
      spec.what);
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

int run_stages(const std::vector<stage_spec>& specs, const run_options& opts) {
  const auto t0 = std::chrono::steady_clock::now();
  boost::asio::io_context io;
  asio_loop loop(io);  // destroyed last: it waits for work still on the I/O threads
  std::optional<chain_result> result;
  std::unique_ptr<progress_meter> progress;
  build_context ctx{loop, std::make_shared<std::function<void(std::size_t)>>(), nullptr};
  std::vector<chain_stage> stages;
  try {
    for (std::size_t i = 0; i < specs.size(); ++i) stages.push_back(build_stage(ctx, specs[i], i));
  } catch (const std::exception& e) {
    // Options the library rejects (the parser checks most of them first).
    std::fprintf(opts.err, "sluice: %s: %s\n", opts.command.c_str(), e.what());
    return 1;
  }
  auto chain = std::make_shared<byte_chain>(std::move(stages), [&](const chain_result& r) {
    result = r;
    if (progress) progress->stop();
  });
  *ctx.stop_before = [weak = std::weak_ptr(chain)](std::size_t i) {
    if (auto c = weak.lock()) c->stop_before(i);
  };
  if (opts.progress && !opts.quiet && ::isatty(STDERR_FILENO) == 1) {
    progress = std::make_unique<progress_meter>(
        loop,
        [&chain, src = ctx.source_file, t0] {
          progress_sample s;
          s.bytes = chain->stages().front().owner->counters().bytes_out;
          if (src) s.total = src->expected_bytes();
          s.seconds = seconds_since(t0);
          return s;
        },
        opts.err);
    progress->start();
  }
  chain->start();
  io.run();
  if (progress) progress->stop();

  const double seconds = seconds_since(t0);
  if (opts.stats) {
    std::vector<stage_stats> rows;
    for (const auto& s : chain->stages())
      rows.push_back({s.name, s.owner->counters(), s.in != nullptr, s.out != nullptr});
    std::fputs(format_stats(rows, seconds).c_str(), opts.err);
  }
  if (!result) {
    std::fprintf(opts.err, "sluice: %s: the streams stopped before finishing (internal error)\n",
                 opts.command.c_str());
    return 1;
  }
  if (!*result) return 0;
  // The reader of our output went away (`sluice cat big | head`): stop quietly, as cat does.
  if (result->stage + 1 == specs.size() && is_broken_pipe(result->code)) return 0;
  std::fprintf(opts.err, "sluice: %s: %s\n", opts.command.c_str(), result->message().c_str());
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
    copy = copy_file(loop, from, to, {.atomic = atomic}, [&](std::error_code ec) {
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
