// tools/sluice/demo_http.cpp: `sluice demo http-backpressure`, the guide's first example of
// backpressure in the wild (a fast server writing a big file to a slow client) made measurable.
//
// A server sends one file to one client that reads at a limited rate, twice, each server in a
// child process of its own so that the kernel reports its peak memory (wait4's ru_maxrss):
//   - respecting backpressure: the server stops reading the file when the response's write()
//     returns false and goes on at 'drain' (Node's `if (!res.write(chunk)) file.pause()`);
//   - ignoring it: every chunk is written at once, whatever write() returns.
// The client is this process: a plain socket with a small receive buffer, read at `rate` bytes
// per second, so TCP's flow control is what tells the server to wait.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <boost/asio/io_context.hpp>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "commands.hpp"
#include "demo_producer.hpp"
#include "report.hpp"
#include "sluice/core/asio_loop.hpp"
#include "sluice/http/server.hpp"
#include "text_gen.hpp"

namespace sluice::cli {
namespace {

struct server_run {
  bool ok = false;
  double seconds = 0;
  std::uint64_t max_rss = 0;      // the server's, bytes
  std::uint64_t received = 0;     // body bytes the client read
  std::uint64_t peak_queued = 0;  // the response's peak writable length
  std::uint64_t drains = 0;       // 'drain' events of the response
  std::string error;
};

std::uint64_t result_value(const std::string& text, const char* key) {
  const auto pos = text.find("RESULT ");
  if (pos == std::string::npos) return 0;
  const auto k = text.find(std::string(" ") + key + "=", pos);
  return k == std::string::npos
             ? 0
             : std::strtoull(text.c_str() + k + std::strlen(key) + 2, nullptr, 10);
}

// Reads from `fd` until `text` holds a full line starting with "PORT " (or EOF).
std::uint16_t read_port(int fd, std::string& text) {
  std::array<char, 256> buf{};
  for (;;) {
    const auto at = text.find("PORT ");
    if (at != std::string::npos && text.find('\n', at) != std::string::npos)
      return static_cast<std::uint16_t>(std::atoi(text.c_str() + at + 5));
    const ssize_t n = ::read(fd, buf.data(), buf.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return 0;
    text.append(buf.data(), static_cast<std::size_t>(n));
  }
}

// What is wrong with a response whose head is `head` (status line and fields, each ending in
// CRLF) and whose body had `body` bytes up to the server's FIN: no head, a status other than
// 200, or fewer (more) bytes than its Content-Length, a truncation a clean FIN must not hide.
// Empty when nothing is.
std::string check_response(const std::string& head, bool complete, std::uint64_t body) {
  if (!complete) return "GET /: the connection closed before the response head";
  const auto sp = head.find(' ');
  const int status = sp == std::string::npos ? 0 : std::atoi(head.c_str() + sp + 1);
  if (status != 200) return "GET /: HTTP status " + std::to_string(status);
  // Each field line after the status line: "Name: value" (names compared as HTTP does).
  for (std::size_t at = head.find("\r\n"); at != std::string::npos;) {
    at += 2;
    const std::size_t eol = head.find("\r\n", at);
    const std::string_view line(head.data() + at,
                                (eol == std::string::npos ? head.size() : eol) - at);
    const std::size_t colon = line.find(':');
    if (colon != std::string_view::npos &&
        http_name_equal(line.substr(0, colon), "Content-Length")) {
      const std::uint64_t length = std::strtoull(line.data() + colon + 1, nullptr, 10);
      if (body != length)
        return "GET /: response body truncated: " + std::to_string(body) + " of " +
               std::to_string(length) + " bytes";
      break;
    }
    at = eol;
  }
  return {};
}

// The slow client: GET / and read the body at `rate` bytes per second. Returns bytes received
// after the head, or sets `error`.
std::uint64_t slow_download(std::uint16_t port, std::uint64_t rate, std::string& error) {
  const int s = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (s < 0) {
    error = std::string("socket: ") + std::strerror(errno);
    return 0;
  }
  const int small = 64 * 1024;  // a small window, as a phone on a slow link has
  ::setsockopt(s, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(s, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    error = "connect 127.0.0.1:" + std::to_string(port) + ": " + std::strerror(errno);
    ::close(s);
    return 0;
  }
  const std::string req = "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
  if (::send(s, req.data(), req.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(req.size())) {
    error = std::string("send: ") + std::strerror(errno);
    ::close(s);
    return 0;
  }
  std::vector<char> buf(16 * 1024);
  std::uint64_t total = 0;
  std::uint64_t head = 0;
  std::string head_text;
  const auto t0 = std::chrono::steady_clock::now();
  for (;;) {
    const ssize_t n = ::read(s, buf.data(), buf.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      error = std::string("read: ") + std::strerror(errno);
      break;
    }
    if (n == 0) break;
    if (head == 0) {  // the head is small and arrives first; find where the body starts
      head_text.append(buf.data(), static_cast<std::size_t>(n));
      const auto end = head_text.find("\r\n\r\n");
      if (end != std::string::npos) {
        head = end + 4;
        head_text.resize(end + 2);
      }
    }
    total += static_cast<std::uint64_t>(n);
    // Sleep until reading this much is on schedule.
    const auto due =
        t0 + std::chrono::duration<double>(static_cast<double>(total) / static_cast<double>(rate));
    std::this_thread::sleep_until(due);
  }
  ::close(s);
  const std::uint64_t body = total > head ? total - head : 0;
  if (error.empty()) error = check_response(head_text, head != 0, body);
  return body;
}

server_run measure(const std::string& self, bool respect, const std::string& file,
                   std::uint64_t rate) {
  server_run r;
  std::array<int, 2> p{};
  if (::pipe(p.data()) != 0) {
    r.error = std::string("pipe: ") + std::strerror(errno);
    return r;
  }
  std::vector<std::string> args{
      self, "demo-http-child", "--mode", respect ? "respect" : "ignore", "--in", file};
  const auto t0 = std::chrono::steady_clock::now();
  const pid_t pid = ::fork();
  if (pid < 0) {
    r.error = std::string("fork: ") + std::strerror(errno);
    return r;
  }
  if (pid == 0) {
    ::dup2(p[1], STDOUT_FILENO);
    ::close(p[0]);
    ::close(p[1]);
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    ::execv(self.c_str(), argv.data());
    std::fprintf(stderr, "sluice: demo: exec '%s': %s\n", self.c_str(), std::strerror(errno));
    ::_exit(127);
  }
  ::close(p[1]);
  std::string text;
  const std::uint16_t port = read_port(p[0], text);
  if (port != 0) r.received = slow_download(port, rate, r.error);
  std::array<char, 4096> buf{};
  for (;;) {
    const ssize_t n = ::read(p[0], buf.data(), buf.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    text.append(buf.data(), static_cast<std::size_t>(n));
  }
  ::close(p[0]);
  int status = 0;
  rusage ru{};
  while (::wait4(pid, &status, 0, &ru) < 0 && errno == EINTR) {
  }
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  r.max_rss = static_cast<std::uint64_t>(ru.ru_maxrss) * 1024;
  r.ok = port != 0 && r.error.empty() && WIFEXITED(status) && WEXITSTATUS(status) == 0;
  if (!r.ok && r.error.empty())
    r.error = "the server run failed (status " + std::to_string(status) + ")";
  r.peak_queued = result_value(text, "peak_queued");
  r.drains = result_value(text, "drains");
  return r;
}

}  // namespace

int run_demo_http_child(const demo_child_command& d) {
  const int fd = ::open(d.input.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    std::fprintf(stderr, "sluice: demo: open '%s': %s\n", d.input.c_str(), std::strerror(errno));
    return 1;
  }
  struct stat st {};
  ::fstat(fd, &st);
  boost::asio::io_context io;
  asio_loop loop(io);
  std::unique_ptr<http_server> server;
  std::shared_ptr<http_response> response;
  bool done = false;
  server = make_http_server(loop, {},
                            [&](std::shared_ptr<http_request>, std::shared_ptr<http_response> res) {
                              response = res;
                              res->set_header("Content-Type", "text/plain");
                              res->set_content_length(static_cast<std::uint64_t>(st.st_size));
                              res->on_finish([&] { done = true; });
                              res->on_close([&] { server->close(); });
                              auto p = std::make_shared<producer>(fd, res, d.respect);
                              if (!p->run()) res->destroy();
                            });
  if (auto e = server->listen("127.0.0.1", 0)) {
    std::fprintf(stderr, "sluice: demo: listen 127.0.0.1:0: %s\n", e.message().c_str());
    return 1;
  }
  std::printf("PORT %u\n", server->port());
  std::fflush(stdout);
  io.run();
  ::close(fd);
  if (!done || !response) {
    std::fprintf(stderr, "sluice: demo: the response did not finish\n");
    return 1;
  }
  const auto& c = response->counters();
  std::printf("RESULT peak_queued=%llu drains=%llu\n",
              static_cast<unsigned long long>(c.peak_writable_length),
              static_cast<unsigned long long>(c.drains));
  return 0;
}

int run_demo_http_command(const demo_command& d) {
  demo_dir dir;
  if (!dir.make()) return 1;
  const auto in = demo_input(d.file, d.size, dir.path() / "big.log", false);
  if (!in) return 1;
  const auto& [input, size] = *in;
  std::printf("An HTTP server sends %s to a client reading %s/s, each server in its own process:\n",
              format_bytes(size).c_str(), format_bytes(d.rate).c_str());
  std::fflush(stdout);
  const server_run a = measure(d.self, true, input, d.rate);
  const server_run b = measure(d.self, false, input, d.rate);
  for (const server_run* r : {&a, &b}) {
    if (!r->ok) {
      std::fprintf(stderr, "sluice: demo: %s\n", r->error.c_str());
      return 1;
    }
  }
  constexpr std::size_t w0 = 28, w = 26;
  auto row = [&](const char* label, const std::string& left, const std::string& right) {
    std::printf("  %-*s%s%s\n", static_cast<int>(w0), label, demo_cell(left, w).c_str(),
                demo_cell(right, w).c_str());
  };
  auto secs = [](double s) {
    std::array<char, 32> t{};
    std::snprintf(t.data(), t.size(), "%.2f s", s);
    return std::string(t.data());
  };
  std::printf("\n");
  row("", "respecting write()", "ignoring write() = false");
  row("wall time", secs(a.seconds), secs(b.seconds));
  row("server peak memory (RSS)", format_bytes(a.max_rss), format_bytes(b.max_rss));
  row("server peak queued bytes", format_bytes(a.peak_queued), format_bytes(b.peak_queued));
  row("'drain' events", std::to_string(a.drains), std::to_string(b.drains));
  row("body bytes received", format_bytes(a.received), format_bytes(b.received));
  std::printf("\n");
  const double ratio =
      a.max_rss == 0 ? 0 : static_cast<double>(b.max_rss) / static_cast<double>(a.max_rss);
  std::printf(
      "Ignoring write()'s return used %.1fx the memory: the whole file was queued in the\n"
      "response while the client took its time. Respecting it, the server read the file only\n"
      "as fast as TCP let the response drain, so its queue stayed near one highWaterMark\n"
      "(64 KiB) whatever the file's size.\n",
      ratio);
  return 0;
}

}  // namespace sluice::cli
