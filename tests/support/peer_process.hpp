// tests/support/peer_process.hpp: a peer in another process for the network tests (python3,
// node, curl...): started without a shell, its stdin and stdout on pipes so the test can tell it
// when to go on and read what it reports; its memory read from /proc/PID/status. Killed and
// reaped at the end of the test, whatever happened. Also a CRC-32 (zlib's, so a Python peer's
// zlib.crc32 of the same bytes matches) to compare what was sent with what arrived.
#pragma once

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

extern char** environ;

namespace sluice::test {

/// A child process with pipes to its stdin and from its stdout (stderr is inherited).
class peer_process {
 public:
  explicit peer_process(const std::vector<std::string>& argv) {
    int in[2] = {-1, -1};
    int out[2] = {-1, -1};
    if (::pipe2(in, O_CLOEXEC) != 0 || ::pipe2(out, O_CLOEXEC) != 0) return;
    posix_spawn_file_actions_t fa;
    ::posix_spawn_file_actions_init(&fa);
    ::posix_spawn_file_actions_adddup2(&fa, in[0], 0);
    ::posix_spawn_file_actions_adddup2(&fa, out[1], 1);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    if (::posix_spawnp(&pid_, args[0], &fa, nullptr, args.data(), environ) != 0) pid_ = -1;
    ::posix_spawn_file_actions_destroy(&fa);
    ::close(in[0]);
    ::close(out[1]);
    to_ = in[1];
    from_ = out[0];
  }
  peer_process(const peer_process&) = delete;
  peer_process& operator=(const peer_process&) = delete;
  ~peer_process() {
    if (to_ >= 0) ::close(to_);
    if (from_ >= 0) ::close(from_);
    if (pid_ > 0 && !reaped_) {
      ::kill(pid_, SIGKILL);
      int st = 0;
      ::waitpid(pid_, &st, 0);
    }
  }

  [[nodiscard]] bool started() const { return pid_ > 0; }
  [[nodiscard]] pid_t pid() const { return pid_; }

  /// One line of its stdout (without the newline); nullopt at end of file or after `limit`
  /// (zero: only a line that is there already).
  std::optional<std::string> read_line(std::chrono::milliseconds limit = std::chrono::seconds(20)) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    for (;;) {
      if (const auto nl = pending_.find('\n'); nl != std::string::npos) {
        std::string line = pending_.substr(0, nl);
        pending_.erase(0, nl + 1);
        return line;
      }
      const auto left = std::max<std::chrono::milliseconds::rep>(
          0, std::chrono::duration_cast<std::chrono::milliseconds>(deadline -
                                                                   std::chrono::steady_clock::now())
                 .count());
      ::pollfd p{from_, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left)) <= 0) {
        if (left == 0) return std::nullopt;  // (a zero limit: what is there now, or nothing)
        continue;
      }
      char buf[4096];
      const ssize_t n = ::read(from_, buf, sizeof buf);
      if (n <= 0) return std::nullopt;
      pending_.append(buf, static_cast<std::size_t>(n));
    }
  }
  /// Writes `text` to its stdin.
  bool write(std::string_view text) {
    while (!text.empty()) {
      const ssize_t n = ::write(to_, text.data(), text.size());
      if (n <= 0) return false;
      text.remove_prefix(static_cast<std::size_t>(n));
    }
    return true;
  }
  /// Waits for it to exit; its exit status (128 + signal if killed), -1 on timeout.
  int wait(std::chrono::milliseconds limit = std::chrono::seconds(20)) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < deadline) {
      int st = 0;
      const pid_t r = ::waitpid(pid_, &st, WNOHANG);
      if (r == pid_) {
        reaped_ = true;
        return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
      }
      if (r < 0) return -1;
      ::usleep(5000);
    }
    return -1;
  }
  /// Its resident set (VmRSS) in KiB, 0 if it is gone.
  [[nodiscard]] std::uint64_t rss_kib() const { return status_kib("VmRSS:"); }
  /// Its peak resident set (VmHWM) in KiB.
  [[nodiscard]] std::uint64_t peak_rss_kib() const { return status_kib("VmHWM:"); }

 private:
  [[nodiscard]] std::uint64_t status_kib(const std::string& field) const {
    std::ifstream f("/proc/" + std::to_string(pid_) + "/status");
    std::string key;
    while (f >> key) {
      if (key == field) {
        std::uint64_t kib = 0;
        f >> kib;
        return kib;
      }
      std::getline(f, key);
    }
    return 0;
  }
  pid_t pid_ = -1;
  bool reaped_ = false;
  int to_ = -1;
  int from_ = -1;
  std::string pending_;
};

/// The Python interpreter to run peers with: Debian's /usr/bin/python3 when there is one (a
/// version manager's shim on PATH can take a second just to start), else python3 from PATH;
/// empty when there is none.
inline std::string python3() {
  if (::access("/usr/bin/python3", X_OK) == 0) return "/usr/bin/python3";
  return std::system("python3 -c '' >/dev/null 2>&1") == 0 ? "python3" : "";
}

/// CRC-32 as zlib computes it (reflected, polynomial 0xEDB88320), continued from `crc`.
inline std::uint32_t crc32(std::uint32_t crc, std::string_view data) {
  static const auto table = [] {
    std::array<std::uint32_t, 256> t{};
    for (std::uint32_t i = 0; i < 256; ++i) {
      std::uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
      t[i] = c;
    }
    return t;
  }();
  crc = ~crc;
  for (const char ch : data)
    crc = table[(crc ^ static_cast<unsigned char>(ch)) & 0xFF] ^ (crc >> 8);
  return ~crc;
}

}  // namespace sluice::test
