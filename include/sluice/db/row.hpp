// sluice/db/row.hpp: what a database row is to sluice.
//
// Two kinds of rows travel through the db layer's streams:
//
//   - A *static row*: a type whose fields map to columns by position. Either a tuple-like type
//     (std::tuple, std::pair, std::array) or a plain aggregate struct, reflected with Boost.PFR
//     (no macro, no adapter: `struct event { std::int64_t id; std::string name; double v; };`
//     is a row of three columns). Each field is a `db::field`: bool, an integer, float or double,
//     std::string, `buffer` (bytes), `db::timestamp`, or std::optional of one of those (NULL).
//   - A `db::record`: a row whose shape is known only at run time (the CLI's `csv | sqlite ...`),
//     one `db::value` per column and, when known, the column names.
//
// for_each_field(row, f) visits a static row's fields in column order, calling f(field, index);
// column_count_v<Row> is their number. Conversions between values and fields, and the text forms
// of timestamps, are in this header too, so that every format (CSV, JSON lines, SQLite, COPY)
// agrees on them.
#pragma once

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include <boost/pfr/core.hpp>
#include <boost/pfr/tuple_size.hpp>

#include "sluice/core/buffer.hpp"

namespace sluice::db {

/// A point in time with microsecond resolution (PostgreSQL's timestamp), in UTC.
using timestamp = std::chrono::sys_time<std::chrono::microseconds>;

namespace detail {
template <class T>
struct is_optional : std::false_type {};
template <class T>
struct is_optional<std::optional<T>> : std::true_type {};
}  // namespace detail

/// A column's value type, NULL excluded.
template <class T>
concept scalar_field =
    std::is_same_v<T, bool> ||
    (std::is_integral_v<T> && !std::is_same_v<T, char> && !std::is_same_v<T, char8_t> &&
     !std::is_same_v<T, char16_t> && !std::is_same_v<T, char32_t> && !std::is_same_v<T, wchar_t> &&
     sizeof(T) <= 8) ||
    std::is_same_v<T, float> || std::is_same_v<T, double> || std::is_same_v<T, std::string> ||
    std::is_same_v<T, buffer> || std::is_same_v<T, timestamp>;

/// A column's C++ type: a scalar_field, or std::optional of one (nullopt is SQL NULL).
template <class T>
concept field = scalar_field<T> ||
    (detail::is_optional<T>::value&& scalar_field<typename T::value_type>);

namespace detail {

template <class T>
concept tuple_like = requires {
  std::tuple_size<T>::value;
};

template <class T, std::size_t... I>
constexpr bool tuple_fields(std::index_sequence<I...>) {
  return (field<std::tuple_element_t<I, T>> && ...);
}

template <class T, std::size_t... I>
constexpr bool pfr_fields(std::index_sequence<I...>) {
  return (field<boost::pfr::tuple_element_t<I, T>> && ...);
}

template <class T>
constexpr bool is_static_row() {
  if constexpr (tuple_like<T>) {
    return std::tuple_size_v<T> > 0 &&
           tuple_fields<T>(std::make_index_sequence<std::tuple_size_v<T>>{});
  } else if constexpr (std::is_aggregate_v<T> && !std::is_array_v<T> && std::is_class_v<T>) {
    return boost::pfr::tuple_size_v<T> > 0 &&
           pfr_fields<T>(std::make_index_sequence<boost::pfr::tuple_size_v<T>>{});
  } else {
    return false;
  }
}

}  // namespace detail

/// A type whose fields map to columns by position: a tuple-like type or an aggregate struct
/// (Boost.PFR) whose every field is a db::field.
template <class T>
concept static_row = detail::is_static_row<std::remove_cvref_t<T>>();

/// Number of columns of a static row.
template <static_row Row>
inline constexpr std::size_t column_count_v = [] {
  if constexpr (detail::tuple_like<Row>)
    return std::tuple_size_v<Row>;
  else
    return boost::pfr::tuple_size_v<Row>;
}();

namespace detail {
template <std::size_t I, class Row, bool = tuple_like<Row>>
struct column_type {
  using type = std::tuple_element_t<I, Row>;
};
template <std::size_t I, class Row>
struct column_type<I, Row, false> {
  using type = boost::pfr::tuple_element_t<I, Row>;
};
}  // namespace detail

/// The type of column I of a static row.
template <std::size_t I, static_row Row>
using column_t = std::remove_cvref_t<typename detail::column_type<I, Row>::type>;

/// Column I of a static row, by reference.
template <std::size_t I, class Row>
requires static_row<Row>
[[nodiscard]] constexpr decltype(auto) get(Row&& row) noexcept {
  if constexpr (detail::tuple_like<std::remove_cvref_t<Row>>) {
    using std::get;
    return get<I>(std::forward<Row>(row));
  } else {
    return boost::pfr::get<I>(std::forward<Row>(row));
  }
}

/// Calls f(field, index) for each column of a static row, in column order (index is a
/// std::integral_constant<std::size_t, I>, usable as a constant expression).
template <class Row, class F>
requires static_row<Row>
constexpr void for_each_field(Row&& row, F&& f) {
  constexpr std::size_t n = column_count_v<std::remove_cvref_t<Row>>;
  [&]<std::size_t... I>(std::index_sequence<I...>) {
    (f(db::get<I>(row), std::integral_constant<std::size_t, I>{}), ...);
  }
  (std::make_index_sequence<n>{});
}

// ---- Rows known only at run time -------------------------------------------------------------

/// SQL NULL in a db::value.
struct null_t {
  friend constexpr bool operator==(null_t, null_t) noexcept { return true; }
};
inline constexpr null_t null{};

/// One column's value in a record: NULL, an integer, a double, text, bytes, a boolean or a
/// timestamp. A format that carries only text (CSV, COPY text) gives std::string values.
using value = std::variant<null_t, std::int64_t, double, std::string, buffer, bool, timestamp>;

/// The column names of a record stream, shared by every record of it.
using column_names = std::shared_ptr<const std::vector<std::string>>;

/// A row whose shape is known only at run time.
struct record {
  std::vector<value> values;
  column_names columns{};  ///< null when the source has no names (CSV without a header)

  [[nodiscard]] std::size_t size() const noexcept { return values.size(); }
  /// The name of column i, or "" when there are no names.
  [[nodiscard]] const std::string& column_name(std::size_t i) const;
  friend bool operator==(const record& a, const record& b) { return a.values == b.values; }
};

/// RFC 3339 in UTC with microseconds when they are not zero: "2026-12-06T02:46:20Z",
/// "2026-12-06T02:46:20.123456Z". Years beyond 0000-9999 (proleptic Gregorian, astronomical:
/// year 0 is 1 BC) in ISO 8601's expanded form, a sign and at least four digits:
/// "+10000-01-01T00:00:00Z", "-0001-12-31T23:59:59Z". Every timestamp has a text form that
/// parse_timestamp reads back.
[[nodiscard]] std::string format_timestamp(timestamp t);
/// Parses RFC 3339 ("T" or a space between date and time; "Z", "+hh:mm" or no offset, taken as
/// UTC; up to 6 fraction digits), and years in the expanded form above (a sign and 4 to 6
/// digits). nullopt when `text` is not one, or is beyond what a timestamp holds.
[[nodiscard]] std::optional<timestamp> parse_timestamp(std::string_view text);

}  // namespace sluice::db
