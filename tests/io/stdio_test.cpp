// Descriptor streams (sluice/io/stdio.hpp) on real pipes and files: the program's own stdin and
// stdout are swapped for them (dup2) for the duration of a test.
#include "sluice/io/stdio.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <random>
#include <string>
#include <thread>

#include "sluice/core/loop.hpp"

namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using sluice::buffer;
using sluice::manual_loop;

std::string pattern(std::size_t n, unsigned seed = 1) {
  std::mt19937 gen(seed);
  std::string s(n, '\0');
  for (auto& c : s) c = static_cast<char>(gen());
  return s;
}

struct pipe_fds {
  int r = -1;
  int w = -1;
  pipe_fds() {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) throw std::runtime_error("pipe failed");
    r = fds[0];
    w = fds[1];
  }
  void close_r() {
    if (r >= 0) ::close(std::exchange(r, -1));
  }
  void close_w() {
    if (w >= 0) ::close(std::exchange(w, -1));
  }
};

// Puts `fd` in place of descriptor `target` (0, 1 or 2) until destroyed.
class redirect {
 public:
  redirect(int target, int fd) : target_(target), saved_(::dup(target)) {
    std::fflush(nullptr);
    ::dup2(fd, target_);
  }
  redirect(const redirect&) = delete;
  redirect& operator=(const redirect&) = delete;
  ~redirect() {
    ::dup2(saved_, target_);
    ::close(saved_);
  }

 private:
  int target_;
  int saved_;
};

struct collected {
  std::string data;
  bool ended = false;
  bool closed = false;
  std::error_code error;
};

std::shared_ptr<collected> collect(sluice::readable<buffer>& r) {
  auto c = std::make_shared<collected>();
  r.on_data([c](buffer&& b) { c->data.append(b.view()); });
  r.on_end([c] { c->ended = true; });
  r.on_error([c](std::error_code ec) { c->error = ec; });
  r.on_close([c] { c->closed = true; });
  return c;
}

// Reads `fd` to its end on a thread of its own.
class drain_thread {
 public:
  explicit drain_thread(int fd)
      : t_([this, fd] {
          char buf[4096];
          ssize_t n = 0;
          while ((n = ::read(fd, buf, sizeof buf)) > 0)
            data_.append(buf, static_cast<std::size_t>(n));
        }) {}
  std::string join() {
    t_.join();
    return data_;
  }

 private:
  std::string data_;
  std::thread t_;
};

void run(manual_loop& loop) {
  ASSERT_TRUE(loop.run_until_quiet_for(20s)) << "loop never went quiet";
}

// ---- stdin ------------------------------------------------------------------------------------

TEST(Stdin, ReadsARegularFileOnDescriptorZero) {
  const fs::path p = fs::temp_directory_path() / ("sluice-stdin-" + std::to_string(::getpid()));
  const std::string content = pattern(300 * 1024 + 11);
  std::ofstream(p, std::ios::binary)
      .write(content.data(), static_cast<std::streamsize>(content.size()));
  const int fd = ::open(p.c_str(), O_RDONLY | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  std::shared_ptr<collected> c;
  {
    redirect in(0, fd);
    manual_loop loop;
    auto r = sluice::make_stdin(loop);
    EXPECT_EQ(r->name(), "<stdin>");
    c = collect(*r);
    run(loop);
    EXPECT_EQ(r->bytes_read(), content.size());
  }
  ::close(fd);
  fs::remove(p);
  EXPECT_TRUE(c->ended);
  EXPECT_TRUE(c->closed);
  EXPECT_EQ(c->data, content);
}

TEST(Stdin, ReadsAPipeUntilTheWriterCloses) {
  pipe_fds p;
  const std::string content = pattern(1024 * 1024 + 5, 2);
  std::shared_ptr<collected> c;
  {
    redirect in(0, p.r);
    std::thread producer([&] {
      // Uneven pieces, written while the loop runs.
      for (std::size_t off = 0; off < content.size();) {
        const std::size_t n = std::min<std::size_t>(content.size() - off, 1 + (off % 50'000));
        if (::write(p.w, content.data() + off, n) < 0) break;
        off += n;
      }
      p.close_w();
    });
    manual_loop loop;
    auto r = sluice::make_stdin(loop, {.high_water_mark = 16 * 1024});
    c = collect(*r);
    run(loop);
    producer.join();
    EXPECT_LE(r->counters().peak_readable_length, 16u * 1024);
  }
  p.close_r();
  EXPECT_TRUE(c->ended);
  EXPECT_EQ(c->data.size(), content.size());
  EXPECT_EQ(c->data, content);
}

TEST(FdReader, DestroyStopsWaitingForABlockedRead) {
  // p.r is deliberately left open: the abandoned read(2) may still be about to use it, and a
  // closed number could be reused by another test's descriptor.
  pipe_fds p;
  manual_loop loop;
  auto r = sluice::make_fd_reader(loop, p.r);
  auto c = collect(*r);
  loop.run_until_idle();  // the first read(2) is now waiting on the silent pipe
  EXPECT_EQ(loop.outstanding_work(), 1u);
  r->destroy();
  run(loop);  // returns: the loop no longer waits for the abandoned read
  EXPECT_TRUE(c->closed);
  EXPECT_FALSE(c->ended);
  EXPECT_EQ(loop.outstanding_work(), 0u);
  // The late result is dropped: nothing arrives after destroy().
  ASSERT_EQ(::write(p.w, "late", 4), 4);
  p.close_w();
  std::this_thread::sleep_for(10ms);
  loop.run_until_idle();
  EXPECT_TRUE(c->data.empty());
}

// ---- stdout / stderr -------------------------------------------------------------------------

TEST(Stdout, WritesGatheredChunksToAPipe) {
  pipe_fds p;
  drain_thread reader(p.r);
  std::string expected;
  std::uint64_t calls = 0;
  {
    redirect out(1, p.w);
    manual_loop loop;
    auto w = sluice::make_stdout(loop);
    w->cork();
    for (int i = 0; i < 100; ++i) {
      const std::string line = "line " + std::to_string(i) + "\n";
      expected += line;
      w->write(buffer::copy_of(line));
    }
    w->uncork();
    const std::string big = pattern(512 * 1024, 9);
    expected += big;
    w->end(buffer(std::string(big)));
    bool finished = false;
    w->on_finish([&] { finished = true; });
    run(loop);
    EXPECT_TRUE(finished);
    EXPECT_FALSE(w->errored()) << w->error_message();
    calls = w->write_syscalls();
    EXPECT_EQ(w->bytes_written(), expected.size());
  }
  p.close_w();  // the redirect is gone: this was the last write end
  EXPECT_EQ(reader.join(), expected);
  EXPECT_GE(calls, 2u);  // the 100 corked lines in one writev(2), then the big chunk
  EXPECT_LE(calls, 10u);
  p.close_r();
}

TEST(Stdout, ClosedPipeFailsWithBrokenPipe) {
  std::signal(SIGPIPE, SIG_IGN);  // as a filter program must (the library never changes it)
  pipe_fds p;
  p.close_r();
  std::error_code err;
  std::error_code write_ec;
  std::string message;
  {
    redirect out(1, p.w);
    manual_loop loop;
    auto w = sluice::make_stdout(loop);
    w->on_error([&](std::error_code ec) { err = ec; });
    w->write(buffer::copy_of("nobody reads this\n"), [&](std::error_code ec) { write_ec = ec; });
    w->end();
    run(loop);
    message = w->error_message();
    EXPECT_TRUE(w->closed());
  }
  p.close_w();
  EXPECT_EQ(err, std::errc::broken_pipe);
  EXPECT_EQ(write_ec, std::errc::broken_pipe);
  EXPECT_TRUE(sluice::is_broken_pipe(err));
  EXPECT_FALSE(sluice::is_broken_pipe(std::make_error_code(std::errc::io_error)));
  EXPECT_FALSE(sluice::is_broken_pipe({}));
  EXPECT_EQ(message, "write '<stdout>': Broken pipe");
}

TEST(Stdout, EndDoesNotCloseTheDescriptor) {
  pipe_fds p;
  {
    manual_loop loop;
    auto w = sluice::make_fd_writer(loop, p.w);
    EXPECT_EQ(w->name(), "fd " + std::to_string(p.w));
    w->end(buffer::copy_of("abc"));
    run(loop);
    EXPECT_TRUE(w->finished());
  }
  EXPECT_EQ(::write(p.w, "def", 3), 3);  // still open
  p.close_w();
  char buf[16];
  EXPECT_EQ(::read(p.r, buf, sizeof buf), 6);
  EXPECT_EQ(std::string(buf, 6), "abcdef");
  p.close_r();
}

TEST(Stderr, IsDescriptorTwo) {
  manual_loop loop;
  auto w = sluice::make_stderr(loop);
  EXPECT_EQ(w->fd(), 2);
  EXPECT_EQ(w->name(), "<stderr>");
  auto o = sluice::make_stdout(loop);
  EXPECT_EQ(o->fd(), 1);
}

}  // namespace
