// pg_copy_writer's lifecycle: connection errors, destroy() in each state, end() twice.
#include <gtest/gtest.h>

#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "db/pg_support.hpp"
#include "sluice/db/postgres.hpp"

namespace {

using namespace sluice;
using namespace std::chrono_literals;
using test::psql;
using id_row = std::tuple<std::int64_t>;

struct outcome {
  int calls = 0;
  std::error_code ec;
};

TEST(PostgresLifecycle, NoServerThereIsAConnectErrorNamingIt) {
  SLUICE_NEED_PG();  // (needs no server, but runs with the others)
  boost::asio::io_context io;
  asio_loop l(io);
  auto w = db::make_pg_copy_writer<id_row>(l, "host=/tmp/sluice-no-server-here dbname=x", "t");
  outcome o;
  w->write({1}, [&](std::error_code ec) {
    ++o.calls;
    o.ec = ec;
  });
  w->end();
  ASSERT_TRUE(test::run_until(io, [&] { return o.calls == 1 && w->destroyed(); }));
  EXPECT_EQ(o.ec, db::pg_errc::connect_failed);
  const std::string m = w->error_message();
  EXPECT_NE(m.find("connect to postgres /tmp/sluice-no-server-here:5432 dbname x"),
            std::string::npos)
      << m;
  EXPECT_NE(m.find("No such file or directory"), std::string::npos) << m;
  test::run_for(io, 20ms);
  EXPECT_EQ(o.calls, 1);
}

TEST(PostgresLifecycle, ABadConninfoIsAConnectError) {
  SLUICE_NEED_PG();
  boost::asio::io_context io;
  asio_loop l(io);
  auto r = db::make_pg_reader<id_row>(l, "nonsense_keyword=1", "SELECT 1");
  std::error_code err;
  r->on_error([&](std::error_code ec) { err = ec; });
  r->resume();
  ASSERT_TRUE(test::run_until(io, [&] { return bool(err); }));
  EXPECT_EQ(err, db::pg_errc::connect_failed);
  EXPECT_NE(r->error_message().find("nonsense_keyword"), std::string::npos) << r->error_message();
}

TEST(PostgresLifecycle, AMissingTableNamesTableAndServer) {
  SLUICE_NEED_PG();
  boost::asio::io_context io;
  asio_loop l(io);
  auto w = db::make_pg_copy_writer<id_row>(l, test::pg_conninfo(), "no_such_table");
  std::error_code err;
  w->on_error([&](std::error_code ec) { err = ec; });
  w->end(id_row{1});
  ASSERT_TRUE(test::run_until(io, [&] { return bool(err); }));
  EXPECT_EQ(err, db::pg_errc::server_error);
  const std::string m = w->error_message();
  EXPECT_NE(m.find("postgres COPY no_such_table: batch 1 (rows 0..0): relation "
                   "\"no_such_table\" does not exist"),
            std::string::npos)
      << m;
  EXPECT_NE(m.find(test::pg_socket_dir()), std::string::npos) << m;
}

TEST(PostgresLifecycle, DestroyBeforeAnyWrite) {
  SLUICE_NEED_PG();
  boost::asio::io_context io;
  asio_loop l(io);
  auto w = db::make_pg_copy_writer<id_row>(l, test::pg_conninfo(), "t");
  bool closed = false;
  w->on_close([&] { closed = true; });
  w->destroy();
  ASSERT_TRUE(test::run_until(io, [&] { return closed; }));
  EXPECT_FALSE(w->write({1}));
}

TEST(PostgresLifecycle, DestroyWithABatchInFlightFailsEveryWriteOnce) {
  SLUICE_NEED_PG();
  psql("DROP TABLE IF EXISTS held_events; CREATE TABLE held_events (id bigint)");
  std::thread locker([] {
    psql("BEGIN; LOCK TABLE held_events IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(1); COMMIT;");
  });
  while (psql("SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation WHERE "
              "c.relname = 'held_events' AND l.granted AND l.mode = 'AccessExclusiveLock'") != "1")
    std::this_thread::sleep_for(5ms);
  boost::asio::io_context io;
  asio_loop l(io);
  auto w = db::make_pg_copy_writer<id_row>(l, test::pg_conninfo(), "held_events",
                                           {.batch = {.max_items = 10}});
  std::vector<outcome> outs(25);
  for (int i = 0; i < 25; ++i)
    w->write({i}, [&, i](std::error_code ec) {
      ++outs[static_cast<std::size_t>(i)].calls;
      outs[static_cast<std::size_t>(i)].ec = ec;
    });
  test::run_for(io, 200ms);  // the first batch waits for the lock
  EXPECT_EQ(w->batches_in_flight(), 1u);
  EXPECT_EQ(outs[0].calls, 0);
  bool closed = false;
  w->on_close([&] { closed = true; });
  w->destroy();
  ASSERT_TRUE(test::run_until(io, [&] { return closed; }));
  test::run_for(io, 50ms);
  for (auto& o : outs) {
    EXPECT_EQ(o.calls, 1);
    EXPECT_EQ(o.ec, errc::stream_destroyed);
  }
  locker.join();
  // The aborted COPY committed nothing.
  test::run_for(io, 100ms);
  EXPECT_EQ(psql("SELECT count(*) FROM held_events"), "0");
}

TEST(PostgresLifecycle, DestroyAfterFinishAndEndTwice) {
  SLUICE_NEED_PG();
  psql("DROP TABLE IF EXISTS fin_events; CREATE TABLE fin_events (id bigint)");
  boost::asio::io_context io;
  asio_loop l(io);
  auto w = db::make_pg_copy_writer<id_row>(l, test::pg_conninfo(), "fin_events");
  outcome o;
  w->write({7}, [&](std::error_code ec) {
    ++o.calls;
    o.ec = ec;
  });
  int ends = 0;
  std::error_code second;
  w->end([&](std::error_code ec) {
    EXPECT_FALSE(ec);
    ++ends;
  });
  w->end([&](std::error_code ec) {
    second = ec;
    ++ends;
  });
  bool closed = false;
  w->on_close([&] { closed = true; });
  ASSERT_TRUE(test::run_until(io, [&] { return closed && ends == 2; }));
  w->destroy();
  test::run_for(io, 20ms);
  EXPECT_EQ(o.calls, 1);
  EXPECT_FALSE(o.ec);
  EXPECT_EQ(psql("SELECT id FROM fin_events"), "7");
}

}  // namespace
