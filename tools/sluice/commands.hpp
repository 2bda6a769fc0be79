// tools/sluice/commands.hpp: the subcommands of `sluice`, independent of how they are parsed.
//
// main.cpp declares the options with CLI11 and calls these; each returns the process exit
// status. docs/cli.md documents them.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "stage_kinds.hpp"

namespace sluice::cli {

/// Options every data-moving subcommand has.
struct common_flags {
  bool quiet = false;    ///< --quiet: no progress bar
  bool stats = false;    ///< --stats: per-stage counters on stderr at the end
  bool monitor = false;  ///< --monitor (run only): the live per-stage view
  std::string metrics;   ///< --metrics HOST:PORT (run only): serve /metrics while running
};

/// sluice gzip|gunzip|zstd|unzstd|brotli|unbrotli [FILE] [-o OUT] [-c] [-f] [--level N]
/// [--engine zlib|isal] [--threads N] [--long[=N]] [--memory=SIZE]
struct codec_command {
  codec_kind kind = codec_kind::gzip;
  std::string input;       ///< empty or "-": stdin
  std::string output;      ///< -o; empty: derived from input (or stdout when reading stdin)
  bool to_stdout = false;  ///< -c
  bool force = false;      ///< -f: overwrite an existing output named after the input
  std::optional<int> level;
  gzip_engine_kind engine = gzip_engine_kind::zlib;
  unsigned threads = 0;  ///< --threads (gzip): 0, the default, is one per core
  int window_log = 0;    ///< --long[=N] (zstd, unzstd) or --memory (unzstd), as log2; 0: default
  common_flags flags;
};
[[nodiscard]] int run_codec_command(const codec_command& c);

/// The file name suffix of a codec's output (".gz", ".zst", ".br").
[[nodiscard]] std::string_view codec_suffix(codec_kind k) noexcept;
/// The command name of a codec ("gzip", "unzstd", ...).
[[nodiscard]] std::string_view codec_name(codec_kind k) noexcept;

/// sluice cat FILE... [-o OUT]
struct cat_command {
  std::vector<std::string> files;  ///< "-" reads stdin (only alone)
  std::string output;              ///< empty: stdout
  common_flags flags;
};
[[nodiscard]] int run_cat_command(const cat_command& c);

/// sluice copy SRC DST [--no-atomic] [--stream]: file to file in the kernel (copy_file), or through
/// streams when either end is stdin/stdout or with --stream.
struct copy_command {
  std::string source;
  std::string destination;
  bool no_atomic = false;  ///< write DST in place instead of via a temporary file
  bool stream = false;     ///< --stream: through a file reader and writer, not copy_file_range
  common_flags flags;
};
[[nodiscard]] int run_copy_command(const copy_command& c);

/// sluice run EXPRESSION
[[nodiscard]] int run_run_command(const std::string& expression, const common_flags& flags);

/// sluice fetch URL [-o FILE] [-L] [--compressed] [--timeout S]: an HTTP GET to stdout or,
/// atomically, to FILE; any HTTP error status, a cut body or the timeout fails it (exit 1).
struct fetch_command {
  std::string url;
  std::string output;       ///< -o; empty or "-": stdout
  bool follow = false;      ///< -L, --location
  bool compressed = false;  ///< --compressed: Accept-Encoding: gzip, decoded
  double timeout = 0;       ///< --timeout S: no byte for S seconds fails it; 0: none
  std::string cacert;       ///< --cacert FILE: https: trust these authorities (PEM)
  bool insecure = false;    ///< -k, --insecure: https: accept any certificate
  common_flags flags;
};
[[nodiscard]] int run_fetch_command(const fetch_command& c);

/// sluice serve [DIR] [--port N] [--host H] [--gzip] [-q] [--keep-alive S] [--idle-timeout S]
/// [--stats]
struct serve_command {
  std::string directory = ".";
  std::string host = "127.0.0.1";
  std::uint16_t port = 8080;   ///< 0: any free port (printed at start)
  bool gzip = false;           ///< gzip compressible files for clients that accept it
  bool quiet = false;          ///< no request log
  unsigned keep_alive = 5;     ///< seconds an idle keep-alive connection is kept (0: no limit)
  unsigned idle_timeout = 60;  ///< seconds an exchange may go without socket I/O (0: no limit)
  bool stats = false;          ///< at exit, print how many responses went by sendfile / by copy
};
[[nodiscard]] int run_serve_command(const serve_command& c);

/// sluice demo backpressure [--size N] [FILE]
struct demo_command {
  std::uint64_t size = 256ull << 20;  ///< bytes of text to generate when no FILE is given
  std::string file;                   ///< use this file instead of generating one
  int level = 6;                      ///< gzip level
  std::string self;                   ///< this executable, to re-run as the measured children
  std::uint64_t rate = 32ull << 20;   ///< http-backpressure: the client's read rate, bytes/s
};
[[nodiscard]] int run_demo_command(const demo_command& d);

/// sluice demo http-backpressure [--size N] [--rate N] [FILE]
[[nodiscard]] int run_demo_http_command(const demo_command& d);

/// The hidden `sluice demo-child`: one measured side of the demo, in its own process.
struct demo_child_command {
  bool respect = true;  ///< wait for 'drain' (true) or ignore write()'s return (false)
  std::string input;
  std::string output;
  int level = 6;
};
[[nodiscard]] int run_demo_child(const demo_child_command& d);
/// The hidden `sluice demo-http-child`: the server of one http-backpressure run.
[[nodiscard]] int run_demo_http_child(const demo_child_command& d);

}  // namespace sluice::cli
