// The bound on what a stream buffers: a readable side holds at most its highWaterMark plus one
// step's pushes, a writable side at most its highWaterMark plus one chunk. The smallest cases of
// what the randomized pipeline test (tests/compose/pipeline_property_test.cpp) found beyond it:
// a transform that stopped holding writes once end() was called, and a piped source that wrote
// one more chunk into a full destination each time it was resumed by hand.
#include <gtest/gtest.h>

#include <cstddef>
#include <memory>
#include <optional>
#include <vector>

#include "sluice/core/loop.hpp"
#include "sluice/core/make.hpp"
#include "sluice/core/readable.hpp"
#include "sluice/core/transform.hpp"
#include "sluice/core/writable.hpp"

namespace {

using sluice::manual_loop;

// Reads `t` dry, one item per turn of the loop, checking the readable side after every read.
std::vector<int> read_all(manual_loop& loop, sluice::transform<int>& t, std::size_t bound) {
  std::vector<int> got;
  for (int turn = 0; turn < 100 && !t.readable_ended(); ++turn) {
    loop.run_until_idle();
    if (std::optional<int> v = t.read()) got.push_back(*v);
    EXPECT_LE(t.readable_length(), bound) << "after item " << got.size();
  }
  return got;
}

// A synchronous transform with a full readable side holds the write in progress until the
// consumer reads. Once end() had been called it no longer did (Node's Transform does the same,
// "backwards compat"): the first read released the held write, and every write buffered behind
// it went through at once, into the readable side.
TEST(HighWaterMarkBound, ATransformStillHoldsWritesAfterEnd) {
  manual_loop loop;
  auto t = sluice::make_transform<int>(loop, {.readable_high_water_mark = 1,
                                              .writable_high_water_mark = 16,
                                              .transform = [](auto&, int&& x, auto cb) { cb(x); }});
  for (int i = 0; i < 5; ++i) EXPECT_TRUE(t->write(i));
  t->end();
  loop.run_until_idle();
  EXPECT_EQ(t->readable_length(), 1u);
  EXPECT_EQ(t->writable_length(), 5u);  // the held write and the four behind it

  EXPECT_EQ(read_all(loop, *t, 2), (std::vector<int>{0, 1, 2, 3, 4}));
  loop.run();
  EXPECT_TRUE(t->finished());
  EXPECT_TRUE(t->readable_ended());
  EXPECT_LE(t->counters().peak_readable_length, 2u);  // was 5: the peak counter was right
}

// The same with a transform completing on a later tick (seed 701 of the property test): each
// completion came after end(), so none was held, and the writable side's buffer moved into the
// readable side without anyone reading.
TEST(HighWaterMarkBound, ATransformCompletingLaterStillHoldsWritesAfterEnd) {
  manual_loop loop;
  auto t = sluice::make_transform<int>(
      loop, {.readable_high_water_mark = 1,
             .writable_high_water_mark = 16,
             .transform = [&loop](auto& self, int&& x, auto cb) {
               loop.defer([x, cb, keep = self.shared_from_this()] { cb(x); });
             }});
  for (int i = 0; i < 5; ++i) EXPECT_TRUE(t->write(i));
  t->end();
  loop.run_until_idle();
  EXPECT_EQ(t->readable_length(), 1u);
  EXPECT_FALSE(t->finished());  // 'finish' waits for the held writes, as before end()

  EXPECT_EQ(read_all(loop, *t, 2), (std::vector<int>{0, 1, 2, 3, 4}));
  loop.run();
  EXPECT_TRUE(t->finished());
  EXPECT_TRUE(t->readable_ended());
  EXPECT_LE(t->counters().peak_readable_length, 2u);
}

// A piped source paused and resumed by hand while its destination is full: Node's resume()
// flows at once and writes one more chunk before the pipe pauses again, so each resume grew the
// destination's buffer by one. Now the source resumes at the destination's 'drain'.
TEST(HighWaterMarkBound, ResumingAPipedSourceWaitsForItsDestinationsDrain) {
  manual_loop loop;
  auto src = sluice::make_readable<int>(loop, {.read = [](auto&, std::size_t) {}});
  for (int i = 0; i < 5; ++i) src->push(i);
  src->push_eof();
  std::vector<int> got;
  std::vector<sluice::writable<int>::write_callback> pending;
  auto dst = sluice::make_writable<int>(
      loop, {.high_water_mark = 1, .write = [&](auto&, int&& x, auto cb) {
               got.push_back(x);
               pending.push_back(cb);
             }});
  src->pipe(dst);
  loop.run_until_idle();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_TRUE(dst->need_drain());

  for (int i = 0; i < 3; ++i) {
    src->pause();
    src->resume();
    loop.run_until_idle();
    EXPECT_EQ(dst->writable_length(), 1u) << "resume " << i;
  }
  EXPECT_EQ(got.size(), 1u);
  EXPECT_FALSE(src->is_paused());

  // Each completion drains the destination, and the source goes on from there.
  for (std::size_t done = 0; done < pending.size(); ++done) {
    auto cb = pending[done];  // (the write it lets through adds to `pending`)
    cb();
    loop.run_until_idle();
    EXPECT_LE(dst->writable_length(), 2u);
  }
  loop.run();
  EXPECT_EQ(got, (std::vector<int>{0, 1, 2, 3, 4}));
  EXPECT_TRUE(dst->finished());
  EXPECT_LE(dst->counters().peak_writable_length, 2u);
}

}  // namespace
