// The database stages of `sluice run` (tools/sluice/db_stages.hpp) end to end with the real
// binary: a gzipped CSV loaded into SQLite and read back, a constraint violation that names the
// row and fails the run, and the same through a real PostgreSQL server (the Postgres* suites run
// under ctest's postgres fixture, scripts/pg-server.sh).
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <sstream>
#include <string>

#include "cli/cli_fixture.hpp"

namespace sluice::cli {
namespace {

using testing::CliTest;

class DbCli : public CliTest {
 protected:
  // id,name,v for ids 1..n; every 7th name is NULL (an unquoted empty field).
  void make_csv(const std::string& name, int n) {
    std::string s = "id,name,v\n";
    for (int i = 1; i <= n; ++i)
      s += std::to_string(i) + "," + (i % 7 == 0 ? "" : "\"n, " + std::to_string(i) + "\"") + "," +
           std::to_string(i) + ".5\n";
    testing::spit(path(name), s);
  }
};

TEST_F(DbCli, GzippedCsvIntoSqliteAndBackAsJsonLines) {
  if (!testing::have("sqlite3") || !testing::have("gzip")) GTEST_SKIP() << "no sqlite3 or gzip";
  make_csv("a.csv", 5000);
  ASSERT_EQ(sh("gzip a.csv").status, 0);
  auto r =
      sh("$SLUICE run --stats 'read a.csv.gz | gunzip | csv --header | sqlite data.db events "
         "--create --batch 500'");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.err.find("sqlite"), std::string::npos) << r.err;  // --stats has its line
  const auto check =
      sh("sqlite3 data.db \"select count(*), sum(cast(id as integer)), count(name), "
         "printf('%.1f', total(v)) from events; pragma journal_mode;\"");
  ASSERT_EQ(check.status, 0) << check.err;
  EXPECT_EQ(check.out, "5000|12502500|4286|12505000.0\nwal\n");

  r =
      sh("$SLUICE run 'sqlite-query data.db \"select id, name from events where id in (6, 7) "
         "order by id\" | to-jsonl'");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out, "{\"id\":\"6\",\"name\":\"n, 6\"}\n{\"id\":\"7\",\"name\":null}\n");
}

TEST_F(DbCli, AConstraintViolationFailsTheRunNamingTheRowAndKeepsCommittedBatches) {
  if (!testing::have("sqlite3")) GTEST_SKIP() << "no sqlite3";
  ASSERT_EQ(sh("sqlite3 data.db 'create table events (id integer primary key, name text, v real)'")
                .status,
            0);
  make_csv("a.csv", 3000);
  testing::spit(path("dup.csv"), testing::slurp(path("a.csv")) + "2500,again,1\n");
  const auto r =
      sh("$SLUICE run 'read dup.csv | csv --header | sqlite data.db events --batch 1000'");
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("row 3000"), std::string::npos) << r.err;  // the 3001st row, from 0
  EXPECT_NE(r.err.find("UNIQUE constraint failed: events.id"), std::string::npos) << r.err;
  // The first three batches were committed; the failing one is rolled back whole.
  EXPECT_EQ(sh("sqlite3 data.db 'select count(*) from events'").out, "3000\n");
}

// The last figure of a stage's --stats line ("peak buf in/out": "16 B / 64.8 KiB"), in bytes.
double peak_out_bytes(const std::string& stats, const std::string& stage) {
  std::istringstream in(stats);
  for (std::string line; std::getline(in, line);) {
    std::istringstream words(line);
    std::string index, name;
    words >> index >> name;
    if (name != stage) continue;
    const auto slash = line.rfind(" / ");
    std::istringstream tail(line.substr(slash + 3));
    double v = 0;
    std::string unit;
    tail >> v >> unit;
    if (unit == "KiB") return v * 1024;
    if (unit == "MiB") return v * 1024 * 1024;
    if (unit == "GiB") return v * 1024 * 1024 * 1024;
    return v;
  }
  ADD_FAILURE() << "no --stats line for " << stage << " in\n" << stats;
  return 0;
}

// A database source reads as fast as it is let; a formatter (to-csv, to-jsonl) behind it must
// hold it back at its own highWaterMark when the stages after it are slower. (The formatters
// once completed each row's write at once and pushed the text later, past the highWaterMark:
// with a stalled consumer the whole table went into memory.)
TEST_F(DbCli, ARecordSourceIntoAFormatterStaysWithinTheHighWaterMark) {
  if (!testing::have("sqlite3")) GTEST_SKIP() << "no sqlite3";
  make_csv("a.csv", 100000);
  ASSERT_EQ(sh("$SLUICE run 'read a.csv | csv --header | sqlite data.db t --create'").status, 0);
  for (const char* format : {"to-csv", "to-jsonl"}) {
    const auto r = sh(std::string("$SLUICE run -q --stats 'sqlite-query data.db \"select * from "
                                  "t\" | ") +
                      format + " | throttle 20M | write out.txt'");
    ASSERT_EQ(r.status, 0) << r.err;
    // 64 KiB, plus a row that came while the output was full, plus one coalesced chunk.
    EXPECT_LT(peak_out_bytes(r.err, format), 200.0 * 1024) << r.err;
  }
}

TEST_F(DbCli, RestartWaitsForADatabaseDirectoryThatAppearsAndLoadsEveryRowOnce) {
  if (!testing::have("sqlite3")) GTEST_SKIP() << "no sqlite3";
  make_csv("a.csv", 5000);
  // Without --restart, a database that cannot be opened fails the run at once.
  auto r = sh("$SLUICE run 'read a.csv | csv --header | sqlite later/data.db events --create'");
  EXPECT_EQ(r.status, 1) << r.err;
  EXPECT_NE(r.err.find("sqlite 'later/data.db' table events: open: No such file or directory"),
            std::string::npos)
      << r.err;
  // With it, the writer is made again until the directory is there (0.3 s later).
  r =
      sh("(sleep 0.3; mkdir later) & $SLUICE run 'read a.csv | csv --header | sqlite "
         "later/data.db events --create --batch 500 --restart 10'; s=$?; wait; exit $s");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.err.find("sluice: sqlite: "), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("restart 1 in "), std::string::npos) << r.err;
  EXPECT_EQ(
      sh("sqlite3 later/data.db 'select count(*), count(distinct id), sum(id) from events'").out,
      "5000|5000|12502500\n");
  // A failure --restart does not cover (a constraint) is not retried.
  testing::spit(path("dup.csv"), "id,name,v\n1,a,1\n");
  ASSERT_EQ(sh("sqlite3 later/data.db 'create unique index ids on events(id)'").status, 0);
  r = sh("$SLUICE run 'read dup.csv | csv --header | sqlite later/data.db events --restart 10'");
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("not retryable"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("restart 1 in"), std::string::npos) << r.err;
}

TEST_F(DbCli, SkipBadReportsEachBadRecordByLineAndKeepsTheRest) {
  testing::spit(path("m.csv"), "id,name\n1,a\n2\n3,c\n4,d,e\n5,e\n");
  auto r = sh("$SLUICE run 'read m.csv | csv --header --skip-bad | to-csv'");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out, "1,a\n3,c\n5,e\n");
  EXPECT_NE(r.err.find("sluice: csv: line 3: 1 fields where the header has 2: wrong number of "
                       "fields (skipped)"),
            std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("csv: line 5: 3 fields"), std::string::npos) << r.err;
  // Without it, the first bad record fails the run.
  EXPECT_EQ(sh("$SLUICE run 'read m.csv | csv --header | to-csv'").status, 1);
  // Many bad lines: ten are shown, then the count at the end.
  std::string lines;
  for (int i = 0; i < 40; ++i)
    lines += i % 3 == 0 ? "{\"a\":" + std::to_string(i) + "}\n" : "{oops\n";
  testing::spit(path("m.jsonl"), lines);
  r = sh("$SLUICE run 'read m.jsonl | jsonl --skip-bad | to-jsonl'");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 14) << r.out;
  EXPECT_NE(r.err.find("sluice: jsonl: line 2, byte 2"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("further bad records are skipped without a message"), std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("sluice: jsonl: 26 bad records skipped"), std::string::npos) << r.err;
}

TEST_F(DbCli, MissingArgumentsAreSyntaxErrors) {
  auto r = sh("$SLUICE run 'csv | sqlite data.db'");
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("sqlite: missing a table name"), std::string::npos) << r.err;
  r = sh("$SLUICE run 'pg-query \"dbname=x\" | to-csv'");
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("pg-query: missing a query"), std::string::npos) << r.err;
  r = sh("$SLUICE run 'csv | pg \"dbname=x\" t --batch 0'");
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("--batch takes a number of rows"), std::string::npos) << r.err;
  for (const char* n : {"0", "17", "two"}) {
    r = sh(std::string("$SLUICE run 'csv | pg \"dbname=x\" t --connections ") + n + "'");
    EXPECT_EQ(r.status, 2) << n;
    EXPECT_NE(r.err.find("pg: --connections takes a number of connections, from 1 to 16"),
              std::string::npos)
        << r.err;
  }
  r = sh("$SLUICE run 'csv | sqlite data.db t --connections 2'");  // SQLite has one writer
  EXPECT_EQ(r.status, 2) << r.err;
}

class PostgresCli : public DbCli {
 protected:
  void SetUp() override {
    DbCli::SetUp();
    const char* dir = std::getenv("SLUICE_PG_SOCKET_DIR");
    if (dir == nullptr || *dir == 0)
      GTEST_SKIP() << "no PostgreSQL server: run under ctest (fixture postgres), or start one "
                      "with scripts/pg-server.sh start DIR and set SLUICE_PG_SOCKET_DIR=DIR";
    conninfo_ = std::string("host=") + dir + " user=sluice dbname=postgres";
  }
  testing::result psql(const std::string& sql) {
    return sh("psql -X -q -A -t '" + conninfo_ + "' -c \"" + sql + "\"");
  }
  std::string conninfo_;
};

TEST_F(PostgresCli, GzippedCsvIntoATableAndBackAsCsv) {
  if (!testing::have("gzip")) GTEST_SKIP() << "no gzip";
  ASSERT_EQ(psql("drop table if exists cli_events; create table cli_events (id bigint primary "
                 "key, name text, v double precision)")
                .status,
            0);
  make_csv("a.csv", 20000);
  ASSERT_EQ(sh("gzip a.csv").status, 0);
  auto r = sh("$SLUICE run --stats 'read a.csv.gz | gunzip | csv --header | pg \"" + conninfo_ +
              "\" cli_events --batch 3000'");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.err.find("pg"), std::string::npos) << r.err;
  const auto check = psql("select count(*), sum(id), count(name), sum(v) from cli_events");
  ASSERT_EQ(check.status, 0) << check.err;
  EXPECT_EQ(check.out, "20000|200010000|17143|200020000\n");

  r = sh("$SLUICE run 'pg-query \"" + conninfo_ +
         "\" \"select id, name from cli_events where id in (13, 14) order by id\" | to-csv "
         "--header'");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out, "id,name\n13,\"n, 13\"\n14,\n");
}

TEST_F(PostgresCli, OneConnectionLoadsEveryBatchOnOneBackend) {
  ASSERT_EQ(psql("drop table if exists cli_one; create table cli_one (id bigint primary key, "
                 "name text, v double precision, backend int default pg_backend_pid())")
                .status,
            0);
  make_csv("a.csv", 20000);
  for (const char* n : {"3", "1"}) {
    ASSERT_EQ(psql("truncate cli_one").status, 0);
    const auto r = sh("$SLUICE run 'read a.csv | csv --header | pg \"" + conninfo_ +
                      "\" cli_one --batch 1000 --connections " + n + "'");
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(psql("select count(*), sum(id) from cli_one").out, "20000|200010000\n") << n;
  }
  // With --connections 1, every batch went through one backend.
  EXPECT_EQ(psql("select count(distinct backend) from cli_one").out, "1\n");
}

TEST_F(PostgresCli, RestartRidesOutAServerCrashAndLoadsEveryRow) {
  ASSERT_EQ(psql("drop table if exists cli_crash; create table cli_crash (id bigint, name text, v "
                 "double precision)")
                .status,
            0);
  make_csv("a.csv", 1'500'000);
  const std::string server = std::string(SLUICE_PG_SERVER_SCRIPT) + " ";
  const std::string dir = std::getenv("SLUICE_PG_SOCKET_DIR");
  // The load runs in the background; once rows are in, the server is killed, and started again
  // half a second later.
  const auto r = sh(
      "$SLUICE run 'read a.csv | csv --header | pg \"" + conninfo_ +
      "\" cli_crash --batch 5000 --restart 20' & pid=$!; "
      "until [ \"$(psql -X -q -A -t '" +
      conninfo_ +
      "' -c 'select count(*) from cli_crash' 2>/dev/null || echo 0)\" -gt 50000 ]; do sleep 0.02; "
      "done; " +
      server + "crash '" + dir + "' >/dev/null 2>&1; sleep 0.5; " + server + "start '" + dir +
      "' >/dev/null 2>&1; wait $pid");
  // (Whatever happened, the next tests find the server running.)
  ASSERT_EQ(std::system((server + "start '" + dir + "' >/dev/null 2>&1").c_str()), 0);
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.err.find("sluice: pg: "), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("restart 1 in "), std::string::npos) << r.err;
  // Every row is in. A batch the server committed just as it died, before it could say so, may
  // be there twice (at least once); nothing is missing.
  EXPECT_EQ(psql("select count(distinct id), sum(distinct id) from cli_crash").out,
            "1500000|1125000750000\n");
  const auto all = psql("select count(*) from cli_crash");
  EXPECT_GE(std::stoll(all.out), 1'500'000) << all.out;
}

TEST_F(PostgresCli, ABadValueFailsTheRunNamingTheRow) {
  ASSERT_EQ(psql("drop table if exists cli_bad; create table cli_bad (id bigint, name text, v "
                 "double precision)")
                .status,
            0);
  testing::spit(path("bad.csv"), "id,name,v\n1,a,1.5\n2,b,not-a-number\n");
  const auto r = sh("$SLUICE run 'read bad.csv | csv --header | pg \"" + conninfo_ + "\" cli_bad'");
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("row 1"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("invalid input syntax for type double precision"), std::string::npos)
      << r.err;
  EXPECT_EQ(psql("select count(*) from cli_bad").out, "0\n");  // one COPY: nothing of it
}

TEST_F(PostgresCli, BinaryCopyLoadsTheSameValuesAndNamesABadColumn) {
  ASSERT_EQ(psql("drop table if exists cli_bin; create table cli_bin (id bigint primary key, "
                 "name text, v double precision)")
                .status,
            0);
  make_csv("a.csv", 20000);
  auto r = sh("$SLUICE run 'read a.csv | csv --header | pg \"" + conninfo_ +
              "\" cli_bin --binary --batch 3000'");
  ASSERT_EQ(r.status, 0) << r.err;
  const auto check = psql("select count(*), sum(id), count(name), sum(v) from cli_bin");
  ASSERT_EQ(check.status, 0) << check.err;
  EXPECT_EQ(check.out, "20000|200010000|17143|200020000\n");

  testing::spit(path("bad.csv"), "id,name,v\n100001,a,1.5\n100002,b,not-a-number\n");
  r = sh("$SLUICE run 'read bad.csv | csv --header | pg \"" + conninfo_ + "\" cli_bin --binary'");
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("row 1 (line 2 of batch 1): column v: 'not-a-number' is not a valid double "
                       "precision"),
            std::string::npos)
      << r.err;
  EXPECT_EQ(psql("select count(*) from cli_bin where id > 100000").out, "0\n");
  r = sh("$SLUICE run 'read bad.csv | csv --header | pg \"" + conninfo_ + "\" cli_bin --binary=1'");
  EXPECT_EQ(r.status, 2) << r.err;  // a flag takes no value
}

}  // namespace
}  // namespace sluice::cli
