// fuzz/copy_fuzz.cpp: PostgreSQL's COPY formats as sluice encodes them (sluice/db/pg_copy_text.hpp,
// pg_copy_binary.hpp). No stream here: these are the encoders the PostgreSQL sink runs on every
// row. The control byte's variant bits pick the check; the generator (driver.hpp) and slices of
// the payload make the values:
// - text escapes: any bytes as columns (some NULL), appended and split again, come back equal;
//   and any line split_line() accepts, encoded again, splits to the same columns;
// - text rows: a typed row (integers, doubles with NaN and infinities, booleans, text, bytes,
//   timestamps over the whole range, years beyond 0000-9999 in ISO 8601's expanded form) written
//   with append_row and read with parse_row is the same row;
// - binary values: each typed value appended to a column of each type either is refused with a
//   reason (and the output is left as it was) or is encoded with the type's exact width, and a
//   reference reader gets the value back; any text appended to any column type likewise.
#include <bit>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include "driver.hpp"
#include "sluice/db/pg_copy_binary.hpp"
#include "sluice/db/pg_copy_text.hpp"

namespace {

namespace fz = sluice::fuzz;
namespace db = sluice::db;
namespace oid = db::pg_binary::oid;

// Slices of the payload, one after the other, of sizes the generator picks.
class slicer {
 public:
  slicer(std::string_view payload, fz::input& in) : rest_(payload), in_(in) {}
  std::string next() {
    const std::size_t n = std::min(rest_.size(), in_.below(24));
    std::string s(rest_.substr(0, n));
    rest_.remove_prefix(n);
    return s;
  }
  [[nodiscard]] bool empty() const noexcept { return rest_.empty(); }

 private:
  std::string_view rest_;
  fz::input& in_;
};

double any_double(fz::input& in) {
  switch (in.below(6)) {
    case 0:
      return std::nan("");
    case 1:
      return in.below(2) ? HUGE_VAL : -HUGE_VAL;
    case 2:
      return static_cast<double>(static_cast<std::int64_t>(in.next()) >> in.below(64));
    default:
      return std::bit_cast<double>(in.next());
  }
}

bool same(double a, double b) { return (std::isnan(a) && std::isnan(b)) || a == b; }

void text_escapes(fz::input& in) {
  slicer s(in.payload(), in);
  std::vector<std::optional<std::string>> columns;
  std::string line;
  do {
    if (!columns.empty()) line.push_back('\t');
    if (in.below(5) == 0) {
      columns.emplace_back(std::nullopt);
      db::pg_text::append_null(line);
    } else {
      columns.emplace_back(s.next());
      db::pg_text::append(line, std::string_view(*columns.back()));
    }
  } while (!s.empty() && columns.size() < 64);
  line.push_back('\n');
  fuzz_check(line.find('\n') == line.size() - 1);  // one row, one line
  std::vector<std::optional<std::string>> back;
  fuzz_check(db::pg_text::split_line(line, back));
  fuzz_check(back == columns);

  // Any line the reader accepts survives encoding again.
  std::string_view raw = in.payload();
  raw = raw.substr(0, raw.find('\n'));
  std::vector<std::optional<std::string>> read;
  if (db::pg_text::split_line(raw, read)) {
    std::string again;
    for (std::size_t i = 0; i < read.size(); ++i) {
      if (i > 0) again.push_back('\t');
      if (read[i])
        db::pg_text::append(again, std::string_view(*read[i]));
      else
        db::pg_text::append_null(again);
    }
    std::vector<std::optional<std::string>> twice;
    fuzz_check(db::pg_text::split_line(again, twice));
    fuzz_check(twice == read);
  }
}

using row = std::tuple<std::optional<std::int64_t>, std::uint64_t, double, bool, std::string,
                       sluice::buffer, db::timestamp, std::optional<double>>;

void text_rows(fz::input& in) {
  slicer s(in.payload(), in);
  do {
    row r{in.below(3) == 0 ? std::nullopt
                           : std::optional<std::int64_t>(static_cast<std::int64_t>(in.next())),
          in.next(),
          any_double(in),
          in.below(2) == 0,
          s.next(),
          sluice::buffer::copy_of(s.next()),
          db::timestamp(std::chrono::microseconds(static_cast<std::int64_t>(in.next()))),
          in.below(2) == 0 ? std::nullopt : std::optional<double>(any_double(in))};
    std::string line;
    db::pg_text::append_row(line, r);
    fuzz_check(line.find('\n') == line.size() - 1);
    std::vector<std::optional<std::string>> columns;
    fuzz_check(db::pg_text::split_line(line, columns));
    row back;
    const long bad = db::pg_text::parse_row(columns, back);
    if (bad >= 0)
      std::fprintf(stderr, "column %ld of '%s' does not read back\n", bad, line.c_str());
    fuzz_check(bad == -1);
    fuzz_check(std::get<0>(back) == std::get<0>(r) && std::get<1>(back) == std::get<1>(r));
    fuzz_check(same(std::get<2>(back), std::get<2>(r)) && std::get<3>(back) == std::get<3>(r));
    fuzz_check(std::get<4>(back) == std::get<4>(r));
    fuzz_check(std::get<5>(back).view() == std::get<5>(r).view());
    fuzz_check(std::get<6>(back) == std::get<6>(r));
    fuzz_check(std::get<7>(back).has_value() == std::get<7>(r).has_value());
    if (std::get<7>(r)) fuzz_check(same(*std::get<7>(back), *std::get<7>(r)));
  } while (!s.empty());
}

// ---- binary ---------------------------------------------------------------------------------

constexpr std::uint32_t all_types[] = {
    oid::boolean, oid::bytea,     oid::name,        oid::int8,   oid::int2,   oid::int4,
    oid::text,    oid::json,      oid::float4,      oid::float8, oid::bpchar, oid::varchar,
    oid::date,    oid::timestamp, oid::timestamptz, oid::uuid,   oid::jsonb};

std::int64_t big_endian(std::string_view b) {
  std::uint64_t v = 0;
  for (const char c : b) v = (v << 8) | static_cast<unsigned char>(c);
  // Sign-extend from the field's width.
  const unsigned bits = static_cast<unsigned>(b.size()) * 8;
  if (bits < 64 && (v >> (bits - 1)) != 0) v |= ~std::uint64_t{0} << bits;
  return static_cast<std::int64_t>(v);
}

// The width a value of `type` has, or 0 for the variable-length ones.
std::size_t fixed_width(std::uint32_t type) {
  switch (type) {
    case oid::boolean:
      return 1;
    case oid::int2:
      return 2;
    case oid::int4:
    case oid::float4:
    case oid::date:
      return 4;
    case oid::int8:
    case oid::float8:
    case oid::timestamp:
    case oid::timestamptz:
      return 8;
    case oid::uuid:
      return 16;
    default:
      return 0;
  }
}

// Checks an append's outcome: refused with a reason and `out` unchanged, or one field (a
// length and that many bytes, the type's width when it has one); returns the field's bytes.
std::optional<std::string> field_of(const std::string& why, const std::string& out,
                                    std::size_t before, std::uint32_t type) {
  if (!why.empty()) {
    fuzz_check(out.size() == before);
    return std::nullopt;
  }
  fuzz_check(out.size() >= before + 4);
  const auto len = big_endian(std::string_view(out).substr(before, 4));
  fuzz_check(len >= 0 && out.size() == before + 4 + static_cast<std::size_t>(len));
  if (const std::size_t w = fixed_width(type)) fuzz_check(static_cast<std::size_t>(len) == w);
  if (type == oid::jsonb) fuzz_check(len >= 1 && out[before + 4] == '\1');
  return out.substr(before + 4);
}

void binary_values(fz::input& in) {
  slicer s(in.payload(), in);
  std::string out;
  db::pg_binary::append_header(out);
  do {
    const std::uint32_t type = all_types[in.below(std::size(all_types))];
    const std::size_t before = out.size();
    switch (in.below(5)) {
      case 0: {  // an integer
        const auto v = static_cast<std::int64_t>(in.next()) >> in.below(64);
        const auto f = field_of(db::pg_binary::append(out, type, v), out, before, type);
        if (f && (type == oid::int2 || type == oid::int4 || type == oid::int8))
          fuzz_check(big_endian(*f) == v);
        break;
      }
      case 1: {  // a double
        const double v = any_double(in);
        const auto f = field_of(db::pg_binary::append(out, type, v), out, before, type);
        if (f && type == oid::float8)
          fuzz_check(same(std::bit_cast<double>(static_cast<std::uint64_t>(big_endian(*f))), v));
        break;
      }
      case 2: {  // a boolean
        const bool v = in.below(2) == 0;
        const auto f = field_of(db::pg_binary::append(out, type, v), out, before, type);
        if (f && type == oid::boolean) fuzz_check(*f == std::string(1, v ? '\1' : '\0'));
        break;
      }
      case 3: {  // a timestamp, anywhere in its range
        const db::timestamp v(std::chrono::microseconds(static_cast<std::int64_t>(in.next())));
        const auto f = field_of(db::pg_binary::append(out, type, v), out, before, type);
        if (f && (type == oid::timestamp || type == oid::timestamptz))
          fuzz_check(big_endian(*f) == v.time_since_epoch().count() - 946684800000000LL);
        break;
      }
      default: {  // text, which typed columns parse
        const std::string v = s.next();
        const auto f =
            field_of(db::pg_binary::append(out, type, std::string_view(v)), out, before, type);
        if (f && (type == oid::text || type == oid::varchar)) fuzz_check(*f == v);
        break;
      }
    }
  } while (!s.empty());
  db::pg_binary::append_trailer(out);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  fz::input in(data, size);
  switch (in.variant()) {
    case 0:
      text_escapes(in);
      break;
    case 1:
      text_rows(in);
      break;
    default:
      binary_values(in);
      break;
  }
  return 0;
}
