// 33-supervision: a pipeline that rides out a missing input, a missing output directory and bad
// lines, with sluice's supervision policies instead of failing on the first error.
//
//   source  supervise_source: a file reader made by a factory. The input file is not there yet
//           (another process delivers it a moment later): the first instance fails with ENOENT,
//           the supervisor waits (exponential backoff) and makes a new one, which starts at the
//           byte the last one had delivered (restart_context::bytes).
//   parse   skip_errors: each line must be an integer; a line that is not is dropped, counted
//           and reported, and the rest go on.
//   sink    supervise_sink: a file writer made by a factory, into a directory that does not
//           exist yet (it is mounted a moment later): the first instance fails, the next one gets
//           every write the failed one had not acknowledged.
//
//   example-33-supervision [DIR]   (default: a new directory under the system's temp dir)
#include <boost/asio/io_context.hpp>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sluice/codec.hpp>
#include <sluice/compose.hpp>
#include <sluice/io.hpp>
#include <string>
#include <system_error>

#include <unistd.h>

namespace fs = std::filesystem;
using namespace std::chrono_literals;

int main(int argc, char** argv) {
  const fs::path dir =
      argc > 1 ? fs::path(argv[1])
               : fs::temp_directory_path() / ("sluice-supervision-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const fs::path input = dir / "numbers.txt";
  const fs::path out_dir = dir / "out";
  fs::remove(input);
  fs::remove_all(out_dir);

  boost::asio::io_context io;
  sluice::asio_loop loop(io);

  // The source: the input appears after the first failure (here the observer writes it, as the
  // other process would).
  auto source = sluice::supervise_source<sluice::buffer>(
      loop,
      [&](const sluice::restart_context& c) {
        return sluice::make_file_reader(loop, input, {.start = c.bytes, .name = input.string()});
      },
      {.backoff_base = 50ms,
       .on_restart =
           [&](const sluice::restart_event& e) {
             std::printf("source: %s; restart %u in %.0f ms\n", e.message.c_str(), e.restart,
                         std::chrono::duration<double, std::milli>(e.delay).count());
             std::ofstream f(input);
             for (int i = 1; i <= 1000; ++i)
               f << (i % 100 == 0 ? "n/a" : std::to_string(i)) << '\n';
           },
       .name = "numbers"});

  auto split = std::make_shared<sluice::line_splitter>(loop);

  // Each line to its square; a line that is not a number fails its item only.
  std::uint64_t skipped = 0;
  auto square = sluice::skip_errors(
      sluice::make_transform<std::string, sluice::buffer>(
          loop, {.name = "square"},
          [](auto&, std::string&& line, auto cb) {
            long long n = 0;
            auto [end, ec] = std::from_chars(line.data(), line.data() + line.size(), n);
            if (ec != std::errc{} || end != line.data() + line.size())
              return cb(std::make_error_code(std::errc::invalid_argument));
            cb(sluice::buffer(std::to_string(n * n) + "\n"));
          }),
      {.on_skip = [&](const sluice::skipped_item& s) {
        if (++skipped <= 3) std::printf("%s\n", s.message().c_str());
      }});

  // The sink: the output directory appears after the first failure.
  auto sink = sluice::supervise_sink<sluice::buffer>(
      loop,
      [&](const sluice::restart_context&) {
        return sluice::make_file_writer(loop, out_dir / "squares.txt", {.atomic = true});
      },
      {.backoff_base = 50ms,
       .on_restart =
           [&](const sluice::restart_event& e) {
             std::printf("sink: %s; %zu writes to redo; restart %u\n", e.message.c_str(),
                         e.in_flight, e.restart);
             fs::create_directories(out_dir);
           },
       .name = "squares"});

  int status = 1;
  sluice::pipeline(source, split, square, sink, [&](const sluice::pipeline_error& e) {
    if (e) {
      std::fprintf(stderr, "pipeline failed: %s\n", e.message().c_str());
      return;
    }
    status = 0;
  });
  io.run();

  std::ifstream result(out_dir / "squares.txt");
  std::size_t lines = 0;
  for (std::string l; std::getline(result, l);) ++lines;
  std::printf(
      "%zu squares written to %s; %llu lines skipped; source restarts %llu, sink restarts %llu\n",
      lines, (out_dir / "squares.txt").c_str(), static_cast<unsigned long long>(skipped),
      static_cast<unsigned long long>(source->counters().restarts),
      static_cast<unsigned long long>(sink->counters().restarts));
  if (argc <= 1) fs::remove_all(dir);
  return status != 0 || lines != 990 ? 1 : 0;
}
