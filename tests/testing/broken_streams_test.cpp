// Every check of the conformance kit can fail: for each rule, a stream that breaks it, on which
// the kit reports exactly that rule. Where a stream derived from sluice's bases can break the
// rule through its hooks (a sink that never acknowledges, a source that ignores push()'s
// false, a destroy hook that drops a write), the broken stream is such a stream; the rules the
// core itself keeps (one 'close', callbacks in order, 'drain' only after a false write(), ...)
// are broken by a handle class with one fault injected (mutants.hpp).
#include <gtest/gtest.h>

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <numeric>
#include <string>
#include <system_error>
#include <vector>

#include "sluice/core/make.hpp"
#include "sluice/core/readable.hpp"
#include "sluice/core/writable.hpp"
#include "sluice/testing.hpp"
#include "sluice/testing/gtest.hpp"
#include "testing/mutants.hpp"

namespace {

using namespace std::chrono_literals;
using sluice::callback;
using sluice::loop;
using sluice::test::mutant_readable;
using sluice::test::mutant_writable;
using sluice::test::rmut;
using sluice::test::wmut;
namespace kit = sluice::testing;
using kit::rule;

// The report failed `r` and nothing else.
::testing::AssertionResult only_failed(const kit::report& rep, rule r) {
  const auto f = rep.failures();
  if (f.size() == 1 && f.front().id == r) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "expected exactly " << r << " to fail:\n" << rep;
}

kit::report check(wmut m) {
  return kit::check_writable([m](loop& l) { return mutant_writable::make(l, m); });
}
kit::report check(rmut m) {
  return kit::check_readable([m](loop& l) { return mutant_readable::make(l, m); });
}

TEST(ConformanceBroken, FaithfulHandlesPass) {
  // The handles without a fault: what the mutations below are measured against.
  SLUICE_EXPECT_CONFORMS(check(wmut::none));
  SLUICE_EXPECT_CONFORMS(check(rmut::none));
}

// ---- writable -------------------------------------------------------------------------------

TEST(ConformanceBroken, WriteTrueAtTheHighWaterMark) {
  EXPECT_TRUE(only_failed(check(wmut::true_at_hwm), rule::write_backpressure));
}

// A sink that acknowledges its writes only in batches of 100 or at end(): with a highWaterMark
// of 8 a producer waiting for 'drain' waits for ever (the batch writer's classic deadlock).
class lazy_batcher final : public sluice::writable<int> {
 public:
  explicit lazy_batcher(loop& l) : writable<int>(l, {.high_water_mark = 8}) { use_accept(); }

 protected:
  void do_write(int&&, write_callback cb) override {
    accept(cb);
    if (accepted_count() == 100) acknowledge(100);
  }
  void do_final(callback cb) override {
    // (On a later tick: acknowledging inside do_final and being destroyed before 'finish' meets
    // the core's end-callback finding, which destroy.ending reports; see the shipped test
    // BatchWriterSynchronousFlush.)
    get_loop().defer([keep = shared_from_this(), this, cb] {
      acknowledge(accepted_count());
      cb({});
    });
  }
};

TEST(ConformanceBroken, NoDrainOnceFull) {
  const auto rep = kit::check_writable([](loop& l) { return std::make_shared<lazy_batcher>(l); });
  EXPECT_TRUE(only_failed(rep, rule::write_drain));
  EXPECT_NE(rep.find(rule::write_drain)->detail.find("no 'drain' after write #"), std::string::npos)
      << rep;
}

TEST(ConformanceBroken, DrainWithoutFalse) {
  const auto rep = check(wmut::drain_without_false);
  EXPECT_TRUE(only_failed(rep, rule::write_drain));
  EXPECT_NE(rep.find(rule::write_drain)->detail.find("without a write() that returned false"),
            std::string::npos)
      << rep;
}

TEST(ConformanceBroken, CallbackTwice) {
  const auto rep = check(wmut::callback_twice);
  EXPECT_TRUE(only_failed(rep, rule::write_callbacks));
  EXPECT_NE(rep.find(rule::write_callbacks)->detail.find("write #2's callback ran 2 times"),
            std::string::npos)
      << rep;
}

TEST(ConformanceBroken, CallbacksOutOfOrder) {
  const auto rep = check(wmut::callbacks_reordered);
  EXPECT_TRUE(only_failed(rep, rule::write_callbacks));
  EXPECT_NE(
      rep.find(rule::write_callbacks)->detail.find("write #1's callback ran after write #2's"),
      std::string::npos)
      << rep;
}

TEST(ConformanceBroken, HookCallsItsCallbackTwice) {
  // Through the hooks the core turns a second call into multiple_callback: the stream fails,
  // so every scenario that writes more than once fails; the detail says why.
  const auto rep = kit::check_writable([](loop& l) {
    return sluice::make_writable<int>(l, {.write = [](sluice::writable<int>&, int&&, auto cb) {
                                        cb();
                                        cb();
                                      }});
  });
  ASSERT_TRUE(rep.failed(rule::write_callbacks)) << rep;
  EXPECT_NE(rep.find(rule::write_callbacks)->detail.find("called its callback twice"),
            std::string::npos)
      << rep;
}

TEST(ConformanceBroken, CloseBeforeFinish) {
  const auto rep = check(wmut::close_before_finish);
  EXPECT_TRUE(only_failed(rep, rule::write_finish));
  EXPECT_NE(rep.find(rule::write_finish)->detail.find("'close' before 'finish'"), std::string::npos)
      << rep;
}

TEST(ConformanceBroken, SilentWriteAfterEnd) {
  EXPECT_TRUE(only_failed(check(wmut::silent_write_after_end), rule::write_after_end));
}

TEST(ConformanceBroken, NoCloseWhenDestroyedNew) {
  EXPECT_TRUE(only_failed(check(wmut::no_close_when_new), rule::destroy_new));
  EXPECT_TRUE(only_failed(check(rmut::no_close_when_new), rule::destroy_new));
}

TEST(ConformanceBroken, CloseTwiceWhenDestroyedIdle) {
  EXPECT_TRUE(only_failed(check(wmut::close_twice_when_idle), rule::destroy_idle));
  EXPECT_TRUE(only_failed(check(rmut::close_twice_when_idle), rule::destroy_idle));
}

// A sink whose destroy hook cancels the write in flight and drops its callback (libuv's rule
// is the opposite: a cancelled write completes with an error).
class dropping_sink final : public sluice::writable<int> {
 public:
  explicit dropping_sink(loop& l) : writable<int>(l, {.high_water_mark = 4}) {}

 protected:
  void do_write(int&&, write_callback cb) override {
    auto token = token_;
    get_loop().defer([keep = shared_from_this(), token, cb] {
      if (!*token) cb();  // cancelled: never completed
    });
  }
  void do_destroy(std::error_code ec, callback cb) override {
    *token_ = true;
    cb(ec);
  }

 private:
  std::shared_ptr<bool> token_ = std::make_shared<bool>(false);
};

TEST(ConformanceBroken, DestroyDropsTheWriteInFlight) {
  const auto rep = kit::check_writable([](loop& l) { return std::make_shared<dropping_sink>(l); });
  EXPECT_TRUE(only_failed(rep, rule::destroy_writing));
  EXPECT_NE(rep.find(rule::destroy_writing)->detail.find("write callbacks never ran"),
            std::string::npos)
      << rep;
}

// A sink whose final hook is asynchronous, and whose destroy hook, on a plain destroy() during
// a final, cancels the final and returns, meaning to call back when the final completes, which
// it has just cancelled: no 'close'. (With an error it calls back at once.)
class final_cancelling_sink final : public sluice::writable<int> {
 public:
  explicit final_cancelling_sink(loop& l) : writable<int>(l, {.high_water_mark = 4}) {}

 protected:
  void do_write(int&&, write_callback cb) override { cb(); }
  void do_final(callback cb) override {
    final_cb_ = std::move(cb);
    get_loop().defer([keep = shared_from_this(), this] {
      if (final_cb_) std::exchange(final_cb_, nullptr)({});
    });
  }
  void do_destroy(std::error_code ec, callback cb) override {
    if (final_cb_ && !ec) {
      final_cb_ = nullptr;  // the fault: cancelled, and `cb` is never called
      return;
    }
    cb(ec);
  }

 private:
  callback final_cb_;
};

TEST(ConformanceBroken, DestroyDuringFinalNeverCallsBack) {
  const auto rep =
      kit::check_writable([](loop& l) { return std::make_shared<final_cancelling_sink>(l); });
  EXPECT_TRUE(only_failed(rep, rule::destroy_ending));
  EXPECT_NE(rep.find(rule::destroy_ending)->detail.find("no 'close'"), std::string::npos) << rep;
}

TEST(ConformanceBroken, CloseTwiceWhenDestroyedFromFinish) {
  EXPECT_TRUE(only_failed(check(wmut::close_twice_from_finish), rule::destroy_finished));
}

TEST(ConformanceBroken, ClosePerDestroyCall) {
  EXPECT_TRUE(only_failed(check(wmut::close_per_destroy), rule::destroy_twice));
  EXPECT_TRUE(only_failed(check(rmut::close_per_destroy), rule::destroy_twice));
}

TEST(ConformanceBroken, ErrorTwice) {
  const auto rep = check(wmut::error_twice);
  EXPECT_TRUE(only_failed(rep, rule::error_once));
  EXPECT_NE(rep.find(rule::error_once)->detail.find("'error' came 2 times"), std::string::npos)
      << rep;
  EXPECT_TRUE(only_failed(check(rmut::error_twice), rule::error_once));
}

// ---- readable -------------------------------------------------------------------------------

TEST(ConformanceBroken, PushIgnoringFalse) {
  // A source that pushes everything it has at the first read, whatever push() returns.
  const auto rep = kit::check_readable([](loop& l) {
    return sluice::make_readable<int>(
        l, {.high_water_mark = 8, .read = [](sluice::readable<int>& self, std::size_t) {
              for (int i = 0; i < 100; ++i) (void)self.push(i);
              self.push_eof();
            }});
  });
  EXPECT_TRUE(only_failed(rep, rule::read_backpressure));
  EXPECT_NE(rep.find(rule::read_backpressure)->detail.find("readable_length() reached 100"),
            std::string::npos)
      << rep;
}

// A source that produces on a timer and stops it when push() returns false, but only ever
// starts it at the first read: paused once, it never produces again.
std::shared_ptr<sluice::readable<int>> forgetful_source(loop& l) {
  struct state {
    bool started = false;
    int next = 0;
  };
  auto st = std::make_shared<state>();
  return sluice::make_readable<int>(
      l, {.high_water_mark = 4, .read = [st](sluice::readable<int>& self, std::size_t) {
            if (st->started) return;  // the fault: the timer may have stopped
            st->started = true;
            // (A pending timer holds the tick; the tick holds itself weakly.)
            auto tick = std::make_shared<std::function<void()>>();
            *tick = [st, again = std::weak_ptr<std::function<void()>>(tick),
                     w = std::weak_ptr<sluice::stream>(self.shared_from_this()), &self] {
              auto keep = w.lock();
              if (!keep || self.destroyed()) return;
              if (st->next == 40) return self.push_eof();
              if (self.push(st->next++))
                (void)self.get_loop().start_timer(1ms, [t = again.lock()] { (*t)(); });
            };
            (void)self.get_loop().start_timer(1ms, [tick] { (*tick)(); });
          }});
}

TEST(ConformanceBroken, ResumeFindsTheSourceStopped) {
  const auto rep = kit::check_readable(forgetful_source);
  EXPECT_TRUE(only_failed(rep, rule::read_resume));
  EXPECT_NE(rep.find(rule::read_resume)->detail.find("resumed, but neither 'data' nor 'end'"),
            std::string::npos)
      << rep;
}

TEST(ConformanceBroken, EndTwice) {
  EXPECT_TRUE(only_failed(check(rmut::end_twice), rule::read_end));
}

TEST(ConformanceBroken, DataAfterDestroy) {
  const auto rep = check(rmut::data_after_destroy);
  EXPECT_TRUE(only_failed(rep, rule::destroy_flowing));
  EXPECT_NE(rep.find(rule::destroy_flowing)->detail.find("'data' after destroy()"),
            std::string::npos)
      << rep;
}

// A source that pushes one item per read and, on a plain destroy() while a read is parked
// (push() returned false), returns meaning to call back once that read is asked for again: a
// paused stream never asks, so no 'close'.
class parking_source final : public sluice::readable<int> {
 public:
  explicit parking_source(loop& l) : readable<int>(l, {.high_water_mark = 4}) {}

 protected:
  void do_read(std::size_t) override {
    parked_ = false;
    if (next_ == 40) return push_eof();
    if (!push(next_++)) parked_ = true;
  }
  void do_destroy(std::error_code ec, callback cb) override {
    if (!ec && parked_) return;  // the fault: `cb` is never called
    cb(ec);
  }

 private:
  int next_ = 0;
  bool parked_ = false;
};

TEST(ConformanceBroken, DestroyWhileParkedNeverCallsBack) {
  const auto rep = kit::check_readable([](loop& l) { return std::make_shared<parking_source>(l); });
  EXPECT_TRUE(only_failed(rep, rule::destroy_paused));
}

TEST(ConformanceBroken, CloseTwiceWhenDestroyedAfterEnd) {
  EXPECT_TRUE(only_failed(check(rmut::close_twice_when_ended), rule::destroy_ended));
}

// ---- transform ------------------------------------------------------------------------------

TEST(ConformanceBroken, TransformCompletesBeforeItPushes) {
  // The callback first, the push after it: the core sees no output when the write completes,
  // so it never holds one back, and a consumer that does not read stops nothing.
  const auto rep = kit::check_transform([](loop& l) {
    return sluice::make_transform<int>(
        l, {.readable_high_water_mark = 4,
            .transform = [](sluice::transform<int>& self, int&& x, auto cb) {
              cb();
              (void)self.push(x);
            }});
  });
  EXPECT_TRUE(only_failed(rep, rule::transform_backpressure));
}

TEST(ConformanceBroken, FlushLosesTheRemainder) {
  // Sums of three; the flush forgets the last partial group. The output check sees it.
  const auto rep = kit::check_transform(
      [](loop& l) {
        auto group = std::make_shared<std::vector<int>>();
        return sluice::make_transform<int>(
            l, {.transform =
                    [group](sluice::transform<int>&, int&& x, auto cb) {
                      group->push_back(x);
                      if (group->size() < 3) return cb();
                      const int sum = std::accumulate(group->begin(), group->end(), 0);
                      group->clear();
                      cb(sum);
                    },
                .flush = [](sluice::transform<int>&, callback cb) { cb({}); }});
      },
      {.items = 10, .check_output = [](const std::vector<int>& in, const std::vector<int>& out) {
         const int want = std::accumulate(in.begin(), in.end(), 0);
         const int got = std::accumulate(out.begin(), out.end(), 0);
         return want == got ? std::string()
                            : "sum " + std::to_string(got) + ", want " + std::to_string(want);
       }});
  EXPECT_TRUE(only_failed(rep, rule::transform_flush));
  EXPECT_NE(rep.find(rule::transform_flush)->detail.find("the output check failed: sum 36"),
            std::string::npos)
      << rep;
}

}  // namespace
