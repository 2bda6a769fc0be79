#include "sluice/core/buffer.hpp"

#include <gtest/gtest.h>

#include <array>
#include <cstring>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace {

using sluice::buffer;
using sluice::buffer_builder;
using sluice::buffer_list;

std::span<const std::byte> as_bytes(std::string_view s) {
  return {reinterpret_cast<const std::byte*>(s.data()), s.size()};
}

// Whether `inner`'s bytes lie inside `outer`'s, i.e. it was sliced, not copied.
bool points_into(const buffer& inner, const buffer& outer) {
  return inner.data() >= outer.data() && inner.data() + inner.size() <= outer.data() + outer.size();
}

// ---- buffer ----

TEST(Buffer, DefaultIsEmptyAndOwnsNothing) {
  const buffer b;
  EXPECT_TRUE(b.empty());
  EXPECT_EQ(b.size(), 0u);
  EXPECT_EQ(b.use_count(), 0u);
  EXPECT_EQ(b.view(), "");
  EXPECT_EQ(b.begin(), b.end());
  EXPECT_FALSE(b.shares_storage_with(buffer()));
}

TEST(Buffer, CopyOfCopiesTheBytes) {
  std::string source = "hello";
  const buffer b = buffer::copy_of(source);
  source[0] = 'j';
  EXPECT_EQ(b.view(), "hello");
  EXPECT_NE(reinterpret_cast<const char*>(b.data()), source.data());
  EXPECT_EQ(b.use_count(), 1u);

  const std::array<std::byte, 3> raw{std::byte{1}, std::byte{2}, std::byte{3}};
  const buffer r = buffer::copy_of(std::span<const std::byte>(raw));
  ASSERT_EQ(r.size(), 3u);
  EXPECT_EQ(r[0], std::byte{1});
  EXPECT_EQ(r[2], std::byte{3});
}

TEST(Buffer, CopyOfEmptyAllocatesNothing) {
  EXPECT_EQ(buffer::copy_of(std::string_view()).use_count(), 0u);
  EXPECT_EQ(buffer::copy_of(std::span<const std::byte>()).use_count(), 0u);
}

TEST(Buffer, AdoptsAStringWithoutCopying) {
  std::string text(1000, 'x');  // long enough to live on the heap, not inline
  const char* where = text.data();
  const buffer b(std::move(text));
  EXPECT_EQ(reinterpret_cast<const char*>(b.data()), where);
  EXPECT_EQ(b.size(), 1000u);
  EXPECT_EQ(b.view(), std::string(1000, 'x'));
}

TEST(Buffer, AdoptsAShortString) {
  const buffer b(std::string("hi"));
  EXPECT_EQ(b.view(), "hi");
}

TEST(Buffer, AdoptsAVectorWithoutCopying) {
  std::vector<std::byte> bytes(4096, std::byte{7});
  const std::byte* where = bytes.data();
  const buffer b(std::move(bytes));
  EXPECT_EQ(b.data(), where);
  EXPECT_EQ(b.size(), 4096u);
  EXPECT_EQ(b[4095], std::byte{7});
}

TEST(Buffer, AdoptingNothingAllocatesNothing) {
  EXPECT_EQ(buffer(std::string()).use_count(), 0u);
  EXPECT_EQ(buffer(std::vector<std::byte>()).use_count(), 0u);
}

TEST(Buffer, CopiesShareStorageAndCountReferences) {
  const buffer a = buffer::copy_of("shared bytes");
  {
    const buffer b = a;  // NOLINT(performance-unnecessary-copy-initialization)
    EXPECT_TRUE(b.shares_storage_with(a));
    EXPECT_EQ(b.data(), a.data());
    EXPECT_EQ(a.use_count(), 2u);
    {
      buffer c;
      c = b;
      EXPECT_EQ(a.use_count(), 3u);
    }
    EXPECT_EQ(a.use_count(), 2u);
  }
  EXPECT_EQ(a.use_count(), 1u);
}

TEST(Buffer, MoveTransfersWithoutCounting) {
  buffer a = buffer::copy_of("moved");
  const std::byte* where = a.data();
  buffer b = std::move(a);
  EXPECT_EQ(b.data(), where);
  EXPECT_EQ(b.use_count(), 1u);
  EXPECT_TRUE(a.empty());  // NOLINT(bugprone-use-after-move): moved-from is specified empty
  EXPECT_EQ(a.use_count(), 0u);

  buffer c = buffer::copy_of("other");
  c = std::move(b);
  EXPECT_EQ(c.data(), where);
  EXPECT_EQ(c.use_count(), 1u);
}

TEST(Buffer, SelfAssignmentIsHarmless) {
  buffer a = buffer::copy_of("self");
  const buffer& alias = a;
  a = alias;
  EXPECT_EQ(a.view(), "self");
  EXPECT_EQ(a.use_count(), 1u);
}

TEST(Buffer, SliceSharesStorage) {
  const buffer b = buffer::copy_of("0123456789");
  const buffer s = b.slice(3, 4);
  EXPECT_EQ(s.view(), "3456");
  EXPECT_TRUE(s.shares_storage_with(b));
  EXPECT_EQ(s.data(), b.data() + 3);
  EXPECT_EQ(b.use_count(), 2u);

  const buffer tail = b.slice(7);
  EXPECT_EQ(tail.view(), "789");
  EXPECT_EQ(tail.data(), b.data() + 7);

  const buffer nested = s.slice(1, 2);
  EXPECT_EQ(nested.view(), "45");
  EXPECT_EQ(nested.data(), b.data() + 4);
  EXPECT_EQ(b.use_count(), 4u);
}

TEST(Buffer, SliceClampsLengthAndChecksOffset) {
  const buffer b = buffer::copy_of("abc");
  EXPECT_EQ(b.slice(1, 100).view(), "bc");
  EXPECT_EQ(b.slice(0).data(), b.data());
  EXPECT_TRUE(b.slice(3).empty());
  EXPECT_THROW((void)b.slice(4), std::out_of_range);
  EXPECT_THROW((void)buffer().slice(1), std::out_of_range);
  EXPECT_TRUE(buffer().slice(0).empty());
}

TEST(Buffer, EmptySliceDoesNotPinStorage) {
  const buffer b = buffer::copy_of("abc");
  const buffer e = b.slice(1, 0);
  EXPECT_TRUE(e.empty());
  EXPECT_EQ(e.use_count(), 0u);
  EXPECT_EQ(b.use_count(), 1u);
}

TEST(Buffer, SliceOutlivesTheOriginal) {
  buffer s;
  {
    const buffer b = buffer::copy_of("keep me alive");
    s = b.slice(5, 2);
  }
  EXPECT_EQ(s.view(), "me");  // ASan would flag a use after free here
  EXPECT_EQ(s.use_count(), 1u);
}

TEST(Buffer, AdoptedStorageIsFreedByTheLastSlice) {
  buffer s;
  {
    const buffer b(std::string(100, 'q'));
    s = b.slice(50, 10);
  }
  EXPECT_EQ(s.view(), std::string(10, 'q'));
}

TEST(Buffer, EqualityComparesBytes) {
  const buffer a = buffer::copy_of("same");
  const buffer b(std::string("same"));
  EXPECT_FALSE(a.shares_storage_with(b));
  EXPECT_EQ(a, b);
  EXPECT_NE(a, buffer::copy_of("sane"));
  EXPECT_NE(a, buffer::copy_of("sam"));
  EXPECT_EQ(buffer(), buffer::copy_of(""));
  EXPECT_EQ(buffer::copy_of("xsamex").slice(1, 4), a);
}

TEST(Buffer, Accessors) {
  const buffer b = buffer::copy_of("abc");
  std::string via_iteration;
  for (std::byte c : b) via_iteration += static_cast<char>(c);
  EXPECT_EQ(via_iteration, "abc");
  EXPECT_EQ(b[1], std::byte{'b'});
  EXPECT_EQ(b.bytes().size(), 3u);
  EXPECT_EQ(b.bytes().data(), b.data());
  EXPECT_EQ(b.to_string(), "abc");
  const std::vector<std::byte> v = b.to_vector();
  ASSERT_EQ(v.size(), 3u);
  EXPECT_EQ(v[2], std::byte{'c'});
}

TEST(Buffer, CopiesMayDieOnOtherThreads) {
  const buffer b = buffer::copy_of(std::string(256, 'z'));
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([copy = b] {
      for (int i = 0; i < 1000; ++i) {
        const buffer s = copy.slice(static_cast<std::size_t>(i % 256));
        (void)s.size();
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(b.use_count(), 1u);
}

// ---- buffer_builder ----

TEST(BufferBuilder, FillFreeSpaceThenFreezeWithoutCopy) {
  buffer_builder builder(16);
  EXPECT_EQ(builder.capacity(), 16u);
  EXPECT_EQ(builder.size(), 0u);
  std::span<std::byte> space = builder.free_space();
  ASSERT_EQ(space.size(), 16u);
  const std::byte* where = space.data();
  std::memcpy(space.data(), "hello", 5);  // what read(2) would do
  builder.commit(5);
  EXPECT_EQ(builder.size(), 5u);
  EXPECT_EQ(builder.free_space().size(), 11u);
  EXPECT_EQ(builder.free_space().data(), where + 5);

  const buffer b = std::move(builder).freeze();
  EXPECT_EQ(b.view(), "hello");
  EXPECT_EQ(b.data(), where);
  EXPECT_EQ(b.use_count(), 1u);
  EXPECT_EQ(builder.size(), 0u);      // NOLINT(bugprone-use-after-move): freeze empties it
  EXPECT_EQ(builder.capacity(), 0u);  // NOLINT(bugprone-use-after-move)
}

TEST(BufferBuilder, CommitPastTheEndThrows) {
  buffer_builder builder(4);
  builder.commit(3);
  EXPECT_THROW(builder.commit(2), std::out_of_range);
  EXPECT_EQ(builder.size(), 3u);
  builder.commit(1);
  EXPECT_EQ(builder.free_space().size(), 0u);
}

TEST(BufferBuilder, AppendGrowsAndKeepsContent) {
  buffer_builder builder(2);
  std::string expected;
  for (int i = 0; i < 100; ++i) {
    const std::string piece = std::to_string(i) + ",";
    builder.append(piece);
    expected += piece;
  }
  builder.append(as_bytes("end"));
  expected += "end";
  EXPECT_GE(builder.capacity(), expected.size());
  EXPECT_EQ(std::string_view(reinterpret_cast<const char*>(builder.bytes().data()),
                             builder.bytes().size()),
            expected);
  EXPECT_EQ(std::move(builder).freeze().view(), expected);
}

TEST(BufferBuilder, ReserveMakesRoom) {
  buffer_builder builder;
  EXPECT_EQ(builder.capacity(), 0u);
  builder.append("ab");
  builder.reserve(100);
  EXPECT_GE(builder.free_space().size(), 100u);
  EXPECT_EQ(builder.size(), 2u);
  const std::size_t before = builder.capacity();
  builder.reserve(10);  // already enough: no reallocation
  EXPECT_EQ(builder.capacity(), before);
  EXPECT_EQ(std::move(builder).freeze().view(), "ab");
}

TEST(BufferBuilder, FreezingNothingGivesAnEmptyBuffer) {
  buffer_builder builder(64);
  const buffer b = std::move(builder).freeze();
  EXPECT_TRUE(b.empty());
  EXPECT_EQ(b.use_count(), 0u);
}

TEST(BufferBuilder, MoveKeepsTheBlock) {
  buffer_builder a(8);
  a.append("xy");
  const std::byte* where = a.bytes().data();
  buffer_builder b(std::move(a));
  EXPECT_EQ(b.bytes().data(), where);
  buffer_builder c(4);
  c = std::move(b);
  EXPECT_EQ(c.bytes().data(), where);
  EXPECT_EQ(std::move(c).freeze().view(), "xy");
}

// ---- buffer_list ----

// A list of slices of one backing buffer, in chunks of the given sizes.
buffer_list make_list(const buffer& backing, std::initializer_list<std::size_t> sizes) {
  buffer_list list;
  std::size_t at = 0;
  for (std::size_t n : sizes) {
    list.push_back(backing.slice(at, n));
    at += n;
  }
  return list;
}

void expect_consistent(const buffer_list& list) {
  std::size_t total = 0;
  for (const buffer& b : list) {
    EXPECT_FALSE(b.empty());
    total += b.size();
  }
  EXPECT_EQ(total, list.byte_size());
  EXPECT_EQ(list.empty(), list.chunk_count() == 0);
}

TEST(BufferList, PushIgnoresEmptyBuffers) {
  buffer_list list;
  list.push_back(buffer());
  list.push_front(buffer::copy_of(""));
  EXPECT_TRUE(list.empty());
  EXPECT_EQ(list.chunk_count(), 0u);
  EXPECT_EQ(list.byte_size(), 0u);
}

TEST(BufferList, PushFrontBackAndPop) {
  buffer_list list;
  list.push_back(buffer::copy_of("b"));
  list.push_back(buffer::copy_of("cd"));
  list.push_front(buffer::copy_of("a"));
  EXPECT_EQ(list.chunk_count(), 3u);
  EXPECT_EQ(list.byte_size(), 4u);
  EXPECT_EQ(list.to_string(), "abcd");
  EXPECT_EQ(list.front().view(), "a");

  const buffer first = list.pop_front();
  EXPECT_EQ(first.view(), "a");
  EXPECT_EQ(list.byte_size(), 3u);
  EXPECT_EQ(list.front().view(), "b");
  expect_consistent(list);

  list.clear();
  EXPECT_TRUE(list.empty());
  EXPECT_EQ(list.byte_size(), 0u);
}

TEST(BufferList, ChunksAreTheBuffersPushed) {
  const buffer a = buffer::copy_of("one");
  const buffer b = buffer::copy_of("two");
  buffer_list list;
  list.push_back(a);
  list.push_back(b);
  auto it = list.begin();
  EXPECT_EQ(it->data(), a.data());
  ++it;
  EXPECT_EQ(it->data(), b.data());
  EXPECT_EQ(++it, list.end());
}

TEST(BufferList, Append) {
  buffer_list a;
  a.push_back(buffer::copy_of("ab"));
  buffer_list b;
  b.push_back(buffer::copy_of("cd"));
  b.push_back(buffer::copy_of("e"));
  const std::byte* where = b.front().data();
  a.append(std::move(b));
  EXPECT_EQ(a.to_string(), "abcde");
  EXPECT_EQ(a.chunk_count(), 3u);
  EXPECT_EQ(a.byte_size(), 5u);

  buffer_list empty;
  empty.append(a);  // a copy: shares the chunks
  EXPECT_EQ(empty.to_string(), "abcde");
  EXPECT_EQ((++empty.begin())->data(), where);
  a.append(buffer_list());
  EXPECT_EQ(a.chunk_count(), 3u);
}

TEST(BufferList, ConsumeSplitsExactlyAtEveryOffset) {
  const std::string text = "abcdefghijklmn";
  const buffer backing = buffer::copy_of(text);
  for (std::size_t n = 0; n <= text.size() + 1; ++n) {
    buffer_list rest = make_list(backing, {3, 1, 4, 1, 5});
    const buffer_list head = rest.consume(n);
    const std::size_t taken = std::min(n, text.size());
    EXPECT_EQ(head.to_string(), text.substr(0, taken)) << n;
    EXPECT_EQ(rest.to_string(), text.substr(taken)) << n;
    EXPECT_EQ(head.byte_size(), taken);
    EXPECT_EQ(rest.byte_size(), text.size() - taken);
    expect_consistent(head);
    expect_consistent(rest);
    for (const buffer& b : head) EXPECT_TRUE(b.shares_storage_with(backing));
    for (const buffer& b : rest) EXPECT_TRUE(b.shares_storage_with(backing));
  }
}

TEST(BufferList, ConsumeEverything) {
  const buffer backing = buffer::copy_of("xyz");
  buffer_list list = make_list(backing, {1, 2});
  const buffer_list all = list.consume(buffer::npos);
  EXPECT_EQ(all.to_string(), "xyz");
  EXPECT_TRUE(list.empty());
  EXPECT_EQ(list.byte_size(), 0u);
}

TEST(BufferList, RepeatedConsumeWalksTheBytes) {
  const std::string text = "the quick brown fox";
  const buffer backing = buffer::copy_of(text);
  for (std::size_t step = 1; step <= 5; ++step) {
    buffer_list list = make_list(backing, {4, 6, 9});
    std::string seen;
    while (!list.empty()) {
      const buffer_list piece = list.consume(step);
      EXPECT_EQ(piece.byte_size(), std::min(step, text.size() - seen.size()));
      seen += piece.to_string();
    }
    EXPECT_EQ(seen, text);
  }
}

TEST(BufferList, SliceEveryRange) {
  const std::string text = "0123456789ab";
  const buffer backing = buffer::copy_of(text);
  const buffer_list list = make_list(backing, {2, 5, 1, 4});
  for (std::size_t off = 0; off <= text.size(); ++off) {
    for (std::size_t len = 0; len <= text.size() + 1 - off; ++len) {
      const buffer_list s = list.slice(off, len);
      EXPECT_EQ(s.to_string(), text.substr(off, len)) << off << "," << len;
      expect_consistent(s);
      for (const buffer& b : s) {
        EXPECT_TRUE(b.shares_storage_with(backing));
        EXPECT_TRUE(points_into(b, backing));
      }
    }
  }
  EXPECT_EQ(list.slice(5).to_string(), text.substr(5));
  EXPECT_THROW((void)list.slice(text.size() + 1), std::out_of_range);
  EXPECT_EQ(list.byte_size(), text.size());  // untouched
}

TEST(BufferList, FlattenSingleChunkIsTheChunk) {
  const buffer b = buffer::copy_of("solo");
  buffer_list list;
  list.push_back(b);
  const buffer flat = list.flatten();
  EXPECT_EQ(flat.data(), b.data());
  EXPECT_TRUE(flat.shares_storage_with(b));
}

TEST(BufferList, FlattenManyChunksCopies) {
  const buffer backing = buffer::copy_of("abcdef");
  const buffer_list list = make_list(backing, {1, 2, 3});
  const buffer flat = list.flatten();
  EXPECT_EQ(flat.view(), "abcdef");
  EXPECT_FALSE(flat.shares_storage_with(backing));
  EXPECT_TRUE(buffer_list().flatten().empty());
}

TEST(BufferList, FillIovecsCoversExactlyTheBytes) {
  const std::string text = "gather these bytes";
  const buffer backing = buffer::copy_of(text);
  const buffer_list list = make_list(backing, {6, 1, 5, 6});

  std::array<::iovec, 8> iov{};
  const std::size_t n = list.fill_iovecs(iov);
  ASSERT_EQ(n, list.chunk_count());
  std::string gathered;
  auto chunk = list.begin();
  for (std::size_t i = 0; i < n; ++i, ++chunk) {
    EXPECT_EQ(iov[i].iov_base, static_cast<const void*>(chunk->data()));
    gathered.append(static_cast<const char*>(iov[i].iov_base), iov[i].iov_len);
  }
  EXPECT_EQ(gathered, text);
}

TEST(BufferList, FillIovecsInBatches) {
  const std::string text = "abcdefghij";
  const buffer backing = buffer::copy_of(text);
  const buffer_list list = make_list(backing, {1, 2, 3, 4});
  std::array<::iovec, 3> iov{};
  std::string gathered;
  std::size_t first = 0;
  while (true) {
    const std::size_t n = list.fill_iovecs(iov, first);
    if (n == 0) break;
    EXPECT_LE(n, iov.size());
    for (std::size_t i = 0; i < n; ++i) {
      gathered.append(static_cast<const char*>(iov[i].iov_base), iov[i].iov_len);
    }
    first += n;
  }
  EXPECT_EQ(first, 4u);
  EXPECT_EQ(gathered, text);
  EXPECT_EQ(list.fill_iovecs(iov, 99), 0u);
  EXPECT_EQ(list.fill_iovecs(std::span<::iovec>()), 0u);
}

// ---- concat ----

TEST(Concat, CopiesIntoOneBuffer) {
  const std::vector<buffer> parts = {buffer::copy_of("ab"), buffer(), buffer::copy_of("cde")};
  const buffer joined = sluice::concat(parts);
  EXPECT_EQ(joined.view(), "abcde");
  EXPECT_FALSE(joined.shares_storage_with(parts[0]));
  EXPECT_FALSE(joined.shares_storage_with(parts[2]));
}

TEST(Concat, OneNonEmptyPartIsShared) {
  const std::vector<buffer> parts = {buffer(), buffer::copy_of("only"), buffer()};
  const buffer joined = sluice::concat(parts);
  EXPECT_EQ(joined.data(), parts[1].data());
  EXPECT_TRUE(sluice::concat({}).empty());
}

// The snippets of docs/concepts.md ("Bytes: buffer"), as written there.
TEST(BufferDocs, SnippetsBehaveAsDocumented) {
  auto a = sluice::buffer::copy_of("hello, world");
  std::string big(64 * 1024, 'x');
  const char* big_bytes = big.data();
  auto b = sluice::buffer(std::move(big));
  EXPECT_EQ(reinterpret_cast<const char*>(b.data()), big_bytes);  // adopted, not copied
  sluice::buffer empty;
  EXPECT_EQ(empty.use_count(), 0U);

  sluice::buffer_builder out(4096);
  const std::string_view src = "read into place";
  std::memcpy(out.free_space().data(), src.data(), src.size());
  out.commit(src.size());
  const std::byte* where = out.bytes().data();
  sluice::buffer chunk = std::move(out).freeze();
  EXPECT_EQ(chunk.view(), src);
  EXPECT_EQ(chunk.data(), where);

  EXPECT_TRUE(a.view().starts_with("hello"));
  sluice::buffer world = a.slice(7);
  sluice::buffer hell = a.slice(0, 4);
  EXPECT_EQ(world.view(), "world");
  EXPECT_EQ(hell.view(), "hell");
  EXPECT_TRUE(world.shares_storage_with(a));
  EXPECT_THROW((void)a.slice(13), std::out_of_range);
  EXPECT_EQ(a.slice(12).use_count(), 0U);  // an empty slice holds no storage

  sluice::buffer copy = a;
  EXPECT_EQ(a.use_count(), 4U);
  EXPECT_EQ(copy.to_string(), "hello, world");
  const std::array parts{hell, sluice::buffer::copy_of("o")};
  const sluice::buffer joined = sluice::concat(parts);
  EXPECT_EQ(joined.view(), "hello");
  EXPECT_FALSE(joined.shares_storage_with(a));
  EXPECT_EQ(joined, sluice::buffer::copy_of("hello"));
}

}  // namespace
