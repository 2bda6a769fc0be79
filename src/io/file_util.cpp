// src/io/file_util.cpp: helpers shared by the file streams and copy_file.
#include "file_util.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <csignal>

#include <array>
#include <atomic>
#include <cerrno>
#include <climits>
#include <cstdint>
#include <cstring>
#include <random>
#include <utility>

#include "sluice/io/temporary_files.hpp"
#include "sys.hpp"

namespace sluice::detail {

// Built with append: GCC 12 warns falsely (-Wrestrict) on chained operator+.
std::string quoted(const char* op, const std::filesystem::path& p) {
  std::string s(op);
  s.append(" '").append(p.native()).append("'");
  return s;
}

int resolve_links(const std::filesystem::path& p, std::filesystem::path& out) {
  out = p;
  for (int hops = 0;; ++hops) {
    struct stat st {};
    if (sys::lstat(out.c_str(), &st) != 0) return errno == ENOENT ? 0 : errno;
    if (!S_ISLNK(st.st_mode)) return 0;
    if (hops == 40) return ELOOP;
    std::array<char, PATH_MAX> link{};
    const ssize_t n = sys::readlink(out.c_str(), link.data(), link.size());
    if (n < 0) return errno;
    if (static_cast<std::size_t>(n) == link.size()) return ENAMETOOLONG;
    const std::filesystem::path next(std::string(link.data(), static_cast<std::size_t>(n)));
    out = next.is_absolute() ? next : out.parent_path() / next;
  }
}

namespace {

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
    const int fd =
        sys::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, static_cast<mode_t>(mode));
    if (fd >= 0) register_temp(temp);
    if (fd >= 0 || errno != EEXIST) return fd;
  }
  errno = EEXIST;
  return -1;
}

// A special file is written where it is: opened without O_CREAT or O_TRUNC.
int open_special(const std::filesystem::path& target, const struct stat& st,
                 const destination_request& req, destination& out) {
  if (req.flags == open_mode::exclusive) return EEXIST;
  int f = O_WRONLY | O_CLOEXEC;
  if (req.flags == open_mode::append) f |= O_APPEND;
  out.fd = sys::open(target.c_str(), f);
  if (out.fd < 0) return errno;
  out.seekable = S_ISBLK(st.st_mode);
  return 0;
}

}  // namespace

int open_destination(const std::filesystem::path& target, const destination_request& req,
                     destination& out) {
  out = destination{};
  if (const int err = resolve_links(target, out.target); err != 0) return err;
  // Absolute, so that the temporary's path is too: temp_path() and the signal-time cleanup must
  // not depend on the working directory.
  std::error_code ec;
  out.target = std::filesystem::absolute(out.target, ec);
  if (ec) return ec.value();
  struct stat st {};
  const bool exists = sys::stat(out.target.c_str(), &st) == 0;
  if (!exists && errno != ENOENT) return errno;
  if (exists && S_ISDIR(st.st_mode)) return EISDIR;
  if (exists && !S_ISREG(st.st_mode)) return open_special(out.target, st, req, out);
  if (exists && req.flags == open_mode::exclusive) return EEXIST;

  final_attributes& a = out.attributes;
  const mode_t source_mode = req.source != nullptr ? req.source->st_mode & 07777 : 07777;
  if (exists) {
    // A replaced or rewritten file keeps its mode and owner, narrowed to the source's mode.
    a.mode = (st.st_mode & 07777) & source_mode;
    if (req.atomic) {
      a.uid = st.st_uid;
      a.gid = st.st_gid;
    }
  } else if (req.source != nullptr) {
    a.mode = source_mode;
    a.uid = req.source->st_uid;
    a.gid = req.source->st_gid;
  }
  if (req.source != nullptr) {
    a.atime = req.source->st_atim;
    a.mtime = req.source->st_mtim;
  }
  // Until its final mode is set, a file whose mode comes from elsewhere is readable by its owner
  // only: never more permissive than its source, not even for a moment.
  const unsigned create_mode = a.mode ? 0600 : req.mode;
  if (req.atomic) {
    out.fd = open_temp_beside(out.target, create_mode, out.temp);
    if (out.fd < 0) {
      out.temp.clear();
      return errno;
    }
    return 0;
  }
  int f = O_WRONLY | O_CREAT | O_CLOEXEC;
  f |= req.flags == open_mode::truncate ? O_TRUNC
       : req.flags == open_mode::append ? O_APPEND
                                        : O_EXCL;
  out.fd = sys::open(out.target.c_str(), f, static_cast<mode_t>(create_mode));
  if (out.fd < 0) return errno;
  if (exists && req.source == nullptr) out.attributes = {};  // written in place: nothing changes
  return 0;
}

namespace {

// fchown before fchmod (chown clears set-id bits); an owner we may not give is skipped, and then
// the set-id bits are dropped too. Times last, after every write.
int apply_attributes(int fd, const final_attributes& a) {
  bool owner_kept = true;
  if (a.uid || a.gid) {
    const uid_t uid = a.uid.value_or(static_cast<uid_t>(-1));
    const gid_t gid = a.gid.value_or(static_cast<gid_t>(-1));
    if (sys::fchown(fd, uid, gid) != 0) {
      if (errno != EPERM) return errno;
      owner_kept = sys::fchown(fd, static_cast<uid_t>(-1), gid) == 0 && !a.uid;
    }
  }
  if (a.mode) {
    const mode_t mode = owner_kept ? *a.mode : *a.mode & ~static_cast<mode_t>(S_ISUID | S_ISGID);
    if (sys::fchmod(fd, mode) != 0) return errno;
  }
  if (a.mtime) {
    const std::array<struct timespec, 2> times{a.atime.value_or(*a.mtime), *a.mtime};
    if (sys::futimens(fd, times.data()) != 0) return errno;
  }
  return 0;
}

}  // namespace

std::optional<std::string> source_change(const std::filesystem::path& p, std::uint64_t opened,
                                         std::uint64_t at_end, std::uint64_t done,
                                         const char* done_what) {
  if (at_end == opened && done >= opened) return std::nullopt;
  return quoted("read", p) + " (" + std::to_string(opened) + " bytes when opened, " +
         std::to_string(at_end) + " at the end, " + std::to_string(done) + " " + done_what + ")";
}

finish_result finish_destination(destination& d, bool sync, bool exclusive) {
  finish_result r;
  if (const int err = apply_attributes(d.fd, d.attributes); err != 0) r = {err, "chmod"};
  // fsync(2) of a pipe or a terminal fails with EINVAL: there is nothing to make durable.
  if (r.err == 0 && sync && sys::fsync(d.fd) != 0 && errno != EINVAL) r = {errno, "fsync"};
  // Never retried (Linux has released the descriptor whatever close(2) returns); sys::close
  // counts an EINTR as closed.
  if (sys::close(std::exchange(d.fd, -1)) != 0 && r.err == 0) r = {errno, "close"};
  if (d.temp.empty()) return r;
  if (r.err != 0) {
    sys::unlink(d.temp.c_str());
  } else if (const int err = commit_temp(d.temp, d.target, exclusive); err != 0) {
    r = {err, "rename"};
  }
  unregister_temp(d.temp);
  d.temp.clear();
  return r;
}

void discard_destination(destination& d) {
  if (d.fd >= 0) sys::close(std::exchange(d.fd, -1));
  if (d.temp.empty()) return;
  sys::unlink(d.temp.c_str());
  unregister_temp(d.temp);
  d.temp.clear();
}

int commit_temp(const std::filesystem::path& temp, const std::filesystem::path& target,
                bool exclusive) {
  int err = 0;
  if (exclusive) {
    if (sys::link(temp.c_str(), target.c_str()) != 0) err = errno;
    sys::unlink(temp.c_str());
  } else if (sys::rename(temp.c_str(), target.c_str()) != 0) {
    err = errno;
    sys::unlink(temp.c_str());
  }
  return err;
}

// ---- the temporary-file registry -----------------------------------------------------------
//
// Fixed storage, so that remove_temporary_files() can walk it from a signal handler: no
// allocation, no lock. A slot is free (0), being filled or emptied (1), or holds a path (2).

namespace {

constexpr std::size_t temp_slots = 64;

struct temp_slot {
  std::atomic<int> state{0};
  std::array<char, PATH_MAX> path{};
};

std::array<temp_slot, temp_slots>& slots() {
  static std::array<temp_slot, temp_slots> s;
  return s;
}

}  // namespace

bool register_temp(const std::filesystem::path& temp) noexcept {
  const std::string& p = temp.native();
  if (p.size() >= PATH_MAX) return false;
  for (temp_slot& s : slots()) {
    int expected = 0;
    if (!s.state.compare_exchange_strong(expected, 1)) continue;
    std::memcpy(s.path.data(), p.c_str(), p.size() + 1);
    s.state.store(2);
    return true;
  }
  return false;
}

void unregister_temp(const std::filesystem::path& temp) noexcept {
  const std::string& p = temp.native();
  for (temp_slot& s : slots()) {
    int expected = 2;
    if (s.state.load() != 2 || std::strcmp(s.path.data(), p.c_str()) != 0) continue;
    if (s.state.compare_exchange_strong(expected, 1)) {
      s.path[0] = '\0';
      s.state.store(0);
      return;
    }
  }
}

}  // namespace sluice::detail

namespace sluice {

void remove_temporary_files() noexcept {
  for (detail::temp_slot& s : detail::slots())
    if (s.state.load() == 2) ::unlink(s.path.data());  // not sys::unlink: no mutex in a handler
}

namespace {

void remove_and_reraise(int sig) {
  const int saved = errno;
  remove_temporary_files();
  errno = saved;
  ::raise(sig);  // SA_RESETHAND restored the default action: the process ends by `sig`
}

}  // namespace

std::error_code remove_temporary_files_on(std::initializer_list<int> signals) {
  for (const int sig : signals) {
    struct sigaction old {};
    if (::sigaction(sig, nullptr, &old) != 0) return detail::sys_error(errno);
    if (old.sa_handler == SIG_IGN) continue;  // ignored at entry (nohup, `trap '' HUP`): stays so
    struct sigaction sa {};
    sa.sa_handler = remove_and_reraise;
    sa.sa_flags = SA_RESETHAND;
    sigemptyset(&sa.sa_mask);
    if (::sigaction(sig, &sa, nullptr) != 0) return detail::sys_error(errno);
  }
  return {};
}

}  // namespace sluice
