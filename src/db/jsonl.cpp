// JSON lines to records and back with Boost.JSON (sluice/db/jsonl.hpp).
#include "sluice/db/jsonl.hpp"

#include <boost/json/basic_parser_impl.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/serializer.hpp>
#include <boost/json/value.hpp>
#include <charconv>
#include <cmath>
#include <limits>
#include <string_view>
#include <unordered_map>

#include "sluice/core/error.hpp"

namespace sluice::db {
namespace json = boost::json;

namespace {

class jsonl_category_impl final : public std::error_category {
 public:
  const char* name() const noexcept override { return "sluice.jsonl"; }
  std::string message(int v) const override {
    switch (static_cast<jsonl_errc>(v)) {
      case jsonl_errc::syntax_error:
        return "syntax error";
      case jsonl_errc::not_a_row:
        return "not an object or an array";
      case jsonl_errc::unknown_key:
        return "unknown key";
      case jsonl_errc::nested_value:
        return "nested array or object";
      case jsonl_errc::wrong_field_count:
        return "wrong number of values";
      case jsonl_errc::line_too_long:
        return "line too long";
    }
    return "Unknown JSON lines error " + std::to_string(v);
  }
};

// Finds a key's column (a plain string map; lookups by string_view).
struct string_hash {
  using is_transparent = void;
  std::size_t operator()(std::string_view s) const noexcept {
    return std::hash<std::string_view>{}(s);
  }
};

}  // namespace

const std::error_category& jsonl_category() noexcept {
  static const jsonl_category_impl category;
  return category;
}

std::error_code make_error_code(jsonl_errc e) noexcept {
  return {static_cast<int>(e), jsonl_category()};
}

// ---- parser -----------------------------------------------------------------------------------

struct jsonl_parser::impl {
  explicit impl(const jsonl_options& o) : options(o) {}

  jsonl_options options;
  std::string partial;  // the line being assembled across chunks
  std::uint64_t line = 0;
  std::uint64_t records = 0;
  std::uint64_t skipped = 0;
  enum class shape : std::uint8_t { unknown, objects, arrays } kind = shape::unknown;
  column_names columns;
  std::shared_ptr<std::vector<std::string>> first_names;  // while the first object is read
  std::unordered_map<std::string, std::size_t, string_hash, std::equal_to<>> index;
  std::size_t width = 0;
  std::error_code error;
  std::string context;

  bool fail(jsonl_errc e, std::string what) {
    error = make_error_code(e);
    context = "jsonl: line " + std::to_string(line) + what;
    return false;
  }

  // One line to a record; false (error set) if it is not a row. Parsed with Boost.JSON's
  // basic_parser straight into the record (no DOM): doubles are read again from their text with
  // std::from_chars, exactly (Boost 1.81's own conversion can be off by an ulp).
  bool parse_line(std::string_view text, record& r);
  // A nested value with nested_as_text: the line again as a DOM, for its JSON text.
  bool nested_texts(std::string_view text, record& r);

  struct handler;
  std::unique_ptr<json::basic_parser<handler>> sax;
  std::vector<std::size_t> nested_columns;  // columns of this line holding a nested value
};

// The row being built by the SAX parser: depth 1 is the row; anything deeper is nested.
struct jsonl_parser::impl::handler {
  static constexpr std::size_t max_array_size = static_cast<std::size_t>(-1);
  static constexpr std::size_t max_object_size = static_cast<std::size_t>(-1);
  static constexpr std::size_t max_string_size = static_cast<std::size_t>(-1);
  static constexpr std::size_t max_key_size = static_cast<std::size_t>(-1);

  impl* s = nullptr;
  record* row = nullptr;
  int depth = 0;
  bool first_object = false;  // this line is the first object: its keys are the columns
  std::size_t key_index = 0;  // where the value of the current key goes
  std::string key;            // the key being read, across parts
  std::string current_key;    // the last key read
  std::string text;
  std::string number;

  // Stops the parse with a jsonl error (recorded in impl).
  bool stop(boost::system::error_code& ec) {
    ec = json::error::exception;
    return false;
  }
  std::string where() const {
    if (s->kind == shape::objects) return ", key \"" + current_key + "\"";
    return "";
  }
  bool put(value v, boost::system::error_code& ec) {
    if (depth > 1) return true;  // inside a nested value kept as text: filled in later
    if (depth == 0) {
      s->fail(jsonl_errc::not_a_row, "");
      return stop(ec);
    }
    if (s->kind == shape::arrays) {
      if (row->values.size() == s->width && !first_object) {
        s->fail(jsonl_errc::wrong_field_count,
                ": more values than the " + std::to_string(s->width) + " of the first line");
        return stop(ec);
      }
      row->values.push_back(std::move(v));
    } else {
      row->values[key_index] = std::move(v);
    }
    return true;
  }
  bool begin_nested(boost::system::error_code& ec) {
    if (depth == 1) {
      if (!s->options.nested_as_text) {
        s->fail(jsonl_errc::nested_value, where());
        return stop(ec);
      }
      const std::size_t col = s->kind == shape::arrays ? row->values.size() : key_index;
      if (s->kind == shape::arrays) row->values.emplace_back(null);
      s->nested_columns.push_back(col);
    }
    ++depth;
    return true;
  }

  bool on_document_begin(boost::system::error_code&) { return true; }
  bool on_document_end(boost::system::error_code&) { return true; }
  bool on_array_begin(boost::system::error_code& ec) {
    if (depth > 0) return begin_nested(ec);
    depth = 1;
    if (s->kind == shape::objects) {
      s->fail(jsonl_errc::not_a_row, " (an array after objects)");
      return stop(ec);
    }
    first_object = s->kind == shape::unknown;  // (the first array: its length is the width)
    s->kind = shape::arrays;
    if (!first_object) row->values.reserve(s->width);
    return true;
  }
  bool on_array_end(std::size_t, boost::system::error_code& ec) {
    if (--depth > 0) return true;
    if (first_object) s->width = row->values.size();
    if (row->values.size() != s->width) {
      s->fail(jsonl_errc::wrong_field_count, ": " + std::to_string(row->values.size()) +
                                                 " values where the first line has " +
                                                 std::to_string(s->width));
      return stop(ec);
    }
    return true;
  }
  bool on_object_begin(boost::system::error_code& ec) {
    if (depth > 0) return begin_nested(ec);
    depth = 1;
    if (s->kind == shape::arrays) {
      s->fail(jsonl_errc::not_a_row, " (an object after arrays)");
      return stop(ec);
    }
    first_object = s->kind == shape::unknown;
    s->kind = shape::objects;
    if (first_object) s->first_names = std::make_shared<std::vector<std::string>>();
    row->values.assign(s->width, value(null));
    return true;
  }
  bool on_object_end(std::size_t, boost::system::error_code&) {
    if (--depth > 0) return true;
    if (first_object) {
      s->columns = std::move(s->first_names);
      s->width = s->columns->size();
    }
    row->columns = s->columns;
    return true;
  }
  bool on_key_part(json::string_view p, std::size_t, boost::system::error_code&) {
    if (depth == 1) key.append(p.data(), p.size());
    return true;
  }
  bool on_key(json::string_view p, std::size_t, boost::system::error_code& ec) {
    if (depth != 1) return true;
    key.append(p.data(), p.size());
    current_key = std::move(key);
    key.clear();
    if (first_object) {
      const auto [it, fresh] = s->index.emplace(current_key, s->first_names->size());
      if (fresh) {
        s->first_names->push_back(current_key);
        row->values.emplace_back(null);
      }
      key_index = it->second;
    } else {
      const auto it = s->index.find(std::string_view(current_key));
      if (it == s->index.end()) {
        s->fail(jsonl_errc::unknown_key, where());
        return stop(ec);
      }
      key_index = it->second;
    }
    return true;
  }
  bool on_string_part(json::string_view p, std::size_t, boost::system::error_code&) {
    if (depth == 1) text.append(p.data(), p.size());
    return true;
  }
  bool on_string(json::string_view p, std::size_t, boost::system::error_code& ec) {
    if (depth != 1) return put(null, ec);
    text.append(p.data(), p.size());
    value v(std::in_place_type<std::string>, std::move(text));
    text.clear();
    return put(std::move(v), ec);
  }
  bool on_number_part(json::string_view p, boost::system::error_code&) {
    number.append(p.data(), p.size());
    return true;
  }
  bool on_int64(std::int64_t i, json::string_view, boost::system::error_code& ec) {
    number.clear();
    return put(i, ec);
  }
  bool on_uint64(std::uint64_t u, json::string_view, boost::system::error_code& ec) {
    number.clear();
    return put(static_cast<double>(u), ec);  // beyond int64
  }
  bool on_double(double d, json::string_view p, boost::system::error_code& ec) {
    number.append(p.data(), p.size());
    double exact = d;
    const auto r = std::from_chars(number.data(), number.data() + number.size(), exact);
    if (r.ec != std::errc{}) exact = d;  // (out of range: Boost's infinity)
    number.clear();
    return put(exact, ec);
  }
  bool on_bool(bool b, boost::system::error_code& ec) { return put(b, ec); }
  bool on_null(boost::system::error_code& ec) { return put(null, ec); }
  bool on_comment_part(json::string_view, boost::system::error_code&) { return true; }
  bool on_comment(json::string_view, boost::system::error_code&) { return true; }
};

bool jsonl_parser::impl::parse_line(std::string_view line_text, record& r) {
  if (!sax) {
    json::parse_options po;
    po.allow_invalid_utf8 = true;  // text is bytes, as the writer writes them
    sax = std::make_unique<json::basic_parser<handler>>(po);
    sax->handler().s = this;
  }
  sax->reset();
  handler& h = sax->handler();
  h.row = &r;
  h.depth = 0;
  h.key.clear();
  h.text.clear();
  h.number.clear();
  nested_columns.clear();
  boost::system::error_code ec;
  const std::size_t used = sax->write_some(false, line_text.data(), line_text.size(), ec);
  if (error) return false;  // the handler's own
  if (ec)
    return fail(jsonl_errc::syntax_error,
                ", byte " + std::to_string(used + 1) + " (" + ec.message() + ")");
  if (used != line_text.size() &&
      line_text.find_first_not_of(" \t\r", used) != std::string_view::npos)
    return fail(jsonl_errc::syntax_error,
                ", byte " + std::to_string(used + 1) + " (more text after the value)");
  if (!nested_columns.empty()) return nested_texts(line_text, r);
  return true;
}

bool jsonl_parser::impl::nested_texts(std::string_view line_text, record& r) {
  json::parse_options po;
  po.allow_invalid_utf8 = true;
  const json::value v = json::parse(json::string_view(line_text.data(), line_text.size()), {}, po);
  for (const std::size_t col : nested_columns) {
    const json::value* x = nullptr;
    if (v.is_array())
      x = &v.get_array().at(col);
    else
      x = v.get_object().if_contains((*columns)[col]);
    if (x != nullptr) r.values[col] = json::serialize(*x);
  }
  return true;
}

jsonl_parser::jsonl_parser(sluice::loop& l, const jsonl_options& o, const transform_options& to)
    : transform<buffer, record>(l, to), impl_(std::make_unique<impl>(o)) {
  if (o.max_line_length == 0)
    throw std::system_error(make_error_code(errc::invalid_argument),
                            "jsonl_parser: max_line_length must be at least 1");
}

jsonl_parser::~jsonl_parser() = default;

const column_names& jsonl_parser::columns() const noexcept { return impl_->columns; }
std::uint64_t jsonl_parser::record_count() const noexcept { return impl_->records; }
std::uint64_t jsonl_parser::records_skipped() const noexcept { return impl_->skipped; }

bool jsonl_parser::skip_bad_line() {
  impl& s = *impl_;
  if (!s.options.skip || !s.options.skip->takes(s.error)) return false;
  ++s.skipped;
  if (s.records == 0) {
    // No row was taken yet: the bad line must not fix the shape or the columns.
    s.kind = impl::shape::unknown;
    s.columns = nullptr;
    s.first_names = nullptr;
    s.index.clear();
    s.width = 0;
  }
  skipped_item item{.index = s.line - 1,
                    .error = std::exchange(s.error, {}),
                    .stage = name(),
                    .detail = std::exchange(s.context, {})};
  if (s.options.skip->on_skip) {
    auto keep = shared_from_this();  // the observer may destroy the stream
    s.options.skip->on_skip(item);
  }
  return true;
}

void jsonl_parser::do_transform(buffer&& chunk, transform_callback cb) {
  input_ = std::move(chunk);
  pos_ = 0;
  cb_.emplace(cb);
  scan();
}

// Splits input_ from pos_ into lines and pushes their records until the chunk is used up (then
// completes the write), the readable side is full (then goes on in do_output_wanted) or a line
// is wrong (then fails the stream and the write).
void jsonl_parser::scan() {
  impl& s = *impl_;
  scanning_ = true;
  const std::string_view in = input_.view();
  bool more = true;
  while (pos_ < in.size() && !s.error) {
    const std::size_t nl = in.find('\n', pos_);
    if (nl == std::string_view::npos) {
      // An unfinished line: refused as soon as it cannot fit (one byte over may be its '\r').
      if (s.partial.size() + (in.size() - pos_) > s.options.max_line_length + 1) {
        ++s.line;
        s.fail(jsonl_errc::line_too_long, " is longer than the limit of " +
                                              std::to_string(s.options.max_line_length) + " bytes");
        break;
      }
      s.partial.append(in.substr(pos_));
      pos_ = in.size();
      break;
    }
    std::string_view text = in.substr(pos_, nl - pos_);
    if (!s.partial.empty()) {
      s.partial.append(text);
      text = s.partial;
    }
    pos_ = nl + 1;
    ++s.line;
    if (!text.empty() && text.back() == '\r') text.remove_suffix(1);
    if (text.size() > s.options.max_line_length) {
      s.fail(jsonl_errc::line_too_long, " is longer than the limit of " +
                                            std::to_string(s.options.max_line_length) + " bytes");
      s.partial.clear();
      if (skip_bad_line() && !destroyed()) continue;  // (a whole line: its end is known)
      break;
    }
    if (text.find_first_not_of(" \t\r") == std::string_view::npos) {  // blank
      s.partial.clear();
      continue;
    }
    record r;
    const bool ok = s.parse_line(text, r);
    s.partial.clear();
    if (!ok) {
      if (skip_bad_line() && !destroyed()) continue;
      break;
    }
    ++s.records;
    more = push(std::move(r));
    if ((!more || destroyed()) && pos_ < in.size()) {
      scanning_ = false;  // the rest when the consumer wants more
      return;
    }
  }
  scanning_ = false;
  input_ = {};
  const auto cb = *std::exchange(cb_, std::nullopt);
  if (s.error) {
    fail(s.error, s.context);
    cb(s.error);
  } else {
    cb();
  }
}

void jsonl_parser::do_output_wanted() {
  if (cb_ && !scanning_ && !destroyed()) scan();
}

void jsonl_parser::do_flush(callback cb) {
  impl& s = *impl_;
  if (!s.partial.empty()) {
    std::string text = std::exchange(s.partial, std::string());
    ++s.line;
    if (!text.empty() && text.back() == '\r') text.pop_back();
    if (text.size() > s.options.max_line_length) {
      s.fail(jsonl_errc::line_too_long, " is longer than the limit of " +
                                            std::to_string(s.options.max_line_length) + " bytes");
      skip_bad_line();
    } else if (text.find_first_not_of(" \t\r") != std::string::npos) {
      record r;
      if (s.parse_line(text, r)) {
        ++s.records;
        push(std::move(r));
      } else {
        skip_bad_line();
      }
    }
  }
  if (s.error) {
    fail(s.error, s.context);
    cb(s.error);
    return;
  }
  cb({});
}

void jsonl_parser::do_destroy(std::error_code ec, callback done) {
  if (cb_ && !scanning_) {
    input_ = {};
    const auto cb = *std::exchange(cb_, std::nullopt);
    cb(make_error_code(errc::stream_destroyed));
  }
  transform<buffer, record>::do_destroy(ec, std::move(done));
}

// ---- writer -----------------------------------------------------------------------------------

namespace {

// Appends `s` as a JSON string, escaped by Boost.JSON's serializer.
void append_json_string(std::string& out, std::string_view s, json::serializer& sr) {
  sr.reset(json::string_view(s.data(), s.size()));
  char tmp[4096];
  while (!sr.done()) {
    const json::string_view part = sr.read(tmp, sizeof tmp);
    out.append(part.data(), part.size());
  }
}

void append_json_value(std::string& out, const value& v, json::serializer& sr) {
  struct visitor {
    std::string& out;
    json::serializer& sr;
    void operator()(null_t) const { out += "null"; }
    void operator()(std::int64_t x) const {
      char tmp[24];
      out.append(tmp, std::to_chars(tmp, tmp + sizeof tmp, x).ptr);
    }
    void operator()(double x) const {
      if (!std::isfinite(x)) {
        out += "null";
        return;
      }
      char tmp[32];
      const char* end = std::to_chars(tmp, tmp + sizeof tmp, x).ptr;
      out.append(tmp, static_cast<std::size_t>(end - tmp));
      // A whole double keeps a fraction, so that it reads back as a double, not an integer.
      if (std::string_view(tmp, static_cast<std::size_t>(end - tmp)).find_first_of(".e") ==
          std::string_view::npos)
        out += ".0";
    }
    void operator()(const std::string& s) const { append_json_string(out, s, sr); }
    void operator()(const buffer& b) const {
      static constexpr char digits[] = "0123456789abcdef";
      std::string hex = "\\x";
      for (const std::byte c : b) {
        hex += digits[std::to_integer<unsigned>(c) >> 4];
        hex += digits[std::to_integer<unsigned>(c) & 15];
      }
      append_json_string(out, hex, sr);
    }
    void operator()(bool b) const { out += b ? "true" : "false"; }
    void operator()(timestamp t) const { append_json_string(out, format_timestamp(t), sr); }
  };
  std::visit(visitor{out, sr}, v);
}

}  // namespace

jsonl_writer::jsonl_writer(sluice::loop& l, const jsonl_write_options& o,
                           const transform_options& to)
    : row_formatter<record>(l, o.chunk_size, to) {}

void jsonl_writer::encode(const record& row) {
  thread_local json::serializer sr;
  const bool named = row.columns && row.columns->size() >= row.values.size();
  out_ += named ? '{' : '[';
  for (std::size_t i = 0; i < row.values.size(); ++i) {
    if (i != 0) out_ += ',';
    if (named) {
      append_json_string(out_, (*row.columns)[i], sr);
      out_ += ':';
    }
    append_json_value(out_, row.values[i], sr);
  }
  out_ += named ? "}\n" : "]\n";
}

}  // namespace sluice::db
