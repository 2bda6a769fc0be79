// gzip with threads > 1 (blocks compressed on a pool, written out as one member): what the real
// gzip CLI and sluice's gunzip make of it at the edges of the block size, its size against the
// one-thread output, backpressure with a slow consumer, and destroying it with blocks in flight.
#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "codec/compress_support.hpp"
#include "sluice/codec.hpp"

namespace {

using namespace std::chrono_literals;
using sluice::buffer;
using sluice::gzip_engine;
using sluice::manual_loop;
using sluice::test::mixed_data;
using sluice::test::quoted;
using sluice::test::read_file;
using sluice::test::run_codec;
using sluice::test::shell;
using sluice::test::temp_dir;
using sluice::test::write_file;

constexpr std::size_t block = 128 * 1024;  // the block size of the parallel compressor

sluice::gzip_options opts(gzip_engine engine, unsigned threads, int level = -1) {
  sluice::gzip_options o;
  o.engine = engine;
  o.threads = threads;
  o.level = level;
  return o;
}

std::string random_bytes(std::size_t n, std::uint32_t seed) {
  std::mt19937 rng(seed);
  std::string s(n, '\0');
  for (auto& c : s) c = static_cast<char>(rng());
  return s;
}

// Text: words from a small vocabulary in random order, in lines of random length.
std::string text_data(std::size_t n, std::uint32_t seed) {
  static constexpr std::string_view words[] = {
      "the ",   "stream ", "of ",    "backpressure ", "buffer ", "and ",  "pipe ",  "writes ",
      "reads ", "into ",   "a ",     "file ",         "with ",   "gzip ", "block ", "thread ",
      "which ", "window ", "chunk ", "data ",         "end.\n"};
  std::mt19937 rng(seed);
  std::string s;
  s.reserve(n + 16);
  while (s.size() < n) s.append(words[rng() % std::size(words)]);
  s.resize(n);
  return s;
}

std::string gzip_cli_decompress(const std::string& packed) {
  temp_dir dir;
  write_file(dir / "in.gz", packed);
  const std::string cmd = "gzip -dc < " + quoted(dir / "in.gz") + " > " + quoted(dir / "out");
  EXPECT_EQ(shell(cmd), 0) << cmd;
  return read_file(dir / "out");
}

struct sized_input {
  const char* what;
  std::string data;
  std::size_t in_chunk;  // the size of the writes
};

std::vector<sized_input> edge_inputs() {
  return {
      {"empty", "", 64 * 1024},
      {"one byte", "x", 64 * 1024},
      {"exactly one block", mixed_data(block, 1), 64 * 1024},
      {"one block and one byte", mixed_data(block + 1, 2), 64 * 1024},
      {"many blocks, odd writes", mixed_data(7 * block + 12345, 3), 7777},
      {"many blocks in one write", mixed_data(5 * block - 3, 4), 5 * block},
      {"incompressible", random_bytes(3 * block + 99, 5), 50000},
  };
}

TEST(ParallelGzip, GzipCliAndGunzipReadItAtTheEdgesOfTheBlockSize) {
  ASSERT_TRUE(sluice::test::have_tool("gzip"));
  for (const auto engine : {gzip_engine::zlib, gzip_engine::isal}) {
    for (const auto& in : edge_inputs()) {
      SCOPED_TRACE(testing::Message() << "engine " << static_cast<int>(engine) << ", " << in.what);
      manual_loop loop;
      const auto packed =
          run_codec(sluice::make_gzip(loop, opts(engine, 2)), in.data, loop, in.in_chunk);
      ASSERT_TRUE(packed.finished) << packed.message;
      EXPECT_TRUE(gzip_cli_decompress(packed.out) == in.data);
      for (const auto back_engine : {gzip_engine::zlib, gzip_engine::isal}) {
        const auto back = run_codec(sluice::make_gunzip(loop, {}, back_engine), packed.out, loop);
        ASSERT_TRUE(back.finished) << back.message;
        EXPECT_TRUE(back.out == in.data);
      }
    }
  }
}

TEST(ParallelGzip, EveryLevelAndASmallWindow) {
  const std::string input = mixed_data(3 * block + 500, 6);
  for (const auto engine : {gzip_engine::zlib, gzip_engine::isal}) {
    for (const int level : {0, 1, 6, 9}) {
      for (const int window_bits : {9, 15}) {
        SCOPED_TRACE(testing::Message() << "engine " << static_cast<int>(engine) << " level "
                                        << level << " window_bits " << window_bits);
        manual_loop loop;
        auto o = opts(engine, 3, level);
        o.window_bits = window_bits;
        const auto packed = run_codec(sluice::make_gzip(loop, o), input, loop);
        ASSERT_TRUE(packed.finished) << packed.message;
        EXPECT_TRUE(gzip_cli_decompress(packed.out) == input);
      }
    }
  }
}

TEST(ParallelGzip, SameBytesForAnyThreadCountAndWithinOnePercentOfOneThreadOnText) {
  const std::string input = text_data(4 << 20, 7);
  for (const auto engine : {gzip_engine::zlib, gzip_engine::isal}) {
    SCOPED_TRACE(testing::Message() << "engine " << static_cast<int>(engine));
    manual_loop loop;
    const auto one = run_codec(sluice::make_gzip(loop, opts(engine, 1)), input, loop);
    const auto two = run_codec(sluice::make_gzip(loop, opts(engine, 2)), input, loop);
    const auto five = run_codec(sluice::make_gzip(loop, opts(engine, 5)), input, loop);
    ASSERT_TRUE(one.finished && two.finished && five.finished);
    EXPECT_TRUE(two.out == five.out);
    EXPECT_NE(one.out, two.out);  // really the block path, not the one-thread one
    EXPECT_LE(static_cast<double>(two.out.size()), 1.01 * static_cast<double>(one.out.size()));
    const auto back = run_codec(sluice::make_gunzip(loop), two.out, loop);
    EXPECT_TRUE(back.out == input);
  }
}

TEST(ParallelGzip, OutputComesInChunkSizeBuffers) {
  manual_loop loop;
  auto o = opts(gzip_engine::zlib, 2, 1);
  o.chunk_size = 1000;
  const auto r = run_codec(sluice::make_gzip(loop, o), mixed_data(3 * block, 8), loop);
  ASSERT_TRUE(r.finished);
  ASSERT_GE(r.chunk_sizes.size(), 2u);
  for (std::size_t i = 0; i + 1 < r.chunk_sizes.size(); ++i) EXPECT_EQ(r.chunk_sizes[i], 1000u);
  EXPECT_LE(r.chunk_sizes.back(), 1000u);
}

TEST(ParallelGzip, SlowConsumerBoundsTheInputTakenAhead) {
  // A sink that takes 1 ms (virtual) per chunk: however long the input, the source stays a
  // bounded distance ahead of what came out, and the compressor holds at most threads + 1
  // blocks besides its buffers.
  const std::string input = mixed_data(16 << 20, 9);
  for (const auto engine : {gzip_engine::zlib, gzip_engine::isal}) {
    SCOPED_TRACE(testing::Message() << "engine " << static_cast<int>(engine));
    manual_loop loop;
    auto codec = sluice::make_gzip(loop, opts(engine, 2));
    const auto p = sluice::test::run_slow(loop, codec, input, 64 * 1024);
    ASSERT_TRUE(p.finished);
    EXPECT_TRUE(gzip_cli_decompress(p.out) == input);
    constexpr std::size_t hwm = 64 * 1024;
    // Bytes the codec counted in but has not compressed sit in its blocks: with bytes_in counted
    // at write time, the source's lead is its buffer and the codec's writable buffer.
    EXPECT_LE(p.read_ahead, 4 * hwm + 64 * 1024);
    EXPECT_LE(codec->counters().peak_writable_length, hwm + 64 * 1024);
    // Three blocks of output can land on a full readable buffer, no more.
    EXPECT_LE(codec->counters().peak_readable_length, hwm + 3 * block);
    EXPECT_GT(codec->counters().push_backpressure, 0u);
  }
}

TEST(ParallelGzip, AWriteWaitsWhileEveryBlockIsTaken) {
  // With 2 threads, 3 blocks fit: a single 1 MiB write is taken in only once blocks have come
  // back from the pool and been written out, so its callback waits for them.
  manual_loop loop;
  auto gz = sluice::make_gzip(loop, opts(gzip_engine::zlib, 2));
  std::string out;
  gz->on_data([&](const buffer& b) { out.append(b.view()); });
  bool written = false;
  const std::string input = mixed_data(1 << 20, 10);
  gz->write(buffer::copy_of(input), [&](std::error_code ec) {
    EXPECT_FALSE(ec);
    written = true;
  });
  // Deferred tasks only: nothing has come back from the pool yet. (A one-thread gzip would have
  // completed the write by now.)
  while (loop.deferred_count() > 0) loop.step();
  EXPECT_FALSE(written);
  EXPECT_EQ(out.size(), 0u);
  gz->end();
  loop.run();
  EXPECT_TRUE(written);
  EXPECT_TRUE(gzip_cli_decompress(out) == input);
}

TEST(ParallelGzip, DestroyWithBlocksInFlightIsSafeAndEmitsNothingMore) {
  for (const bool drop_reference : {false, true}) {
    SCOPED_TRACE(drop_reference ? "stream released" : "stream kept");
    manual_loop loop;
    auto gz = sluice::make_gzip(loop, opts(gzip_engine::isal, 4));
    std::size_t out_after_destroy = 0;
    bool destroyed = false;
    gz->on_data([&](const buffer& b) {
      if (destroyed) out_after_destroy += b.size();
    });
    bool closed = false;
    gz->on_close([&] { closed = true; });
    const std::string input = mixed_data(2 << 20, 11);
    for (std::size_t pos = 0; pos < input.size(); pos += 64 * 1024)
      (void)gz->write(buffer::copy_of(input.substr(pos, 64 * 1024)));
    while (loop.deferred_count() > 0) loop.step();  // blocks are on the pool; none came back
    gz->destroy();
    destroyed = true;
    if (drop_reference) gz.reset();
    loop.run();  // waits for the blocks in flight; their results are dropped
    EXPECT_EQ(out_after_destroy, 0u);
    EXPECT_TRUE(closed);
    EXPECT_EQ(loop.outstanding_work(), 0u);
  }
}

TEST(ParallelGzip, ThreadsOptionRange) {
  manual_loop loop;
  auto o = opts(gzip_engine::zlib, sluice::max_gzip_threads + 1);
  try {
    (void)sluice::make_gzip(loop, o);
    ADD_FAILURE() << "threads above the maximum was accepted";
  } catch (const std::system_error& e) {
    EXPECT_EQ(e.code(), sluice::errc::out_of_range);
    EXPECT_NE(std::string(e.what()).find("threads"), std::string::npos) << e.what();
  }
  // 0 is one per core; a sync flush still gives each write's output at once (one-thread path).
  o.threads = 0;
  o.flush = sluice::flush_mode::sync;
  auto gz = sluice::make_gzip(loop, o);
  std::string out;
  gz->on_data([&](const buffer& b) { out.append(b.view()); });
  (void)gz->write(buffer::copy_of(std::string("hello\n")));
  loop.run_until_idle();
  EXPECT_GT(out.size(), 10u);  // header and the flushed data, before end()
}

}  // namespace
