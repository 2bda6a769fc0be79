// sluice/db/pg_copy_text.hpp: rows in PostgreSQL's COPY text format, both ways.
//
// One row per line, columns separated by a tab, NULL as \N, and in a value a backslash, tab,
// newline and carriage return escaped as \\, \t, \n and \r (so a line is always one row: the
// server's "line N" of an error is row N of the batch). Booleans are t/f, bytes (`buffer`) are
// bytea's hex form (\\x0a0b), timestamps RFC 3339 in UTC. Reading undoes the escapes (octal and
// \x forms included) and converts each column to the row's field type, or, for a db::record,
// keeps the text (a std::string value; NULL as db::null). postgres.hpp's writer and reader use
// these; they are public because they are useful on their own (a COPY file for psql).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "sluice/db/row.hpp"

namespace sluice::db::pg_text {

// ---- Writing -------------------------------------------------------------------------------

/// Appends `s` escaped as a COPY text value.
void append(std::string& out, std::string_view s);
void append(std::string& out, std::int64_t v);
void append(std::string& out, std::uint64_t v);
void append(std::string& out, double v);  ///< shortest round-trip form; NaN, Infinity
void append(std::string& out, bool v);
void append(std::string& out, const buffer& b);  ///< bytea hex: \\x...
void append(std::string& out, timestamp t);
void append_null(std::string& out);
void append(std::string& out, const value& v);

/// Appends one column's value.
template <field F>
void append_field(std::string& out, const F& f) {
  if constexpr (detail::is_optional<F>::value) {
    if (f)
      append_field(out, *f);
    else
      append_null(out);
  } else if constexpr (std::is_same_v<F, bool>) {
    append(out, f);
  } else if constexpr (std::is_integral_v<F> && std::is_signed_v<F>) {
    append(out, static_cast<std::int64_t>(f));
  } else if constexpr (std::is_integral_v<F>) {
    append(out, static_cast<std::uint64_t>(f));
  } else if constexpr (std::is_floating_point_v<F>) {
    append(out, static_cast<double>(f));
  } else if constexpr (std::is_same_v<F, std::string>) {
    append(out, std::string_view(f));
  } else {
    append(out, f);  // buffer, timestamp
  }
}

/// Appends a row as one line (ending with '\n').
template <static_row Row>
void append_row(std::string& out, const Row& row) {
  for_each_field(row, [&out](const auto& f, auto i) {
    if constexpr (decltype(i)::value != 0) out.push_back('\t');
    append_field(out, f);
  });
  out.push_back('\n');
}
void append_row(std::string& out, const record& row);

// ---- Reading -------------------------------------------------------------------------------

/// Splits one line (its '\n' optional) into unescaped columns, nullopt for \N. Returns false,
/// leaving `columns` unspecified, when an escape is malformed.
[[nodiscard]] bool split_line(std::string_view line,
                              std::vector<std::optional<std::string>>& columns);

/// Converts one column's text to a field. False when the text is not a value of that type (or
/// is NULL and the field is not optional).
[[nodiscard]] bool parse(std::string_view text, bool& out);
[[nodiscard]] bool parse(std::string_view text, std::int64_t& out);
[[nodiscard]] bool parse(std::string_view text, std::uint64_t& out);
[[nodiscard]] bool parse(std::string_view text, double& out);
[[nodiscard]] bool parse(std::string_view text, buffer& out);     ///< bytea hex output
[[nodiscard]] bool parse(std::string_view text, timestamp& out);  ///< ISO, offset +hh[:mm]

template <field F>
[[nodiscard]] bool parse_field(const std::optional<std::string>& text, F& out) {
  if constexpr (detail::is_optional<F>::value) {
    if (!text) {
      out.reset();
      return true;
    }
    typename F::value_type v{};
    if (!parse_field(text, v)) return false;
    out = std::move(v);
    return true;
  } else {
    if (!text) return false;
    if constexpr (std::is_same_v<F, std::string>) {
      out = *text;
      return true;
    } else if constexpr (std::is_same_v<F, bool> || std::is_same_v<F, buffer> ||
                         std::is_same_v<F, timestamp>) {
      return parse(*text, out);
    } else if constexpr (std::is_integral_v<F>) {
      using wide = std::conditional_t<std::is_signed_v<F>, std::int64_t, std::uint64_t>;
      wide v{};
      if (!parse(*text, v) || !std::in_range<F>(v)) return false;
      out = static_cast<F>(v);
      return true;
    } else {
      double v{};
      if (!parse(*text, v)) return false;
      out = static_cast<F>(v);
      return true;
    }
  }
}

/// Converts split columns to a static row. Returns the index of the first column that does not
/// convert, or -1 when all did (the count must match: column_count_v; a mismatch returns the
/// count of columns given).
template <static_row Row>
[[nodiscard]] long parse_row(const std::vector<std::optional<std::string>>& columns, Row& row) {
  if (columns.size() != column_count_v<Row>) return static_cast<long>(columns.size());
  long bad = -1;
  for_each_field(row, [&](auto& f, auto i) {
    if (bad < 0 && !parse_field(columns[decltype(i)::value], f))
      bad = static_cast<long>(decltype(i)::value);
  });
  return bad;
}

/// Converts split columns to a record of text values (NULL as db::null).
void to_record(std::vector<std::optional<std::string>>& columns, record& row);

}  // namespace sluice::db::pg_text
