// sluice/db/pg_copy_binary.hpp: rows in PostgreSQL's binary COPY format, encoded by column type.
//
// Binary COPY is type-exact: the server takes an int4 column's value only as 4 bytes and a
// bigint's only as 8, with no conversion. So a row is encoded by the types of the columns it
// fills, as the server reports them (postgres.hpp's writer asks before its first binary COPY),
// never by the C++ field's type: an std::int64_t field into an integer column is sent as 4 bytes
// when it fits and refused, naming the column, when it does not. Text values (a db::record from
// CSV) are parsed here into the column's type, as the server would parse them in text format.
//
// Column types encoded: boolean, smallint, integer, bigint, real, double precision, text,
// varchar, char(n), name, json, jsonb, bytea, date, timestamp, timestamptz and uuid. Another
// type (numeric, interval, arrays, ...) is refused before anything is sent (check_types): use the
// text format for it.
//
// A stream is append_header, then per row append_row (or begin_row and one append per column),
// then append_trailer. An append that cannot encode its value returns why ("1e12 is out of range
// for integer") and leaves `out` as it found it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "sluice/db/row.hpp"

namespace sluice::db::pg_binary {

/// The type OIDs (pg_type.oid) of the column types this format encodes.
namespace oid {
inline constexpr std::uint32_t boolean = 16;
inline constexpr std::uint32_t bytea = 17;
inline constexpr std::uint32_t name = 19;
inline constexpr std::uint32_t int8 = 20;
inline constexpr std::uint32_t int2 = 21;
inline constexpr std::uint32_t int4 = 23;
inline constexpr std::uint32_t text = 25;
inline constexpr std::uint32_t json = 114;
inline constexpr std::uint32_t float4 = 700;
inline constexpr std::uint32_t float8 = 701;
inline constexpr std::uint32_t bpchar = 1042;
inline constexpr std::uint32_t varchar = 1043;
inline constexpr std::uint32_t date = 1082;
inline constexpr std::uint32_t timestamp = 1114;
inline constexpr std::uint32_t timestamptz = 1184;
inline constexpr std::uint32_t uuid = 2950;
inline constexpr std::uint32_t jsonb = 3802;
}  // namespace oid

/// Whether columns of type `type_oid` can be encoded.
[[nodiscard]] bool supported(std::uint32_t type_oid) noexcept;
/// The SQL name of a type for messages ("integer", "numeric", "type 1186" when unknown here).
[[nodiscard]] std::string type_name(std::uint32_t type_oid);
/// Empty when every column type is supported; else a message naming the first column that is
/// not ("column amount has type numeric, which binary COPY in sluice does not encode").
[[nodiscard]] std::string check_types(std::span<const std::uint32_t> types,
                                      std::span<const std::string> names);

/// The 19-byte header (signature, flags, no extension) and the trailer (-1).
void append_header(std::string& out);
void append_trailer(std::string& out);
/// A row's field count.
void begin_row(std::string& out, std::size_t columns);

/// One column's value (its length, then its bytes) in the column's type. Each returns an empty
/// string on success, else why the value does not fit the type (and `out` is unchanged).
[[nodiscard]] std::string append(std::string& out, std::uint32_t type_oid, std::int64_t v);
[[nodiscard]] std::string append(std::string& out, std::uint32_t type_oid, std::uint64_t v);
[[nodiscard]] std::string append(std::string& out, std::uint32_t type_oid, double v);
[[nodiscard]] std::string append(std::string& out, std::uint32_t type_oid, bool v);
[[nodiscard]] std::string append(std::string& out, std::uint32_t type_oid, std::string_view v);
[[nodiscard]] std::string append(std::string& out, std::uint32_t type_oid, const buffer& v);
[[nodiscard]] std::string append(std::string& out, std::uint32_t type_oid, timestamp v);
[[nodiscard]] std::string append(std::string& out, std::uint32_t type_oid, const value& v);
void append_null(std::string& out);

/// One field of a static row.
template <field F>
[[nodiscard]] std::string append_field(std::string& out, std::uint32_t type_oid, const F& f) {
  if constexpr (detail::is_optional<F>::value) {
    if (!f) {
      append_null(out);
      return {};
    }
    return append_field(out, type_oid, *f);
  } else if constexpr (std::is_same_v<F, bool>) {
    return append(out, type_oid, f);
  } else if constexpr (std::is_integral_v<F> && std::is_signed_v<F>) {
    return append(out, type_oid, static_cast<std::int64_t>(f));
  } else if constexpr (std::is_integral_v<F>) {
    return append(out, type_oid, static_cast<std::uint64_t>(f));
  } else if constexpr (std::is_floating_point_v<F>) {
    return append(out, type_oid, static_cast<double>(f));
  } else if constexpr (std::is_same_v<F, std::string>) {
    return append(out, type_oid, std::string_view(f));
  } else {
    return append(out, type_oid, f);  // buffer, timestamp
  }
}

/// Why a row could not be encoded: the column (from 0) and the reason.
struct row_error {
  std::size_t column = 0;
  std::string reason;
};

/// Appends a row encoded by `types` (one per column, in order; the caller checks the counts
/// match). Returns false and fills `error`, leaving `out` as it was, when a value does not fit.
template <static_row Row>
[[nodiscard]] bool append_row(std::string& out, const Row& row,
                              std::span<const std::uint32_t> types, row_error& error) {
  const std::size_t start = out.size();
  begin_row(out, column_count_v<Row>);
  bool ok = true;
  for_each_field(row, [&](const auto& f, auto i) {
    if (!ok) return;
    if (std::string why = append_field(out, types[decltype(i)::value], f); !why.empty()) {
      error = {decltype(i)::value, std::move(why)};
      ok = false;
    }
  });
  if (!ok) out.resize(start);
  return ok;
}
[[nodiscard]] bool append_row(std::string& out, const record& row,
                              std::span<const std::uint32_t> types, row_error& error);

}  // namespace sluice::db::pg_binary
