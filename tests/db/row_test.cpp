// Rows: static rows by position (tuples and aggregates), records, timestamps' text form.
#include "sluice/db/row.hpp"

#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <limits>
#include <optional>
#include <random>
#include <string>
#include <tuple>
#include <vector>

namespace {

using namespace sluice;
using namespace std::chrono_literals;

struct event {
  std::int64_t id;
  std::string name;
  double value;
  std::optional<db::timestamp> at;
  buffer payload;
};

struct not_a_row {
  std::int64_t id;
  std::vector<int> list;  // not a column type
};

static_assert(db::static_row<event>);
static_assert(db::static_row<std::tuple<int, std::string>>);
static_assert(db::static_row<std::pair<bool, std::optional<double>>>);
static_assert(db::static_row<std::array<std::int64_t, 3>>);
static_assert(!db::static_row<not_a_row>);
static_assert(!db::static_row<std::tuple<>>);
static_assert(!db::static_row<int>);
static_assert(!db::static_row<std::tuple<char>>);  // a char is not a column: a string is
static_assert(db::column_count_v<event> == 5);
static_assert(std::is_same_v<db::column_t<3, event>, std::optional<db::timestamp>>);
static_assert(std::is_same_v<db::column_t<1, std::tuple<int, std::string>>, std::string>);

TEST(DbRow, ForEachFieldVisitsAggregateColumnsInOrderByReference) {
  event e{7, "start", 1.5, std::nullopt, buffer::copy_of("xy")};
  std::vector<std::size_t> seen;
  db::for_each_field(e, [&](auto& f, auto i) {
    seen.push_back(i);
    if constexpr (std::is_same_v<std::remove_cvref_t<decltype(f)>, std::string>) f += "ed";
  });
  EXPECT_EQ(seen, (std::vector<std::size_t>{0, 1, 2, 3, 4}));
  EXPECT_EQ(e.name, "started");
  EXPECT_EQ(db::get<0>(e), 7);
}

TEST(DbRow, ForEachFieldOnATuple) {
  const std::tuple<int, std::string, std::optional<bool>> t{1, "a", true};
  std::string out;
  db::for_each_field(t, [&](const auto& f, auto) {
    using F = std::remove_cvref_t<decltype(f)>;
    if constexpr (std::is_same_v<F, int>) out += std::to_string(f);
    if constexpr (std::is_same_v<F, std::string>) out += f;
    if constexpr (std::is_same_v<F, std::optional<bool>>) out += *f ? "T" : "F";
  });
  EXPECT_EQ(out, "1aT");
}

TEST(DbRow, RecordColumnNames) {
  auto names =
      std::make_shared<const std::vector<std::string>>(std::vector<std::string>{"id", "n"});
  db::record r{{std::int64_t{1}, db::null}, names};
  EXPECT_EQ(r.size(), 2u);
  EXPECT_EQ(r.column_name(1), "n");
  EXPECT_EQ(r.column_name(2), "");
  EXPECT_EQ(db::record{{std::string("x")}}.column_name(0), "");
  EXPECT_TRUE(std::holds_alternative<db::null_t>(r.values[1]));
}

TEST(DbRow, TimestampsRoundTripThroughRfc3339) {
  using namespace std::chrono;
  const db::timestamp t = sys_days{2026y / December / 6} + 2h + 46min + 20s;
  EXPECT_EQ(db::format_timestamp(t), "2026-12-06T02:46:20Z");
  EXPECT_EQ(db::format_timestamp(t + 123456us), "2026-12-06T02:46:20.123456Z");
  EXPECT_EQ(db::parse_timestamp("2026-12-06T02:46:20Z"), t);
  EXPECT_EQ(db::parse_timestamp("2026-12-06 02:46:20.123456"), t + 123456us);
  EXPECT_EQ(db::parse_timestamp("2026-12-06T04:46:20.5+02:00"), t + 500ms);
  EXPECT_EQ(db::parse_timestamp("2026-12-05T23:46:20-03:00"), t);
  EXPECT_EQ(db::parse_timestamp("1969-12-31T23:59:59Z"), db::timestamp{} - 1s);
  for (const char* bad : {"", "2026-12-06", "2026-13-01T00:00:00Z", "2026-02-30T00:00:00Z",
                          "2026-12-06T24:00:00Z", "2026-12-06T02:46:20.Z", "2026-12-06T02:46:20Zx",
                          "2026-12-06T02:46:20+0200", "x026-12-06T02:46:20Z"})
    EXPECT_EQ(db::parse_timestamp(bad), std::nullopt) << bad;
}

// Beyond RFC 3339's years 0000-9999, ISO 8601's expanded form: a sign and at least four digits.
// Every timestamp, to the ends of its range, is written in a form that reads back the same.
TEST(DbRow, TimestampsBeyondYear9999OrBeforeYear0RoundTripInTheExpandedForm) {
  using namespace std::chrono;
  const auto at = [](std::int64_t us) { return db::timestamp{microseconds(us)}; };
  constexpr std::int64_t y10000 = 253'402'300'800'000'000LL;  // 9999-12-31T23:59:59.999999Z + 1 us
  constexpr std::int64_t y0 = -62'167'219'200'000'000LL;      // 0000-01-01T00:00:00Z
  EXPECT_EQ(db::format_timestamp(at(y10000 - 1)), "9999-12-31T23:59:59.999999Z");
  EXPECT_EQ(db::format_timestamp(at(y10000)), "+10000-01-01T00:00:00Z");
  EXPECT_EQ(db::format_timestamp(at(y0)), "0000-01-01T00:00:00Z");
  EXPECT_EQ(db::format_timestamp(at(y0 - 1)), "-0001-12-31T23:59:59.999999Z");
  EXPECT_EQ(db::parse_timestamp("+10000-01-01T00:00:00Z"), at(y10000));
  EXPECT_EQ(db::parse_timestamp("-0001-12-31T23:59:59.999999Z"), at(y0 - 1));
  EXPECT_EQ(db::parse_timestamp("+2026-12-06T02:46:20Z"),
            db::parse_timestamp("2026-12-06T02:46:20Z"));

  std::vector<std::int64_t> samples = {std::numeric_limits<std::int64_t>::min(),
                                       std::numeric_limits<std::int64_t>::min() + 1,
                                       std::numeric_limits<std::int64_t>::max(),
                                       std::numeric_limits<std::int64_t>::max() - 1,
                                       -1,
                                       0,
                                       1,
                                       y0,
                                       y0 - 1,
                                       y10000,
                                       y10000 - 1};
  std::mt19937_64 rng(20261207);
  for (int i = 0; i < 20'000; ++i) samples.push_back(static_cast<std::int64_t>(rng()));
  for (const std::int64_t us : samples) {
    const std::string text = db::format_timestamp(at(us));
    ASSERT_EQ(db::parse_timestamp(text), at(us)) << us << " written as " << text;
  }
  // A year needs four digits, at most six with a sign, and must fit in a timestamp.
  for (const char* bad :
       {"+123-01-01T00:00:00Z", "-1234567-01-01T00:00:00Z", "12345-01-01T00:00:00Z",
        "+300000-01-01T00:00:00Z", "-300000-01-01T00:00:00Z", "+-2026-01-01T00:00:00Z"})
    EXPECT_EQ(db::parse_timestamp(bad), std::nullopt) << bad;
}

}  // namespace
