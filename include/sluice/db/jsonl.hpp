// sluice/db/jsonl.hpp: JSON lines (one JSON value per line) to records and back, with
// Boost.JSON doing the parsing and the escaping.
//
// jsonl_parser  transform<buffer, db::record>: one record per line. A line is an object (keys
//               are columns: the first object fixes their names and order, later objects are
//               matched by name, a missing key is NULL) or an array (values by position).
//               Made by parse_jsonl(loop, options).
// jsonl_writer  transform<db::record, buffer>: one object per record keyed by its column names
//               (an array when it has none), one per line. Made by write_jsonl(loop, options).
// jsonl_errc    what can go wrong; a failed stream's error_message() names the line:
//               "jsonl: line 12, byte 7 (expected comma): syntax error".
//
// Values: an integer that fits int64 is an int64, any other number a double, a string a
// std::string, true/false a bool, null NULL. JSON has no bytes or time: the writer gives bytes
// as PostgreSQL's bytea hex text ("\x0aff") and timestamps in RFC 3339, both as strings, which
// the parser returns as strings.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <system_error>
#include <type_traits>

#include "sluice/core/buffer.hpp"
#include "sluice/core/supervision.hpp"
#include "sluice/core/transform.hpp"
#include "sluice/db/detail/row_formatter.hpp"
#include "sluice/db/row.hpp"

namespace sluice::db {

/// What went wrong in JSON lines. Zero is unused (it means success).
enum class jsonl_errc {
  syntax_error = 1,   ///< "syntax error": Boost.JSON refused the line (its reason in the context)
  not_a_row,          ///< "not an object or an array" (or an array where objects came first...)
  unknown_key,        ///< "unknown key": a key the first object did not have
  nested_value,       ///< "nested array or object" (unless nested_as_text)
  wrong_field_count,  ///< "wrong number of values": an array of another length than the first
  line_too_long,      ///< "line too long": beyond jsonl_options::max_line_length
};

/// The "sluice.jsonl" error category.
[[nodiscard]] const std::error_category& jsonl_category() noexcept;
[[nodiscard]] std::error_code make_error_code(jsonl_errc e) noexcept;

}  // namespace sluice::db

template <>
struct std::is_error_code_enum<sluice::db::jsonl_errc> : std::true_type {};

namespace sluice::db {

/// How JSON lines are read.
struct jsonl_options {
  /// The longest line accepted, in bytes, without its line end; a longer one fails the stream
  /// as soon as it is seen.
  std::size_t max_line_length = std::size_t{1} << 20;
  /// A nested array or object becomes its JSON text (a std::string) instead of an error.
  bool nested_as_text = false;
  /// Supervision: a line that is not a row (for an error the policy takes) is skipped, counted
  /// (records_skipped()) and reported with its line (skipped_item::index is the 0-based line,
  /// detail "jsonl: line 12, byte 7 (...)"), and the next line goes on. A line too long to
  /// hold is still an error: its end is not known. Unset: the first bad line fails the stream.
  std::optional<skip_policy> skip{};
};

/// How JSON lines are written.
struct jsonl_write_options {
  /// A buffer is handed on once it holds this many bytes (rows written together are coalesced
  /// up to here; a row is never held back waiting for more).
  std::size_t chunk_size = 32 * 1024;
};

/// Parses JSON lines into records, in object mode. Input chunks may split lines anywhere; a line
/// ends at "\n" (a "\r" before it is dropped); blank lines are skipped; the last line needs no
/// newline. Anything wrong fails the stream (stream::fail) with a jsonl_errc whose context names
/// the line (1-based) and, where there is one, the key. Each write's callback runs once, after
/// its records were handed on or, while the readable side is full, when they are (backpressure
/// reaches the writer); a chunk held back when the stream is destroyed fails with
/// errc::stream_destroyed.
class jsonl_parser final : public transform<buffer, record> {
 public:
  /// Throws std::system_error(errc::invalid_argument) if max_line_length is 0.
  explicit jsonl_parser(sluice::loop& l, const jsonl_options& o = {},
                        const transform_options& to = {});
  ~jsonl_parser() override;

  /// The column names (from the first object; null for arrays or before the first line).
  [[nodiscard]] const column_names& columns() const noexcept;
  /// The number of records emitted so far.
  [[nodiscard]] std::uint64_t record_count() const noexcept;
  /// Lines skipped under jsonl_options::skip so far.
  [[nodiscard]] std::uint64_t records_skipped() const noexcept;

 protected:
  void do_transform(buffer&& chunk, transform_callback cb) override;
  void do_flush(callback cb) override;
  void do_output_wanted() override;
  void do_destroy(std::error_code ec, callback done) override;

 private:
  struct impl;
  void scan();
  // Under the skip policy: skips the line that just failed. False if it must fail the stream.
  bool skip_bad_line();
  std::unique_ptr<impl> impl_;
  buffer input_;
  std::size_t pos_ = 0;
  std::optional<transform_callback> cb_;
  bool scanning_ = false;
};

/// Writes records as JSON lines: an object keyed by the record's column names (an array when it
/// has none), one per line, strings escaped by Boost.JSON. Doubles in their shortest form that
/// reads back exactly (NaN and infinities, which JSON lacks, as null); bytes as "\x..." hex
/// strings; timestamps as RFC 3339 strings. Rows that come in the same turn of the loop are
/// coalesced into buffers of about chunk_size bytes, handed on when full or at the end of the
/// turn (a row alone is never held waiting for more input). Each write's callback runs once.
class jsonl_writer final : public detail::row_formatter<record> {
 public:
  explicit jsonl_writer(sluice::loop& l, const jsonl_write_options& o = {},
                        const transform_options& to = {});

 protected:
  void encode(const record& row) override;
};

/// A JSON lines parser.
[[nodiscard]] inline std::shared_ptr<jsonl_parser> parse_jsonl(sluice::loop& l,
                                                               const jsonl_options& o = {},
                                                               const transform_options& to = {}) {
  return std::make_shared<jsonl_parser>(l, o, to);
}

/// A JSON lines writer.
[[nodiscard]] inline std::shared_ptr<jsonl_writer> write_jsonl(sluice::loop& l,
                                                               const jsonl_write_options& o = {},
                                                               const transform_options& to = {}) {
  return std::make_shared<jsonl_writer>(l, o, to);
}

}  // namespace sluice::db
