// stream_observer (sluice/core/stream.hpp): told when a stream's backpressure episodes start and
// end, on both sides, with the episode's length as the counters measure it.
#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "sluice/core/loop.hpp"
#include "sluice/core/make.hpp"

namespace {

using namespace std::chrono_literals;
using sluice::manual_loop;
using sluice::stream;
using sluice::stream_side;
using sluice::writable;

struct recording_observer final : sluice::stream_observer {
  std::vector<std::string> events;
  std::vector<sluice::loop::duration> lasted;
  void backpressure_started(stream& s, stream_side side) override {
    events.push_back("start " + s.name() + (side == stream_side::writable ? " w" : " r"));
  }
  void backpressure_ended(stream& s, stream_side side, sluice::loop::duration d) override {
    events.push_back("end " + s.name() + (side == stream_side::writable ? " w" : " r"));
    lasted.push_back(d);
  }
};

TEST(Observer, SeesEachWritableEpisodeFromFalseToDrainWithItsLength) {
  manual_loop loop;
  std::vector<writable<int>::write_callback> held;
  auto w = sluice::make_writable<int>(
      loop, {.high_water_mark = 2, .name = "sink", .write = [&](writable<int>&, int&&, auto cb) {
               held.push_back(cb);
             }});
  recording_observer obs;
  w->set_observer(&obs);
  EXPECT_EQ(w->observer(), &obs);
  w->write(1);
  w->write(2);  // false: an episode starts
  w->write(3);  // still the same episode
  EXPECT_EQ(obs.events, (std::vector<std::string>{"start sink w"}));
  loop.advance(7ms);
  while (!held.empty()) {
    auto cb = held.front();
    held.erase(held.begin());
    cb();
    loop.run_until_idle();
  }
  EXPECT_EQ(obs.events, (std::vector<std::string>{"start sink w", "end sink w"}));
  ASSERT_EQ(obs.lasted.size(), 1u);
  EXPECT_EQ(obs.lasted[0], w->counters().write_backpressured_time);
  EXPECT_GE(obs.lasted[0], 7ms);

  w->set_observer(nullptr);  // removed: told nothing more
  w->write(4);
  w->write(5);
  EXPECT_EQ(obs.events.size(), 2u);
}

TEST(Observer, SeesReadableEpisodesFromAFalsePushToTheNextRead) {
  manual_loop loop;
  bool refill = false;
  auto r = sluice::make_readable<int>(
      loop, {.high_water_mark = 2, .name = "src", .read = [&](sluice::readable<int>&, std::size_t) {
               refill = true;
             }});
  recording_observer obs;
  r->set_observer(&obs);
  r->push(1);
  EXPECT_FALSE(r->push(2));  // at the highWaterMark
  EXPECT_EQ(obs.events, (std::vector<std::string>{"start src r"}));
  loop.advance(3ms);
  r->read();  // below the mark again: the stream is asked for more
  loop.run_until_idle();
  EXPECT_TRUE(refill);
  EXPECT_EQ(obs.events, (std::vector<std::string>{"start src r", "end src r"}));
  ASSERT_EQ(obs.lasted.size(), 1u);
  EXPECT_EQ(obs.lasted[0], r->counters().push_backpressured_time);
}

}  // namespace
