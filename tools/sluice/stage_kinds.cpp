// tools/sluice/stage_kinds.cpp: every stage kind of `sluice run`, one table entry each, with its
// parser and the build() of its options next to it.
#include "stage_kinds.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <utility>

#include "concat.hpp"
#include "db_stages.hpp"
#include "filters.hpp"
#include "messaging_stages.hpp"
#include "net_stages.hpp"
#include "record_stages.hpp"
#include "sluice/codec/brotli.hpp"
#include "sluice/codec/gzip.hpp"
#include "sluice/codec/zstd.hpp"
#include "sluice/compose/compose.hpp"
#include "sluice/io/stdio.hpp"
#include "sluice/offload/offload.hpp"

namespace sluice::cli {
namespace {

using parse_result = std::variant<std::shared_ptr<const stage_config>, syntax_error>;

// Output buffers of 64 KiB: larger than the library's 16 KiB default, fewer chunks per byte.
constexpr std::size_t codec_chunk = 64 * 1024;
// A single file is read in 256 KiB pieces: each read is a hop to the I/O pool and back, and at
// 64 KiB those hops, not the disk or the socket, bounded `read F | tcp-connect`
// (docs/benchmarks.md).
constexpr std::size_t file_read_size = 256 * 1024;

template <class C>
parse_result no_args(stage_args& args) {
  if (!args.done()) return args.unexpected(args.next());
  return std::make_shared<const C>();
}

// ---- read FILE... / write FILE [--append] [--no-atomic] -------------------------------------

parse_result parse_read(stage_args& args) {
  auto r = std::make_shared<read_stage>();
  while (!args.done()) {
    const token& t = args.next();
    if (is_option(t)) return args.unexpected(t);
    r->paths.push_back(t.text);
  }
  if (r->paths.empty()) return args.missing("FILE");
  return r;
}

parse_result parse_write(stage_args& args) {
  auto w = std::make_shared<write_stage>();
  bool have_path = false;
  while (!args.done()) {
    const token& t = args.next();
    if (is_option(t) && t.text == "--append") {
      w->append = true;
    } else if (is_option(t) && t.text == "--no-atomic") {
      w->atomic = false;
    } else if (!is_option(t) && !have_path) {
      w->path = t.text;
      have_path = true;
    } else {
      return args.unexpected(t);
    }
  }
  if (!have_path) return args.missing("FILE");
  return w;
}

// ---- gzip, gunzip, zstd, unzstd, brotli, unbrotli --------------------------------------------

struct level_range {
  int min;
  int max;
};

template <codec_kind Kind>
parse_result parse_codec(stage_args& args) {
  auto c = std::make_shared<codec_stage>();
  c->kind = Kind;
  constexpr bool compressor =
      Kind == codec_kind::gzip || Kind == codec_kind::zstd || Kind == codec_kind::brotli;
  constexpr level_range range = Kind == codec_kind::gzip   ? level_range{0, 9}
                                : Kind == codec_kind::zstd ? level_range{1, 19}
                                                           : level_range{0, 11};
  while (!args.done()) {
    const token& t = args.next();
    const std::string opt = option_name(t);
    if (compressor && is_option(t) && opt == "--level") {
      auto v = args.value_of(t);
      if (auto* e = std::get_if<syntax_error>(&v)) return *e;
      const token& val = *std::get<const token*>(v);
      auto n = parse_int(val.text);
      if (!n || *n < range.min || *n > range.max)
        return error_at(val, args.name() + ": --level must be " + std::to_string(range.min) + ".." +
                                 std::to_string(range.max) + ", not " + quote(val.text));
      c->level = static_cast<int>(*n);
    } else if ((Kind == codec_kind::gzip || Kind == codec_kind::gunzip) && is_option(t) &&
               opt == "--engine") {
      auto v = args.value_of(t);
      if (auto* e = std::get_if<syntax_error>(&v)) return *e;
      const token& val = *std::get<const token*>(v);
      if (val.text == "zlib")
        c->engine = gzip_engine_kind::zlib;
      else if (val.text == "isal")
        c->engine = gzip_engine_kind::isal;
      else
        return error_at(val,
                        args.name() + ": --engine must be zlib or isal, not " + quote(val.text));
    } else if ((Kind == codec_kind::zstd || Kind == codec_kind::unzstd) && is_option(t) &&
               opt == "--long") {
      // --long alone is --long=27, as for zstd; the value is only ever attached with '='.
      c->window_log = default_long_window_log;
      c->long_distance = Kind == codec_kind::zstd;
      if (t.text.find('=') != std::string::npos) {
        auto v = args.value_of(t);
        if (auto* e = std::get_if<syntax_error>(&v)) return *e;
        const token& val = *std::get<const token*>(v);
        auto n = parse_int(val.text);
        if (!n || *n < min_window_log || *n > max_window_log)
          return error_at(val, args.name() + ": --long must be " + std::to_string(min_window_log) +
                                   ".." + std::to_string(max_window_log) + ", not " +
                                   quote(val.text));
        c->window_log = static_cast<int>(*n);
      }
    } else if (Kind == codec_kind::unzstd && is_option(t) && opt == "--memory") {
      auto v = args.value_of(t);
      if (auto* e = std::get_if<syntax_error>(&v)) return *e;
      const token& val = *std::get<const token*>(v);
      const auto log = window_log_for_memory(val.text);
      if (!log)
        return error_at(
            val, args.name() + ": --memory must be a size of at least 1K, not " + quote(val.text));
      c->window_log = *log;
    } else if (Kind == codec_kind::gzip && is_option(t) && opt == "--threads") {
      auto v = args.value_of(t);
      if (auto* e = std::get_if<syntax_error>(&v)) return *e;
      const token& val = *std::get<const token*>(v);
      auto n = parse_int(val.text);
      if (!n || *n < 0 || *n > static_cast<long long>(max_gzip_threads))
        return error_at(val, "gzip: --threads must be 0.." + std::to_string(max_gzip_threads) +
                                 ", not " + quote(val.text));
      c->threads = static_cast<unsigned>(*n);
    } else {
      return args.unexpected(t);
    }
  }
  return c;
}

// ---- grep [-v] [-F] [-i] PATTERN --------------------------------------------------------------

parse_result parse_grep(stage_args& args) {
  auto g = std::make_shared<grep_stage>();
  const token* pattern = nullptr;
  bool options_done = false;
  while (!args.done()) {
    const token& t = args.next();
    if (!options_done && is_option(t) && t.text == "--") {
      options_done = true;
    } else if (!options_done && is_option(t) && t.text[1] != '-') {
      for (std::size_t i = 1; i < t.text.size(); ++i) {
        switch (t.text[i]) {
          case 'v':
            g->invert = true;
            break;
          case 'F':
            g->fixed = true;
            break;
          case 'i':
            g->ignore_case = true;
            break;
          default:
            return syntax_error{"grep: unknown option '-" + std::string(1, t.text[i]) + "'",
                                t.offset + i, 1};
        }
      }
    } else if ((options_done || !is_option(t)) && !pattern) {
      pattern = &t;
    } else {
      return args.unexpected(t);
    }
  }
  if (!pattern) return args.missing("PATTERN");
  g->pattern = pattern->text;
  const std::string why = check_grep_pattern({g->pattern, g->invert, g->fixed, g->ignore_case});
  if (!why.empty()) return error_at(*pattern, "grep: " + why);
  return g;
}

// ---- parallel N STAGE ...   (STAGE: grep) ---------------------------------------------------

parse_result parse_parallel(stage_args& args) {
  if (args.done()) return args.missing("a number of threads");
  const token& n = args.next();
  const auto threads = is_option(n) ? std::nullopt : parse_size(n.text);
  if (!threads || *threads == 0 || *threads > 64)
    return error_at(n, "parallel: the number of threads must be 1 to 64, not " + quote(n.text));
  if (args.done()) return args.missing("a stage to run in parallel (grep)");
  const token& inner = args.next();
  if (inner.text != "grep")
    return error_at(inner,
                    "parallel: only grep runs in parallel (each chunk of whole lines on "
                    "its own), not " +
                        quote(inner.text));
  auto g = parse_grep(args);
  if (auto* e = std::get_if<syntax_error>(&g)) return *e;
  auto p = std::make_shared<parallel_grep_stage>();
  p->threads = static_cast<unsigned>(*threads);
  p->grep = dynamic_cast<const grep_stage&>(*std::get<std::shared_ptr<const stage_config>>(g));
  return p;
}

// ---- head [N] | head -n N | head -c N   (N may carry a K/M/G suffix) -------------------------

parse_result parse_head(stage_args& args) {
  auto h = std::make_shared<head_stage>();
  bool have_count = false;
  while (!args.done()) {
    const token& t = args.next();
    const token* val = &t;            // the token holding the count (errors point at it)
    std::string_view count = t.text;  // the count's text in it
    if (is_option(t) && !have_count && std::isdigit(static_cast<unsigned char>(t.text[1])) != 0) {
      count.remove_prefix(1);  // head -5, as head(1) takes it: the first 5 lines
      h->bytes = false;
    } else if (is_option(t) && (t.text == "-c" || t.text == "-n")) {
      if (args.done()) return error_at(t, "head: " + t.text + " needs a count");
      h->bytes = t.text == "-c";
      val = &args.next();
      count = val->text;
    } else if (is_option(t) || have_count) {
      return args.unexpected(t);
    }
    auto n = parse_size(count);
    if (!n) return error_at(*val, "head: not a count: " + quote(val->text));
    h->count = *n;
    have_count = true;
  }
  return h;
}

// ---- count [-l] [-c] ----------------------------------------------------------------------

parse_result parse_count(stage_args& args) {
  auto c = std::make_shared<count_stage>();
  while (!args.done()) {
    const token& t = args.next();
    if (is_option(t) && t.text == "-c")
      c->bytes = true;
    else if (is_option(t) && t.text == "-l")
      c->bytes = false;
    else
      return args.unexpected(t);
  }
  return c;
}

// ---- throttle RATE   (bytes per second; K/M/G suffixes) --------------------------------------

parse_result parse_throttle(stage_args& args) {
  auto t = std::make_shared<throttle_stage>();
  if (args.done()) return args.missing("RATE");
  const token& rate = args.next();
  const auto n = is_option(rate) ? std::nullopt : parse_size(rate.text);
  if (!n || *n == 0)
    return error_at(rate, "throttle: not a rate in bytes per second: " + quote(rate.text) +
                              " (examples: 500K, 10M)");
  t->bytes_per_second = *n;
  if (!args.done()) return args.unexpected(args.next());
  return t;
}

// ---- The table --------------------------------------------------------------------------------

constexpr std::array kinds{
    stage_kind{"read", "FILE...", "read the files, one after another (first stage only)",
               stage_role::source, parse_read},
    stage_kind{"write", "[--append] [--no-atomic] FILE",
               "write FILE, atomically unless --append/--no-atomic (last stage only)",
               stage_role::sink, parse_write},
    stage_kind{"stdin", "", "read stdin (the default first stage)", stage_role::source,
               no_args<stdin_stage>},
    stage_kind{"stdout", "", "write stdout (the default last stage)", stage_role::sink,
               no_args<stdout_stage>},
    stage_kind{"gzip", "[--level N] [--engine zlib|isal] [--threads N]",
               "compress with gzip (level 0..9; threads 0: one per core)", stage_role::filter,
               parse_codec<codec_kind::gzip>},
    stage_kind{"gunzip", "[--engine zlib|isal]", "decompress gzip (any number of members)",
               stage_role::filter, parse_codec<codec_kind::gunzip>},
    stage_kind{"zstd", "[--level N] [--long[=N]]",
               "compress with Zstandard (level 1..19; --long: 2^N window, default 27)",
               stage_role::filter, parse_codec<codec_kind::zstd>},
    stage_kind{"unzstd", "[--long[=N]] [--memory=SIZE]",
               "decompress Zstandard (windows up to 2^N or SIZE; default 128M)", stage_role::filter,
               parse_codec<codec_kind::unzstd>},
    stage_kind{"brotli", "[--level N]", "compress with Brotli (quality 0..11)", stage_role::filter,
               parse_codec<codec_kind::brotli>},
    stage_kind{"unbrotli", "", "decompress Brotli", stage_role::filter,
               parse_codec<codec_kind::unbrotli>},
    stage_kind{"lines", "", "re-chunk so that every chunk holds whole lines", stage_role::filter,
               no_args<lines_stage>},
    stage_kind{"grep", "[-v] [-F] [-i] PATTERN",
               "keep matching lines (RE2 regex; -F substring, -v the others, -i any case)",
               stage_role::filter, parse_grep},
    stage_kind{"head", "[N] | -N | -n N | -c N",
               "the first N lines (default 10) or bytes, then stop reading", stage_role::filter,
               parse_head},
    stage_kind{"throttle", "RATE",
               "pass at most RATE bytes a second (500K, 10M), as pv -L: the stages before slow "
               "down to it",
               stage_role::filter, parse_throttle},
    stage_kind{"parallel", "N grep [-v] [-F] [-i] PATTERN",
               "grep on N threads: chunks of whole lines filtered side by side, kept lines in "
               "order",
               stage_role::filter, parse_parallel},
    stage_kind{"count", "[-l] [-c]", "one line: the number of lines (or of bytes, -c)",
               stage_role::filter, parse_count},
    stage_kind{"tcp-listen", "[HOST:]PORT [--timeout S]",
               "accept one TCP connection and read it (source; port 0: any, printed); a peer "
               "silent for S seconds (default 30; 0: none) fails it",
               stage_role::source, parse_tcp_listen},
    stage_kind{"tcp-connect", "HOST:PORT [--timeout S]",
               "connect over TCP: read it when first, write it when last; a peer that "
               "acknowledges nothing for S seconds (default 30; 0: none) fails it",
               stage_role::endpoint, parse_tcp_connect},
    stage_kind{"unix-connect", "PATH",
               "connect to a Unix socket: read it when first, write it when last",
               stage_role::endpoint, parse_unix_connect},
    stage_kind{"http-get", "URL", "the body of a GET (source; an HTTP error status fails)",
               stage_role::source, parse_http_get},
    stage_kind{"http-post", "URL",
               "POST the data as the request body (sink; an HTTP error status fails)",
               stage_role::sink, parse_http_post},
    stage_kind{"csv", "[--header] [--sep C] [--ragged] [--skip-bad]",
               "CSV (RFC 4180) to records; --header: the first line names the columns; "
               "--skip-bad: report and skip records with a wrong field count",
               stage_role::record_parser, parse_csv_stage},
    stage_kind{"jsonl", "[--nested-as-text] [--skip-bad]",
               "JSON lines (an object or array per line) to records; --skip-bad: report and "
               "skip lines that are not rows",
               stage_role::record_parser, parse_jsonl_stage},
    stage_kind{"to-csv", "[--header] [--sep C]", "records to CSV; --header: a line of column names",
               stage_role::record_formatter, parse_to_csv_stage},
    stage_kind{"to-jsonl", "", "records to JSON lines (objects by column name, else arrays)",
               stage_role::record_formatter, parse_to_jsonl_stage},
    stage_kind{"sqlite", "FILE TABLE [--create] [--batch N] [--restart N]",
               "records into a SQLite table, a transaction per batch (sink; --create: make it; "
               "--restart N: a new writer when locked or unopenable, up to N a minute)",
               stage_role::record_sink, parse_sqlite_stage},
    stage_kind{"sqlite-query", "FILE SQL", "the rows of a SQLite query as records (source)",
               stage_role::record_source, parse_sqlite_query_stage},
    stage_kind{"pg", "CONNINFO TABLE [--batch N] [--binary] [--connections N] [--restart N]",
               "records into a PostgreSQL table by COPY, a COPY per batch, batches on 2 "
               "connections unless --connections says otherwise (sink; --restart N: reconnect "
               "when the connection is lost, up to N times a minute)",
               stage_role::record_sink, parse_pg_stage},
    stage_kind{"pg-query", "CONNINFO SQL", "the rows of a PostgreSQL query as records (source)",
               stage_role::record_source, parse_pg_query_stage},
    stage_kind{"nats-pub", "URL SUBJECT [--stream NAME] [--replicas N] [--max-pending N]",
               "publish a NATS JetStream message per line; a write is done once the server "
               "stored its lines (sink; --stream: create the stream for SUBJECT when missing)",
               stage_role::sink, parse_nats_pub},
    stage_kind{"nats-sub",
               "URL STREAM CONSUMER [--count N] [--idle S] [--ack-wait S] "
               "[--max-ack-pending N]",
               "a line per message of a durable JetStream consumer (created when missing), "
               "acknowledged once the sink has it (source; --count, --idle: end)",
               stage_role::source, parse_nats_sub},
};

}  // namespace

// ---- build(): each kind's stream ------------------------------------------------------------

byte_stage read_stage::build(build_context& ctx) const {
  if (paths.size() != 1) return {std::make_shared<concat_reader>(ctx.loop, paths), ctx.name};
  // A file that changes size while it is read fails the command, as with gzip.
  auto r = make_file_reader(
      ctx.loop, paths.front(),
      {.high_water_mark = file_read_size, .name = paths.front(), .fail_if_changed = true});
  ctx.source_file = r;
  return {r, ctx.name};
}

byte_stage write_stage::build(build_context& ctx) const {
  file_writer_options o;
  o.flags = append ? open_mode::append : open_mode::truncate;
  o.atomic = atomic && !append;
  o.name = path;
  if (!metadata_from.empty()) o.metadata_from = metadata_from;
  return {make_file_writer(ctx.loop, path, o), ctx.name};
}

byte_stage stdin_stage::build(build_context& ctx) const { return {make_stdin(ctx.loop), ctx.name}; }

byte_stage stdout_stage::build(build_context& ctx) const {
  return {make_stdout(ctx.loop), ctx.name};
}

byte_stage codec_stage::build(build_context& ctx) const {
  sluice::loop& l = ctx.loop;
  const gzip_engine e = engine == gzip_engine_kind::isal ? gzip_engine::isal : gzip_engine::zlib;
  switch (kind) {
    case codec_kind::gzip: {
      gzip_options o;
      o.level = level.value_or(-1);
      o.chunk_size = codec_chunk;
      o.engine = e;
      o.threads = threads;
      return {make_gzip(l, o), ctx.name};
    }
    case codec_kind::gunzip: {
      zlib_options o;
      o.chunk_size = codec_chunk;
      return {make_gunzip(l, o, e), ctx.name};
    }
    case codec_kind::zstd: {
      zstd_options o;
      o.level = level.value_or(3);
      o.window_log = window_log;
      o.long_distance = long_distance;
      o.chunk_size = codec_chunk;
      return {make_zstd_compress(l, o), ctx.name};
    }
    case codec_kind::unzstd: {
      zstd_options o;
      o.window_log = window_log;
      o.chunk_size = codec_chunk;
      return {make_zstd_decompress(l, o), ctx.name};
    }
    case codec_kind::brotli: {
      brotli_options o;
      o.quality = level.value_or(11);
      o.chunk_size = codec_chunk;
      return {make_brotli_compress(l, o), ctx.name};
    }
    case codec_kind::unbrotli: {
      brotli_options o;
      o.chunk_size = codec_chunk;
      return {make_brotli_decompress(l, o), ctx.name};
    }
  }
  throw std::invalid_argument("unknown codec");
}

byte_stage lines_stage::build(build_context& ctx) const {
  return {std::make_shared<line_splitter>(ctx.loop), ctx.name};
}

byte_stage parallel_grep_stage::build(build_context& ctx) const {
  // Whole lines per chunk, then each chunk on a thread: a chunk's kept lines depend on that
  // chunk alone. The matcher is shared by the threads (immutable; RE2 is thread-safe).
  auto matcher = std::make_shared<const grep_matcher>(
      grep_options{grep.pattern, grep.invert, grep.fixed, grep.ignore_case});
  auto filter = offload<buffer>(ctx.loop,
                                [matcher](const buffer& chunk) {
                                  std::string out;
                                  (void)matcher->filter(chunk.view(), out);
                                  return buffer(std::move(out));
                                },
                                {.threads = threads,
                                 .max_in_flight = 2 * static_cast<std::size_t>(threads),
                                 .name = ctx.name});
  return {compose(std::make_shared<line_splitter>(ctx.loop), filter), ctx.name};
}

byte_stage throttle_stage::build(build_context& ctx) const {
  return {std::make_shared<rate_limiter>(ctx.loop, bytes_per_second), ctx.name};
}

byte_stage grep_stage::build(build_context& ctx) const {
  grep_options g{pattern, invert, fixed, ignore_case};
  return {std::make_shared<grep_filter>(ctx.loop, std::move(g)), ctx.name};
}

byte_stage head_stage::build(build_context& ctx) const {
  // Once it has enough, head ends the pipeline before itself: what is upstream stops reading.
  head_filter::options h{count, bytes, [p = ctx.pipeline, stage = ctx.index + 1] {
                           if (p) p->stop_before(stage);
                         }};
  return {std::make_shared<head_filter>(ctx.loop, std::move(h)), ctx.name};
}

byte_stage count_stage::build(build_context& ctx) const {
  return {std::make_shared<line_counter>(ctx.loop, bytes), ctx.name};
}

// ---- zstd windows ---------------------------------------------------------------------------

std::optional<int> window_log_for_memory(std::string_view size) {
  const auto n = parse_size(size);
  if (!n || *n < (std::uint64_t{1} << min_window_log)) return std::nullopt;
  int log = min_window_log;
  while (log < max_window_log && (std::uint64_t{1} << (log + 1)) <= *n) ++log;
  return log;
}

// ---- The table's readers ----------------------------------------------------------------------

std::span<const stage_kind> stage_kinds() noexcept { return kinds; }

const stage_kind* find_stage_kind(std::string_view name) noexcept {
  auto it =
      std::find_if(kinds.begin(), kinds.end(), [&](const stage_kind& k) { return k.name == name; });
  return it == kinds.end() ? nullptr : &*it;
}

std::string stage_names() {
  std::string out;
  for (const auto& k : kinds) {
    if (!out.empty()) out += ", ";
    out += k.name;
  }
  return out;
}

std::string stage_help() {
  constexpr std::size_t help_column = 26;
  std::string out;
  for (const auto& k : kinds) {
    std::string left = "  " + std::string(k.name);
    if (!k.synopsis.empty()) left += " " + std::string(k.synopsis);
    out += left;
    if (left.size() + 1 > help_column) {
      out += "\n";
      out.append(help_column, ' ');
    } else {
      out.append(help_column - left.size(), ' ');
    }
    out += k.help;
    out += "\n";
  }
  return out;
}

}  // namespace sluice::cli
