// 21-log-writer: structured records to the terminal as text, and to a rotating JSON-lines file.
//
//   example-21-log-writer [DIR]     (default DIR: a new temporary directory)
//
// The console writer prints text lines to stdout (warnings and below) and stderr (errors). The
// file writer keeps DIR/app.log under 512 bytes: each time the next record would not fit, the
// file is rotated to app.log.1 (gzipped to app.log.1.gz), older ones shifted, 3 kept. Each
// record's callback means its line is in the file; the program waits for 'drain' when write()
// says so. At the end it lists the files and the counters.
#include <algorithm>
#include <boost/asio/io_context.hpp>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <sluice/core.hpp>
#include <sluice/sinks/log_writer.hpp>
#include <string>
#include <vector>

int main(int argc, char** argv) {
  namespace fs = std::filesystem;
  fs::path dir;
  if (argc > 1) {
    dir = argv[1];
  } else {
    std::string tmpl = (fs::temp_directory_path() / "sluice-log-XXXXXX").string();
    if (::mkdtemp(tmpl.data()) == nullptr) return 1;
    dir = tmpl;
  }

  boost::asio::io_context io;
  sluice::asio_loop loop(io);
  using sluice::log_level;

  // 1. The console, as text; errors to stderr.
  auto console = sluice::make_console_log_writer(
      loop, {.format = sluice::log_format::text, .min_level = log_level::debug});
  console->write({.level = log_level::debug, .message = "starting", .fields = {{"pid", 42}}});
  console->write({.level = log_level::info,
                  .message = "listening",
                  .fields = {{"port", 8080}, {"host", "localhost"}, {"tls", false}}});
  console->write({.level = log_level::warn,
                  .message = "slow request",
                  .fields = {{"path", "/a b"}, {"ms", 812.5}}});
  console->write(
      {.level = log_level::error, .message = "upstream failed", .fields = {{"code", 503}}});
  console->write({.level = log_level::trace, .message = "dropped: below min_level"});
  console->end();

  // 2. A rotating file, as JSON lines, every record kept in the file (errors = nullptr).
  auto file = sluice::make_log_file_writer(
      loop, {.path = dir / "app.log", .max_bytes = 512, .keep = 3, .gzip_rotated = true},
      {.errors = nullptr});
  int next = 0;
  std::function<void()> produce = [&] {
    while (next < 30) {
      const int i = next++;
      const bool more = file->write({.level = i % 10 == 9 ? log_level::warn : log_level::info,
                                     .message = "request done",
                                     .fields = {{"seq", i}, {"quote", "say \"hi\"\n"}}});
      if (!more) {
        file->once_drain(produce);  // the file is behind: wait for it
        return;
      }
    }
    file->end([&](std::error_code ec) {
      if (ec) std::fprintf(stderr, "log file failed: %s\n", file->error_message().c_str());
    });
  };
  produce();
  io.run();

  const sluice::log_writer_stats st = file->stats();
  std::printf("\n%s: %llu records, %llu bytes, %llu rotations\n", (dir / "app.log").c_str(),
              static_cast<unsigned long long>(st.written[std::size_t(log_level::info)] +
                                              st.written[std::size_t(log_level::warn)]),
              static_cast<unsigned long long>(st.bytes_written),
              static_cast<unsigned long long>(st.rotations));
  std::vector<fs::path> files(fs::directory_iterator(dir), fs::directory_iterator{});
  std::sort(files.begin(), files.end());
  for (const auto& f : files)
    std::printf("  %-14s %6llu bytes\n", f.filename().c_str(),
                static_cast<unsigned long long>(fs::file_size(f)));
  return 0;
}
