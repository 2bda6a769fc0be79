// sluice/db/postgres.hpp: PostgreSQL as a sink and a source, through COPY.
//
//   - make_pg_copy_writer<Row>(loop, conninfo, table, options): a batch_writer<Row>
//     (sinks/batch_writer.hpp) whose flush is one `COPY table (columns) FROM STDIN` per batch, in
//     text format (pg_copy_text.hpp), sent in chunks of tens of KiB on a non-blocking libpq
//     connection. While the server does not take the data (the socket is full, a lock holds the
//     COPY), the batch stays in flight, the writer's buffer fills and write() returns false:
//     the database's pace is the backpressure. A write's callback runs once its batch's COPY
//     has committed; a server error aborts the whole COPY and names the row that caused it.
//   - pg_reader<Row> (make_pg_reader): `COPY (query) TO STDOUT`, read from the socket only while
//     the readable has room, so a consumer that stops stops the server (the result is never
//     held in memory).
//   - make_pg_record_writer / make_pg_record_reader: the same for db::record, as the CLI uses.
//
// Rows are static rows (row.hpp: tuples and aggregates, by position) or db::record. Connection
// strings are libpq's ("host=/tmp/pg dbname=app", "postgresql://..."), TLS included. Both need
// an asio_loop (they wait on the connection's socket). Errors are pg_errc codes (pg_session.hpp)
// with the stream's error_message() naming the server, the table or query, and the row.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <utility>
#include <vector>

#include "sluice/core/asio_loop.hpp"
#include "sluice/core/readable.hpp"
#include "sluice/db/pg_copy_binary.hpp"
#include "sluice/db/pg_copy_text.hpp"
#include "sluice/db/pg_session.hpp"
#include "sluice/db/row.hpp"
#include "sluice/sinks/batch_writer.hpp"

namespace sluice::db {

/// What the PostgreSQL streams carry: a static row or a db::record.
template <class Row>
concept pg_row = static_row<Row> || std::is_same_v<Row, record>;

/// COPY's data format. Text is COPY's default: the server parses each value from its text.
/// Binary (pg_copy_binary.hpp) sends each value in its column's own binary form, read from the
/// server's column types before the first COPY: type-exact (a value that does not fit its
/// column is refused before it is sent, naming the row and column) and less work for the
/// server. Binary encodes the common types only (pg_binary::supported); a table with another
/// column type fails the first batch, naming the column.
enum class pg_copy_format : std::uint8_t { text, binary };

template <pg_row Row>
struct pg_copy_options {
  /// The columns the rows fill, in order. Empty: for static rows, every column of the table in
  /// its order; for records, the records' column names when they have them, else every column.
  std::vector<std::string> columns{};
  /// COPY data is handed to libpq in pieces of this size (not row by row: that halves the rate).
  std::size_t chunk_bytes = 64 * 1024;
  /// Text (default) or binary COPY.
  pg_copy_format format = pg_copy_format::text;
  /// Where rows the server refuses go (a constraint, a value its column does not take), one by
  /// one, while the batch's other rows are committed: the server names the row of a failed COPY
  /// (its line), so the batch is sent again without it, one more COPY per refused row; when the
  /// server names no row (a constraint checked at the end of the COPY), the batch is bisected,
  /// each half sent as a COPY of its own, down to the rows it refuses. In binary format a value
  /// that does not fit its column goes there before anything is sent. A refused row counts as
  /// done once `rejected` has taken it (its write's callback); its own callback then reports
  /// success. Rows reach `rejected` in the order they are refused (the server checks keys after
  /// parsing some later rows). Null: a refused row fails its batch and the stream.
  std::shared_ptr<writable<Row>> rejected{};
  /// Connections to the server, each running one batch's COPY at a time: batch.max_in_flight
  /// is set to this. With 2, the next batch streams on one connection while the server commits
  /// the previous one on the other (a commit waits for the WAL to reach the disk), so the
  /// server is never idle between COPYs. Callbacks still run in the order of the writes; but
  /// batches on different connections commit independently, so another session can see a
  /// later batch's rows before an earlier one's, and rows refused by different batches reach
  /// `rejected` interleaved. 1: batches commit strictly in order.
  std::size_t connections = 1;
  /// Batching, retries and dead letter (batch_writer). max_in_flight is `connections`. The
  /// default name is "pg_copy_writer".
  batch_writer_options<Row> batch{};
};

namespace detail {

std::string pg_copy_sql(std::string_view table, const std::vector<std::string>& columns,
                        pg_copy_format format = pg_copy_format::text);
// SELECT columns (or *) FROM table LIMIT 0: asks the server for the columns' types.
std::string pg_columns_sql(std::string_view table, const std::vector<std::string>& columns);
std::string pg_batch_error(std::string_view table, std::uint64_t batch_number,
                           std::uint64_t first_index, std::size_t rows, const pg_outcome& o);

template <pg_row Row>
struct pg_copy_state {
  std::string table;
  std::vector<std::string> columns;
  std::size_t chunk_bytes = 0;
  pg_copy_format format = pg_copy_format::text;
  // Binary format: the target columns' types, read from the server for the column list
  // `types_for` (records may name their own columns).
  std::optional<std::vector<std::string>> types_for;
  std::vector<std::uint32_t> types;
  std::vector<std::string> type_names;  // the server's names of those columns
  std::uint64_t batches = 0;            // batches started (first attempts), for "line N of batch K"
  // What became of a batch's rows so far: handed to `rejected`, or committed by the COPY of a
  // part of the batch (bisection). A retry of the batch (a lost connection) sends neither
  // again, nor a row to `rejected` twice. Empty: every row is pending.
  enum row_state : std::uint8_t { pending, refused, committed };
  struct batch_state {
    std::uint64_t number = 0;
    std::vector<row_state> settled;
  };
  // The batches in flight, by the stream index of their first row.
  std::map<std::uint64_t, batch_state> in_flight;
  // The connections, and those no COPY is using.
  std::vector<std::shared_ptr<pg_session>> sessions;
  std::vector<std::shared_ptr<pg_session>> idle;
  batch_writer<Row>* writer = nullptr;
  std::weak_ptr<stream> weak_writer;
  // Whether a failed batch fails the stream (no retry, no dead letter): the flush then fails it
  // first itself, with the server's message.
  unsigned max_attempts = 1;
  std::function<bool(std::error_code)> retryable;
  bool has_dead_letter = false;
  std::shared_ptr<writable<Row>> rejected;
};

// One flush: COPY the batch's rows but those settled so far. On a refusal that names a row
// (the server's "line N"), hand that row to `rejected` and COPY the rest again; on a refusal
// that names none (an error at the end of the COPY, a check without a line), bisect: COPY each
// half on its own, down to the single row to hand to `rejected`. Without `rejected`, a refusal
// fails the batch.
template <pg_row Row>
struct pg_copy_flush : std::enable_shared_from_this<pg_copy_flush<Row>> {
  using state = pg_copy_state<Row>;
  std::shared_ptr<pg_session> session;
  std::shared_ptr<state> st;
  const write_batch<Row>* b = nullptr;        // alive until `done` (batch_flush's contract)
  typename state::batch_state* bs = nullptr;  // st->in_flight's entry for b, until `done`
  std::uint64_t number = 0;
  std::vector<std::size_t> lines;  // line (from 0) of the COPY → index in the batch
  // The part of the batch the COPY under way sends, [lo, hi), and the parts still to send
  // (bisection), the next at the back.
  std::size_t lo = 0;
  std::size_t hi = 0;
  std::vector<std::pair<std::size_t, std::size_t>> later;
  std::size_t next = 0;      // the next row fill() encodes
  bool header_sent = false;  // binary: the COPY's header is in a chunk
  // Binary: the row that could not be encoded, and why.
  std::optional<std::pair<std::size_t, std::string>> unencodable;
  callback done;

  bool pending(std::size_t i) const {
    return bs->settled.empty() || bs->settled[i] == state::pending;
  }
  void settle(std::size_t i, typename state::row_state how) {
    if (bs->settled.empty()) bs->settled.assign(b->items.size(), state::pending);
    bs->settled[i] = how;
  }

  // The columns the batch fills: the options', or a record's own names.
  const std::vector<std::string>& columns() const {
    if constexpr (std::is_same_v<Row, record>) {
      for (std::size_t i = 0; i < b->items.size(); ++i) {
        if (!pending(i)) continue;
        const auto& first = b->items[i];
        if (st->columns.empty() && first.columns && first.columns->size() == first.values.size())
          return *first.columns;
        break;
      }
    }
    return st->columns;
  }

  void start() {
    lo = 0;
    hi = b->items.size();
    run();
  }

  void run() {
    const std::vector<std::string>& cols = columns();
    if (st->format == pg_copy_format::binary && st->types_for != cols) {
      // Before the first binary COPY (or records with other columns): the columns' types.
      session->describe(
          pg_columns_sql(st->table, cols),
          [self = this->shared_from_this(), cols](pg_outcome r, std::vector<std::string> names,
                                                  std::vector<std::uint32_t> types) {
            self->described(std::move(r), cols, std::move(names), std::move(types));
          });
      return;
    }
    lines.clear();
    next = lo;
    header_sent = false;
    unencodable.reset();
    bool any = false;
    for (std::size_t i = lo; i < hi && !any; ++i) any = pending(i);
    if (!any) return part_done();
    // The rows are encoded a chunk at a time, as the socket takes them (pg_session::copy_in).
    session->copy_in(
        pg_copy_sql(st->table, cols, st->format),
        [self = this->shared_from_this()](std::string& chunk) { return self->fill(chunk); },
        [self = this->shared_from_this()](pg_outcome r) { self->copied(r); });
  }

  // The next chunk of COPY data: rows from `next` until the chunk is chunk_bytes long.
  pg_session::copy_step fill(std::string& chunk) {
    const bool binary = st->format == pg_copy_format::binary;
    if (binary && !header_sent) {
      pg_binary::append_header(chunk);
      header_sent = true;
    }
    while (next < hi && chunk.size() < st->chunk_bytes) {
      const std::size_t i = next++;
      if (!pending(i)) continue;
      if (binary) {
        if (!append_binary(chunk, i)) return pg_session::copy_step::abort;
      } else {
        pg_text::append_row(chunk, b->items[i]);
      }
      lines.push_back(i);
    }
    if (next < hi) return pg_session::copy_step::more;
    if (binary) pg_binary::append_trailer(chunk);
    return pg_session::copy_step::last;
  }

  void described(pg_outcome r, std::vector<std::string> cols, std::vector<std::string> names,
                 std::vector<std::uint32_t> types) {
    if (!r.ec) {
      if (std::string why = pg_binary::check_types(types, names); !why.empty())
        r = {make_error_code(pg_errc::server_error), "binary COPY: " + why, 0};
    }
    if (r.ec) return fail_whole(std::move(r));
    st->types = std::move(types);
    st->type_names = std::move(names);
    st->types_for = std::move(cols);
    run();
  }

  // Appends row i in binary; when a value does not fit its column, notes why in `unencodable`
  // and returns false (the COPY is then abandoned, and the row diverted or the batch failed).
  bool append_binary(std::string& data, std::size_t i) {
    const Row& row = b->items[i];
    std::size_t count = 0;
    if constexpr (std::is_same_v<Row, record>)
      count = row.values.size();
    else
      count = column_count_v<Row>;
    pg_binary::row_error e;
    if (count == st->types.size() && pg_binary::append_row(data, row, st->types, e)) return true;
    std::string why;
    if (count != st->types.size()) {
      why = "the row has " + std::to_string(count) + " columns, the COPY's column list " +
            std::to_string(st->types.size());
    } else {
      const auto& names = st->type_names;
      why = "column " + (e.column < names.size() ? names[e.column] : std::to_string(e.column + 1)) +
            ": " + e.reason;
    }
    unencodable.emplace(i, std::move(why));
    return false;
  }

  void copied(pg_outcome r) {
    if (unencodable && r.ec == make_error_code(pg_errc::server_error) &&
        r.message.find(pg_session::abandoned) != std::string::npos) {
      // The COPY was abandoned for a row sluice could not encode (none of it is in).
      auto [i, why] = std::move(*unencodable);
      unencodable.reset();
      if (st->rejected) return divert(i);
      return fail_whole({make_error_code(pg_errc::bad_value), std::move(why), i + 1},
                        /*line_is_batch_index=*/true);
    }
    if (!r.ec) {
      if (!later.empty() || lo != 0 || hi != b->items.size())  // a part: remember it is in
        for (const std::size_t i : lines) settle(i, state::committed);
      return part_done();
    }
    if (st->rejected && r.ec == make_error_code(pg_errc::server_error)) {
      // Next COPY once `rejected` has the row (its own backpressure holds us).
      if (r.line != 0 && r.line <= lines.size()) return divert(lines[r.line - 1]);
      if (lines.size() == 1) return divert(lines.front());
      // No row named: each half on its own.
      const std::size_t mid = lines[lines.size() / 2];
      later.emplace_back(mid, hi);
      hi = mid;
      return run();
    }
    const bool retry = b->attempt < st->max_attempts && st->retryable && st->retryable(r.ec);
    if (!retry && !st->has_dead_letter && r.ec != make_error_code(pg_errc::aborted)) {
      // The batch fails the stream: fail it here, with the server's words and the row.
      pg_outcome named = r;
      if (named.line != 0 && named.line <= lines.size())
        named.line = lines[named.line - 1] + 1;  // the line it had in the whole batch
      else
        named.line = 0;
      if (auto w = st->weak_writer.lock())
        st->writer->fail(r.ec,
                         pg_batch_error(st->table, number, b->first_index, b->items.size(), named));
    }
    finish(r.ec);
  }

  // The part [lo, hi) is in: the next part, or the batch is.
  void part_done() {
    if (later.empty()) return finish({});
    std::tie(lo, hi) = later.back();
    later.pop_back();
    run();
  }

  // Hands row `bad` to `rejected`; the part is sent again without it once `rejected` took it.
  void divert(std::size_t bad) {
    settle(bad, state::refused);
    st->rejected->write(Row(b->items[bad]), [self = this->shared_from_this()](std::error_code ec) {
      if (ec) return self->finish(ec);
      self->run();
    });
  }

  // The batch failed before or without a COPY line to map (a type check, a lost connection).
  void fail_whole(pg_outcome r, bool line_is_batch_index = false) {
    const bool retry = b->attempt < st->max_attempts && st->retryable && st->retryable(r.ec);
    if (!retry && !st->has_dead_letter && r.ec != make_error_code(pg_errc::aborted)) {
      if (!line_is_batch_index) r.line = 0;
      if (auto w = st->weak_writer.lock())
        st->writer->fail(r.ec,
                         pg_batch_error(st->table, number, b->first_index, b->items.size(), r));
    }
    finish(r.ec);
  }

  void finish(std::error_code ec) {
    auto d = std::move(done);
    done = nullptr;
    if (!d) return;
    // The batch's record goes unless it is flushed again (a retry keeps what is settled).
    const bool retry = ec && b->attempt < st->max_attempts && st->retryable && st->retryable(ec);
    if (!retry) st->in_flight.erase(b->first_index);
    bs = nullptr;
    st->idle.push_back(std::move(session));
    d(ec);
  }
};

}  // namespace detail

/// A writable of rows loaded into `table` (an SQL name, used as given: "events",
/// "app.events") with COPY FROM STDIN, a batch at a time. Contract: each write's callback runs
/// exactly once, on a later tick: with success only after the COPY of its batch has committed
/// on the server; with the batch's error (or stream_destroyed) otherwise; nothing is
/// acknowledged that is not committed. Needs the asio_loop's io_context to be run. The
/// connection is made with the first batch, closed when the stream closes.
template <pg_row Row>
[[nodiscard]] std::shared_ptr<batch_writer<Row>> make_pg_copy_writer(asio_loop& l,
                                                                     std::string conninfo,
                                                                     std::string table,
                                                                     pg_copy_options<Row> o = {}) {
  auto st = std::make_shared<detail::pg_copy_state<Row>>();
  const std::size_t connections = o.connections == 0 ? 1 : o.connections;
  for (std::size_t i = 0; i < connections; ++i)
    st->sessions.push_back(std::make_shared<detail::pg_session>(l, conninfo));
  st->idle = st->sessions;
  st->table = std::move(table);
  st->columns = std::move(o.columns);
  st->chunk_bytes = o.chunk_bytes;
  st->format = o.format;
  st->max_attempts = o.batch.max_attempts;
  st->retryable = o.batch.retryable;
  st->has_dead_letter = o.batch.dead_letter != nullptr;
  o.batch.max_in_flight = connections;
  if (o.batch.name == "batch_writer") o.batch.name = "pg_copy_writer";
  st->rejected = std::move(o.rejected);
  batch_flush<Row> flush = [st](const write_batch<Row>& b, callback done) {
    auto& bs = st->in_flight[b.first_index];
    if (b.attempt == 1) bs = {++st->batches, {}};
    // batch_writer runs at most max_in_flight (= connections) flushes at once.
    auto f = std::make_shared<detail::pg_copy_flush<Row>>();
    f->session = std::move(st->idle.back());
    st->idle.pop_back();
    f->st = st;
    f->b = &b;
    f->bs = &bs;
    f->number = bs.number;
    f->done = std::move(done);
    f->start();
  };
  auto w = make_batch_writer<Row>(l, std::move(flush), std::move(o.batch));
  st->writer = w.get();
  st->weak_writer = w;
  w->on_close([weak = std::weak_ptr(st)] {
    if (auto s = weak.lock())
      for (auto& session : s->sessions) session->close();
  });
  return w;
}

struct pg_reader_options {
  /// Rows buffered before the reader stops reading the socket (default: 16 items).
  std::optional<std::size_t> high_water_mark{};
  std::string name = "pg_reader";
};

/// A readable of the rows of `query`, run as `COPY (query) TO STDOUT` (text format). Rows are
/// read from the connection only while the readable has room. For db::record, a first
/// `SELECT * FROM (query) LIMIT 0` gives the column names (columns()); values are text
/// (std::string) or db::null. Errors: the stream fails once, with pg_errc::connect_failed,
/// server_error, connection_lost or bad_value (naming the row number, from 1, and column).
template <pg_row Row>
class pg_reader final : public readable<Row> {
 public:
  pg_reader(asio_loop& l, std::string conninfo, std::string query, pg_reader_options o = {})
      : readable<Row>(l, readable_options{.high_water_mark = o.high_water_mark, .name = o.name}),
        session_(l, std::move(conninfo)),
        query_(std::move(query)) {}

  /// The result's column names (records only; empty until the first rows come).
  [[nodiscard]] const column_names& columns() const noexcept { return columns_; }
  /// Rows pushed so far.
  [[nodiscard]] std::uint64_t rows() const noexcept { return rows_; }

 protected:
  void do_read(std::size_t) override {
    if (state_ == state::idle) {
      start();
    } else if (state_ == state::paused) {
      pump();
    }
  }

  void do_destroy(std::error_code ec, callback cb) override {
    state_ = state::done;
    session_.close();
    cb(ec);
  }

 private:
  enum class state : std::uint8_t {
    idle,      // do_read not called yet
    starting,  // connecting, describing, starting the COPY
    pumping,   // lines are coming (or awaited from the socket)
    paused,    // the buffer is full: the socket is not read
    done,      // ended, failed or destroyed
  };

  std::string what() const {
    std::string q = query_.size() > 60 ? query_.substr(0, 57) + "..." : query_;
    return "postgres query '" + q + "'";
  }

  template <class F>
  auto guarded(F f) {
    return [this, weak = this->weak_from_this(), f = std::move(f)](auto&&... a) {
      if (weak.expired() || state_ == state::done || this->destroyed())
        return decltype(f(std::forward<decltype(a)>(a)...))();
      return f(std::forward<decltype(a)>(a)...);
    };
  }

  void failed(const detail::pg_outcome& o) {
    state_ = state::done;
    this->fail(o.ec, what() + ": " + o.message);
  }

  void start() {
    state_ = state::starting;
    if constexpr (std::is_same_v<Row, record>) {
      session_.describe("SELECT * FROM (" + query_ + ") AS sluice_describe LIMIT 0",
                        guarded([this](detail::pg_outcome o, std::vector<std::string> names,
                                       std::vector<std::uint32_t>) {
                          if (o.ec) return failed(o);
                          columns_ =
                              std::make_shared<const std::vector<std::string>>(std::move(names));
                          start_copy();
                        }));
    } else {
      start_copy();
    }
  }

  void start_copy() {
    session_.copy_out_start("COPY (" + query_ + ") TO STDOUT",
                            guarded([this](detail::pg_outcome o) {
                              if (o.ec) return failed(o);
                              pump();
                            }));
  }

  void pump() {
    state_ = state::pumping;
    session_.copy_out_next(guarded([this](std::string_view line) { return on_line(line); }),
                           guarded([this](detail::pg_outcome o) {
                             if (o.ec) return failed(o);
                             state_ = state::done;
                             this->push_eof();
                           }));
  }

  bool on_line(std::string_view line) {
    if (!pg_text::split_line(line, fields_)) {
      failed({make_error_code(pg_errc::bad_value),
              "row " + std::to_string(rows_ + 1) + ": malformed COPY line", 0});
      return false;
    }
    Row row{};
    if constexpr (std::is_same_v<Row, record>) {
      pg_text::to_record(fields_, row);
      row.columns = columns_;
    } else {
      if (const long bad = pg_text::parse_row(fields_, row); bad >= 0) {
        std::string msg = "row " + std::to_string(rows_ + 1) + ": ";
        if (fields_.size() != column_count_v<Row>)
          msg += std::to_string(fields_.size()) + " columns, the row type has " +
                 std::to_string(column_count_v<Row>);
        else
          msg += "column " + std::to_string(bad + 1) + ": " +
                 (fields_[static_cast<std::size_t>(bad)]
                      ? "'" + fields_[static_cast<std::size_t>(bad)]->substr(0, 40) +
                            "' does not convert to the field's type"
                      : std::string("NULL in a field that is not optional"));
        failed({make_error_code(pg_errc::bad_value), msg, 0});
        return false;
      }
    }
    ++rows_;
    if (this->push(std::move(row))) return true;
    if (state_ == state::pumping) state_ = state::paused;
    return false;
  }

  detail::pg_session session_;
  std::string query_;
  state state_ = state::idle;
  std::uint64_t rows_ = 0;
  column_names columns_;
  std::vector<std::optional<std::string>> fields_;
};

/// Makes a pg_reader (see there).
template <pg_row Row>
[[nodiscard]] std::shared_ptr<pg_reader<Row>> make_pg_reader(asio_loop& l, std::string conninfo,
                                                             std::string query,
                                                             pg_reader_options o = {}) {
  return std::make_shared<pg_reader<Row>>(l, std::move(conninfo), std::move(query), std::move(o));
}

/// Runs `sql` (one or more statements, no result rows wanted: CREATE TABLE, TRUNCATE, ...) on a
/// connection of its own, then calls `done` exactly once, on a later tick, with an empty code
/// or the error and a message naming the server.
void pg_execute(asio_loop& l, std::string conninfo, std::string sql,
                std::function<void(std::error_code, const std::string& message)> done);

/// Records into `table` (make_pg_copy_writer<record>). `l` must be an asio_loop: otherwise
/// throws std::system_error (invalid_argument).
[[nodiscard]] std::shared_ptr<writable<record>> make_pg_record_writer(
    loop& l, std::string conninfo, std::string table, pg_copy_options<record> o = {});
/// Records of `query` (pg_reader<record>). `l` must be an asio_loop, as above.
[[nodiscard]] std::shared_ptr<readable<record>> make_pg_record_reader(loop& l, std::string conninfo,
                                                                      std::string query);

}  // namespace sluice::db
