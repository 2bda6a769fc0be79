// 27-sqlite: 100,000 rows into an SQLite file, one transaction per 1,000 rows, then read back
// with a query, a few rows at a time.
//
// The producer writes while write() allows and waits for 'drain': a row counts as buffered until
// the COMMIT of its batch (synchronous=FULL: until it is on disk), so the writer holds at most
// two batches whatever the input size. The reader steps the query only as rows are consumed.
//
//   example-27-sqlite [FILE]      (default: a file in the temporary directory, removed after)
#include <boost/asio/io_context.hpp>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <system_error>

#include <sluice/core.hpp>
#include <sluice/db/sqlite.hpp>

namespace db = sluice::db;

struct reading {
  std::int64_t id;
  std::string sensor;
  double value;
  db::timestamp at;
  std::optional<std::string> note;  // NULL when empty
};

int main(int argc, char** argv) {
  namespace fs = std::filesystem;
  const bool own = argc < 2;
  const std::string path =
      own ? (fs::temp_directory_path() / "sluice-example-27.db").string() : argv[1];
  if (own)
    for (const char* suffix : {"", "-wal", "-shm"}) fs::remove(path + suffix);

  boost::asio::io_context io;
  sluice::asio_loop loop(io);
  auto w = db::make_sqlite_writer<reading>(loop, path, "readings",
                                           {.batch_rows = 1000,
                                            .create_table = true,
                                            .columns = {"id", "sensor", "value", "at", "note"}});
  constexpr std::int64_t total = 100'000;
  const auto t0 = std::chrono::system_clock::now();
  std::int64_t next = 0;
  std::size_t peak = 0;
  std::shared_ptr<sluice::readable<std::tuple<std::int64_t, double, db::timestamp>>> reader;
  std::function<void()> produce = [&] {
    while (next < total) {
      const std::int64_t i = next++;
      std::string sensor = "s";  // (two steps: GCC 12's -Wrestrict misfires on "s" + ...)
      sensor += std::to_string(i % 7);
      reading r{
          i, std::move(sensor), i * 0.5,
          std::chrono::time_point_cast<std::chrono::microseconds>(t0) + std::chrono::seconds(i),
          i % 10 == 0 ? std::optional<std::string>("check") : std::nullopt};
      const bool more = w->write(std::move(r));
      peak = std::max(peak, w->writable_length());
      if (!more) {
        w->once_drain(produce);
        return;
      }
    }
    w->end([&](std::error_code ec) {
      if (ec) return;
      std::printf("wrote %lld rows; at most %zu rows held before their COMMIT\n",
                  static_cast<long long>(total), peak);
      // Read some back: the ten highest values of one sensor.
      auto r = reader = db::make_sqlite_reader<std::tuple<std::int64_t, double, db::timestamp>>(
          loop, path,
          "SELECT id, value, at FROM readings WHERE sensor = ? ORDER BY value DESC LIMIT 10",
          {db::value(std::string("s3"))});
      r->on_data([](std::tuple<std::int64_t, double, db::timestamp>&& row) {
        std::printf("  id %lld value %.1f at %s\n", static_cast<long long>(std::get<0>(row)),
                    std::get<1>(row), db::format_timestamp(std::get<2>(row)).c_str());
      });
      r->on_error([r = r.get()](std::error_code) {
        std::fprintf(stderr, "%s\n", r->error_message().c_str());
      });
    });
  };
  w->on_error([&](std::error_code) { std::fprintf(stderr, "%s\n", w->error_message().c_str()); });
  produce();
  io.run();
  if (own)
    for (const char* suffix : {"", "-wal", "-shm"}) fs::remove(path + suffix);
  return w->errored() ? 1 : 0;
}
