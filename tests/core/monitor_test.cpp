// The backpressure monitor (sluice/core/monitor.hpp), on the virtual clock: each event once, at
// the exact time, in order; the one timer stops when there is nothing left to watch.
#include "sluice/core/monitor.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "sluice/core/loop.hpp"
#include "sluice/core/make.hpp"

namespace {

using namespace std::chrono_literals;
using sluice::loop;
using sluice::manual_loop;
using sluice::monitor;
using sluice::stream;
using sluice::stream_side;

long long ms(loop::duration d) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(d).count();
}
long long ms_since_start(const manual_loop& l) { return ms(l.now().time_since_epoch()); }

// A writable of ints whose every write takes `per_item` of virtual time.
std::shared_ptr<sluice::writable<int>> slow_sink(manual_loop& l, std::size_t hwm,
                                                 loop::duration per_item,
                                                 std::string name = "sink") {
  return sluice::make_writable<int>(
      l, {.high_water_mark = hwm,
          .name = std::move(name),
          .write = [&l, per_item](sluice::writable<int>& w, int&&, auto cb) {
            l.start_timer(per_item, [keep = w.shared_from_this(), cb] { cb(); });
          }});
}

// A writable whose writes complete only when the test says so.
struct held_sink {
  std::shared_ptr<sluice::writable<int>> s;
  std::vector<sluice::writable<int>::write_callback> pending;
};
std::shared_ptr<held_sink> make_held_sink(manual_loop& l, std::size_t hwm) {
  auto h = std::make_shared<held_sink>();
  h->s = sluice::make_writable<int>(
      l, {.high_water_mark = hwm,
          .name = "held",
          .write = [raw = h.get()](sluice::writable<int>&, int&&, auto cb) {
            raw->pending.push_back(cb);
          }});
  return h;
}

// Records every monitor event as a line: "<ms> <event> <name> ...".
struct recorder {
  manual_loop& l;
  std::vector<std::string> lines{};
  void attach(monitor& m) {
    m.on_backpressure_start([this](stream& s, stream_side side, std::uint64_t n) {
      lines.push_back(at() + "start " + s.name() + side_name(side) + " #" + std::to_string(n));
    });
    m.on_backpressure_end([this](stream& s, stream_side side, loop::duration d) {
      lines.push_back(at() + "end " + s.name() + side_name(side) + " " + std::to_string(ms(d)) +
                      "ms");
    });
    m.on_backpressure_timeout([this](stream& s, stream_side side, loop::duration d) {
      lines.push_back(at() + "timeout " + s.name() + side_name(side) + " " + std::to_string(ms(d)) +
                      "ms");
    });
    m.on_stalled([this](stream& s) { lines.push_back(at() + "stalled " + s.name()); });
  }
  [[nodiscard]] std::string at() const { return std::to_string(ms_since_start(l)) + " "; }
  static std::string side_name(stream_side s) { return s == stream_side::writable ? " w" : " r"; }
};

using lines = std::vector<std::string>;

TEST(Monitor, episode_start_and_end_once_each_at_exact_times) {
  manual_loop l;
  auto sink = slow_sink(l, 2, 100ms);
  auto mon = monitor::create(l, {.tick = 100ms, .backpressure_timeout = 0s, .stall_after = 0s});
  recorder r{l};
  r.attach(*mon);
  mon->watch(sink);
  EXPECT_NE(sink->observer(), nullptr);
  EXPECT_TRUE(sink->write(1));
  EXPECT_FALSE(sink->write(2));  // episode 1 starts at 0
  EXPECT_FALSE(sink->write(3));  // same episode: no second start
  l.advance(250ms);              // 1 at 100, 2 at 200, 3 at 300 -> drain at 300
  EXPECT_EQ(r.lines, (lines{"0 start sink w #1"}));
  l.advance(50ms);
  EXPECT_EQ(r.lines, (lines{"0 start sink w #1", "300 end sink w 300ms"}));
  EXPECT_TRUE(sink->write(4));
  EXPECT_FALSE(sink->write(5));  // episode 2 at 300
  l.advance(1s);
  EXPECT_EQ(r.lines, (lines{"0 start sink w #1", "300 end sink w 300ms", "300 start sink w #2",
                            "500 end sink w 200ms"}));
  const auto snap = mon->snapshot();
  ASSERT_EQ(snap.streams.size(), 1U);
  const auto& st = snap.streams[0];
  EXPECT_EQ(st.name, "sink");
  EXPECT_EQ(st.writable_side.episodes, 2U);
  EXPECT_EQ(ms(st.writable_side.total), 500);
  EXPECT_EQ(ms(st.writable_side.longest), 300);
  EXPECT_FALSE(st.writable_side.active);
  EXPECT_EQ(snap.episodes, 2U);
  EXPECT_EQ(ms(snap.backpressured_time), 500);
  // The monitor agrees with the stream's own counters.
  EXPECT_EQ(sink->counters().write_backpressure, 2U);
  EXPECT_EQ(sink->counters().write_backpressured_time, st.writable_side.total);
}

TEST(Monitor, timeout_once_per_episode_at_the_first_tick_past_the_threshold) {
  manual_loop l;
  auto sink = slow_sink(l, 1, 1s);
  auto mon = monitor::create(l, {.tick = 100ms, .backpressure_timeout = 250ms, .stall_after = 0s});
  recorder r{l};
  r.attach(*mon);
  mon->watch(sink, "slow");
  EXPECT_FALSE(sink->write(1));  // start at 0, drain at 1000
  l.advance(2s);
  EXPECT_FALSE(sink->write(2));  // start at 2000, drain at 3000
  l.advance(2s);
  EXPECT_EQ(r.lines,
            (lines{"0 start sink w #1", "300 timeout sink w 300ms", "1000 end sink w 1000ms",
                   "2000 start sink w #2", "2300 timeout sink w 300ms", "3000 end sink w 1000ms"}));
  const auto snap = mon->snapshot();
  EXPECT_EQ(snap.streams[0].name, "slow");
  EXPECT_EQ(snap.streams[0].writable_side.timeouts, 2U);
  EXPECT_EQ(snap.timeouts, 2U);
}

TEST(Monitor, stalled_once_per_stall_and_rearmed_by_progress) {
  manual_loop l;
  auto h = make_held_sink(l, 16);
  auto mon = monitor::create(l, {.tick = 100ms, .backpressure_timeout = 0s, .stall_after = 1s});
  recorder r{l};
  r.attach(*mon);
  mon->watch(h->s);
  l.advance(2s);  // nothing waiting: no stall
  EXPECT_TRUE(r.lines.empty());
  EXPECT_TRUE(h->s->write(1));  // at 2000; stuck in do_write
  l.advance(3s);
  EXPECT_EQ(r.lines, (lines{"3000 stalled held"}));
  EXPECT_TRUE(mon->snapshot().streams[0].stalled);
  ASSERT_EQ(h->pending.size(), 1U);
  h->pending[0]();  // progress at 5000
  l.advance(100ms);
  EXPECT_FALSE(mon->snapshot().streams[0].stalled);
  EXPECT_TRUE(h->s->write(2));  // at 5100, stuck again
  l.advance(2s);
  EXPECT_EQ(r.lines, (lines{"3000 stalled held", "6100 stalled held"}));
  EXPECT_EQ(mon->snapshot().stalls, 2U);
}

TEST(Monitor, snapshot_lengths_state_and_throughput) {
  manual_loop l;
  auto sink = slow_sink(l, 4, 100ms);  // consumes 10 items/s
  auto mon = monitor::create(l, {.tick = 100ms, .window = 1s});
  mon->watch(sink);
  for (int i = 0; i < 40; ++i) (void)sink->write(i);  // all at 0
  l.advance(150ms);
  auto snap = mon->snapshot();
  auto st = snap.streams[0];
  EXPECT_TRUE(st.alive);
  EXPECT_TRUE(st.has_writable);
  EXPECT_FALSE(st.has_readable);
  EXPECT_TRUE(st.object_mode);
  EXPECT_EQ(st.writable_length, 39U);
  EXPECT_EQ(st.writable_high_water_mark, 4U);
  EXPECT_TRUE(st.writable_side.active);
  EXPECT_EQ(st.writable_side.since, loop::time_point{});
  EXPECT_EQ(snap.in_backpressure, 1U);
  l.advance(2s - 150ms);  // at 2000: 20 done; the window holds 1000..2000
  st = mon->snapshot().streams[0];
  EXPECT_NEAR(st.out_per_second, 10.0, 1.0);
  EXPECT_EQ(st.in_per_second, 0.0);  // every write was accepted at 0
  l.advance(3s);                     // all 40 done at 4000, drain
  st = mon->snapshot().streams[0];
  EXPECT_FALSE(st.writable_side.active);
  EXPECT_EQ(ms(st.writable_side.longest), 4000);
  EXPECT_EQ(st.writable_length, 0U);
}

// A transform whose sides differ (items in, bytes out) is measured on each side in that side's
// unit: its rate in counts items, its rate out bytes.
TEST(Monitor, each_side_of_a_mixed_transform_in_its_own_unit) {
  manual_loop l;
  auto t = sluice::make_transform<int, sluice::buffer>(
      l, {.transform = [](auto&, int&&, auto cb) { cb(sluice::buffer(std::string("abc"))); }});
  std::size_t got = 0;
  t->on_data([&](sluice::buffer&& b) { got += b.size(); });
  auto mon = monitor::create(l, {.tick = 100ms, .window = 1s});
  mon->watch(t);
  for (int i = 0; i < 10; ++i) (void)t->write(i);
  l.advance(1s);
  const auto st = mon->snapshot().streams[0];
  EXPECT_TRUE(st.writable_object_mode);
  EXPECT_FALSE(st.readable_object_mode);
  EXPECT_EQ(got, 30U);
  EXPECT_NEAR(st.in_per_second, 10.0, 0.5);   // items
  EXPECT_NEAR(st.out_per_second, 30.0, 1.5);  // bytes
}

TEST(Monitor, readable_side_episode_from_push_false_to_the_next_read) {
  manual_loop l;
  auto src = sluice::make_readable<int>(
      l, {.high_water_mark = 2, .name = "src", .read = [](sluice::readable<int>&, std::size_t) {}});
  auto mon = monitor::create(l, {.tick = 100ms, .backpressure_timeout = 0s, .stall_after = 500ms});
  recorder r{l};
  r.attach(*mon);
  mon->watch(src);
  EXPECT_TRUE(src->push(1));
  EXPECT_FALSE(src->push(2));  // start at 0
  l.advance(1s);               // nobody reads: stalled at 500
  EXPECT_EQ(mon->snapshot().streams[0].readable_length, 2U);
  EXPECT_TRUE(mon->snapshot().streams[0].has_readable);
  EXPECT_EQ(src->read(), 1);  // ends the episode at 1000
  EXPECT_EQ(r.lines, (lines{"0 start src r #1", "500 stalled src", "1000 end src r 1000ms"}));
}

TEST(Monitor, destroy_mid_episode_ends_it_at_close_and_the_timer_stops) {
  manual_loop l;
  auto h = make_held_sink(l, 1);
  auto mon = monitor::create(l, {.tick = 100ms, .backpressure_timeout = 0s, .stall_after = 0s});
  recorder r{l};
  r.attach(*mon);
  mon->watch(h->s);
  EXPECT_EQ(l.timer_count(), 1U);
  EXPECT_FALSE(h->s->write(1));
  l.advance(250ms);
  h->s->destroy();
  l.run_until_idle();  // 'close' at 250
  EXPECT_EQ(r.lines, (lines{"0 start held w #1", "250 end held w 250ms"}));
  EXPECT_FALSE(mon->ticking());  // cancelled at close, not at the next tick
  l.advance(1s);
  EXPECT_EQ(l.timer_count(), 0U);  // (manual_loop drops a cancelled timer when it is due)
  EXPECT_EQ(r.lines.size(), 2U);
  EXPECT_FALSE(mon->snapshot().streams[0].alive);
  EXPECT_EQ(mon->snapshot().in_backpressure, 0U);
}

TEST(Monitor, end_during_an_episode_ends_it_once) {
  manual_loop l;
  auto h = make_held_sink(l, 1);
  auto mon = monitor::create(l, {.tick = 100ms, .backpressure_timeout = 0s, .stall_after = 0s});
  recorder r{l};
  r.attach(*mon);
  mon->watch(h->s);
  EXPECT_FALSE(h->s->write(1));
  h->s->end();  // no 'drain' will come
  l.advance(100ms);
  EXPECT_EQ(r.lines, (lines{"0 start held w #1", "100 end held w 100ms"}));
  h->pending[0]();  // finish, close
  l.advance(1s);
  EXPECT_EQ(r.lines.size(), 2U);
  EXPECT_EQ(l.timer_count(), 0U);
}

TEST(Monitor, unwatch_stops_observing_and_the_timer) {
  manual_loop l;
  auto a = make_held_sink(l, 1);
  auto b = make_held_sink(l, 1);
  auto mon = monitor::create(l, {.tick = 100ms});
  recorder r{l};
  r.attach(*mon);
  EXPECT_EQ(l.timer_count(), 0U);  // nothing watched: no timer
  mon->watch_pipeline(a->s, b->s);
  EXPECT_EQ(mon->watched_count(), 2U);
  EXPECT_EQ(l.timer_count(), 1U);  // one timer for both
  EXPECT_TRUE(mon->unwatch(*a->s));
  EXPECT_FALSE(mon->unwatch(*a->s));
  EXPECT_EQ(a->s->observer(), nullptr);
  EXPECT_EQ(a->s->listener_count(), 0U);
  EXPECT_FALSE(a->s->write(1));  // not watched: no event
  EXPECT_EQ(l.timer_count(), 1U);
  EXPECT_TRUE(mon->unwatch(*b->s));
  EXPECT_FALSE(mon->ticking());
  l.advance(100ms);
  EXPECT_EQ(l.timer_count(), 0U);
  EXPECT_FALSE(b->s->write(1));
  EXPECT_TRUE(r.lines.empty());
}

TEST(Monitor, destroying_the_monitor_detaches_and_cancels) {
  manual_loop l;
  auto h = make_held_sink(l, 1);
  auto mon = monitor::create(l, {.tick = 100ms});
  mon->watch(h->s);
  EXPECT_NE(h->s->observer(), nullptr);
  mon.reset();
  EXPECT_EQ(h->s->observer(), nullptr);
  EXPECT_EQ(h->s->listener_count(), 0U);
  EXPECT_FALSE(h->s->write(1));  // no observer to call
  l.advance(1s);
  EXPECT_EQ(l.timer_count(), 0U);
}

TEST(Monitor, a_freed_stream_stops_the_timer_at_the_next_tick) {
  manual_loop l;
  auto mon = monitor::create(l, {.tick = 100ms});
  {
    auto h = make_held_sink(l, 1);
    mon->watch(h->s);
  }  // freed without destroy(): no 'close'
  EXPECT_EQ(l.timer_count(), 1U);
  l.advance(100ms);
  EXPECT_EQ(l.timer_count(), 0U);
  EXPECT_FALSE(mon->snapshot().streams[0].alive);
}

TEST(Monitor, off_removes_a_listener) {
  manual_loop l;
  auto h = make_held_sink(l, 1);
  auto mon = monitor::create(l, {.tick = 100ms});
  int starts = 0;
  const auto id =
      mon->on_backpressure_start([&](stream&, stream_side, std::uint64_t) { ++starts; });
  mon->watch(h->s);
  EXPECT_TRUE(mon->off(id));
  EXPECT_FALSE(mon->off(id));
  EXPECT_FALSE(h->s->write(1));
  EXPECT_EQ(starts, 0);
  EXPECT_EQ(mon->snapshot().episodes, 1U);  // still counted
}

}  // namespace

namespace {

TEST(Monitor, a_listener_may_drop_the_last_reference_to_the_monitor) {
  manual_loop l;
  auto h = make_held_sink(l, 1);
  auto mon = monitor::create(l, {.tick = 100ms});
  int starts = 0;
  mon->on_backpressure_start([&](stream&, stream_side, std::uint64_t) {
    ++starts;
    mon.reset();
  });
  mon->watch(h->s);
  EXPECT_FALSE(h->s->write(1));
  EXPECT_EQ(starts, 1);
  EXPECT_EQ(mon, nullptr);
  EXPECT_EQ(h->s->observer(), nullptr);
  l.advance(1s);
  EXPECT_EQ(l.timer_count(), 0U);
}

TEST(Monitor, a_finished_stream_that_never_closes_stops_the_timer) {
  manual_loop l;
  auto s = sluice::make_writable<int>(
      l, {.auto_destroy = false, .write = [](sluice::writable<int>&, int&&, auto cb) { cb(); }});
  auto mon = monitor::create(l, {.tick = 100ms});
  mon->watch(s);
  s->end();
  l.run_until_idle();
  ASSERT_TRUE(s->finished());
  EXPECT_FALSE(s->closed());
  l.advance(100ms);  // the tick sees it is over
  EXPECT_FALSE(mon->ticking());
  l.advance(100ms);
  EXPECT_EQ(l.timer_count(), 0U);
  EXPECT_FALSE(mon->snapshot().streams[0].alive);
}

}  // namespace
