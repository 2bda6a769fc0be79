// PostgreSQL COPY writer against the fixture's real server: round trips, acknowledgement only
// after commit, backpressure from a locked table, errors naming the row and the server, a server
// crash mid-load, destroy() in each state.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <optional>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "db/pg_support.hpp"
#include "sluice/core/make.hpp"
#include "sluice/db/postgres.hpp"

namespace {

using namespace sluice;
using namespace std::chrono_literals;
using test::psql;

struct event {
  std::int64_t id;
  std::string name;
  double v;
  std::optional<db::timestamp> at;
  buffer payload;
  bool flag;
  std::optional<std::int32_t> n;
};

const char* const event_table =
    "(id bigint primary key, name text, v double precision, at timestamptz, payload bytea, "
    "flag boolean, n integer)";

void make_table(const std::string& name, const std::string& columns = event_table) {
  psql("DROP TABLE IF EXISTS " + name + "; CREATE TABLE " + name + " " + columns);
}

std::string nasty(std::int64_t i) {
  return "row " + std::to_string(i) + "\twith tab\nnewline\r\\back\\slash \\N é";
}

event make_event(std::int64_t i) {
  using namespace std::chrono;
  std::string bytes = {'\0', '\x01', '\xff', '\t', '\n', '\\'};
  bytes += std::to_string(i);
  return event{i,
               nasty(i),
               i * 0.5 + 0.125,
               i % 3 == 0 ? std::nullopt
                          : std::optional(db::timestamp(sys_days(2026y / 12 / 6)) +
                                          microseconds(i * 1'000'001)),
               buffer(std::move(bytes)),
               i % 2 == 0,
               i % 4 == 0 ? std::nullopt : std::optional<std::int32_t>(static_cast<int>(-i))};
}

bool same(const event& a, const event& b) {
  return a.id == b.id && a.name == b.name && a.v == b.v && a.at == b.at && a.payload == b.payload &&
         a.flag == b.flag && a.n == b.n;
}

// Writes `rows` rows (ids from `first`), waits for every callback; returns the callbacks' codes.
struct load_result {
  std::vector<std::error_code> codes;
  std::vector<int> calls;
  std::error_code end_ec;
  bool ended = false;
};

TEST(PostgresWriter, TypedRowsRoundTripThroughTheServer) {
  SLUICE_NEED_PG();
  make_table("rt_events");
  boost::asio::io_context io;
  asio_loop l(io);
  auto w = db::make_pg_copy_writer<event>(l, test::pg_conninfo(), "rt_events",
                                          {.batch = {.max_items = 100}});
  constexpr int n = 1050;
  std::vector<int> calls(n, 0);
  std::vector<std::error_code> codes(n);
  for (int i = 0; i < n; ++i)
    w->write(make_event(i), [&, i](std::error_code ec) {
      ++calls[static_cast<std::size_t>(i)];
      codes[static_cast<std::size_t>(i)] = ec;
    });
  bool ended = false;
  std::error_code end_ec;
  w->end([&](std::error_code ec) {
    ended = true;
    end_ec = ec;
  });
  ASSERT_TRUE(test::run_until(io, [&] { return ended; }));
  EXPECT_FALSE(end_ec) << end_ec.message() << " " << w->error_message();
  for (int i = 0; i < n; ++i) {
    ASSERT_EQ(calls[static_cast<std::size_t>(i)], 1) << i;
    ASSERT_FALSE(codes[static_cast<std::size_t>(i)]) << i;
  }
  EXPECT_EQ(w->stats().batches, 11u);
  EXPECT_EQ(psql("SELECT count(*) FROM rt_events"), std::to_string(n));
  // The server's view of a few values: escapes became the characters themselves.
  EXPECT_EQ(psql("SELECT name = E'row 7\\twith tab\\nnewline\\r\\\\back\\\\slash \\\\N é', "
                 "encode(payload, 'hex'), at IS NULL, n IS NULL FROM rt_events WHERE id = 7"),
            "t|0001ff090a5c37|f|f");
  EXPECT_EQ(psql("SELECT at IS NULL, n IS NULL, flag FROM rt_events WHERE id = 12"), "t|t|t");

  // And back through pg_reader, field by field.
  auto r = db::make_pg_reader<event>(l, test::pg_conninfo(), "SELECT * FROM rt_events ORDER BY id");
  std::vector<event> got;
  bool end = false;
  r->on_data([&](event&& e) { got.push_back(std::move(e)); });
  r->on_end([&] { end = true; });
  r->on_error([&](std::error_code ec) { ADD_FAILURE() << ec.message() << r->error_message(); });
  ASSERT_TRUE(test::run_until(io, [&] { return end; }));
  ASSERT_EQ(got.size(), static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i)
    ASSERT_TRUE(same(got[static_cast<std::size_t>(i)], make_event(i))) << "row " << i;
}

TEST(PostgresWriter, RecordsUseTheirColumnNames) {
  SLUICE_NEED_PG();
  make_table("rec_events",
             "(a text, \"B\" bigint, c double precision, d bytea, e boolean, "
             "f timestamptz, g text)");
  boost::asio::io_context io;
  asio_loop l(io);
  auto w = db::make_pg_record_writer(l, test::pg_conninfo(), "rec_events");
  // Columns given in another order than the table's: the names decide.
  auto names = std::make_shared<const std::vector<std::string>>(
      std::vector<std::string>{"g", "B", "c", "d", "e", "f", "a"});
  using namespace std::chrono;
  const db::timestamp t = db::timestamp(sys_days(2026y / 1 / 2)) + microseconds(5);
  std::vector<db::record> rows;
  for (int i = 0; i < 20; ++i)
    rows.push_back(db::record{{std::string("g\t") + std::to_string(i), std::int64_t{i}, 1.5 * i,
                               buffer(std::string("\0z", 2)), i % 2 == 0, t,
                               i == 3 ? db::value(db::null) : db::value(std::string("a\\"))},
                              names});
  for (auto& r : rows) w->write(r);
  bool ended = false;
  w->end([&](std::error_code ec) {
    EXPECT_FALSE(ec) << w->error_message();
    ended = true;
  });
  ASSERT_TRUE(test::run_until(io, [&] { return ended; }));
  EXPECT_EQ(psql("SELECT a, \"B\", g, encode(d, 'hex'), e, f FROM rec_events WHERE \"B\" = 2"),
            "a\\|2|g\t2|007a|t|2026-01-02 00:00:00.000005+00");
  EXPECT_EQ(psql("SELECT a IS NULL FROM rec_events WHERE \"B\" = 3"), "t");

  // Back as records: text values, NULL as db::null, the result's column names.
  auto r = db::make_pg_record_reader(l, test::pg_conninfo(),
                                     "SELECT a, \"B\", g FROM rec_events ORDER BY \"B\"");
  std::vector<db::record> got;
  bool end = false;
  r->on_data([&](db::record&& x) { got.push_back(std::move(x)); });
  r->on_end([&] { end = true; });
  ASSERT_TRUE(test::run_until(io, [&] { return end; }));
  ASSERT_EQ(got.size(), 20u);
  EXPECT_EQ(got[2].values,
            (std::vector<db::value>{std::string("a\\"), std::string("2"), std::string("g\t2")}));
  EXPECT_EQ(got[3].values[0], db::value(db::null));
  EXPECT_EQ(got[0].column_name(0), "a");
  EXPECT_EQ(got[0].column_name(1), "B");
  EXPECT_EQ(got[0].column_name(2), "g");
}

TEST(PostgresWriter, CallbacksRunOnlyAfterTheBatchCommitted) {
  SLUICE_NEED_PG();
  make_table("commit_events", "(id bigint primary key)");
  boost::asio::io_context io;
  asio_loop l(io);
  auto w = db::make_pg_copy_writer<std::tuple<std::int64_t>>(
      l, test::pg_conninfo(), "commit_events", {.batch = {.max_items = 25}});
  constexpr int n = 100;
  int called = 0;
  std::vector<std::string> seen;  // what a second connection saw at some callbacks
  for (int i = 0; i < n; ++i)
    w->write({i}, [&, i](std::error_code ec) {
      EXPECT_FALSE(ec);
      EXPECT_EQ(called, i);  // in order
      ++called;
      if (i % 25 == 0 || i % 25 == 24)  // first and last of each batch
        seen.push_back(psql("SELECT count(*) FROM commit_events WHERE id <= " + std::to_string(i)));
    });
  // Nothing acknowledged before the first COPY had a chance to run.
  EXPECT_EQ(called, 0);
  w->end();
  ASSERT_TRUE(test::run_until(io, [&] { return called == n; }));
  ASSERT_EQ(seen.size(), 8u);
  for (std::size_t k = 0; k < seen.size(); ++k) {
    const int i = static_cast<int>(k / 2) * 25 + (k % 2 == 0 ? 0 : 24);
    EXPECT_EQ(seen[k], std::to_string(i + 1)) << "at the callback of row " << i;
  }
}

TEST(PostgresWriter, ALockedTableHoldsTheWriterAndNothingIsLost) {
  SLUICE_NEED_PG();
  make_table("locked_events", "(id bigint primary key, pad text)");
  // Another connection holds the table for a while.
  std::thread locker([] {
    psql(
        "BEGIN; LOCK TABLE locked_events IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(1.5); "
        "COMMIT;");
  });
  while (psql("SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation WHERE "
              "c.relname = 'locked_events' AND l.mode = 'AccessExclusiveLock' AND l.granted") !=
         "1")
    std::this_thread::sleep_for(5ms);

  boost::asio::io_context io;
  asio_loop l(io);
  auto w = db::make_pg_copy_writer<std::tuple<std::int64_t, std::string>>(
      l, test::pg_conninfo(), "locked_events", {.batch = {.max_items = 50}});
  int i = 0;
  int acked = 0;
  int false_at = -1;
  const std::string pad(200, 'x');
  auto pump = [&] {
    while (i < 1000) {
      const bool ok = w->write({i, pad}, [&](std::error_code ec) {
        EXPECT_FALSE(ec) << w->error_message();
        ++acked;
      });
      ++i;
      if (!ok) {
        if (false_at < 0) false_at = i;
        return;
      }
    }
    w->end();
  };
  w->on_drain(pump);
  pump();
  test::run_for(io, 700ms);
  // Held: one batch waits for the lock, the next one is full, write() said to wait.
  EXPECT_EQ(false_at, 100);  // high water mark: max_items * 2
  EXPECT_EQ(i, 100);
  EXPECT_EQ(acked, 0);
  EXPECT_EQ(w->batches_in_flight(), 1u);
  EXPECT_TRUE(w->need_drain());
  locker.join();  // the lock is gone
  ASSERT_TRUE(test::run_until(io, [&] { return acked == 1000; }));
  EXPECT_EQ(psql("SELECT count(*), min(id), max(id) FROM locked_events"), "1000|0|999");
}

TEST(PostgresWriter, AConstraintViolationNamesTheRowAndKeepsEarlierBatches) {
  SLUICE_NEED_PG();
  make_table("dup_events", "(id bigint primary key)");
  psql("INSERT INTO dup_events VALUES (100000)");
  boost::asio::io_context io;
  asio_loop l(io);
  auto w = db::make_pg_copy_writer<std::tuple<std::int64_t>>(l, test::pg_conninfo(), "dup_events",
                                                             {.batch = {.max_items = 100}});
  std::vector<int> calls(400, 0);
  std::vector<std::error_code> codes(400);
  for (int i = 0; i < 400; ++i)
    w->write({i == 234 ? 100000 : i}, [&, i](std::error_code ec) {
      ++calls[static_cast<std::size_t>(i)];
      codes[static_cast<std::size_t>(i)] = ec;
    });
  std::error_code err;
  w->on_error([&](std::error_code ec) { err = ec; });
  w->end();
  ASSERT_TRUE(test::run_until(io, [&] { return w->destroyed() && calls[399] == 1; }));
  EXPECT_EQ(err, db::pg_errc::server_error);
  const std::string m = w->error_message();
  EXPECT_NE(m.find("postgres COPY dup_events: row 234 (line 35 of batch 3): duplicate key value "
                   "violates unique constraint \"dup_events_pkey\""),
            std::string::npos)
      << m;
  EXPECT_NE(m.find("SQLSTATE 23505"), std::string::npos) << m;
  for (int i = 0; i < 400; ++i) {
    ASSERT_EQ(calls[static_cast<std::size_t>(i)], 1) << i;
    ASSERT_EQ(!codes[static_cast<std::size_t>(i)], i < 200) << i;
  }
  // The first two batches committed; the failing one left nothing; nothing after it ran.
  EXPECT_EQ(psql("SELECT count(*), max(id) FROM dup_events WHERE id < 100000"), "200|199");
}

// The tests below run on one connection and on two (pg_copy_options::connections). (The
// prefix starts with Postgres: ctest gives Postgres* tests the server fixture.)
class PostgresWriterOnConnections : public ::testing::TestWithParam<std::size_t> {};
INSTANTIATE_TEST_SUITE_P(PostgresConnections, PostgresWriterOnConnections,
                         ::testing::Values(1u, 2u),
                         [](const auto& info) { return std::to_string(info.param); });

TEST_P(PostgresWriterOnConnections, RefusedRowsGoToRejectedAndTheRestCommits) {
  SLUICE_NEED_PG();
  const std::string table = "rej_events_" + std::to_string(GetParam());
  make_table(table, "(id bigint primary key, v bigint)");
  psql("INSERT INTO " + table + " VALUES (1000, 0)");
  boost::asio::io_context io;
  asio_loop l(io);
  std::vector<db::record> refused;
  auto rejected =
      make_writable<db::record>(l, {.write = [&](writable<db::record>&, db::record&& r, auto cb) {
                                  refused.push_back(std::move(r));
                                  cb();
                                }});
  auto w = db::make_pg_record_writer(
      l, test::pg_conninfo(), table,
      {.rejected = rejected, .connections = GetParam(), .batch = {.max_items = 50}});
  std::vector<int> calls(120, 0);
  int failures = 0;
  for (int i = 0; i < 120; ++i) {
    db::record r{{std::string(std::to_string(i)), std::string(std::to_string(i * 2))}, {}};
    if (i == 7) r.values[1] = std::string("oops");   // not a bigint
    if (i == 60) r.values[0] = std::string("1000");  // duplicate key
    if (i == 61) r.values[1] = std::string("12x");
    w->write(std::move(r), [&, i](std::error_code ec) {
      ++calls[static_cast<std::size_t>(i)];
      if (ec) ++failures;
    });
  }
  bool ended = false;
  w->end([&](std::error_code ec) {
    EXPECT_FALSE(ec) << w->error_message();
    ended = true;
  });
  ASSERT_TRUE(test::run_until(io, [&] { return ended; }));
  EXPECT_EQ(failures, 0);
  for (int c : calls) EXPECT_EQ(c, 1);
  // (In the order the server refused them: it checks keys when it flushes its own buffer of
  // rows, after it parsed later ones.)
  std::vector<std::string> ids;
  for (auto& r : refused) ids.push_back(std::get<std::string>(r.values[0]));
  std::sort(ids.begin(), ids.end());
  EXPECT_EQ(ids, (std::vector<std::string>{"1000", "61", "7"}));
  EXPECT_EQ(psql("SELECT count(*) FROM " + table + " WHERE id < 1000"), "117");
  EXPECT_EQ(psql("SELECT count(*) FROM " + table + " WHERE id IN (7, 60, 61)"), "0");
}

// A deferred constraint is checked when the COPY commits: the server names no line, so the
// writer bisects the batch, committing the halves that pass, down to the rows it refuses.
TEST(PostgresWriter, ARefusalWithoutALineIsBisectedDownToTheBadRows) {
  SLUICE_NEED_PG();
  make_table("bisect_events", "(id bigint UNIQUE DEFERRABLE INITIALLY DEFERRED, v text)");
  psql("INSERT INTO bisect_events VALUES (1000, 'before')");
  boost::asio::io_context io;
  asio_loop l(io);
  using row = std::tuple<std::int64_t, std::string>;
  std::vector<row> refused;
  auto rejected = make_writable<row>(l, {.write = [&](writable<row>&, row&& r, auto cb) {
                                       refused.push_back(std::move(r));
                                       cb();
                                     }});
  auto w = db::make_pg_copy_writer<row>(l, test::pg_conninfo(), "bisect_events",
                                        {.rejected = rejected, .batch = {.max_items = 64}});
  std::vector<int> calls(100, 0);
  int failures = 0;
  for (int i = 0; i < 100; ++i) {
    std::int64_t id = i;
    if (i == 40) id = 10;    // the same id as row 10, in the same batch
    if (i == 50) id = 1000;  // already in the table
    if (i == 70) id = 20;    // the same as row 20, committed in the batch before
    w->write(row{id, "v" + std::to_string(i)}, [&, i](std::error_code ec) {
      ++calls[static_cast<std::size_t>(i)];
      if (ec) ++failures;
    });
  }
  bool ended = false;
  w->end([&](std::error_code ec) {
    EXPECT_FALSE(ec) << w->error_message();
    ended = true;
  });
  ASSERT_TRUE(test::run_until(io, [&] { return ended; }));
  EXPECT_EQ(failures, 0);
  for (int c : calls) EXPECT_EQ(c, 1);
  std::vector<std::string> values;
  for (auto& r : refused) values.push_back(std::get<1>(r));
  std::sort(values.begin(), values.end());
  // Of two rows with one id, the one in the half sent first is kept.
  EXPECT_EQ(values, (std::vector<std::string>{"v40", "v50", "v70"}));
  EXPECT_EQ(psql("SELECT count(*), count(DISTINCT id) FROM bisect_events"), "98|98");
  EXPECT_EQ(psql("SELECT v FROM bisect_events WHERE id IN (10, 20, 1000) ORDER BY id"),
            "v10\nv20\nbefore");
}

TEST_P(PostgresWriterOnConnections, AServerCrashMidLoadNamesTheServerAndLosesNoAcknowledgedRow) {
  SLUICE_NEED_PG();
  const std::string table = "crash_events_" + std::to_string(GetParam());
  make_table(table, "(id bigint primary key, pad text)");
  boost::asio::io_context io;
  asio_loop l(io);
  auto w = db::make_pg_copy_writer<std::tuple<std::int64_t, std::string>>(
      l, test::pg_conninfo(), table, {.connections = GetParam(), .batch = {.max_items = 200}});
  std::vector<std::int64_t> acked;
  int failed = 0;
  std::int64_t i = 0;
  const std::string pad(100, 'p');
  bool crashed = false;
  std::function<void()> pump = [&] {
    while (!w->destroyed() && i < 2'000'000) {
      const std::int64_t id = i++;
      if (!w->write({id, pad}, [&, id](std::error_code ec) {
            if (ec)
              ++failed;
            else
              acked.push_back(id);
          }))
        return;
    }
  };
  w->on_drain(pump);
  std::error_code err;
  w->on_error([&](std::error_code ec) { err = ec; });
  pump();
  ASSERT_TRUE(test::run_until(io, [&] { return acked.size() >= 2000; }));
  crashed = test::pg_server("crash") == 0;
  // Whatever happens below, the next tests find the server running.
  struct restart {
    ~restart() { (void)test::pg_server("start"); }
  } restart_at_exit;
  ASSERT_TRUE(crashed);
  ASSERT_TRUE(test::run_until(io, [&] { return w->destroyed() && err; }));
  ASSERT_EQ(test::pg_server("start"), 0);
  EXPECT_EQ(err, db::pg_errc::connection_lost);
  const std::string m = w->error_message();
  EXPECT_NE(m.find(test::pg_socket_dir() + ":5432 dbname postgres"), std::string::npos) << m;
  EXPECT_NE(m.find("postgres COPY " + table + ": batch "), std::string::npos) << m;
  test::run_for(io, 50ms);
  EXPECT_EQ(static_cast<std::int64_t>(acked.size()) + failed, i);
  // Every acknowledged row survived the crash.
  // Every acknowledged row survived the crash (acknowledged in order: ids 0..acked.back()).
  ASSERT_EQ(acked.back() + 1, static_cast<std::int64_t>(acked.size()));
  const std::string count =
      psql("SELECT count(*) FROM " + table + " WHERE id <= " + std::to_string(acked.back()));
  EXPECT_EQ(count, std::to_string(acked.size()));
}

// Two connections: batches load side by side, one COPY on each, and are acknowledged in the
// order of the writes all the same.
TEST(PostgresWriter, TwoConnectionsLoadBatchesSideBySideAndAcknowledgeInOrder) {
  SLUICE_NEED_PG();
  // Each row records the backend (connection) that inserted it.
  make_table("two_events", "(id bigint primary key, v text, backend int DEFAULT pg_backend_pid())");
  boost::asio::io_context io;
  asio_loop l(io);
  auto w = db::make_pg_copy_writer<std::tuple<std::int64_t, std::string>>(
      l, test::pg_conninfo(), "two_events",
      {.columns = {"id", "v"}, .connections = 2, .batch = {.max_items = 100}});
  constexpr std::int64_t n = 3000;
  std::vector<std::int64_t> order;
  std::size_t most_in_flight = 0;
  std::int64_t i = 0;
  std::function<void()> pump = [&] {
    while (i < n) {
      const std::int64_t id = i++;
      const bool more = w->write({id, "v" + std::to_string(id)}, [&, id](std::error_code ec) {
        EXPECT_FALSE(ec) << id << ": " << w->error_message();
        order.push_back(id);
        most_in_flight = std::max(most_in_flight, w->batches_in_flight());
      });
      most_in_flight = std::max(most_in_flight, w->batches_in_flight());
      if (!more) return;
    }
    w->end();
  };
  w->on_drain(pump);
  pump();
  ASSERT_TRUE(test::run_until(io, [&] { return w->destroyed(); }));
  EXPECT_FALSE(w->errored()) << w->error_message();
  ASSERT_EQ(order.size(), static_cast<std::size_t>(n));
  EXPECT_TRUE(std::is_sorted(order.begin(), order.end()));
  EXPECT_EQ(most_in_flight, 2u);
  EXPECT_EQ(w->stats().batches, 30u);
  EXPECT_EQ(psql("SELECT count(*), count(DISTINCT id), min(id), max(id) FROM two_events"),
            "3000|3000|0|2999");
  // Two backends did the work: each batch's COPY ran on one of the two connections.
  EXPECT_EQ(psql("SELECT count(DISTINCT backend) FROM two_events"), "2");
  EXPECT_EQ(psql("SELECT count(*) FROM (SELECT id / 100 AS b FROM two_events GROUP BY 1 "
                 "HAVING count(DISTINCT backend) > 1) AS split"),
            "0");
}

}  // namespace
