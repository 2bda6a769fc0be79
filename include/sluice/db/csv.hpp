// sluice/db/csv.hpp: CSV (RFC 4180) to rows and back.
//
// csv_parser<Row>  transform<buffer, Row>: bytes, split at any point, to one row per CSV record.
//                  Row is db::record (every value a std::string or NULL) or a static row (each
//                  field converted from its text). Made by parse_csv<Row>(loop, options).
// csv_writer<Row>  transform<Row, buffer>: rows to CSV text, quoting only where needed, many rows
//                  coalesced into one buffer when they come together. Made by write_csv<Row>().
// csv_errc         what can go wrong; a failed stream's error_message() names the line and the
//                  column: "csv: line 3, column 7: unexpected character after a closing quote".
//
// NULL follows PostgreSQL's CSV convention both ways: an unquoted empty field is NULL, a quoted
// empty field ("") is the empty string. Lines are counted physically (a newline inside a quoted
// field starts a new line) and columns in bytes from the start of the line, both from 1. A
// record is held in memory until it is complete, so its size is bounded (max_record_size): a
// larger one fails the stream as soon as it is seen. docs/databases.md has the details.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <utility>
#include <vector>

#include "sluice/core/buffer.hpp"
#include "sluice/core/supervision.hpp"
#include "sluice/core/transform.hpp"
#include "sluice/db/detail/row_formatter.hpp"
#include "sluice/db/row.hpp"

namespace sluice::db {

/// What went wrong in CSV. Zero is unused (it means success).
enum class csv_errc {
  character_after_quote = 1,  ///< "unexpected character after a closing quote"
  quote_in_unquoted_field,    ///< "quote in an unquoted field"
  unterminated_quote,         ///< "unterminated quoted field" (at the end of the input)
  field_too_long,             ///< "field too long": beyond csv_options::max_field_size
  record_too_long,            ///< "record too long": beyond csv_options::max_record_size
  wrong_field_count,          ///< "wrong number of fields" (differs from the header/first row)
  bad_value,                  ///< "value does not convert to the column's type" (typed rows)
};

/// The "sluice.csv" error category.
[[nodiscard]] const std::error_category& csv_category() noexcept;
[[nodiscard]] std::error_code make_error_code(csv_errc e) noexcept;

}  // namespace sluice::db

template <>
struct std::is_error_code_enum<sluice::db::csv_errc> : std::true_type {};

namespace sluice::db {

/// How CSV is read.
struct csv_options {
  char separator = ',';
  /// The first record holds the column names: it is not emitted; records share the names.
  bool header = false;
  /// The largest field, in bytes after unquoting; a larger one fails the stream.
  std::size_t max_field_size = std::size_t{1} << 20;
  /// The largest record, in bytes (fields after unquoting, plus one per field); a larger one
  /// fails the stream.
  std::size_t max_record_size = std::size_t{16} << 20;
  /// Accept records whose number of fields differs from the header's (or the first record's).
  /// Off: such a record fails the stream with wrong_field_count. A static row always needs
  /// exactly its column count.
  bool ragged_records = false;
  /// Supervision: a record with the wrong number of fields, or (typed rows) a value that does
  /// not convert, is skipped for an error the policy takes, counted (records_skipped()) and
  /// reported (skipped_item::index is the 0-based line the record starts on, detail "csv: line
  /// 12: 3 fields where the header has 4"), and the next record goes on. Malformed quoting and
  /// records beyond the limits still fail the stream: where the next record starts is not known.
  /// Unset: the first bad record fails the stream.
  std::optional<skip_policy> skip{};
};

/// How CSV is written.
struct csv_write_options {
  char separator = ',';
  /// Write a header line first: `columns` if given, else the first record's column names.
  bool header = false;
  std::vector<std::string> columns{};
  /// Also quote text with a leading or trailing space (some readers trim them).
  bool quote_spaces = false;
  /// "\r\n" line ends (RFC 4180) instead of "\n".
  bool crlf = false;
  /// A buffer is handed on once it holds this many bytes (rows written together are coalesced
  /// up to here; a row is never held back waiting for more).
  std::size_t chunk_size = 32 * 1024;
};

namespace detail {

/// One field of the record being scanned: its bytes in the scanner's text, where it started.
struct csv_field {
  std::uint32_t begin = 0;
  std::uint32_t end = 0;
  std::uint64_t line = 0;
  std::uint32_t column = 0;
  bool quoted = false;
};

/// The RFC 4180 state machine, independent of the row type: fed chunk by chunk, it yields one
/// record at a time (fields and their positions) and stops there, so that the parser can stop
/// when its readable side is full.
class csv_scanner {
 public:
  explicit csv_scanner(const csv_options& o);

  /// The next chunk to scan (the previous one must be used up).
  void set_input(std::string_view in) noexcept;
  [[nodiscard]] bool input_left() const noexcept { return pos_ < in_.size(); }
  /// Scans on until a record is complete (true: fields() holds it) or the chunk is used up or
  /// the input is malformed (false; failed() says which).
  bool next_record();
  /// At the end of the input: completes the last record (true when there is one).
  bool finish();
  /// Drops the record returned by next_record()/finish().
  void clear_record() noexcept;

  [[nodiscard]] const std::vector<csv_field>& fields() const noexcept { return fields_; }
  [[nodiscard]] std::string_view text(const csv_field& f) const noexcept {
    return std::string_view(text_).substr(f.begin, f.end - f.begin);
  }
  [[nodiscard]] static bool is_null(const csv_field& f) noexcept {
    return !f.quoted && f.begin == f.end;
  }
  /// The line the current record starts on.
  [[nodiscard]] std::uint64_t record_line() const noexcept { return record_line_; }
  /// The number of fields of a record (the first one's, the header's); 0 before it.
  [[nodiscard]] std::size_t width() const noexcept { return width_; }
  void set_width(std::size_t w) noexcept { width_ = w; }

  [[nodiscard]] std::error_code error() const noexcept { return error_; }
  /// What failed, for stream::fail: "csv: line 3, column 7".
  [[nodiscard]] const std::string& error_context() const noexcept { return context_; }
  /// Records an error found outside the scanner (field count, a bad value).
  void set_error(csv_errc e, std::string context);
  /// Forgets an error set by set_error() (a record skipped under csv_options::skip).
  void clear_error() noexcept {
    error_ = {};
    context_.clear();
  }

 private:
  enum class state : std::uint8_t {
    field_start,  // before a field's first byte
    unquoted,     // in an unquoted field
    quoted,       // in a quoted field
    quote_seen,   // a '"' in a quoted field: "" (an escaped quote) or the closing quote
    after_quote,  // after the closing quote: a separator or a line end must follow
    cr,           // a '\r' outside quotes: "\r\n" ends the record, else the '\r' is data
  };
  [[nodiscard]] std::uint32_t column_at(std::size_t i) const noexcept;
  void start_field(std::size_t i, bool quoted);
  void end_field();
  // The record ends at the line end at in_[i] (a '\n'); false for a skipped blank line.
  bool end_record(std::size_t i);
  bool fail_at(csv_errc e, std::size_t i);
  bool check_sizes(std::size_t i);

  char sep_;
  std::size_t max_field_;
  std::size_t max_record_;
  bool special_[256] = {};  // bytes that stop an unquoted run: separator, '"', '\r', '\n'

  std::string_view in_;
  std::size_t pos_ = 0;
  std::uint64_t chunk_base_ = 0;  // stream offset of in_[0]
  std::uint64_t line_ = 1;
  std::uint64_t line_start_ = 0;  // stream offset of the current line's first byte
  state state_ = state::field_start;
  state before_cr_ = state::field_start;

  std::string text_;  // the current record's unquoted bytes
  std::vector<csv_field> fields_;
  std::uint64_t record_line_ = 1;
  std::size_t width_ = 0;
  std::uint64_t quote_line_ = 0;  // where the open quote is
  std::uint32_t quote_column_ = 0;
  bool record_ready_ = false;

  std::error_code error_;
  std::string context_;
};

/// Text of CSV (and of other text formats) to a field of a static row; false if it does not
/// convert. NULL (is_null) converts to nullopt only.
template <class T>
bool field_from_text(std::string_view text, bool is_null, T& out);
/// What a bad value was expected to be, for messages: "an integer", "a timestamp".
template <class T>
[[nodiscard]] const char* field_type_name() noexcept;

/// "csv: line 3, column 7" (column by name too when there is one).
[[nodiscard]] std::string csv_position(std::uint64_t line, std::uint32_t column,
                                       const std::string* name);
/// "the text 'abc' is not an integer" (the text cut short when long).
[[nodiscard]] std::string bad_value_text(std::string_view text, const char* expected);

/// Appends one value's CSV form (quoted when needed) to `out`.
void csv_append_value(std::string& out, const value& v, const csv_write_options& o);
void csv_append_text(std::string& out, std::string_view text, const csv_write_options& o);
void csv_append_null(std::string& out) noexcept;
template <class T>
void csv_append_field(std::string& out, const T& field, const csv_write_options& o);

/// The shared non-template part of csv_parser: scanning, backpressure, the header, errors.
class csv_parser_base {
 public:
  explicit csv_parser_base(const csv_options& o) : options_(o), scanner_(o) {}

 protected:
  csv_options options_;
  csv_scanner scanner_;
  column_names columns_;
  std::uint64_t records_ = 0;
};

}  // namespace detail

/// Parses CSV into rows: `Row` is db::record (values std::string, or NULL) or a static row.
/// Emits one row per record in object mode. Input chunks may split the text anywhere. A
/// malformed input, a record beyond the limits, a wrong field count or (typed rows) a value that
/// does not convert fails the stream (stream::fail) with a csv_errc whose context names the line
/// and column, so error_message() reads "csv: line 3, column 7: unexpected character after a
/// closing quote". Each write's callback runs once, after its records were handed on (or held
/// back while the readable side is full: backpressure reaches the writer).
template <class Row = record>
requires(std::is_same_v<Row, record> || static_row<Row>) class csv_parser final
    : public transform<buffer, Row>,
      private detail::csv_parser_base {
  using base = transform<buffer, Row>;

 public:
  /// Throws std::system_error(errc::invalid_argument) for a zero limit, or a separator that is
  /// '"', '\r' or '\n'.
  csv_parser(sluice::loop& l, const csv_options& o = {}, const transform_options& to = {});

  /// The column names from the header line (null until it was read, or without header).
  [[nodiscard]] const column_names& columns() const noexcept { return columns_; }
  /// The number of rows emitted so far.
  [[nodiscard]] std::uint64_t record_count() const noexcept { return records_; }
  /// Records skipped under csv_options::skip so far.
  [[nodiscard]] std::uint64_t records_skipped() const noexcept { return skipped_; }

 protected:
  void do_transform(buffer&& chunk, typename base::transform_callback cb) override {
    input_ = std::move(chunk);
    scanner_.set_input(input_.view());
    cb_.emplace(cb);
    scan();
  }
  void do_flush(callback cb) override {
    if (scanner_.finish() && !take_record() && !skip_bad_record()) {
      this->fail(scanner_.error(), scanner_.error_context());
      cb(scanner_.error());
      return;
    }
    if (scanner_.error()) {
      this->fail(scanner_.error(), scanner_.error_context());
      cb(scanner_.error());
      return;
    }
    cb({});
  }
  void do_output_wanted() override {
    if (cb_ && !scanning_ && !this->destroyed()) scan();
  }
  // A chunk held back by backpressure fails with stream_destroyed: its records were not all
  // handed on, and its callback must still run once.
  void do_destroy(std::error_code ec, callback done) override {
    if (cb_ && !scanning_) {
      input_ = {};
      const auto cb = *std::exchange(cb_, std::nullopt);
      cb(make_error_code(errc::stream_destroyed));
    }
    base::do_destroy(ec, std::move(done));
  }

 private:
  // Scans the chunk on, pushing rows until it is used up (then completes the write) or the
  // readable side is full (then goes on in do_output_wanted).
  void scan() {
    scanning_ = true;
    while (scanner_.next_record()) {
      if (!take_record()) {
        if (skip_bad_record() && !this->destroyed()) continue;
        break;
      }
      if (!more_ || this->destroyed()) {
        if (scanner_.input_left()) {
          scanning_ = false;
          return;
        }
        break;
      }
    }
    scanning_ = false;
    input_ = {};
    const auto cb = *std::exchange(cb_, std::nullopt);
    if (scanner_.error()) {
      this->fail(scanner_.error(), scanner_.error_context());
      cb(scanner_.error());
    } else {
      cb();
    }
  }

  // The scanner holds a record: the header, or a row to push. False on an error (recorded in
  // the scanner).
  bool take_record();
  bool convert_static(Row& row);
  // Under the skip policy: drops the record take_record() refused. False if it must fail the
  // stream instead.
  bool skip_bad_record() {
    const std::error_code ec = scanner_.error();
    const bool record_level = ec == csv_errc::wrong_field_count || ec == csv_errc::bad_value;
    if (!options_.skip || !record_level || (options_.header && !columns_) ||
        !options_.skip->takes(ec))
      return false;
    ++skipped_;
    skipped_item item{.index = scanner_.record_line() - 1,
                      .error = ec,
                      .stage = this->name(),
                      .detail = scanner_.error_context()};
    scanner_.clear_error();
    scanner_.clear_record();
    if (options_.skip->on_skip) {
      auto keep = this->shared_from_this();  // the observer may destroy the stream
      options_.skip->on_skip(item);
    }
    return true;
  }

  buffer input_;
  std::optional<typename base::transform_callback> cb_;
  bool scanning_ = false;
  bool more_ = true;
  std::uint64_t skipped_ = 0;
};

/// Writes rows as CSV text. A field is quoted only when it must be (it holds the separator, a
/// quote, '\r' or '\n'; it is the empty string; with quote_spaces, it starts or ends with a
/// space); NULL is an empty unquoted field. Integers in decimal, doubles in their shortest form
/// that reads back exactly, booleans as true/false, bytes as PostgreSQL's bytea hex ("\x0aff"),
/// timestamps in RFC 3339 (format_timestamp). Rows that come in the same turn of the loop are
/// coalesced into buffers of about chunk_size bytes, handed on when full or at the end of the
/// turn (a row alone is never held waiting for more input). Each write's callback runs once,
/// when its text is in the buffer being filled (at most chunk_size bytes ahead of the output).
template <class Row = record>
requires(std::is_same_v<Row, record> || static_row<Row>) class csv_writer final
    : public detail::row_formatter<Row> {
  using base = detail::row_formatter<Row>;

 public:
  /// Throws std::system_error(errc::invalid_argument) for a separator that is '"', '\r' or
  /// '\n'.
  csv_writer(sluice::loop& l, csv_write_options o = {}, const transform_options& to = {});

 protected:
  void encode(const Row& row) override;
  void do_flush(callback cb) override {
    if (options_.header && !header_done_) write_header(nullptr);
    base::do_flush(std::move(cb));
  }

 private:
  void write_header(const column_names& names);

  csv_write_options options_;
  bool header_done_ = false;
};

/// A CSV parser of `Row` (db::record unless given).
template <class Row = record>
[[nodiscard]] std::shared_ptr<csv_parser<Row>> parse_csv(sluice::loop& l, const csv_options& o = {},
                                                         const transform_options& to = {}) {
  return std::make_shared<csv_parser<Row>>(l, o, to);
}

/// A CSV writer of `Row` (db::record unless given).
template <class Row = record>
[[nodiscard]] std::shared_ptr<csv_writer<Row>> write_csv(sluice::loop& l, csv_write_options o = {},
                                                         const transform_options& to = {}) {
  return std::make_shared<csv_writer<Row>>(l, std::move(o), to);
}

}  // namespace sluice::db

#include "sluice/db/impl/csv.hpp"
