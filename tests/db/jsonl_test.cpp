// sluice/db/jsonl.hpp: jsonl_parser (objects and arrays, keys to columns, value kinds, blank
// lines, every chunk split, errors naming the line and key, line limit, backpressure, destroy)
// and jsonl_writer (objects by column names, arrays, escaping, bytes, timestamps, doubles,
// coalescing), round trip.
#include "sluice/db/jsonl.hpp"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>
#include <cmath>
#include <memory>
#include <random>
#include <string>
#include <system_error>
#include <vector>

#include "sluice/core/loop.hpp"

namespace {

using sluice::buffer;
using sluice::manual_loop;
namespace db = sluice::db;

struct outcome {
  std::vector<db::record> rows;
  std::error_code error;
  std::string message;
  bool ended = false;
};

outcome parse(const std::vector<std::string>& pieces, db::jsonl_options o = {}) {
  manual_loop loop;
  auto p = db::parse_jsonl(loop, o);
  outcome r;
  p->on_data([&](db::record&& row) { r.rows.push_back(std::move(row)); });
  p->on_error([&](std::error_code ec) {
    r.error = ec;
    r.message = p->error_message();
  });
  p->on_end([&] { r.ended = true; });
  for (const auto& s : pieces) p->write(buffer::copy_of(s));
  p->end();
  loop.run();
  return r;
}

std::string write_all(std::vector<db::record> rows) {
  manual_loop loop;
  auto w = db::write_jsonl(loop);
  std::string out;
  w->on_data([&](buffer&& b) { out += b.view(); });
  for (auto& r : rows) w->write(std::move(r));
  w->end();
  loop.run();
  return out;
}

db::column_names names(std::vector<std::string> n) {
  return std::make_shared<const std::vector<std::string>>(std::move(n));
}

TEST(JsonlParser, ObjectsMapKeysToTheFirstObjectsColumnsAtEveryChunkSplit) {
  const std::string text =
      "{\"id\":1,\"name\":\"a\\\"b\",\"v\":2.5}\r\n\n{\"v\":-1e3,\"id\":18446744073709551615}\n"
      "  \n{\"name\":null,\"id\":-7,\"v\":true}";
  for (std::size_t i = 0; i <= text.size(); ++i) {
    const auto r = parse({text.substr(0, i), text.substr(i)});
    ASSERT_FALSE(r.error) << r.message << " at " << i;
    ASSERT_EQ(r.rows.size(), 3u);
    EXPECT_EQ(*r.rows[0].columns, (std::vector<std::string>{"id", "name", "v"}));
    EXPECT_EQ(r.rows[0].columns.get(), r.rows[2].columns.get());
    EXPECT_EQ(r.rows[0].values,
              (std::vector<db::value>{std::int64_t{1}, std::string("a\"b"), 2.5}));
    // A key left out is NULL; a number beyond int64 is a double.
    EXPECT_EQ(r.rows[1].values,
              (std::vector<db::value>{18446744073709551615.0, db::null, -1000.0}));
    EXPECT_EQ(r.rows[2].values, (std::vector<db::value>{std::int64_t{-7}, db::null, true}));
  }
}

TEST(JsonlParser, ArraysByPosition) {
  const auto r = parse({"[1,\"x\",null]\n[false,\"\",0.5]\n"});
  ASSERT_FALSE(r.error) << r.message;
  EXPECT_FALSE(r.rows[0].columns);
  EXPECT_EQ(r.rows[1].values, (std::vector<db::value>{false, std::string(), 0.5}));
  const auto bad = parse({"[1,2]\n[1]\n"});
  EXPECT_EQ(bad.message,
            "jsonl: line 2: 1 values where the first line has 2: wrong number of values");
}

TEST(JsonlParser, ErrorsNameTheLineAndKey) {
  const auto syntax = parse({"{\"a\":1}\n\n{\"a\":1,}\n"});
  EXPECT_EQ(syntax.error, db::jsonl_errc::syntax_error);
  EXPECT_TRUE(syntax.message.starts_with("jsonl: line 3, byte ")) << syntax.message;
  EXPECT_TRUE(syntax.message.ends_with("): syntax error")) << syntax.message;
  EXPECT_EQ(syntax.rows.size(), 1u);
  EXPECT_EQ(parse({"{\"a\":1}\n{\"a\":2,\"b\":3}\n"}).message,
            "jsonl: line 2, key \"b\": unknown key");
  EXPECT_EQ(parse({"{\"a\":[1]}\n"}).message, "jsonl: line 1, key \"a\": nested array or object");
  EXPECT_EQ(parse({"42\n"}).message, "jsonl: line 1: not an object or an array");
  EXPECT_EQ(parse({"[1]\n{\"a\":1}\n"}).message,
            "jsonl: line 2 (an object after arrays): not an object or an array");
  const auto text = parse({"{\"a\":{\"b\":[1,2]}}\n"}, {.nested_as_text = true});
  ASSERT_FALSE(text.error) << text.message;
  EXPECT_EQ(text.rows[0].values[0], db::value(std::string("{\"b\":[1,2]}")));
}

TEST(JsonlParser, UnderSkipBadLinesAreReportedWithTheirLineAndTheRestGoOnAtEverySplit) {
  // The first line is bad too: it must not fix the columns.
  const std::string text =
      "{\"a\":1,\"b\":\n{\"a\":1,\"b\":2}\n[1,2]\n{\"a\":3,\"c\":4}\n{\"b\":5}\n{\"a\":6} x";
  for (std::size_t i = 0; i <= text.size(); ++i) {
    std::vector<sluice::skipped_item> skipped;
    const auto r =
        parse({text.substr(0, i), text.substr(i)},
              {.skip = sluice::skip_policy{
                   .on_skip = [&](const sluice::skipped_item& s) { skipped.push_back(s); }}});
    ASSERT_FALSE(r.error) << r.message << " at " << i;
    EXPECT_TRUE(r.ended);
    ASSERT_EQ(r.rows.size(), 2u) << i;
    EXPECT_EQ(*r.rows[0].columns, (std::vector<std::string>{"a", "b"}));
    EXPECT_EQ(r.rows[1].values, (std::vector<db::value>{db::null, std::int64_t{5}}));
    ASSERT_EQ(skipped.size(), 4u) << i;
    EXPECT_EQ(skipped[0].index, 0u);
    EXPECT_EQ(skipped[0].error, db::jsonl_errc::syntax_error);
    EXPECT_EQ(skipped[1].error, db::jsonl_errc::not_a_row);
    EXPECT_EQ(skipped[2].error, db::jsonl_errc::unknown_key);
    EXPECT_EQ(skipped[2].detail, "jsonl: line 4, key \"c\"");
    EXPECT_EQ(skipped[3].index, 5u);  // the last line, completed at the end
  }
}

TEST(JsonlParser, UnderSkipALineTooLongIsSkippedWhenItsEndIsKnown) {
  std::uint64_t skipped = 0;
  const auto r = parse(
      {"[1]\n[" + std::string(100, '2') + "]\n[3]\n"},
      {.max_line_length = 50,
       .skip = sluice::skip_policy{.on_skip = [&](const sluice::skipped_item&) { ++skipped; }}});
  ASSERT_FALSE(r.error) << r.message;
  EXPECT_EQ(r.rows.size(), 2u);
  EXPECT_EQ(skipped, 1u);
}

TEST(JsonlParser, LineLimitFailsBeforeHoldingTheWholeLine) {
  const auto r = parse({"[1]\n[\"", std::string(100, 'x'), "\"]\n"}, {.max_line_length = 50});
  EXPECT_EQ(r.error, db::jsonl_errc::line_too_long);
  EXPECT_EQ(r.message, "jsonl: line 2 is longer than the limit of 50 bytes: line too long");
  EXPECT_EQ(r.rows.size(), 1u);
}

TEST(JsonlParser, BackpressureHoldsTheWriteAndDestroyFailsItOnce) {
  manual_loop loop;
  auto p =
      db::parse_jsonl(loop, {}, {.readable_high_water_mark = 2, .writable_high_water_mark = 16});
  std::string text;
  for (int i = 0; i < 40; ++i) text += "[" + std::to_string(i) + "]\n";
  std::vector<std::error_code> cbs;
  EXPECT_FALSE(p->write(buffer::copy_of(text), [&](std::error_code ec) { cbs.push_back(ec); }));
  loop.run_until_idle();
  EXPECT_TRUE(cbs.empty());  // nobody reads: not acknowledged
  EXPECT_LE(p->readable_length(), 3u);
  std::vector<std::int64_t> got;
  p->on_data([&](db::record&& r) {
    got.push_back(std::get<std::int64_t>(r.values[0]));
    if (got.size() == 10) p->destroy();
  });
  loop.run();
  EXPECT_LE(got.size(), 13u);  // no more than what was already buffered
  ASSERT_EQ(cbs.size(), 1u);
  EXPECT_TRUE(cbs[0]);  // its records were not all handed on
}

TEST(JsonlWriter, ObjectsByColumnNameArraysWithoutEscapingByBoost) {
  const auto t = db::parse_timestamp("2026-12-06T02:46:20Z").value();
  const std::string out =
      write_all({{{std::int64_t{1}, std::string("quote \" tab \t nl \n é"), db::null, 0.1, true, t,
                   buffer::copy_of(std::string("\x01\xfe", 2)), std::nan("")},
                  names({"id", "te\"xt", "n", "d", "b", "t", "bytes", "nan"})},
                 {{std::int64_t{2}, false}, {}}});
  EXPECT_EQ(
      out,
      "{\"id\":1,\"te\\\"xt\":\"quote \\\" tab \\t nl \\n é\",\"n\":null,\"d\":0.1,\"b\":true,"
      "\"t\":\"2026-12-06T02:46:20Z\",\"bytes\":\"\\\\x01fe\",\"nan\":null}\n[2,false]\n");
}

TEST(JsonlRoundTrip, RandomRecordsComeBackEqualAtRandomSplits) {
  std::mt19937_64 rng(7);
  const auto cols = names({"a", "b \"c\"", "d"});
  std::vector<db::record> rows;
  for (int i = 0; i < 300; ++i) {
    db::record r{{}, cols};
    for (int c = 0; c < 3; ++c) {
      switch (rng() % 5) {
        case 0:
          r.values.emplace_back(db::null);
          break;
        case 1:
          r.values.emplace_back(static_cast<std::int64_t>(rng()));
          break;
        case 2:
          r.values.emplace_back(
              std::ldexp(static_cast<double>(rng() % 999983), static_cast<int>(rng() % 60) - 30));
          break;
        case 3:
          r.values.emplace_back(rng() % 2 == 0);
          break;
        default: {
          std::string s;
          for (int k = static_cast<int>(rng() % 6); k > 0; --k) s += "\"\\\n\x01 é,{["[rng() % 11];
          r.values.emplace_back(std::move(s));
        }
      }
    }
    rows.push_back(std::move(r));
  }
  const std::string text = write_all(rows);
  // Every line is JSON that Boost.JSON reads back as an object.
  EXPECT_TRUE(boost::json::parse(text.substr(0, text.find('\n'))).is_object());
  std::vector<std::string> pieces;
  for (std::size_t pos = 0; pos < text.size();) {
    const std::size_t n = std::min<std::size_t>(text.size() - pos, 1 + rng() % 300);
    pieces.push_back(text.substr(pos, n));
    pos += n;
  }
  const auto back = parse(pieces);
  ASSERT_FALSE(back.error) << back.message;
  ASSERT_EQ(back.rows.size(), rows.size());
  for (std::size_t i = 0; i < rows.size(); ++i) EXPECT_EQ(back.rows[i].values, rows[i].values) << i;
}

}  // namespace
