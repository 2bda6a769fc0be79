// tests/support/slow_reader.hpp: a consumer slower than its producer, for the tests that check a
// stage stays within its highWaterMark when one large input holds many outputs: it reads one
// item per turn of a manual_loop and notes the largest readable length it saw.
//
//   const auto r = sluice::test::read_one_per_turn(loop, *stage, 10000,
//                                                  [&](std::size_t got) { EXPECT_FALSE(acked); });
//   EXPECT_LE(r.peak, hwm + 1);
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cstddef>
#include <functional>
#include <vector>

#include "sluice/core/loop.hpp"
#include "sluice/core/readable.hpp"

namespace sluice::test {

template <class T>
struct slow_read {
  std::vector<T> items;  ///< what was read, in order
  std::size_t peak = 0;  ///< the largest readable_length() seen before a read
};

/// Reads `count` items from `r`, one per turn of `loop` (run until idle between reads);
/// `before_each(n)` runs before the n-th item (0-based) is taken. A reader that gets nothing
/// while the loop has nothing left to do is a stall: a test failure, and what was read so far.
template <class T>
slow_read<T> read_one_per_turn(manual_loop& loop, readable<T>& r, std::size_t count,
                               const std::function<void(std::size_t)>& before_each = {}) {
  slow_read<T> out;
  loop.run_until_idle();
  while (out.items.size() < count) {
    out.peak = std::max(out.peak, r.readable_length());
    auto item = r.read();
    if (!item) {
      if (loop.run_until_idle() == 0) {
        ADD_FAILURE() << "stalled after " << out.items.size() << " items";
        break;
      }
      continue;
    }
    if (before_each) before_each(out.items.size());
    out.items.push_back(std::move(*item));
    loop.run_until_idle();
  }
  return out;
}

}  // namespace sluice::test
