// Tests of the CLI's progress line, --stats table and demo text (tools/sluice/report.hpp,
// text_gen.hpp).
#include "report.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>

#include "text_gen.hpp"

namespace {

using namespace sluice::cli;

TEST(Report, FormatBytes) {
  EXPECT_EQ(format_bytes(0), "0 B");
  EXPECT_EQ(format_bytes(1023), "1023 B");
  EXPECT_EQ(format_bytes(1024), "1.00 KiB");
  EXPECT_EQ(format_bytes(1536), "1.50 KiB");
  EXPECT_EQ(format_bytes(12ull << 20), "12.0 MiB");
  EXPECT_EQ(format_bytes(274ull << 20), "274 MiB");
  EXPECT_EQ(format_bytes(1ull << 30), "1.00 GiB");
}

TEST(Report, FormatDuration) {
  EXPECT_EQ(format_duration(0), "0:00");
  EXPECT_EQ(format_duration(7.4), "0:07");
  EXPECT_EQ(format_duration(754), "12:34");
  EXPECT_EQ(format_duration(3723), "1:02:03");
  EXPECT_EQ(format_duration(-1), "--:--");
}

TEST(Report, ProgressWithKnownSizeHasBarPercentAndEta) {
  const std::string line =
      format_progress({.bytes = 100ull << 20, .total = 400ull << 20, .seconds = 2.0}, 80);
  EXPECT_LE(line.size(), 80u);
  EXPECT_EQ(line.front(), '[');
  EXPECT_NE(line.find(" 25%"), std::string::npos) << line;
  EXPECT_NE(line.find("100 MiB / 400 MiB"), std::string::npos) << line;
  EXPECT_NE(line.find("50.0 MiB/s"), std::string::npos) << line;
  EXPECT_NE(line.find("ETA 0:06"), std::string::npos) << line;
  // A quarter of the bar is filled.
  const auto close = line.find(']');
  const auto filled = std::count(line.begin(), line.begin() + static_cast<long>(close), '#');
  EXPECT_EQ(static_cast<std::size_t>(filled), (close - 1) / 4);
}

TEST(Report, ProgressWithUnknownSizeHasBytesAndRate) {
  EXPECT_EQ(format_progress({.bytes = 3ull << 20, .total = {}, .seconds = 1.5}),
            "3.00 MiB  2.00 MiB/s");
  EXPECT_EQ(format_progress({.bytes = 0, .total = {}, .seconds = 0}), "0 B  -");
}

TEST(Report, ProgressOnANarrowTerminalDropsTheBar) {
  const std::string line = format_progress({.bytes = 1, .total = 2, .seconds = 1}, 30);
  EXPECT_EQ(line.find('['), std::string::npos) << line;
  EXPECT_NE(line.find("50%"), std::string::npos) << line;
}

TEST(Report, StatsTableHasOneRowPerStage) {
  sluice::stream_counters src;
  src.bytes_out = 1 << 20;
  src.chunks_out = 16;
  sluice::stream_counters mid;
  mid.bytes_in = 1 << 20;
  mid.chunks_in = 16;
  mid.bytes_out = 1000;
  mid.write_backpressure = 3;
  mid.drains = 3;
  mid.write_backpressured_time = std::chrono::milliseconds(250);
  sluice::stream_counters dst;
  dst.bytes_in = 1000;
  const std::string t = format_stats({{"read a.log", src, false, true},
                                      {"gzip", mid, true, true},
                                      {"write a.gz", dst, true, false}},
                                     1.25);
  EXPECT_NE(t.find("1.250 s"), std::string::npos) << t;
  EXPECT_NE(t.find("read a.log"), std::string::npos);
  // The gzip row: its in/out bytes, 3 episodes, 0.250 s, 3 drains.
  const auto row = t.substr(t.find("  gzip"));
  const std::string gzip_row = row.substr(0, row.find('\n'));
  EXPECT_NE(gzip_row.find("1.00 MiB"), std::string::npos) << gzip_row;
  EXPECT_NE(gzip_row.find("1000 B"), std::string::npos) << gzip_row;
  EXPECT_NE(gzip_row.find("0.250 s"), std::string::npos) << gzip_row;
  // A source has no input column values.
  const auto src_row = t.substr(t.find("read a.log"));
  EXPECT_EQ(src_row.substr(0, src_row.find('\n')).find(" - "), src_row.find(" - ")) << src_row;
}

TEST(TextGen, SameSizeSameBytesAndCompressibleLines) {
  std::string a, b;
  generate_text(a, 100000);
  generate_text(b, 100000);
  EXPECT_EQ(a.size(), 100000u);
  EXPECT_EQ(a, b);
  const auto lines = std::count(a.begin(), a.end(), '\n');
  EXPECT_GT(lines, 500);
  EXPECT_LT(lines, 2000);
  std::string c;
  generate_text(c, 1000, 2);
  EXPECT_NE(c, a.substr(0, 1000));
}

}  // namespace
