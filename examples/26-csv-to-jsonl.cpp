// 26-csv-to-jsonl: a CSV file to JSON lines, as records and as typed rows.
//
//   example-26-csv-to-jsonl [DIR]     (default DIR: a new temporary directory)
//
// Writes DIR/orders.csv (a header, a quoted field with a comma and a newline, an empty field that
// is NULL), then runs two pipelines: file → parse_csv (records, column names from the header) →
// write_jsonl → DIR/orders.jsonl; and file → parse_csv<order> (typed rows) → the loop, where
// each row's fields are already an int64, a string, an optional double. Prints both outputs, and
// then what a malformed file's error says (its line and column).
#include <boost/asio/io_context.hpp>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sluice/compose.hpp>
#include <sluice/core.hpp>
#include <sluice/db/csv.hpp>
#include <sluice/db/jsonl.hpp>
#include <sluice/io.hpp>
#include <sstream>
#include <string>

namespace db = sluice::db;

struct order {
  std::int64_t id;
  std::string customer;
  std::optional<double> amount;  // an empty CSV field is NULL: nullopt
};

int main(int argc, char** argv) {
  namespace fs = std::filesystem;
  fs::path dir;
  if (argc > 1) {
    dir = argv[1];
  } else {
    std::string tmpl = (fs::temp_directory_path() / "sluice-csv-XXXXXX").string();
    if (::mkdtemp(tmpl.data()) == nullptr) return 1;
    dir = tmpl;
  }
  std::ofstream(dir / "orders.csv") << "id,customer,amount\n"
                                       "1,\"Smith, Ann\",12.5\n"
                                       "2,\"Bob\nthe second line\",\n"
                                       "3,Carla,7\n";
  std::ofstream(dir / "bad.csv") << "id,customer\n1,ok\n2,\"Bo\"b\n";

  boost::asio::io_context io;
  sluice::asio_loop loop(io);
  int failures = 0;

  // 1. Records: names from the header, every value text or NULL; to JSON lines in a file.
  sluice::pipeline(sluice::make_file_reader(loop, dir / "orders.csv"),
                   db::parse_csv(loop, {.header = true}), db::write_jsonl(loop),
                   sluice::make_file_writer(loop, dir / "orders.jsonl"),
                   [&](const sluice::pipeline_error& e) {
                     if (e) {
                       std::printf("failed: %s\n", e.message().c_str());
                       ++failures;
                     }
                   });

  // 2. Typed rows: each field converted from its text.
  auto typed = db::parse_csv<order>(loop, {.header = true});
  typed->on_data([](order&& o) {
    std::printf("order %lld: %-28s amount %s\n", static_cast<long long>(o.id),
                ("'" + o.customer + "'").c_str(),
                o.amount ? std::to_string(*o.amount).c_str() : "NULL");
  });
  sluice::make_file_reader(loop, dir / "orders.csv")->pipe(typed);

  // 3. A malformed file: the error names the line and column.
  auto bad = db::parse_csv(loop);
  bad->on_error(
      [&bad](std::error_code) { std::printf("bad.csv: %s\n", bad->error_message().c_str()); });
  bad->resume();
  sluice::make_file_reader(loop, dir / "bad.csv")->pipe(bad);

  io.run();
  std::ifstream in(dir / "orders.jsonl");
  std::stringstream text;
  text << in.rdbuf();
  std::printf("orders.jsonl:\n%s", text.str().c_str());
  return failures == 0 ? 0 : 1;
}
