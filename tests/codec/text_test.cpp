// Unit tests of the text transforms (sluice/codec/text.hpp): chunking, round trips and errors, on a
// manual loop. Expected encodings were computed with Node 20 (Buffer#toString).
#include "sluice/codec/text.hpp"

#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "sluice/core/loop.hpp"
#include "sluice/core/make.hpp"

namespace {

using sluice::buffer;
using sluice::errc;
using sluice::manual_loop;

// Calls `fn` with every way to cut `s` into 2 and into 3 consecutive (possibly empty) pieces.
void for_each_split(const std::string& s,
                    const std::function<void(const std::vector<std::string>&)>& fn) {
  const std::size_t n = s.size();
  for (std::size_t i = 0; i <= n; ++i) {
    fn({s.substr(0, i), s.substr(i)});
    for (std::size_t j = i; j <= n; ++j) fn({s.substr(0, i), s.substr(i, j - i), s.substr(j)});
  }
}

std::string describe(const std::vector<std::string>& pieces) {
  std::string out = "pieces of sizes";
  for (const auto& p : pieces) {
    out += ' ';
    out += std::to_string(p.size());
  }
  return out;
}

// Strict UTF-8 validation (Unicode table 3-7), independent of the code under test.
bool is_valid_utf8(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size()) {
    const auto b = static_cast<unsigned char>(s[i]);
    std::size_t len = 0;
    unsigned lo = 0x80, hi = 0xBF;
    if (b < 0x80) {
      len = 1;
    } else if (b >= 0xC2 && b <= 0xDF) {
      len = 2;
    } else if (b >= 0xE0 && b <= 0xEF) {
      len = 3;
      if (b == 0xE0) lo = 0xA0;
      if (b == 0xED) hi = 0x9F;
    } else if (b >= 0xF0 && b <= 0xF4) {
      len = 4;
      if (b == 0xF0) lo = 0x90;
      if (b == 0xF4) hi = 0x8F;
    } else {
      return false;
    }
    if (i + len > s.size()) return false;
    for (std::size_t k = 1; k < len; ++k) {
      const auto c = static_cast<unsigned char>(s[i + k]);
      if (c < (k == 1 ? lo : 0x80u) || c > (k == 1 ? hi : 0xBFu)) return false;
    }
    i += len;
  }
  return true;
}

std::string text_of(const buffer& b) { return b.to_string(); }
std::string text_of(const std::string& s) { return s; }

// What a transform emitted for one input, cut into pieces.
struct outcome {
  std::vector<std::string> chunks;
  std::vector<std::string> events;  // "error <code>", "end", "close", in order
  std::error_code write_error;      // first error a write callback got
  std::error_code end_error;        // what the end() callback got
  [[nodiscard]] std::string joined() const {
    std::string s;
    for (const auto& c : chunks) s += c;
    return s;
  }
};

// Writes each piece (all in the same tick), ends, and runs the loop to completion.
template <class T>
outcome run(const std::vector<std::string>& pieces) {
  manual_loop loop;
  auto t = std::make_shared<T>(loop);
  outcome r;
  t->on_data([&](auto&& c) { r.chunks.push_back(text_of(c)); });
  t->on_error([&](std::error_code ec) { r.events.push_back("error " + ec.message()); });
  t->on_end([&] { r.events.emplace_back("end"); });
  t->on_close([&] { r.events.emplace_back("close"); });
  for (const auto& p : pieces) {
    t->write(buffer::copy_of(p), [&](std::error_code ec) {
      if (ec && !r.write_error) r.write_error = ec;
    });
  }
  t->end([&](std::error_code ec) { r.end_error = ec; });
  loop.run();
  return r;
}

// 1-, 2-, 3- and 4-byte characters: "héllo €uro 😀 ✓".
const std::string mixed_text = "h\xC3\xA9llo \xE2\x82\xACuro \xF0\x9F\x98\x80 \xE2\x9C\x93";
// node -e "console.log(Buffer.from('héllo €uro 😀 ✓').toString('base64'))"
const std::string mixed_base64 = "aMOpbGxvIOKCrHVybyDwn5iAIOKckw==";
// node -e "console.log(Buffer.from('héllo €uro 😀 ✓').toString('hex'))"
const std::string mixed_hex = "68c3a96c6c6f20e282ac75726f20f09f988020e29c93";

// ---- UTF-8 ----

template <class T>
void expect_whole_characters_for_every_split() {
  for_each_split(mixed_text, [](const std::vector<std::string>& pieces) {
    const outcome r = run<T>(pieces);
    for (const auto& c : r.chunks) {
      EXPECT_FALSE(c.empty()) << describe(pieces);
      EXPECT_TRUE(is_valid_utf8(c)) << describe(pieces);
    }
    EXPECT_LE(r.chunks.size(), pieces.size()) << describe(pieces);
    EXPECT_EQ(r.joined(), mixed_text) << describe(pieces);
    EXPECT_EQ(r.events, (std::vector<std::string>{"end", "close"})) << describe(pieces);
  });
}

TEST(Utf8Rechunker, EverySplitEmitsValidChunksThatConcatenateToTheInput) {
  expect_whole_characters_for_every_split<sluice::utf8_rechunker>();
}

TEST(Utf8Decoder, EverySplitEmitsValidStringsThatConcatenateToTheInput) {
  expect_whole_characters_for_every_split<sluice::utf8_decoder>();
}

// Like Node's setEncoding('utf8'): one output per input, the held bytes leading the next one.
TEST(Utf8Rechunker, OneChunkPerInputLikeStringDecoder) {
  const outcome r = run<sluice::utf8_rechunker>({"x\xE2",
                                                 "\x82\xAC"
                                                 "a",
                                                 "\xF0\x9F", "\x98",
                                                 "\x80"
                                                 "b"});
  EXPECT_EQ(r.chunks, (std::vector<std::string>{"x",
                                                "\xE2\x82\xAC"
                                                "a",
                                                "\xF0\x9F\x98\x80"
                                                "b"}));
}

TEST(Utf8Rechunker, PassesAWholeChunkWithoutCopying) {
  manual_loop loop;
  auto t = std::make_shared<sluice::utf8_rechunker>(loop);
  const buffer in = buffer::copy_of(mixed_text);
  std::vector<buffer> out;
  t->on_data([&](buffer&& b) { out.push_back(std::move(b)); });
  t->write(in);
  t->end();
  loop.run();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_TRUE(out[0].shares_storage_with(in));
}

TEST(Utf8Rechunker, IncompleteCharacterAtEndBecomesReplacementCharacter) {
  const outcome r = run<sluice::utf8_rechunker>({"a\xF0\x9F"});
  EXPECT_EQ(r.chunks, (std::vector<std::string>{"a", "\xEF\xBF\xBD"}));
  EXPECT_EQ(r.events, (std::vector<std::string>{"end", "close"}));
  EXPECT_FALSE(r.end_error);
}

TEST(Utf8Decoder, IncompleteCharacterAtEndBecomesReplacementCharacter) {
  const outcome r = run<sluice::utf8_decoder>({"a\xE2\x82"});
  EXPECT_EQ(r.chunks, (std::vector<std::string>{"a", "\xEF\xBF\xBD"}));
}

TEST(Utf8Decoder, NeverEmitsAnEmptyString) {
  // Every input below only adds to a held character until the last one.
  const outcome r = run<sluice::utf8_decoder>({"", "\xF0", "", "\x9F", "\x98", "", "\x80"});
  EXPECT_EQ(r.chunks, (std::vector<std::string>{"\xF0\x9F\x98\x80"}));
}

TEST(Utf8Decoder, InvalidBytesPassThroughUnchanged) {
  const outcome r =
      run<sluice::utf8_decoder>({"a\x80\xFF"
                                 "b"});
  EXPECT_EQ(r.chunks, (std::vector<std::string>{"a\x80\xFF"
                                                "b"}));
}

TEST(Utf8Decoder, ReadableSideIsObjectMode) {
  manual_loop loop;
  auto t = std::make_shared<sluice::utf8_decoder>(loop);
  EXPECT_EQ(t->readable_high_water_mark(), 16u);
  EXPECT_EQ(t->writable_high_water_mark(), 65536u);
  // No consumer: the 16th string fills the readable side; its write is held back and the next
  // four wait in the writable buffer (counted in bytes).
  for (int i = 0; i < 20; ++i) EXPECT_TRUE(t->write(buffer::copy_of("ab")));
  EXPECT_EQ(t->readable_length(), 16u);
  EXPECT_EQ(t->writable_length(), 10u);
  EXPECT_EQ(t->read(), std::optional<std::string>("ab"));
  EXPECT_EQ(t->readable_length(), 16u);
  EXPECT_EQ(t->writable_length(), 8u);
}

// ---- hex ----

TEST(HexTransform, EncoderEveryChunkingEqualsOneShotEncoding) {
  for_each_split(mixed_text, [](const std::vector<std::string>& pieces) {
    const outcome r = run<sluice::hex_encoder>(pieces);
    EXPECT_EQ(r.joined(), mixed_hex) << describe(pieces);
    for (const auto& c : r.chunks) EXPECT_FALSE(c.empty()) << describe(pieces);
  });
}

TEST(HexTransform, DecoderEveryChunkingGivesBackTheBytes) {
  for_each_split(mixed_hex, [](const std::vector<std::string>& pieces) {
    const outcome r = run<sluice::hex_decoder>(pieces);
    EXPECT_EQ(r.joined(), mixed_text) << describe(pieces);
    EXPECT_FALSE(r.write_error);
    EXPECT_EQ(r.events, (std::vector<std::string>{"end", "close"}));
  });
}

TEST(HexTransform, DecoderAcceptsUpperCase) {
  EXPECT_EQ(run<sluice::hex_decoder>({"0A", "fF"}).joined(), "\x0A\xFF");
}

TEST(HexTransform, NonHexCharacterErrorsTheStream) {
  const outcome r = run<sluice::hex_decoder>({"6869", "zz"});
  EXPECT_EQ(r.chunks, (std::vector<std::string>{"hi"}));
  EXPECT_EQ(r.write_error, errc::invalid_argument);
  EXPECT_EQ(r.end_error, errc::invalid_argument);
  ASSERT_EQ(r.events.size(), 2u);
  EXPECT_EQ(r.events[1], "close");
}

TEST(HexTransform, OddDigitLeftAtEndErrorsTheStream) {
  const outcome r = run<sluice::hex_decoder>({"68", "6"});
  EXPECT_EQ(r.chunks, (std::vector<std::string>{"h"}));
  EXPECT_FALSE(r.write_error);
  EXPECT_EQ(r.end_error, errc::invalid_argument);
  EXPECT_EQ(r.events.size(), 2u);
}

// ---- base64 ----

TEST(Base64Transform, EncoderEveryChunkingEqualsOneShotEncoding) {
  for_each_split(mixed_text, [](const std::vector<std::string>& pieces) {
    const outcome r = run<sluice::base64_encoder>(pieces);
    EXPECT_EQ(r.joined(), mixed_base64) << describe(pieces);
    for (const auto& c : r.chunks) {
      EXPECT_FALSE(c.empty()) << describe(pieces);
      // Whole groups only: padding, if any, comes in the last chunk.
      EXPECT_EQ(c.size() % 4, 0u) << describe(pieces);
    }
  });
}

TEST(Base64Transform, EncoderGroupsLikeNodeSetEncoding) {
  // text/base64_encoding: 1 + 2 + 4 bytes give "YWJj", "ZGVm", "Zw==".
  const outcome r = run<sluice::base64_encoder>({"a", "bc", "defg"});
  EXPECT_EQ(r.chunks, (std::vector<std::string>{"YWJj", "ZGVm", "Zw=="}));
}

TEST(Base64Transform, DecoderEveryChunkingGivesBackTheBytes) {
  for_each_split(mixed_base64, [](const std::vector<std::string>& pieces) {
    const outcome r = run<sluice::base64_decoder>(pieces);
    EXPECT_EQ(r.joined(), mixed_text) << describe(pieces);
    EXPECT_FALSE(r.write_error) << describe(pieces);
    EXPECT_FALSE(r.end_error) << describe(pieces);
  });
}

TEST(Base64Transform, DecoderAcceptsUrlSafeUnpaddedAndWhitespace) {
  // node -e "console.log(Buffer.from([0,1,2,0xfe,0xff]).toString('base64'))" → "AAEC/v8="
  const std::string bytes("\x00\x01\x02\xFE\xFF", 5);
  EXPECT_EQ(run<sluice::base64_decoder>({"AAEC/v8="}).joined(), bytes);
  EXPECT_EQ(run<sluice::base64_decoder>({"AAEC", "_v8"}).joined(), bytes);
  EXPECT_EQ(run<sluice::base64_decoder>({"AA EC\n", "_v8\r\n"}).joined(), bytes);
}

TEST(Base64Transform, CorruptInputErrorsTheStreamThenCloses) {
  manual_loop loop;
  auto t = std::make_shared<sluice::base64_decoder>(loop);
  std::vector<std::string> tr;
  auto code = [](std::error_code ec) -> std::string {
    if (!ec) return "null";
    return ec == errc::invalid_argument ? "invalid_argument" : ec.message();
  };
  t->on_data([&](buffer&& b) { tr.push_back("data " + b.to_string()); });
  t->on_error([&](std::error_code ec) { tr.push_back("error " + code(ec)); });
  t->on_end([&] { tr.emplace_back("end"); });
  t->on_close([&] { tr.emplace_back("close"); });
  t->write(buffer::copy_of("aGVs"), [&](std::error_code ec) { tr.push_back("cb 1 " + code(ec)); });
  t->write(buffer::copy_of("bG8*"), [&](std::error_code ec) { tr.push_back("cb 2 " + code(ec)); });
  t->end();
  loop.run();
  EXPECT_EQ(tr, (std::vector<std::string>{"data hel", "cb 1 null", "cb 2 invalid_argument",
                                          "error invalid_argument", "close"}))
      << ::testing::PrintToString(tr);
  EXPECT_EQ(t->errored(), errc::invalid_argument);
  EXPECT_EQ(t->errored(), std::errc::invalid_argument);
  EXPECT_TRUE(t->destroyed());
  EXPECT_FALSE(t->readable_ended());
}

TEST(Base64Transform, DataAfterPaddingErrorsTheStream) {
  const outcome r = run<sluice::base64_decoder>({"QQ==", "QQ"});
  EXPECT_EQ(r.chunks, (std::vector<std::string>{"A"}));
  EXPECT_EQ(r.write_error, errc::invalid_argument);
  EXPECT_EQ(r.events.back(), "close");
}

TEST(Base64Transform, LoneCharacterInLastGroupErrorsAtEnd) {
  const outcome r = run<sluice::base64_decoder>({"QUJD", "R"});
  EXPECT_EQ(r.chunks, (std::vector<std::string>{"ABC"}));
  EXPECT_FALSE(r.write_error);
  EXPECT_EQ(r.end_error, errc::invalid_argument);
  ASSERT_EQ(r.events.size(), 2u);
  EXPECT_EQ(r.events[1], "close");
}

// readable → base64_encoder → base64_decoder → hex_encoder → hex_decoder → writable: what comes
// out is what went in, whatever the chunking.
TEST(TextTransforms, PipedRoundTrip) {
  manual_loop loop;
  std::vector<std::string> input = {"h\xC3", "\xA9llo \xE2\x82", "\xAC",
                                    "uro \xF0\x9F\x98\x80 \xE2", "\x9C\x93"};
  std::size_t next = 0;
  auto src = sluice::make_readable<buffer>(
      loop, {.read = [&](sluice::readable<buffer>& self, std::size_t) {
        if (next < input.size())
          self.push(buffer::copy_of(input[next++]));
        else
          self.push_eof();
      }});
  std::string got;
  bool finished = false;
  auto sink = sluice::make_writable<buffer>(
      loop, {.write = [&](sluice::writable<buffer>&, buffer&& b, auto cb) {
        got += b.to_string();
        cb();
      }});
  sink->on_finish([&] { finished = true; });
  src->pipe(std::make_shared<sluice::base64_encoder>(loop))
      ->pipe(std::make_shared<sluice::base64_decoder>(loop))
      ->pipe(std::make_shared<sluice::hex_encoder>(loop))
      ->pipe(std::make_shared<sluice::hex_decoder>(loop))
      ->pipe(std::make_shared<sluice::utf8_rechunker>(loop))
      ->pipe(sink);
  loop.run();
  EXPECT_TRUE(finished);
  EXPECT_EQ(got, mixed_text);
}

}  // namespace
