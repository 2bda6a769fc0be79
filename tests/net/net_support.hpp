// Helpers for the net tests: a real io_context with an asio_loop over it, run until a condition
// holds (or a deadline passes), and process-wide counts (/proc/self/fd, VmRSS).
#pragma once

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "sluice/core/asio_loop.hpp"
#include "sluice/net/server.hpp"
#include "support/sanitizers.hpp"

namespace net_test {

struct loop_fixture {
  boost::asio::io_context io;
  sluice::asio_loop loop{io};
  std::vector<std::shared_ptr<sluice::server>> servers;

  loop_fixture() = default;
  loop_fixture(const loop_fixture&) = delete;
  loop_fixture& operator=(const loop_fixture&) = delete;
  /// Shuts the tracked servers down and runs until their connections have closed: a socket
  /// piped into itself (an echo) references itself until it closes, so one still open when the
  /// loop goes would leak.
  ~loop_fixture() {
    for (auto& s : servers) s->shutdown(std::chrono::milliseconds(0));
    run_until([&] {
      for (auto& s : servers)
        if (s->connections() != 0) return false;
      return true;
    });
  }
  /// Has the fixture shut `s` down at the end of the test.
  void track(const std::shared_ptr<sluice::server>& s) { servers.push_back(s); }

  /// Runs the io_context until `done()` holds; false if `limit` passed first.
  bool run_until(const std::function<bool()>& done,
                 std::chrono::milliseconds limit = std::chrono::milliseconds(5000)) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (!done()) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      if (io.stopped()) io.restart();
      io.run_for(std::chrono::milliseconds(5));
    }
    return true;
  }
  /// Runs the io_context for `d` (to show that something does NOT happen).
  void run_for(std::chrono::milliseconds d) {
    const auto deadline = std::chrono::steady_clock::now() + d;
    while (std::chrono::steady_clock::now() < deadline) {
      if (io.stopped()) io.restart();
      io.run_for(std::chrono::milliseconds(5));
    }
  }
};

using sluice::test::rss_is_meaningful;  // (support/sanitizers.hpp)

inline std::size_t open_fds() {
  std::size_t n = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator("/proc/self/fd")) ++n;
  return n;
}

/// Resident set size in KiB.
inline std::uint64_t rss_kib() {
  std::ifstream f("/proc/self/status");
  std::string key;
  while (f >> key) {
    if (key == "VmRSS:") {
      std::uint64_t kib = 0;
      f >> kib;
      return kib;
    }
    std::getline(f, key);
  }
  return 0;
}

// How much a resident size grew from `before` to `after`, in KiB: 0 when it shrank (the kernel
// may take pages back while a test runs; an unsigned difference would wrap to a huge number).
inline std::uint64_t growth_kib(std::uint64_t before, std::uint64_t after) {
  return after > before ? after - before : 0;
}

// The bytes at [offset, offset + len) of an endless stream that does not repeat quickly: what
// the transfer tests send, so a receiver can check any piece of it.
inline std::string stream_bytes(std::uint64_t offset, std::size_t len) {
  std::string s(len, '\0');
  for (std::size_t i = 0; i < len; ++i) {
    const std::uint64_t k = offset + i;
    s[i] = static_cast<char>((k * 2654435761u) >> 13);
  }
  return s;
}

}  // namespace net_test
