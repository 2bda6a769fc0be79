// Rows in PostgreSQL's binary COPY format (sluice/db/pg_copy_binary.hpp).
//
// The layouts are the server's own "send" forms: integers and floats big-endian at the column's
// width, timestamps as microseconds since 2000-01-01 00:00 UTC, dates as days since that day,
// jsonb as a version byte (1) and the text, uuid as its 16 bytes, text types as their bytes.
#include "sluice/db/pg_copy_binary.hpp"

#include <bit>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstring>
#include <initializer_list>
#include <limits>
#include <optional>
#include <variant>

namespace sluice::db::pg_binary {

namespace {

// Microseconds and days between the Unix epoch and PostgreSQL's (2000-01-01 00:00:00 UTC).
constexpr std::int64_t pg_epoch_us = 946'684'800'000'000;
constexpr std::int64_t pg_epoch_days = 10'957;

// Concatenation without `"literal" + std::string` (GCC 12 warns falsely there: bug 105329).
std::string cat(std::initializer_list<std::string_view> parts) {
  std::string s;
  for (const std::string_view p : parts) s.append(p);
  return s;
}

void put16(std::string& out, std::uint16_t v) {
  const char b[2] = {static_cast<char>(v >> 8), static_cast<char>(v)};
  out.append(b, 2);
}
void put32(std::string& out, std::uint32_t v) {
  const char b[4] = {static_cast<char>(v >> 24), static_cast<char>(v >> 16),
                     static_cast<char>(v >> 8), static_cast<char>(v)};
  out.append(b, 4);
}
void put64(std::string& out, std::uint64_t v) {
  put32(out, static_cast<std::uint32_t>(v >> 32));
  put32(out, static_cast<std::uint32_t>(v));
}
// A whole field: its length, then its bytes.
void field_bytes(std::string& out, std::string_view bytes) {
  put32(out, static_cast<std::uint32_t>(bytes.size()));
  out.append(bytes);
}
void field16(std::string& out, std::int16_t v) {
  put32(out, 2);
  put16(out, static_cast<std::uint16_t>(v));
}
void field32(std::string& out, std::int32_t v) {
  put32(out, 4);
  put32(out, static_cast<std::uint32_t>(v));
}
void field64(std::string& out, std::int64_t v) {
  put32(out, 8);
  put64(out, static_cast<std::uint64_t>(v));
}

bool is_text(std::uint32_t t) {
  return t == oid::text || t == oid::varchar || t == oid::bpchar || t == oid::name ||
         t == oid::json;
}
bool is_integer(std::uint32_t t) { return t == oid::int2 || t == oid::int4 || t == oid::int8; }

std::string_view trim(std::string_view s) {
  const auto ws = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; };
  while (!s.empty() && ws(s.front())) s.remove_prefix(1);
  while (!s.empty() && ws(s.back())) s.remove_suffix(1);
  return s;
}

std::string quoted(std::string_view s) {
  std::string q = "'";
  q.append(s.substr(0, 40));
  if (s.size() > 40) q += "...";
  return q + "'";
}

std::string doesnt_go(std::string_view what, std::uint32_t t) {
  return std::string(what) + " does not go into a column of type " + type_name(t);
}

std::string integer_field(std::string& out, std::uint32_t t, std::int64_t v,
                          std::string_view text) {
  const auto out_of_range = [&] {
    return std::string(text) + " is out of range for " + type_name(t);
  };
  if (t == oid::int2) {
    if (!std::in_range<std::int16_t>(v)) return out_of_range();
    field16(out, static_cast<std::int16_t>(v));
  } else if (t == oid::int4) {
    if (!std::in_range<std::int32_t>(v)) return out_of_range();
    field32(out, static_cast<std::int32_t>(v));
  } else {
    field64(out, v);
  }
  return {};
}

std::string float_field(std::string& out, std::uint32_t t, double v, std::string_view text) {
  if (t == oid::float4) {
    if (std::isfinite(v) && std::fabs(v) > std::numeric_limits<float>::max())
      return std::string(text) + " is out of range for real";
    put32(out, 4);
    put32(out, std::bit_cast<std::uint32_t>(static_cast<float>(v)));
  } else {
    put32(out, 8);
    put64(out, std::bit_cast<std::uint64_t>(v));
  }
  return {};
}

// The text form a text column gets for a non-text value (what COPY's text format would send).
std::string number_text(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "Infinity" : "-Infinity";
  char b[32];
  const auto r = std::to_chars(b, b + sizeof b, v);
  return std::string(b, r.ptr);
}

std::string text_field(std::string& out, std::uint32_t t, std::string_view s) {
  if (t == oid::jsonb) {
    put32(out, static_cast<std::uint32_t>(s.size() + 1));
    out.push_back('\1');
    out.append(s);
  } else {
    field_bytes(out, s);
  }
  return {};
}

std::optional<std::int64_t> parse_int(std::string_view s) {
  s = trim(s);
  if (s.size() > 1 && s.front() == '+') s.remove_prefix(1);
  std::int64_t v = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
  return v;
}

std::optional<double> parse_double(std::string_view s) {
  s = trim(s);
  if (s.size() > 1 && s.front() == '+') s.remove_prefix(1);
  double v = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
  return v;
}

std::optional<bool> parse_bool(std::string_view s) {
  s = trim(s);
  std::string l(s);
  for (char& c : l) c = static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
  if (l == "t" || l == "true" || l == "y" || l == "yes" || l == "on" || l == "1") return true;
  if (l == "f" || l == "false" || l == "n" || l == "no" || l == "off" || l == "0") return false;
  return std::nullopt;
}

// "2026-12-06 10:00:00+02" into a timestamp without time zone: the server keeps the wall
// clock and ignores the offset, so this does too.
std::string_view without_offset(std::string_view s) {
  if (!s.empty() && (s.back() == 'Z' || s.back() == 'z')) return s.substr(0, s.size() - 1);
  if (s.size() > 19) {
    if (const auto at = s.find_first_of("+-", 19); at != s.npos) return s.substr(0, at);
  }
  return s;
}

std::optional<std::int32_t> parse_date(std::string_view s) {
  s = trim(s);
  int y = 0;
  unsigned m = 0, d = 0;
  if (s.size() != 10 || s[4] != '-' || s[7] != '-') return std::nullopt;
  const auto num = [&](std::size_t at, std::size_t n, auto& v) {
    const auto [end, ec] = std::from_chars(s.data() + at, s.data() + at + n, v);
    return ec == std::errc() && end == s.data() + at + n;
  };
  if (!num(0, 4, y) || !num(5, 2, m) || !num(8, 2, d)) return std::nullopt;
  const std::chrono::year_month_day ymd{std::chrono::year{y}, std::chrono::month{m},
                                        std::chrono::day{d}};
  if (!ymd.ok()) return std::nullopt;
  return static_cast<std::int32_t>(std::chrono::sys_days{ymd}.time_since_epoch().count() -
                                   pg_epoch_days);
}

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::optional<std::string> parse_uuid(std::string_view s) {
  s = trim(s);
  if (s.size() >= 2 && s.front() == '{' && s.back() == '}') s = s.substr(1, s.size() - 2);
  std::string bytes;
  int high = -1;
  for (const char c : s) {
    if (c == '-') {
      if (high >= 0) return std::nullopt;
      continue;
    }
    const int h = hex_digit(c);
    if (h < 0) return std::nullopt;
    if (high < 0) {
      high = h;
    } else {
      bytes.push_back(static_cast<char>(high * 16 + h));
      high = -1;
    }
  }
  if (high >= 0 || bytes.size() != 16) return std::nullopt;
  return bytes;
}

// bytea from text: its hex form (\x0a0b) decoded; any other text is taken as the bytes.
std::optional<std::string> parse_bytea(std::string_view s) {
  if (!s.starts_with("\\x")) return std::string(s);
  s.remove_prefix(2);
  if (s.size() % 2 != 0) return std::nullopt;
  std::string bytes;
  bytes.reserve(s.size() / 2);
  for (std::size_t i = 0; i < s.size(); i += 2) {
    const int h = hex_digit(s[i]);
    const int l = hex_digit(s[i + 1]);
    if (h < 0 || l < 0) return std::nullopt;
    bytes.push_back(static_cast<char>(h * 16 + l));
  }
  return bytes;
}

}  // namespace

bool supported(std::uint32_t t) noexcept {
  switch (t) {
    case oid::boolean:
    case oid::bytea:
    case oid::name:
    case oid::int8:
    case oid::int2:
    case oid::int4:
    case oid::text:
    case oid::json:
    case oid::float4:
    case oid::float8:
    case oid::bpchar:
    case oid::varchar:
    case oid::date:
    case oid::timestamp:
    case oid::timestamptz:
    case oid::uuid:
    case oid::jsonb:
      return true;
    default:
      return false;
  }
}

std::string type_name(std::uint32_t t) {
  switch (t) {
    case oid::boolean:
      return "boolean";
    case oid::bytea:
      return "bytea";
    case oid::name:
      return "name";
    case oid::int8:
      return "bigint";
    case oid::int2:
      return "smallint";
    case oid::int4:
      return "integer";
    case oid::text:
      return "text";
    case oid::json:
      return "json";
    case oid::float4:
      return "real";
    case oid::float8:
      return "double precision";
    case oid::bpchar:
      return "character";
    case oid::varchar:
      return "character varying";
    case oid::date:
      return "date";
    case oid::timestamp:
      return "timestamp without time zone";
    case oid::timestamptz:
      return "timestamp with time zone";
    case oid::uuid:
      return "uuid";
    case oid::jsonb:
      return "jsonb";
    case 1700:
      return "numeric";
    case 1083:
      return "time";
    case 1186:
      return "interval";
    case 869:
      return "inet";
    default:
      return cat({"type ", std::to_string(t)});
  }
}

std::string check_types(std::span<const std::uint32_t> types, std::span<const std::string> names) {
  for (std::size_t i = 0; i < types.size(); ++i) {
    if (supported(types[i])) continue;
    const std::string col = i < names.size() ? names[i] : std::to_string(i + 1);
    return cat({"column ", col, " has type ", type_name(types[i])}) +
           ", which binary COPY in sluice does not encode (use the text format)";
  }
  return {};
}

void append_header(std::string& out) {
  out.append("PGCOPY\n\377\r\n\0", 11);
  put32(out, 0);  // flags: no OIDs
  put32(out, 0);  // header extension: none
}

void append_trailer(std::string& out) { put16(out, 0xffff); }

void begin_row(std::string& out, std::size_t columns) {
  put16(out, static_cast<std::uint16_t>(columns));
}

void append_null(std::string& out) { put32(out, 0xffffffff); }

std::string append(std::string& out, std::uint32_t t, std::int64_t v) {
  if (is_integer(t)) return integer_field(out, t, v, std::to_string(v));
  if (t == oid::float4 || t == oid::float8)
    return float_field(out, t, static_cast<double>(v), std::to_string(v));
  if (is_text(t) || t == oid::jsonb) return text_field(out, t, std::to_string(v));
  return doesnt_go(cat({"an integer (", std::to_string(v), ")"}), t);
}

std::string append(std::string& out, std::uint32_t t, std::uint64_t v) {
  if (!std::in_range<std::int64_t>(v)) {
    if (is_integer(t)) return std::to_string(v) + " is out of range for " + type_name(t);
    if (t == oid::float4 || t == oid::float8)
      return float_field(out, t, static_cast<double>(v), std::to_string(v));
    if (is_text(t) || t == oid::jsonb) return text_field(out, t, std::to_string(v));
    return doesnt_go(cat({"an integer (", std::to_string(v), ")"}), t);
  }
  return append(out, t, static_cast<std::int64_t>(v));
}

std::string append(std::string& out, std::uint32_t t, double v) {
  if (t == oid::float4 || t == oid::float8) return float_field(out, t, v, number_text(v));
  if (is_text(t) || t == oid::jsonb) {
    if (t == oid::json || t == oid::jsonb) {
      if (!std::isfinite(v)) return number_text(v) + " is not a JSON number";
    }
    return text_field(out, t, number_text(v));
  }
  return doesnt_go(cat({"a floating-point value (", number_text(v), ")"}), t);
}

std::string append(std::string& out, std::uint32_t t, bool v) {
  if (t == oid::boolean) {
    put32(out, 1);
    out.push_back(v ? '\1' : '\0');
    return {};
  }
  if (is_text(t) || t == oid::jsonb) return text_field(out, t, v ? "true" : "false");
  return doesnt_go(v ? "a boolean (true)" : "a boolean (false)", t);
}

std::string append(std::string& out, std::uint32_t t, std::string_view s) {
  if (is_text(t) || t == oid::jsonb) return text_field(out, t, s);
  const auto not_a = [&] { return quoted(s) + " is not a valid " + type_name(t); };
  switch (t) {
    case oid::int2:
    case oid::int4:
    case oid::int8: {
      const auto v = parse_int(s);
      if (!v) return not_a();
      return integer_field(out, t, *v, quoted(s));
    }
    case oid::float4:
    case oid::float8: {
      const auto v = parse_double(s);
      if (!v) return not_a();
      return float_field(out, t, *v, quoted(s));
    }
    case oid::boolean: {
      const auto v = parse_bool(s);
      if (!v) return not_a();
      return append(out, t, *v);
    }
    case oid::timestamp:
    case oid::timestamptz: {
      const std::string_view text = trim(s);
      const auto v = parse_timestamp(t == oid::timestamp ? without_offset(text) : text);
      if (!v) return quoted(s) + " is not a timestamp (RFC 3339: 2026-12-06 10:00:00+00)";
      return append(out, t, *v);
    }
    case oid::date: {
      const auto v = parse_date(s);
      if (!v) return quoted(s) + " is not a date (YYYY-MM-DD)";
      field32(out, *v);
      return {};
    }
    case oid::uuid: {
      const auto v = parse_uuid(s);
      if (!v) return not_a();
      field_bytes(out, *v);
      return {};
    }
    case oid::bytea: {
      const auto v = parse_bytea(s);
      if (!v) return quoted(s) + " is not bytea's hex form (\\x0a0b)";
      field_bytes(out, *v);
      return {};
    }
    default:
      return doesnt_go("text", t);
  }
}

std::string append(std::string& out, std::uint32_t t, const buffer& v) {
  if (t == oid::bytea) {
    field_bytes(out, v.view());
    return {};
  }
  if (is_text(t)) {  // the hex form, as the text format would send it
    static constexpr char digits[] = "0123456789abcdef";
    std::string hex = "\\x";
    hex.reserve(2 + 2 * v.size());
    for (const char c : v.view()) {
      hex.push_back(digits[static_cast<unsigned char>(c) >> 4]);
      hex.push_back(digits[static_cast<unsigned char>(c) & 15]);
    }
    return text_field(out, t, hex);
  }
  return doesnt_go("bytes", t);
}

std::string append(std::string& out, std::uint32_t t, timestamp v) {
  const std::int64_t us = v.time_since_epoch().count();
  if (t == oid::timestamp || t == oid::timestamptz) {
    if (us < std::numeric_limits<std::int64_t>::min() + pg_epoch_us)
      return format_timestamp(v) + " is out of range for " + type_name(t);
    field64(out, us - pg_epoch_us);
    return {};
  }
  if (t == oid::date) {
    const auto days = std::chrono::floor<std::chrono::days>(v).time_since_epoch().count();
    if (!std::in_range<std::int32_t>(days - pg_epoch_days))
      return format_timestamp(v) + " is out of range for date";
    field32(out, static_cast<std::int32_t>(days - pg_epoch_days));
    return {};
  }
  if (t == oid::json || t == oid::jsonb)
    return text_field(out, t, cat({"\"", format_timestamp(v), "\""}));  // a JSON string
  if (is_text(t)) return text_field(out, t, format_timestamp(v));
  return doesnt_go(cat({"a timestamp (", format_timestamp(v), ")"}), t);
}

std::string append(std::string& out, std::uint32_t t, const value& v) {
  return std::visit(
      [&](const auto& x) -> std::string {
        using X = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<X, null_t>) {
          append_null(out);
          return {};
        } else if constexpr (std::is_same_v<X, std::string>) {
          return append(out, t, std::string_view(x));
        } else {
          return append(out, t, x);
        }
      },
      v);
}

bool append_row(std::string& out, const record& row, std::span<const std::uint32_t> types,
                row_error& error) {
  const std::size_t start = out.size();
  begin_row(out, row.values.size());
  for (std::size_t i = 0; i < row.values.size(); ++i) {
    if (std::string why = append(out, types[i], row.values[i]); !why.empty()) {
      out.resize(start);
      error = {i, std::move(why)};
      return false;
    }
  }
  return true;
}

}  // namespace sluice::db::pg_binary
