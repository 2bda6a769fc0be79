// tools/sluice/demo.cpp: `sluice demo backpressure`, the experiment of Node's backpressure guide.
//
// The same producer gzips the same file twice, each time in a child process of its own so that
// the kernel can tell us that run's peak memory (wait4's ru_maxrss):
//   - respecting backpressure: it reads a 64 KiB chunk, writes it into gzip, and when write()
//     returns false it stops reading until 'drain';
//   - ignoring it: it reads and writes every chunk at once, whatever write() returns.
// gzip's output goes to a file writer through pipe() in both runs. The producer reads with
// read(2) on the loop thread, which is the fastest a producer can be: whatever it writes while
// gzip is busy must be queued somewhere.
#include <fcntl.h>
#include <sys/resource.h>
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
#include <vector>

#include "commands.hpp"
#include "demo_producer.hpp"
#include "report.hpp"
#include "sluice/codec/gzip.hpp"
#include "sluice/core/asio_loop.hpp"
#include "sluice/io/file.hpp"
#include "text_gen.hpp"

namespace sluice::cli {
namespace {

struct child_result {
  bool ok = false;
  double seconds = 0;
  std::uint64_t max_rss = 0;      // bytes
  std::uint64_t out_bytes = 0;    // compressed size
  std::uint64_t peak_queued = 0;  // gzip's peak writable length
  std::uint64_t drains = 0;
  std::string error;
};

// Parses the child's "RESULT key=value ..." line.
void parse_result_line(const std::string& text, child_result& r) {
  const auto pos = text.find("RESULT ");
  if (pos == std::string::npos) return;
  auto value = [&](const char* key) -> std::uint64_t {
    const auto k = text.find(std::string(" ") + key + "=", pos);
    return k == std::string::npos
               ? 0
               : std::strtoull(text.c_str() + k + std::strlen(key) + 2, nullptr, 10);
  };
  r.out_bytes = value("out");
  r.peak_queued = value("peak_queued");
  r.drains = value("drains");
}

child_result run_child(const std::string& self, bool respect, const std::string& in,
                       const std::string& out, int level) {
  child_result r;
  std::array<int, 2> p{};
  if (::pipe(p.data()) != 0) {
    r.error = std::string("pipe: ") + std::strerror(errno);
    return r;
  }
  const std::string level_s = std::to_string(level);
  std::vector<std::string> args{self,      "demo-child", "--mode", respect ? "respect" : "ignore",
                                "--in",    in,           "--out",  out,
                                "--level", level_s};
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
  r.max_rss = static_cast<std::uint64_t>(ru.ru_maxrss) * 1024;  // Linux reports KiB
  r.ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
  if (!r.ok) r.error = "the child run failed (status " + std::to_string(status) + ")";
  parse_result_line(text, r);
  return r;
}

std::string seconds_text(double s) {
  std::array<char, 32> b{};
  std::snprintf(b.data(), b.size(), "%.2f s", s);
  return b.data();
}

}  // namespace

int run_demo_child(const demo_child_command& d) {
  const int fd = ::open(d.input.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    std::fprintf(stderr, "sluice: demo: open '%s': %s\n", d.input.c_str(), std::strerror(errno));
    return 1;
  }
  boost::asio::io_context io;
  asio_loop loop(io);
  gzip_options go;
  go.level = d.level;
  go.chunk_size = chunk_size;
  auto gz = make_gzip(loop, go);
  auto out = make_file_writer(loop, d.output, {.atomic = true});
  std::string error;
  bool finished = false;
  gz->on_error([&](std::error_code) { error = gz->error_message(); });
  out->on_error([&](std::error_code) {
    if (error.empty()) error = out->error_message();
    gz->destroy();
  });
  out->on_finish([&] { finished = true; });
  gz->pipe(out);
  auto p = std::make_shared<producer>(fd, gz, d.respect);
  // Start from the loop, as a stream would.
  loop.defer([&] {
    if (!p->run()) {
      error = std::string("read '") + d.input + "': " + std::strerror(errno);
      gz->destroy();
      out->destroy();
    }
  });
  io.run();
  ::close(fd);
  if (!finished || !error.empty()) {
    std::fprintf(stderr, "sluice: demo: %s\n", error.empty() ? "did not finish" : error.c_str());
    return 1;
  }
  const auto& c = gz->counters();
  std::printf("RESULT in=%llu out=%llu peak_queued=%llu drains=%llu\n",
              static_cast<unsigned long long>(c.bytes_in),
              static_cast<unsigned long long>(out->bytes_written()),
              static_cast<unsigned long long>(c.peak_writable_length),
              static_cast<unsigned long long>(c.drains));
  return 0;
}

int run_demo_command(const demo_command& d) {
  demo_dir dir;
  if (!dir.make()) return 1;
  const auto in = demo_input(d.file, d.size, dir.path() / "input.log", true);
  if (!in) return 1;
  const auto& [input, size] = *in;
  std::printf("gzip -%d of %s (file -> gzip -> file), each run in its own process:\n", d.level,
              format_bytes(size).c_str());
  std::fflush(stdout);
  const child_result a =
      run_child(d.self, true, input, (dir.path() / "respect.gz").string(), d.level);
  const child_result b =
      run_child(d.self, false, input, (dir.path() / "ignore.gz").string(), d.level);
  for (const child_result* r : {&a, &b}) {
    if (!r->ok) {
      std::fprintf(stderr, "sluice: demo: %s\n", r->error.c_str());
      return 1;
    }
  }
  constexpr std::size_t w0 = 26, w = 26;
  auto row = [&](const char* label, const std::string& left, const std::string& right) {
    std::printf("  %-*s%s%s\n", static_cast<int>(w0), label, demo_cell(left, w).c_str(),
                demo_cell(right, w).c_str());
  };
  std::printf("\n");
  row("", "respecting backpressure", "ignoring write() = false");
  row("wall time", seconds_text(a.seconds), seconds_text(b.seconds));
  row("peak memory (max RSS)", format_bytes(a.max_rss), format_bytes(b.max_rss));
  row("peak queued before gzip", format_bytes(a.peak_queued), format_bytes(b.peak_queued));
  row("'drain' events", std::to_string(a.drains), std::to_string(b.drains));
  row("gzip output", format_bytes(a.out_bytes), format_bytes(b.out_bytes));
  std::printf("\n");
  const double ratio =
      a.max_rss == 0 ? 0 : static_cast<double>(b.max_rss) / static_cast<double>(a.max_rss);
  std::printf(
      "Ignoring backpressure used %.1fx the memory: every chunk the producer wrote while gzip was\n"
      "busy waited in gzip's write queue. Respecting it, the producer paused whenever write()\n"
      "returned false and went on at 'drain', so the queue never held more than about one\n"
      "highWaterMark (64 KiB) and memory does not grow with the input.\n",
      ratio);
  return 0;
}

}  // namespace sluice::cli
