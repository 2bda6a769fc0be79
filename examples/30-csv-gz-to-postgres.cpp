// 30-csv-gz-to-postgres: a gzipped CSV file into a PostgreSQL table, then the table out as JSON
// lines: two pipelines with the server's pace as their backpressure.
//
//   example-30-csv-gz-to-postgres CONNINFO [DIR]
//   example-30-csv-gz-to-postgres "host=/tmp/pg user=sluice dbname=postgres"
//
// CONNINFO is libpq's ("host=... dbname=...", or a postgresql:// URL). The example writes
// DIR/measures.csv.gz (20,000 rows), creates the table `example_measures`, then runs
//   file → gunzip → parse_csv (records, names from the header) → pg COPY writer
// (one COPY per 5,000 rows; a row counts as done only once its COPY has committed), and
//   pg reader (COPY (query) TO STDOUT, read only as fast as it is consumed) → write_jsonl → file.
// Without a reachable server it says so and exits 1.
#include <boost/asio/io_context.hpp>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include <sluice/codec/gzip.hpp>
#include <sluice/compose.hpp>
#include <sluice/core.hpp>
#include <sluice/db/csv.hpp>
#include <sluice/db/jsonl.hpp>
#include <sluice/db/postgres.hpp>
#include <sluice/io.hpp>

namespace db = sluice::db;

int main(int argc, char** argv) {
  namespace fs = std::filesystem;
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s CONNINFO [DIR]\n", argv[0]);
    return 2;
  }
  const std::string conninfo = argv[1];
  fs::path dir;
  if (argc > 2) {
    dir = argv[2];
  } else {
    std::string tmpl = (fs::temp_directory_path() / "sluice-pg-XXXXXX").string();
    if (::mkdtemp(tmpl.data()) == nullptr) return 1;
    dir = tmpl;
  }
  {
    std::ofstream csv(dir / "measures.csv");
    csv << "id,station,celsius\n";
    for (int i = 0; i < 20'000; ++i)
      csv << i << ",\"station " << i % 40 << "\"," << (i % 17 == 0 ? "" : std::to_string(i % 35))
          << '\n';
  }
  if (std::system(("gzip -f '" + (dir / "measures.csv").string() + "'").c_str()) != 0) return 1;

  boost::asio::io_context io;
  sluice::asio_loop loop(io);
  int status = 0;
  auto fail = [&](const std::string& what) {
    std::fprintf(stderr, "failed: %s\n", what.c_str());
    status = 1;
  };

  // The table, made afresh.
  db::pg_execute(loop, conninfo,
                 "DROP TABLE IF EXISTS example_measures; CREATE TABLE example_measures (id "
                 "bigint PRIMARY KEY, station text NOT NULL, celsius double precision)",
                 [&](std::error_code ec, const std::string& message) {
                   if (ec) fail(message);
                 });
  io.run();
  if (status != 0) return status;

  // Load: the gzipped CSV into the table.
  db::pg_copy_options<db::record> copy;
  copy.batch.max_items = 5000;
  sluice::pipeline(sluice::make_file_reader(loop, dir / "measures.csv.gz"),
                   sluice::make_gunzip(loop), db::parse_csv(loop, {.header = true}),
                   db::make_pg_record_writer(loop, conninfo, "example_measures", copy),
                   [&](const sluice::pipeline_error& e) {
                     if (e)
                       fail(e.message());
                     else
                       std::printf("loaded measures.csv.gz into example_measures\n");
                   });
  io.restart();
  io.run();
  if (status != 0) return status;

  // Export: a query to JSON lines.
  const fs::path out = dir / "cold.jsonl";
  sluice::pipeline(
      db::make_pg_record_reader(loop, conninfo,
                                "SELECT station, count(*) AS readings, min(celsius) AS coldest "
                                "FROM example_measures GROUP BY station ORDER BY station"),
      db::write_jsonl(loop), sluice::make_file_writer(loop, out),
      [&](const sluice::pipeline_error& e) {
        if (e) fail(e.message());
      });
  io.restart();
  io.run();
  if (status == 0) {
    std::ifstream in(out);
    std::string line;
    for (int i = 0; i < 3 && std::getline(in, line); ++i) std::printf("  %s\n", line.c_str());
    std::printf("  ... (%s)\n", out.c_str());
  }
  if (argc <= 2) fs::remove_all(dir);
  return status;
}
