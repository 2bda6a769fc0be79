// The decisions of `sluice serve`: paths, types, ranges, dates and log lines.
#include "static_files.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <boost/url/parse.hpp>
#include <boost/url/src.hpp>  // Boost.URL, header-only: compiled in this one source
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <utility>

namespace sluice::cli {

namespace fs = std::filesystem;

namespace {

served_path refuse(int status, std::string reason) { return {status, {}, std::move(reason)}; }

// True if `p` (canonical) is `root` (canonical) or lies under it.
bool inside(const fs::path& p, const fs::path& root) {
  auto [r, q] = std::mismatch(root.begin(), root.end(), p.begin(), p.end());
  return r == root.end();
}

// The answer for an existing path `p` (already known to be inside the root).
served_path serve_existing(const fs::path& p, const fs::path& root) {
  struct stat st {};
  if (::stat(p.c_str(), &st) != 0) return refuse(404, "not found");
  if (S_ISDIR(st.st_mode)) {
    const fs::path index = p / "index.html";
    std::error_code ec;
    const fs::path real = fs::canonical(index, ec);
    if (ec) return refuse(403, "directory without index.html");
    if (!inside(real, root)) return refuse(403, "outside the served directory");
    if (::stat(real.c_str(), &st) != 0 || !S_ISREG(st.st_mode))
      return refuse(403, "directory without index.html");
    if (::access(real.c_str(), R_OK) != 0) return refuse(403, "not readable");
    return {200, real, {}, static_cast<std::uint64_t>(st.st_size), st.st_mtime};
  }
  if (!S_ISREG(st.st_mode)) return refuse(403, "not a regular file");
  if (::access(p.c_str(), R_OK) != 0) return refuse(403, "not readable");
  return {200, p, {}, static_cast<std::uint64_t>(st.st_size), st.st_mtime};
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

std::optional<std::uint64_t> parse_u64(std::string_view s) {
  if (s.empty()) return std::nullopt;
  std::uint64_t v = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
  return v;
}

constexpr std::array<const char*, 7> day_names = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
constexpr std::array<const char*, 12> month_names = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                     "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

}  // namespace

served_path resolve_served_path(const fs::path& root, std::string_view target) {
  const auto parsed = boost::urls::parse_origin_form(target);
  if (!parsed) return refuse(400, "not an origin-form target");
  fs::path p = root;
  for (const std::string& seg : parsed->segments()) {
    if (seg.empty() || seg == ".") continue;
    if (seg == ".." || seg.find('/') != std::string::npos || seg.find('\0') != std::string::npos)
      return refuse(400, "bad path segment");
    p /= seg;
  }
  std::error_code ec;
  const fs::path real = fs::canonical(p, ec);
  if (ec) {
    if (ec == std::errc::permission_denied) return refuse(403, "not readable");
    return refuse(404, "not found");
  }
  if (!inside(real, root)) return refuse(403, "outside the served directory");
  return serve_existing(real, root);
}

std::string_view content_type_for(const fs::path& file) {
  // The types a browser needs to render a site correctly; everything else is a download.
  static constexpr std::array<std::pair<std::string_view, std::string_view>, 30> types = {{
      {".html", "text/html; charset=utf-8"},
      {".htm", "text/html; charset=utf-8"},
      {".css", "text/css; charset=utf-8"},
      {".js", "text/javascript; charset=utf-8"},
      {".mjs", "text/javascript; charset=utf-8"},
      {".json", "application/json"},
      {".txt", "text/plain; charset=utf-8"},
      {".md", "text/markdown; charset=utf-8"},
      {".csv", "text/csv; charset=utf-8"},
      {".xml", "application/xml"},
      {".svg", "image/svg+xml"},
      {".png", "image/png"},
      {".jpg", "image/jpeg"},
      {".jpeg", "image/jpeg"},
      {".gif", "image/gif"},
      {".webp", "image/webp"},
      {".ico", "image/vnd.microsoft.icon"},
      {".avif", "image/avif"},
      {".woff", "font/woff"},
      {".woff2", "font/woff2"},
      {".wasm", "application/wasm"},
      {".pdf", "application/pdf"},
      {".mp4", "video/mp4"},
      {".webm", "video/webm"},
      {".mp3", "audio/mpeg"},
      {".gz", "application/gzip"},
      {".zst", "application/zstd"},
      {".br", "application/x-brotli"},
      {".zip", "application/zip"},
      {".tar", "application/x-tar"},
  }};
  const std::string ext = file.extension().string();
  for (const auto& [e, type] : types)
    if (iequals(e, ext)) return type;
  return "application/octet-stream";
}

range_answer parse_range(std::string_view header, std::uint64_t size) {
  header = trim(header);
  constexpr std::string_view unit = "bytes=";
  if (header.size() < unit.size() || !iequals(header.substr(0, unit.size()), unit)) return {};
  const std::string_view spec = trim(header.substr(unit.size()));
  if (spec.find(',') != std::string_view::npos) return {};  // several ranges: whole file
  const auto dash = spec.find('-');
  if (dash == std::string_view::npos) return {};
  const std::string_view a = trim(spec.substr(0, dash));
  const std::string_view b = trim(spec.substr(dash + 1));
  range_answer unsat{range_answer::kind::unsatisfiable, {}};
  if (a.empty()) {  // suffix: the last n bytes
    const auto n = parse_u64(b);
    if (!n) return {};
    if (*n == 0 || size == 0) return unsat;
    const std::uint64_t len = std::min(*n, size);
    return {range_answer::kind::partial, {size - len, size - 1}};
  }
  const auto first = parse_u64(a);
  if (!first) return {};
  std::uint64_t last = size == 0 ? 0 : size - 1;
  if (!b.empty()) {
    const auto l = parse_u64(b);
    if (!l || *l < *first) return {};
    last = std::min(*l, last);
  }
  if (*first >= size) return unsat;
  return {range_answer::kind::partial, {*first, last}};
}

std::string http_date(std::time_t t) {
  std::tm tm{};
  ::gmtime_r(&t, &tm);
  char out[40];
  std::snprintf(out, sizeof out, "%s, %02d %s %04d %02d:%02d:%02d GMT",
                day_names[static_cast<std::size_t>(tm.tm_wday)], tm.tm_mday,
                month_names[static_cast<std::size_t>(tm.tm_mon)], tm.tm_year + 1900, tm.tm_hour,
                tm.tm_min, tm.tm_sec);
  return out;
}

std::optional<std::time_t> parse_http_date(std::string_view s) {
  // "Sun, 06 Nov 1994 08:49:37 GMT": fixed width, 29 characters.
  if (s.size() != 29 || s[3] != ',' || s[4] != ' ' || s.substr(25) != " GMT") return std::nullopt;
  const auto num = [&](std::size_t at, std::size_t n) -> std::optional<int> {
    int v = 0;
    const auto [end, ec] = std::from_chars(s.data() + at, s.data() + at + n, v);
    if (ec != std::errc() || end != s.data() + at + n) return std::nullopt;
    return v;
  };
  std::tm tm{};
  const auto day = num(5, 2), year = num(12, 4), h = num(17, 2), m = num(20, 2), sec = num(23, 2);
  if (!day || !year || !h || !m || !sec || s[16] != ' ' || s[19] != ':' || s[22] != ':')
    return std::nullopt;
  const std::string_view mon = s.substr(8, 3);
  const auto it = std::find(month_names.begin(), month_names.end(), mon);
  if (it == month_names.end()) return std::nullopt;
  tm.tm_mday = *day;
  tm.tm_mon = static_cast<int>(it - month_names.begin());
  tm.tm_year = *year - 1900;
  tm.tm_hour = *h;
  tm.tm_min = *m;
  tm.tm_sec = *sec;
  if (*day < 1 || *day > 31 || *h > 23 || *m > 59 || *sec > 60) return std::nullopt;
  return ::timegm(&tm);
}

std::string log_line(std::string_view client, std::time_t when, std::string_view method,
                     std::string_view target, unsigned http_version, int status,
                     std::uint64_t bytes) {
  std::tm tm{};
  ::gmtime_r(&when, &tm);
  char stamp[40];
  std::snprintf(stamp, sizeof stamp, "%02d/%s/%04d:%02d:%02d:%02d +0000", tm.tm_mday,
                month_names[static_cast<std::size_t>(tm.tm_mon)], tm.tm_year + 1900, tm.tm_hour,
                tm.tm_min, tm.tm_sec);
  std::string request;
  const auto add_escaped = [&request](std::string_view part) {
    for (const char c : part) {
      const auto u = static_cast<unsigned char>(c);
      if (u < 0x20 || u >= 0x7f || c == '"' || c == '\\') {
        char hex[5];
        std::snprintf(hex, sizeof hex, "\\x%02x", u);
        request += hex;
      } else {
        request += c;
      }
    }
  };
  add_escaped(method);
  request += ' ';
  add_escaped(target);
  char version[24];
  std::snprintf(version, sizeof version, " HTTP/%u.%u", http_version / 10, http_version % 10);
  request += version;
  std::string line(client);
  line.append(" - - [").append(stamp).append("] \"").append(request).append("\" ");
  line.append(std::to_string(status)).append(" ");
  line.append(bytes == 0 ? std::string("-") : std::to_string(bytes));
  return line;
}

namespace {

std::int64_t mtime_ns(const struct stat& st) {
  return static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec;
}

// The whole of a small file, or nullopt when it cannot be read as it was seen (it changed size).
std::optional<sluice::buffer> read_small_file(const fs::path& file, std::uint64_t size) {
  const int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::nullopt;
  std::string bytes(static_cast<std::size_t>(size), '\0');
  std::size_t got = 0;
  while (got < bytes.size()) {
    const ssize_t n = ::pread(fd, bytes.data() + got, bytes.size() - got, static_cast<off_t>(got));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    got += static_cast<std::size_t>(n);
  }
  ::close(fd);
  if (got != bytes.size()) return std::nullopt;
  return sluice::buffer(std::move(bytes));
}

}  // namespace

static_file_cache::static_file_cache(fs::path root, options o) : root_(std::move(root)), o_(o) {}

std::shared_ptr<const cached_file> static_file_cache::get(std::string_view target) {
  if (const auto it = map_.find(target); it != map_.end()) {
    const auto s = it->second;
    const cached_file& f = *s->file;
    struct stat st {};
    const bool fresh = std::chrono::steady_clock::now() - s->resolved_at < o_.validity;
    const bool same = ::stat(f.where.file.c_str(), &st) == 0 && st.st_dev == f.dev &&
                      st.st_ino == f.ino && mtime_ns(st) == f.mtime_ns &&
                      static_cast<std::uint64_t>(st.st_size) == f.where.size;
    if (fresh && same) {
      ++counts_.hits;
      lru_.splice(lru_.begin(), lru_, s);
      return s->file;
    }
    if (!same) ++counts_.changed;
    drop(s);
  }
  ++counts_.misses;
  return load(target);
}

std::shared_ptr<const cached_file> static_file_cache::load(std::string_view target) {
  auto f = std::make_shared<cached_file>();
  f->where = resolve_served_path(root_, target);
  if (f->where.status != 200) return f;
  struct stat st {};
  if (::stat(f->where.file.c_str(), &st) != 0) return f;  // gone since: served (or not) as is
  f->dev = st.st_dev;
  f->ino = st.st_ino;
  f->mtime_ns = mtime_ns(st);
  f->where.size = static_cast<std::uint64_t>(st.st_size);
  f->where.modified = st.st_mtime;
  f->last_modified = http_date(f->where.modified);
  f->content_type = std::string(content_type_for(f->where.file));
  if (f->where.size <= o_.max_file_bytes && f->where.size <= o_.max_bytes)
    f->bytes = read_small_file(f->where.file, f->where.size);
  if (o_.max_entries == 0) return f;
  const std::size_t held = f->bytes ? f->bytes->size() : 0;
  while (!lru_.empty() && (map_.size() >= o_.max_entries || bytes_ + held > o_.max_bytes))
    drop(std::prev(lru_.end()));
  lru_.push_front(slot{std::string(target), f, std::chrono::steady_clock::now()});
  map_.emplace(lru_.front().target, lru_.begin());
  bytes_ += held;
  return f;
}

void static_file_cache::drop(std::list<slot>::iterator it) {
  if (it->file->bytes) bytes_ -= it->file->bytes->size();
  map_.erase(it->target);
  lru_.erase(it);
}

}  // namespace sluice::cli
