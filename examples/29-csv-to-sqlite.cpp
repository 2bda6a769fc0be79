// 29-csv-to-sqlite: a CSV file into a SQLite table as typed rows, in one pipeline.
//
//   example-29-csv-to-sqlite [DIR]     (default DIR: a new temporary directory)
//
// Writes DIR/events.csv (50,000 rows with a header), then runs file → parse_csv<event> →
// sqlite writer: each row is converted to its struct's field types by the parser (a bad value
// would fail the pipeline naming its line and column) and committed 1,000 rows per transaction.
// The pipeline's backpressure is SQLite's own pace: rows wait in the writer until their batch's
// COMMIT, and the file is read no faster. Then it counts the rows back with a query.
#include <boost/asio/io_context.hpp>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <tuple>

#include <sluice/compose.hpp>
#include <sluice/core.hpp>
#include <sluice/db/csv.hpp>
#include <sluice/db/sqlite.hpp>
#include <sluice/io.hpp>

namespace db = sluice::db;

struct event {
  std::int64_t id;
  std::string kind;
  double value;
  std::optional<std::string> note;  // an empty CSV field is NULL
};

int main(int argc, char** argv) {
  namespace fs = std::filesystem;
  fs::path dir;
  if (argc > 1) {
    dir = argv[1];
  } else {
    std::string tmpl = (fs::temp_directory_path() / "sluice-sqlite-XXXXXX").string();
    if (::mkdtemp(tmpl.data()) == nullptr) return 1;
    dir = tmpl;
  }
  {
    std::ofstream csv(dir / "events.csv");
    csv << "id,kind,value,note\n";
    for (int i = 0; i < 50'000; ++i)
      csv << i << ',' << (i % 3 == 0 ? "click" : "view") << ',' << i * 0.25 << ','
          << (i % 100 == 0 ? "\"hundred, round\"" : "") << '\n';
  }
  const fs::path database = dir / "events.db";
  fs::remove(database);

  boost::asio::io_context io;
  sluice::asio_loop loop(io);
  int status = 0;
  auto writer = db::make_sqlite_writer<event>(
      loop, database.string(), "events",
      {.batch_rows = 1000, .create_table = true, .columns = {"id", "kind", "value", "note"}});
  sluice::pipeline(
      sluice::make_file_reader(loop, dir / "events.csv"),
      db::parse_csv<event>(loop, {.header = true}), writer, [&](const sluice::pipeline_error& e) {
        if (e) {
          std::printf("failed: %s\n", e.message().c_str());
          status = 1;
          return;
        }
        std::printf("loaded %s into %s\n", (dir / "events.csv").c_str(), database.c_str());
      });
  io.run();
  if (status != 0) return status;

  // Read back: how many of each kind, and how many notes.
  using count_row = std::tuple<std::string, std::int64_t, std::int64_t>;
  auto reader = db::make_sqlite_reader<count_row>(
      loop, database.string(), "SELECT kind, count(*), count(note) FROM events GROUP BY kind");
  reader->on_data([](count_row&& r) {
    std::printf("  %-5s %6lld rows, %3lld with a note\n", std::get<0>(r).c_str(),
                static_cast<long long>(std::get<1>(r)), static_cast<long long>(std::get<2>(r)));
  });
  reader->on_error([&](std::error_code) {
    std::printf("failed: %s\n", reader->error_message().c_str());
    status = 1;
  });
  io.restart();
  io.run();
  if (argc <= 1) fs::remove_all(dir);
  return status;
}
