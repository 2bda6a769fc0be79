// 20-validating-writer: bad records go to a rejects file, good ones to the output.
//
//   example-20-validating-writer [DIR]
//
// Writes key=value records through a validating_writer<buffer> whose validator wants a '='
// and a non-empty key; with the `divert` policy invalid records are written to DIR/rejects.txt
// (with its backpressure) and valid ones to DIR/good.txt. Prints the counts and the reasons.
#include <boost/asio/io_context.hpp>
#include <cstdio>
#include <filesystem>
#include <optional>
#include <sluice/core.hpp>
#include <sluice/io.hpp>
#include <sluice/sinks/validating_writer.hpp>
#include <string>
#include <string_view>

int main(int argc, char** argv) {
  const std::filesystem::path dir =
      argc > 1 ? std::filesystem::path(argv[1]) : std::filesystem::temp_directory_path();

  boost::asio::io_context io;
  sluice::asio_loop loop(io);
  auto good = sluice::make_file_writer(loop, dir / "good.txt");
  auto rejects = sluice::make_file_writer(loop, dir / "rejects.txt");
  auto out = sluice::make_validating_writer<sluice::buffer>(
      loop, good,
      {.validator = [](const sluice::buffer& b) -> std::optional<std::string> {
         const std::string_view s = b.view();
         const auto eq = s.find('=');
         if (eq == std::string_view::npos) return "no '='";
         if (eq == 0) return "empty key";
         return std::nullopt;
       },
       .on_invalid = sluice::invalid_policy::divert,
       .rejects = rejects});

  for (const char* record : {"user=ada\n", "garbage\n", "=nokey\n", "lang=c++\n", "x=1\n"})
    out->write(sluice::buffer::copy_of(record));
  out->end();
  std::string failure;
  out->on_error([&](std::error_code) { failure = out->error_message(); });
  io.run();

  if (!failure.empty()) {
    std::fprintf(stderr, "failed: %s\n", failure.c_str());
    return 1;
  }
  const auto& c = out->counts();
  std::printf("valid %llu, invalid %llu (diverted %llu) -> %s, %s\n",
              static_cast<unsigned long long>(c.valid), static_cast<unsigned long long>(c.invalid),
              static_cast<unsigned long long>(c.diverted), (dir / "good.txt").string().c_str(),
              (dir / "rejects.txt").string().c_str());
  for (const auto& r : out->recent_rejections())
    std::printf("  item %zu: %s\n", r.index, r.reason.c_str());
  return 0;
}
