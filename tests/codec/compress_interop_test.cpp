// Interoperability with the real tools, both ways, through temp files: gzip, igzip, zstd,
// brotli; multi-member gzip and multi-frame zstd; a sample of the *.gz files under
// /usr/share/doc, decompressed by sluice and by `gzip -dc`.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "codec/compress_support.hpp"
#include "sluice/codec.hpp"

namespace {

using sluice::manual_loop;
using sluice::test::have_tool;
using sluice::test::mixed_data;
using sluice::test::quoted;
using sluice::test::read_file;
using sluice::test::run_codec;
using sluice::test::shell;
using sluice::test::temp_dir;
using sluice::test::write_file;

sluice::gzip_options gzip_opts(int level, sluice::gzip_engine engine) {
  sluice::gzip_options o;
  o.level = level;
  o.engine = engine;
  return o;
}

// Compresses with sluice, decompresses with `tool_decompress` (reading file IN, writing OUT).
void sluice_to_tool(const sluice::test::codec_ptr& codec, manual_loop& loop,
                    const std::string& input, const std::string& tool_decompress) {
  temp_dir dir;
  auto packed = run_codec(codec, input, loop);
  ASSERT_TRUE(packed.finished) << packed.message;
  write_file(dir / "in", packed.out);
  const std::string cmd =
      tool_decompress + " < " + quoted(dir / "in") + " > " + quoted(dir / "out");
  ASSERT_EQ(shell(cmd), 0) << cmd;
  EXPECT_TRUE(read_file(dir / "out") == input) << cmd;
}

// Compresses with `tool_compress`, decompresses with sluice.
void tool_to_sluice(const std::string& tool_compress, const sluice::test::codec_ptr& codec,
                    manual_loop& loop, const std::string& input) {
  temp_dir dir;
  write_file(dir / "in", input);
  const std::string cmd = tool_compress + " < " + quoted(dir / "in") + " > " + quoted(dir / "out");
  ASSERT_EQ(shell(cmd), 0) << cmd;
  auto r = run_codec(codec, read_file(dir / "out"), loop, 10000);
  ASSERT_TRUE(r.finished) << cmd << ": " << r.message;
  EXPECT_TRUE(r.out == input) << cmd;
}

const std::string& sample() {
  static const std::string s = mixed_data(3 << 19, 42);
  return s;
}

TEST(Interop, GzipCliReadsSluiceGzipAtEveryEngineAndLevel) {
  ASSERT_TRUE(have_tool("gzip"));
  for (const auto engine : {sluice::gzip_engine::zlib, sluice::gzip_engine::isal}) {
    for (const int level : {-1, 0, 1, 6, 9}) {
      SCOPED_TRACE(testing::Message()
                   << "engine " << static_cast<int>(engine) << " level " << level);
      manual_loop loop;
      sluice_to_tool(sluice::make_gzip(loop, gzip_opts(level, engine)), loop, sample(), "gzip -dc");
    }
  }
}

TEST(Interop, SluiceGunzipReadsGzipCli) {
  for (const auto engine : {sluice::gzip_engine::zlib, sluice::gzip_engine::isal}) {
    for (const char* cmd : {"gzip -c -1", "gzip -c", "gzip -c -9"}) {
      manual_loop loop;
      tool_to_sluice(cmd, sluice::make_gunzip(loop, {}, engine), loop, sample());
    }
  }
}

TEST(Interop, Igzip) {
  if (!have_tool("igzip")) GTEST_SKIP() << "igzip (Debian package isal) is not installed";
  for (const char* cmd : {"igzip -c -0", "igzip -c", "igzip -c -3"}) {
    manual_loop loop;
    tool_to_sluice(cmd, sluice::make_gunzip(loop, {}, sluice::gzip_engine::isal), loop, sample());
  }
  manual_loop loop;
  sluice_to_tool(sluice::make_gzip(loop, gzip_opts(-1, sluice::gzip_engine::isal)), loop, sample(),
                 "igzip -dc");
  sluice_to_tool(sluice::make_gzip(loop, gzip_opts(9, sluice::gzip_engine::zlib)), loop, sample(),
                 "igzip -dc");
}

TEST(Interop, Zstd) {
  ASSERT_TRUE(have_tool("zstd"));
  manual_loop loop;
  sluice_to_tool(sluice::make_zstd_compress(loop), loop, sample(), "zstd -dcq");
  sluice_to_tool(sluice::make_zstd_compress(loop, {.level = 12, .window_log = 20}), loop, sample(),
                 "zstd -dcq");
  sluice_to_tool(sluice::make_zstd_compress(loop, {.checksum = false}), loop, sample(),
                 "zstd -dcq");
  tool_to_sluice("zstd -cq", sluice::make_zstd_decompress(loop), loop, sample());
  tool_to_sluice("zstd -cq -1 --no-check", sluice::make_zstd_decompress(loop), loop, sample());
}

TEST(Interop, Brotli) {
  ASSERT_TRUE(have_tool("brotli"));
  const std::string input = sample().substr(0, 1 << 20);
  manual_loop loop;
  sluice_to_tool(sluice::make_brotli_compress(loop, {.quality = 6}), loop, input, "brotli -dc");
  tool_to_sluice("brotli -c -q 5", sluice::make_brotli_decompress(loop), loop, input);
  tool_to_sluice("brotli -c -q 11 -w 24", sluice::make_brotli_decompress(loop), loop,
                 input.substr(0, 128 * 1024));
}

// gzip -d decompresses concatenated members as one file; so does gunzip.
TEST(Interop, MultiMemberGzip) {
  temp_dir dir;
  const std::string a = mixed_data(200000, 1);
  const std::string b = mixed_data(300000, 2);
  write_file(dir / "a", a);
  write_file(dir / "b", b);
  write_file(dir / "empty", "");
  ASSERT_EQ(shell("{ gzip -c " + quoted(dir / "a") + "; gzip -c " + quoted(dir / "empty") +
                  "; gzip -c -1 " + quoted(dir / "b") + "; } > " + quoted(dir / "ab.gz")),
            0);
  const std::string packed = read_file(dir / "ab.gz");
  // Every cut of the input: a member boundary falls inside, at the start and at the end of chunks.
  for (const auto engine : {sluice::gzip_engine::zlib, sluice::gzip_engine::isal}) {
    for (const std::size_t in_chunk : {std::size_t{3}, std::size_t{4096}, packed.size()}) {
      SCOPED_TRACE(testing::Message()
                   << "engine " << static_cast<int>(engine) << " in_chunk " << in_chunk);
      manual_loop loop;
      auto r = run_codec(sluice::make_gunzip(loop, {}, engine), packed, loop, in_chunk);
      ASSERT_TRUE(r.finished) << r.message;
      EXPECT_TRUE(r.out == a + b);
    }
  }
  // And one made by sluice itself, appended to one made by gzip.
  manual_loop loop;
  const std::string c = mixed_data(1000, 3);
  const std::string mixed = packed + run_codec(sluice::make_gzip(loop), c, loop).out;
  auto r = run_codec(sluice::make_gunzip(loop), mixed, loop);
  ASSERT_TRUE(r.finished) << r.message;
  EXPECT_TRUE(r.out == a + b + c);
  EXPECT_TRUE(sluice::test::shell_output("gzip -dc < " + quoted(dir / "ab.gz")) == a + b);
}

// A member with every optional header field (FEXTRA, FNAME, FCOMMENT, FHCRC), fed in pieces of
// every small size: both engines skip the fields and decode the body.
TEST(Interop, GzipHeaderWithAllOptionalFields) {
  const auto crc32 = [](std::string_view bytes) {
    std::uint32_t c = 0xffffffff;
    for (const char ch : bytes) {
      c ^= static_cast<unsigned char>(ch);
      for (int k = 0; k < 8; ++k) c = (c >> 1) ^ (0xedb88320u & (0u - (c & 1u)));
    }
    return ~c;
  };
  manual_loop loop;
  const std::string text = mixed_data(50000, 6);
  const std::string plain_member = run_codec(sluice::make_gzip(loop), text, loop).out;
  std::string header("\x1f\x8b\x08\x1e\0\0\0\0\0\x03", 10);  // FLG: all four fields
  header += std::string("\x05\0extra", 7);                   // XLEN 5, then 5 bytes
  header += std::string("name.txt\0", 9);
  header += std::string("a comment\0", 10);
  const std::uint32_t hcrc = crc32(header);
  header += static_cast<char>(hcrc & 0xff);
  header += static_cast<char>((hcrc >> 8) & 0xff);
  const std::string member = header + plain_member.substr(10);
  for (const auto engine : {sluice::gzip_engine::zlib, sluice::gzip_engine::isal}) {
    for (std::size_t in_chunk = 1; in_chunk <= 11; in_chunk += 5) {
      SCOPED_TRACE(testing::Message()
                   << "engine " << static_cast<int>(engine) << " in_chunk " << in_chunk);
      auto r = run_codec(sluice::make_gunzip(loop, {}, engine), member + member, loop, in_chunk);
      ASSERT_TRUE(r.finished) << r.message;
      EXPECT_TRUE(r.out == text + text);
    }
  }
  temp_dir dir;
  write_file(dir / "h.gz", member);
  EXPECT_TRUE(sluice::test::shell_output("gzip -dc < " + quoted(dir / "h.gz")) == text);
}

TEST(Interop, MultiFrameZstd) {
  temp_dir dir;
  const std::string a = mixed_data(100000, 4);
  const std::string b = mixed_data(50000, 5);
  write_file(dir / "a", a);
  write_file(dir / "b", b);
  ASSERT_EQ(shell("{ zstd -cq " + quoted(dir / "a") + "; zstd -cq " + quoted(dir / "b") + "; } > " +
                  quoted(dir / "ab.zst")),
            0);
  manual_loop loop;
  auto r = run_codec(sluice::make_zstd_decompress(loop), read_file(dir / "ab.zst"), loop, 3000);
  ASSERT_TRUE(r.finished) << r.message;
  EXPECT_TRUE(r.out == a + b);
}

// Real-world gzip files: every one decompresses to what gzip -dc says.
TEST(Interop, GzFilesUnderUsrShareDoc) {
  std::vector<std::filesystem::path> files;
  std::error_code ec;
  for (auto it = std::filesystem::recursive_directory_iterator(
           "/usr/share/doc", std::filesystem::directory_options::skip_permission_denied, ec);
       it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
    if (ec) break;
    if (it->is_regular_file(ec) && it->path().extension() == ".gz") files.push_back(it->path());
  }
  if (files.size() < 5) GTEST_SKIP() << "fewer than 5 .gz files under /usr/share/doc";
  std::sort(files.begin(), files.end());
  // A spread-out sample of at most 40, the same on every run of the same machine.
  const std::size_t step = std::max<std::size_t>(1, files.size() / 40);
  int checked = 0;
  for (std::size_t i = 0; i < files.size(); i += step) {
    SCOPED_TRACE(files[i].string());
    const std::string expected = sluice::test::shell_output("gzip -dc " + quoted(files[i]));
    const std::string packed = read_file(files[i]);
    for (const auto engine : {sluice::gzip_engine::zlib, sluice::gzip_engine::isal}) {
      manual_loop loop;
      auto r = run_codec(sluice::make_gunzip(loop, {}, engine), packed, loop, 8192);
      ASSERT_TRUE(r.finished) << r.message;
      EXPECT_TRUE(r.out == expected);
    }
    ++checked;
  }
  EXPECT_GE(checked, 5);
}

}  // namespace
