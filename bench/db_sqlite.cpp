// sluice-bench sqlite: rows into an SQLite file through db::make_sqlite_writer, and back through
// db::sqlite_reader (scripts/bench-sqlite.sh runs them beside the sqlite3 CLI and Node's
// better-sqlite3).
//
//   sluice-bench sqlite write --rows N --file F [--batch B] [--sync full|normal]
//   sluice-bench sqlite read  --rows N --file F        (reads back what `write` wrote)
//   sluice-bench sqlite csv   --rows N --file F        (the same rows as CSV, for `.import`)
//
// Rows are (id bigint, name text, v double, at timestamp): id i, name "name-<i mod 1000>",
// v i/4, at 2026-01-01T00:00:00Z + i seconds (RFC 3339 text). `write` creates the table, WAL,
// the given synchronous, one transaction per batch, and a producer that waits for 'drain'.
#include <CLI/CLI.hpp>

#include <boost/asio/io_context.hpp>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <string>
#include <tuple>

#include "bench.hpp"
#include "sluice/core/asio_loop.hpp"
#include "sluice/db/sqlite.hpp"

namespace sluice_bench {

namespace {

namespace db = sluice::db;
using row = std::tuple<std::int64_t, std::string, double, db::timestamp>;

struct sqlite_options {
  std::uint64_t rows = 1'000'000;
  std::size_t batch = 1000;
  std::string file = "bench.db";
  std::string sync = "full";
};
sqlite_options sq;
CLI::App* write_cmd = nullptr;
CLI::App* read_cmd = nullptr;
CLI::App* csv_cmd = nullptr;

db::timestamp base_time() {
  using namespace std::chrono;
  return db::timestamp(sys_days(2026y / 1 / 1));
}

row make_row(std::int64_t i, db::timestamp base) {
  return {i, "name-" + std::to_string(i % 1000), static_cast<double>(i) / 4.0,
          base + std::chrono::seconds(i)};
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

int run_write() {
  namespace fs = std::filesystem;
  for (const char* suffix : {"", "-wal", "-shm"}) fs::remove(sq.file + suffix);
  boost::asio::io_context io;
  sluice::asio_loop loop(io);
  auto w = db::make_sqlite_writer<row>(
      loop, sq.file, "t",
      {.batch_rows = sq.batch,
       .create_table = true,
       .columns = {"id", "name", "v", "at"},
       .synchronous =
           sq.sync == "normal" ? db::sqlite_synchronous::normal : db::sqlite_synchronous::full});
  const auto base = base_time();
  const auto n = static_cast<std::int64_t>(sq.rows);
  std::int64_t next = 0;
  std::uint64_t acked = 0;
  bool ok = false;
  const auto t0 = std::chrono::steady_clock::now();
  std::function<void()> produce = [&] {
    while (next < n) {
      const bool last = next + 1 == n;
      const bool more = last ? w->write(make_row(next, base),
                                        [&](std::error_code ec) {
                                          if (!ec)
                                            acked = static_cast<std::uint64_t>(
                                                n);  // in order: all before it are in too
                                        })
                             : w->write(make_row(next, base));
      ++next;
      if (!more && next < n) {
        w->once_drain(produce);
        return;
      }
    }
    w->end([&](std::error_code ec) { ok = !ec; });
  };
  w->on_error([&](std::error_code) { std::fprintf(stderr, "%s\n", w->error_message().c_str()); });
  produce();
  io.run();
  const double secs = seconds_since(t0);
  if (!ok || acked != sq.rows) return 1;
  std::printf("RESULT sqlite_write rows=%llu batch=%zu sync=%s seconds=%.3f rows_per_s=%.0f\n",
              static_cast<unsigned long long>(sq.rows), sq.batch, sq.sync.c_str(), secs,
              static_cast<double>(sq.rows) / secs);
  return 0;
}

int run_read() {
  boost::asio::io_context io;
  sluice::asio_loop loop(io);
  const auto t0 = std::chrono::steady_clock::now();
  auto r = db::make_sqlite_reader<row>(loop, sq.file, "SELECT id, name, v, at FROM t", {},
                                       {.high_water_mark = 1000});
  std::uint64_t n = 0;
  std::int64_t sum = 0;
  bool ended = false;
  r->on_data([&](row&& x) {
    ++n;
    sum += std::get<0>(x);
  });
  r->on_end([&] { ended = true; });
  r->on_error([&](std::error_code) { std::fprintf(stderr, "%s\n", r->error_message().c_str()); });
  io.run();
  const double secs = seconds_since(t0);
  const auto m = static_cast<std::int64_t>(sq.rows);
  if (!ended || n != sq.rows || sum != m * (m - 1) / 2) return 1;
  std::printf("RESULT sqlite_read rows=%llu seconds=%.3f rows_per_s=%.0f\n",
              static_cast<unsigned long long>(n), secs, static_cast<double>(n) / secs);
  return 0;
}

int run_csv() {
  std::ofstream out(sq.file, std::ios::binary);
  const auto base = base_time();
  std::string line;
  for (std::int64_t i = 0; i < static_cast<std::int64_t>(sq.rows); ++i) {
    auto [id, name, v, at] = make_row(i, base);
    char num[32];
    std::snprintf(num, sizeof num, "%.17g", v);
    line = std::to_string(id) + "," + name + "," + num + "," + db::format_timestamp(at) + "\n";
    out << line;
  }
  return out.good() ? 0 : 1;
}

}  // namespace

CLI::App* add_sqlite_subcommand(CLI::App& app) {
  CLI::App* cmd = app.add_subcommand("sqlite", "SQLite writer and reader (bench/db_sqlite.cpp)");
  cmd->require_subcommand(1);
  write_cmd = cmd->add_subcommand("write", "Rows into a new file, one transaction per batch");
  read_cmd = cmd->add_subcommand("read", "Reads back what `write` wrote");
  csv_cmd = cmd->add_subcommand("csv", "The same rows as CSV (for the sqlite3 CLI's .import)");
  for (CLI::App* c : {write_cmd, read_cmd, csv_cmd}) {
    c->add_option("--rows,-n", sq.rows, "Rows")
        ->check(CLI::Range(std::uint64_t{1}, std::uint64_t{1} << 36))
        ->capture_default_str();
    c->add_option("--file,-f", sq.file, "The database (or CSV) file")->capture_default_str();
  }
  write_cmd->add_option("--batch,-b", sq.batch, "Rows per transaction")
      ->check(CLI::Range(std::size_t{1}, std::size_t{1} << 24))
      ->capture_default_str();
  write_cmd->add_option("--sync", sq.sync, "PRAGMA synchronous")
      ->check(CLI::IsMember({"full", "normal"}))
      ->capture_default_str();
  return cmd;
}

int run_sqlite_subcommand() {
  if (*write_cmd) return run_write();
  if (*read_cmd) return run_read();
  if (*csv_cmd) return run_csv();
  return 1;
}

}  // namespace sluice_bench
