// 28-postgres: load rows into PostgreSQL with COPY, at the database's pace, and read them back.
//
// Creates the table sluice_example_events (bigint, text, double, timestamptz) if it is not
// there, empties it, loads ROWS generated rows through make_pg_copy_writer (the producer waits
// for 'drain' whenever write() returns false: the server's pace is the backpressure), then reads
// the first rows back with pg_reader and prints them, with the load's rate.
//
//   example-28-postgres 'CONNINFO' [ROWS]
//   example-28-postgres 'host=/tmp/pg user=sluice dbname=postgres' 100000
//
// (scripts/pg-server.sh start /tmp/pg gives a server for that connection string.)
// GCC 12 warns, wrongly, that end()'s empty std::optional<event> may be used uninitialized
// (a std::string inside an optional that is never engaged).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

#include <boost/asio/io_context.hpp>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <memory>
#include <string>

#include <sluice/core.hpp>
#include <sluice/db/postgres.hpp>

namespace {

struct event {
  std::int64_t id;
  std::string name;
  double value;
  sluice::db::timestamp at;
};

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s 'CONNINFO' [ROWS]\n", argv[0]);
    return 2;
  }
  const std::string conninfo = argv[1];
  const std::int64_t rows = argc > 2 ? std::atoll(argv[2]) : 100000;
  boost::asio::io_context io;
  sluice::asio_loop loop(io);
  int status = 0;
  // The streams live until the run ends.
  std::shared_ptr<sluice::db::pg_reader<event>> r;
  std::shared_ptr<sluice::batch_writer<event>> w;

  auto read_back = [&] {
    r = sluice::db::make_pg_reader<event>(
        loop, conninfo, "SELECT * FROM sluice_example_events ORDER BY id LIMIT 3");
    r->on_data([](event&& e) {
      std::printf("%lld\t%s\t%g\t%s\n", static_cast<long long>(e.id), e.name.c_str(), e.value,
                  sluice::db::format_timestamp(e.at).c_str());
    });
    r->on_error([&](std::error_code) {
      std::fprintf(stderr, "%s\n", r->error_message().c_str());
      status = 1;
    });
  };

  auto load = [&] {
    const auto start = std::chrono::steady_clock::now();
    w = sluice::db::make_pg_copy_writer<event>(loop, conninfo, "sluice_example_events",
                                               {.batch = {.max_items = 10000}});
    auto next = std::make_shared<std::int64_t>(0);
    auto produce = [&w, next, rows] {
      const auto base = sluice::db::timestamp(std::chrono::seconds(1'800'000'000));
      while (*next < rows) {
        const std::int64_t i = (*next)++;
        const bool more = w->write(
            event{i, "event " + std::to_string(i), i * 0.25, base + std::chrono::milliseconds(i)});
        if (!more) return;  // wait for 'drain'
      }
      w->end();
    };
    w->on_drain(produce);
    w->on_error([&](std::error_code) {
      std::fprintf(stderr, "%s\n", w->error_message().c_str());
      status = 1;
    });
    w->on_finish([&, start] {
      const double s =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      std::printf("loaded %lld rows in %.2f s (%.0f rows/s), %llu batches\n",
                  static_cast<long long>(rows), s, static_cast<double>(rows) / s,
                  static_cast<unsigned long long>(w->stats().batches));
      read_back();
    });
    produce();
  };

  sluice::db::pg_execute(
      loop, conninfo,
      "CREATE TABLE IF NOT EXISTS sluice_example_events (id bigint PRIMARY KEY, name text, "
      "value double precision, at timestamptz); TRUNCATE sluice_example_events",
      [&](std::error_code ec, const std::string& message) {
        if (ec) {
          std::fprintf(stderr,
                       "%s\nno PostgreSQL server reachable with that connection string? "
                       "(scripts/pg-server.sh start /tmp/pg gives one: "
                       "'host=/tmp/pg user=sluice dbname=postgres')\n",
                       message.c_str());
          status = 1;
          return;
        }
        load();
      });
  io.run();
  return status;
}
