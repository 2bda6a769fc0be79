// tools/sluice/main.cpp: `sluice`, the command-line tool (docs/cli.md): option parsing.
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <array>
#include <csignal>
#include <cstdio>
#include <string>
#include <utility>

#include "commands.hpp"
#include "net_stages.hpp"
#include "run_syntax.hpp"
#include "sluice/codec/gzip.hpp"
#include "sluice/io/temporary_files.hpp"

namespace {

using namespace sluice::cli;

void add_common_flags(CLI::App& cmd, common_flags& f) {
  cmd.add_flag("-q,--quiet", f.quiet, "No progress bar (errors are still reported)");
  cmd.add_flag("--stats", f.stats,
               "At the end, print each stage's counters to stderr: bytes and chunks in and out, "
               "backpressure episodes and time, drains, peak buffered bytes");
}

// CLI11 validator for sizes like 64K, 256M, 1G.
const CLI::Validator size_validator(
    [](std::string& s) -> std::string {
      return parse_size(s) ? std::string() : "not a size (examples: 1048576, 64K, 256M, 1G)";
    },
    "SIZE");

// CLI11 validator for --metrics: HOST:PORT or [V6]:PORT.
const CLI::Validator host_port_validator(
    [](std::string& s) -> std::string {
      return parse_host_port(s, false) ? std::string()
                                       : "not HOST:PORT (examples: 127.0.0.1:9464, [::1]:0)";
    },
    "HOST:PORT");

// CLI11 validator for --memory: a size of at least 1K.
const CLI::Validator memory_validator(
    [](std::string& s) -> std::string {
      return window_log_for_memory(s) ? std::string()
                                      : "not a size of at least 1K (examples: 512M, 2G)";
    },
    "SIZE");

// CLI11 validator for a whole number in [lo, hi]: "not a number: 'abc'" or "must be 0..9, not 12"
// (CLI::Range says "not in range" for both).
CLI::Validator int_in(long long lo, long long hi) {
  const std::string range = std::to_string(lo) + ".." + std::to_string(hi);
  return {[lo, hi, range](std::string& s) -> std::string {
            const auto v = parse_int(s);
            if (!v) return "not a number: '" + s + "'";
            if (*v < lo || *v > hi) return "must be " + range + ", not " + s;
            return {};
          },
          range};
}

// The deepest subcommand CLI11 had reached ("gzip"), or "" before any.
std::string command_of(const CLI::App& app) {
  std::string name;
  const CLI::App* cur = &app;
  while (true) {
    const auto subs = cur->get_subcommands();
    if (subs.empty()) break;
    cur = subs.front();
    name = cur->get_name();
  }
  return name;
}

// A usage error: one line, "sluice: <command>: <what is wrong>", and status 2 (docs/cli.md).
int usage_error(const CLI::App& app, const CLI::ParseError& e, int argc, char** argv) {
  std::string command = command_of(app);
  std::string what = e.what();
  if (command.empty() && argc > 1 && argv[1][0] != '-') {
    what = "unknown command '" + std::string(argv[1]) + "' (sluice --help lists them)";
  } else if (command.empty() && argc == 1) {
    what = "a command is needed (sluice --help lists them)";
  }
  std::fprintf(stderr, "sluice: %s%s%s\n", command.c_str(), command.empty() ? "" : ": ",
               what.c_str());
  return 2;
}

// The executable itself, so the demo can re-run it for its measured children.
std::string self_path(const char* argv0) {
  std::array<char, 4096> buf{};
  const ssize_t n = ::readlink("/proc/self/exe", buf.data(), buf.size() - 1);
  if (n > 0) return std::string(buf.data(), static_cast<std::size_t>(n));
  return argv0;
}

}  // namespace

int main(int argc, char** argv) {
  // A closed pipe must surface as EPIPE on write (so `sluice cat f | head` ends quietly with
  // status 0) rather than kill the process.
  std::signal(SIGPIPE, SIG_IGN);
  // Ended by a signal (Ctrl-C, kill, a closed terminal), leave no temporary file behind; the
  // signal then ends the process as usual, so the shell sees 130, 143 or 129.
  if (const std::error_code ec = sluice::remove_temporary_files_on({SIGINT, SIGTERM, SIGHUP}))
    std::fprintf(stderr, "sluice: cannot install signal handlers: %s\n", ec.message().c_str());

  CLI::App app{
      "sluice: streams with backpressure, from the command line.\n"
      "Compress, decompress, copy and filter files through sluice streams. Data flows in 64 KiB "
      "chunks; a slow stage slows the ones before it, so memory stays bounded."};
  app.require_subcommand(1);
  app.set_version_flag("--version", "sluice 0.1.0");
  int status = 0;

  // gzip & co.
  static constexpr std::array<std::pair<codec_kind, const char*>, 6> codecs{{
      {codec_kind::gzip, "Compress FILE (or stdin) with gzip"},
      {codec_kind::gunzip, "Decompress gzip data (any number of concatenated members)"},
      {codec_kind::zstd, "Compress FILE (or stdin) with Zstandard"},
      {codec_kind::unzstd, "Decompress Zstandard data"},
      {codec_kind::brotli, "Compress FILE (or stdin) with Brotli"},
      {codec_kind::unbrotli, "Decompress Brotli data"},
  }};
  std::array<codec_command, 6> codec_cmds{};
  for (std::size_t i = 0; i < codecs.size(); ++i) {
    const auto [kind, help] = codecs[i];
    codec_command& c = codec_cmds[i];
    c.kind = kind;
    const std::string name(codec_name(kind));
    const std::string suffix(codec_suffix(kind));
    const bool compress =
        kind == codec_kind::gzip || kind == codec_kind::zstd || kind == codec_kind::brotli;
    CLI::App* cmd = app.add_subcommand(name, help);
    cmd->footer(compress ? "Without -o or -c, FILE is compressed to FILE" + suffix +
                               " (FILE is kept). Without FILE, stdin goes to stdout."
                         : "Without -o or -c, FILE" + suffix + " is written to FILE (FILE" +
                               suffix + " is kept). Without FILE, stdin goes to stdout.");
    cmd->add_option("FILE", c.input, "Input file ('-' or none: stdin)");
    cmd->add_option("-o,--output", c.output,
                    "Output file ('-': stdout); written to a temporary file and renamed into "
                    "place at the end, so a failed run leaves nothing under this name");
    cmd->add_flag("-c,--stdout", c.to_stdout, "Write to stdout");
    cmd->add_flag("-f,--force", c.force, "Overwrite an existing output named after FILE");
    if (kind == codec_kind::gzip || kind == codec_kind::gunzip) {
      cmd->add_option_function<std::string>(
             "--engine",
             [&c](const std::string& e) {
               c.engine = e == "isal" ? gzip_engine_kind::isal : gzip_engine_kind::zlib;
             },
             kind == codec_kind::gzip
                 ? "zlib (default) or isal (Intel ISA-L igzip: several times faster, a little "
                   "larger)"
                 : "zlib (default) or isal (Intel ISA-L: inflates several times faster)")
          ->check(CLI::IsMember({"zlib", "isal"}));
    }
    if (kind == codec_kind::gzip) {
      cmd->add_option("-l,--level", c.level, "Compression level, 0 (store) .. 9 (best); default 6")
          ->check(int_in(0, 9));
      cmd->add_option("-p,--threads", c.threads,
                      "Blocks compressed at once, on that many threads (as pigz): 0, the default, "
                      "is one per core; 1 compresses in one piece on the main thread. The output "
                      "is one standard gzip member either way")
          ->check(int_in(0, sluice::max_gzip_threads));
    } else if (kind == codec_kind::zstd) {
      cmd->add_option("-l,--level", c.level, "Compression level, 1 .. 19; default 3")
          ->check(int_in(1, 19));
      // A flag with an optional value: --long is --long=27 (as zstd's).
      cmd->add_flag("--long{27}", c.window_log,
                    "Long-distance matching with a window of 2^N bytes (N 10..31, default 27); "
                    "decompressing a window above 2^27 then needs unzstd --long=N or --memory")
          ->check(int_in(10, 31));
    }
    if (kind == codec_kind::unzstd) {
      cmd->add_flag("--long{27}", c.window_log,
                    "Accept windows up to 2^N bytes (N 10..31, default 27: 128 MiB), as "
                    "zstd --long=N -d")
          ->check(int_in(10, 31));
      cmd->add_option_function<std::string>(
             "--memory", [&c](const std::string& s) { c.window_log = *window_log_for_memory(s); },
             "Accept windows up to SIZE (e.g. 2G; rounded down to a power of two); default 128M")
          ->check(memory_validator);
    } else if (kind == codec_kind::brotli) {
      cmd->add_option("-l,--level", c.level, "Quality, 0 (fastest) .. 11 (best); default 11")
          ->check(int_in(0, 11));
    }
    add_common_flags(*cmd, c.flags);
    cmd->callback([&c, &status] { status = run_codec_command(c); });
  }

  cat_command cat;
  CLI::App* cat_cmd = app.add_subcommand("cat", "Write the files, one after another, to stdout");
  cat_cmd->add_option("FILE", cat.files, "Files to read ('-' alone: stdin)")->required();
  cat_cmd->add_option("-o,--output", cat.output, "Write to this file instead (atomically)");
  add_common_flags(*cat_cmd, cat.flags);
  cat_cmd->callback([&] { status = run_cat_command(cat); });

  copy_command copy;
  CLI::App* copy_cmd = app.add_subcommand(
      "copy",
      "Copy SRC to DST: file to file in the kernel (copy_file_range, as cp does), through a file "
      "reader and writer when either is '-' or with --stream");
  copy_cmd->add_option("SRC", copy.source, "File to read ('-': stdin)")->required();
  copy_cmd->add_option("DST", copy.destination, "File to write ('-': stdout)")->required();
  copy_cmd->add_flag("--no-atomic", copy.no_atomic,
                     "Write DST in place (default: a temporary file renamed over DST at the end)");
  copy_cmd->add_flag("--stream", copy.stream,
                     "Move the bytes through a file reader and a file writer (64 KiB chunks on "
                     "the I/O pool) instead of copy_file_range");
  add_common_flags(*copy_cmd, copy.flags);
  copy_cmd->callback([&] { status = run_copy_command(copy); });

  std::string expression;
  common_flags run_flags;
  CLI::App* run_cmd = app.add_subcommand("run", "Run a chain of stages: 'STAGE | STAGE | ...'");
  run_cmd
      ->add_option("EXPRESSION", expression,
                   "The stages, quoted as one argument, e.g. "
                   "'read in.log.gz | gunzip | grep ERROR | gzip | write errors.gz'")
      ->required();
  // The stage list comes from the table (stage_kinds.cpp), so every stage is listed.
  run_cmd->footer("Stages (docs/cli.md has the details):\n" + stage_help() +
                  "Words may be quoted with '...' or \"...\"; a quoted | is not a separator.");
  add_common_flags(*run_cmd, run_flags);
  run_cmd->add_flag("--monitor", run_flags.monitor,
                    "Instead of the progress bar, show each stage every second: rates in and out, "
                    "buffered against its highWaterMark, time backpressured, and the bottleneck "
                    "(a table on a terminal, else one JSON line per second on stderr)");
  run_cmd
      ->add_option("--metrics", run_flags.metrics,
                   "Serve the stages' figures at http://HOST:PORT/metrics (Prometheus text "
                   "format) and /metrics.json while the pipeline runs; port 0 picks one")
      ->type_name("HOST:PORT")
      ->check(host_port_validator);
  run_cmd->callback([&] { status = run_run_command(expression, run_flags); });

  fetch_command fetch;
  CLI::App* fetch_cmd = app.add_subcommand(
      "fetch", "Download URL (HTTP GET) to stdout or a file; an HTTP error status fails");
  fetch_cmd->add_option("URL", fetch.url, "http://HOST[:PORT]/PATH")->required();
  fetch_cmd->add_option("-o,--output", fetch.output,
                        "Write to this file instead of stdout (atomically: nothing is left "
                        "under this name if the download fails)");
  fetch_cmd->add_flag("-L,--location", fetch.follow, "Follow redirects (at most 10)");
  fetch_cmd->add_flag("--compressed", fetch.compressed,
                      "Ask for gzip (Accept-Encoding: gzip) and decompress the response");
  fetch_cmd
      ->add_option("--timeout", fetch.timeout,
                   "Fail when nothing is received for this many seconds (default: no limit)")
      ->check(CLI::NonNegativeNumber);
  fetch_cmd->add_option("--cacert", fetch.cacert,
                        "https: trust the certificate authorities in this PEM file instead of "
                        "the system's");
  fetch_cmd->add_flag("-k,--insecure", fetch.insecure,
                      "https: do not verify the server's certificate or name");
  add_common_flags(*fetch_cmd, fetch.flags);
  fetch_cmd->callback([&] { status = run_fetch_command(fetch); });

  serve_command serve;
  CLI::App* serve_cmd = app.add_subcommand(
      "serve", "Serve the files of a directory over HTTP (GET, HEAD, Range), logging each request");
  serve_cmd->add_option("DIR", serve.directory, "Directory to serve (default: the current one)");
  serve_cmd->add_option("-p,--port", serve.port,
                        "Port to listen on; 0 picks a free one (default 8080)");
  serve_cmd->add_option("--host", serve.host,
                        "Address to listen on (default 127.0.0.1; 0.0.0.0 or :: for every one)");
  serve_cmd->add_flag("--gzip", serve.gzip,
                      "gzip text files on the fly for clients that send Accept-Encoding: gzip");
  serve_cmd->add_flag("-q,--quiet", serve.quiet, "No request log on stderr");
  serve_cmd->add_option(
      "--keep-alive", serve.keep_alive,
      "Seconds an idle keep-alive connection is kept open (default 5; 0: no limit)");
  serve_cmd->add_option("--idle-timeout", serve.idle_timeout,
                        "Seconds a response may go without the client taking a byte (or a "
                        "request without sending one) before the connection is cut (default "
                        "60, as nginx's send_timeout; 0: no limit)");
  serve_cmd->add_flag("--stats", serve.stats,
                      "At exit, print how many responses went by sendfile and by read/write");
  serve_cmd->callback([&] { status = run_serve_command(serve); });

  demo_command demo;
  demo.self = self_path(argv[0]);
  std::string demo_size = "256M";
  CLI::App* demo_cmd = app.add_subcommand("demo", "Demonstrations");
  demo_cmd->require_subcommand(1);
  CLI::App* bp_cmd = demo_cmd->add_subcommand(
      "backpressure",
      "gzip a file twice, respecting and ignoring backpressure, and compare time and peak "
      "memory");
  bp_cmd->add_option("FILE", demo.file, "Text file to compress (default: generate one)");
  bp_cmd->add_option("--size", demo_size, "Size of the generated text (default 256M)")
      ->check(size_validator);
  bp_cmd->add_option("--level", demo.level, "gzip level (default 6)")->check(int_in(0, 9));
  bp_cmd->callback([&] {
    demo.size = *parse_size(demo_size);
    status = run_demo_command(demo);
  });

  demo_command http_demo;
  http_demo.self = demo.self;
  std::string http_demo_size = "256M";
  std::string http_demo_rate = "32M";
  CLI::App* http_bp_cmd = demo_cmd->add_subcommand(
      "http-backpressure",
      "Send a file over HTTP to a slow client twice, respecting and ignoring write(), and "
      "compare the server's peak memory");
  http_bp_cmd->add_option("FILE", http_demo.file, "File to send (default: generate one)");
  http_bp_cmd->add_option("--size", http_demo_size, "Size of the generated file (default 256M)")
      ->check(size_validator);
  http_bp_cmd
      ->add_option("--rate", http_demo_rate, "The client's read rate per second (default 32M)")
      ->check(size_validator);
  http_bp_cmd->callback([&] {
    http_demo.size = *parse_size(http_demo_size);
    http_demo.rate = std::max<std::uint64_t>(*parse_size(http_demo_rate), 1024);
    status = run_demo_http_command(http_demo);
  });

  demo_child_command child;
  std::string child_mode = "respect";
  CLI::App* child_cmd = app.add_subcommand("demo-child", "");
  child_cmd->group("");  // hidden: one measured run of the demo
  child_cmd->add_option("--mode", child_mode)->check(CLI::IsMember({"respect", "ignore"}));
  child_cmd->add_option("--in", child.input)->required();
  child_cmd->add_option("--out", child.output)->required();
  child_cmd->add_option("--level", child.level)->check(int_in(0, 9));
  child_cmd->callback([&] {
    child.respect = child_mode == "respect";
    status = run_demo_child(child);
  });

  demo_child_command http_child;
  std::string http_child_mode = "respect";
  CLI::App* http_child_cmd = app.add_subcommand("demo-http-child", "");
  http_child_cmd->group("");  // hidden: the server of one http-backpressure run
  http_child_cmd->add_option("--mode", http_child_mode)
      ->check(CLI::IsMember({"respect", "ignore"}));
  http_child_cmd->add_option("--in", http_child.input)->required();
  http_child_cmd->callback([&] {
    http_child.respect = http_child_mode == "respect";
    status = run_demo_http_child(http_child);
  });

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // --help and --version are "errors" with a success status: CLI11 prints them.
    if (e.get_exit_code() == static_cast<int>(CLI::ExitCodes::Success)) return app.exit(e);
    return usage_error(app, e, argc, argv);
  }
  return status;
}
