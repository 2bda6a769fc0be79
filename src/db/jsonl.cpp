// JSON lines to records and back with Boost.JSON (sluice/db/jsonl.hpp).
#include "sluice/db/jsonl.hpp"

#include <boost/json/monotonic_resource.hpp>
#include <boost/json/parser.hpp>
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
  enum class shape : std::uint8_t { unknown, objects, arrays } kind = shape::unknown;
  column_names columns;
  std::unordered_map<std::string, std::size_t, string_hash, std::equal_to<>> index;
  std::size_t width = 0;
  unsigned char arena[8192];
  json::monotonic_resource mr{arena, sizeof arena};
  // Text is taken as bytes, as the writer writes it: invalid UTF-8 is not an error.
  json::parser parser{json::storage_ptr(), [] {
                        json::parse_options po;
                        po.allow_invalid_utf8 = true;
                        return po;
                      }()};
  std::error_code error;
  std::string context;

  bool fail(jsonl_errc e, std::string what) {
    error = make_error_code(e);
    context = "jsonl: line " + std::to_string(line) + what;
    return false;
  }

  // A JSON value to a column's value; false (error set) for a nested one.
  bool to_value(const json::value& v, std::string_view key, value& out) {
    switch (v.kind()) {
      case json::kind::null:
        out = null;
        return true;
      case json::kind::bool_:
        out = v.get_bool();
        return true;
      case json::kind::int64:
        out = v.get_int64();
        return true;
      case json::kind::uint64:  // beyond int64
        out = static_cast<double>(v.get_uint64());
        return true;
      case json::kind::double_:
        out = v.get_double();
        return true;
      case json::kind::string:
        out.emplace<std::string>(v.get_string().data(), v.get_string().size());
        return true;
      case json::kind::array:
      case json::kind::object:
        if (options.nested_as_text) {
          out = json::serialize(v);
          return true;
        }
        return fail(jsonl_errc::nested_value,
                    key.empty() ? std::string() : ", key \"" + std::string(key) + "\"");
    }
    return true;
  }

  // One line to a record; false (error set) if it is not a row.
  bool parse_line(std::string_view text, record& r) {
    mr.release();
    parser.reset(json::storage_ptr(&mr));
    boost::system::error_code ec;
    const std::size_t used = parser.write(text.data(), text.size(), ec);
    if (ec)
      return fail(jsonl_errc::syntax_error,
                  ", byte " + std::to_string(used + 1) + " (" + ec.message() + ")");
    const json::value v = parser.release();
    if (v.is_object()) return object_row(v.get_object(), r);
    if (v.is_array()) return array_row(v.get_array(), r);
    return fail(jsonl_errc::not_a_row, "");
  }

  bool object_row(const json::object& o, record& r) {
    if (kind == shape::arrays) return fail(jsonl_errc::not_a_row, " (an object after arrays)");
    if (kind == shape::unknown) {
      kind = shape::objects;
      auto names = std::make_shared<std::vector<std::string>>();
      for (const auto& kv : o) {
        index.emplace(std::string(kv.key()), names->size());
        names->emplace_back(kv.key());
      }
      columns = std::move(names);
      width = columns->size();
    }
    r.values.assign(width, value(null));
    std::size_t i = 0;
    for (const auto& kv : o) {
      std::size_t col = i;
      if (col >= width || (*columns)[col] != kv.key()) {  // not in the first object's order
        const auto it = index.find(std::string_view(kv.key()));
        if (it == index.end())
          return fail(jsonl_errc::unknown_key, ", key \"" + std::string(kv.key()) + "\"");
        col = it->second;
      }
      if (!to_value(kv.value(), kv.key(), r.values[col])) return false;
      ++i;
    }
    r.columns = columns;
    return true;
  }

  bool array_row(const json::array& a, record& r) {
    if (kind == shape::objects) return fail(jsonl_errc::not_a_row, " (an array after objects)");
    if (kind == shape::unknown) {
      kind = shape::arrays;
      width = a.size();
    }
    if (a.size() != width)
      return fail(jsonl_errc::wrong_field_count, ": " + std::to_string(a.size()) +
                                                     " values where the first line has " +
                                                     std::to_string(width));
    r.values.resize(width);
    for (std::size_t i = 0; i < width; ++i)
      if (!to_value(a[i], "", r.values[i])) return false;
    return true;
  }
};

jsonl_parser::jsonl_parser(sluice::loop& l, const jsonl_options& o, const transform_options& to)
    : transform<buffer, record>(l, to), impl_(std::make_unique<impl>(o)) {
  if (o.max_line_length == 0)
    throw std::system_error(make_error_code(errc::invalid_argument),
                            "jsonl_parser: max_line_length must be at least 1");
}

jsonl_parser::~jsonl_parser() = default;

const column_names& jsonl_parser::columns() const noexcept { return impl_->columns; }
std::uint64_t jsonl_parser::record_count() const noexcept { return impl_->records; }

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
      break;
    }
    if (text.find_first_not_of(" \t\r") == std::string_view::npos) {  // blank
      s.partial.clear();
      continue;
    }
    record r;
    const bool ok = s.parse_line(text, r);
    s.partial.clear();
    if (!ok) break;
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
    } else if (text.find_first_not_of(" \t\r") != std::string::npos) {
      record r;
      if (s.parse_line(text, r)) {
        ++s.records;
        push(std::move(r));
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
    : transform<record, buffer>(l, to), options_(o) {
  if (options_.chunk_size == 0) options_.chunk_size = 1;
}

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

void jsonl_writer::do_transform(record&& row, transform_callback cb) {
  encode(row);
  cb(take());
}

jsonl_writer::run_outcome jsonl_writer::do_write_run(record* items, std::size_t n) {
  auto r = transform_each(items, n, [this](record&& row, transform_callback cb) {
    encode(row);
    if (out_.size() >= options_.chunk_size)
      cb(take());
    else
      cb();
  });
  // Whatever the run left is handed on now: nothing may wait for rows that may never come.
  if (!out_.empty() && !destroyed()) push(take());
  return r;
}

bool jsonl_writer::do_writev(std::vector<record>& rows, write_callback cb) {
  for (const record& row : rows) {
    encode(row);
    if (out_.size() >= options_.chunk_size) push(take());
  }
  if (!out_.empty()) push(take());
  cb();
  return true;
}

void jsonl_writer::do_flush(callback cb) {
  if (!out_.empty()) push(take());
  cb({});
}

}  // namespace sluice::db
