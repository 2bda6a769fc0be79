// tests/http/http_support.hpp: what the HTTP tests share: a loop run until a condition holds,
// child processes (curl, node, python) run on a thread while the loop serves them, and raw
// loopback sockets for the clients that misbehave on purpose.
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <sys/wait.h>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <cstdio>
#include <functional>
#include <future>
#include <string>

#include "sluice/core/asio_loop.hpp"
#include "sluice/http.hpp"
#include "support/temp_files.hpp"

namespace sluice::test {

/// Runs `io` until `done()` or `limit` passed; returns done().
inline bool run_until(boost::asio::io_context& io, const std::function<bool()>& done,
                      std::chrono::milliseconds limit = std::chrono::seconds(20)) {
  const auto end = std::chrono::steady_clock::now() + limit;
  while (!done() && std::chrono::steady_clock::now() < end) {
    io.restart();
    io.run_for(std::chrono::milliseconds(5));
  }
  return done();
}

struct command_result {
  int exit_code = -1;
  std::string out;
};

/// Runs a shell command, capturing stdout.
inline command_result run_command(const std::string& cmd) {
  command_result r;
  FILE* p = ::popen(cmd.c_str(), "r");
  if (p == nullptr) return r;
  char buf[65536];
  std::size_t n = 0;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) r.out.append(buf, n);
  const int status = ::pclose(p);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

/// Runs `cmd` on a thread while the loop runs; returns its result.
inline command_result run_command_with(boost::asio::io_context& io, const std::string& cmd) {
  auto f = std::async(std::launch::async, [cmd] { return run_command(cmd); });
  run_until(
      io, [&] { return f.wait_for(std::chrono::seconds(0)) == std::future_status::ready; },
      std::chrono::seconds(60));
  return f.get();
}

/// A free loopback port (bound, then released).
inline std::uint16_t free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);
  return ntohs(a.sin_port);
}

/// A blocking loopback TCP client socket (closed on destruction).
class raw_socket {
 public:
  explicit raw_socket(std::uint16_t port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ok_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  }
  raw_socket(const raw_socket&) = delete;
  raw_socket& operator=(const raw_socket&) = delete;
  ~raw_socket() {
    if (fd_ >= 0) ::close(fd_);
  }
  [[nodiscard]] bool ok() const { return ok_; }
  [[nodiscard]] int fd() const { return fd_; }
  void set_nonblocking() { ::fcntl(fd_, F_SETFL, ::fcntl(fd_, F_GETFL) | O_NONBLOCK); }
  void set_receive_buffer(int bytes) {
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &bytes, sizeof bytes);
  }
  bool send_all(const std::string& s) {
    std::size_t off = 0;
    while (off < s.size()) {
      const ssize_t n = ::send(fd_, s.data() + off, s.size() - off, MSG_NOSIGNAL);
      if (n <= 0) return false;
      off += static_cast<std::size_t>(n);
    }
    return true;
  }
  /// Reads what is there within `wait` (polling); "" at end of file. `err` gets errno on error.
  std::string read_some(std::chrono::milliseconds wait, int* err = nullptr, bool* eof = nullptr) {
    ::pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(wait.count())) <= 0) return {};
    char buf[65536];
    const ssize_t n = ::recv(fd_, buf, sizeof buf, MSG_DONTWAIT);
    if (n < 0 && err != nullptr) *err = errno;
    if (n == 0 && eof != nullptr) *eof = true;
    return n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : std::string();
  }

 private:
  int fd_ = -1;
  bool ok_ = false;
};

/// Reads from `s` while running the loop until `pred(received)` holds or the peer closed (or an
/// error, recorded in *err), for at most `limit`.
inline std::string read_while_running(boost::asio::io_context& io, raw_socket& s,
                                      const std::function<bool(const std::string&)>& pred,
                                      int* err = nullptr, bool* eof = nullptr,
                                      std::chrono::milliseconds limit = std::chrono::seconds(10)) {
  std::string got;
  bool closed = false;
  int e = 0;
  run_until(
      io,
      [&] {
        std::string part = s.read_some(std::chrono::milliseconds(0), &e, &closed);
        got += part;
        return pred(got) || closed || e != 0;
      },
      limit);
  if (err != nullptr) *err = e;
  if (eof != nullptr) *eof = closed;
  return got;
}

/// The body of a chunked response (everything after the head), decoded; "!" on bad framing.
inline std::string dechunk(const std::string& response) {
  auto pos = response.find("\r\n\r\n");
  if (pos == std::string::npos) return "!";
  pos += 4;
  std::string out;
  for (;;) {
    const auto eol = response.find("\r\n", pos);
    if (eol == std::string::npos) return "!";
    const std::size_t n = std::stoul(response.substr(pos, eol - pos), nullptr, 16);
    if (n == 0) return out;
    out += response.substr(eol + 2, n);
    pos = eol + 2 + n + 2;
  }
}

/// Resident set size of this process, in bytes.
inline std::size_t rss_bytes() {
  std::string s = read_file("/proc/self/statm");
  long pages = 0, resident = 0;
  std::sscanf(s.c_str(), "%ld %ld", &pages, &resident);
  return static_cast<std::size_t>(resident) * static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
}

/// Collects a readable<buffer> into a string; `done` is set at 'end' or 'error'.
struct collected {
  std::string data;
  bool ended = false;
  std::error_code error;
  std::string message;
  [[nodiscard]] bool done() const { return ended || error; }
};

inline std::shared_ptr<collected> collect(const std::shared_ptr<readable<buffer>>& r) {
  auto c = std::make_shared<collected>();
  r->on_data([c](buffer&& b) { c->data.append(b.view()); });
  r->on_end([c] { c->ended = true; });
  r->on_error([c, w = std::weak_ptr(r)](std::error_code ec) {
    c->error = ec;
    if (auto p = w.lock()) c->message = p->error_message();
  });
  return c;
}

}  // namespace sluice::test
