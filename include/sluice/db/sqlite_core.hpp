// sluice/db/sqlite_core.hpp: what sqlite_writer and sqlite_reader share: SQLite's result codes as
// std::error_code, the options every connection takes, and the seam (namespace detail) between
// the row templates and the one source file that calls SQLite.
//
// No public header includes <sqlite3.h>: the templates turn a row into calls on
// detail::sqlite_binder (writing) or read it from detail::sqlite_columns (reading), both defined
// in src/db/sqlite.cpp. Every call into SQLite runs on detail::sqlite_pool(), never on a loop
// thread, and a connection is used by one job at a time (its mutex).
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <vector>

#include "sluice/core/buffer.hpp"
#include "sluice/core/detail/io_pool.hpp"
#include "sluice/core/loop.hpp"
#include "sluice/db/row.hpp"

namespace sluice::db {

/// SQLite's (extended) result codes; messages are sqlite3_errstr()'s.
[[nodiscard]] const std::error_category& sqlite_category() noexcept;
/// An error_code of sqlite_category() for the (extended) result code `rc`.
[[nodiscard]] inline std::error_code make_sqlite_error(int rc) noexcept {
  return {rc, sqlite_category()};
}
/// SQLITE_BUSY or SQLITE_LOCKED (any extended form): another connection holds a lock; worth a
/// retry. The writers' default `retryable`.
[[nodiscard]] bool sqlite_busy(std::error_code ec) noexcept;
/// SQLITE_CONSTRAINT in any extended form (UNIQUE, NOT NULL, CHECK, ...).
[[nodiscard]] bool sqlite_constraint(std::error_code ec) noexcept;

/// PRAGMA synchronous. `full` (the writer's default) makes a COMMIT durable before the writes
/// it covers are acknowledged; `normal` in WAL mode may lose the last commits on power loss
/// (never on a crash of the process); it was about twice as fast here.
enum class sqlite_synchronous : std::uint8_t { off, normal, full, extra };

/// How a db::timestamp is stored: RFC 3339 text in UTC ("2026-12-06T02:46:20.123456Z", what
/// SQLite's date functions read) or an integer count of microseconds since 1970 (UTC). Readers
/// take either back into a timestamp.
enum class sqlite_timestamps : std::uint8_t { text, micros };

namespace detail {

/// The pool every SQLite call runs on: 2 threads, created on first use, joined at exit. Not
/// io_pool::shared(): a busy wait (busy_timeout) would hold up the file streams' calls.
[[nodiscard]] sluice::detail::io_pool& sqlite_pool();

/// Binds one row's parameters (1-based, as SQLite counts them); the first failure sticks.
/// Nothing is copied: text and blobs are bound where they are (the row outlives the step), and
/// a text timestamp is formatted into its parameter's slot, which stays until that parameter is
/// bound again or the bindings are cleared; so a binder outlives the statements it bound.
class sqlite_binder {
 public:
  void null(int i);
  void integer(int i, std::int64_t v);
  void unsigned_integer(int i, std::uint64_t v);  // fails above INT64_MAX
  void real(int i, double v);
  void text(int i, std::string_view v);
  void blob(int i, std::span<const std::byte> v);
  void time(int i, timestamp t);
  void value(int i, const db::value& v);
  /// Fails the row with `message` (a record of the wrong width, a value out of range).
  void fail(std::string message);
  [[nodiscard]] int parameter_count() const noexcept { return params_; }

 private:
  friend class sqlite_connection;
  friend class sqlite_query;
  void check(int rc);
  // Binds to `stmt` (a sqlite3_stmt) from now on, with a slot for each of its parameters; a row
  // takes `row_params` of them (0: all).
  void attach(void* stmt, int row_params = 0);
  // The next row is the k-th (from 0) of a multi-row INSERT: its parameters follow the k rows'
  // before it.
  void at_row(int k) noexcept { base_ = k * params_; }
  void* stmt_ = nullptr;  // sqlite3_stmt
  int params_ = 0;        // a row's
  int base_ = 0;          // parameters before the current row's
  sqlite_timestamps ts_ = sqlite_timestamps::text;
  int rc_ = 0;
  std::string error_;
  std::vector<std::string> slots_;  // time(): the text of parameter i, in slots_[i]
};

/// Binds a static row's fields to parameters 1..N.
template <class F>
void bind_field(sqlite_binder& b, int i, const F& f) {
  if constexpr (is_optional<F>::value) {
    if (f)
      bind_field(b, i, *f);
    else
      b.null(i);
  } else if constexpr (std::is_same_v<F, bool>) {
    b.integer(i, f ? 1 : 0);
  } else if constexpr (std::is_integral_v<F> && std::is_unsigned_v<F> && sizeof(F) == 8) {
    b.unsigned_integer(i, f);
  } else if constexpr (std::is_integral_v<F>) {
    b.integer(i, static_cast<std::int64_t>(f));
  } else if constexpr (std::is_floating_point_v<F>) {
    b.real(i, static_cast<double>(f));
  } else if constexpr (std::is_same_v<F, std::string>) {
    b.text(i, f);
  } else if constexpr (std::is_same_v<F, buffer>) {
    b.blob(i, f.bytes());
  } else {
    static_assert(std::is_same_v<F, timestamp>);
    b.time(i, f);
  }
}

/// Binds rows[i] (rows points at the batch's first row).
using sqlite_bind_fn = void (*)(sqlite_binder&, const void* rows, std::size_t i);

template <class Row>
void bind_row(sqlite_binder& b, const void* rows, std::size_t i) {
  const Row& row = static_cast<const Row*>(rows)[i];
  if constexpr (std::is_same_v<Row, record>) {
    if (static_cast<int>(row.values.size()) != b.parameter_count()) {
      b.fail("has " + std::to_string(row.values.size()) + " values, the statement takes " +
             std::to_string(b.parameter_count()));
      return;
    }
    for (std::size_t k = 0; k < row.values.size(); ++k)
      b.value(static_cast<int>(k) + 1, row.values[k]);
  } else {
    for_each_field(row, [&](const auto& f, auto idx) {
      bind_field(b, static_cast<int>(decltype(idx)::value) + 1, f);
    });
  }
}

/// SQLite's storage classes, as sqlite3_column_type() reports them.
enum class sqlite_type : std::uint8_t { integer = 1, real = 2, text = 3, blob = 4, null = 5 };

/// The current row of a stepped statement (valid during a sqlite_row_fn call only).
class sqlite_columns {
 public:
  [[nodiscard]] int count() const noexcept;
  [[nodiscard]] sqlite_type type(int i) const noexcept;  // 0-based
  [[nodiscard]] std::int64_t integer(int i) const noexcept;
  [[nodiscard]] double real(int i) const noexcept;
  [[nodiscard]] std::string_view text(int i) const noexcept;
  [[nodiscard]] std::span<const std::byte> blob(int i) const noexcept;
  [[nodiscard]] std::string_view name(int i) const noexcept;
  /// The value of column i as db::value (by its storage class; text stays text).
  [[nodiscard]] db::value value(int i) const;
  /// "integer 5", "text 'abc'", "NULL", ...: column i's value for an error message.
  [[nodiscard]] std::string describe(int i) const;

 private:
  friend class sqlite_query;
  void* stmt_ = nullptr;
};

/// Converts the current row and appends it to *out (a std::vector<Row>); on a mismatch, sets
/// `error` ("column "v" (2): expected an integer, got text 'abc'") and returns false.
using sqlite_row_fn = bool (*)(const sqlite_columns&, void* out, std::string& error);

/// What a connection or a query is opened with.
struct sqlite_config {
  std::string path;
  std::string label;  // "sqlite 'data.db' table events": the start of every error message
  bool read_only = false;
  bool wal = true;
  sqlite_synchronous synchronous = sqlite_synchronous::full;
  std::chrono::milliseconds busy_timeout{5000};
  sqlite_timestamps timestamps = sqlite_timestamps::text;
};

/// An outcome of a job: an empty code, or the code with a message naming what failed.
struct sqlite_outcome {
  std::error_code ec;
  std::string context;  // "sqlite 'data.db' table events: row 12: UNIQUE constraint failed: ..."
};

/// What the writer's jobs share: the connection, the prepared statements, and the cancel flag.
/// Into a table, a batch goes in as INSERTs of up to 100 rows each (VALUES (?, ..), (?, ..), ...,
/// as many as SQLITE_LIMIT_VARIABLE_NUMBER allows); a user's statement, and the search for the
/// row that made a multi-row INSERT fail, use the one-row INSERT.
/// Loop thread: flush(), shut_down(). Pool: everything else.
class sqlite_connection : public std::enable_shared_from_this<sqlite_connection> {
 public:
  /// The INSERT: `target` is a table name, or a whole statement when it starts with INSERT or
  /// REPLACE. `columns`: the INSERT's column list (empty: none, positional). `create`: the
  /// CREATE TABLE IF NOT EXISTS to run first (empty: none).
  struct shape {
    std::vector<std::string> columns;
    std::string create;
    int parameters = 0;  // with a table name: one per column
  };

  sqlite_connection(sqlite_config cfg, std::string target);
  ~sqlite_connection();
  sqlite_connection(const sqlite_connection&) = delete;
  sqlite_connection& operator=(const sqlite_connection&) = delete;

  [[nodiscard]] bool has_shape() const noexcept { return shape_set_; }
  void set_shape(shape s);
  [[nodiscard]] bool is_statement() const noexcept { return statement_; }
  [[nodiscard]] const std::string& target() const noexcept { return target_; }
  [[nodiscard]] const sqlite_config& config() const noexcept { return cfg_; }

  /// Inserts rows[0..n) in one transaction on the pool, then calls done(outcome) on `l`. The rows
  /// must stay alive and unchanged until then. first_index: rows[0]'s index in the stream.
  void flush(loop& l, const void* rows, std::size_t n, std::uint64_t first_index,
             sqlite_bind_fn bind, std::function<void(sqlite_outcome)> done);
  /// The stream is gone: a job in flight rolls back (its rows are not acknowledged), the
  /// connection closes on the pool, then `done` runs on `l` (may be null).
  void shut_down(loop& l, std::function<void()> done = nullptr);

  /// Rows stepped by the INSERT so far (any thread; for tests and stats).
  [[nodiscard]] std::uint64_t rows_inserted() const noexcept {
    return inserted_.load(std::memory_order_relaxed);
  }

 private:
  // What one flush inserts: rows[0..n), rows[0] being the stream's row `first`.
  struct batch {
    const void* rows;
    std::size_t n;
    std::uint64_t first;
    sqlite_bind_fn bind;
  };
  sqlite_outcome open_locked();
  sqlite_outcome insert_locked(const batch& b);
  sqlite_outcome insert_rows_locked(const batch& b);
  sqlite_outcome step_rows_locked(const batch& b, std::size_t from, std::size_t k);
  sqlite_outcome find_row_locked(const batch& b, std::size_t from, std::size_t k,
                                 std::int64_t changes_before, sqlite_outcome failed);
  void* insert_for_locked(std::size_t k);
  [[nodiscard]] std::string insert_sql(std::size_t rows) const;
  sqlite_outcome transaction_locked(void* stmt, std::string_view what);
  void close_locked();
  static int on_busy(void* self, int count);

  sqlite_config cfg_;
  std::string target_;
  bool statement_ = false;
  shape shape_;
  bool shape_set_ = false;
  std::mutex mu_;           // one job at a time
  void* db_ = nullptr;      // sqlite3
  void* insert_ = nullptr;  // sqlite3_stmt: one row
  void* group_ = nullptr;   // group_rows_ rows (none when that is 1)
  void* rest_ = nullptr;    // rest_rows_ rows: a batch's last group, when shorter
  std::size_t group_rows_ = 1;
  std::size_t rest_rows_ = 0;
  // BEGIN IMMEDIATE, COMMIT and ROLLBACK, prepared once per connection: each batch steps them
  // rather than having sqlite3_exec parse them again.
  void* begin_ = nullptr;
  void* commit_ = nullptr;
  void* rollback_ = nullptr;
  sqlite_binder binder_;  // the INSERT's bindings point into its slots
  bool closed_ = false;   // shut down: no more jobs
  std::atomic<bool> cancel_{false};
  std::atomic<std::uint64_t> inserted_{0};
};

/// What the reader's jobs share: a read-only connection and the statement being stepped.
class sqlite_query {
 public:
  sqlite_query(sqlite_config cfg, std::string sql, std::vector<db::value> params);
  ~sqlite_query();
  sqlite_query(const sqlite_query&) = delete;
  sqlite_query& operator=(const sqlite_query&) = delete;

  /// Pool: opens, prepares and binds. `columns`: the row type's column count (0: any).
  sqlite_outcome open(int columns);
  struct step_result {
    bool done = false;  // the statement has no more rows
    sqlite_outcome outcome;
  };
  /// Pool: steps up to `max` rows, converting each with fn into *out.
  step_result step(std::size_t max, sqlite_row_fn fn, void* out);
  /// Pool: finalizes and closes (idempotent).
  void close();
  /// The result's column names (after open()).
  [[nodiscard]] const column_names& names() const noexcept { return names_; }
  /// Rows stepped so far (any thread).
  [[nodiscard]] std::uint64_t rows_stepped() const noexcept {
    return stepped_.load(std::memory_order_relaxed);
  }
  [[nodiscard]] const sqlite_config& config() const noexcept { return cfg_; }

 private:
  sqlite_config cfg_;
  std::string sql_;
  std::vector<db::value> params_;
  std::mutex mu_;
  void* db_ = nullptr;
  void* stmt_ = nullptr;
  sqlite_binder binder_;  // the parameters stay bound while the statement is stepped
  column_names names_;
  std::atomic<std::uint64_t> stepped_{0};
};

/// "sqlite 'data.db'" and, with a target, " table events" or " statement 'INSERT ...'".
[[nodiscard]] std::string sqlite_label(const std::string& path, std::string_view target = {});
/// `name` as an SQL identifier in double quotes (embedded quotes doubled).
[[nodiscard]] std::string sqlite_quote(std::string_view name);
/// Whether `target` is a whole statement (starts with INSERT or REPLACE) rather than a table.
[[nodiscard]] bool sqlite_is_statement(std::string_view target) noexcept;

}  // namespace detail
}  // namespace sluice::db
