// COPY text format: escaping and parsing of values (sluice/db/pg_copy_text.hpp).
#include "sluice/db/pg_copy_text.hpp"

#include <charconv>
#include <cmath>
#include <cstring>
#include <limits>

namespace sluice::db::pg_text {

namespace {
constexpr char hex_digits[] = "0123456789abcdef";

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

template <class Int>
void append_int(std::string& out, Int v) {
  char tmp[24];
  const auto r = std::to_chars(tmp, tmp + sizeof tmp, v);
  out.append(tmp, r.ptr);
}
}  // namespace

void append(std::string& out, std::string_view s) {
  std::size_t start = 0;
  for (std::size_t i = 0; i < s.size(); ++i) {
    char esc = 0;
    switch (s[i]) {
      case '\\':
        esc = '\\';
        break;
      case '\t':
        esc = 't';
        break;
      case '\n':
        esc = 'n';
        break;
      case '\r':
        esc = 'r';
        break;
      default:
        continue;
    }
    out.append(s.data() + start, i - start);
    out.push_back('\\');
    out.push_back(esc);
    start = i + 1;
  }
  out.append(s.data() + start, s.size() - start);
}

void append(std::string& out, std::int64_t v) { append_int(out, v); }
void append(std::string& out, std::uint64_t v) { append_int(out, v); }

void append(std::string& out, double v) {
  if (std::isnan(v)) {
    out += "NaN";
  } else if (std::isinf(v)) {
    out += v > 0 ? "Infinity" : "-Infinity";
  } else {
    char tmp[32];
    const auto r = std::to_chars(tmp, tmp + sizeof tmp, v);
    out.append(tmp, r.ptr);
  }
}

void append(std::string& out, bool v) { out.push_back(v ? 't' : 'f'); }

void append(std::string& out, const buffer& b) {
  // bytea's hex input "\x..." with its backslash escaped for COPY.
  out += "\\\\x";
  const std::size_t at = out.size();
  out.resize(at + 2 * b.size());
  char* p = out.data() + at;
  for (std::byte x : b) {
    const auto u = static_cast<unsigned>(x);
    *p++ = hex_digits[u >> 4];
    *p++ = hex_digits[u & 15];
  }
}

void append(std::string& out, timestamp t) { out += format_timestamp(t); }
void append_null(std::string& out) { out += "\\N"; }

void append(std::string& out, const value& v) {
  std::visit(
      [&out](const auto& x) {
        using X = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<X, null_t>)
          append_null(out);
        else if constexpr (std::is_same_v<X, std::string>)
          append(out, std::string_view(x));
        else
          append(out, x);
      },
      v);
}

void append_row(std::string& out, const record& row) {
  for (std::size_t i = 0; i < row.values.size(); ++i) {
    if (i != 0) out.push_back('\t');
    append(out, row.values[i]);
  }
  out.push_back('\n');
}

bool split_line(std::string_view line, std::vector<std::optional<std::string>>& columns) {
  columns.clear();
  if (!line.empty() && line.back() == '\n') line.remove_suffix(1);
  std::string cur;
  bool null_marker = false;  // the column so far is exactly "\N"
  auto close = [&] {
    if (null_marker)
      columns.emplace_back(std::nullopt);
    else
      columns.emplace_back(std::move(cur));
    cur.clear();
    null_marker = false;
  };
  const std::size_t n = line.size();
  std::size_t col_start = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const char c = line[i];
    if (c == '\t') {
      close();
      col_start = i + 1;
      continue;
    }
    if (c != '\\') {
      cur.push_back(c);
      null_marker = false;
      continue;
    }
    if (++i == n) return false;
    const char e = line[i];
    null_marker = false;
    switch (e) {
      case 'b':
        cur.push_back('\b');
        break;
      case 'f':
        cur.push_back('\f');
        break;
      case 'n':
        cur.push_back('\n');
        break;
      case 'r':
        cur.push_back('\r');
        break;
      case 't':
        cur.push_back('\t');
        break;
      case 'v':
        cur.push_back('\v');
        break;
      case 'N':
        if (i != col_start + 1) return false;  // \N only as the whole column
        null_marker = true;
        break;
      case 'x': {
        int v = 0, k = 0;
        while (k < 2 && i + 1 < n && hex_value(line[i + 1]) >= 0)
          v = v * 16 + hex_value(line[++i]), ++k;
        if (k == 0) return false;
        cur.push_back(static_cast<char>(v));
        break;
      }
      default:
        if (e >= '0' && e <= '7') {
          int v = e - '0';
          for (int k = 0; k < 2 && i + 1 < n && line[i + 1] >= '0' && line[i + 1] <= '7'; ++k)
            v = v * 8 + (line[++i] - '0');
          cur.push_back(static_cast<char>(v & 0xff));
        } else {
          cur.push_back(e);  // \\ and any other escaped character stand for themselves
        }
    }
    if (null_marker && i + 1 < n && line[i + 1] != '\t') return false;
  }
  close();
  return true;
}

bool parse(std::string_view text, bool& out) {
  if (text == "t" || text == "true") {
    out = true;
    return true;
  }
  if (text == "f" || text == "false") {
    out = false;
    return true;
  }
  return false;
}

bool parse(std::string_view text, std::int64_t& out) {
  const auto r = std::from_chars(text.data(), text.data() + text.size(), out);
  return r.ec == std::errc() && r.ptr == text.data() + text.size() && !text.empty();
}

bool parse(std::string_view text, std::uint64_t& out) {
  const auto r = std::from_chars(text.data(), text.data() + text.size(), out);
  return r.ec == std::errc() && r.ptr == text.data() + text.size() && !text.empty();
}

bool parse(std::string_view text, double& out) {
  if (text == "NaN") {
    out = std::numeric_limits<double>::quiet_NaN();
    return true;
  }
  if (text == "Infinity" || text == "-Infinity") {
    out = text[0] == '-' ? -std::numeric_limits<double>::infinity()
                         : std::numeric_limits<double>::infinity();
    return true;
  }
  const auto r = std::from_chars(text.data(), text.data() + text.size(), out);
  return r.ec == std::errc() && r.ptr == text.data() + text.size() && !text.empty();
}

bool parse(std::string_view text, buffer& out) {
  if (text.size() < 2 || text[0] != '\\' || text[1] != 'x' || text.size() % 2 != 0) return false;
  std::vector<std::byte> bytes((text.size() - 2) / 2);
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    const int hi = hex_value(text[2 + 2 * i]);
    const int lo = hex_value(text[3 + 2 * i]);
    if (hi < 0 || lo < 0) return false;
    bytes[i] = static_cast<std::byte>(hi * 16 + lo);
  }
  out = buffer(std::move(bytes));
  return true;
}

bool parse(std::string_view text, timestamp& out) {
  // The server writes "2026-12-06 02:46:20.5+00" for timestamptz (an offset of hours only).
  std::string tmp;
  if (text.size() > 3 && (text[text.size() - 3] == '+' || text[text.size() - 3] == '-') &&
      text.find(':', text.size() - 3) == std::string_view::npos && text.size() > 19) {
    tmp.assign(text);
    tmp += ":00";
    text = tmp;
  }
  const auto t = parse_timestamp(text);
  if (!t) return false;
  out = *t;
  return true;
}

void to_record(std::vector<std::optional<std::string>>& columns, record& row) {
  row.values.clear();
  row.values.reserve(columns.size());
  for (auto& c : columns) {
    if (c)
      row.values.emplace_back(std::move(*c));
    else
      row.values.emplace_back(null);
  }
}

}  // namespace sluice::db::pg_text
