// src/io/file_util.cpp: helpers shared by the file streams and copy_file.
#include "file_util.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <random>

namespace sluice::detail {

// Built with append: GCC 12 warns falsely (-Wrestrict) on chained operator+.
std::string quoted(const char* op, const std::filesystem::path& p) {
  std::string s(op);
  s.append(" '").append(p.native()).append("'");
  return s;
}

int open_retrying(const std::filesystem::path& p, int flags, unsigned mode) {
  int fd = -1;
  do {
    fd = ::open(p.c_str(), flags, static_cast<mode_t>(mode));
  } while (fd < 0 && errno == EINTR);
  return fd;
}

int open_temp_beside(const std::filesystem::path& target, unsigned mode,
                     std::filesystem::path& temp) {
  static constexpr char alphabet[] =
      "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
  std::random_device rd;
  std::mt19937_64 gen((static_cast<std::uint64_t>(rd()) << 32) ^ rd());
  std::uniform_int_distribution<std::size_t> pick(0, sizeof(alphabet) - 2);
  for (int attempt = 0; attempt < 100; ++attempt) {
    std::string name(".");
    name.append(target.filename().native()).append(".sluice-");
    for (int i = 0; i < 6; ++i) name += alphabet[pick(gen)];
    temp = target.parent_path() / name;
    const int fd = open_retrying(temp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
    if (fd >= 0 || errno != EEXIST) return fd;
  }
  errno = EEXIST;
  return -1;
}

int open_destination(const std::filesystem::path& target, open_mode flags, unsigned mode,
                     bool atomic, std::filesystem::path& temp) {
  temp.clear();
  int fd = -1;
  if (atomic) {
    struct stat st {};
    if (flags == open_mode::exclusive && ::lstat(target.c_str(), &st) == 0) {
      errno = EEXIST;  // fail early; the final link(2) catches a file created meanwhile
      return -1;
    }
    fd = open_temp_beside(target, mode, temp);
  } else {
    int f = O_WRONLY | O_CREAT | O_CLOEXEC;
    f |= flags == open_mode::truncate ? O_TRUNC : flags == open_mode::append ? O_APPEND : O_EXCL;
    fd = open_retrying(target, f, mode);
  }
  if (fd < 0) temp.clear();
  return fd;
}

finish_result finish_destination(int fd, bool sync, const std::filesystem::path& temp,
                                 const std::filesystem::path& target, bool exclusive) {
  finish_result r;
  if (sync && ::fsync(fd) != 0) r = {errno, "fsync"};
  // No retry on EINTR: Linux has released the descriptor whatever close(2) returns.
  if (::close(fd) != 0 && r.err == 0) r = {errno, "close"};
  if (temp.empty()) return r;
  if (r.err != 0) {
    ::unlink(temp.c_str());
  } else if (const int err = commit_temp(temp, target, exclusive); err != 0) {
    r = {err, "rename"};
  }
  return r;
}

int commit_temp(const std::filesystem::path& temp, const std::filesystem::path& target,
                bool exclusive) {
  int err = 0;
  if (exclusive) {
    if (::link(temp.c_str(), target.c_str()) != 0) err = errno;
    ::unlink(temp.c_str());
  } else if (::rename(temp.c_str(), target.c_str()) != 0) {
    err = errno;
    ::unlink(temp.c_str());
  }
  return err;
}

}  // namespace sluice::detail
