// sluice/codec/lines.hpp: line_splitter (chunk boundaries, "\r\n", empty and last lines, the
// length limit, backpressure) and the coroutine form, lines(source) with async_next.
#include "sluice/codec/lines.hpp"

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <system_error>
#include <vector>

#include "sluice/compose/from.hpp"
#include "sluice/core/asio_loop.hpp"
#include "sluice/core/loop.hpp"
#include "sluice/io/file.hpp"
#include "support/slow_reader.hpp"
#include "support/temp_files.hpp"

namespace {

namespace asio = boost::asio;
using sluice::buffer;
using sluice::line_options;
using sluice::line_splitter;
using sluice::manual_loop;

using lines_t = std::vector<std::string>;

struct outcome {
  lines_t lines;
  std::error_code error;  // 'error'
  std::string message;    // error_message() at 'error'
  bool ended = false;
};

// Writes each piece, ends, runs the loop to completion; collects lines in flowing mode.
outcome split(const std::vector<std::string>& pieces, line_options lo = {}) {
  manual_loop loop;
  auto t = std::make_shared<line_splitter>(loop, lo);
  outcome r;
  t->on_data([&](std::string&& line) { r.lines.push_back(std::move(line)); });
  t->on_error([&](std::error_code ec) {
    r.error = ec;
    r.message = t->error_message();
  });
  t->on_end([&] { r.ended = true; });
  for (const auto& p : pieces) t->write(buffer::copy_of(p));
  t->end();
  loop.run();
  return r;
}

// Every cut of `s` into two and three pieces.
void for_each_cut(const std::string& s, const std::function<void(const lines_t&)>& fn) {
  for (std::size_t i = 0; i <= s.size(); ++i) {
    fn({s.substr(0, i), s.substr(i)});
    for (std::size_t j = i; j <= s.size(); ++j)
      fn({s.substr(0, i), s.substr(i, j - i), s.substr(j)});
  }
}

TEST(LineSplitter, CrLfCutAnywhereBetweenChunks) {
  const std::string text = "alpha\r\nbeta\nx\r\r\n\r\ngamma";
  const lines_t expected{"alpha", "beta", "x\r", "", "gamma"};
  for_each_cut(text, [&](const lines_t& pieces) {
    const outcome r = split(pieces);
    EXPECT_EQ(r.lines, expected) << pieces[0].size() << "+" << pieces[1].size();
    EXPECT_TRUE(r.ended);
  });
}

TEST(LineSplitter, EmptyLinesAndNoTrailingEmptyLine) {
  EXPECT_EQ(split({"\n\n"}).lines, (lines_t{"", ""}));
  EXPECT_EQ(split({"\r\n"}).lines, (lines_t{""}));
  EXPECT_EQ(split({"one\n"}).lines, (lines_t{"one"}));
  EXPECT_EQ(split({""}).lines, lines_t{});
  EXPECT_TRUE(split({}).ended);
  EXPECT_EQ(split({}).lines, lines_t{});
}

TEST(LineSplitter, LastLineWithoutNewlineIsDelivered) {
  EXPECT_EQ(split({"one\ntw", "o"}).lines, (lines_t{"one", "two"}));
  EXPECT_EQ(split({"no newline at all"}).lines, (lines_t{"no newline at all"}));
  // A lone "\r" at the very end is not a line ending.
  EXPECT_EQ(split({"a\r"}).lines, (lines_t{"a\r"}));
}

TEST(LineSplitter, TooLongLineFailsNamingLineAndLimit) {
  const outcome r = split({"abcd\n", "ok\nabcde\nnever\n"}, {.max_line_length = 4});
  EXPECT_EQ(r.lines, (lines_t{"abcd", "ok"}));
  EXPECT_EQ(r.error, sluice::lines_errc::line_too_long);
  EXPECT_EQ(r.message, "line 3 is longer than the limit of 4 bytes: line too long");
  EXPECT_FALSE(r.ended);
}

TEST(LineSplitter, LimitExcludesTheLineEndingWhereverItIsCut) {
  for_each_cut("abcd\r\nefgh\r\nijkl", [](const lines_t& pieces) {
    const outcome r = split(pieces, {.max_line_length = 4});
    EXPECT_FALSE(r.error) << r.message;
    EXPECT_EQ(r.lines, (lines_t{"abcd", "efgh", "ijkl"}));
  });
  // One byte over, as the last line, or as a "\r" that no "\n" follows.
  EXPECT_EQ(split({"abcde"}, {.max_line_length = 4}).error, sluice::lines_errc::line_too_long);
  EXPECT_EQ(split({"abcd\r"}, {.max_line_length = 4}).error, sluice::lines_errc::line_too_long);
}

TEST(LineSplitter, TooLongLineFailsBeforeItsNewlineArrives) {
  // An endless line must not be held: the stream fails once it is over the limit.
  manual_loop loop;
  auto t = std::make_shared<line_splitter>(loop, line_options{.max_line_length = 100});
  std::error_code error;
  t->on_error([&](std::error_code ec) { error = ec; });
  t->resume();
  int writes = 0;
  while (!t->destroyed() && writes < 1000) {
    t->write(buffer::copy_of(std::string(30, 'x')));
    ++writes;
    loop.run();
  }
  EXPECT_EQ(error, sluice::lines_errc::line_too_long);
  EXPECT_EQ(writes, 4);  // 120 bytes > 100
  EXPECT_EQ(t->error_message(), "line 1 is longer than the limit of 100 bytes: line too long");
}

TEST(LineSplitter, ManySmallChunks) {
  std::string text;
  lines_t expected;
  for (int i = 0; i < 500; ++i) {
    expected.push_back(i % 7 == 0 ? "" : "line " + std::to_string(i));
    text += expected.back() + (i % 2 == 0 ? "\r\n" : "\n");
  }
  std::vector<std::string> bytes;
  for (char c : text) bytes.emplace_back(1, c);
  const outcome r = split(bytes);
  EXPECT_EQ(r.lines, expected);
  EXPECT_TRUE(r.ended);
}

TEST(LineSplitter, SlowConsumerKeepsBufferedLinesBounded) {
  // One chunk of 10,000 short lines; the consumer reads one line per loop turn. The splitter
  // must stop pushing at its highWaterMark (in lines) and hold the write's acknowledgement.
  manual_loop loop;
  constexpr std::size_t hwm = 8;
  auto t = std::make_shared<line_splitter>(
      loop, line_options{}, sluice::transform_options{.readable_high_water_mark = hwm});
  std::string text;
  for (int i = 0; i < 10000; ++i) text += std::to_string(i) + "\n";
  bool acked = false;
  t->write(buffer::copy_of(text), [&](std::error_code) { acked = true; });
  t->end();
  const auto got =
      sluice::test::read_one_per_turn<std::string>(loop, *t, 10000, [&](std::size_t n) {
        if (n < 9000) {
          EXPECT_FALSE(acked) << "acknowledged before the lines were taken";
        }
      });
  ASSERT_EQ(got.items.size(), 10000U);
  EXPECT_LE(got.peak, hwm + 1);
  EXPECT_EQ(got.items.front(), "0");
  EXPECT_EQ(got.items.back(), "9999");
  loop.run();
  EXPECT_TRUE(acked);
  EXPECT_EQ(t->line_count(), 10000U);
}

TEST(LineSplitter, ZeroLimitIsAProgrammingError) {
  manual_loop loop;
  EXPECT_THROW((void)std::make_shared<line_splitter>(loop, line_options{.max_line_length = 0}),
               std::system_error);
}

// ---- the coroutine form ----

TEST(Lines, CoroutineIteratesLinesOfChunks) {
  asio::io_context io;
  sluice::asio_loop loop(io);
  std::vector<buffer> chunks;
  for (const char* c : {"first\r", "\nsec", "ond\n\nla", "st"})
    chunks.push_back(buffer::copy_of(c));
  lines_t got;
  bool done = false;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        auto in = sluice::lines(sluice::from(loop, std::move(chunks)));
        while (auto line = co_await sluice::async_next(in)) got.push_back(*line);
        done = true;
      },
      asio::detached);
  io.run();
  EXPECT_TRUE(done);
  EXPECT_EQ(got, (lines_t{"first", "second", "", "last"}));
}

TEST(Lines, MissingFileReportsTheOpenError) {
  sluice::test::temp_dir dir;
  const std::string path = (dir / "missing.txt").string();
  asio::io_context io;
  sluice::asio_loop loop(io);
  std::string what;
  std::error_code code;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        auto in = sluice::lines(sluice::make_file_reader(loop, path));
        try {
          while (co_await sluice::async_next(in)) {
          }
        } catch (const sluice::stream_failure& e) {
          what = e.what();
          code = e.code();
        }
      },
      asio::detached);
  io.run();
  EXPECT_EQ(what, "open '" + path + "': No such file or directory");
  EXPECT_EQ(code, std::errc::no_such_file_or_directory);
}

TEST(Lines, TooLongLineThrowsWithItsMessage) {
  asio::io_context io;
  sluice::asio_loop loop(io);
  std::vector<buffer> chunks{buffer::copy_of("short\nmuch too long\n")};
  std::string what;
  lines_t got;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        auto in = sluice::lines(sluice::from(loop, std::move(chunks)), {.max_line_length = 8});
        try {
          while (auto line = co_await sluice::async_next(in)) got.push_back(*line);
        } catch (const std::exception& e) {
          what = e.what();
        }
      },
      asio::detached);
  io.run();
  // ("short" may be dropped: as with Node's iterator, lines buffered when the stream fails are.)
  EXPECT_LE(got.size(), 1U);
  EXPECT_EQ(what, "line 2 is longer than the limit of 8 bytes: line too long");
}

TEST(Lines, LeavingEarlyDestroysTheSource) {
  asio::io_context io;
  sluice::asio_loop loop(io);
  // 1 MB: far more than the source, the splitter and the reader buffer together.
  std::vector<buffer> chunks(1000, buffer::copy_of(std::string(999, 'x') + "\n"));
  std::shared_ptr<sluice::readable<buffer>> source = sluice::from(loop, std::move(chunks));
  std::string first;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        auto in = sluice::lines(source);
        first = *co_await sluice::async_next(in);
      },  // `in` goes: the splitter and the source are destroyed
      asio::detached);
  io.run();
  EXPECT_EQ(first, std::string(999, 'x'));
  EXPECT_TRUE(source->destroyed());
  EXPECT_EQ(source->errored(), sluice::errc::aborted);
}

}  // namespace
