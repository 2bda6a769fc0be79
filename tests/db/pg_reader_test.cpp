// pg_reader against the fixture's server: a consumer that stops stops the server, type errors
// naming the row and column, server errors naming the query, destroy() while paused.
#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "db/pg_support.hpp"
#include "sluice/db/postgres.hpp"

namespace {

using namespace sluice;
using namespace std::chrono_literals;
using test::psql;

using pair_row = std::tuple<std::int64_t, std::string>;

// The state of the server process running our COPY (its wait event), "" if none.
std::string copy_backend_wait() {
  return psql(
      "SELECT coalesce(wait_event, 'running') FROM pg_stat_activity WHERE query LIKE "
      "'COPY (SELECT g%' AND pid <> pg_backend_pid()");
}

TEST(PostgresReader, AConsumerThatStopsStopsTheServer) {
  SLUICE_NEED_PG();
  boost::asio::io_context io;
  asio_loop l(io);
  // ~30 MB of COPY text: far more than the socket buffers hold.
  auto r = db::make_pg_reader<pair_row>(
      l, test::pg_conninfo(), "SELECT g, repeat('x', 20) FROM generate_series(1, 1000000) AS g",
      {.high_water_mark = 64});
  bool readable = false;
  r->on_readable([&] { readable = true; });  // paused mode: nobody reads
  ASSERT_TRUE(test::run_until(io, [&] { return readable; }));
  test::run_for(io, 300ms);
  // Exactly a buffer's worth was parsed and pushed; the rest waits in the server.
  EXPECT_EQ(r->rows(), 64u);
  EXPECT_EQ(copy_backend_wait(), "ClientWrite");
  const auto before = r->rows();
  test::run_for(io, 200ms);
  EXPECT_EQ(r->rows(), before);

  // Reading resumes it; the rows come in order.
  std::int64_t expect = 1;
  for (int k = 0; k < 1000; ++k) {
    std::optional<pair_row> x;
    ASSERT_TRUE(test::run_until(io, [&] { return (x = r->read()).has_value(); }));
    ASSERT_EQ(std::get<0>(*x), expect++);
  }
  EXPECT_LE(r->rows(), 1000u + 64u + 1u);
  // Dropping the reader mid-result closes the connection: the server's COPY goes away.
  r->destroy();
  test::run_for(io, 50ms);
  ASSERT_TRUE(test::run_until(
      io, [&] { return copy_backend_wait().empty(); }, 5s));
}

TEST(PostgresReader, ReadsEveryRowToTheEnd) {
  SLUICE_NEED_PG();
  boost::asio::io_context io;
  asio_loop l(io);
  auto r = db::make_pg_reader<std::tuple<std::int64_t, std::optional<double>>>(
      l, test::pg_conninfo(),
      "SELECT g, CASE WHEN g % 10 = 0 THEN NULL ELSE g / 4.0 END FROM generate_series(1, "
      "50000) AS g");
  std::int64_t n = 0;
  int nulls = 0;
  bool end = false;
  r->on_data([&](std::tuple<std::int64_t, std::optional<double>>&& x) {
    ++n;
    EXPECT_EQ(std::get<0>(x), n);
    if (!std::get<1>(x))
      ++nulls;
    else
      EXPECT_EQ(*std::get<1>(x), static_cast<double>(n) / 4.0);
  });
  r->on_end([&] { end = true; });
  ASSERT_TRUE(test::run_until(io, [&] { return end; }));
  EXPECT_EQ(n, 50000);
  EXPECT_EQ(nulls, 5000);
}

TEST(PostgresReader, PipedIntoACopyWriterTableToTable) {
  SLUICE_NEED_PG();
  psql(
      "DROP TABLE IF EXISTS pipe_src, pipe_dst; CREATE TABLE pipe_src AS SELECT g AS id, "
      "md5(g::text) AS name FROM generate_series(1, 30000) g; CREATE TABLE pipe_dst (id "
      "bigint, name text)");
  boost::asio::io_context io;
  asio_loop l(io);
  auto r = db::make_pg_reader<pair_row>(l, test::pg_conninfo(), "SELECT id, name FROM pipe_src");
  auto w = db::make_pg_copy_writer<pair_row>(l, test::pg_conninfo(), "pipe_dst",
                                             {.batch = {.max_items = 1000}});
  bool finished = false;
  w->on_finish([&] { finished = true; });
  r->pipe(w);
  ASSERT_TRUE(test::run_until(io, [&] { return finished; }));
  // Two connections of the same server, each at its own pace: the copy is whole.
  EXPECT_EQ(psql("SELECT count(*) FROM pipe_dst d JOIN pipe_src s USING (id, name)"), "30000");
  EXPECT_EQ(w->stats().batches, 30u);
}

TEST(PostgresReader, AValueOfTheWrongTypeNamesRowAndColumn) {
  SLUICE_NEED_PG();
  boost::asio::io_context io;
  asio_loop l(io);
  auto r = db::make_pg_reader<std::tuple<std::int64_t, std::int64_t>>(
      l, test::pg_conninfo(),
      "SELECT g, CASE WHEN g = 3 THEN 'three' ELSE g::text END FROM generate_series(1, 5) g");
  std::error_code err;
  int rows = 0;
  r->on_data([&](auto&&) { ++rows; });
  r->on_error([&](std::error_code ec) { err = ec; });
  ASSERT_TRUE(test::run_until(io, [&] { return bool(err); }));
  EXPECT_EQ(err, db::pg_errc::bad_value);
  EXPECT_EQ(rows, 2);
  const std::string m = r->error_message();
  EXPECT_NE(m.find("row 3: column 2: 'three' does not convert"), std::string::npos) << m;
  EXPECT_NE(m.find("postgres query 'SELECT g, CASE"), std::string::npos) << m;
}

TEST(PostgresReader, ANullInAFieldThatIsNotOptionalIsAnError) {
  SLUICE_NEED_PG();
  boost::asio::io_context io;
  asio_loop l(io);
  auto r = db::make_pg_reader<std::tuple<std::string>>(l, test::pg_conninfo(), "SELECT NULL");
  std::error_code err;
  r->on_data([](auto&&) { ADD_FAILURE(); });
  r->on_error([&](std::error_code ec) { err = ec; });
  ASSERT_TRUE(test::run_until(io, [&] { return bool(err); }));
  EXPECT_NE(r->error_message().find("row 1: column 1: NULL"), std::string::npos)
      << r->error_message();
}

TEST(PostgresReader, AServerErrorNamesTheQueryAndTheServer) {
  SLUICE_NEED_PG();
  boost::asio::io_context io;
  asio_loop l(io);
  auto r = db::make_pg_reader<std::tuple<std::int64_t>>(l, test::pg_conninfo(),
                                                        "SELECT id FROM no_such_table");
  std::error_code err;
  r->on_error([&](std::error_code ec) { err = ec; });
  r->resume();
  ASSERT_TRUE(test::run_until(io, [&] { return bool(err); }));
  EXPECT_EQ(err, db::pg_errc::server_error);
  const std::string m = r->error_message();
  EXPECT_NE(m.find("relation \"no_such_table\" does not exist"), std::string::npos) << m;
  EXPECT_NE(m.find("SQLSTATE 42P01"), std::string::npos) << m;
  EXPECT_NE(m.find(test::pg_socket_dir()), std::string::npos) << m;
}

TEST(PostgresReader, RecordsOfAnEmptyResultEndAtOnce) {
  SLUICE_NEED_PG();
  boost::asio::io_context io;
  asio_loop l(io);
  auto r = db::make_pg_record_reader(l, test::pg_conninfo(), "SELECT 1 AS a WHERE false");
  bool end = false;
  r->on_data([](auto&&) { ADD_FAILURE(); });
  r->on_end([&] { end = true; });
  ASSERT_TRUE(test::run_until(io, [&] { return end; }));
}

TEST(PostgresReader, DestroyBeforeStartAndWhileStarting) {
  SLUICE_NEED_PG();
  boost::asio::io_context io;
  asio_loop l(io);
  for (int when = 0; when < 2; ++when) {
    auto r = db::make_pg_reader<std::tuple<std::int64_t>>(l, test::pg_conninfo(), "SELECT 1");
    bool closed = false;
    bool destroy_called = false;
    r->on_close([&] { closed = true; });
    r->on_data([&](auto&&) {
      if (destroy_called) ADD_FAILURE() << "a row after destroy() (when = " << when << ")";
    });
    if (when == 1) {
      // Only the handlers ready now: the reader starts connecting (off the loop thread), and
      // that connection cannot have completed yet.
      io.restart();
      io.poll();
      EXPECT_EQ(r->rows(), 0U);
    }
    destroy_called = true;
    r->destroy();
    ASSERT_TRUE(test::run_until(io, [&] { return closed; }));
    test::run_for(io, 100ms);
  }
}

}  // namespace
