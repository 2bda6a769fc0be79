// make_acknowledging_writer (sluice/messaging/delivery.hpp) without a server: deliveries whose
// acknowledgements are empty handles, into sinks that complete at once, later, or fail; the
// writer's bound and 'drain' follow the inner sink, and it ends and fails with it. (With real
// acknowledgements: tests/messaging/jetstream_test.cpp.)
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "sluice/compose/from.hpp"
#include "sluice/compose/pipeline.hpp"
#include "sluice/core/make.hpp"
#include "sluice/messaging/delivery.hpp"

namespace {

using namespace sluice;
using namespace sluice::messaging;

std::vector<delivery<int>> deliveries(int n) {
  std::vector<delivery<int>> v;
  for (int i = 0; i < n; ++i) {
    delivery<int> d;
    d.value = i;
    d.stream_sequence = static_cast<std::uint64_t>(i) + 1;
    v.push_back(std::move(d));
  }
  return v;
}

TEST(AcknowledgingWriter, PipesEveryValueToASinkThatCompletesAtOnce) {
  manual_loop l;
  std::vector<int> got;
  auto inner = make_writable<int>(l, {.high_water_mark = 4, .write = [&](auto&, int&& x, auto cb) {
                                        got.push_back(x);
                                        cb();
                                      }});
  auto w = make_acknowledging_writer<int>(inner);
  std::optional<pipeline_error> done;
  pipeline(from(l, deliveries(1000)), w, [&](const pipeline_error& e) { done = e; });
  l.run();
  ASSERT_TRUE(done.has_value()) << got.size() << " written; length " << w->writable_length()
                                << ", inner length " << inner->writable_length() << " need_drain "
                                << inner->need_drain();
  EXPECT_FALSE(*done) << done->message();
  ASSERT_EQ(got.size(), 1000u);
  for (int i = 0; i < 1000; ++i) ASSERT_EQ(got[static_cast<std::size_t>(i)], i);
  EXPECT_TRUE(inner->finished());
}

// A sink that completes each write only when told: the writer takes a delivery while the sink
// takes writes, then waits for its 'drain'; a write's callback runs once the sink's did.
TEST(AcknowledgingWriter, FollowsTheSinksBackpressureAndCompletesWithIt) {
  manual_loop l;
  std::vector<sluice::callback> pending;
  auto inner = make_writable<int>(
      l, {.high_water_mark = 2, .write = [&](auto&, int&&, auto cb) { pending.push_back(cb); }});
  auto w = make_acknowledging_writer<int>(inner, {.high_water_mark = 4});
  std::vector<int> done;
  int wrote = 0;
  bool more = true;
  for (auto& d : deliveries(6)) {
    const int i = wrote++;
    more = w->write(std::move(d), [&done, i](std::error_code ec) {
      EXPECT_FALSE(ec);
      done.push_back(i);
    });
  }
  EXPECT_FALSE(more);  // 6 written, none complete: above the highWaterMark of 4
  l.run_until_idle();
  // The inner sink runs one write at a time (Node's rule): one in its hook, the rest buffered.
  EXPECT_EQ(pending.size(), 1u);
  EXPECT_EQ(w->writable_length(), 6u);
  for (std::size_t k = 0; k < 6; ++k) {
    ASSERT_EQ(pending.size(), k + 1) << "write " << k;
    auto cb = pending[k];
    cb({});
    l.run_until_idle();
  }
  EXPECT_EQ(done, (std::vector<int>{0, 1, 2, 3, 4, 5}));
  EXPECT_EQ(w->writable_length(), 0u);
}

// The sink fails a write: the writer fails with its error and names it; the failed write and
// those after it fail, none succeeds.
TEST(AcknowledgingWriter, FailsWithTheSinksErrorAndNamesIt) {
  manual_loop l;
  int n = 0;
  auto inner = make_writable<int>(l, {.name = "db", .write = [&](auto&, int&&, auto cb) {
                                        if (++n == 3)
                                          return cb(make_error_code(std::errc::io_error));
                                        cb();
                                      }});
  auto w = make_acknowledging_writer<int>(inner);
  std::vector<std::error_code> results;
  for (auto& d : deliveries(5))
    w->write(std::move(d), [&](std::error_code ec) { results.push_back(ec); });
  l.run();
  ASSERT_EQ(results.size(), 5u);
  EXPECT_FALSE(results[0]);
  EXPECT_FALSE(results[1]);
  for (std::size_t i = 2; i < 5; ++i) EXPECT_EQ(results[i], std::errc::io_error) << i;
  EXPECT_TRUE(w->destroyed());
  EXPECT_NE(w->error_message().find("write to db"), std::string::npos) << w->error_message();
  EXPECT_TRUE(inner->destroyed());
}

}  // namespace
