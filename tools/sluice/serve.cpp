// tools/sluice/serve.cpp: `sluice serve`, a static file server on sluice's HTTP server.
//
// Each GET sends the requested byte range with http_response::send_file (sendfile(2)); with
// --gzip it pipes a file_reader (the range) into the response instead. Small files (64 KiB at
// most) come from memory: static_file_cache keeps them, checked with one stat(2) per request
// (static_files.hpp). Either way a
// slow client holds the reader back and the server's memory stays at a highWaterMark or two per
// connection whatever the file sizes. The decisions (which file, which range, which type,
// which date) are in static_files.cpp; this file wires them to the server, logs each request
// and stops on SIGINT/SIGTERM.
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <csignal>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>

#include "commands.hpp"
#include "sluice/compose/pipeline.hpp"
#include "sluice/core/asio_loop.hpp"
#include "sluice/http/server.hpp"
#include "sluice/io/file.hpp"
#include "static_files.hpp"

namespace sluice::cli {
namespace {

namespace fs = std::filesystem;

const char* reason_of(int status) {
  switch (status) {
    case 400:
      return "Bad Request";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 416:
      return "Range Not Satisfiable";
    default:
      return "Error";
  }
}

// The client's address without its port: "127.0.0.1:5000" -> "127.0.0.1", "[::1]:5000" -> "::1".
std::string client_address(const std::string& remote) {
  std::string a = remote;
  const auto colon = a.rfind(':');
  if (colon != std::string::npos && a.find(':') != colon) {  // IPv6: "[addr]:port"
    if (a.front() == '[') a = a.substr(1, a.rfind(']') - 1);
  } else if (colon != std::string::npos) {
    a.resize(colon);
  }
  return a;
}

class file_server {
 public:
  file_server(asio_loop& l, fs::path root, bool log)
      : loop_(l), log_(log), cache_(std::move(root)) {}

  void handle(const std::shared_ptr<http_request>& req, const std::shared_ptr<http_response>& res) {
    if (log_) {
      // Logged when the response is done, with what was sent, or when it failed. The listener
      // holds the response weakly: it is one of the response's own listeners.
      auto line = [client = client_address(req->remote()), method = req->method(),
                   target = req->target(), version = req->version(),
                   weak = std::weak_ptr<http_response>(res), logged = false]() mutable {
        const auto r = weak.lock();
        if (logged || !r) return;
        logged = true;
        const std::string l = log_line(
            client, std::time(nullptr), method, target, version, static_cast<int>(r->status()),
            method == "HEAD"                       ? 0
            : r->finished() && r->content_length() ? *r->content_length()
                                                   : r->counters().bytes_in);
        std::fprintf(stderr, "%s\n", l.c_str());
      };
      auto shared = std::make_shared<decltype(line)>(std::move(line));
      res->on_finish([shared] { (*shared)(); });
      res->on_close([shared] { (*shared)(); });
    }
    if (req->method() != "GET" && req->method() != "HEAD") {
      res->set_header("Allow", "GET, HEAD");
      return send_error(res, 405);
    }
    const auto cached = cache_.get(req->target());
    const served_path& where = cached->where;
    if (where.status != 200) return send_error(res, where.status);
    const std::uint64_t size = where.size;
    const std::string& modified = cached->last_modified;
    res->set_header("Content-Type", cached->content_type);
    res->set_header("Last-Modified", modified);
    res->set_header("Accept-Ranges", "bytes");
    if (const auto ims = req->headers().get("If-Modified-Since")) {
      const auto since = parse_http_date(*ims);
      if (since && where.modified <= *since) {
        res->set_status(304);
        res->set_compress(false);
        res->end();
        return;
      }
    }
    range_answer range;
    if (const auto r = req->headers().get("Range")) {
      const auto if_range = req->headers().get("If-Range");
      if (!if_range || *if_range == modified) range = parse_range(*r, size);
    }
    std::uint64_t first = 0;
    std::uint64_t length = size;
    if (range.what == range_answer::kind::unsatisfiable) {
      res->set_header("Content-Range", "bytes */" + std::to_string(size));
      return send_error(res, 416);
    }
    if (range.what == range_answer::kind::partial) {
      first = range.range.first;
      length = range.range.length();
      res->set_status(206);
      res->set_compress(false);  // a range of the file, not of its gzip
      res->set_header("Content-Range", "bytes " + std::to_string(range.range.first) + "-" +
                                           std::to_string(range.range.last) + "/" +
                                           std::to_string(size));
    }
    if (!res->compress()) res->set_content_length(length);
    if (req->method() == "HEAD" || length == 0) {
      res->end();
      return;
    }
    if (cached->bytes && !res->compress()) {
      // A small file, kept in memory by the cache (checked with one stat(2) just now).
      ++stats_.memory_responses;
      stats_.memory_bytes += length;
      res->end(
          cached->bytes->slice(static_cast<std::size_t>(first), static_cast<std::size_t>(length)));
      return;
    }
    if (!res->compress()) {
      // The bytes as they are: sendfile(2) from the page cache to the socket (small files go
      // with the head in one write). Opened here, so a file removed since it was resolved is a
      // 404 like any other.
      http_file_body body{.path = where.file.string(), .offset = first, .length = length};
      const auto e = res->send_file(body, [this](std::error_code, http_file_sent s) {
        if (s.bytes_by_sendfile > 0) {
          ++stats_.sendfile_responses;
        } else if (s.bytes_by_copy > 0) {
          ++stats_.copy_responses;
        }
        stats_.sendfile_bytes += s.bytes_by_sendfile;
        stats_.copy_bytes += s.bytes_by_copy;
      });
      if (e) send_error(res, 404);
      return;
    }
    file_reader_options ro;
    ro.start = first;
    ro.end = first + length - 1;
    auto reader = make_file_reader(loop_, where.file, ro);
    // A read that fails half-way (the file was removed or shrunk) destroys the response, and
    // the server resets the connection: the client sees a short body, never a short success.
    res->once_finish([this, weak = std::weak_ptr<http_response>(res)] {
      if (auto r = weak.lock(); r && r->counters().bytes_in > 0) {
        ++stats_.copy_responses;
        stats_.copy_bytes += r->counters().bytes_in;
      }
    });
    pipeline(reader, res, [](std::error_code) {});
  }

  struct path_stats {
    std::uint64_t sendfile_responses = 0, sendfile_bytes = 0;
    std::uint64_t copy_responses = 0, copy_bytes = 0;
    std::uint64_t memory_responses = 0, memory_bytes = 0;
  };
  [[nodiscard]] const path_stats& stats() const noexcept { return stats_; }

 private:
  static void send_error(const std::shared_ptr<http_response>& res, int status) {
    const std::string body = std::to_string(status) + " " + reason_of(status) + "\n";
    res->set_status(static_cast<unsigned>(status));
    res->set_compress(false);
    res->set_header("Content-Type", "text/plain; charset=utf-8");
    res->set_content_length(body.size());
    res->end(buffer(std::string(body)));
  }

  asio_loop& loop_;
  bool log_;
  static_file_cache cache_;
  path_stats stats_;
};

}  // namespace

int run_serve_command(const serve_command& c) {
  // stderr fully buffered (before any output on it, as setvbuf requires): see the flusher below.
  std::setvbuf(stderr, nullptr, _IOFBF, 64 * 1024);
  std::error_code ec;
  const fs::path root = fs::canonical(c.directory.empty() ? "." : c.directory, ec);
  if (ec || !fs::is_directory(root)) {
    std::fprintf(stderr, "sluice: serve: '%s': %s\n", c.directory.c_str(),
                 ec ? ec.message().c_str() : "Not a directory");
    return 2;
  }
  boost::asio::io_context io;
  asio_loop loop(io);
  auto files = std::make_shared<file_server>(loop, root, !c.quiet);
  http_server_options o;
  o.gzip = c.gzip;
  o.keep_alive_timeout = std::chrono::seconds(c.keep_alive);
  o.idle_timeout = std::chrono::seconds(c.idle_timeout);
  auto server = make_http_server(
      loop, o, [files](std::shared_ptr<http_request> req, std::shared_ptr<http_response> res) {
        files->handle(req, res);
      });
  if (auto e = server->listen(c.host, c.port)) {
    std::fprintf(stderr, "sluice: serve: listen %s:%u: %s\n", c.host.c_str(), c.port,
                 e.message().c_str());
    return 1;
  }
  const bool v6 = c.host.find(':') != std::string::npos;
  std::fprintf(stderr, "sluice: serving %s at http://%s%s%s:%u/\n", root.c_str(), v6 ? "[" : "",
               c.host.c_str(), v6 ? "]" : "", server->port());
  std::fflush(stderr);
  // SIGINT and SIGTERM are how a server is stopped: it stops accepting, lets the responses in
  // progress finish and exits 0.
  // The request log is buffered (a write(2) per request cost more than the request): flushed
  // every 100 ms, when 64 KiB are pending (stdio's buffer) and at exit.
  boost::asio::steady_timer flusher(io);
  std::function<void()> arm = [&] {
    flusher.expires_after(std::chrono::milliseconds(100));
    flusher.async_wait([&](const boost::system::error_code& e) {
      std::fflush(stderr);
      if (!e) arm();
    });
  };
  if (!c.quiet) arm();
  boost::asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](const boost::system::error_code& e, int) {
    if (e) return;
    server->close([&](std::error_code) {
      signals.cancel();
      flusher.cancel();
    });
  });
  io.run();
  std::fflush(stderr);
  if (c.stats) {
    const auto& s = files->stats();
    std::fprintf(stderr,
                 "sluice: serve: %llu responses by sendfile (%llu bytes), %llu by read/write "
                 "(%llu bytes), %llu from memory (%llu bytes)\n",
                 static_cast<unsigned long long>(s.sendfile_responses),
                 static_cast<unsigned long long>(s.sendfile_bytes),
                 static_cast<unsigned long long>(s.copy_responses),
                 static_cast<unsigned long long>(s.copy_bytes),
                 static_cast<unsigned long long>(s.memory_responses),
                 static_cast<unsigned long long>(s.memory_bytes));
  }
  return 0;
}

}  // namespace sluice::cli
