// Column names and the text form of timestamps (sluice/db/row.hpp).
#include "sluice/db/row.hpp"

#include <charconv>
#include <cstdint>
#include <cstdio>

namespace sluice::db {

const std::string& record::column_name(std::size_t i) const {
  static const std::string none;
  return columns && i < columns->size() ? (*columns)[i] : none;
}

namespace {

constexpr std::int64_t us_per_day = 86'400'000'000LL;

// The proleptic Gregorian calendar on 64-bit integers, so that every timestamp has a date
// (std::chrono's year stops at +-32767, a timestamp goes to about +-292,000 years). Days count
// from 1970-01-01; eras are the calendar's 400-year cycles of 146,097 days, and a year is taken
// to start on 1 March, so that the leap day ends it.
struct civil {
  std::int64_t year;
  unsigned month;  // 1..12
  unsigned day;    // 1..31
};

civil civil_from_days(std::int64_t days) {
  const std::int64_t from_0000_03_01 = days + 719'468;  // days from 0000-03-01 to 1970-01-01
  const std::int64_t era =
      (from_0000_03_01 >= 0 ? from_0000_03_01 : from_0000_03_01 - 146'096) / 146'097;
  const std::int64_t of_era = from_0000_03_01 - era * 146'097;  // 0..146096
  const std::int64_t year_of_era =
      (of_era - of_era / 1'460 + of_era / 36'524 - of_era / 146'096) / 365;  // 0..399
  const std::int64_t day_of_year =
      of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);  // 0..365, from March
  const std::int64_t month_from_march = (5 * day_of_year + 2) / 153;       // 0..11
  const auto day = static_cast<unsigned>(day_of_year - (153 * month_from_march + 2) / 5 + 1);
  const auto month =
      static_cast<unsigned>(month_from_march < 10 ? month_from_march + 3 : month_from_march - 9);
  return {year_of_era + era * 400 + (month <= 2 ? 1 : 0), month, day};
}

std::int64_t days_from_civil(std::int64_t year, unsigned month, unsigned day) {
  const std::int64_t y = year - (month <= 2 ? 1 : 0);  // the year that began the March before
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const std::int64_t year_of_era = y - era * 400;
  const std::int64_t month_from_march = month > 2 ? month - 3 : month + 9;
  const std::int64_t day_of_year = (153 * month_from_march + 2) / 5 + day - 1;
  const std::int64_t of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
  return era * 146'097 + of_era - 719'468;
}

bool leap(std::int64_t y) { return y % 4 == 0 && (y % 100 != 0 || y % 400 == 0); }

unsigned days_in(std::int64_t year, unsigned month) {
  static constexpr unsigned days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return month == 2 && leap(year) ? 29 : days[month - 1];
}

}  // namespace

std::string format_timestamp(timestamp t) {
  // Split into days and the time of day without std::chrono::floor, which overflows at the
  // ends of the range.
  const std::int64_t us = t.time_since_epoch().count();
  std::int64_t days = us / us_per_day;
  std::int64_t of_day = us % us_per_day;
  if (of_day < 0) {
    --days;
    of_day += us_per_day;
  }
  const civil c = civil_from_days(days);
  const std::int64_t seconds = of_day / 1'000'000;
  char out[48];
  // RFC 3339 has years 0000-9999; beyond them, ISO 8601's expanded form: a sign and at least
  // four digits ("+10000-01-01", "-0001-12-31": astronomical years, 0 is 1 BC).
  const bool expanded = c.year < 0 || c.year > 9999;
  int n = std::snprintf(
      out, sizeof out,
      expanded ? "%+05lld-%02u-%02uT%02lld:%02lld:%02lld" : "%04lld-%02u-%02uT%02lld:%02lld:%02lld",
      static_cast<long long>(c.year), c.month, c.day, static_cast<long long>(seconds / 3600),
      static_cast<long long>(seconds / 60 % 60), static_cast<long long>(seconds % 60));
  if (const std::int64_t fraction = of_day % 1'000'000; fraction != 0)
    n += std::snprintf(out + n, sizeof out - static_cast<std::size_t>(n), ".%06lld",
                       static_cast<long long>(fraction));
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
// The year: four digits, or (ISO 8601's expanded form, as format_timestamp writes beyond
// 0000-9999) a sign and four to six digits.
bool year_at(std::string_view text, std::size_t& pos, std::int64_t& year) {
  if (pos < text.size() && (text[pos] == '+' || text[pos] == '-')) {
    const bool negative = text[pos] == '-';
    std::size_t end = ++pos;
    while (end < text.size() && end - pos < 7 && text[end] >= '0' && text[end] <= '9') ++end;
    if (end - pos < 4 || end - pos > 6) return false;
    int v = 0;
    std::from_chars(text.data() + pos, text.data() + end, v);
    pos = end;
    year = negative ? -static_cast<std::int64_t>(v) : v;
    return true;
  }
  int v = 0;
  if (!digits(text, pos, 4, v)) return false;
  year = v;
  return true;
}
}  // namespace

std::optional<timestamp> parse_timestamp(std::string_view text) {
  std::size_t p = 0;
  std::int64_t y = 0;
  int mo = 0, d = 0, h = 0, mi = 0, s = 0;
  if (!year_at(text, p, y) || !expect(text, p, '-') || !digits(text, p, 2, mo) ||
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
  if (mo < 1 || mo > 12 || d < 1 ||
      static_cast<unsigned>(d) > days_in(y, static_cast<unsigned>(mo)) || h > 23 || mi > 59 ||
      s > 60)
    return std::nullopt;
  // days * us_per_day + the time of day, without overflowing on the way at the ends of the
  // range: when the two have opposite signs a day moves from one to the other first.
  std::int64_t days = days_from_civil(y, static_cast<unsigned>(mo), static_cast<unsigned>(d));
  std::int64_t of_day = ((static_cast<std::int64_t>(h) * 60 + mi) * 60 + s -
                         static_cast<std::int64_t>(offset_min) * 60) *
                            1'000'000 +
                        us;
  if (days < 0 && of_day > 0) {
    ++days;
    of_day -= us_per_day;
  } else if (days > 0 && of_day < 0) {
    --days;
    of_day += us_per_day;
  }
  std::int64_t whole_days = 0, total = 0;
  if (__builtin_mul_overflow(days, us_per_day, &whole_days) ||
      __builtin_add_overflow(whole_days, of_day, &total))
    return std::nullopt;  // beyond what a timestamp holds
  return timestamp{std::chrono::microseconds(total)};
}

}  // namespace sluice::db
