// The one file that calls SQLite (sluice/db/sqlite_core.hpp): the error category, binding and
// reading values, the writer's connection (one transaction per batch) and the reader's query.
// Everything here but the category, the labels and flush()/shut_down() runs on the SQLite pool.
#include <sqlite3.h>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <variant>

#include "sluice/core/error.hpp"
#include "sluice/db/sqlite.hpp"

namespace sluice::db {

using detail::sqlite_config;
using detail::sqlite_outcome;

namespace {

class category final : public std::error_category {
 public:
  [[nodiscard]] const char* name() const noexcept override { return "sqlite"; }
  [[nodiscard]] std::string message(int rc) const override { return ::sqlite3_errstr(rc); }
};

sqlite3* db_of(void* p) { return static_cast<sqlite3*>(p); }
sqlite3_stmt* stmt_of(void* p) { return static_cast<sqlite3_stmt*>(p); }

// What failed: `what` and, when it says more than the code's own message, SQLite's message.
std::string describe_failure(const sqlite_config& cfg, std::string_view what, sqlite3* db, int rc) {
  std::string s = cfg.label + ": " + std::string(what);
  if (db != nullptr) {
    const char* msg = ::sqlite3_errmsg(db);
    if (msg != nullptr && std::strcmp(msg, ::sqlite3_errstr(rc)) != 0) (s += ": ") += msg;
  }
  return s;
}

detail::sqlite_outcome failure(const sqlite_config& cfg, std::string_view what, sqlite3* db,
                               int rc) {
  return {make_sqlite_error(rc), describe_failure(cfg, what, db, rc)};
}

// Opens cfg.path; an OS error (a missing directory, a file without permission) is reported as
// that errno, naming the path, as the file streams do.
detail::sqlite_outcome open_db(const sqlite_config& cfg, sqlite3** out) {
  const int flags =
      (cfg.read_only ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE) |
      SQLITE_OPEN_NOMUTEX;  // one job at a time (the owner's mutex)
  sqlite3* db = nullptr;
  const int rc = ::sqlite3_open_v2(cfg.path.c_str(), &db, flags, nullptr);
  if (rc != SQLITE_OK) {
    const int err = db != nullptr ? ::sqlite3_system_errno(db) : 0;
    detail::sqlite_outcome r =
        err != 0 ? detail::sqlite_outcome{std::error_code(err, std::system_category()),
                                          cfg.label + ": open"}
                 : failure(cfg, "open", db, ::sqlite3_extended_errcode(db));
    ::sqlite3_close_v2(db);
    return r;
  }
  ::sqlite3_extended_result_codes(db, 1);
  *out = db;
  return {};
}

const char* synchronous_name(sqlite_synchronous s) {
  switch (s) {
    case sqlite_synchronous::off:
      return "OFF";
    case sqlite_synchronous::normal:
      return "NORMAL";
    case sqlite_synchronous::full:
      return "FULL";
    case sqlite_synchronous::extra:
      return "EXTRA";
  }
  return "FULL";
}

}  // namespace

const std::error_category& sqlite_category() noexcept {
  static const category c;
  return c;
}

bool sqlite_busy(std::error_code ec) noexcept {
  return ec.category() == sqlite_category() &&
         ((ec.value() & 0xff) == SQLITE_BUSY || (ec.value() & 0xff) == SQLITE_LOCKED);
}

bool sqlite_constraint(std::error_code ec) noexcept {
  return ec.category() == sqlite_category() && (ec.value() & 0xff) == SQLITE_CONSTRAINT;
}

namespace detail {

sluice::detail::io_pool& sqlite_pool() {
  static sluice::detail::io_pool pool(2);
  return pool;
}

std::string sqlite_label(const std::string& path, std::string_view target) {
  std::string s = "sqlite '" + path + "'";
  if (target.empty()) return s;
  if (sqlite_is_statement(target)) return s + " statement '" + std::string(target) + "'";
  return s + " table " + std::string(target);
}

std::string sqlite_quote(std::string_view name) {
  std::string s = "\"";
  for (char c : name) {
    if (c == '"') s += '"';
    s += c;
  }
  return s + '"';
}

bool sqlite_is_statement(std::string_view target) noexcept {
  while (!target.empty() && std::isspace(static_cast<unsigned char>(target.front())))
    target.remove_prefix(1);
  auto starts = [&](std::string_view word) {
    if (target.size() <= word.size()) return false;
    for (std::size_t i = 0; i < word.size(); ++i)
      if (std::toupper(static_cast<unsigned char>(target[i])) != word[i]) return false;
    return std::isspace(static_cast<unsigned char>(target[word.size()])) != 0;
  };
  return starts("INSERT") || starts("REPLACE");
}

void sqlite_add_decl(std::vector<std::string>& decls, const char* type, bool not_null) {
  std::string d = type;
  if (not_null) d += " NOT NULL";
  decls.push_back(std::move(d));
}

std::string sqlite_create(std::string_view table, const std::vector<std::string>& names,
                          const std::vector<std::string>& decls, sqlite_timestamps ts) {
  std::string s = "CREATE TABLE IF NOT EXISTS " + sqlite_quote(table) + " (";
  for (std::size_t i = 0; i < std::max(names.size(), decls.size()); ++i) {
    if (i != 0) s += ", ";
    s += i < names.size() ? sqlite_quote(names[i]) : "c" + std::to_string(i + 1);
    std::string decl = i < decls.size() ? decls[i] : "";
    if (decl.starts_with("TIMESTAMP"))
      decl.replace(0, 9, ts == sqlite_timestamps::text ? "TEXT" : "INTEGER");
    if (!decl.empty()) (s += ' ') += decl;
  }
  return s + ")";
}

sqlite_connection::shape sqlite_record_shape(const sqlite_connection& c, const record& first,
                                             const std::vector<std::string>& columns,
                                             bool create_table) {
  sqlite_connection::shape s;
  const std::size_t n = first.values.size();
  s.parameters = static_cast<int>(n);
  if (!columns.empty())
    s.columns = columns;
  else if (first.columns && first.columns->size() == n)
    s.columns = *first.columns;
  if (create_table && !c.is_statement()) {
    std::vector<std::string> decls;
    for (const auto& v : first.values)
      decls.emplace_back(std::visit(
          [](const auto& x) -> const char* {
            using T = std::decay_t<decltype(x)>;
            if constexpr (std::is_same_v<T, std::int64_t> || std::is_same_v<T, bool>)
              return "INTEGER";
            else if constexpr (std::is_same_v<T, double>)
              return "REAL";
            else if constexpr (std::is_same_v<T, std::string>)
              return "TEXT";
            else if constexpr (std::is_same_v<T, buffer>)
              return "BLOB";
            else if constexpr (std::is_same_v<T, timestamp>)
              return "TIMESTAMP";
            else
              return "";  // NULL: no declared type
          },
          v));
    s.create = sqlite_create(c.target(), s.columns, decls, c.config().timestamps);
  }
  return s;
}

// ---- binding --------------------------------------------------------------------------------

void sqlite_binder::check(int rc) {
  if (rc != SQLITE_OK && rc_ == SQLITE_OK) {
    rc_ = rc;
    error_ = ::sqlite3_errstr(rc);
  }
}

// Each takes i as the row counts it (1..N); base_ moves it to the row's place in the statement.
void sqlite_binder::null(int i) { check(::sqlite3_bind_null(stmt_of(stmt_), base_ + i)); }
void sqlite_binder::integer(int i, std::int64_t v) {
  check(::sqlite3_bind_int64(stmt_of(stmt_), base_ + i, v));
}
void sqlite_binder::unsigned_integer(int i, std::uint64_t v) {
  if (v > static_cast<std::uint64_t>(INT64_MAX)) {
    if (rc_ == SQLITE_OK) {
      rc_ = SQLITE_RANGE;
      error_ = "column " + std::to_string(i - 1) + ": " + std::to_string(v) +
               " does not fit SQLite's 64-bit signed integer";
    }
    return;
  }
  integer(i, static_cast<std::int64_t>(v));
}
void sqlite_binder::real(int i, double v) {
  check(::sqlite3_bind_double(stmt_of(stmt_), base_ + i, v));
}
void sqlite_binder::text(int i, std::string_view v) {
  // The row outlives the step (the batch stays alive until its flush completes): no copy.
  check(::sqlite3_bind_text64(stmt_of(stmt_), base_ + i, v.empty() ? "" : v.data(), v.size(),
                              SQLITE_STATIC, SQLITE_UTF8));
}
void sqlite_binder::blob(int i, std::span<const std::byte> v) {
  if (v.empty())  // a null pointer would bind NULL, not an empty blob
    check(::sqlite3_bind_zeroblob(stmt_of(stmt_), base_ + i, 0));
  else
    check(::sqlite3_bind_blob64(stmt_of(stmt_), base_ + i, v.data(), v.size(), SQLITE_STATIC));
}
void sqlite_binder::time(int i, timestamp t) {
  if (ts_ == sqlite_timestamps::micros) {
    integer(i, t.time_since_epoch().count());
    return;
  }
  // Not a temporary that SQLite would have to copy: the slot keeps the text until the parameter
  // is bound again or the bindings are cleared.
  const auto p = static_cast<std::size_t>(base_ + i);
  if (slots_.size() <= p) slots_.resize(p + 1);
  std::string& s = slots_[p];
  s = format_timestamp(t);
  check(::sqlite3_bind_text64(stmt_of(stmt_), base_ + i, s.data(), s.size(), SQLITE_STATIC,
                              SQLITE_UTF8));
}
void sqlite_binder::value(int i, const db::value& v) {
  std::visit(
      [&](const auto& x) {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, null_t>)
          null(i);
        else if constexpr (std::is_same_v<T, std::int64_t>)
          integer(i, x);
        else if constexpr (std::is_same_v<T, double>)
          real(i, x);
        else if constexpr (std::is_same_v<T, std::string>)
          text(i, x);
        else if constexpr (std::is_same_v<T, buffer>)
          blob(i, x.bytes());
        else if constexpr (std::is_same_v<T, bool>)
          integer(i, x ? 1 : 0);
        else
          time(i, x);
      },
      v);
}
void sqlite_binder::attach(void* stmt, int row_params) {
  stmt_ = stmt;
  const int all = ::sqlite3_bind_parameter_count(stmt_of(stmt));
  params_ = row_params != 0 ? row_params : all;
  base_ = 0;
  rc_ = SQLITE_OK;  // a binder is kept from batch to batch: an earlier failure does not stick
  error_.clear();
  // Every slot exists before the first bind: growing the vector later could move a slot's text
  // (a short string lives inside it) while the statement still points at it.
  if (slots_.size() <= static_cast<std::size_t>(all))
    slots_.resize(static_cast<std::size_t>(all) + 1);
}
void sqlite_binder::fail(std::string message) {
  if (rc_ != SQLITE_OK) return;
  rc_ = SQLITE_MISMATCH;
  error_ = std::move(message);
}

// ---- reading --------------------------------------------------------------------------------

int sqlite_columns::count() const noexcept { return ::sqlite3_column_count(stmt_of(stmt_)); }
sqlite_type sqlite_columns::type(int i) const noexcept {
  return static_cast<sqlite_type>(::sqlite3_column_type(stmt_of(stmt_), i));
}
std::int64_t sqlite_columns::integer(int i) const noexcept {
  return ::sqlite3_column_int64(stmt_of(stmt_), i);
}
double sqlite_columns::real(int i) const noexcept {
  return ::sqlite3_column_double(stmt_of(stmt_), i);
}
std::string_view sqlite_columns::text(int i) const noexcept {
  const auto* p = ::sqlite3_column_text(stmt_of(stmt_), i);
  const int n = ::sqlite3_column_bytes(stmt_of(stmt_), i);
  if (p == nullptr) return {};
  return {reinterpret_cast<const char*>(p), static_cast<std::size_t>(n)};
}
std::span<const std::byte> sqlite_columns::blob(int i) const noexcept {
  const void* p = ::sqlite3_column_blob(stmt_of(stmt_), i);
  const int n = ::sqlite3_column_bytes(stmt_of(stmt_), i);
  if (p == nullptr) return {};
  return {static_cast<const std::byte*>(p), static_cast<std::size_t>(n)};
}
std::string_view sqlite_columns::name(int i) const noexcept {
  const char* p = ::sqlite3_column_name(stmt_of(stmt_), i);
  return p != nullptr ? std::string_view(p) : std::string_view();
}
db::value sqlite_columns::value(int i) const {
  switch (type(i)) {
    case sqlite_type::integer:
      return integer(i);
    case sqlite_type::real:
      return real(i);
    case sqlite_type::text:
      return std::string(text(i));
    case sqlite_type::blob:
      return buffer::copy_of(blob(i));
    case sqlite_type::null:
      break;
  }
  return null;
}
std::string sqlite_columns::describe(int i) const {
  switch (type(i)) {
    case sqlite_type::integer:
      return "integer " + std::to_string(integer(i));
    case sqlite_type::real: {
      char buf[32];
      std::snprintf(buf, sizeof buf, "%.17g", real(i));
      return std::string("real ") + buf;
    }
    case sqlite_type::text: {
      std::string_view t = text(i);
      const bool cut = t.size() > 40;
      return "text '" + std::string(t.substr(0, 40)) + (cut ? "...'" : "'");
    }
    case sqlite_type::blob:
      return "a blob of " + std::to_string(blob(i).size()) + " bytes";
    case sqlite_type::null:
      break;
  }
  return "NULL";
}

std::string sqlite_mismatch(const sqlite_columns& c, int i, const char* expected) {
  return "column \"" + std::string(c.name(i)) + "\" (" + std::to_string(i) + "): expected " +
         expected + ", got " + c.describe(i);
}

// ---- the writer's connection ----------------------------------------------------------------

namespace {

int exec(sqlite3* db, const char* sql) {
  return ::sqlite3_exec(db, sql, nullptr, nullptr, nullptr);
}

int prepare(sqlite3* db, std::string_view sql, void** out) {
  sqlite3_stmt* st = nullptr;
  const int rc = ::sqlite3_prepare_v3(db, sql.data(), static_cast<int>(sql.size()),
                                      SQLITE_PREPARE_PERSISTENT, &st, nullptr);
  *out = st;
  return rc;
}

void finalize(void*& stmt) {
  if (stmt != nullptr) ::sqlite3_finalize(stmt_of(std::exchange(stmt, nullptr)));
}

// Rows per INSERT into a table. A statement's step, reset and start cost the same for one row as
// for many; at a hundred they are a small part of each row's cost, while the statement's text and
// its bindings stay small.
constexpr std::size_t max_group_rows = 100;

// "row 12", or "rows 700..799" for a statement of several rows.
std::string rows_name(std::uint64_t first, std::size_t k) {
  if (k == 1) return "row " + std::to_string(first);
  return "rows " + std::to_string(first) + ".." + std::to_string(first + k - 1);
}

sqlite_outcome destroyed(const sqlite_config& cfg) {
  return {make_error_code(errc::stream_destroyed), cfg.label + ": destroyed"};
}

}  // namespace

sqlite_connection::sqlite_connection(sqlite_config cfg, std::string target)
    : cfg_(std::move(cfg)), target_(std::move(target)), statement_(sqlite_is_statement(target_)) {
  binder_.ts_ = cfg_.timestamps;
}

sqlite_connection::~sqlite_connection() { close_locked(); }

// Waits up to busy_timeout for another connection's lock, as sqlite3_busy_timeout does, but gives
// up at once when the stream was destroyed (so destroy() does not wait out a long lock).
int sqlite_connection::on_busy(void* self, int count) {
  const auto* c = static_cast<const sqlite_connection*>(self);
  if (c->cancel_.load(std::memory_order_relaxed)) return 0;
  constexpr int step_ms = 2;
  if (static_cast<std::int64_t>(count) * step_ms >= c->cfg_.busy_timeout.count()) return 0;
  ::sqlite3_sleep(step_ms);
  return 1;
}

void sqlite_connection::set_shape(shape s) {
  shape_ = std::move(s);
  shape_set_ = true;
}

void sqlite_connection::flush(loop& l, const void* rows, std::size_t n, std::uint64_t first_index,
                              sqlite_bind_fn bind, std::function<void(sqlite_outcome)> done) {
  sluice::detail::run_blocking(
      sqlite_pool(), l,
      [self = shared_from_this(), rows, n, first_index, bind] {
        std::lock_guard lk(self->mu_);
        return self->insert_locked({rows, n, first_index, bind});
      },
      [done = std::move(done)](sqlite_outcome r) { done(std::move(r)); });
}

void sqlite_connection::shut_down(loop& l, std::function<void()> done) {
  cancel_.store(true, std::memory_order_relaxed);
  sluice::detail::run_blocking(
      sqlite_pool(), l,
      [self = shared_from_this()] {
        std::lock_guard lk(self->mu_);  // after the job in flight, which rolls back
        self->close_locked();
        self->closed_ = true;
        return 0;
      },
      [done = std::move(done)](int) {
        if (done) done();
      });
}

void sqlite_connection::close_locked() {
  for (void** st : {&insert_, &group_, &rest_, &begin_, &commit_, &rollback_}) finalize(*st);
  rest_rows_ = 0;
  if (db_ != nullptr) ::sqlite3_close_v2(db_of(std::exchange(db_, nullptr)));
}

sqlite_outcome sqlite_connection::open_locked() {
  sqlite3* db = nullptr;
  if (auto r = open_db(cfg_, &db); r.ec) return r;
  db_ = db;
  auto fail = [&](std::string_view what, int rc) {
    sqlite_outcome r = failure(cfg_, what, db, rc);
    close_locked();
    return r;
  };
  ::sqlite3_busy_handler(db, &sqlite_connection::on_busy, this);
  std::string pragmas;
  if (cfg_.wal) pragmas += "PRAGMA journal_mode=WAL;";
  pragmas += std::string("PRAGMA synchronous=") + synchronous_name(cfg_.synchronous) + ";";
  if (int rc = exec(db, pragmas.c_str()); rc != SQLITE_OK) return fail("pragmas", rc);
  if (!shape_.create.empty())
    if (int rc = exec(db, shape_.create.c_str()); rc != SQLITE_OK) return fail("create table", rc);
  if (int rc = prepare(db, "BEGIN IMMEDIATE", &begin_); rc != SQLITE_OK) return fail("prepare", rc);
  if (int rc = prepare(db, "COMMIT", &commit_); rc != SQLITE_OK) return fail("prepare", rc);
  if (int rc = prepare(db, "ROLLBACK", &rollback_); rc != SQLITE_OK) return fail("prepare", rc);
  if (int rc = prepare(db, statement_ ? target_ : insert_sql(1), &insert_); rc != SQLITE_OK)
    return fail("prepare", rc);
  const int takes = ::sqlite3_bind_parameter_count(stmt_of(insert_));
  if (shape_.parameters != 0 && takes != shape_.parameters) {
    sqlite_outcome r{make_sqlite_error(SQLITE_RANGE),
                     cfg_.label + ": the statement takes " + std::to_string(takes) +
                         " parameters, a row has " + std::to_string(shape_.parameters)};
    close_locked();
    return r;
  }
  // A user's statement is stepped once per row: it is not ours to rewrite.
  group_rows_ = 1;
  if (!statement_ && shape_.parameters > 0) {
    const auto limit =
        static_cast<std::size_t>(::sqlite3_limit(db, SQLITE_LIMIT_VARIABLE_NUMBER, -1));
    group_rows_ = std::clamp<std::size_t>(limit / static_cast<std::size_t>(shape_.parameters), 1,
                                          max_group_rows);
  }
  if (group_rows_ > 1)
    if (int rc = prepare(db, insert_sql(group_rows_), &group_); rc != SQLITE_OK)
      return fail("prepare", rc);
  return {};
}

// INSERT INTO "t" ("a", "b") VALUES (?, ?), (?, ?), ...: `rows` rows.
std::string sqlite_connection::insert_sql(std::size_t rows) const {
  std::string sql = "INSERT INTO " + sqlite_quote(target_);
  if (!shape_.columns.empty()) {
    sql += " (";
    for (std::size_t i = 0; i < shape_.columns.size(); ++i)
      (sql += i != 0 ? ", " : "") += sqlite_quote(shape_.columns[i]);
    sql += ")";
  }
  std::string row = "(";
  for (int i = 0; i < shape_.parameters; ++i) row += i != 0 ? ", ?" : "?";
  row += ")";
  sql += " VALUES ";
  for (std::size_t r = 0; r < rows; ++r) (sql += r != 0 ? ", " : "") += row;
  return sql;
}

// The INSERT of k rows: the one-row statement, the group's, or the one for a batch's shorter last
// group (prepared when a batch first ends with k rows; kept until one ends otherwise).
void* sqlite_connection::insert_for_locked(std::size_t k) {
  if (k == 1) return insert_;
  if (k == group_rows_) return group_;
  if (rest_ == nullptr || rest_rows_ != k) {
    finalize(rest_);
    rest_rows_ = 0;
    if (prepare(db_of(db_), insert_sql(k), &rest_) != SQLITE_OK) return nullptr;
    rest_rows_ = k;
  }
  return rest_;
}

sqlite_outcome sqlite_connection::insert_locked(const batch& b) {
  if (closed_ || cancel_.load(std::memory_order_relaxed)) return destroyed(cfg_);
  if (db_ == nullptr)
    if (auto r = open_locked(); r.ec) return r;
  if (auto r = transaction_locked(begin_, "begin"); r.ec) return r;
  sqlite_outcome r = insert_rows_locked(b);
  for (void* st : {insert_, group_, rest_})  // they point into the batch, which goes after this
    if (st != nullptr) ::sqlite3_clear_bindings(stmt_of(st));
  if (!r.ec && cancel_.load(std::memory_order_relaxed)) r = destroyed(cfg_);
  if (!r.ec) r = transaction_locked(commit_, "commit");
  if (r.ec) (void)transaction_locked(rollback_, "rollback");  // the error that led here is told
  return r;
}

// The batch as INSERTs of group_rows_ rows, the last one shorter; when one fails, its rows are
// tried one at a time to name the row.
sqlite_outcome sqlite_connection::insert_rows_locked(const batch& b) {
  sqlite3* db = db_of(db_);
  for (std::size_t i = 0; i < b.n;) {
    if (cancel_.load(std::memory_order_relaxed)) return destroyed(cfg_);
    const std::size_t k = std::min(group_rows_, b.n - i);
    const std::int64_t changes = ::sqlite3_total_changes64(db);
    sqlite_outcome r = step_rows_locked(b, i, k);
    if (r.ec && k > 1) r = find_row_locked(b, i, k, changes, std::move(r));
    if (r.ec) return r;
    inserted_.fetch_add(k, std::memory_order_relaxed);
    i += k;
  }
  return {};
}

// Binds rows [from, from + k) of the batch to the INSERT of k rows and steps it once. A row that
// cannot be bound is named (nothing was stepped); a failed step names the rows it had.
sqlite_outcome sqlite_connection::step_rows_locked(const batch& b, std::size_t from,
                                                   std::size_t k) {
  sqlite3* db = db_of(db_);
  void* st = insert_for_locked(k);
  if (st == nullptr) return failure(cfg_, "prepare", db, ::sqlite3_extended_errcode(db));
  binder_.attach(st, shape_.parameters);
  for (std::size_t j = 0; j < k; ++j) {
    binder_.at_row(static_cast<int>(j));
    b.bind(binder_, b.rows, from + j);
    if (binder_.rc_ != SQLITE_OK)
      return {make_sqlite_error(binder_.rc_),
              cfg_.label + ": row " + std::to_string(b.first + from + j) + ": " + binder_.error_};
  }
  sqlite_outcome r;
  if (int rc = ::sqlite3_step(stmt_of(st)); rc != SQLITE_DONE && rc != SQLITE_ROW)
    r = failure(cfg_, rows_name(b.first + from, k), db, ::sqlite3_extended_errcode(db));
  ::sqlite3_reset(stmt_of(st));
  return r;
}

// The INSERT of rows [from, from + k), k > 1, failed with `failed` (a row that does not bind, a
// constraint, ...): the rows go in again one at a time, in the same transaction, and the first
// that fails is named, as if the batch had been inserted a row at a time.
sqlite_outcome sqlite_connection::find_row_locked(const batch& b, std::size_t from, std::size_t k,
                                                  std::int64_t changes_before,
                                                  sqlite_outcome failed) {
  sqlite3* db = db_of(db_);
  // The error ended the transaction (SQLITE_FULL, an I/O error, ON CONFLICT ROLLBACK): the rows
  // before are gone too, and it is not a row's error to name; the message names the group.
  if (::sqlite3_get_autocommit(db) != 0) return failed;
  // A failed statement is undone by itself (ABORT, the default), leaving the rows before it; with
  // ON CONFLICT FAIL or RAISE(FAIL) it keeps the rows it had inserted, counted in the changes:
  // then the transaction starts again, with the batch's earlier groups.
  if (::sqlite3_total_changes64(db) != changes_before) {
    if (auto r = transaction_locked(rollback_, "rollback"); r.ec) return r;
    if (auto r = transaction_locked(begin_, "begin"); r.ec) return r;
    for (std::size_t j = 0; j < from; j += group_rows_)
      if (auto r = step_rows_locked(b, j, group_rows_); r.ec) return r;
  }
  for (std::size_t j = from; j < from + k; ++j) {
    if (cancel_.load(std::memory_order_relaxed)) return destroyed(cfg_);
    if (auto r = step_rows_locked(b, j, 1); r.ec) return r;
  }
  return {};  // each row went in on its own: what failed has passed
}

// Steps BEGIN, COMMIT or ROLLBACK and resets it for the next batch.
sqlite_outcome sqlite_connection::transaction_locked(void* stmt, std::string_view what) {
  sqlite3* db = db_of(db_);
  sqlite_outcome r;
  if (int rc = ::sqlite3_step(stmt_of(stmt)); rc != SQLITE_DONE)
    r = failure(cfg_, what, db, ::sqlite3_extended_errcode(db));
  ::sqlite3_reset(stmt_of(stmt));
  return r;
}

// ---- the reader's query ---------------------------------------------------------------------

sqlite_query::sqlite_query(sqlite_config cfg, std::string sql, std::vector<db::value> params)
    : cfg_(std::move(cfg)), sql_(std::move(sql)), params_(std::move(params)) {}

sqlite_query::~sqlite_query() { close(); }

void sqlite_query::close() {
  if (stmt_ != nullptr) ::sqlite3_finalize(stmt_of(std::exchange(stmt_, nullptr)));
  if (db_ != nullptr) ::sqlite3_close_v2(db_of(std::exchange(db_, nullptr)));
}

sqlite_outcome sqlite_query::open(int columns) {
  std::lock_guard lk(mu_);
  sqlite3* db = nullptr;
  if (auto r = open_db(cfg_, &db); r.ec) return r;
  db_ = db;
  ::sqlite3_busy_timeout(db, static_cast<int>(cfg_.busy_timeout.count()));
  auto fail = [&](sqlite_outcome r) {
    close();
    return r;
  };
  sqlite3_stmt* st = nullptr;
  if (int rc = ::sqlite3_prepare_v2(db, sql_.c_str(), static_cast<int>(sql_.size()), &st, nullptr);
      rc != SQLITE_OK)
    return fail(failure(cfg_, "prepare", db, ::sqlite3_extended_errcode(db)));
  stmt_ = st;
  const int n = ::sqlite3_column_count(st);
  if (columns != 0 && n != columns)
    return fail({make_sqlite_error(SQLITE_MISMATCH),
                 cfg_.label + ": the query returns " + std::to_string(n) +
                     " columns, the row type has " + std::to_string(columns)});
  sqlite_binder& b = binder_;  // a member: the bound timestamps' text stays while stepping
  b.attach(st);
  if (static_cast<int>(params_.size()) != b.params_)
    return fail({make_sqlite_error(SQLITE_RANGE), cfg_.label + ": the query takes " +
                                                      std::to_string(b.params_) + " parameters, " +
                                                      std::to_string(params_.size()) + " given"});
  for (std::size_t i = 0; i < params_.size(); ++i) b.value(static_cast<int>(i) + 1, params_[i]);
  if (b.rc_ != SQLITE_OK)
    return fail({make_sqlite_error(b.rc_), cfg_.label + ": parameters: " + b.error_});
  auto names = std::make_shared<std::vector<std::string>>();
  for (int i = 0; i < n; ++i) {
    const char* p = ::sqlite3_column_name(st, i);
    names->emplace_back(p != nullptr ? p : "");
  }
  names_ = std::move(names);
  return {};
}

sqlite_query::step_result sqlite_query::step(std::size_t max, sqlite_row_fn fn, void* out) {
  std::lock_guard lk(mu_);
  step_result r;
  if (stmt_ == nullptr) {
    r.done = true;
    return r;
  }
  sqlite3_stmt* st = stmt_of(stmt_);
  sqlite_columns cols;
  cols.stmt_ = st;
  std::string error;
  for (std::size_t k = 0; k < max; ++k) {
    const int rc = ::sqlite3_step(st);
    if (rc == SQLITE_DONE) {
      r.done = true;
      return r;
    }
    if (rc != SQLITE_ROW) {
      r.outcome = failure(cfg_, "row " + std::to_string(rows_stepped()), db_of(db_),
                          ::sqlite3_extended_errcode(db_of(db_)));
      return r;
    }
    const std::uint64_t index = stepped_.fetch_add(1, std::memory_order_relaxed);
    if (!fn(cols, out, error)) {
      r.outcome = {make_sqlite_error(SQLITE_MISMATCH),
                   cfg_.label + ": row " + std::to_string(index) + ", " + error};
      return r;
    }
  }
  return r;
}

}  // namespace detail

// ---- record factories -----------------------------------------------------------------------

std::shared_ptr<writable<record>> make_sqlite_record_writer(loop& l, std::string path,
                                                            std::string table,
                                                            sqlite_writer_options<record> o) {
  return make_sqlite_writer<record>(l, std::move(path), std::move(table), std::move(o));
}

std::shared_ptr<readable<record>> make_sqlite_record_reader(loop& l, std::string path,
                                                            std::string query, sqlite_params params,
                                                            sqlite_reader_options o) {
  return make_sqlite_reader<record>(l, std::move(path), std::move(query), std::move(params),
                                    std::move(o));
}

}  // namespace sluice::db
