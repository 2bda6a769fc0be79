// Binary COPY: the encoder on its own (PgBinary: no server), and the writer in binary format
// against the fixture's real server (PostgresBinary): rows encoded by the table's column types,
// text values parsed into them, values that do not fit refused before they are sent.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "db/pg_support.hpp"
#include "sluice/core/make.hpp"
#include "sluice/db/pg_copy_binary.hpp"
#include "sluice/db/postgres.hpp"

namespace {

using namespace sluice;
using namespace std::chrono_literals;
namespace pgb = db::pg_binary;
using test::psql;

std::string hex(std::string_view s) {
  static constexpr char d[] = "0123456789abcdef";
  std::string h;
  for (const char c : s) {
    h += d[static_cast<unsigned char>(c) >> 4];
    h += d[static_cast<unsigned char>(c) & 15];
  }
  return h;
}

template <class V>
std::string encoded(std::uint32_t type, const V& v) {
  std::string out;
  const std::string why = pgb::append(out, type, v);
  EXPECT_EQ(why, "") << "type " << type;
  return hex(out);
}

template <class V>
std::string refused(std::uint32_t type, const V& v) {
  std::string out = "kept";
  std::string why = pgb::append(out, type, v);
  EXPECT_EQ(out, "kept") << "a refused value must leave the output as it was";
  return why;
}

TEST(PgBinary, IntegersTakeTheColumnsWidthNotTheFields) {
  const std::int64_t five = 5;
  EXPECT_EQ(encoded(pgb::oid::int2, five), "000000020005");
  EXPECT_EQ(encoded(pgb::oid::int4, five), "0000000400000005");
  EXPECT_EQ(encoded(pgb::oid::int8, five), "000000080000000000000005");
  EXPECT_EQ(encoded(pgb::oid::int4, std::int64_t{-1}), "00000004ffffffff");
  EXPECT_EQ(refused(pgb::oid::int2, std::int64_t{70000}), "70000 is out of range for smallint");
  EXPECT_EQ(refused(pgb::oid::int4, std::int64_t{3'000'000'000}),
            "3000000000 is out of range for integer");
  EXPECT_EQ(refused(pgb::oid::int8, std::uint64_t{1} << 63),
            "9223372036854775808 is out of range for bigint");
  EXPECT_EQ(refused(pgb::oid::int4, 3.5),
            "a floating-point value (3.5) does not go into a column "
            "of type integer");
  EXPECT_EQ(encoded(pgb::oid::float8, std::int64_t{2}), "000000084000000000000000");
  EXPECT_EQ(encoded(pgb::oid::float4, 1.5), "000000043fc00000");
  EXPECT_EQ(refused(pgb::oid::float4, 1e300), "1e+300 is out of range for real");
  EXPECT_EQ(encoded(pgb::oid::boolean, true), "0000000101");
}

TEST(PgBinary, TextIsParsedIntoTheColumnsType) {
  using sv = std::string_view;
  EXPECT_EQ(encoded(pgb::oid::int4, sv(" 42 ")), "000000040000002a");
  EXPECT_EQ(encoded(pgb::oid::int8, sv("+7")), "000000080000000000000007");
  EXPECT_EQ(refused(pgb::oid::int8, sv("12x")), "'12x' is not a valid bigint");
  EXPECT_EQ(refused(pgb::oid::int2, sv("40000")), "'40000' is out of range for smallint");
  EXPECT_EQ(encoded(pgb::oid::float8, sv("-Infinity")), "00000008fff0000000000000");
  EXPECT_EQ(encoded(pgb::oid::boolean, sv("Yes")), "0000000101");
  EXPECT_EQ(encoded(pgb::oid::boolean, sv("off")), "0000000100");
  EXPECT_EQ(refused(pgb::oid::boolean, sv("maybe")), "'maybe' is not a valid boolean");
  // Timestamps count microseconds from 2000-01-01 UTC; a timestamp without time zone keeps the
  // wall clock and ignores an offset, as the server does with text.
  EXPECT_EQ(encoded(pgb::oid::timestamptz, sv("2000-01-01T00:00:01Z")), "0000000800000000000f4240");
  EXPECT_EQ(encoded(pgb::oid::timestamptz, sv("2000-01-01 02:00:01+02:00")),
            "0000000800000000000f4240");
  EXPECT_EQ(encoded(pgb::oid::timestamp, sv("2000-01-01 00:00:01+02:00")),
            "0000000800000000000f4240");
  EXPECT_EQ(encoded(pgb::oid::date, sv("2000-01-02")), "0000000400000001");
  EXPECT_EQ(encoded(pgb::oid::date, sv("1999-12-31")), "00000004ffffffff");
  EXPECT_NE(refused(pgb::oid::date, sv("2000-02-30")), "");
  EXPECT_EQ(encoded(pgb::oid::uuid, sv("A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11")),
            "00000010a0eebc999c0b4ef8bb6d6bb9bd380a11");
  EXPECT_EQ(refused(pgb::oid::uuid, sv("a0eebc99")), "'a0eebc99' is not a valid uuid");
  EXPECT_EQ(encoded(pgb::oid::bytea, sv("\\x00ff")), "0000000200ff");
  EXPECT_EQ(encoded(pgb::oid::bytea, sv("ab")), "000000026162");
  EXPECT_EQ(encoded(pgb::oid::jsonb, sv("{}")), "00000003017b7d");
  EXPECT_EQ(encoded(pgb::oid::text, sv("é")), "00000002c3a9");
}

TEST(PgBinary, StreamFramingAndRows) {
  std::string out;
  pgb::append_header(out);
  EXPECT_EQ(out.size(), 19u);
  EXPECT_EQ(out.substr(0, 11), std::string("PGCOPY\n\377\r\n\0", 11));
  const std::vector<std::uint32_t> types{pgb::oid::int4, pgb::oid::text};
  pgb::row_error e;
  std::string row;
  ASSERT_TRUE(
      pgb::append_row(row, std::tuple<std::int64_t, std::optional<std::string>>{1, {}}, types, e));
  EXPECT_EQ(hex(row), "00020000000400000001ffffffff");
  // A record's bad column is named and the row left out whole.
  db::record r{{std::string("1"), std::string("x")}, {}};
  const std::vector<std::uint32_t> two_ints{pgb::oid::int4, pgb::oid::int4};
  std::string kept = "kept";
  EXPECT_FALSE(pgb::append_row(kept, r, two_ints, e));
  EXPECT_EQ(kept, "kept");
  EXPECT_EQ(e.column, 1u);
  EXPECT_EQ(e.reason, "'x' is not a valid integer");
  pgb::append_trailer(out);
  EXPECT_EQ(hex(out.substr(19)), "ffff");
}

TEST(PgBinary, UnsupportedColumnTypesAreNamed) {
  const std::vector<std::uint32_t> types{pgb::oid::int4, 1700};
  const std::vector<std::string> names{"id", "amount"};
  EXPECT_EQ(pgb::check_types(types, names),
            "column amount has type numeric, which binary COPY in sluice does not encode (use "
            "the text format)");
  EXPECT_EQ(pgb::check_types(std::vector<std::uint32_t>{pgb::oid::int8, pgb::oid::jsonb}, names),
            "");
}

// ---- against the server -------------------------------------------------------------------------

struct reading {
  std::int32_t id;     // into a bigint column: sent as 8 bytes
  std::int64_t small;  // into a smallint column: sent as 2 bytes when it fits
  std::string name;
  float ratio;  // into double precision
  std::optional<db::timestamp> at;
  buffer raw;
  bool ok;
};

reading make_reading(int i) {
  using namespace std::chrono;
  return reading{i,
                 i % 1000,
                 "r\t" + std::to_string(i) + "\n\\N é",
                 static_cast<float>(i) / 4,
                 i % 3 == 0 ? std::nullopt
                            : std::optional(db::timestamp(sys_days(2026y / 12 / 6)) +
                                            microseconds(i * 1'000'001)),
                 buffer(std::string("\0\xff", 2) + std::to_string(i)),
                 i % 2 == 0};
}

struct load {
  std::vector<int> calls;
  std::vector<std::error_code> codes;
  std::error_code end_ec;
  bool ended = false;
};

template <class Row, class W, class Make>
void write_all(boost::asio::io_context& io, W& w, int n, load& out, Make make) {
  out.calls.assign(static_cast<std::size_t>(n), 0);
  out.codes.assign(static_cast<std::size_t>(n), {});
  for (int i = 0; i < n; ++i)
    w->write(make(i), [&out, i](std::error_code ec) {
      ++out.calls[static_cast<std::size_t>(i)];
      out.codes[static_cast<std::size_t>(i)] = ec;
    });
  w->end([&out](std::error_code ec) {
    out.ended = true;
    out.end_ec = ec;
  });
  ASSERT_TRUE(test::run_until(io, [&] { return out.ended; }));
}

TEST(PostgresBinary, TypedRowsGoInByTheTablesColumnTypes) {
  SLUICE_NEED_PG();
  psql(
      "DROP TABLE IF EXISTS bin_readings; CREATE TABLE bin_readings (id bigint primary key, "
      "small smallint, name text, ratio double precision, at timestamptz, raw bytea, ok boolean)");
  boost::asio::io_context io;
  asio_loop l(io);
  auto w = db::make_pg_copy_writer<reading>(
      l, test::pg_conninfo(), "bin_readings",
      {.format = db::pg_copy_format::binary, .batch = {.max_items = 300}});
  load r;
  write_all<reading>(io, w, 1000, r, make_reading);
  EXPECT_FALSE(r.end_ec) << w->error_message();
  for (int i = 0; i < 1000; ++i) {
    ASSERT_EQ(r.calls[static_cast<std::size_t>(i)], 1) << i;
    ASSERT_FALSE(r.codes[static_cast<std::size_t>(i)]) << i;
  }
  EXPECT_EQ(psql("SELECT count(*), sum(id), sum(small) FROM bin_readings"), "1000|499500|499500");
  EXPECT_EQ(psql("SELECT name = E'r\\t7\\n\\\\N é', ratio, at = '2026-12-06 00:00:07.000007+00', "
                 "encode(raw, 'hex'), ok FROM bin_readings WHERE id = 7"),
            "t|1.75|t|00ff37|f");
  EXPECT_EQ(psql("SELECT at IS NULL, ok FROM bin_readings WHERE id = 9"), "t|f");

  // The text format loads the same rows to the same values.
  psql("CREATE TABLE bin_readings_text (LIKE bin_readings)");
  auto t = db::make_pg_copy_writer<reading>(l, test::pg_conninfo(), "bin_readings_text",
                                            {.batch = {.max_items = 300}});
  load rt;
  write_all<reading>(io, t, 1000, rt, make_reading);
  EXPECT_FALSE(rt.end_ec) << t->error_message();
  EXPECT_EQ(psql("SELECT count(*) FROM (SELECT * FROM bin_readings EXCEPT "
                 "SELECT * FROM bin_readings_text) d"),
            "0");
  psql("DROP TABLE bin_readings_text");
}

TEST(PostgresBinary, AValueThatDoesNotFitItsColumnIsRefusedBeforeItIsSent) {
  SLUICE_NEED_PG();
  psql("DROP TABLE IF EXISTS bin_fit; CREATE TABLE bin_fit (id integer, n smallint)");
  boost::asio::io_context io;
  asio_loop l(io);
  using row = std::tuple<std::int64_t, std::int64_t>;
  auto w = db::make_pg_copy_writer<row>(
      l, test::pg_conninfo(), "bin_fit",
      {.format = db::pg_copy_format::binary, .batch = {.max_items = 10}});
  load r;
  write_all<row>(io, w, 25, r, [](int i) { return row{i, i == 13 ? 40000 : i}; });
  EXPECT_TRUE(r.end_ec);
  EXPECT_EQ(r.end_ec, make_error_code(db::pg_errc::bad_value));
  EXPECT_EQ(w->error_message().rfind("postgres COPY bin_fit: row 13 (line 4 of batch 2): column "
                                     "n: 40000 is out of range for smallint",
                                     0),
            0u)
      << w->error_message();
  // The batch before is committed and acknowledged; the failing one is not.
  EXPECT_EQ(psql("SELECT count(*) FROM bin_fit"), "10");
  for (int i = 0; i < 10; ++i) EXPECT_FALSE(r.codes[static_cast<std::size_t>(i)]) << i;
  for (int i = 10; i < 20; ++i) EXPECT_TRUE(r.codes[static_cast<std::size_t>(i)]) << i;
}

TEST(PostgresBinary, TextRecordsAreParsedAndBadOnesDivertedToRejected) {
  SLUICE_NEED_PG();
  psql(
      "DROP TABLE IF EXISTS bin_rec; CREATE TABLE bin_rec (id bigint primary key, at date, "
      "u uuid, doc jsonb)");
  boost::asio::io_context io;
  asio_loop l(io);
  std::vector<db::record> refused_rows;
  auto rejected =
      make_writable<db::record>(l, {.write = [&](writable<db::record>&, db::record&& r, auto cb) {
                                  refused_rows.push_back(std::move(r));
                                  cb();
                                }});
  auto w = db::make_pg_record_writer(
      l, test::pg_conninfo(), "bin_rec",
      {.format = db::pg_copy_format::binary, .rejected = rejected, .batch = {.max_items = 40}});
  auto names = std::make_shared<const std::vector<std::string>>(
      std::vector<std::string>{"id", "at", "u", "doc"});
  load r;
  write_all<db::record>(io, w, 100, r, [&](int i) {
    db::record rec{{std::string(std::to_string(i)), std::string("2026-12-06"),
                    std::string("a0eebc99-9c0b-4ef8-bb6d-6bb9bd3800" + std::to_string(10 + i % 80)),
                    std::string("{\"i\": " + std::to_string(i) + "}")},
                   names};
    if (i == 5) rec.values[1] = std::string("2026-13-01");  // refused by sluice: no month 13
    if (i == 50) rec.values[0] = std::string("3");          // refused by the server: a duplicate
    if (i == 77) rec.values[3] = std::string("{broken");    // refused by the server: not JSON
    if (i == 90) rec.values[1] = db::null;
    return rec;
  });
  EXPECT_FALSE(r.end_ec) << w->error_message();
  for (int i = 0; i < 100; ++i) {
    EXPECT_EQ(r.calls[static_cast<std::size_t>(i)], 1) << i;
    EXPECT_FALSE(r.codes[static_cast<std::size_t>(i)]) << i;
  }
  std::vector<std::string> ids;
  for (auto& rec : refused_rows) ids.push_back(std::get<std::string>(rec.values[0]));
  std::sort(ids.begin(), ids.end());
  EXPECT_EQ(ids, (std::vector<std::string>{"3", "5", "77"}));
  EXPECT_EQ(psql("SELECT count(*), count(at), sum((doc->>'i')::int) FROM bin_rec"),
            "97|96|" + std::to_string(4950 - 5 - 50 - 77));
  EXPECT_EQ(psql("SELECT at, u FROM bin_rec WHERE id = 7"),
            "2026-12-06|a0eebc99-9c0b-4ef8-bb6d-6bb9bd380017");
}

TEST(PostgresBinary, AColumnTypeItCannotEncodeFailsTheFirstBatchNamingIt) {
  SLUICE_NEED_PG();
  psql("DROP TABLE IF EXISTS bin_numeric; CREATE TABLE bin_numeric (id bigint, amount numeric)");
  boost::asio::io_context io;
  asio_loop l(io);
  using row = std::tuple<std::int64_t, double>;
  auto w = db::make_pg_copy_writer<row>(l, test::pg_conninfo(), "bin_numeric",
                                        {.format = db::pg_copy_format::binary});
  load r;
  write_all<row>(io, w, 3, r, [](int i) { return row{i, i * 1.5}; });
  EXPECT_TRUE(r.end_ec);
  EXPECT_NE(w->error_message().find("column amount has type numeric"), std::string::npos)
      << w->error_message();
  for (auto& ec : r.codes) EXPECT_TRUE(ec);
  EXPECT_EQ(psql("SELECT count(*) FROM bin_numeric"), "0");
}

}  // namespace
