// tools/sluice/demo_producer.hpp: what the demos (demo.cpp, demo_http.cpp) share: the producer,
// the temporary directory with the input, and the table cells.
//
// It reads a file with read(2) on the loop thread, the fastest a producer can be, and writes each
// chunk into a writable. Respecting backpressure, it stops when write() returns false and goes on
// at 'drain'; ignoring it, it writes every chunk at once, and whatever the writable cannot take
// yet waits in its queue.
#pragma once

#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "report.hpp"
#include "sluice/core/buffer.hpp"
#include "sluice/core/writable.hpp"
#include "text_gen.hpp"

namespace sluice::cli {

inline constexpr std::size_t chunk_size = 64 * 1024;

// Reads `fd` in chunks and writes them into `dest`, pausing for 'drain' when asked to.
class producer : public std::enable_shared_from_this<producer> {
 public:
  producer(int fd, std::shared_ptr<writable<buffer>> dest, bool respect)
      : fd_(fd), dest_(std::move(dest)), respect_(respect) {}

  // Returns false (with errno set) if a read failed.
  bool run() {
    for (;;) {
      buffer_builder b(chunk_size);
      ssize_t n;
      do {
        n = ::read(fd_, b.free_space().data(), b.free_space().size());
      } while (n < 0 && errno == EINTR);
      if (n < 0) return false;
      if (n == 0) {
        dest_->end();
        return true;
      }
      b.commit(static_cast<std::size_t>(n));
      const bool more = dest_->write(std::move(b).freeze());
      if (!more && respect_) {
        dest_->once_drain([self = shared_from_this()] { self->run(); });
        return true;
      }
    }
  }

 private:
  int fd_;
  std::shared_ptr<writable<buffer>> dest_;
  bool respect_;
};

/// A temporary directory for a demo's files, removed with everything in it when this goes.
class demo_dir {
 public:
  /// Creates it; on failure prints "sluice: demo: mkdtemp ..." and returns false.
  bool make() {
    std::error_code ec;
    std::string t = (std::filesystem::temp_directory_path(ec) / "sluice-demo-XXXXXX").string();
    if (::mkdtemp(t.data()) == nullptr) {
      std::fprintf(stderr, "sluice: demo: mkdtemp '%s': %s\n", t.c_str(), std::strerror(errno));
      return false;
    }
    path_ = t;
    return true;
  }
  [[nodiscard]] const std::filesystem::path& path() const noexcept { return path_; }
  demo_dir() = default;
  demo_dir(const demo_dir&) = delete;
  demo_dir& operator=(const demo_dir&) = delete;
  ~demo_dir() {
    std::error_code e;
    if (!path_.empty()) std::filesystem::remove_all(path_, e);
  }

 private:
  std::filesystem::path path_;
};

/// The demo's input file and its size: `file` if given, else `size` bytes of generated log text
/// written to `generated` (announced on stdout when `announce`). Prints the error and returns
/// nullopt on failure.
inline std::optional<std::pair<std::string, std::uint64_t>> demo_input(
    const std::string& file, std::uint64_t size, const std::filesystem::path& generated,
    bool announce) {
  if (!file.empty()) {
    std::error_code ec;
    const auto n = std::filesystem::file_size(file, ec);
    if (ec) {
      std::fprintf(stderr, "sluice: demo: stat '%s': %s\n", file.c_str(), ec.message().c_str());
      return std::nullopt;
    }
    return std::pair{file, static_cast<std::uint64_t>(n)};
  }
  if (announce) {
    std::printf("Writing %s of generated log text to %s ...\n", format_bytes(size).c_str(),
                generated.c_str());
    std::fflush(stdout);
  }
  std::string what;
  if (auto e = write_text_file(generated.string(), size, &what)) {
    std::fprintf(stderr, "sluice: demo: %s '%s': %s\n", what.c_str(), generated.c_str(),
                 e.message().c_str());
    return std::nullopt;
  }
  return std::pair{generated.string(), size};
}

/// `s` right-aligned in `w` columns.
inline std::string demo_cell(std::string s, std::size_t w) {
  if (s.size() < w) s.insert(0, w - s.size(), ' ');
  return s;
}

}  // namespace sluice::cli
