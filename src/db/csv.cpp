// The CSV scanner, the text forms of values and the csv error category (sluice/db/csv.hpp).
#include "sluice/db/csv.hpp"

#include <algorithm>
#include <cstring>
#include <limits>
#include <system_error>

#include "sluice/core/error.hpp"

namespace sluice::db {
namespace {

class csv_category_impl final : public std::error_category {
 public:
  const char* name() const noexcept override { return "sluice.csv"; }
  std::string message(int v) const override {
    switch (static_cast<csv_errc>(v)) {
      case csv_errc::character_after_quote:
        return "unexpected character after a closing quote";
      case csv_errc::quote_in_unquoted_field:
        return "quote in an unquoted field";
      case csv_errc::unterminated_quote:
        return "unterminated quoted field";
      case csv_errc::field_too_long:
        return "field too long";
      case csv_errc::record_too_long:
        return "record too long";
      case csv_errc::wrong_field_count:
        return "wrong number of fields";
      case csv_errc::bad_value:
        return "value does not convert to the column's type";
    }
    return "Unknown CSV error " + std::to_string(v);
  }
};

}  // namespace

const std::error_category& csv_category() noexcept {
  static const csv_category_impl category;
  return category;
}

std::error_code make_error_code(csv_errc e) noexcept {
  return {static_cast<int>(e), csv_category()};
}

namespace detail {

// ---- scanner ----------------------------------------------------------------------------------

csv_scanner::csv_scanner(const csv_options& o)
    : sep_(o.separator),
      max_field_(
          std::min<std::size_t>(o.max_field_size, std::numeric_limits<std::uint32_t>::max())),
      max_record_(
          std::min<std::size_t>(o.max_record_size, std::numeric_limits<std::uint32_t>::max())) {
  special_[static_cast<unsigned char>(sep_)] = true;
  special_[static_cast<unsigned char>('"')] = true;
  special_[static_cast<unsigned char>('\r')] = true;
  special_[static_cast<unsigned char>('\n')] = true;
}

void csv_scanner::set_input(std::string_view in) noexcept {
  chunk_base_ += in_.size();
  in_ = in;
  pos_ = 0;
}

std::uint32_t csv_scanner::column_at(std::size_t i) const noexcept {
  return static_cast<std::uint32_t>(chunk_base_ + i - line_start_ + 1);
}

void csv_scanner::start_field(std::size_t i, bool quoted) {
  fields_.push_back({.begin = static_cast<std::uint32_t>(text_.size()),
                     .end = static_cast<std::uint32_t>(text_.size()),
                     .line = line_,
                     .column = column_at(i),
                     .quoted = quoted});
}

void csv_scanner::end_field() { fields_.back().end = static_cast<std::uint32_t>(text_.size()); }

bool csv_scanner::end_record(std::size_t i) {
  ++line_;
  line_start_ = chunk_base_ + i + 1;
  state_ = state::field_start;
  pos_ = i + 1;
  if (fields_.empty()) {  // a blank line
    if (width_ != 1) {
      record_line_ = line_;
      return false;  // skipped
    }
    start_field(i, false);  // a record of one NULL
  }
  return true;
}

bool csv_scanner::fail_at(csv_errc e, std::size_t i) {
  set_error(e, "csv: line " + std::to_string(line_) + ", column " + std::to_string(column_at(i)));
  pos_ = in_.size();
  return false;
}

void csv_scanner::set_error(csv_errc e, std::string context) {
  if (error_) return;
  error_ = make_error_code(e);
  context_ = std::move(context);
}

// Checks the record so far against the limits; sets the error (at the field's start) if over.
bool csv_scanner::check_sizes(std::size_t) {
  const csv_field& f = fields_.back();
  const bool field_over = text_.size() - f.begin > max_field_;
  if (!field_over && text_.size() + fields_.size() <= max_record_) return true;
  set_error(field_over ? csv_errc::field_too_long : csv_errc::record_too_long,
            "csv: line " + std::to_string(f.line) + ", column " + std::to_string(f.column) +
                (field_over ? ": a field longer than " + std::to_string(max_field_) + " bytes"
                            : ": the record from line " + std::to_string(record_line_) +
                                  " is longer than " + std::to_string(max_record_) + " bytes"));
  pos_ = in_.size();
  return false;
}

bool csv_scanner::next_record() {
  if (error_) return false;
  const char* d = in_.data();
  const std::size_t n = in_.size();
  std::size_t i = pos_;
  while (i < n) {
    switch (state_) {
      case state::field_start: {
        const char c = d[i];
        if (c == '"') {
          start_field(i, true);
          quote_line_ = line_;
          quote_column_ = column_at(i);
          state_ = state::quoted;
          ++i;
        } else if (c == sep_) {
          start_field(i, false);  // an empty unquoted field: NULL
          if (!check_sizes(i)) return false;
          ++i;
        } else if (c == '\n') {
          if (!fields_.empty()) start_field(i, false);  // after a separator: a last NULL
          if (end_record(i)) return true;
          ++i;
        } else if (c == '\r') {
          before_cr_ = state::field_start;
          state_ = state::cr;
          ++i;
        } else {
          start_field(i, false);
          state_ = state::unquoted;
        }
        break;
      }
      case state::unquoted: {
        std::size_t j = i;
        while (j < n && !special_[static_cast<unsigned char>(d[j])]) ++j;
        text_.append(d + i, j - i);
        if (!check_sizes(i)) return false;
        i = j;
        if (i == n) break;
        const char c = d[i];
        if (c == sep_) {
          end_field();
          state_ = state::field_start;
          ++i;
        } else if (c == '\n') {
          end_field();
          end_record(i);
          return true;
        } else if (c == '\r') {
          before_cr_ = state::unquoted;
          state_ = state::cr;
          ++i;
        } else {
          return fail_at(csv_errc::quote_in_unquoted_field, i);
        }
        break;
      }
      case state::quoted: {
        const void* q = std::memchr(d + i, '"', n - i);
        const std::size_t j =
            q == nullptr ? n : static_cast<std::size_t>(static_cast<const char*>(q) - d);
        // Newlines inside quotes still count as lines (positions are physical).
        for (const char* p = d + i;;) {
          p = static_cast<const char*>(std::memchr(p, '\n', static_cast<std::size_t>(d + j - p)));
          if (p == nullptr) break;
          ++line_;
          line_start_ = chunk_base_ + static_cast<std::size_t>(p - d) + 1;
          ++p;
        }
        text_.append(d + i, j - i);
        if (!check_sizes(i)) return false;
        i = j;
        if (i < n) {
          state_ = state::quote_seen;
          ++i;
        }
        break;
      }
      case state::quote_seen:
        if (d[i] == '"') {  // "" inside quotes: one quote
          text_ += '"';
          if (!check_sizes(i)) return false;
          state_ = state::quoted;
          ++i;
        } else {
          state_ = state::after_quote;
        }
        break;
      case state::after_quote: {
        const char c = d[i];
        if (c == sep_) {
          end_field();
          state_ = state::field_start;
          ++i;
        } else if (c == '\n') {
          end_field();
          end_record(i);
          return true;
        } else if (c == '\r') {
          before_cr_ = state::after_quote;
          state_ = state::cr;
          ++i;
        } else {
          return fail_at(csv_errc::character_after_quote, i);
        }
        break;
      }
      case state::cr:
        if (d[i] == '\n') {
          if (before_cr_ != state::field_start)
            end_field();
          else if (!fields_.empty())
            start_field(i, false);  // "a,\r\n": a last NULL
          if (end_record(i)) return true;
          ++i;
        } else if (before_cr_ == state::after_quote) {
          // The '\r' was the unexpected character (column_at(i) - 1 is its column, even when
          // it ended the previous chunk: columns count from the line's start).
          set_error(csv_errc::character_after_quote, "csv: line " + std::to_string(line_) +
                                                         ", column " +
                                                         std::to_string(column_at(i) - 1));
          pos_ = n;
          return false;
        } else {
          // A '\r' not followed by '\n' is data.
          if (before_cr_ == state::field_start) {
            start_field(i, false);
            --fields_.back().column;
          }
          text_ += '\r';
          if (!check_sizes(i)) return false;
          state_ = state::unquoted;
        }
        break;
    }
  }
  pos_ = n;
  return false;
}

bool csv_scanner::finish() {
  if (error_) return false;
  switch (state_) {
    case state::quoted:
      set_error(csv_errc::unterminated_quote,
                "csv: line " + std::to_string(quote_line_) + ", column " +
                    std::to_string(quote_column_) + " (the quote opened there is still open at " +
                    "the end of the input, line " + std::to_string(line_) + ")");
      return false;
    case state::field_start:
      if (fields_.empty()) return false;
      start_field(in_.size(), false);  // after a trailing separator: a last NULL
      break;
    case state::cr:
      if (before_cr_ == state::field_start) {
        if (fields_.empty()) return false;
        start_field(in_.size(), false);
      } else {
        end_field();
      }
      break;
    case state::unquoted:
    case state::quote_seen:
    case state::after_quote:
      end_field();
      break;
  }
  state_ = state::field_start;
  return true;
}

void csv_scanner::clear_record() noexcept {
  text_.clear();
  fields_.clear();
  record_line_ = line_;
}

// ---- text forms -------------------------------------------------------------------------------

namespace {
int hex_digit(char c) noexcept {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool iequals(std::string_view a, std::string_view b) noexcept {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return (x | 0x20) == (y | 0x20);
         });
}
}  // namespace

bool bytes_from_hex(std::string_view text, buffer& out) {
  text.remove_prefix(2);  // "\x"
  if (text.size() % 2 != 0) return false;
  std::string bytes(text.size() / 2, '\0');
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    const int hi = hex_digit(text[2 * i]);
    const int lo = hex_digit(text[2 * i + 1]);
    if (hi < 0 || lo < 0) return false;
    bytes[i] = static_cast<char>(hi * 16 + lo);
  }
  out = buffer(std::move(bytes));
  return true;
}

void append_hex(std::string& out, const buffer& b) {
  static constexpr char digits[] = "0123456789abcdef";
  out += "\\x";
  for (const std::byte x : b) {
    out += digits[std::to_integer<unsigned>(x) >> 4];
    out += digits[std::to_integer<unsigned>(x) & 15];
  }
}

bool bool_from_text(std::string_view t, bool& out) noexcept {
  if (iequals(t, "true") || iequals(t, "t") || t == "1") {
    out = true;
    return true;
  }
  if (iequals(t, "false") || iequals(t, "f") || t == "0") {
    out = false;
    return true;
  }
  return false;
}

void check_separator(char sep, const char* who) {
  if (sep == '"' || sep == '\r' || sep == '\n')
    throw std::system_error(make_error_code(errc::invalid_argument),
                            std::string(who) + ": the separator cannot be a quote or a line end");
}

std::string csv_position(std::uint64_t line, std::uint32_t column, const std::string* name) {
  std::string s = "csv: line " + std::to_string(line) + ", column " + std::to_string(column);
  if (name != nullptr && !name->empty()) s += " ('" + *name + "')";
  return s;
}

std::string bad_value_text(std::string_view text, const char* expected) {
  constexpr std::size_t shown = 40;
  std::string s = "the text '";
  s.append(text.substr(0, shown));
  if (text.size() > shown) s += "...";
  s += "' is not ";
  s += expected;
  return s;
}

void csv_append_null(std::string&) noexcept {}

void csv_append_text(std::string& out, std::string_view text, const csv_write_options& o) {
  const char sep = o.separator;
  bool quote = text.empty() || (o.quote_spaces && (text.front() == ' ' || text.back() == ' '));
  if (!quote)
    for (const char c : text)
      if (c == sep || c == '"' || c == '\n' || c == '\r') {
        quote = true;
        break;
      }
  if (!quote) {
    out.append(text);
    return;
  }
  out += '"';
  for (;;) {
    const std::size_t q = text.find('"');
    if (q == std::string_view::npos) break;
    out.append(text.substr(0, q + 1));
    out += '"';
    text.remove_prefix(q + 1);
  }
  out.append(text);
  out += '"';
}

void csv_append_value(std::string& out, const value& v, const csv_write_options& o) {
  struct visitor {
    std::string& out;
    const csv_write_options& o;
    void operator()(null_t) const {}
    void operator()(std::int64_t x) const {
      char tmp[24];
      out.append(tmp, std::to_chars(tmp, tmp + sizeof tmp, x).ptr);
    }
    void operator()(double x) const {
      char tmp[32];
      out.append(tmp, std::to_chars(tmp, tmp + sizeof tmp, x).ptr);
    }
    void operator()(const std::string& s) const { csv_append_text(out, s, o); }
    void operator()(const buffer& b) const { append_hex(out, b); }
    void operator()(bool b) const { out += b ? "true" : "false"; }
    void operator()(timestamp t) const { out += format_timestamp(t); }
  };
  std::visit(visitor{out, o}, v);
}

}  // namespace detail
}  // namespace sluice::db
