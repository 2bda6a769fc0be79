// Conformance: compose() (Node's stream.compose): a chain of transforms as one duplex.
#include <gtest/gtest.h>

#include <cstddef>
#include <memory>
#include <string>
#include <system_error>
#include <vector>

#include "sluice/compose/compose.hpp"
#include "sluice/compose/pipeline.hpp"
#include "sluice/core/loop.hpp"
#include "sluice/core/make.hpp"

namespace {

using sluice::errc;
using sluice::manual_loop;

std::shared_ptr<sluice::transform<int, int>> add(manual_loop& loop, int k, std::string name = {}) {
  return sluice::make_transform<int>(
      loop, {.name = std::move(name), .transform = [k](auto&, int&& x, auto cb) { cb(x + k); }});
}

std::shared_ptr<sluice::transform<int, std::string>> show(manual_loop& loop) {
  return sluice::make_transform<int, std::string>(
      loop, {.transform = [](auto&, int&& x, auto cb) { cb("<" + std::to_string(x) + ">"); }});
}

std::shared_ptr<sluice::readable<int>> count_to(manual_loop& loop, int n) {
  return sluice::make_readable<int>(loop, {.read = [i = 0, n](auto& self, std::size_t) mutable {
                                      if (i < n)
                                        self.push(i++);
                                      else
                                        self.push_eof();
                                    }});
}

template <class T>
std::shared_ptr<sluice::writable<T>> collect(manual_loop& loop, std::vector<T>& out) {
  return sluice::make_writable<T>(loop, {.write = [&out](auto&, T&& x, auto cb) {
                                    out.push_back(std::move(x));
                                    cb();
                                  }});
}

TEST(Compose, ChainActsAsOneDuplexInsideAPipeline) {
  manual_loop loop;
  std::shared_ptr<sluice::duplex<int, std::string>> both =
      sluice::compose(add(loop, 10), show(loop));
  std::vector<std::string> out;
  std::error_code got = make_error_code(errc::aborted);
  sluice::pipeline(count_to(loop, 3), both, collect(loop, out),
                   [&](std::error_code ec) { got = ec; });
  loop.run();
  EXPECT_FALSE(got);
  EXPECT_EQ(out, (std::vector<std::string>{"<10>", "<11>", "<12>"}));
  EXPECT_TRUE(both->finished());
  EXPECT_TRUE(both->readable_ended());
}

TEST(Compose, WritesFeelTheFirstStagesBackpressure) {
  manual_loop loop;
  // Nothing reads the composite, so its stages fill up and write() must say stop.
  auto c = sluice::compose(add(loop, 1), add(loop, 1), add(loop, 1));
  int accepted = 0;
  while (c->write(accepted) && accepted < 10'000) ++accepted;
  loop.run();
  EXPECT_LT(accepted, 10'000);  // bounded: it said stop
  bool drained = false;
  c->once_drain([&] { drained = true; });
  std::vector<int> out;
  c->on_data([&](int&& x) { out.push_back(x); });
  loop.run();
  EXPECT_TRUE(drained);
  ASSERT_EQ(out.size(), static_cast<std::size_t>(accepted + 1));
  for (std::size_t i = 0; i < out.size(); ++i) EXPECT_EQ(out[i], static_cast<int>(i) + 3);
  // A running composite keeps its stages alive: end it so that everything is released.
  c->end();
  loop.run();
  EXPECT_TRUE(c->closed());
}

TEST(Compose, StageErrorDestroysTheCompositeAndNamesTheStage) {
  manual_loop loop;
  auto first = add(loop, 1, "first");
  auto picky = sluice::make_transform<int>(
      loop, {.name = "picky", .transform = [](auto& self, int&& x, auto cb) {
               if (x == 3)
                 self.fail(make_error_code(std::errc::bad_message), "item 3");
               else
                 cb(x);
             }});
  auto c = sluice::compose(first, picky);
  std::error_code seen;
  c->on_error([&](std::error_code ec) { seen = ec; });
  std::vector<int> out;
  c->on_data([&](int&& x) { out.push_back(x); });
  c->write(0);
  c->write(1);
  loop.run();
  EXPECT_EQ(out, (std::vector<int>{1, 2}));
  for (int i = 2; i < 5; ++i) c->write(i);
  loop.run();
  EXPECT_EQ(seen, std::errc::bad_message);
  EXPECT_TRUE(c->closed());
  EXPECT_EQ(c->error_message(),
            "stage 2 (picky): item 3: " + make_error_code(std::errc::bad_message).message());
  EXPECT_TRUE(first->destroyed());
  EXPECT_EQ(out, (std::vector<int>{1, 2}));
}

TEST(Compose, DestroyingTheCompositeDestroysEveryStage) {
  manual_loop loop;
  auto a = add(loop, 1);
  auto b = add(loop, 2);
  auto c = sluice::compose(a, b);
  std::error_code a_err;
  a->on_error([&](std::error_code ec) { a_err = ec; });
  bool closed = false;
  c->on_close([&] {
    closed = true;
    EXPECT_TRUE(a->closed());  // stages are gone before the composite reports 'close'
    EXPECT_TRUE(b->closed());
  });
  c->destroy(make_error_code(std::errc::connection_reset));
  loop.run();
  EXPECT_TRUE(closed);
  EXPECT_EQ(a_err, std::errc::connection_reset);
  EXPECT_EQ(c->errored(), std::errc::connection_reset);
}

TEST(Compose, DestroyWithoutErrorAbortsTheStages) {
  manual_loop loop;
  auto a = add(loop, 1);
  auto c = sluice::compose(a, add(loop, 2));
  c->destroy();
  loop.run();
  EXPECT_TRUE(c->closed());
  EXPECT_FALSE(c->errored());
  EXPECT_EQ(a->errored(), errc::aborted);
}

TEST(Compose, DroppingTheCompositeReleasesItsStages) {
  manual_loop loop;
  std::weak_ptr<sluice::stream> weak_a, weak_b;
  {
    auto a = add(loop, 1);
    auto b = add(loop, 2);
    weak_a = a;
    weak_b = b;
    auto c = sluice::compose(a, b);
    std::vector<int> out;
    sluice::pipeline(count_to(loop, 4), c, collect(loop, out), [](std::error_code) {});
    loop.run();
    EXPECT_EQ(out, (std::vector<int>{3, 4, 5, 6}));
  }
  loop.run();
  EXPECT_TRUE(weak_a.expired());
  EXPECT_TRUE(weak_b.expired());
}

}  // namespace
