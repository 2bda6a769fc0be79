#include "sluice/codec/detail/text_codec.hpp"

#include <gtest/gtest.h>

#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace {

using sluice::buffer;
using sluice::buffer_list;
using sluice::errc;
using sluice::detail::base64_decoder;
using sluice::detail::base64_encoder;
using sluice::detail::hex_decoder;
using sluice::detail::hex_encoder;
using sluice::detail::utf8_boundary;

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
  std::string out;
  for (const auto& p : pieces) out += std::to_string(p.size()) + " ";
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

// ---- utf8_boundary ----

// 1-, 2-, 3- and 4-byte characters: "héllo €uro 😀 ✓".
const std::string mixed_text = "h\xC3\xA9llo \xE2\x82\xACuro \xF0\x9F\x98\x80 \xE2\x9C\x93";

TEST(Utf8Boundary, WholeValidInputPassesAsIsWithoutCopy) {
  utf8_boundary u;
  const buffer in = buffer::copy_of(mixed_text);
  const buffer_list out = u.feed(in);
  ASSERT_EQ(out.chunk_count(), 1u);
  EXPECT_EQ(out.front().data(), in.data());
  EXPECT_EQ(out.front().size(), in.size());
  EXPECT_TRUE(u.finish().empty());
}

TEST(Utf8Boundary, EverySplitEmitsWholeCharactersOnly) {
  for (const std::string& text : {mixed_text, std::string("\xF0\x9F\x98\x80\xF0\x9F\x98\x81"),
                                  std::string("\xC3\xA9\xE2\x82\xAC\xF4\x8F\xBF\xBF")}) {
    for_each_split(text, [&](const std::vector<std::string>& pieces) {
      utf8_boundary u;
      std::string all;
      for (const std::string& p : pieces) {
        const std::string emitted = u.feed(buffer::copy_of(p)).to_string();
        EXPECT_TRUE(is_valid_utf8(emitted)) << describe(pieces);
        all += emitted;
      }
      EXPECT_TRUE(u.finish().empty()) << describe(pieces);
      EXPECT_EQ(all, text) << describe(pieces);
    });
  }
}

TEST(Utf8Boundary, CarriedBytesAreTheOnlyCopy) {
  utf8_boundary u;
  const buffer first = buffer::copy_of("a\xE2\x82");  // "a" and 2 of the 3 bytes of "€"
  const buffer_list out1 = u.feed(first);
  ASSERT_EQ(out1.chunk_count(), 1u);
  EXPECT_EQ(out1.front().view(), "a");
  EXPECT_EQ(out1.front().data(), first.data());

  const buffer second = buffer::copy_of(std::string("\xAC") + "bc");
  const buffer_list out2 = u.feed(second);
  ASSERT_EQ(out2.chunk_count(), 2u);
  EXPECT_EQ(out2.front().view(), "\xE2\x82\xAC");
  EXPECT_FALSE(out2.front().shares_storage_with(second));
  const buffer& rest = *(++out2.begin());
  EXPECT_EQ(rest.view(), "bc");
  EXPECT_EQ(rest.data(), second.data() + 1);
}

TEST(Utf8Boundary, CharacterSplitThreeWays) {
  utf8_boundary u;
  EXPECT_TRUE(u.feed(buffer::copy_of("\xF0")).empty());
  EXPECT_TRUE(u.feed(buffer::copy_of("\x9F")).empty());
  EXPECT_TRUE(u.feed(buffer()).empty());
  EXPECT_EQ(u.feed(buffer::copy_of("\x98\x80!")).to_string(), "\xF0\x9F\x98\x80!");
}

// Matches Node 20: new StringDecoder('utf8') fed a truncated character returns "" from write()
// and a single "\ufffd" from end(), however many bytes of the character arrived.
TEST(Utf8Boundary, FinishReplacesATruncatedCharacterLikeStringDecoder) {
  for (const std::string& truncated :
       {std::string("\xF0"), std::string("\xF0\x9F"), std::string("\xF0\x9F\x98"),
        std::string("\xE2"), std::string("\xE2\x82"), std::string("\xC3")}) {
    utf8_boundary u;
    EXPECT_EQ(u.feed(buffer::copy_of("a" + truncated)).to_string(), "a");
    EXPECT_EQ(u.finish().to_string(), "\xEF\xBF\xBD");
    // The boundary is reusable afterwards.
    EXPECT_EQ(u.feed(buffer::copy_of("ok")).to_string(), "ok");
    EXPECT_TRUE(u.finish().empty());
  }
}

TEST(Utf8Boundary, InvalidBytesPassThroughUnchanged) {
  // Stray continuation bytes, the overlong leads C0/C1, F5..FF, and sequences that can never
  // complete (overlong E0 80, surrogate ED A0, past U+10FFFF F4 90).
  const std::string bad =
      std::string("\x80\xBF") + "a\xC0\xC1\xF5\xFF" + "b\xE0\x80" + "c\xED\xA0" + "d\xF4\x90";
  for (const std::string& text : {bad, std::string("\xE0\x80"), std::string("\xED\xA0"),
                                  std::string("\xF4\x90"), std::string("\xFF")}) {
    utf8_boundary u;
    EXPECT_EQ(u.feed(buffer::copy_of(text)).to_string(), text);
    EXPECT_TRUE(u.finish().empty());
  }
}

TEST(Utf8Boundary, HeldBytesThatNeverCompletePassThrough) {
  utf8_boundary u;
  EXPECT_TRUE(u.feed(buffer::copy_of("\xE2")).empty());
  EXPECT_EQ(u.feed(buffer::copy_of("A")).to_string(), std::string("\xE2") + "A");
  EXPECT_TRUE(u.finish().empty());

  EXPECT_TRUE(u.feed(buffer::copy_of("\xF0\x9F")).empty());
  EXPECT_EQ(u.feed(buffer::copy_of(std::string("\x98") + "x\xE2\x82")).to_string(),
            std::string("\xF0\x9F\x98") + "x");
  EXPECT_EQ(u.finish().to_string(), "\xEF\xBF\xBD");
}

TEST(Utf8Boundary, ChunkedEqualsOneShotOnMixedGoodAndBadInput) {
  const std::string text = "\xC3\xA9\xE2\x41\x80\xF0\x9F\x98\x80\xE0\x80\xC3\xF0\x9F\x98";
  utf8_boundary whole;
  std::string expected = whole.feed(buffer::copy_of(text)).to_string();
  expected += whole.finish().to_string();
  EXPECT_EQ(expected, text.substr(0, text.size() - 3) + "\xEF\xBF\xBD");
  for_each_split(text, [&](const std::vector<std::string>& pieces) {
    utf8_boundary u;
    std::string all;
    for (const std::string& p : pieces) all += u.feed(buffer::copy_of(p)).to_string();
    all += u.finish().to_string();
    EXPECT_EQ(all, expected) << describe(pieces);
  });
}

// ---- hex ----

std::string all_bytes() {
  std::string s;
  for (int i = 0; i < 256; ++i) s += static_cast<char>(i);
  return s;
}

// Buffer.from(all_bytes()).toString('hex') in Node 20.
const std::string all_bytes_hex =
    "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f202122232425262728292a2b2c2d"
    "2e2f303132333435363738393a3b3c3d3e3f404142434445464748494a4b4c4d4e4f505152535455565758595a5b"
    "5c5d5e5f606162636465666768696a6b6c6d6e6f707172737475767778797a7b7c7d7e7f80818283848586878889"
    "8a8b8c8d8e8f909192939495969798999a9b9c9d9e9fa0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7"
    "b8b9babbbcbdbebfc0c1c2c3c4c5c6c7c8c9cacbcccdcecfd0d1d2d3d4d5d6d7d8d9dadbdcdddedfe0e1e2e3e4e5"
    "e6e7e8e9eaebecedeeeff0f1f2f3f4f5f6f7f8f9fafbfcfdfeff";

TEST(Hex, EncodesLowerCase) {
  const hex_encoder e;
  EXPECT_EQ(e.encode(buffer::copy_of("foobar")).view(), "666f6f626172");  // RFC 4648 base16
  EXPECT_EQ(e.encode(buffer::copy_of(all_bytes())).view(), all_bytes_hex);
  EXPECT_TRUE(e.encode(buffer()).empty());
}

TEST(Hex, EncodingChunksEqualsEncodingTheWhole) {
  const hex_encoder e;
  const std::string text("\x00\x7f\x80\xff hex!", 9);
  for_each_split(text, [&](const std::vector<std::string>& pieces) {
    std::string all;
    for (const std::string& p : pieces) all += e.encode(buffer::copy_of(p)).to_string();
    EXPECT_EQ(all, "007f80ff2068657821") << describe(pieces);
  });
}

std::string decode_hex_pieces(const std::vector<std::string>& pieces, std::error_code& ec) {
  hex_decoder d;
  std::string all;
  for (const std::string& p : pieces) {
    buffer out;
    ec = d.decode(buffer::copy_of(p), out);
    if (ec) return all;
    all += out.to_string();
  }
  ec = d.finish();
  return all;
}

TEST(Hex, DecodesEitherCase) {
  std::error_code ec;
  EXPECT_EQ(decode_hex_pieces({all_bytes_hex}, ec), all_bytes());
  EXPECT_FALSE(ec);
  std::string upper = all_bytes_hex;
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  EXPECT_EQ(decode_hex_pieces({upper}, ec), all_bytes());
  EXPECT_FALSE(ec);
  EXPECT_EQ(decode_hex_pieces({"666F6f626172"}, ec), "foobar");
}

TEST(Hex, DecodingChunksEqualsDecodingTheWhole) {
  const std::string hex = "007F80fF2068657821";
  for_each_split(hex, [&](const std::vector<std::string>& pieces) {
    std::error_code ec;
    EXPECT_EQ(decode_hex_pieces(pieces, ec), std::string("\x00\x7f\x80\xff hex!", 9))
        << describe(pieces);
    EXPECT_FALSE(ec) << describe(pieces);
  });
}

TEST(Hex, RejectsNonDigits) {
  for (const std::string bad : {"6g", "6 6", "0x12", "zz", "12\n"}) {
    hex_decoder d;
    buffer out = buffer::copy_of("stale");
    const std::error_code ec = d.decode(buffer::copy_of(bad), out);
    EXPECT_EQ(ec, errc::invalid_argument) << bad;
    EXPECT_EQ(ec, std::errc::invalid_argument) << bad;
    EXPECT_TRUE(out.empty()) << bad;
  }
}

TEST(Hex, FailedCallLeavesTheDecoderAsItWas) {
  hex_decoder d;
  buffer out;
  ASSERT_FALSE(d.decode(buffer::copy_of("6"), out));
  EXPECT_TRUE(out.empty());
  EXPECT_EQ(d.decode(buffer::copy_of("6?"), out), errc::invalid_argument);
  ASSERT_FALSE(d.decode(buffer::copy_of("6"), out));
  EXPECT_EQ(out.view(), "f");
  EXPECT_FALSE(d.finish());
}

TEST(Hex, OddDigitAtTheEndIsAnError) {
  std::error_code ec;
  EXPECT_EQ(decode_hex_pieces({"66", "6"}, ec), "f");
  EXPECT_EQ(ec, errc::invalid_argument);

  hex_decoder d;
  buffer out;
  ASSERT_FALSE(d.decode(buffer::copy_of("abc"), out));
  EXPECT_EQ(d.finish(), errc::invalid_argument);
  EXPECT_FALSE(d.finish());  // finish() reset it
}

// ---- base64 ----

// RFC 4648 section 10 test vectors.
const std::vector<std::pair<std::string, std::string>> rfc4648 = {
    {"", ""},
    {"f", "Zg=="},
    {"fo", "Zm8="},
    {"foo", "Zm9v"},
    {"foob", "Zm9vYg=="},
    {"fooba", "Zm9vYmE="},
    {"foobar", "Zm9vYmFy"},
};

// Buffer.from(all_bytes()).toString('base64') in Node 20.
const std::string all_bytes_base64 =
    "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJygpKissLS4vMDEyMzQ1Njc4OTo7PD0+P0BBQkNE"
    "RUZHSElKS0xNTk9QUVJTVFVWV1hZWltcXV5fYGFiY2RlZmdoaWprbG1ub3BxcnN0dXZ3eHl6e3x9fn+AgYKDhIWGh4iJ"
    "iouMjY6PkJGSk5SVlpeYmZqbnJ2en6ChoqOkpaanqKmqq6ytrq+wsbKztLW2t7i5uru8vb6/wMHCw8TFxsfIycrLzM3O"
    "z9DR0tPU1dbX2Nna29zd3t/g4eLj5OXm5+jp6uvs7e7v8PHy8/T19vf4+fr7/P3+/w==";

// 32 bytes (i * 37 + 11) & 255 and their encoding, from Node 20.
std::string sample32() {
  std::string s;
  for (int i = 0; i < 32; ++i) s += static_cast<char>((i * 37 + 11) & 255);
  return s;
}
const std::string sample32_base64 = "CzBVep/E6Q4zWH2ix+wRNluApcrvFDleg6jN8hc8YYY=";

std::string encode_base64_pieces(const std::vector<std::string>& pieces) {
  base64_encoder e;
  std::string all;
  for (const std::string& p : pieces) all += e.encode(buffer::copy_of(p)).to_string();
  return all + e.finish().to_string();
}

std::string decode_base64_pieces(const std::vector<std::string>& pieces, std::error_code& ec) {
  base64_decoder d;
  std::string all;
  buffer out;
  for (const std::string& p : pieces) {
    ec = d.decode(buffer::copy_of(p), out);
    if (ec) return all;
    all += out.to_string();
  }
  ec = d.finish(out);
  return all + out.to_string();
}

TEST(Base64, EncodesRfc4648Vectors) {
  for (const auto& [plain, encoded] : rfc4648) {
    EXPECT_EQ(encode_base64_pieces({plain}), encoded) << plain;
  }
  EXPECT_EQ(encode_base64_pieces({all_bytes()}), all_bytes_base64);
  EXPECT_EQ(encode_base64_pieces({mixed_text}),
            "aMOpbGxvIOKCrHVybyDwn5iAIOKckw==");  // Node 20
}

TEST(Base64, EncodingChunksEqualsEncodingTheWhole) {
  for_each_split(sample32(), [&](const std::vector<std::string>& pieces) {
    EXPECT_EQ(encode_base64_pieces(pieces), sample32_base64) << describe(pieces);
  });
  for (const auto& vector : rfc4648) {  // not a structured binding: lambdas capture it
    for_each_split(vector.first, [&](const std::vector<std::string>& pieces) {
      EXPECT_EQ(encode_base64_pieces(pieces), vector.second)
          << vector.first << ": " << describe(pieces);
    });
  }
}

TEST(Base64, EncoderOutputHasNoPaddingBeforeFinish) {
  base64_encoder e;
  EXPECT_TRUE(e.encode(buffer::copy_of("fo")).empty());
  EXPECT_EQ(e.encode(buffer::copy_of("ob")).view(), "Zm9v");
  EXPECT_EQ(e.finish().view(), "Yg==");
  EXPECT_TRUE(e.finish().empty());  // reset
}

TEST(Base64, DecodesRfc4648VectorsPaddedAndNot) {
  for (const auto& [plain, encoded] : rfc4648) {
    std::error_code ec;
    EXPECT_EQ(decode_base64_pieces({encoded}, ec), plain) << encoded;
    EXPECT_FALSE(ec) << encoded;
    std::string unpadded = encoded;
    while (!unpadded.empty() && unpadded.back() == '=') unpadded.pop_back();
    EXPECT_EQ(decode_base64_pieces({unpadded}, ec), plain) << unpadded;
    EXPECT_FALSE(ec) << unpadded;
  }
  std::error_code ec;
  EXPECT_EQ(decode_base64_pieces({all_bytes_base64}, ec), all_bytes());
  EXPECT_FALSE(ec);
  EXPECT_EQ(decode_base64_pieces({"Zg="}, ec), "f");  // partial padding
  EXPECT_FALSE(ec);
}

TEST(Base64, DecodesUrlSafeAndWhitespace) {
  std::error_code ec;
  EXPECT_EQ(decode_base64_pieces({"-_8"}, ec), "\xFB\xFF");  // Node: base64url of fb ff
  EXPECT_FALSE(ec);
  EXPECT_EQ(decode_base64_pieces({"+/8="}, ec), "\xFB\xFF");
  EXPECT_FALSE(ec);
  EXPECT_EQ(decode_base64_pieces({"Zm9v\nYmFy\r\n"}, ec), "foobar");  // Node agrees
  EXPECT_FALSE(ec);
  EXPECT_EQ(decode_base64_pieces({" Z m 9\tv Y g = = \n"}, ec), "foob");
  EXPECT_FALSE(ec);
  EXPECT_EQ(decode_base64_pieces({"QR=="}, ec), "A");  // unused bits ignored, as in Node
  EXPECT_FALSE(ec);
}

TEST(Base64, DecodingChunksEqualsDecodingTheWhole) {
  const std::vector<std::string> encodings = {sample32_base64, "CzBVep/E6Q4z\nWH2ix+wRNluA pcrvFDl",
                                              "CzBVep_E6Q4zWH2ix-wRNluApcrvFDleg6jN8hc8YYY"};
  const std::vector<std::string> plains = {sample32(), sample32().substr(0, 23), sample32()};
  for (std::size_t k = 0; k < encodings.size(); ++k) {
    for_each_split(encodings[k], [&](const std::vector<std::string>& pieces) {
      std::error_code ec;
      EXPECT_EQ(decode_base64_pieces(pieces, ec), plains[k]) << k << ": " << describe(pieces);
      EXPECT_FALSE(ec) << k << ": " << describe(pieces);
    });
  }
}

TEST(Base64, RejectsBadInput) {
  for (const std::string bad :
       {"Zm9v*", "=", "Z===", "Zm8=Zm8=", "Zm8==", "Zg===", "Zm9v.", "Zg==A", "Zm\x80v"}) {
    std::error_code ec;
    decode_base64_pieces({bad}, ec);
    EXPECT_EQ(ec, errc::invalid_argument) << bad;
    EXPECT_EQ(ec, std::errc::invalid_argument) << bad;
  }
}

TEST(Base64, LoneTrailingCharacterIsAnError) {
  std::error_code ec;
  EXPECT_EQ(decode_base64_pieces({"Zm9vY"}, ec), "foo");
  EXPECT_EQ(ec, errc::invalid_argument);
}

TEST(Base64, FailedCallLeavesTheDecoderAsItWas) {
  base64_decoder d;
  buffer out;
  ASSERT_FALSE(d.decode(buffer::copy_of("Zm"), out));
  EXPECT_TRUE(out.empty());
  out = buffer::copy_of("stale");
  EXPECT_EQ(d.decode(buffer::copy_of("9v!"), out), errc::invalid_argument);
  EXPECT_TRUE(out.empty());
  ASSERT_FALSE(d.decode(buffer::copy_of("9vYg"), out));
  EXPECT_EQ(out.view(), "foo");
  ASSERT_FALSE(d.finish(out));
  EXPECT_EQ(out.view(), "b");
}

TEST(Base64, PaddingSplitAcrossCalls) {
  base64_decoder d;
  buffer out;
  ASSERT_FALSE(d.decode(buffer::copy_of("Zg"), out));
  EXPECT_TRUE(out.empty());
  ASSERT_FALSE(d.decode(buffer::copy_of("="), out));
  EXPECT_EQ(out.view(), "f");  // padding ends the group: no need to wait for finish()
  ASSERT_FALSE(d.decode(buffer::copy_of("=\n"), out));
  EXPECT_TRUE(out.empty());
  EXPECT_EQ(d.decode(buffer::copy_of("="), out), errc::invalid_argument);
  ASSERT_FALSE(d.finish(out));
  EXPECT_TRUE(out.empty());
}

}  // namespace
