// Tests of the CLI's progress line, --stats table and demo text (tools/sluice/report.hpp,
// text_gen.hpp).
#include "report.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

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

// Whatever the width, the line never needs more columns than it is given: a longer one wraps,
// and the next "\r" redraw then leaves the wrapped part behind on the screen.
TEST(Report, ProgressNeverExceedsTheWidth) {
  const std::vector<progress_sample> samples{
      {.bytes = 100ull << 20, .total = 400ull << 20, .seconds = 2.0},
      {.bytes = 123456789012ull, .total = 987654321098ull, .seconds = 3.5},
      {.bytes = 3ull << 20, .total = {}, .seconds = 1.5},
      {.bytes = 0, .total = 0, .seconds = 0},
      {.bytes = 5, .total = 5, .seconds = 100000},
  };
  for (const auto& s : samples) {
    for (std::size_t width = 1; width <= 120; ++width) {
      const std::string line = format_progress(s, width);
      EXPECT_LE(line.size(), width) << "'" << line << "'";
      EXPECT_FALSE(line.empty()) << width;
    }
  }
}

// On 40 columns the numbers come first; the bar returns once there is room for it and them.
TEST(Report, ProgressKeepsTheNumbersOnANarrowTerminal) {
  const progress_sample s{.bytes = 100ull << 20, .total = 400ull << 20, .seconds = 2.0};
  const std::string narrow = format_progress(s, 39);
  EXPECT_EQ(narrow, " 25%  100 MiB / 400 MiB  50.0 MiB/s") << narrow;
  EXPECT_EQ(format_progress(s, 10), " 25%");
  EXPECT_EQ(format_progress(s, 2), " 2");
  const std::string wide = format_progress(s, 60);
  EXPECT_EQ(wide.front(), '[') << wide;
  EXPECT_NE(wide.find("ETA 0:06"), std::string::npos) << wide;
}

// The meter asks for the width at every redraw: a window made narrower gets narrower lines.
TEST(Report, MeterFollowsTheWidthAtEachRedraw) {
  sluice::manual_loop loop;
  std::FILE* out = std::tmpfile();
  ASSERT_NE(out, nullptr);
  std::size_t width = 80;
  std::vector<std::size_t> asked;
  progress_meter meter(
      loop,
      [] { return progress_sample{.bytes = 100ull << 20, .total = 400ull << 20, .seconds = 2}; },
      out, std::chrono::milliseconds(200),
      [&] {
        asked.push_back(width);
        return width;
      });
  meter.start();
  loop.start_timer(std::chrono::milliseconds(500), [&] { width = 30; });
  loop.start_timer(std::chrono::milliseconds(900), [&] { meter.stop(); });
  loop.run();
  ASSERT_GE(asked.size(), 4u);
  std::rewind(out);
  std::string text;
  for (int c; (c = std::fgetc(out)) != EOF;) text.push_back(static_cast<char>(c));
  std::fclose(out);
  std::vector<std::string> lines;
  for (std::size_t pos = 0; (pos = text.find('\r', pos)) != std::string::npos; ++pos) {
    const std::size_t end = text.find("\033[K", pos);
    lines.push_back(text.substr(pos + 1, end - pos - 1));
  }
  lines.pop_back();  // the erase at stop()
  ASSERT_GE(lines.size(), 4u);
  EXPECT_EQ(lines.front().front(), '[');
  EXPECT_LE(lines.front().size(), 79u);
  EXPECT_LE(lines.back().size(), 29u) << lines.back();
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
