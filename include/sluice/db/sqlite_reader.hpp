// sluice/db/sqlite_reader.hpp: sqlite_reader<Row>, the rows of a query as a readable.
//
// The statement is stepped only when the stream is asked for data (do_read): each read steps up
// to fetch_rows rows on the SQLite pool (sqlite_core.hpp) and pushes them. A consumer that stops
// reading stops the stepping: at most highWaterMark + fetch_rows rows were stepped beyond what it
// took. Rows are static rows (converted column by column, strictly: a mismatch is an error
// naming the row and the column) or db::record (values by each column's storage class).
// sqlite_writer.hpp writes them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "sluice/core/readable.hpp"
#include "sluice/db/row.hpp"
#include "sluice/db/sqlite_core.hpp"

namespace sluice::db {

/// Options of sqlite_reader.
struct sqlite_reader_options {
  /// Buffered rows at which the reader stops stepping (default: 16).
  std::optional<std::size_t> high_water_mark{};
  /// Rows stepped per job on the pool. Default: the highWaterMark.
  std::size_t fetch_rows = 0;
  /// How long the query waits for a lock (a checkpoint, a non-WAL writer) before SQLITE_BUSY.
  std::chrono::milliseconds busy_timeout{5000};
  /// Name for diagnostics; default: "sqlite 'PATH'".
  std::string name{};
};

namespace detail {

template <class T>
constexpr const char* sqlite_expected() {
  if constexpr (std::is_same_v<T, bool>)
    return "a boolean (0 or 1)";
  else if constexpr (std::is_integral_v<T>)
    return "an integer";
  else if constexpr (std::is_floating_point_v<T>)
    return "a number";
  else if constexpr (std::is_same_v<T, std::string>)
    return "text";
  else if constexpr (std::is_same_v<T, buffer>)
    return "a blob";
  else
    return "a timestamp (RFC 3339 text or integer microseconds)";
}

// Converts column i into `out`; false when the value does not fit the field's type.
template <class F>
bool sqlite_get(const sqlite_columns& c, int i, F& out) {
  const sqlite_type t = c.type(i);
  if constexpr (is_optional<F>::value) {
    if (t == sqlite_type::null) {
      out.reset();
      return true;
    }
    typename F::value_type v{};
    if (!sqlite_get(c, i, v)) return false;
    out = std::move(v);
    return true;
  } else if constexpr (std::is_same_v<F, bool>) {
    if (t != sqlite_type::integer) return false;
    const std::int64_t v = c.integer(i);
    if (v != 0 && v != 1) return false;
    out = v == 1;
    return true;
  } else if constexpr (std::is_integral_v<F>) {
    if (t != sqlite_type::integer) return false;
    const std::int64_t v = c.integer(i);
    if constexpr (std::is_unsigned_v<F>) {
      if (v < 0 || static_cast<std::uint64_t>(v) > std::numeric_limits<F>::max()) return false;
    } else {
      if (v < std::numeric_limits<F>::min() || v > std::numeric_limits<F>::max()) return false;
    }
    out = static_cast<F>(v);
    return true;
  } else if constexpr (std::is_floating_point_v<F>) {
    if (t == sqlite_type::real)
      out = static_cast<F>(c.real(i));
    else if (t == sqlite_type::integer)
      out = static_cast<F>(c.integer(i));
    else
      return false;
    return true;
  } else if constexpr (std::is_same_v<F, std::string>) {
    if (t != sqlite_type::text) return false;
    out = std::string(c.text(i));
    return true;
  } else if constexpr (std::is_same_v<F, buffer>) {
    if (t != sqlite_type::blob) return false;
    out = buffer::copy_of(c.blob(i));
    return true;
  } else {
    static_assert(std::is_same_v<F, timestamp>);
    if (t == sqlite_type::integer) {
      out = timestamp(std::chrono::microseconds(c.integer(i)));
      return true;
    }
    if (t != sqlite_type::text) return false;
    auto p = parse_timestamp(c.text(i));
    if (!p) return false;
    out = *p;
    return true;
  }
}

std::string sqlite_mismatch(const sqlite_columns& c, int i, const char* expected);

template <class Row>
bool sqlite_read_row(const sqlite_columns& c, void* out, std::string& error) {
  auto& rows = *static_cast<std::vector<Row>*>(out);
  if constexpr (std::is_same_v<Row, record>) {
    record r;
    r.values.reserve(static_cast<std::size_t>(c.count()));
    for (int i = 0; i < c.count(); ++i) r.values.push_back(c.value(i));
    rows.push_back(std::move(r));
    return true;
  } else {
    Row row{};
    bool ok = true;
    for_each_field(row, [&](auto& f, auto idx) {
      using F = std::remove_cvref_t<decltype(f)>;
      const int i = static_cast<int>(decltype(idx)::value);
      if (ok && !sqlite_get(c, i, f)) {
        ok = false;
        error = sqlite_mismatch(
            c, i,
            sqlite_expected<typename std::conditional_t<is_optional<F>::value, F,
                                                        std::optional<F>>::value_type>());
      }
    });
    if (ok) rows.push_back(std::move(row));
    return ok;
  }
}

}  // namespace detail

/// Plain parameters for a query, bound by position (?1, ?2, ... or ?): db::value.
using sqlite_params = std::vector<value>;

/// A readable of the rows of `query` on the database file `path` (opened read-only, on the pool,
/// before the first read; a missing file is an error naming it). Each row is delivered once, in
/// the statement's order; a conversion error fails the stream after the rows before it:
/// "sqlite 'data.db': row 17, column "v" (2): expected an integer, got text 'abc'" (rows and
/// columns counted from 0). NULL into a field that is not std::optional is such an error.
/// Records take their column names from the statement (sqlite3_column_name), shared by every
/// record. destroy() at any time: the statement is finalized and the file closed on the pool.
template <class Row>
requires static_row<Row> || std::is_same_v<Row, record>
class sqlite_reader final : public readable<Row> {
 public:
  /// Prefer make_sqlite_reader().
  sqlite_reader(loop& l, std::string path, std::string query, sqlite_params params,
                sqlite_reader_options o)
      : readable<Row>(
            l, readable_options{.high_water_mark = o.high_water_mark,
                                .name = o.name.empty() ? detail::sqlite_label(path) : o.name}),
        query_(std::make_shared<detail::sqlite_query>(
            detail::sqlite_config{.path = path,
                                  .label = detail::sqlite_label(path),
                                  .read_only = true,
                                  .busy_timeout = o.busy_timeout},
            std::move(query), std::move(params))),
        fetch_(o.fetch_rows != 0 ? o.fetch_rows
                                 : std::max<std::size_t>(1, this->readable_high_water_mark())) {
    this->use_construct();
  }

  /// Rows stepped so far (delivered or buffered).
  [[nodiscard]] std::uint64_t rows_stepped() const noexcept { return query_->rows_stepped(); }

 protected:
  void do_construct(callback cb) override {
    constexpr int columns = [] {
      if constexpr (std::is_same_v<Row, record>)
        return 0;
      else
        return static_cast<int>(column_count_v<Row>);
    }();
    busy_ = true;
    sluice::detail::run_blocking(
        detail::sqlite_pool(), this->get_loop(), [q = query_] { return q->open(columns); },
        [self = self(), cb = std::move(cb)](detail::sqlite_outcome r) {
          self->busy_ = false;
          if (r.ec) {
            self->fail(r.ec, std::move(r.context));
            cb(r.ec);
            return;
          }
          cb({});
        });
  }

  void do_read(std::size_t) override {
    if (busy_) return;
    busy_ = true;
    struct result {
      std::vector<Row> rows;
      detail::sqlite_query::step_result step;
    };
    sluice::detail::run_blocking(
        detail::sqlite_pool(), this->get_loop(),
        [q = query_, n = fetch_] {
          result r;
          r.rows.reserve(n);
          r.step = q->step(n, &detail::sqlite_read_row<Row>, &r.rows);
          return r;
        },
        [self = self()](result r) { self->on_rows(std::move(r.rows), std::move(r.step)); });
  }

  void do_destroy(std::error_code ec, callback cb) override {
    // The close waits on the query's mutex for a step in flight.
    sluice::detail::run_blocking(
        detail::sqlite_pool(), this->get_loop(),
        [q = query_] {
          q->close();
          return 0;
        },
        [self = self(), ec, cb = std::move(cb)](int) { cb(ec); });
  }

 private:
  std::shared_ptr<sqlite_reader> self() {
    return std::dynamic_pointer_cast<sqlite_reader>(this->shared_from_this());
  }

  void on_rows(std::vector<Row> rows, detail::sqlite_query::step_result s) {
    busy_ = false;
    if (this->destroyed()) return;
    if constexpr (std::is_same_v<Row, record>) {
      for (auto& r : rows) r.columns = query_->names();
    }
    for (auto& r : rows) {
      this->push(std::move(r));
      if (this->destroyed()) return;
    }
    if (s.outcome.ec) {
      this->fail(s.outcome.ec, std::move(s.outcome.context));
      return;
    }
    if (s.done) this->push_eof();
  }

  std::shared_ptr<detail::sqlite_query> query_;
  std::size_t fetch_;
  bool busy_ = false;  // a job is on the pool
};

/// Creates a sqlite_reader of `query`'s rows, with `params` bound by position.
template <class Row>
requires static_row<Row> || std::is_same_v<Row, record>
[[nodiscard]] std::shared_ptr<sqlite_reader<Row>> make_sqlite_reader(loop& l, std::string path,
                                                                     std::string query,
                                                                     sqlite_params params = {},
                                                                     sqlite_reader_options o = {}) {
  return std::make_shared<sqlite_reader<Row>>(l, std::move(path), std::move(query),
                                              std::move(params), std::move(o));
}

/// make_sqlite_reader<db::record> as a readable (the CLI's `sqlite-query FILE 'SQL'` stage).
[[nodiscard]] std::shared_ptr<readable<record>> make_sqlite_record_reader(
    loop& l, std::string path, std::string query, sqlite_params params = {},
    sqlite_reader_options o = {});

}  // namespace sluice::db
