// sluice/codec/framing.hpp and json_frames.hpp: frames cut at every byte, the limits and their
// messages, a payload the serializer refuses, backpressure, JSON lines of a described struct.
// (examples/35-framing.cpp sends typed items across a TCP connection on loopback.)
#include "sluice/codec/framing.hpp"

#include <gtest/gtest.h>

#include <boost/describe/class.hpp>
#include <boost/json/parse.hpp>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <system_error>
#include <vector>

#include "sluice/codec/json_frames.hpp"
#include "sluice/core/loop.hpp"
#include "support/slow_reader.hpp"

namespace {

using sluice::buffer;
using sluice::frame_errc;
using sluice::frame_format;
using sluice::frame_options;
using sluice::manual_loop;

using strings = std::vector<std::string>;

struct outcome {
  strings items;
  std::error_code error;
  std::string message;  // error_message() at 'error'
  bool ended = false;
  std::string bytes;  // what the encoder wrote
};

// Encodes `items` with `fo` and returns the bytes (or the error).
outcome encode(const strings& items, frame_options fo) {
  manual_loop loop;
  auto e = sluice::make_frame_encoder<std::string>(loop, {}, fo);
  outcome r;
  e->on_data([&](buffer&& b) { r.bytes += b.view(); });
  e->on_error([&](std::error_code ec) {
    r.error = ec;
    r.message = e->error_message();
  });
  e->on_end([&] { r.ended = true; });
  for (const auto& s : items) e->write(s);
  e->end();
  loop.run();
  return r;
}

// Decodes `pieces`, written one by one, and collects the items in flowing mode.
outcome decode(const strings& pieces, frame_options fo) {
  manual_loop loop;
  auto d = sluice::make_frame_decoder<std::string>(loop, {}, fo);
  outcome r;
  d->on_data([&](std::string&& s) { r.items.push_back(std::move(s)); });
  d->on_error([&](std::error_code ec) {
    r.error = ec;
    r.message = d->error_message();
  });
  d->on_end([&] { r.ended = true; });
  for (const auto& p : pieces) d->write(buffer::copy_of(p));
  d->end();
  loop.run();
  return r;
}

std::string be32(std::uint32_t n) {
  return {static_cast<char>(n >> 24), static_cast<char>(n >> 16), static_cast<char>(n >> 8),
          static_cast<char>(n)};
}

const strings sample = {"", "a", std::string("\0\n\xff", 3), std::string(300, 'x'), "last"};

TEST(Framing, LengthPrefixedBytesAreALengthThenThePayload) {
  const auto r = encode({"ab", "", "xyz"}, {});
  ASSERT_FALSE(r.error) << r.message;
  EXPECT_EQ(r.bytes, be32(2) + "ab" + be32(0) + be32(3) + "xyz");
  EXPECT_TRUE(r.ended);
}

TEST(Framing, EveryCutOfTheStreamGivesTheItemsBack) {
  for (const frame_format f : {frame_format::length_prefixed, frame_format::lines}) {
    strings items = sample;
    if (f == frame_format::lines) items[2] = "no newline \r here";  // lines carry no "\n"
    const std::string bytes = encode(items, {.format = f}).bytes;
    for (std::size_t i = 0; i <= bytes.size(); ++i) {
      for (std::size_t j = i; j <= bytes.size(); j += 7) {
        const auto r =
            decode({bytes.substr(0, i), bytes.substr(i, j - i), bytes.substr(j)}, {.format = f});
        ASSERT_FALSE(r.error) << "cut at " << i << ", " << j << ": " << r.message;
        ASSERT_EQ(r.items, items) << "cut at " << i << ", " << j;
        ASSERT_TRUE(r.ended);
      }
    }
  }
}

TEST(Framing, ALengthOverTheLimitFailsBeforeItsPayloadIsHeld) {
  // Only the header arrives: the decoder refuses it at once, naming the frame and the limit.
  manual_loop loop;
  auto d = sluice::make_frame_decoder<std::string>(loop, {}, {.max_frame_size = 100});
  std::error_code error;
  d->on_error([&](std::error_code ec) { error = ec; });
  std::error_code write_error;
  d->write(buffer::copy_of(be32(1) + "a" + be32(20000000)),
           [&](std::error_code ec) { write_error = ec; });
  loop.run();
  EXPECT_EQ(error, frame_errc::frame_too_large);
  EXPECT_EQ(write_error, frame_errc::frame_too_large);
  EXPECT_EQ(d->error_message(),
            "frame 2 declares 20000000 bytes, over the limit of 100: frame too large");
  EXPECT_EQ(d->frame_count(), 1U);
}

TEST(Framing, ALineOverTheLimitFailsAsSoonAsItIsSeen) {
  const auto r =
      decode({"ok\n", std::string(11, 'y')}, {.format = frame_format::lines, .max_frame_size = 10});
  EXPECT_EQ(r.error, frame_errc::frame_too_large);
  EXPECT_EQ(r.message, "frame 2 is longer than the limit of 10 bytes: frame too large");
  EXPECT_EQ(r.items, strings{"ok"});
  // Exactly at the limit is fine.
  const auto fits = decode({"ok\n", std::string(10, 'y'), "\n"},
                           {.format = frame_format::lines, .max_frame_size = 10});
  EXPECT_FALSE(fits.error) << fits.message;
  EXPECT_EQ(fits.items.size(), 2U);
}

TEST(Framing, InputEndingInsideAFrameIsAnError) {
  const auto in_header = decode({be32(1) + "a", be32(5).substr(0, 2)}, {});
  EXPECT_EQ(in_header.error, frame_errc::truncated_frame);
  EXPECT_EQ(in_header.message,
            "the input ended inside frame 2's length, after 2 of its 4 bytes: input ended "
            "inside a frame");
  EXPECT_EQ(in_header.items, strings{"a"});
  EXPECT_FALSE(in_header.ended);

  const auto in_payload = decode({be32(100) + std::string(10, 'p')}, {});
  EXPECT_EQ(in_payload.error, frame_errc::truncated_frame);
  EXPECT_EQ(in_payload.message,
            "the input ended inside frame 1, after 10 of its 100 bytes: input ended inside a "
            "frame");
}

TEST(Framing, LinesTakeAnUnterminatedLastLine) {
  const auto r = decode({"a\n\nb", "c"}, {.format = frame_format::lines});
  ASSERT_FALSE(r.error) << r.message;
  EXPECT_EQ(r.items, (strings{"a", "", "bc"}));
}

TEST(Framing, TheEncoderRefusesWhatTheFormatCannotCarry) {
  const auto big = encode({"fine", std::string(11, 'b')}, {.max_frame_size = 10});
  EXPECT_EQ(big.error, frame_errc::frame_too_large);
  EXPECT_EQ(big.message, "frame 2 is 11 bytes, over the limit of 10: frame too large");
  EXPECT_EQ(big.bytes, be32(4) + "fine");  // the frame before it went out whole

  const auto nl = encode({"one\ntwo"}, {.format = frame_format::lines});
  EXPECT_EQ(nl.error, frame_errc::newline_in_frame);
  EXPECT_EQ(nl.message, "frame 1 has a newline at byte 3: newline inside a lines frame");
  EXPECT_TRUE(nl.bytes.empty());
}

TEST(Framing, BadOptionsAreAProgrammingError) {
  manual_loop loop;
  EXPECT_THROW((void)sluice::make_frame_decoder<std::string>(loop, {}, {.max_frame_size = 0}),
               std::system_error);
  EXPECT_THROW((void)sluice::make_frame_encoder<std::string>(
                   loop, {}, {.max_frame_size = std::size_t{1} << 32}),
               std::system_error);
  EXPECT_NO_THROW((void)sluice::make_frame_encoder<std::string>(
      loop, {}, {.format = frame_format::lines, .max_frame_size = std::size_t{1} << 32}));
  // A refused frame is the stream's error: neither stage skips one.
  EXPECT_THROW(sluice::make_frame_encoder<std::string>(loop)->skip_item_errors({}),
               std::system_error);
  EXPECT_THROW(sluice::make_frame_decoder<std::string>(loop)->skip_item_errors({}),
               std::system_error);
}

TEST(Framing, ASlowConsumerKeepsDecodedItemsWithinTheHighWaterMark) {
  // One chunk of 10,000 frames; the consumer reads one item per loop turn. The decoder stops at
  // its highWaterMark (in items) and holds the write's acknowledgement until it has cut them all.
  manual_loop loop;
  constexpr std::size_t hwm = 8;
  auto d = sluice::make_frame_decoder<std::string>(
      loop, {}, {}, sluice::transform_options{.readable_high_water_mark = hwm});
  std::string bytes;
  for (int i = 0; i < 10000; ++i) {
    const std::string s = std::to_string(i);
    bytes += be32(static_cast<std::uint32_t>(s.size())) + s;
  }
  bool acked = false;
  d->write(buffer::copy_of(bytes), [&](std::error_code) { acked = true; });
  d->end();
  const auto got =
      sluice::test::read_one_per_turn<std::string>(loop, *d, 10000, [&](std::size_t n) {
        if (n < 9000) {
          EXPECT_FALSE(acked) << "acknowledged before the items were taken";
        }
      });
  ASSERT_EQ(got.items.size(), 10000U);
  EXPECT_LE(got.peak, hwm + 1);
  EXPECT_EQ(got.items.front(), "0");
  EXPECT_EQ(got.items.back(), "9999");
  loop.run();
  EXPECT_TRUE(acked);
  EXPECT_EQ(d->frame_count(), 10000U);
}

TEST(Framing, BufferItemsTravelAsTheyAre) {
  manual_loop loop;
  auto e = sluice::make_frame_encoder<buffer>(loop);
  auto d = sluice::make_frame_decoder<buffer>(loop);
  e->pipe(d);
  std::vector<std::string> got;
  d->on_data([&](buffer&& b) { got.push_back(b.to_string()); });
  e->write(buffer::copy_of("one"));
  e->write(buffer::copy_of(std::string(70000, 'z')));
  e->end();
  loop.run();
  ASSERT_EQ(got.size(), 2U);
  EXPECT_EQ(got[0], "one");
  EXPECT_EQ(got[1], std::string(70000, 'z'));
}

// ---- a serializer of the user's, and JSON ----

struct point {
  std::int64_t x = 0;
  std::int64_t y = 0;
  std::string label;
  std::optional<double> weight;
  friend bool operator==(const point&, const point&) = default;
};
BOOST_DESCRIBE_STRUCT(point, (), (x, y, label, weight))

// Two little-endian int64s: refuses a payload of another size.
struct pair_serializer {
  void encode(const std::pair<std::int64_t, std::int64_t>& p, std::string& out) const {
    for (std::int64_t v : {p.first, p.second})
      for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
  }
  std::error_code decode(std::string_view in, std::pair<std::int64_t, std::int64_t>& p) const {
    if (in.size() != 16) return std::make_error_code(std::errc::bad_message);
    auto get = [&](std::size_t at) {
      std::uint64_t v = 0;
      for (int i = 7; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(in[at + i]);
      return static_cast<std::int64_t>(v);
    };
    p = {get(0), get(8)};
    return {};
  }
};

TEST(Framing, AUsersSerializerRoundTripsAndItsRefusalNamesTheFrame) {
  using item = std::pair<std::int64_t, std::int64_t>;
  manual_loop loop;
  auto e = sluice::make_frame_encoder<item>(loop, pair_serializer{});
  auto d = sluice::make_frame_decoder<item>(loop, pair_serializer{});
  e->pipe(d);
  std::vector<item> got;
  d->on_data([&](item&& p) { got.push_back(p); });
  e->write({1, -1});
  e->write({INT64_MIN, INT64_MAX});
  e->end();
  loop.run();
  EXPECT_EQ(got, (std::vector<item>{{1, -1}, {INT64_MIN, INT64_MAX}}));

  manual_loop loop2;
  auto bad = sluice::make_frame_decoder<item>(loop2, pair_serializer{});
  std::error_code error;
  bad->on_error([&](std::error_code ec) { error = ec; });
  bad->write(buffer::copy_of(be32(16) + std::string(16, 'a') + be32(3) + "abc"));
  loop2.run();
  EXPECT_EQ(error, std::errc::bad_message);
  EXPECT_EQ(bad->error_message(),
            "frame 2 (3 bytes): " + std::make_error_code(std::errc::bad_message).message());
}

TEST(Framing, JsonLinesOfADescribedStructRoundTripAndReadBack) {
  manual_loop loop;
  auto e = sluice::make_json_lines_encoder<point>(loop);
  std::string text;
  e->on_data([&](buffer&& b) { text += b.view(); });
  const std::vector<point> points = {{1, 2, "a \"quoted\"\nlabel", 0.5}, {-3, 4, "", std::nullopt}};
  for (const auto& p : points) e->write(point(p));
  e->end();
  loop.run();
  // Two lines, each a JSON object any parser reads.
  ASSERT_EQ(std::count(text.begin(), text.end(), '\n'), 2);
  const auto first = boost::json::parse(text.substr(0, text.find('\n')));
  EXPECT_EQ(first.at("label").as_string(), "a \"quoted\"\nlabel");
  EXPECT_EQ(first.at("x").as_int64(), 1);

  auto d = sluice::make_json_lines_decoder<point>(loop);
  std::vector<point> back;
  d->on_data([&](point&& p) { back.push_back(std::move(p)); });
  d->write(buffer::copy_of(text));
  d->end();
  loop.run();
  EXPECT_EQ(back, points);
}

TEST(Framing, AJsonLineThatIsNotJsonOrNotTheTypeFailsNamingTheLine) {
  for (const auto& [line, what] : std::vector<std::pair<std::string, std::string>>{
           {"{\"x\":1,", "not JSON"}, {"{\"x\":\"one\"}", "another shape"}}) {
    manual_loop loop;
    auto d = sluice::make_json_lines_decoder<point>(loop);
    std::error_code error;
    std::vector<point> got;
    d->on_data([&](point&& p) { got.push_back(std::move(p)); });
    d->on_error([&](std::error_code ec) { error = ec; });
    d->write(buffer::copy_of(R"({"x":1,"y":2,"label":"ok","weight":null})"
                             "\n" +
                             line + "\n"));
    d->end();
    loop.run();
    EXPECT_TRUE(error) << what;
    EXPECT_EQ(got.size(), 1U) << what;
    EXPECT_EQ(d->error_message().rfind("frame 2 (", 0), 0U) << d->error_message();
  }
}

}  // namespace
