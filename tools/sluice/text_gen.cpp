// tools/sluice/text_gen.cpp: generate_text and write_text_file.
#include "text_gen.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <string_view>

namespace sluice::cli {
namespace {

// xorshift64*: small, fast, and the same everywhere.
class rng {
 public:
  explicit rng(std::uint64_t seed) : s_(seed * 0x9E3779B97F4A7C15ull + 0x2545F4914F6CDD1Dull) {}
  std::uint64_t next() noexcept {
    s_ ^= s_ >> 12;
    s_ ^= s_ << 25;
    s_ ^= s_ >> 27;
    return s_ * 0x2545F4914F6CDD1Dull;
  }
  std::size_t below(std::size_t n) noexcept { return static_cast<std::size_t>(next() % n); }

 private:
  std::uint64_t s_;
};

constexpr std::array<std::string_view, 5> levels{"INFO ", "INFO ", "INFO ", "WARN ", "ERROR"};
constexpr std::array<std::string_view, 8> components{"http", "db.pool", "cache", "scheduler",
                                                     "auth", "storage", "queue", "mailer"};
constexpr std::array<std::string_view, 48> words{
    "the",     "request",   "was",     "served",  "from",    "a",       "connection", "to",
    "client",  "after",     "retry",   "timeout", "waiting", "for",     "upstream",   "response",
    "with",    "status",    "and",     "body",    "of",      "user",    "session",    "expired",
    "token",   "refreshed", "queue",   "drained", "in",      "batch",   "written",    "records",
    "flushed", "disk",      "segment", "rotated", "index",   "rebuilt", "slow",       "query",
    "on",      "table",     "orders",  "cache",   "miss",    "for",     "key",        "evicted"};

void append_number(std::string& out, std::uint64_t v) {
  std::array<char, 24> buf{};
  std::size_t n = 0;
  do {
    buf[n++] = static_cast<char>('0' + v % 10);
    v /= 10;
  } while (v != 0);
  while (n != 0) out += buf[--n];
}

void append_two(std::string& out, std::uint64_t v) {
  out += static_cast<char>('0' + (v / 10) % 10);
  out += static_cast<char>('0' + v % 10);
}

void append_line(std::string& out, rng& r, std::uint64_t& clock_ms) {
  clock_ms += r.below(40);
  const std::uint64_t s = clock_ms / 1000;
  out += "2026-11-21 ";
  append_two(out, (s / 3600) % 24);
  out += ':';
  append_two(out, (s / 60) % 60);
  out += ':';
  append_two(out, s % 60);
  out += '.';
  append_two(out, (clock_ms % 1000) / 10);
  out += static_cast<char>('0' + clock_ms % 10);
  out += ' ';
  out += levels[r.below(levels.size())];
  out += ' ';
  out += components[r.below(components.size())];
  out += ": ";
  const std::size_t n = 5 + r.below(9);
  for (std::size_t i = 0; i < n; ++i) {
    if (i != 0) out += ' ';
    out += words[r.below(words.size())];
  }
  out += " id=";
  append_number(out, 10000 + r.below(90000));
  out += " took=";
  append_number(out, r.below(250));
  out += "ms\n";
}

}  // namespace

void generate_text(std::string& out, std::uint64_t size, std::uint64_t seed) {
  rng r(seed);
  std::uint64_t clock_ms = 0;
  const std::size_t start = out.size();
  while (out.size() - start < size) append_line(out, r, clock_ms);
  out.resize(start + size);
}

std::error_code write_text_file(const std::string& path, std::uint64_t size, std::string* what) {
  auto fail = [&](const char* op) {
    const std::error_code ec(errno, std::generic_category());
    if (what) *what = op;
    return ec;
  };
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return fail("open");
  rng r(1);
  std::uint64_t clock_ms = 0;
  std::uint64_t left = size;
  std::string block;
  constexpr std::size_t block_size = 1 << 20;
  block.reserve(block_size + 256);
  while (left != 0) {
    block.clear();
    while (block.size() < block_size) append_line(block, r, clock_ms);
    const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(left, block.size()));
    std::size_t done = 0;
    while (done < n) {
      const ssize_t w = ::write(fd, block.data() + done, n - done);
      if (w < 0 && errno == EINTR) continue;
      if (w < 0) {
        const std::error_code ec = fail("write");
        ::close(fd);
        return ec;
      }
      done += static_cast<std::size_t>(w);
    }
    left -= n;
  }
  if (::close(fd) != 0) return fail("close");
  return {};
}

}  // namespace sluice::cli
