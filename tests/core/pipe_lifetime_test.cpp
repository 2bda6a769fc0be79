// How long the streams of a pipe chain live. Node keeps every stream of a chain alive until it is
// done, whoever references it; so does sluice: a stream that is piped (as source or as
// destination) stays alive until it has finished or been destroyed (docs/pipelines.md, "Who keeps
// a chain alive"). These chains are held by the test only at their ends, the natural way to
// write `src->pipe(make_shared<passthrough>())->pipe(sink)`; before this rule a middle stream
// was freed with chunks still buffered once its source ended, and the sink never finished.
// Node's traces for the same chains (tests/core/node/lifetime.js, traces/lifetime.txt: object and
// byte mode, 0 to 3 middle stages, sync, next-tick and slow sinks) all end with "[sink] event
// finish after 40 chunks" and "[sink] event close".
#include <gtest/gtest.h>

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <system_error>
#include <vector>

#include "sluice/core/buffer.hpp"
#include "sluice/core/loop.hpp"
#include "sluice/core/make.hpp"
#include "sluice/core/transform.hpp"

namespace {

using sluice::manual_loop;

// How the sink completes its writes.
enum class sink_pace { sync, next_tick, slow };

template <class T>
T item(int i) {
  if constexpr (std::is_same_v<T, sluice::buffer>)
    return sluice::buffer(std::string("item ") + std::to_string(i) + "\n");
  else
    return i;
}

template <class T>
std::string text_of(const T& x) {
  if constexpr (std::is_same_v<T, sluice::buffer>)
    return x.to_string();
  else
    return "item " + std::to_string(x) + "\n";
}

struct outcome {
  std::string received;
  bool finished = false;
  std::vector<std::weak_ptr<sluice::stream>> middles;
  std::weak_ptr<sluice::stream> source, sink;
  std::optional<std::error_code> middle_error;
};

// src -> `middle` passthroughs (the test keeps no reference to them) -> sink. With `fail_at`,
// the middle stream in the middle fails on that item instead of passing it on.
template <class T>
outcome run_chain(int items, int middle, sink_pace pace, std::optional<int> fail_at = {}) {
  outcome out;
  {
    manual_loop loop;
    {
      // The streams outlive this scope, so what their hooks use is theirs (captured by value).
      auto src = sluice::make_readable<T>(
          loop, {.high_water_mark = 2, .read = [next = 0, items](auto& self, std::size_t) mutable {
                   if (next < items)
                     self.push(item<T>(next++));
                   else
                     self.push_eof();
                 }});
      auto sink = sluice::make_writable<T>(
          loop,
          {.high_water_mark = 1, .write = [&](auto&, T&& x, auto cb) {
             out.received += text_of(x);
             if (pace == sink_pace::sync) return cb();
             if (pace == sink_pace::next_tick) return loop.defer([cb] { cb(); });
             // slow: three ticks later
             loop.defer([&loop, cb] { loop.defer([&loop, cb] { loop.defer([cb] { cb(); }); }); });
           }});
      sink->once_finish([&] { out.finished = true; });
      out.source = src;
      out.sink = sink;
      std::shared_ptr<sluice::readable<T>> tail = src;
      for (int i = 0; i < middle; ++i) {
        std::shared_ptr<sluice::transform<T, T>> m;
        if (fail_at && i == middle / 2) {
          m = sluice::make_transform<T>(
              loop, {.readable_high_water_mark = 1,
                     .writable_high_water_mark = 1,
                     .transform = [seen = 0, fail_at](auto&, T&& x, auto cb) mutable {
                       if (seen++ == *fail_at)
                         cb(std::make_error_code(std::errc::io_error));
                       else
                         cb(std::move(x));
                     }});
          m->on_error([&](std::error_code ec) { out.middle_error = ec; });
        } else {
          m = std::make_shared<sluice::passthrough<T>>(
              loop, sluice::transform_options{.readable_high_water_mark = 1,
                                              .writable_high_water_mark = 1});
        }
        out.middles.push_back(m);
        tail = tail->pipe(m);
      }
      tail->pipe(sink);
    }  // the test drops every reference: only the chain itself keeps its streams
    loop.run();
  }  // the loop goes too: nothing may be left behind
  return out;
}

template <class T>
std::string expected(int items) {
  std::string s;
  for (int i = 0; i < items; ++i) s += text_of(item<T>(i));
  return s;
}

template <class T>
void check_every_chain() {
  for (int middle = 0; middle <= 3; ++middle) {  // chains of 2 to 5 stages
    for (sink_pace pace : {sink_pace::sync, sink_pace::next_tick, sink_pace::slow}) {
      SCOPED_TRACE("middle stages: " + std::to_string(middle) +
                   ", sink pace: " + std::to_string(static_cast<int>(pace)));
      const outcome o = run_chain<T>(40, middle, pace);
      EXPECT_EQ(o.received, expected<T>(40));
      EXPECT_TRUE(o.finished);
      EXPECT_TRUE(o.source.expired());
      EXPECT_TRUE(o.sink.expired());
      for (const auto& m : o.middles) EXPECT_TRUE(m.expired());
    }
  }
}

TEST(PipeLifetime, ChainsHeldOnlyAtTheirEndsDeliverEverythingObjectMode) {
  check_every_chain<int>();
}

TEST(PipeLifetime, ChainsHeldOnlyAtTheirEndsDeliverEverythingByteMode) {
  check_every_chain<sluice::buffer>();
}

TEST(PipeLifetime, TheIssueExampleWithTheEndsHeld) {
  // src->pipe(make_shared<passthrough>())->pipe(slow_sink), only src and the sink held.
  manual_loop loop;
  int next = 0;
  auto src = sluice::make_readable<sluice::buffer>(loop, {.read = [&next](auto& self, std::size_t) {
                                                     if (next++ < 100)
                                                       self.push(item<sluice::buffer>(next));
                                                     else
                                                       self.push_eof();
                                                   }});
  std::size_t chunks = 0;
  bool finished = false;
  auto slow_sink = sluice::make_writable<sluice::buffer>(
      loop, {.high_water_mark = 1, .write = [&](auto&, sluice::buffer&&, auto cb) {
               ++chunks;
               loop.defer([&loop, cb] { loop.defer([cb] { cb(); }); });
             }});
  slow_sink->once_finish([&] { finished = true; });
  src->pipe(std::make_shared<sluice::passthrough<sluice::buffer>>(loop))->pipe(slow_sink);
  loop.run();
  EXPECT_EQ(chunks, 100u);
  EXPECT_TRUE(finished);
  EXPECT_EQ(slow_sink->counters().chunks_in, 100u);
}

TEST(PipeLifetime, AnErrorInTheMiddleTearsItDownAndLeavesNothingBehind) {
  for (int middle = 1; middle <= 3; ++middle) {
    for (sink_pace pace : {sink_pace::sync, sink_pace::slow}) {
      SCOPED_TRACE("middle stages: " + std::to_string(middle));
      const outcome o = run_chain<int>(40, middle, pace, 10);
      ASSERT_TRUE(o.middle_error);
      EXPECT_EQ(*o.middle_error, std::errc::io_error);
      // What got through before the failure, in order, and nothing after it (pipe() does not
      // end the sink when a source fails, as in Node).
      EXPECT_EQ(o.received, expected<int>(10).substr(0, o.received.size()));
      EXPECT_LE(o.received.size(), expected<int>(10).size());
      EXPECT_FALSE(o.finished);
      // Once the loop is gone, nothing is left: no stream outlives it.
      EXPECT_TRUE(o.source.expired());
      EXPECT_TRUE(o.sink.expired());
      for (const auto& m : o.middles) EXPECT_TRUE(m.expired());
    }
  }
}

TEST(PipeLifetime, AStreamPipedButNeverDoneIsFreedWithItsLoop) {
  std::weak_ptr<sluice::stream> src_w, dst_w;
  {
    manual_loop loop;
    {
      auto src = sluice::make_readable<int>(loop, {.read = [](auto&, std::size_t) {}});  // stalls
      auto dst = sluice::make_writable<int>(loop, {.write = [](auto&, int&&, auto cb) { cb(); }});
      src->pipe(dst);
      src_w = src;
      dst_w = dst;
    }
    loop.run_until_idle();
    // Still piped, not done: the chain keeps itself, as Node's would while reachable.
    EXPECT_FALSE(src_w.expired());
    EXPECT_FALSE(dst_w.expired());
  }
  EXPECT_TRUE(src_w.expired());
  EXPECT_TRUE(dst_w.expired());
}

TEST(PipeLifetime, ACompletedChainIsFreedWithoutWaitingForTheLoop) {
  manual_loop loop;
  std::weak_ptr<sluice::stream> src_w, mid_w, dst_w;
  {
    auto src = sluice::make_readable<int>(
        loop, {.auto_destroy = false, .read = [next = 0](auto& self, std::size_t) mutable {
                 if (next < 5)
                   self.push(next++);
                 else
                   self.push_eof();
               }});
    auto mid = std::make_shared<sluice::passthrough<int>>(
        loop, sluice::transform_options{.auto_destroy = false});
    auto dst = sluice::make_writable<int>(
        loop, {.auto_destroy = false, .write = [](auto&, int&&, auto cb) { cb(); }});
    src->pipe(mid)->pipe(dst);
    src_w = src;
    mid_w = mid;
    dst_w = dst;
  }
  loop.run_until_idle();
  // Done without being destroyed (auto_destroy off): nothing keeps them any more.
  EXPECT_TRUE(src_w.expired());
  EXPECT_TRUE(mid_w.expired());
  EXPECT_TRUE(dst_w.expired());
}

}  // namespace
