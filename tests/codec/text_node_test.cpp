// Conformance: the text transforms (sluice/codec/text.hpp) against Node 20's
// readable.setEncoding(). One TEST per scenario of tests/core/node/text.js; the expected traces are
// copied from tests/core/node/traces/text.txt.
//
// Mapping: Node's `r.setEncoding(enc)` decodes inside the readable; sluice has no encodings on
// streams, so the C++ scenario pipes a plain readable<buffer> `r` into the matching transform `d`
// (utf8_decoder for 'utf8', hex_encoder for 'hex', base64_encoder for 'base64') and logs what a
// consumer of the decoded text sees: `d`'s 'data', 'end', 'close' and 'error'.
#include <gtest/gtest.h>

#include <cstdint>
#include <initializer_list>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "sluice/codec/text.hpp"
#include "sluice/core/buffer.hpp"
#include "sluice/core/loop.hpp"
#include "sluice/core/make.hpp"
#include "support/trace.hpp"

namespace {

using sluice::buffer;
using sluice::manual_loop;
using sluice::test::node_code;
using sluice::test::trace;

// text.js q(): JSON.stringify, with every UTF-16 unit from U+007F up escaped as \uXXXX.
std::string q(std::string_view s) {
  static constexpr char digits[] = "0123456789abcdef";
  auto unit = [](std::string& out, std::uint32_t u) {
    out += "\\u";
    for (int shift = 12; shift >= 0; shift -= 4) out += digits[(u >> shift) & 0xFu];
  };
  std::string out = "\"";
  std::size_t i = 0;
  while (i < s.size()) {
    const auto b = static_cast<unsigned char>(s[i]);
    std::size_t len = 1;
    std::uint32_t cp = b;
    if (b >= 0xF0) {
      len = 4;
      cp = b & 0x07u;
    } else if (b >= 0xE0) {
      len = 3;
      cp = b & 0x0Fu;
    } else if (b >= 0xC0) {
      len = 2;
      cp = b & 0x1Fu;
    }
    for (std::size_t k = 1; k < len && i + k < s.size(); ++k)
      cp = (cp << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3Fu);
    i += len;
    if (cp == '"') {
      out += "\\\"";
    } else if (cp == '\\') {
      out += "\\\\";
    } else if (cp == '\n') {
      out += "\\n";
    } else if (cp < 0x20) {
      unit(out, cp);
    } else if (cp < 0x7F) {
      out += static_cast<char>(cp);
    } else if (cp < 0x10000) {
      unit(out, cp);
    } else {
      cp -= 0x10000;
      unit(out, 0xD800 + (cp >> 10));
      unit(out, 0xDC00 + (cp & 0x3FFu));
    }
  }
  return out + "\"";
}

std::string hex_of(std::string_view s) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  for (char c : s) {
    const auto v = static_cast<unsigned char>(c);
    out += digits[v >> 4];
    out += digits[v & 0xFu];
  }
  return out;
}

buffer bytes(std::initializer_list<int> bs) {
  std::string s;
  for (int b : bs) s += static_cast<char>(b);
  return buffer::copy_of(s);
}

std::string text_of(const buffer& b) { return b.to_string(); }
std::string text_of(const std::string& s) { return s; }

// text.js mkR(): a readable whose _read does nothing; the scenario pushes.
std::shared_ptr<sluice::readable<buffer>> mk_r(manual_loop& loop) {
  return sluice::make_readable<buffer>(loop,
                                       {.read = [](sluice::readable<buffer>&, std::size_t) {}});
}

// track(s, null, ['end', 'close', 'error']) and onDataQ(s), on the decoding stream.
template <class S>
void track_q(S& s, trace& tr) {
  s.on_end([&tr] { tr("event end"); });
  s.on_close([&tr] { tr("event close"); });
  s.on_error([&tr](std::error_code ec) { tr("event error " + node_code(ec)); });
  s.on_data([&tr](auto&& c) { tr("event data " + q(text_of(c))); });
}

// text.js pushB(r, buf).
void push_b(sluice::readable<buffer>& r, trace& tr, const buffer& b) {
  const std::string hex = hex_of(b.view());
  const bool ok = r.push(b);
  tr("push(hex " + hex + ") -> " + (ok ? "true" : "false"));
}

std::string length_state(std::size_t n) { return "state readableLength=" + std::to_string(n); }

TEST(TextConformance, utf8_split_3byte) {
  manual_loop loop;
  trace tr;
  auto r = mk_r(loop);
  auto d = r->pipe(std::make_shared<sluice::utf8_decoder>(loop));  // r.setEncoding('utf8')
  track_q(*d, tr);
  push_b(*r, tr, bytes({0x78, 0xe2}));
  push_b(*r, tr, bytes({0x82, 0xac, 0x61}));
  r->push_eof();
  tr.sync();
  loop.run();
  EXPECT_TRACE(tr, R"(
    push(hex 78e2) -> true
    push(hex 82ac61) -> true
    -- sync
    event data "x"
    event data "\u20aca"
    event end
    event close
  )");
}

TEST(TextConformance, utf8_split_4byte) {
  manual_loop loop;
  trace tr;
  auto r = mk_r(loop);
  auto d = r->pipe(std::make_shared<sluice::utf8_decoder>(loop));
  track_q(*d, tr);
  push_b(*r, tr, bytes({0xf0, 0x9f}));
  push_b(*r, tr, bytes({0x98}));
  push_b(*r, tr, bytes({0x80, 0x62}));
  r->push_eof();
  tr.sync();
  loop.run();
  EXPECT_TRACE(tr, R"(
    push(hex f09f) -> true
    push(hex 98) -> true
    push(hex 8062) -> true
    -- sync
    event data "\ud83d\ude00b"
    event end
    event close
  )");
}

TEST(TextConformance, utf8_incomplete_at_eof) {
  manual_loop loop;
  trace tr;
  auto r = mk_r(loop);
  auto d = r->pipe(std::make_shared<sluice::utf8_decoder>(loop));
  track_q(*d, tr);
  push_b(*r, tr, bytes({0x61, 0xe2, 0x82}));
  r->push_eof();
  tr.sync();
  loop.run();
  EXPECT_TRACE(tr, R"(
    push(hex 61e282) -> true
    -- sync
    event data "a"
    event data "\ufffd"
    event end
    event close
  )");
}

// utf8_paused_length: skipped. Node's readableLength counts UTF-16 units of the decoded string
// (3 for "€😀") and read(1) splits a string; a utf8_decoder buffers whole std::string items.

// set_encoding_after_buffered: skipped. setEncoding() re-decodes bytes already buffered inside
// the readable (readableLength 4 → 2 string units); a transform cannot be put in front of data
// that was already pushed.

// The `encoding` constructor option is setEncoding() done at construction: same pipe.
TEST(TextConformance, encoding_option) {
  manual_loop loop;
  trace tr;
  auto r = mk_r(loop);
  auto d = r->pipe(std::make_shared<sluice::utf8_decoder>(loop));
  track_q(*d, tr);
  push_b(*r, tr, bytes({0xc3}));
  push_b(*r, tr, bytes({0xa9}));
  r->push_eof();
  tr.sync();
  loop.run();
  EXPECT_TRACE(tr, R"(
    push(hex c3) -> true
    push(hex a9) -> true
    -- sync
    event data "\u00e9"
    event end
    event close
  )");
}

TEST(TextConformance, hex_encoding) {
  manual_loop loop;
  trace tr;
  auto r = mk_r(loop);
  auto d = r->pipe(std::make_shared<sluice::hex_encoder>(loop));  // r.setEncoding('hex')
  track_q(*d, tr);
  push_b(*r, tr, bytes({0x01, 0xff}));
  push_b(*r, tr, bytes({0xab}));
  r->push_eof();
  tr.sync();
  loop.run();
  EXPECT_TRACE(tr, R"(
    push(hex 01ff) -> true
    push(hex ab) -> true
    -- sync
    event data "01ff"
    event data "ab"
    event end
    event close
  )");
}

TEST(TextConformance, base64_encoding) {
  manual_loop loop;
  trace tr;
  auto r = mk_r(loop);
  auto d = r->pipe(std::make_shared<sluice::base64_encoder>(loop));  // r.setEncoding('base64')
  track_q(*d, tr);
  push_b(*r, tr, buffer::copy_of("a"));
  push_b(*r, tr, buffer::copy_of("bc"));
  push_b(*r, tr, buffer::copy_of("defg"));
  r->push_eof();
  tr.sync();
  loop.run();
  EXPECT_TRACE(tr, R"(
    push(hex 61) -> true
    push(hex 6263) -> true
    push(hex 64656667) -> true
    -- sync
    event data "YWJj"
    event data "ZGVm"
    event data "Zw=="
    event end
    event close
  )");
}

// Paused mode has no pipe (a pipe would make `r` flow), so the bytes are written straight into
// the encoder, whose readable side plays the encoded readable: "push(...)" logs write()'s result.
TEST(TextConformance, base64_paused) {
  manual_loop loop;
  trace tr;
  auto d = std::make_shared<sluice::base64_encoder>(loop);
  auto write_b = [&](const buffer& b) {
    const std::string hex = hex_of(b.view());
    tr("push(hex " + hex + ") -> " + (d->write(b) ? "true" : "false"));
  };
  write_b(buffer::copy_of("a"));
  tr(length_state(d->readable_length()));
  write_b(buffer::copy_of("bc"));
  tr(length_state(d->readable_length()));
  const std::optional<buffer> x = d->read();
  tr("read() -> " + (x ? q(x->to_string()) : std::string("<object>")));
  tr.sync();
  loop.run();
  EXPECT_TRACE(tr, R"(
    push(hex 61) -> true
    state readableLength=0
    push(hex 6263) -> true
    state readableLength=4
    read() -> "YWJj"
    -- sync
  )");
}

// push_string_with_encoding: skipped. It pushes JS strings (with and without an encoding
// argument) into a byte stream; a readable<buffer> only takes buffers.

// writable_string_encodings: skipped. Per-write string encodings and setDefaultEncoding() do not
// exist: chunks are typed, and decoding text to bytes is an explicit transform.

// utf16le_split: skipped. sluice has no UTF-16 transform.

// ---- Beyond the traces ----

// utf8_rechunker keeps the bytes as buffers but cuts them exactly where setEncoding('utf8')
// cuts its strings.
TEST(TextConformance, extra_utf8_rechunker_cuts_like_set_encoding) {
  manual_loop loop;
  trace tr;
  auto r = mk_r(loop);
  auto d = r->pipe(std::make_shared<sluice::utf8_rechunker>(loop));
  track_q(*d, tr);
  push_b(*r, tr, bytes({0x78, 0xe2}));
  push_b(*r, tr, bytes({0x82, 0xac, 0x61}));
  push_b(*r, tr, bytes({0xf0, 0x9f}));
  push_b(*r, tr, bytes({0x98}));
  push_b(*r, tr, bytes({0x80, 0x62, 0xe2}));
  r->push_eof();
  tr.sync();
  loop.run();
  EXPECT_TRACE(tr, R"(
    push(hex 78e2) -> true
    push(hex 82ac61) -> true
    push(hex f09f) -> true
    push(hex 98) -> true
    push(hex 8062e2) -> true
    -- sync
    event data "x"
    event data "\u20aca"
    event data "\ud83d\ude00b"
    event data "\ufffd"
    event end
    event close
  )");
  EXPECT_EQ(d->counters().chunks_in, 5u);
  EXPECT_EQ(d->counters().bytes_in, 11u);
  EXPECT_EQ(d->counters().chunks_out, 4u);
  EXPECT_EQ(d->counters().bytes_out, 1u + 4u + 5u + 3u);
}

// A decoder fed bad input fails with ERR_INVALID_ARG_VALUE: the data before the bad group still
// comes out, then 'error' and 'close'. The source is unpiped, not destroyed.
TEST(TextConformance, extra_base64_decoder_error_in_pipe) {
  manual_loop loop;
  trace tr;
  auto r = mk_r(loop);
  auto d = r->pipe(std::make_shared<sluice::base64_decoder>(loop));
  track_q(*d, tr);
  push_b(*r, tr, buffer::copy_of("aGVs"));
  push_b(*r, tr, buffer::copy_of("bG8!"));
  tr.sync();
  loop.run();
  EXPECT_TRACE(tr, R"(
    push(hex 61475673) -> true
    push(hex 62473821) -> true
    -- sync
    event data "hel"
    event error ERR_INVALID_ARG_VALUE
    event close
  )");
  EXPECT_EQ(d->errored(), sluice::errc::invalid_argument);
  EXPECT_FALSE(r->destroyed());
  EXPECT_EQ(r->pipe_count(), 0u);
}

// An odd hex digit left at the end fails the stream when it ends.
TEST(TextConformance, extra_hex_decoder_odd_digit_at_end) {
  manual_loop loop;
  trace tr;
  auto r = mk_r(loop);
  auto d = r->pipe(std::make_shared<sluice::hex_decoder>(loop));
  track_q(*d, tr);
  push_b(*r, tr, buffer::copy_of("e282ac"));
  push_b(*r, tr, buffer::copy_of("6"));
  r->push_eof();
  tr.sync();
  loop.run();
  EXPECT_TRACE(tr, R"(
    push(hex 653238326163) -> true
    push(hex 36) -> true
    -- sync
    event data "\u20ac"
    event error ERR_INVALID_ARG_VALUE
    event close
  )");
}

}  // namespace
