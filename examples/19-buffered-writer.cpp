// 19-buffered-writer: many small writes become a few large ones, on an Asio loop.
//
//   example-19-buffered-writer [DST]
//
// Writes 10,000 short log lines through a buffered_writer in front of a file_writer, waiting for
// 'drain' whenever write() says so, then prints how many gather writes reached the file. A
// buffer goes to the file when it holds 4 KiB (at once, from within write()), or 50 ms after
// its first line; each line's callback runs only once the file accepted it. Then it writes one
// more line and lets it sit: the 50 ms timer (armed by that line, none while idle) flushes it,
// and io.run() returns once everything is done, since an idle writer arms no timer.
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <sluice/core.hpp>
#include <sluice/io.hpp>
#include <sluice/sinks/buffered_writer.hpp>
#include <string>

int main(int argc, char** argv) {
  using namespace std::chrono_literals;
  const std::filesystem::path dst =
      argc > 1 ? std::filesystem::path(argv[1])
               : std::filesystem::temp_directory_path() / "sluice-example-19.log";

  boost::asio::io_context io;
  sluice::asio_loop loop(io);
  auto file = sluice::make_file_writer(loop, dst);
  auto out =
      sluice::make_buffered_writer(loop, file, {.buffer_size = 4096, .flush_interval = 50ms});

  constexpr int lines = 10000;
  int acknowledged = 0;
  int next = 0;
  sluice::loop::time_point last_at{};
  // Writes until write() asks to wait, then resumes at 'drain'.
  std::function<void()> produce = [&] {
    while (next < lines) {
      const std::string line = "event " + std::to_string(next++) + "\n";
      if (!out->write(sluice::buffer::copy_of(line), [&](std::error_code ec) {
            if (!ec) ++acknowledged;
          })) {
        out->once_drain(produce);
        return;
      }
    }
    // Everything so far into the file, then one more line left for its buffer's timer.
    out->flush([&](std::error_code ec) {
      if (ec) return;
      last_at = loop.now();
      out->write(sluice::buffer::copy_of("last\n"), [&](std::error_code e) {
        if (e) return;
        ++acknowledged;
        const auto waited =
            std::chrono::duration_cast<std::chrono::milliseconds>(loop.now() - last_at);
        std::printf("last line acknowledged %lld ms after it was written\n",
                    static_cast<long long>(waited.count()));
        out->end();
      });
    });
  };
  produce();
  std::string failure;
  out->on_error([&](std::error_code) { failure = out->error_message(); });
  io.run();

  if (!failure.empty()) {
    std::fprintf(stderr, "failed: %s\n", failure.c_str());
    return 1;
  }
  std::printf("%d lines (+1), %d acknowledged, %llu bytes in %llu gather writes to %s\n", lines,
              acknowledged, static_cast<unsigned long long>(out->bytes_flushed()),
              static_cast<unsigned long long>(out->flush_count()), dst.string().c_str());
  return 0;
}
