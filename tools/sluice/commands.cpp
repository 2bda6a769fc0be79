// tools/sluice/commands.cpp: gzip & co., cat, copy and run.
#include "commands.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <system_error>
#include <variant>

#include "net_stages.hpp"
#include "stage_kinds.hpp"
#include "stages.hpp"

namespace sluice::cli {
namespace {

bool is_compressor(codec_kind k) noexcept {
  return k == codec_kind::gzip || k == codec_kind::zstd || k == codec_kind::brotli;
}

template <class C>
stage_spec make_spec(C config, std::string name) {
  stage_spec s;
  s.config = std::make_shared<const C>(std::move(config));
  s.name = std::move(name);
  return s;
}

int usage_error(std::string_view command, const std::string& message) {
  std::fprintf(stderr, "sluice: %.*s: %s\n", static_cast<int>(command.size()), command.data(),
               message.c_str());
  return 2;
}

bool exists(const std::string& path) {
  std::error_code ec;
  return std::filesystem::exists(std::filesystem::symlink_status(path, ec));
}

read_stage read_with(std::vector<std::string> paths) {
  read_stage r;
  r.paths = std::move(paths);
  return r;
}

stage_spec source_spec(const std::string& path) {
  if (path.empty() || path == "-") return make_spec(stdin_stage{}, "stdin");
  return make_spec(read_with({path}), "read");
}

stage_spec sink_spec(const std::string& path, bool atomic = true,
                     const std::string& metadata_from = {}) {
  if (path.empty() || path == "-") return make_spec(stdout_stage{}, "stdout");
  write_stage w;
  w.path = path;
  w.atomic = atomic;
  if (metadata_from != "-") w.metadata_from = metadata_from;
  return make_spec(std::move(w), "write");
}

run_options options_for(std::string_view command, const common_flags& f) {
  run_options o;
  o.command = std::string(command);
  o.quiet = f.quiet;
  o.stats = f.stats;
  o.monitor = f.monitor;
  o.metrics = f.metrics;
  return o;
}

}  // namespace

std::string_view codec_suffix(codec_kind k) noexcept {
  switch (k) {
    case codec_kind::gzip:
    case codec_kind::gunzip:
      return ".gz";
    case codec_kind::zstd:
    case codec_kind::unzstd:
      return ".zst";
    case codec_kind::brotli:
    case codec_kind::unbrotli:
      return ".br";
  }
  return "";
}

std::string_view codec_name(codec_kind k) noexcept {
  switch (k) {
    case codec_kind::gzip:
      return "gzip";
    case codec_kind::gunzip:
      return "gunzip";
    case codec_kind::zstd:
      return "zstd";
    case codec_kind::unzstd:
      return "unzstd";
    case codec_kind::brotli:
      return "brotli";
    case codec_kind::unbrotli:
      return "unbrotli";
  }
  return "";
}

int run_codec_command(const codec_command& c) {
  const std::string_view name = codec_name(c.kind);
  const bool from_stdin = c.input.empty() || c.input == "-";
  std::string output = c.output;
  bool derived = false;
  if (c.to_stdout) {
    if (!output.empty()) return usage_error(name, "-c and -o cannot be used together");
    output = "-";
  } else if (output.empty() && from_stdin) {
    output = "-";
  } else if (output.empty()) {
    // Named after the input, as gzip does (but the input is kept).
    const std::string_view suffix = codec_suffix(c.kind);
    if (is_compressor(c.kind)) {
      output = c.input + std::string(suffix);
    } else if (c.input.size() > suffix.size() && c.input.ends_with(suffix)) {
      output = c.input.substr(0, c.input.size() - suffix.size());
    } else if (c.kind == codec_kind::gunzip && c.input.ends_with(".tgz")) {
      output = c.input.substr(0, c.input.size() - 4) + ".tar";
    } else {
      return usage_error(name, "cannot name the output of '" + c.input + "' (it does not end in " +
                                   std::string(suffix) + "); use -o OUT or -c");
    }
    derived = true;
  }
  if (derived && !c.force && exists(output))
    return usage_error(name, "'" + output + "' already exists; use -f to overwrite it");
  if (output == "-" && is_compressor(c.kind) && ::isatty(STDOUT_FILENO) == 1)
    return usage_error(name,
                       "refusing to write compressed data to a terminal; use -o OUT or a redirect");

  codec_stage codec;
  codec.kind = c.kind;
  codec.level = c.level;
  codec.engine = c.engine;
  codec.threads = c.threads;
  codec.window_log = c.window_log;
  codec.long_distance = c.kind == codec_kind::zstd && c.window_log != 0;
  std::vector<stage_spec> stages;
  stages.push_back(source_spec(c.input));
  stages.push_back(make_spec(codec, std::string(name)));
  // The output takes the input file's mode, owner and times, as gzip's does. The writer stats
  // the input when it opens, at the same time as the reader opens it: an input that cannot be
  // stat'ed would fail both, and whichever came first would be reported (a race: sometimes
  // "stat" by the write stage). Asked here first, a missing input is left to the read stage
  // alone, whose message names it: "stage 1 (read): open 'x': No such file or directory".
  std::string metadata_from = c.input;
  if (struct stat st{}; !from_stdin && ::stat(c.input.c_str(), &st) != 0) metadata_from.clear();
  stages.push_back(sink_spec(output, true, metadata_from));
  return run_stages(stages, options_for(name, c.flags));
}

int run_cat_command(const cat_command& c) {
  std::vector<stage_spec> stages;
  if (c.files.size() == 1 && c.files.front() == "-") {
    stages.push_back(make_spec(stdin_stage{}, "stdin"));
  } else {
    for (const auto& f : c.files)
      if (f == "-") return usage_error("cat", "'-' (stdin) can only be used alone");
    stages.push_back(make_spec(read_with(c.files), "read"));
  }
  stages.push_back(sink_spec(c.output));
  return run_stages(stages, options_for("cat", c.flags));
}

int run_copy_command(const copy_command& c) {
  const auto is_std = [](const std::string& p) { return p.empty() || p == "-"; };
  if (!c.stream && !is_std(c.source) && !is_std(c.destination))
    return run_file_copy(c.source, c.destination, !c.no_atomic, options_for("copy", c.flags));
  std::vector<stage_spec> stages;
  stages.push_back(source_spec(c.source));
  stages.push_back(sink_spec(c.destination, !c.no_atomic));
  return run_stages(stages, options_for("copy", c.flags));
}

int run_fetch_command(const fetch_command& c) {
  if (!c.url.starts_with("http://") && !c.url.starts_with("https://"))
    return usage_error("fetch", "not an http:// URL: '" + c.url + "'");
  http_get_stage get;
  get.url = c.url;
  get.follow = c.follow;
  get.request.compressed = c.compressed;
  get.request.timeout = std::chrono::milliseconds(static_cast<long long>(c.timeout * 1000));
  if (!c.cacert.empty() && ::access(c.cacert.c_str(), R_OK) != 0)
    return usage_error("fetch", "cannot read --cacert '" + c.cacert +
                                    "': " + std::generic_category().message(errno));
  get.request.ca_file = c.cacert;
  get.request.insecure = c.insecure;
  std::vector<stage_spec> stages;
  // Named as the command, so its failures read "sluice: fetch: GET URL: HTTP 404 Not Found".
  stages.push_back(make_spec(std::move(get), "fetch"));
  stages.push_back(sink_spec(c.output));
  return run_stages(stages, options_for("fetch", c.flags));
}

int run_run_command(const std::string& expression, const common_flags& flags) {
  auto parsed = parse_run_expression(expression);
  if (auto* e = std::get_if<syntax_error>(&parsed)) {
    std::fputs(format_syntax_error(expression, *e).c_str(), stderr);
    return 2;
  }
  return run_stages(std::get<std::vector<stage_spec>>(parsed), options_for("run", flags));
}

}  // namespace sluice::cli
