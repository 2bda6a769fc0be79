// sluice/db/sqlite_writer.hpp: make_sqlite_writer<Row>(), rows into an SQLite table, one
// transaction per batch.
//
// The writer is a batch_writer<Row> (sluice/sinks/batch_writer.hpp) whose flush runs, on the
// SQLite pool (sqlite_core.hpp), BEGIN IMMEDIATE, the batch's rows (into a table: prepared INSERTs
// of up to 100 rows each; into a given statement: a row at a time), and COMMIT.
// A write's callback runs only after the COMMIT of the batch holding it (with synchronous=FULL, the
// default, once it is on disk), so writable_length(), write() returning false and 'drain' count
// rows the database does not have yet: a slow or locked database holds the producer back. Rows
// are static rows (row.hpp) or db::record. sqlite_reader.hpp reads them back.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <system_error>
#include <type_traits>
#include <utility>
#include <vector>

#include "sluice/core/writable.hpp"
#include "sluice/db/row.hpp"
#include "sluice/db/sqlite_core.hpp"
#include "sluice/sinks/batch_writer.hpp"

namespace sluice::db {

/// Options of make_sqlite_writer().
template <class Row>
struct sqlite_writer_options {
  /// Rows per transaction; a batch is also committed when its first row has waited max_delay,
  /// and at end().
  std::size_t batch_rows = 1000;
  loop::duration max_delay = std::chrono::milliseconds(100);
  /// Buffered rows at which write() returns false. Default: 2 × batch_rows (one batch
  /// committing, one filling).
  std::optional<std::size_t> high_water_mark{};
  /// Commits per batch, the first included. Errors `retryable` accepts are retried with
  /// batch_writer's backoff; a failed attempt was rolled back entirely.
  unsigned max_attempts = 5;
  loop::duration backoff_base = std::chrono::milliseconds(50);
  loop::duration backoff_max = std::chrono::seconds(5);
  /// Default: sqlite_busy (SQLITE_BUSY and SQLITE_LOCKED, after busy_timeout).
  std::function<bool(std::error_code)> retryable{};
  /// Where the rows of a batch that failed for good go (batch_writer's dead letter); null: the
  /// stream fails with the cause and the row that caused it.
  std::shared_ptr<writable<Row>> dead_letter{};

  /// Create the table if it does not exist (only with a table name): columns named by
  /// `columns`, else c1..cN (static rows) or the first record's column names; types from the
  /// row type (INTEGER, REAL, TEXT, BLOB; NOT NULL unless std::optional) or, for records, from
  /// the first record's values.
  bool create_table = false;
  /// Column names: the INSERT's column list and create_table's names. Empty: a static row's
  /// INSERT is positional (VALUES (?, ...) in table order); a record's names its columns when
  /// the first record has names.
  std::vector<std::string> columns{};
  /// PRAGMA journal_mode=WAL (readers do not block the writer, nor it them).
  bool wal = true;
  sqlite_synchronous synchronous = sqlite_synchronous::full;
  /// How long a statement waits for another connection's lock before SQLITE_BUSY.
  std::chrono::milliseconds busy_timeout{5000};
  sqlite_timestamps timestamps = sqlite_timestamps::text;
  /// Name for diagnostics; default: "sqlite 'PATH' table T".
  std::string name{};
};

namespace detail {

template <class F>
constexpr const char* sqlite_decl() {
  using T = typename std::conditional_t<is_optional<F>::value, F, std::optional<F>>::value_type;
  if constexpr (std::is_same_v<T, bool> || std::is_integral_v<T>)
    return "INTEGER";
  else if constexpr (std::is_floating_point_v<T>)
    return "REAL";
  else if constexpr (std::is_same_v<T, std::string>)
    return "TEXT";
  else if constexpr (std::is_same_v<T, buffer>)
    return "BLOB";
  else
    return "TIMESTAMP";  // replaced by TEXT or INTEGER by the writer
}

/// Appends a column declaration ("INTEGER NOT NULL").
void sqlite_add_decl(std::vector<std::string>& decls, const char* type, bool not_null);
/// CREATE TABLE for `names` (c1..cN past their end) and their declarations.
std::string sqlite_create(std::string_view table, const std::vector<std::string>& names,
                          const std::vector<std::string>& decls, sqlite_timestamps ts);
/// A record stream's shape, from its first record and the options.
sqlite_connection::shape sqlite_record_shape(const sqlite_connection& c, const record& first,
                                             const std::vector<std::string>& columns,
                                             bool create_table);

template <static_row Row>
sqlite_connection::shape sqlite_static_shape(const sqlite_connection& c,
                                             const std::vector<std::string>& columns,
                                             bool create_table) {
  constexpr std::size_t n = column_count_v<Row>;
  if (!columns.empty() && columns.size() != n)
    throw std::system_error(make_error_code(errc::invalid_argument),
                            "sqlite_writer: " + std::to_string(columns.size()) +
                                " column names for a row of " + std::to_string(n) + " columns");
  sqlite_connection::shape s;
  s.columns = columns;
  s.parameters = static_cast<int>(n);
  if (create_table && !c.is_statement()) {
    std::vector<std::string> decls;
    [&]<std::size_t... I>(std::index_sequence<I...>) {
      (sqlite_add_decl(decls, sqlite_decl<column_t<I, Row>>(),
                       !is_optional<column_t<I, Row>>::value),
       ...);
    }
    (std::make_index_sequence<n>{});
    s.create = sqlite_create(c.target(), columns, decls, c.config().timestamps);
  }
  return s;
}

}  // namespace detail

/// A writable of rows into `target` of the database file `path` (created if missing): a table
/// name (quoted as an identifier: `INSERT INTO "t" VALUES (?, ...)`), or a whole INSERT (or
/// REPLACE) statement with one `?` per column. The file is opened, and the table created, on the
/// pool when the first batch is flushed; errors come as the stream's 'error' and in every pending
/// write's callback.
///
/// Exactly once: each write's callback runs once, on a later tick: with success after the
/// COMMIT of its batch; with the error if its batch failed for good (rolled back: no row of it
/// is in the table) or a later tick after destroy() with stream_destroyed. A row whose callback
/// reported success is committed; one that got an error may be committed only when destroy()
/// came between its COMMIT and the callback. end() commits the rest, then 'finish'; the
/// connection closes (on the pool) at 'close'. Errors name the file, the table and, for a row
/// that fails (a constraint, a type), its index in the stream (from 0):
/// "sqlite 'data.db' table events: row 1234: UNIQUE constraint failed: events.id" (a multi-row
/// INSERT that fails is tried again a row at a time to find it). An error that ends the
/// transaction itself (SQLITE_FULL, an I/O error, ON CONFLICT ROLLBACK) names the rows of the
/// statement it came from: "... table events: rows 1200..1299: database or disk is full".
///
/// Throws std::system_error(invalid_argument) for options that cannot work (batch_rows 0,
/// `columns` of the wrong length).
template <class Row>
requires static_row<Row> || std::is_same_v<Row, record>
[[nodiscard]] std::shared_ptr<writable<Row>> make_sqlite_writer(loop& l, std::string path,
                                                                std::string target,
                                                                sqlite_writer_options<Row> o = {}) {
  detail::sqlite_config cfg{.path = path,
                            .label = detail::sqlite_label(path, target),
                            .wal = o.wal,
                            .synchronous = o.synchronous,
                            .busy_timeout = o.busy_timeout,
                            .timestamps = o.timestamps};
  auto conn = std::make_shared<detail::sqlite_connection>(std::move(cfg), std::move(target));
  if constexpr (!std::is_same_v<Row, record>)
    conn->set_shape(detail::sqlite_static_shape<Row>(*conn, o.columns, o.create_table));
  auto retryable = o.retryable ? o.retryable : std::function<bool(std::error_code)>(sqlite_busy);
  const unsigned attempts = o.max_attempts;
  const bool diverts = o.dead_letter != nullptr;
  auto weak = std::make_shared<std::weak_ptr<writable<Row>>>();
  batch_flush<Row> flush = [&l, conn, weak, retryable, attempts, diverts,
                            columns = std::move(o.columns),
                            create = o.create_table](const write_batch<Row>& b, callback done) {
    if constexpr (std::is_same_v<Row, record>) {
      if (!conn->has_shape())
        conn->set_shape(detail::sqlite_record_shape(*conn, b.items.front(), columns, create));
    } else {
      (void)columns;  // (a static row's shape was set at construction)
      (void)create;
    }
    conn->flush(l, b.items.data(), b.items.size(), b.first_index, &detail::bind_row<Row>,
                [weak, done = std::move(done), attempt = b.attempt, retryable, attempts,
                 diverts](detail::sqlite_outcome r) {
                  // batch_writer names the batch; the row and SQLite's message say more, so a
                  // failure for good is reported here first (a stream keeps the first context).
                  const bool retry = r.ec && attempt < attempts && retryable && retryable(r.ec);
                  if (r.ec && !retry && !diverts)
                    if (auto w = weak->lock()) w->fail(r.ec, std::move(r.context));
                  done(r.ec);
                });
  };
  const std::string name = o.name.empty() ? conn->config().label : o.name;
  auto w = make_batch_writer<Row>(l, std::move(flush),
                                  {.max_items = o.batch_rows,
                                   .max_delay = o.max_delay,
                                   .max_in_flight = 1,  // one connection: one transaction at once
                                   .max_attempts = o.max_attempts,
                                   .backoff_base = o.backoff_base,
                                   .backoff_max = o.backoff_max,
                                   .retryable = retryable,
                                   .dead_letter = std::move(o.dead_letter),
                                   .high_water_mark = o.high_water_mark,
                                   .name = name});
  *weak = w;
  w->on_close([&l, conn] { conn->shut_down(l); });
  return w;
}

/// make_sqlite_writer<db::record>, for run-time rows (the CLI's `sqlite FILE TABLE` stage).
[[nodiscard]] std::shared_ptr<writable<record>> make_sqlite_record_writer(
    loop& l, std::string path, std::string table, sqlite_writer_options<record> o = {});

}  // namespace sluice::db
