// tools/sluice/static_files.hpp: the decisions of `sluice serve` (docs/cli.md, "serve"), apart
// from the HTTP server that carries them out, so they can be tested one by one:
//
//   - which file a request target names, and whether it may be served (404, 403, 400);
//   - its content type, by extension;
//   - a one-range `Range` header against the file's size (206, 416, or the whole file);
//   - HTTP dates for Last-Modified / If-Modified-Since;
//   - the log line written for each request;
//   - which answers are kept in memory between requests (static_file_cache).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <ctime>
#include <filesystem>
#include <list>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "sluice/core/buffer.hpp"

namespace sluice::cli {

/// Where a request target leads under a served directory.
struct served_path {
  int status = 200;              ///< 200: serve `file`; otherwise the error status to answer
  std::filesystem::path file{};  ///< the regular file to serve (when status is 200)
  std::string reason{};          ///< why not, for the log (when status is not 200)
  std::uint64_t size = 0;        ///< the file's size (when status is 200)
  std::time_t modified = 0;      ///< its modification time (when status is 200)
};

/// Resolves `target` (an origin-form request target such as "/docs/a%20b.txt?x=1") under `root`
/// (a canonical directory). Percent-escapes are decoded per segment; a segment that decodes to
/// "..", contains a '/' or a NUL, or a target that is not origin-form is refused (400). Symbolic
/// links are followed, but the file they lead to must lie inside `root` (403 otherwise). A
/// directory is served through its index.html (403 when it has none); what does not exist is
/// 404; anything that is not a regular file (a FIFO, a device) is 403; a file the server may not
/// read is 403.
[[nodiscard]] served_path resolve_served_path(const std::filesystem::path& root,
                                              std::string_view target);

/// The Content-Type of a file by its extension ("text/html; charset=utf-8" for .html,
/// "application/octet-stream" for anything unknown). Case-insensitive.
[[nodiscard]] std::string_view content_type_for(const std::filesystem::path& file);

/// A byte range of a file, inclusive, as in `Content-Range: bytes first-last/size`.
struct byte_range {
  std::uint64_t first = 0;
  std::uint64_t last = 0;
  [[nodiscard]] std::uint64_t length() const noexcept { return last - first + 1; }
};

/// What a Range header asks of a file of `size` bytes.
struct range_answer {
  enum class kind {
    whole,          ///< no usable Range: 200 with the whole file
    partial,        ///< 206 with `range`
    unsatisfiable,  ///< 416 with `Content-Range: bytes */size`
  };
  kind what = kind::whole;
  byte_range range{};
};

/// Interprets one `Range` header value (RFC 9110 §14): "bytes=a-b", "bytes=a-", "bytes=-n".
/// Ranges beyond the end are clipped; a first byte at or past the end is unsatisfiable. A header
/// that is malformed, in another unit, or asks for several ranges is ignored (the whole file),
/// as the RFC allows.
[[nodiscard]] range_answer parse_range(std::string_view header, std::uint64_t size);

/// `t` as an IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT".
[[nodiscard]] std::string http_date(std::time_t t);
/// Parses an IMF-fixdate (the only form a server must accept from current clients); nullopt if
/// it is not one.
[[nodiscard]] std::optional<std::time_t> parse_http_date(std::string_view s);

/// One line of the request log, in the Common Log Format:
/// `127.0.0.1 - - [05/Dec/2026:09:30:00 +0000] "GET /a.txt HTTP/1.1" 200 1234`. The request line
/// is written as received, with control characters, '"' and '\' escaped (\xNN), so a client
/// cannot forge log lines. `bytes` is the body length sent ("-" when none).
[[nodiscard]] std::string log_line(std::string_view client, std::time_t when,
                                   std::string_view method, std::string_view target,
                                   unsigned http_version, int status, std::uint64_t bytes);

/// A file resolved for a target, with what a response needs of it: kept between requests by
/// static_file_cache.
struct cached_file {
  served_path where;                    ///< status 200: `where.file` is the file to serve
  std::string last_modified;            ///< http_date(where.modified)
  std::string content_type;             ///< content_type_for(where.file)
  std::optional<sluice::buffer> bytes;  ///< the whole file, for files up to max_file_bytes
  // What the file was when it was resolved (a hit stats it and compares).
  dev_t dev = 0;
  ino_t ino = 0;
  std::int64_t mtime_ns = 0;
};

/// What `sluice serve` keeps between requests, so a small file costs one stat(2) per request
/// instead of resolving the path (realpath: a system call per component), checking it and
/// opening, reading and closing the file.
///
/// An entry maps a request target to its cached_file. A hit checks the file with one stat(2)
/// and drops the entry when its size, modification time (to the nanosecond) or inode changed,
/// or when it is gone; the target's resolution itself (symbolic links, permissions, the index of
/// a directory) is trusted for `validity` (as nginx's open_file_cache_valid), then redone. Only
/// successful resolutions are kept. Files up to `max_file_bytes` are kept with their bytes, read
/// once; at most `max_entries` entries and `max_bytes` bytes of files are held (the least
/// recently used go first). Not thread-safe: one per loop.
class static_file_cache {
 public:
  struct options {
    std::size_t max_entries = 1024;
    std::size_t max_file_bytes = 64 * 1024;
    std::size_t max_bytes = 16 * 1024 * 1024;
    std::chrono::steady_clock::duration validity = std::chrono::seconds(1);
  };

  static_file_cache(std::filesystem::path root, options o);
  explicit static_file_cache(std::filesystem::path root)
      : static_file_cache(std::move(root), options{}) {}

  /// The answer for `target`: from the cache when it is still valid, else resolved
  /// (resolve_served_path) and, if it is a file to serve, kept. Never null.
  [[nodiscard]] std::shared_ptr<const cached_file> get(std::string_view target);

  struct counts {
    std::uint64_t hits = 0;     ///< answered from an entry
    std::uint64_t misses = 0;   ///< resolved (no entry, expired or changed)
    std::uint64_t changed = 0;  ///< entries dropped because the file changed or went
  };
  [[nodiscard]] const counts& stats() const noexcept { return counts_; }
  [[nodiscard]] std::size_t size() const noexcept { return map_.size(); }
  [[nodiscard]] std::size_t bytes_held() const noexcept { return bytes_; }

 private:
  struct slot {
    std::string target;
    std::shared_ptr<const cached_file> file;
    std::chrono::steady_clock::time_point resolved_at;
  };
  std::shared_ptr<const cached_file> load(std::string_view target);
  void drop(std::list<slot>::iterator it);

  std::filesystem::path root_;
  options o_;
  std::list<slot> lru_;                                                  // most recently used first
  std::unordered_map<std::string_view, std::list<slot>::iterator> map_;  // keys view lru_'s targets
  std::size_t bytes_ = 0;
  counts counts_;
};

}  // namespace sluice::cli
