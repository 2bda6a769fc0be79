// sluice/db/impl/csv.hpp: the template bodies of csv_parser and csv_writer (sluice/db/csv.hpp),
// and the text conversions of static rows' fields.
#pragma once

#include <charconv>
#include <limits>
#include <system_error>

#include "sluice/core/error.hpp"

namespace sluice::db {
namespace detail {

// Bytes as "\x..." hex (PostgreSQL's bytea) back to bytes; false if malformed.
bool bytes_from_hex(std::string_view text, buffer& out);
void append_hex(std::string& out, const buffer& b);
bool bool_from_text(std::string_view text, bool& out) noexcept;
void check_separator(char sep, const char* who);

template <class T>
bool field_from_text(std::string_view text, bool is_null, T& out) {
  if constexpr (is_optional<T>::value) {
    if (is_null) {
      out.reset();
      return true;
    }
    typename T::value_type v{};
    if (!field_from_text(text, false, v)) return false;
    out = std::move(v);
    return true;
  } else if constexpr (std::is_same_v<T, std::string>) {
    out.assign(text);  // NULL into text that cannot be NULL: the empty string
    return true;
  } else if constexpr (std::is_same_v<T, buffer>) {
    if (text.starts_with("\\x")) return bytes_from_hex(text, out);
    out = buffer::copy_of(text);
    return true;
  } else if constexpr (std::is_same_v<T, bool>) {
    return !is_null && bool_from_text(text, out);
  } else if constexpr (std::is_same_v<T, timestamp>) {
    if (is_null) return false;
    auto t = parse_timestamp(text);
    if (!t) return false;
    out = *t;
    return true;
  } else {  // integers, float, double
    if (is_null || text.empty()) return false;
    const char* b = text.data();
    const char* e = b + text.size();
    if (*b == '+' && text.size() > 1) ++b;  // from_chars takes no '+'
    auto [p, ec] = std::from_chars(b, e, out);
    return ec == std::errc{} && p == e;
  }
}

template <class T>
const char* field_type_name() noexcept {
  if constexpr (is_optional<T>::value)
    return field_type_name<typename T::value_type>();
  else if constexpr (std::is_same_v<T, bool>)
    return "a boolean";
  else if constexpr (std::is_integral_v<T>)
    return std::is_signed_v<T> ? "an integer" : "a non-negative integer";
  else if constexpr (std::is_floating_point_v<T>)
    return "a number";
  else if constexpr (std::is_same_v<T, timestamp>)
    return "a timestamp";
  else if constexpr (std::is_same_v<T, buffer>)
    return "bytes";
  else
    return "text";
}

template <class T>
void csv_append_field(std::string& out, const T& f, const csv_write_options& o) {
  if constexpr (is_optional<T>::value) {
    if (f)
      csv_append_field(out, *f, o);
    else
      csv_append_null(out);
  } else if constexpr (std::is_same_v<T, std::string>) {
    csv_append_text(out, f, o);
  } else if constexpr (std::is_same_v<T, buffer> || std::is_same_v<T, timestamp> ||
                       std::is_same_v<T, double>) {
    csv_append_value(out, value(f), o);
  } else if constexpr (std::is_same_v<T, bool>) {
    out += f ? "true" : "false";
  } else if constexpr (std::is_same_v<T, float>) {
    char tmp[32];
    auto r = std::to_chars(tmp, tmp + sizeof tmp, f);
    out.append(tmp, r.ptr);
  } else {
    char tmp[24];
    auto r = std::to_chars(tmp, tmp + sizeof tmp, f);
    out.append(tmp, r.ptr);
  }
}

}  // namespace detail

template <class Row>
requires(std::is_same_v<Row, record> ||
         static_row<Row>) csv_parser<Row>::csv_parser(sluice::loop& l, const csv_options& o,
                                                      const transform_options& to)
    : base(l, to), detail::csv_parser_base(o) {
  detail::check_separator(o.separator, "csv_parser");
  if (o.max_field_size == 0 || o.max_record_size == 0)
    throw std::system_error(make_error_code(errc::invalid_argument),
                            "csv_parser: the size limits must be at least 1");
  if constexpr (!std::is_same_v<Row, record>) scanner_.set_width(column_count_v<Row>);
}

template <class Row>
requires(std::is_same_v<Row, record> || static_row<Row>) bool csv_parser<Row>::take_record() {
  const auto& fields = scanner_.fields();
  if (options_.header && !columns_) {
    auto names = std::make_shared<std::vector<std::string>>();
    names->reserve(fields.size());
    for (const auto& f : fields) names->emplace_back(scanner_.text(f));
    columns_ = std::move(names);
    if (std::is_same_v<Row, record> || scanner_.width() == 0) scanner_.set_width(fields.size());
    if (scanner_.width() != fields.size()) {
      scanner_.set_error(csv_errc::wrong_field_count,
                         "csv: line " + std::to_string(scanner_.record_line()) +
                             ": the header has " + std::to_string(fields.size()) +
                             " fields, the row type " + std::to_string(scanner_.width()));
      return false;
    }
    scanner_.clear_record();
    return true;
  }
  if (scanner_.width() == 0) scanner_.set_width(fields.size());
  if (fields.size() != scanner_.width() &&
      (!options_.ragged_records || !std::is_same_v<Row, record>)) {
    scanner_.set_error(csv_errc::wrong_field_count,
                       "csv: line " + std::to_string(scanner_.record_line()) + ": " +
                           std::to_string(fields.size()) + " fields where " +
                           (columns_ ? "the header has " : "the first record has ") +
                           std::to_string(scanner_.width()));
    return false;
  }
  if constexpr (std::is_same_v<Row, record>) {
    record r;
    r.values.reserve(fields.size());
    for (const auto& f : fields) {
      if (detail::csv_scanner::is_null(f))
        r.values.emplace_back(null);
      else
        r.values.emplace_back(std::in_place_type<std::string>, scanner_.text(f));
    }
    r.columns = columns_;
    scanner_.clear_record();
    ++records_;
    more_ = this->push(std::move(r));
  } else {
    Row row{};
    if (!convert_static(row)) return false;
    scanner_.clear_record();
    ++records_;
    more_ = this->push(std::move(row));
  }
  return true;
}

template <class Row>
requires(std::is_same_v<Row, record> ||
         static_row<Row>) bool csv_parser<Row>::convert_static(Row& row) {
  const auto& fields = scanner_.fields();
  bool ok = true;
  for_each_field(row, [&](auto& out, auto index) {
    if (!ok) return;
    const auto& f = fields[index];
    using T = std::remove_cvref_t<decltype(out)>;
    if (detail::field_from_text(scanner_.text(f), detail::csv_scanner::is_null(f), out)) return;
    ok = false;
    const std::string* name = columns_ && index < columns_->size() ? &(*columns_)[index] : nullptr;
    scanner_.set_error(csv_errc::bad_value,
                       detail::csv_position(f.line, f.column, name) + ": " +
                           detail::bad_value_text(scanner_.text(f), detail::field_type_name<T>()));
  });
  return ok;
}

template <class Row>
requires(std::is_same_v<Row, record> ||
         static_row<Row>) csv_writer<Row>::csv_writer(sluice::loop& l, csv_write_options o,
                                                      const transform_options& to)
    : base(l, o.chunk_size, to), options_(std::move(o)) {
  detail::check_separator(options_.separator, "csv_writer");
}

template <class Row>
requires(std::is_same_v<Row, record> ||
         static_row<Row>) void csv_writer<Row>::write_header(const column_names& names) {
  header_done_ = true;
  const std::vector<std::string>* cols = &options_.columns;
  if (cols->empty() && names) cols = names.get();
  if (cols->empty()) return;
  for (std::size_t i = 0; i < cols->size(); ++i) {
    if (i != 0) this->out_ += options_.separator;
    detail::csv_append_text(this->out_, (*cols)[i], options_);
  }
  this->out_ += options_.crlf ? "\r\n" : "\n";
}

template <class Row>
requires(std::is_same_v<Row, record> ||
         static_row<Row>) void csv_writer<Row>::encode(const Row& row) {
  if constexpr (std::is_same_v<Row, record>) {
    if (options_.header && !header_done_) write_header(row.columns);
    for (std::size_t i = 0; i < row.values.size(); ++i) {
      if (i != 0) this->out_ += options_.separator;
      detail::csv_append_value(this->out_, row.values[i], options_);
    }
  } else {
    if (options_.header && !header_done_) write_header(nullptr);
    for_each_field(row, [this](const auto& f, auto index) {
      if (index != 0) this->out_ += options_.separator;
      detail::csv_append_field(this->out_, f, options_);
    });
  }
  this->out_ += options_.crlf ? "\r\n" : "\n";
}

}  // namespace sluice::db
