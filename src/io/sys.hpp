// src/io/sys.hpp (internal): the io layer's system calls, through one seam (fmt's FMT_SYSTEM).
//
// file.cpp, file_util.cpp, copy_file.cpp and stdio.cpp make no system call on a file but through
// these functions. Each one:
//   - first asks the fault table (sluice/io/detail/fault_injection.hpp) whether a test wants the
//     call to fail or to move fewer bytes. While nothing is armed that is one relaxed atomic load,
//     no lock and no allocation: the data path of a file stream makes one or two of these calls
//     per 64 KiB chunk, next to a system call and a thread hand-off;
//   - retries EINTR, here and nowhere else, so no caller ever sees it (close(2) is not retried,
//     see close() below, but its EINTR is no error either);
//   - otherwise returns what the system returned, errno set, as the raw call does.
// EAGAIN is passed on: the file streams open nothing non-blocking, so for them it is an error
// (named with the operation, like any other); the descriptor streams wait for readiness and call
// again (stdio.cpp). Not here: the unlink(2) of remove_temporary_files(), which runs in a signal
// handler where the table's mutex may not be taken, and poll(2), which waits rather than works.
#pragma once

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <limits>

#include "sluice/io/detail/fault_injection.hpp"

namespace sluice::detail::fault_injection {

/// Nonzero while a fault is armed: the one thing the seam reads when none is.
extern std::atomic<std::uint32_t> armed_faults;

inline constexpr std::size_t no_limit = std::numeric_limits<std::size_t>::max();

/// What an armed table makes of one call: an errno to fail with, or a byte limit.
struct outcome {
  int error = 0;
  std::size_t limit = no_limit;
};

/// Counts the call and returns the fault that fires at it, if any (takes the table's mutex).
[[nodiscard]] outcome on_call(sys_op op) noexcept;

}  // namespace sluice::detail::fault_injection

namespace sluice::detail::sys {

using fault_injection::sys_op;

/// What a fault makes of this call of `op`; nothing unless one is armed.
[[nodiscard]] inline fault_injection::outcome injected(sys_op op) noexcept {
  if (fault_injection::armed_faults.load(std::memory_order_relaxed) == 0) [[likely]]
    return {};
  return fault_injection::on_call(op);
}

/// Calls `call(limit)` (the byte limit of a short-count fault, else no_limit) unless a fault fails
/// it, again while it fails with EINTR. Returns what the last attempt returned, errno set.
template <class Call>
[[nodiscard]] inline auto retrying(sys_op op, Call&& call) noexcept {
  for (;;) {
    const fault_injection::outcome f = injected(op);
    decltype(call(f.limit)) r;
    if (f.error != 0) [[unlikely]] {
      errno = f.error;
      r = -1;
    } else {
      r = call(f.limit);
    }
    if (r >= 0 || errno != EINTR) return r;
  }
}

inline std::size_t at_most(std::size_t n, std::size_t limit) noexcept {
  return n < limit ? n : limit;
}

// ---- descriptors -----------------------------------------------------------------------------

[[nodiscard]] inline int open(const char* path, int flags, mode_t mode = 0) noexcept {
  return retrying(sys_op::open, [&](std::size_t) { return ::open(path, flags, mode); });
}

/// Never retried: Linux releases the descriptor whatever close(2) returns (so a fault releases it
/// too), and a second close could close a descriptor another thread has just opened. EINTR then
/// means "closed, interrupted while flushing", which is success here as in libuv and Go.
inline int close(int fd) noexcept {
  const fault_injection::outcome f = injected(sys_op::close);
  int r = ::close(fd);
  if (f.error != 0) [[unlikely]] {
    errno = f.error;
    r = -1;
  }
  return r < 0 && errno == EINTR ? 0 : r;
}

[[nodiscard]] inline int fsync(int fd) noexcept {
  return retrying(sys_op::fsync, [&](std::size_t) { return ::fsync(fd); });
}

// ---- bytes -----------------------------------------------------------------------------------

[[nodiscard]] inline ssize_t read(int fd, void* buf, std::size_t n) noexcept {
  return retrying(sys_op::read,
                  [&](std::size_t limit) { return ::read(fd, buf, at_most(n, limit)); });
}

[[nodiscard]] inline ssize_t pread(int fd, void* buf, std::size_t n, off_t off) noexcept {
  return retrying(sys_op::read,
                  [&](std::size_t limit) { return ::pread(fd, buf, at_most(n, limit), off); });
}

[[nodiscard]] inline ssize_t write(int fd, const void* buf, std::size_t n) noexcept {
  return retrying(sys_op::write,
                  [&](std::size_t limit) { return ::write(fd, buf, at_most(n, limit)); });
}

[[nodiscard]] inline ssize_t pwrite(int fd, const void* buf, std::size_t n, off_t off) noexcept {
  return retrying(sys_op::write,
                  [&](std::size_t limit) { return ::pwrite(fd, buf, at_most(n, limit), off); });
}

/// writev(2), or pwritev(2) at `off` when `off` is not negative, of the first `limit` bytes of
/// `iov` (at most IOV_MAX iovecs): a short-count fault's call.
[[nodiscard]] ssize_t writev_clipped(int fd, const ::iovec* iov, int count, off_t off,
                                     std::size_t limit) noexcept;

[[nodiscard]] inline ssize_t writev(int fd, const ::iovec* iov, int count) noexcept {
  return retrying(sys_op::write, [&](std::size_t limit) {
    if (limit == fault_injection::no_limit) [[likely]]
      return ::writev(fd, iov, count);
    return writev_clipped(fd, iov, count, -1, limit);
  });
}

[[nodiscard]] inline ssize_t pwritev(int fd, const ::iovec* iov, int count, off_t off) noexcept {
  return retrying(sys_op::write, [&](std::size_t limit) {
    if (limit == fault_injection::no_limit) [[likely]]
      return ::pwritev(fd, iov, count, off);
    return writev_clipped(fd, iov, count, off, limit);
  });
}

[[nodiscard]] inline ssize_t copy_file_range(int in, off_t* in_off, int out, off_t* out_off,
                                             std::size_t n) noexcept {
  return retrying(sys_op::copy_file_range, [&](std::size_t limit) {
    return ::copy_file_range(in, in_off, out, out_off, at_most(n, limit), 0);
  });
}

// ---- metadata --------------------------------------------------------------------------------

[[nodiscard]] inline int fstat(int fd, struct stat* st) noexcept {
  return retrying(sys_op::stat, [&](std::size_t) { return ::fstat(fd, st); });
}

[[nodiscard]] inline int stat(const char* path, struct stat* st) noexcept {
  return retrying(sys_op::stat, [&](std::size_t) { return ::stat(path, st); });
}

[[nodiscard]] inline int lstat(const char* path, struct stat* st) noexcept {
  return retrying(sys_op::stat, [&](std::size_t) { return ::lstat(path, st); });
}

[[nodiscard]] inline ssize_t readlink(const char* path, char* buf, std::size_t n) noexcept {
  return retrying(sys_op::readlink, [&](std::size_t) { return ::readlink(path, buf, n); });
}

[[nodiscard]] inline int fchown(int fd, uid_t uid, gid_t gid) noexcept {
  return retrying(sys_op::chown, [&](std::size_t) { return ::fchown(fd, uid, gid); });
}

[[nodiscard]] inline int fchmod(int fd, mode_t mode) noexcept {
  return retrying(sys_op::chmod, [&](std::size_t) { return ::fchmod(fd, mode); });
}

[[nodiscard]] inline int futimens(int fd, const struct timespec times[2]) noexcept {
  return retrying(sys_op::utimens, [&](std::size_t) { return ::futimens(fd, times); });
}

// ---- names -----------------------------------------------------------------------------------

[[nodiscard]] inline int rename(const char* from, const char* to) noexcept {
  return retrying(sys_op::rename, [&](std::size_t) { return ::rename(from, to); });
}

[[nodiscard]] inline int link(const char* from, const char* to) noexcept {
  return retrying(sys_op::link, [&](std::size_t) { return ::link(from, to); });
}

inline int unlink(const char* path) noexcept {
  return retrying(sys_op::unlink, [&](std::size_t) { return ::unlink(path); });
}

}  // namespace sluice::detail::sys
