// SQLite (sluice/db/sqlite.hpp) on real database files in a temporary directory: round trips of
// every field type through the writer and the reader, acknowledgement after COMMIT as another
// connection sees it, a locked database holding the producer back, errors naming the file, the
// table, the row and the column, destroy() in every state, and the reader's stepping on demand.
#include "sluice/db/sqlite.hpp"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "sluice/core/asio_loop.hpp"
#include "sluice/core/loop.hpp"
#include "sluice/core/make.hpp"
#include "support/temp_files.hpp"

namespace {

using namespace std::chrono_literals;
using sluice::buffer;
using sluice::manual_loop;
using sluice::test::temp_dir;
namespace db = sluice::db;

// A second, independent connection: what another process would see.
class peer {
 public:
  explicit peer(const std::string& path) {
    if (::sqlite3_open(path.c_str(), &db_) != SQLITE_OK) throw std::runtime_error("peer open");
    ::sqlite3_busy_timeout(db_, 5000);
  }
  ~peer() { ::sqlite3_close(db_); }
  peer(const peer&) = delete;
  peer& operator=(const peer&) = delete;
  void exec(const std::string& sql) {
    char* err = nullptr;
    if (::sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &err) != SQLITE_OK) {
      std::string e = err != nullptr ? err : "?";
      ::sqlite3_free(err);
      throw std::runtime_error(sql + ": " + e);
    }
  }
  // The first column of the first row, as an integer (-1 when the statement fails).
  std::int64_t scalar(const std::string& sql) {
    sqlite3_stmt* st = nullptr;
    if (::sqlite3_prepare_v2(db_, sql.c_str(), -1, &st, nullptr) != SQLITE_OK) return -1;
    std::int64_t v = -1;
    if (::sqlite3_step(st) == SQLITE_ROW) v = ::sqlite3_column_int64(st, 0);
    ::sqlite3_finalize(st);
    return v;
  }

 private:
  sqlite3* db_ = nullptr;
};

struct event {
  std::int64_t id;
  std::string name;
  double v;
  std::optional<std::int32_t> n;
  bool flag;
  buffer payload;
  db::timestamp at;
  std::optional<std::string> note;
};

bool same(const event& a, const event& b) {
  return a.id == b.id && a.name == b.name && a.v == b.v && a.n == b.n && a.flag == b.flag &&
         a.payload == b.payload && a.at == b.at && a.note == b.note;
}

event make_event(std::int64_t i) {
  using namespace std::chrono;
  std::string bytes = std::string("a\0b", 3) + std::to_string(i);
  bytes.insert(1, 1, '\0');
  return event{i,
               "n\u00e9\u6f22\u5b57 " + std::to_string(i),
               static_cast<double>(i) / 3.0,
               i % 3 == 0 ? std::nullopt : std::optional<std::int32_t>(static_cast<int>(-i)),
               i % 2 == 0,
               i == 1 ? buffer() : buffer(std::move(bytes)),
               db::timestamp(sys_days(2026y / 12 / 6) + microseconds(i * 1'000'123)),
               i % 4 == 0 ? std::nullopt : std::optional<std::string>("note")};
}

// Callbacks' outcomes, by row index.
struct outcomes {
  std::vector<int> calls;
  std::vector<std::error_code> codes;
  explicit outcomes(std::size_t n) : calls(n, 0), codes(n) {}
  sluice::callback cb(std::size_t i) {
    return [this, i](std::error_code ec) {
      ++calls[i];
      codes[i] = ec;
    };
  }
  [[nodiscard]] bool each_once() const {
    for (int c : calls)
      if (c != 1) return false;
    return true;
  }
};

template <class Row>
struct collected {
  std::vector<Row> rows;
  bool ended = false;
  std::error_code error;
  std::string message;
};

template <class Row>
std::shared_ptr<collected<Row>> collect(const std::shared_ptr<sluice::readable<Row>>& r) {
  auto c = std::make_shared<collected<Row>>();
  std::weak_ptr<sluice::readable<Row>> weak = r;
  r->on_data([c](Row&& row) { c->rows.push_back(std::move(row)); });
  r->on_end([c] { c->ended = true; });
  r->on_error([c, weak](std::error_code ec) {
    c->error = ec;
    if (auto s = weak.lock()) c->message = s->error_message();
  });
  return c;
}

// ---- the writer -------------------------------------------------------------------------------

TEST(SqliteWriter, RoundTripsEveryFieldTypeThroughTheReader) {
  temp_dir dir;
  const std::string path = dir / "data.db";
  manual_loop loop;
  auto w = db::make_sqlite_writer<event>(
      loop, path, "events",
      {.batch_rows = 7,
       .create_table = true,
       .columns = {"id", "name", "v", "n", "flag", "payload", "at", "note"}});
  outcomes o(20);
  for (std::size_t i = 0; i < 20; ++i) w->write(make_event(static_cast<std::int64_t>(i)), o.cb(i));
  bool finished = false;
  w->end([&](std::error_code ec) { finished = !ec; });
  loop.run();
  EXPECT_TRUE(finished);
  EXPECT_TRUE(o.each_once());
  for (auto ec : o.codes) EXPECT_FALSE(ec) << ec.message();

  peer p(path);
  EXPECT_EQ(p.scalar("SELECT count(*) FROM events WHERE n IS NULL"), 7);      // 0, 3, ..., 18
  EXPECT_EQ(p.scalar("SELECT length(payload) FROM events WHERE id = 5"), 5);  // zero bytes kept
  EXPECT_EQ(p.scalar("SELECT typeof(payload) = 'blob' FROM events WHERE id = 1"), 1);  // empty
  EXPECT_EQ(p.scalar("SELECT strftime('%s', at) FROM events WHERE id = 0"), 1796515200);

  auto r = db::make_sqlite_reader<event>(loop, path, "SELECT * FROM events ORDER BY id");
  auto c = collect<event>(r);
  loop.run();
  EXPECT_TRUE(c->ended) << c->message;
  ASSERT_EQ(c->rows.size(), 20u);
  for (std::size_t i = 0; i < 20; ++i)
    EXPECT_TRUE(same(c->rows[i], make_event(static_cast<std::int64_t>(i)))) << "row " << i;
}

TEST(SqliteWriter, RoundTripsRecordsWithTheirColumnNames) {
  temp_dir dir;
  const std::string path = dir / "r.db";
  manual_loop loop;
  auto names = std::make_shared<const std::vector<std::string>>(
      std::vector<std::string>{"id", "label", "x", "raw", "ok", "t"});
  const db::timestamp t0 = db::parse_timestamp("2026-12-06T02:46:20.5Z").value();
  auto w = db::make_sqlite_record_writer(
      loop, path, "odd \"name\"",
      {.batch_rows = 2, .create_table = true, .timestamps = db::sqlite_timestamps::micros});
  std::vector<db::record> in;
  for (std::int64_t i = 0; i < 5; ++i)
    in.push_back(
        db::record{{db::value(i), db::value(std::string("\u00e9") + std::to_string(i)),
                    i == 2 ? db::value(db::null) : db::value(1.5 * double(i)),
                    db::value(buffer(std::string("\0\1", 2))), db::value(i == 3), db::value(t0)},
                   names});
  for (const auto& rec : in) w->write(rec);
  w->end();
  loop.run();
  EXPECT_FALSE(w->errored()) << w->error_message();

  auto r =
      db::make_sqlite_record_reader(loop, path, "SELECT * FROM \"odd \"\"name\"\"\" ORDER BY id");
  auto c = collect<db::record>(r);
  loop.run();
  ASSERT_TRUE(c->ended) << c->message;
  ASSERT_EQ(c->rows.size(), 5u);
  for (std::size_t i = 0; i < 5; ++i) {
    const auto& got = c->rows[i];
    ASSERT_TRUE(got.columns);
    EXPECT_EQ(*got.columns, *names);
    EXPECT_EQ(got.values[0], db::value(std::int64_t(i)));
    EXPECT_EQ(got.values[1], db::value(std::string("\u00e9") + std::to_string(i)));
    EXPECT_EQ(got.values[2], i == 2 ? db::value(db::null) : db::value(1.5 * double(i)));
    EXPECT_EQ(got.values[3], db::value(buffer(std::string("\0\1", 2))));
    EXPECT_EQ(got.values[4], db::value(std::int64_t(i == 3 ? 1 : 0)));   // SQLite has no bool
    EXPECT_EQ(got.values[5], db::value(t0.time_since_epoch().count()));  // micros
  }
}

TEST(SqliteWriter, CallbacksRunOnceAfterTheCommitAnotherConnectionSees) {
  temp_dir dir;
  const std::string path = dir / "data.db";
  peer p(path);
  p.exec("CREATE TABLE t (id INTEGER PRIMARY KEY, s TEXT)");
  manual_loop loop;
  auto w = db::make_sqlite_writer<std::tuple<std::int64_t, std::string>>(loop, path, "t",
                                                                         {.batch_rows = 10});
  constexpr std::size_t n = 25;
  std::vector<std::int64_t> seen_at_callback(n, -1);
  std::vector<int> calls(n, 0);
  std::vector<std::size_t> order;
  for (std::size_t i = 0; i < n; ++i)
    w->write({static_cast<std::int64_t>(i), "x"}, [&, i](std::error_code ec) {
      EXPECT_FALSE(ec);
      ++calls[i];
      order.push_back(i);
      seen_at_callback[i] = p.scalar("SELECT count(*) FROM t WHERE id <= " + std::to_string(i));
    });
  EXPECT_EQ(w->writable_length(), n);  // nothing is acknowledged before its COMMIT
  w->end();
  loop.run();
  for (std::size_t i = 0; i < n; ++i) {
    EXPECT_EQ(calls[i], 1) << i;
    EXPECT_EQ(seen_at_callback[i], static_cast<std::int64_t>(i) + 1) << i;
  }
  std::vector<std::size_t> in_order(n);
  for (std::size_t i = 0; i < n; ++i) in_order[i] = i;
  EXPECT_EQ(order, in_order);
  EXPECT_EQ(p.scalar("SELECT count(*) FROM t"), 25);
}

TEST(SqliteWriter, UsesWalAndAGivenInsertStatement) {
  temp_dir dir;
  const std::string path = dir / "data.db";
  {
    peer p(path);
    p.exec("CREATE TABLE t (a INTEGER, b INTEGER, c TEXT DEFAULT 'd')");
  }
  manual_loop loop;
  auto w = db::make_sqlite_writer<std::pair<int, int>>(loop, path,
                                                       "INSERT INTO t (b, a) VALUES (?, ?)", {});
  w->write({1, 2});
  w->end();
  loop.run();
  EXPECT_FALSE(w->errored()) << w->error_message();
  peer p(path);
  EXPECT_EQ(p.scalar("SELECT a * 10 + b FROM t"), 21);
  EXPECT_EQ(p.scalar("SELECT journal_mode = 'wal' FROM pragma_journal_mode"), 1);
}

TEST(SqliteWriter, ALockedDatabaseHoldsTheProducerBackUntilReleased) {
  temp_dir dir;
  const std::string path = dir / "data.db";
  auto other = std::make_unique<peer>(path);
  other->exec("PRAGMA journal_mode=WAL; CREATE TABLE t (id INTEGER)");
  other->exec("BEGIN EXCLUSIVE");
  boost::asio::io_context io;
  sluice::asio_loop loop(io);
  auto w = db::make_sqlite_writer<std::tuple<std::int64_t>>(loop, path, "t",
                                                            {.batch_rows = 10,
                                                             .max_delay = 1ms,
                                                             .high_water_mark = 20,
                                                             .max_attempts = 1000,
                                                             .backoff_base = 5ms,
                                                             .backoff_max = 10ms,
                                                             .busy_timeout = 20ms});
  constexpr std::int64_t total = 200;
  std::int64_t next = 0;
  int acked = 0;
  int failed = 0;
  auto cb = [&](std::error_code ec) { ++(ec ? failed : acked); };
  while (next < total && w->write({next++}, cb)) {
  }
  EXPECT_EQ(next, 20);  // write() returned false at the highWaterMark
  bool drained = false;
  w->once_drain([&] { drained = true; });
  io.run_for(300ms);
  EXPECT_FALSE(drained);
  EXPECT_EQ(acked, 0);
  EXPECT_EQ(failed, 0);
  EXPECT_EQ(w->writable_length(), 20u);  // bounded: nothing more was taken

  other->exec("COMMIT");
  std::function<void()> produce = [&] {
    while (next < total)
      if (!w->write({next++}, cb)) {
        w->once_drain(produce);
        return;
      }
    w->end();
  };
  w->once_drain(produce);
  io.restart();
  io.run();
  EXPECT_TRUE(drained);
  EXPECT_EQ(acked, total);
  EXPECT_EQ(failed, 0);
  EXPECT_LE(w->writable_length(), 0u);
  EXPECT_EQ(other->scalar("SELECT count(*) FROM t"), total);
  EXPECT_EQ(other->scalar("SELECT sum(id) FROM t"), total * (total - 1) / 2);
}

TEST(SqliteWriter, AConstraintViolationNamesTheRowAndRollsBackItsBatchOnly) {
  temp_dir dir;
  const std::string path = dir / "data.db";
  peer p(path);
  p.exec("CREATE TABLE events (id INTEGER PRIMARY KEY)");
  manual_loop loop;
  auto w =
      db::make_sqlite_writer<std::tuple<std::int64_t>>(loop, path, "events", {.batch_rows = 10});
  std::error_code error;
  w->on_error([&](std::error_code ec) { error = ec; });
  outcomes o(30);
  for (std::size_t i = 0; i < 30; ++i)
    w->write({i == 15 ? 3 : static_cast<std::int64_t>(i)}, o.cb(i));
  w->end();
  loop.run();
  EXPECT_TRUE(db::sqlite_constraint(error)) << error.message();
  const std::string msg = w->error_message();
  EXPECT_EQ(
      msg.rfind("sqlite '" + path + "' table events: row 15: UNIQUE constraint failed: events.id",
                0),
      0u)
      << msg;
  EXPECT_TRUE(o.each_once());
  for (std::size_t i = 0; i < 10; ++i) EXPECT_FALSE(o.codes[i]) << i;
  for (std::size_t i = 10; i < 30; ++i) EXPECT_TRUE(o.codes[i]) << i;
  EXPECT_EQ(p.scalar("SELECT count(*) FROM events"), 10);  // the first batch, not a row more
  EXPECT_EQ(p.scalar("SELECT max(id) FROM events"), 9);
}

using id_row = std::tuple<std::int64_t>;

// A load of ids 0..n-1, run to its end: the writer (its error), whether end() succeeded, and
// the ids a dead letter received.
struct id_load {
  std::shared_ptr<sluice::writable<id_row>> w;
  bool finished = false;
  std::vector<std::int64_t> dead;
};

// Writes ids 0..n-1 into `table` of path in batches of batch_rows, row `bad` taking the id
// `bad_id`, and runs the loop. Each row's outcome goes to `o` when given; with `dead_letter`,
// failed batches go to a dead letter that keeps their ids.
id_load write_ids(const std::string& path, const std::string& table, std::size_t n, std::size_t bad,
                  std::size_t batch_rows, outcomes* o = nullptr, bool dead_letter = false,
                  std::int64_t bad_id = 3) {
  manual_loop loop;
  id_load r;
  db::sqlite_writer_options<id_row> opts{.batch_rows = batch_rows};
  if (dead_letter)
    opts.dead_letter = sluice::make_writable<id_row>(
        loop, {.write = [&r](sluice::writable<id_row>&, id_row&& row, auto cb) {
          r.dead.push_back(std::get<0>(row));
          cb();
        }});
  r.w = db::make_sqlite_writer<id_row>(loop, path, table, std::move(opts));
  for (std::size_t i = 0; i < n; ++i) {
    id_row row{i == bad ? bad_id : static_cast<std::int64_t>(i)};
    if (o != nullptr)
      r.w->write(std::move(row), o->cb(i));
    else
      r.w->write(std::move(row));
  }
  r.w->end([&r](std::error_code ec) { r.finished = !ec; });
  loop.run();
  return r;
}

TEST(SqliteWriter, BadRowsGoToTheDeadLetterAndTheRestIsCommitted) {
  temp_dir dir;
  const std::string path = dir / "data.db";
  peer p(path);
  p.exec("CREATE TABLE t (id INTEGER PRIMARY KEY)");
  const auto r = write_ids(path, "t", 15, 7, 5, nullptr, /*dead_letter=*/true, /*bad_id=*/1);
  EXPECT_TRUE(r.finished) << r.w->error_message();
  EXPECT_EQ(r.dead, (std::vector<std::int64_t>{5, 6, 1, 8, 9}));
  EXPECT_EQ(p.scalar("SELECT count(*) FROM t"), 10);
}

// ---- multi-row INSERTs: a table takes up to 100 rows per statement, yet a failing row is named

TEST(SqliteWriter, ABadRowInTheMiddleOfAMultiRowInsertIsNamedExactly) {
  temp_dir dir;
  const std::string path = dir / "data.db";
  peer p(path);
  p.exec("CREATE TABLE t (id INTEGER PRIMARY KEY)");
  outcomes o(3000);
  auto w = write_ids(path, "t", 3000, 1750, 1000, &o).w;
  EXPECT_EQ(w->error_message().rfind(
                "sqlite '" + path + "' table t: row 1750: UNIQUE constraint failed: t.id", 0),
            0u)
      << w->error_message();
  EXPECT_TRUE(o.each_once());
  EXPECT_FALSE(o.codes[999]);
  EXPECT_TRUE(o.codes[1000]);
  EXPECT_EQ(p.scalar("SELECT count(*) FROM t"), 1000);  // the first batch; its second is undone
  EXPECT_EQ(p.scalar("SELECT max(id) FROM t"), 999);
}

TEST(SqliteWriter, AnEarlierBadRowIsNamedBeforeALaterRowThatCannotBeBound) {
  temp_dir dir;
  const std::string path = dir / "data.db";
  peer p(path);
  p.exec("CREATE TABLE t (id INTEGER PRIMARY KEY, s TEXT)");
  manual_loop loop;
  auto w = db::make_sqlite_record_writer(loop, path, "t", {.batch_rows = 300});
  for (std::int64_t i = 0; i < 300; ++i) {
    if (i == 150)  // too short: cannot be bound, found before its group is stepped
      w->write(db::record{{db::value(i)}});
    else
      w->write(db::record{{db::value(i == 120 ? 7 : i), db::value(std::string("x"))}});
  }
  w->end();
  loop.run();
  // A row at a time, row 120 fails first, as it did before rows were grouped.
  EXPECT_EQ(w->error_message().rfind(
                "sqlite '" + path + "' table t: row 120: UNIQUE constraint failed: t.id", 0),
            0u)
      << w->error_message();
  EXPECT_EQ(p.scalar("SELECT count(*) FROM t"), 0);
}

TEST(SqliteWriter, ABadRowInAGroupSendsItsBatchToTheDeadLetterAndTheOthersAreCommitted) {
  temp_dir dir;
  const std::string path = dir / "data.db";
  peer p(path);
  p.exec("CREATE TABLE t (id INTEGER PRIMARY KEY)");
  const auto r = write_ids(path, "t", 300, 150, 100, nullptr, /*dead_letter=*/true);
  EXPECT_TRUE(r.finished) << r.w->error_message();
  // batch_writer's dead letter takes the failed batch whole (here the batch is one group).
  ASSERT_EQ(r.dead.size(), 100u);
  EXPECT_EQ(r.dead.front(), 100);
  EXPECT_EQ(r.dead[50], 3);
  EXPECT_EQ(p.scalar("SELECT count(*) FROM t"), 200);
  EXPECT_EQ(p.scalar("SELECT count(*) FROM t WHERE id BETWEEN 100 AND 199"), 0);
}

TEST(SqliteWriter, BatchesThatAreNotAMultipleOfAHundredGoInWhole) {
  temp_dir dir;
  const std::string path = dir / "data.db";
  manual_loop loop;
  // 250-row batches (groups of 100, 100, 50) and a last batch of 234 (100, 100, 34).
  auto w = db::make_sqlite_writer<event>(
      loop, path, "events",
      {.batch_rows = 250,
       .create_table = true,
       .columns = {"id", "name", "v", "n", "flag", "payload", "at", "note"}});
  constexpr std::size_t n = 1234;
  outcomes o(n);
  for (std::size_t i = 0; i < n; ++i) w->write(make_event(static_cast<std::int64_t>(i)), o.cb(i));
  w->end();
  loop.run();
  EXPECT_FALSE(w->errored()) << w->error_message();
  EXPECT_TRUE(o.each_once());
  for (auto ec : o.codes) EXPECT_FALSE(ec);
  auto r = db::make_sqlite_reader<event>(loop, path, "SELECT * FROM events ORDER BY rowid");
  auto c = collect<event>(r);
  loop.run();
  EXPECT_TRUE(c->ended) << c->message;
  ASSERT_EQ(c->rows.size(), n);  // in order, each row with its own values (no parameter shifted)
  for (std::size_t i = 0; i < n; ++i)
    ASSERT_TRUE(same(c->rows[i], make_event(static_cast<std::int64_t>(i)))) << "row " << i;

  // A bad row in a last, shorter group is named too.
  peer p(path);
  p.exec("CREATE TABLE u (id INTEGER PRIMARY KEY)");
  outcomes o2(234);
  auto w2 = write_ids(path, "u", 234, 220, 250, &o2).w;
  EXPECT_NE(w2->error_message().find(": row 220: UNIQUE constraint failed: u.id"),
            std::string::npos)
      << w2->error_message();
  EXPECT_EQ(p.scalar("SELECT count(*) FROM u"), 0);
}

TEST(SqliteWriter, AGivenInsertStatementIsSteppedARowAtATime) {
  temp_dir dir;
  const std::string path = dir / "data.db";
  peer p(path);
  p.exec("CREATE TABLE t (id INTEGER PRIMARY KEY, at TEXT, c TEXT DEFAULT 'd')");
  const std::string sql = "INSERT INTO t (at, id) VALUES (?, ?)";
  manual_loop loop;
  using row = std::pair<db::timestamp, std::int64_t>;
  auto w = db::make_sqlite_writer<row>(loop, path, sql, {.batch_rows = 250});
  for (std::int64_t i = 0; i < 300; ++i) w->write({make_event(i).at, i == 260 ? 5 : i});
  w->end();
  loop.run();
  EXPECT_EQ(w->error_message().rfind("sqlite '" + path + "' statement '" + sql +
                                         "': row 260: UNIQUE constraint failed: t.id",
                                     0),
            0u)
      << w->error_message();
  EXPECT_EQ(p.scalar("SELECT count(*) FROM t"), 250);
  EXPECT_EQ(p.scalar("SELECT count(*) FROM t WHERE at = '" +
                     db::format_timestamp(make_event(7).at) + "' AND id = 7 AND c = 'd'"),
            1);

  // Records into a statement, as the CLI's `sqlite` stage can be given one.
  auto rw = db::make_sqlite_record_writer(loop, path, "INSERT INTO t (id) VALUES (?)",
                                          {.batch_rows = 150});
  for (std::int64_t i = 1000; i < 1300; ++i) rw->write(db::record{{db::value(i)}});
  rw->end();
  loop.run();
  EXPECT_FALSE(rw->errored()) << rw->error_message();
  EXPECT_EQ(p.scalar("SELECT count(*) FROM t WHERE id >= 1000"), 300);
}

TEST(SqliteWriter, AStatementThatKeepsItsEarlierRowsOnFailureStillNamesTheRow) {
  temp_dir dir;
  const std::string path = dir / "data.db";
  peer p(path);
  // ON CONFLICT FAIL keeps the rows a failing statement inserted before the bad one.
  p.exec("CREATE TABLE t (id INTEGER UNIQUE ON CONFLICT FAIL)");
  outcomes o(1000);
  auto w = write_ids(path, "t", 1000, 450, 1000, &o).w;
  EXPECT_NE(w->error_message().find(": row 450: UNIQUE constraint failed: t.id"), std::string::npos)
      << w->error_message();
  EXPECT_EQ(p.scalar("SELECT count(*) FROM t"), 0);  // the batch is undone whole
}

TEST(SqliteWriter, AnErrorThatEndsTheTransactionNamesTheRowsOfItsStatement) {
  temp_dir dir;
  const std::string path = dir / "data.db";
  peer p(path);
  // ON CONFLICT ROLLBACK ends the transaction: no row can be tried again on its own.
  p.exec("CREATE TABLE t (id INTEGER UNIQUE ON CONFLICT ROLLBACK)");
  outcomes o(2000);
  auto w = write_ids(path, "t", 2000, 1750, 1000, &o).w;
  EXPECT_EQ(
      w->error_message().rfind(
          "sqlite '" + path + "' table t: rows 1700..1799: UNIQUE constraint failed: t.id", 0),
      0u)
      << w->error_message();
  EXPECT_TRUE(o.each_once());
  EXPECT_FALSE(o.codes[999]);
  EXPECT_TRUE(o.codes[1000]);
  EXPECT_EQ(p.scalar("SELECT count(*) FROM t"), 1000);
}

TEST(SqliteWriter, ARecordThatCannotBeBoundIsDivertedWithItsBatchOnly) {
  temp_dir dir;
  const std::string path = dir / "data.db";
  peer p(path);
  p.exec("CREATE TABLE t (a INTEGER, b TEXT)");
  manual_loop loop;
  std::vector<db::record> dead;
  auto dl = sluice::make_writable<db::record>(
      loop, {.write = [&](sluice::writable<db::record>&, db::record&& r, auto cb) {
        dead.push_back(std::move(r));
        cb();
      }});
  auto w = db::make_sqlite_record_writer(loop, path, "t", {.batch_rows = 2, .dead_letter = dl});
  for (std::int64_t i = 0; i < 6; ++i)
    w->write(i == 3 ? db::record{{db::value(i)}}
                    : db::record{{db::value(i), db::value(std::to_string(i))}});
  bool finished = false;
  w->end([&](std::error_code ec) { finished = !ec; });
  loop.run();
  EXPECT_TRUE(finished) << w->error_message();
  ASSERT_EQ(dead.size(), 2u);  // rows 2 and 3: the batch of the short record
  EXPECT_EQ(dead[0].values[0], db::value(std::int64_t(2)));
  // The batch after it binds afresh: the failure does not stick to the next rows.
  EXPECT_EQ(p.scalar("SELECT count(*) FROM t"), 4);
  EXPECT_EQ(p.scalar("SELECT sum(a) FROM t"), 0 + 1 + 4 + 5);
}

TEST(SqliteWriter, AMissingDirectoryIsAnErrorNamingThePath) {
  temp_dir dir;
  const std::string path = dir / "no-such-dir" / "data.db";
  manual_loop loop;
  auto w = db::make_sqlite_writer<std::tuple<int>>(loop, path, "t", {.create_table = true});
  std::error_code cb_ec;
  w->write({1}, [&](std::error_code ec) { cb_ec = ec; });
  w->end();
  loop.run();
  EXPECT_EQ(cb_ec, std::errc::no_such_file_or_directory);
  EXPECT_EQ(w->error_message(), "sqlite '" + path + "' table t: open: No such file or directory");
}

TEST(SqliteWriter, DestroyWhenIdleClosesAndKeepsWhatWasAcknowledged) {
  temp_dir dir;
  const std::string path = dir / "data.db";
  manual_loop loop;
  auto w = db::make_sqlite_writer<std::tuple<int>>(loop, path, "t",
                                                   {.batch_rows = 2, .create_table = true});
  outcomes o(2);
  w->write({1}, o.cb(0));
  w->write({2}, o.cb(1));
  loop.run();
  EXPECT_TRUE(o.each_once());
  bool closed = false;
  w->on_close([&] { closed = true; });
  w->destroy();
  loop.run();
  EXPECT_TRUE(closed);
  EXPECT_FALSE(o.codes[0] || o.codes[1]);
  for (const auto& e : dir.entries()) EXPECT_FALSE(e.ends_with("-wal")) << e;  // closed
  peer p(path);
  EXPECT_EQ(p.scalar("SELECT count(*) FROM t"), 2);
}

TEST(SqliteWriter, DestroyWithABatchBufferedFailsItsWritesAndCommitsNothing) {
  temp_dir dir;
  const std::string path = dir / "data.db";
  manual_loop loop;
  auto w = db::make_sqlite_writer<std::tuple<int>>(
      loop, path, "t", {.batch_rows = 10, .max_delay = 1h, .create_table = true});
  outcomes o(3);
  for (std::size_t i = 0; i < 3; ++i) w->write({int(i)}, o.cb(i));
  loop.run_until_idle();
  w->destroy();
  loop.run_until_quiet();
  EXPECT_TRUE(o.each_once());
  for (auto ec : o.codes) EXPECT_EQ(ec, sluice::errc::stream_destroyed);
  peer p(path);
  EXPECT_EQ(p.scalar("SELECT count(*) FROM t"), -1);  // never opened: no table at all
}

TEST(SqliteWriter, DestroyWhileCommittingRollsBackPromptly) {
  temp_dir dir;
  const std::string path = dir / "data.db";
  peer other(path);
  other.exec("PRAGMA journal_mode=WAL; CREATE TABLE t (id INTEGER)");
  other.exec("BEGIN EXCLUSIVE");
  manual_loop loop;
  auto w = db::make_sqlite_writer<std::tuple<int>>(loop, path, "t",
                                                   {.batch_rows = 3, .busy_timeout = 60s});
  outcomes o(3);
  for (std::size_t i = 0; i < 3; ++i) w->write({int(i)}, o.cb(i));
  loop.run_until_idle();  // the batch is on the pool, waiting for the lock
  EXPECT_FALSE(loop.run_until_quiet_for(50ms));
  const auto t0 = std::chrono::steady_clock::now();
  w->destroy();
  EXPECT_TRUE(loop.run_until_quiet_for(5s));  // not the 60 s busy timeout
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 2s);
  EXPECT_TRUE(o.each_once());
  for (auto ec : o.codes) EXPECT_EQ(ec, sluice::errc::stream_destroyed);
  other.exec("COMMIT");
  EXPECT_EQ(other.scalar("SELECT count(*) FROM t"), 0);
}

// ---- the reader -------------------------------------------------------------------------------

void fill(const std::string& path, int n) {
  peer p(path);
  p.exec("CREATE TABLE t (id INTEGER, v)");
  p.exec("BEGIN");
  for (int i = 0; i < n; ++i)
    p.exec("INSERT INTO t VALUES (" + std::to_string(i) + ", " + std::to_string(i * 2) + ")");
  p.exec("COMMIT");
}

TEST(SqliteReader, StepsOnlyWhatTheConsumerAsksFor) {
  temp_dir dir;
  const std::string path = dir / "data.db";
  fill(path, 1000);
  manual_loop loop;
  auto r = db::make_sqlite_reader<std::tuple<std::int64_t, std::int64_t>>(
      loop, path, "SELECT id, v FROM t ORDER BY id", {}, {.high_water_mark = 10, .fetch_rows = 10});
  std::vector<std::int64_t> got;
  bool ended = false;
  r->on_end([&] { ended = true; });
  const auto paused =
      r->on_readable([] {});  // paused mode: the reader fills its buffer, then waits
  loop.run();
  for (int i = 0; i < 5; ++i) got.push_back(std::get<0>(r->read(1).value()));
  loop.run();
  EXPECT_LE(r->rows_stepped(), 10u + 10u + 5u);  // hwm + one fetch, beyond what was read
  EXPECT_GE(r->rows_stepped(), 10u);
  loop.run();
  EXPECT_LE(r->rows_stepped(), 25u);  // still: nobody reads
  r->off(paused);
  r->on_data([&](std::tuple<std::int64_t, std::int64_t>&& row) {
    EXPECT_EQ(std::get<1>(row), std::get<0>(row) * 2);
    got.push_back(std::get<0>(row));
  });
  r->resume();
  loop.run();
  EXPECT_TRUE(ended);
  ASSERT_EQ(got.size(), 1000u);
  for (std::size_t i = 0; i < got.size(); ++i) ASSERT_EQ(got[i], std::int64_t(i));
}

TEST(SqliteReader, ATimestampParameterStaysBoundWhileSteppingInSeveralJobs) {
  temp_dir dir;
  const std::string path = dir / "data.db";
  manual_loop loop;
  auto w = db::make_sqlite_writer<event>(
      loop, path, "events",
      {.create_table = true, .columns = {"id", "name", "v", "n", "flag", "payload", "at", "note"}});
  for (std::int64_t i = 0; i < 40; ++i) w->write(make_event(i));
  w->end();
  loop.run();
  ASSERT_FALSE(w->errored()) << w->error_message();
  // The parameter's text is bound without a copy: it must outlive open(), into every step.
  auto r = db::make_sqlite_reader<std::tuple<std::int64_t>>(
      loop, path, "SELECT id FROM events WHERE at >= ? ORDER BY id", {db::value(make_event(25).at)},
      {.high_water_mark = 2, .fetch_rows = 2});
  auto c = collect<std::tuple<std::int64_t>>(r);
  loop.run();
  EXPECT_TRUE(c->ended) << c->message;
  ASSERT_EQ(c->rows.size(), 15u);
  for (std::size_t i = 0; i < 15; ++i) EXPECT_EQ(std::get<0>(c->rows[i]), std::int64_t(25 + i));
}

TEST(SqliteReader, ATypeMismatchNamesTheRowAndTheColumn) {
  temp_dir dir;
  const std::string path = dir / "data.db";
  fill(path, 30);
  peer(path).exec("UPDATE t SET v = 'abc' WHERE id = 17");
  manual_loop loop;
  std::shared_ptr<sluice::readable<std::tuple<std::int64_t, std::int64_t>>> r =
      db::make_sqlite_reader<std::tuple<std::int64_t, std::int64_t>>(
          loop, path, "SELECT id, v FROM t ORDER BY id");
  auto c = collect(r);
  loop.run();
  EXPECT_FALSE(c->ended);
  EXPECT_EQ(c->rows.size(), 17u);  // the rows before it were delivered
  EXPECT_EQ(c->message, "sqlite '" + path +
                            "': row 17, column \"v\" (1): expected an integer, got text 'abc': "
                            "datatype mismatch");
}

TEST(SqliteReader, NullIntoAFieldThatIsNotOptionalIsAnError) {
  temp_dir dir;
  const std::string path = dir / "data.db";
  fill(path, 3);
  peer(path).exec("UPDATE t SET v = NULL WHERE id = 1");
  manual_loop loop;
  std::shared_ptr<sluice::readable<std::tuple<std::int64_t, double>>> r =
      db::make_sqlite_reader<std::tuple<std::int64_t, double>>(loop, path,
                                                               "SELECT id, v FROM t ORDER BY id");
  auto c = collect(r);
  loop.run();
  EXPECT_EQ(c->rows.size(), 1u);
  EXPECT_NE(c->message.find("row 1, column \"v\" (1): expected a number, got NULL"),
            std::string::npos)
      << c->message;

  std::shared_ptr<sluice::readable<std::tuple<std::int64_t, std::optional<double>>>> r2 =
      db::make_sqlite_reader<std::tuple<std::int64_t, std::optional<double>>>(
          loop, path, "SELECT id, v FROM t WHERE id = ?", {db::value(std::int64_t(1))});
  auto c2 = collect(r2);
  loop.run();
  EXPECT_TRUE(c2->ended) << c2->message;
  ASSERT_EQ(c2->rows.size(), 1u);
  EXPECT_EQ(std::get<1>(c2->rows[0]), std::nullopt);
}

TEST(SqliteReader, AMissingFileIsAnErrorNamingThePath) {
  temp_dir dir;
  const std::string path = dir / "missing.db";
  manual_loop loop;
  auto r = db::make_sqlite_record_reader(loop, path, "SELECT 1");
  auto c = collect(r);
  loop.run();
  EXPECT_FALSE(c->ended);
  EXPECT_EQ(c->error, std::errc::no_such_file_or_directory);
  EXPECT_EQ(c->message, "sqlite '" + path + "': open: No such file or directory");
  EXPECT_FALSE(std::filesystem::exists(path));  // a reader never creates the file
}

TEST(SqliteReader, AFileThatIsNotADatabaseIsAnErrorNamingThePath) {
  temp_dir dir;
  const std::string path = dir / "notes.txt";
  sluice::test::write_file(path, std::string(4096, 'x'));
  manual_loop loop;
  auto r = db::make_sqlite_record_reader(loop, path, "SELECT * FROM t");
  auto c = collect(r);
  auto w = db::make_sqlite_writer<std::tuple<int>>(loop, path, "t");
  std::error_code wrote;
  w->write({1}, [&](std::error_code ec) { wrote = ec; });
  w->end();
  loop.run();
  EXPECT_EQ(c->error, db::make_sqlite_error(SQLITE_NOTADB));
  EXPECT_EQ(c->message, "sqlite '" + path + "': prepare: file is not a database");
  EXPECT_EQ(wrote, db::make_sqlite_error(SQLITE_NOTADB));
  EXPECT_EQ(w->error_message(), "sqlite '" + path + "' table t: pragmas: file is not a database");
  EXPECT_EQ(sluice::test::read_file(path), std::string(4096, 'x'));  // left as it was
}

TEST(SqliteReader, AQueryErrorAndAWrongColumnCountAreNamed) {
  temp_dir dir;
  const std::string path = dir / "data.db";
  fill(path, 3);
  manual_loop loop;
  auto r = db::make_sqlite_record_reader(loop, path, "SELECT nope FROM t");
  auto c = collect(r);
  std::shared_ptr<sluice::readable<std::tuple<std::int64_t>>> r2 =
      db::make_sqlite_reader<std::tuple<std::int64_t>>(loop, path, "SELECT * FROM t");
  auto c2 = collect(r2);
  loop.run();
  EXPECT_EQ(c->message, "sqlite '" + path + "': prepare: no such column: nope: SQL logic error");
  EXPECT_EQ(c2->message, "sqlite '" + path +
                             "': the query returns 2 columns, the row type has 1: datatype "
                             "mismatch");
}

TEST(SqliteReader, DestroyWhileReadingStopsAndCloses) {
  temp_dir dir;
  const std::string path = dir / "data.db";
  fill(path, 100);
  manual_loop loop;
  auto r = db::make_sqlite_record_reader(loop, path, "SELECT * FROM t", {}, {.high_water_mark = 4});
  std::size_t n = 0;
  bool closed = false;
  std::shared_ptr<sluice::readable<db::record>> keep = r;
  r->on_data([&](db::record&&) {
    if (++n == 6) keep->destroy();
  });
  r->on_close([&] { closed = true; });
  loop.run();
  EXPECT_TRUE(closed);
  EXPECT_EQ(n, 6u);
}

}  // namespace
