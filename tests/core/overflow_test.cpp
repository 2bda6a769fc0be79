// Overflow policies (writable_options::overflow, max_buffered): for producers that cannot wait for
// 'drain', a hard limit on what a writable buffers, and what happens to a write beyond it.
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <system_error>
#include <vector>

#include "sluice/core/buffer.hpp"
#include "sluice/core/loop.hpp"
#include "sluice/core/make.hpp"

namespace {

using sluice::buffer;
using sluice::errc;
using sluice::manual_loop;
using sluice::overflow_policy;
using sluice::writable;

// A writable whose writes complete when the test says so, recording what reached it.
template <class T>
struct held_sink {
  std::shared_ptr<writable<T>> s;
  std::shared_ptr<std::vector<typename writable<T>::write_callback>> held =
      std::make_shared<std::vector<typename writable<T>::write_callback>>();
  std::shared_ptr<std::vector<T>> got = std::make_shared<std::vector<T>>();
  void complete_oldest() const {
    ASSERT_FALSE(held->empty());
    auto cb = held->front();
    held->erase(held->begin());
    cb();
  }
};

template <class T>
held_sink<T> make_sink(manual_loop& loop, std::size_t hwm, overflow_policy p,
                       std::optional<std::size_t> max) {
  held_sink<T> h;
  h.s = sluice::make_writable<T>(
      loop, {.high_water_mark = hwm,
             .overflow = p,
             .max_buffered = max,
             .write = [held = h.held, got = h.got](writable<T>&, T&& x, auto cb) {
               got->push_back(x);
               held->push_back(cb);
             }});
  return h;
}

struct outcomes {
  std::vector<std::string> v;
  sluice::callback cb(int i) {
    return [this, i](std::error_code ec) {
      v.push_back(std::to_string(i) + (ec == errc::dropped           ? ":dropped"
                                       : ec == errc::buffer_overflow ? ":overflow"
                                       : ec                          ? ":" + ec.message()
                                                                     : ":ok"));
    };
  }
};

TEST(Overflow, DropNewestKeepsTheBufferAtTheLimitAndDropsTheWritesBeyondIt) {
  manual_loop loop;
  auto h = make_sink<int>(loop, 2, overflow_policy::drop_newest, 3);
  outcomes o;
  int drains = 0;
  h.s->on_drain([&] { ++drains; });
  EXPECT_TRUE(h.s->write(1, o.cb(1)));
  EXPECT_FALSE(h.s->write(2, o.cb(2)));
  EXPECT_FALSE(h.s->write(3, o.cb(3)));
  EXPECT_FALSE(h.s->write(4, o.cb(4)));  // beyond 3: dropped
  EXPECT_FALSE(h.s->write(5, o.cb(5)));
  EXPECT_EQ(h.s->writable_length(), 3u);
  EXPECT_EQ(h.s->counters().overflowed, 2u);
  loop.run_until_idle();
  EXPECT_EQ(o.v, (std::vector<std::string>{"4:dropped", "5:dropped"}));
  while (!h.held->empty()) {
    h.complete_oldest();
    loop.run_until_idle();
  }
  EXPECT_EQ(*h.got, (std::vector<int>{1, 2, 3}));
  EXPECT_EQ(o.v, (std::vector<std::string>{"4:dropped", "5:dropped", "1:ok", "2:ok", "3:ok"}));
  EXPECT_EQ(drains, 1);
  EXPECT_FALSE(h.s->errored());
  EXPECT_EQ(h.s->counters().peak_writable_length, 3u);
}

TEST(Overflow, DropOldestDropsBufferedWritesButNotTheOneInFlight) {
  manual_loop loop;
  auto h = make_sink<int>(loop, 3, overflow_policy::drop_oldest, std::nullopt);  // limit = hwm
  outcomes o;
  for (int i = 1; i <= 5; ++i) h.s->write(i, o.cb(i));
  // 1 is in flight, 2 and 3 were buffered; 4 and 5 pushed them out.
  EXPECT_EQ(h.s->writable_length(), 3u);
  loop.run_until_idle();
  EXPECT_EQ(o.v, (std::vector<std::string>{"2:dropped", "3:dropped"}));
  while (!h.held->empty()) {
    h.complete_oldest();
    loop.run_until_idle();
  }
  EXPECT_EQ(*h.got, (std::vector<int>{1, 4, 5}));
  EXPECT_EQ(h.s->counters().overflowed, 2u);
}

TEST(Overflow, DropOldestDropsTheNewWriteWhenOnlyTheWriteInFlightIsLeft) {
  manual_loop loop;
  auto h = make_sink<int>(loop, 1, overflow_policy::drop_oldest, 1);
  outcomes o;
  h.s->write(1, o.cb(1));
  EXPECT_FALSE(h.s->write(2, o.cb(2)));
  loop.run_until_idle();
  EXPECT_EQ(o.v, (std::vector<std::string>{"2:dropped"}));
  h.complete_oldest();
  loop.run_until_idle();
  EXPECT_EQ(*h.got, (std::vector<int>{1}));
}

TEST(Overflow, ErrorFailsTheWriteAndTheStreamNamingTheLimit) {
  manual_loop loop;
  auto h = make_sink<int>(loop, 2, overflow_policy::error, 3);
  outcomes o;
  std::vector<std::error_code> errors;
  h.s->on_error([&](std::error_code ec) { errors.push_back(ec); });
  h.s->write(1, o.cb(1));
  h.s->write(2, o.cb(2));
  h.s->write(3, o.cb(3));
  EXPECT_EQ(h.s->writable_length(), 3u);
  EXPECT_FALSE(h.s->write(4, o.cb(4)));
  loop.run_until_idle();
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0], errc::buffer_overflow);
  EXPECT_NE(h.s->error_message().find("beyond max_buffered 3"), std::string::npos)
      << h.s->error_message();
  // The refused write and the buffered ones fail (these once the write in flight is over, as
  // Node fails its buffer); none of them reports success.
  h.complete_oldest();
  loop.run_until_idle();
  EXPECT_NE(std::find(o.v.begin(), o.v.end(), "4:overflow"), o.v.end());
  EXPECT_NE(std::find(o.v.begin(), o.v.end(), "2:overflow"), o.v.end());
  EXPECT_NE(std::find(o.v.begin(), o.v.end(), "3:overflow"), o.v.end());
  EXPECT_EQ(h.s->counters().overflowed, 1u);
}

TEST(Overflow, TheLimitCountsBytesInByteMode) {
  manual_loop loop;
  auto h = make_sink<buffer>(loop, 8, overflow_policy::drop_newest, 10);
  outcomes o;
  h.s->write(buffer("abcd"), o.cb(1));
  h.s->write(buffer("efgh"), o.cb(2));
  h.s->write(buffer("ijkl"), o.cb(3));  // 12 > 10
  h.s->write(buffer("mn"), o.cb(4));    // 10: fits
  EXPECT_EQ(h.s->writable_length(), 10u);
  loop.run_until_idle();
  EXPECT_EQ(o.v, (std::vector<std::string>{"3:dropped"}));
}

TEST(Overflow, WaitIsNodesBehaviourWithNoLimit) {
  manual_loop loop;
  auto h = make_sink<int>(loop, 2, overflow_policy::wait, std::nullopt);
  for (int i = 0; i < 100; ++i) h.s->write(i);
  EXPECT_EQ(h.s->writable_length(), 100u);
  EXPECT_EQ(h.s->counters().overflowed, 0u);
}

TEST(Overflow, InvalidLimitsAreRejectedWhenTheStreamIsMade) {
  manual_loop loop;
  auto with_wait = [&] { make_sink<int>(loop, 2, overflow_policy::wait, 5); };
  auto below_hwm = [&] { make_sink<int>(loop, 8, overflow_policy::drop_newest, 4); };
  EXPECT_THROW(with_wait(), std::system_error);
  EXPECT_THROW(below_hwm(), std::system_error);
}

}  // namespace
