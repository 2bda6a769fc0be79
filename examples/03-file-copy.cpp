// 03-file-copy: copies a file with backpressure, like `cp SRC DST`, on an Asio loop.
//
//   example-03-file-copy SRC DST [--hwm BYTES]
//
// The reader pauses whenever the writer has a highWaterMark of bytes waiting, so memory stays
// bounded whatever the file size. DST is written atomically: a failed copy leaves no partial file.
// Prints the bytes copied, or what failed ("open 'nope': No such file or directory").
#include <boost/asio/io_context.hpp>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <sluice/io.hpp>
#include <string>
#include <string_view>

int main(int argc, char** argv) {
  if (argc != 3 && !(argc == 5 && std::string_view(argv[3]) == "--hwm")) {
    std::fprintf(stderr, "usage: %s SRC DST [--hwm BYTES]\n", argv[0]);
    return 2;
  }
  std::optional<std::size_t> hwm;
  if (argc == 5) hwm = std::stoul(argv[4]);

  boost::asio::io_context io;
  sluice::asio_loop loop(io);
  auto in = sluice::make_file_reader(loop, argv[1], {.high_water_mark = hwm});
  auto out = sluice::make_file_writer(loop, argv[2], {.atomic = true, .high_water_mark = hwm});

  std::string failure;
  // pipe() unpipes on a destination error but leaves the source alone: stop it too.
  // The first failure is the one to report; the other stream is then torn down with it.
  out->on_error([&](std::error_code) {
    if (failure.empty()) failure = out->error_message();
    in->destroy();
  });
  in->on_error([&](std::error_code ec) {
    if (failure.empty()) failure = in->error_message();
    out->destroy(ec);
  });
  in->pipe(out);
  io.run();  // returns once both files are closed

  if (!failure.empty()) {
    std::fprintf(stderr, "copy failed: %s\n", failure.c_str());
    return 1;
  }
  std::printf("copied %llu bytes (peak %zu bytes buffered in the writer, %llu pauses)\n",
              static_cast<unsigned long long>(out->bytes_written()),
              out->counters().peak_writable_length,
              static_cast<unsigned long long>(out->counters().write_backpressure));
  return 0;
}
