// Column names and the text form of timestamps (sluice/db/row.hpp).
#include "sluice/db/row.hpp"

#include <charconv>
#include <cstdio>

namespace sluice::db {

const std::string& record::column_name(std::size_t i) const {
  static const std::string none;
  return columns && i < columns->size() ? (*columns)[i] : none;
}

std::string format_timestamp(timestamp t) {
  using namespace std::chrono;
  const auto day = floor<days>(t);
  const year_month_day ymd{day};
  const hh_mm_ss<microseconds> hms{t - day};
  char out[40];
  int n = std::snprintf(out, sizeof out, "%04d-%02u-%02uT%02ld:%02ld:%02ld",
                        static_cast<int>(ymd.year()), static_cast<unsigned>(ymd.month()),
                        static_cast<unsigned>(ymd.day()), static_cast<long>(hms.hours().count()),
                        static_cast<long>(hms.minutes().count()),
                        static_cast<long>(hms.seconds().count()));
  if (const auto us = hms.subseconds().count(); us != 0)
    n += std::snprintf(out + n, sizeof out - static_cast<std::size_t>(n), ".%06ld",
                       static_cast<long>(us));
  return std::string(out, static_cast<std::size_t>(n)) + "Z";
}

namespace {
// Reads exactly `width` digits at text[pos] into v; advances pos.
bool digits(std::string_view text, std::size_t& pos, std::size_t width, int& v) {
  if (pos + width > text.size()) return false;
  const char* b = text.data() + pos;
  for (std::size_t i = 0; i < width; ++i)
    if (b[i] < '0' || b[i] > '9') return false;
  std::from_chars(b, b + width, v);
  pos += width;
  return true;
}
bool expect(std::string_view text, std::size_t& pos, char c) {
  if (pos >= text.size() || text[pos] != c) return false;
  ++pos;
  return true;
}
}  // namespace

std::optional<timestamp> parse_timestamp(std::string_view text) {
  using namespace std::chrono;
  std::size_t p = 0;
  int y = 0, mo = 0, d = 0, h = 0, mi = 0, s = 0;
  if (!digits(text, p, 4, y) || !expect(text, p, '-') || !digits(text, p, 2, mo) ||
      !expect(text, p, '-') || !digits(text, p, 2, d))
    return std::nullopt;
  if (p >= text.size() || (text[p] != 'T' && text[p] != 't' && text[p] != ' ')) return std::nullopt;
  ++p;
  if (!digits(text, p, 2, h) || !expect(text, p, ':') || !digits(text, p, 2, mi) ||
      !expect(text, p, ':') || !digits(text, p, 2, s))
    return std::nullopt;
  long us = 0;
  if (p < text.size() && text[p] == '.') {
    ++p;
    std::size_t n = 0;
    while (p < text.size() && text[p] >= '0' && text[p] <= '9') {
      if (n < 6) us = us * 10 + (text[p] - '0');
      ++n;
      ++p;
    }
    if (n == 0) return std::nullopt;
    for (; n < 6; ++n) us *= 10;
  }
  long offset_min = 0;
  if (p < text.size()) {
    if (text[p] == 'Z' || text[p] == 'z') {
      ++p;
    } else if (text[p] == '+' || text[p] == '-') {
      const int sign = text[p] == '-' ? -1 : 1;
      ++p;
      int oh = 0, om = 0;
      if (!digits(text, p, 2, oh) || !expect(text, p, ':') || !digits(text, p, 2, om) || oh > 23 ||
          om > 59)
        return std::nullopt;
      offset_min = sign * (oh * 60 + om);
    } else {
      return std::nullopt;
    }
  }
  if (p != text.size()) return std::nullopt;
  const year_month_day ymd{year{y}, month{static_cast<unsigned>(mo)},
                           day{static_cast<unsigned>(d)}};
  if (!ymd.ok() || h > 23 || mi > 59 || s > 60) return std::nullopt;
  return timestamp{sys_days{ymd}} + hours{h} + minutes{mi} + seconds{s} + microseconds{us} -
         minutes{offset_min};
}

}  // namespace sluice::db
