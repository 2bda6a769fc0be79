// sluice/core/monitor.hpp: watching backpressure across streams, without wrapping them.
//
// A `monitor` registers itself as the stream_observer (sluice/core/stream.hpp) of each stream it
// watches, so it hears of every backpressure episode as it starts and ends, exactly, on the
// stream's own event_time() clock. One timer per monitor (ticking every `tick`, only while a
// watched stream is still open) adds what no stream event can say: an episode that outlasts
// `backpressure_timeout`, a stream that made no progress for `stall_after` while data was
// waiting, and throughput over a sliding `window`. snapshot() returns every figure at once.
//
// A stream nobody watches pays nothing: the observer hook is a null-pointer test on the paths
// that count episodes, never on the per-chunk path. docs/monitoring.md draws the timeline.
//
//   auto mon = sluice::monitor::create(loop, {.tick = 100ms, .backpressure_timeout = 5s});
//   mon->watch(sink);  // the writable, transform or readable to watch
//   mon->on_backpressure_timeout([](sluice::stream& s, sluice::stream_side, auto lasted) {...});
#pragma once

#include <array>
#include <chrono>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "sluice/core/chunk.hpp"
#include "sluice/core/loop.hpp"
#include "sluice/core/readable.hpp"
#include "sluice/core/signal.hpp"
#include "sluice/core/stream.hpp"
#include "sluice/core/writable.hpp"

namespace sluice {

/// How a monitor measures. Durations are on the loop's clock.
struct monitor_options {
  /// Period of the monitor's one timer: the resolution of timeouts, stalls and throughput.
  loop::duration tick = std::chrono::milliseconds(100);
  /// An episode lasting this long is reported once by on_backpressure_timeout (the tutorial's
  /// maxBackpressureTime). Zero: never.
  loop::duration backpressure_timeout = std::chrono::seconds(5);
  /// A stream with data waiting (buffered on either side) and no progress for this long is
  /// reported once by on_stalled. Zero: never.
  loop::duration stall_after = std::chrono::seconds(10);
  /// Throughput is averaged over this much of the recent past (rounded up to whole ticks).
  loop::duration window = std::chrono::seconds(5);
};

/// The upper bounds of the buckets of side_backpressure::histogram, in seconds (a last bucket,
/// without bound, takes longer episodes).
inline constexpr std::array<double, 10> episode_bucket_bounds{0.001, 0.005, 0.01, 0.05, 0.1,
                                                              0.5,   1.0,   5.0,  10.0, 60.0};

/// One side's backpressure history, as the monitor saw it since watch().
struct side_backpressure {
  std::uint64_t episodes = 0;  ///< episodes started
  loop::duration total{};      ///< time spent in finished episodes
  loop::duration longest{};    ///< the longest finished episode
  bool active = false;         ///< in an episode now
  loop::time_point since{};    ///< when the current episode started (if active)
  std::uint64_t timeouts = 0;  ///< episodes that outlasted backpressure_timeout
  /// Finished episodes by length: histogram[i] counts those longer than
  /// episode_bucket_bounds[i - 1] and no longer than episode_bucket_bounds[i]; the last slot,
  /// those longer than every bound.
  std::array<std::uint64_t, episode_bucket_bounds.size() + 1> histogram{};
};

/// Time `s` spent backpressured up to `at`, the episode under way included: grows while a
/// stream is stuck, and never goes back (an episode's end adds exactly what it had lasted).
[[nodiscard]] inline loop::duration backpressured_until(const side_backpressure& s,
                                                        loop::time_point at) noexcept {
  return s.active && at > s.since ? s.total + (at - s.since) : s.total;
}

/// One watched stream, at snapshot() time.
struct stream_stats {
  std::string name;
  bool alive = false;  ///< the stream still exists and has not closed
  bool has_writable = false;
  bool has_readable = false;
  /// Sizes are in the stream's units: bytes for byte streams, items in object mode. For a
  /// stream whose sides differ (records in, bytes out), object_mode is its readable side's, and
  /// each side's size and rate are in that side's own unit (writable_object_mode for
  /// writable_length and in_per_second, readable_object_mode for readable_length and
  /// out_per_second).
  bool object_mode = false;
  bool writable_object_mode = false;
  bool readable_object_mode = false;
  std::size_t writable_length = 0;
  std::size_t writable_high_water_mark = 0;
  std::size_t readable_length = 0;
  std::size_t readable_high_water_mark = 0;
  side_backpressure writable_side;
  side_backpressure readable_side;
  /// Accepted by write() (or, without a writable side, pushed in by the readable side), per
  /// second over the window, in the stream's units.
  double in_per_second = 0;
  /// Delivered by the readable side (or, without one, completed by the writable side), per
  /// second over the window.
  double out_per_second = 0;
  bool stalled = false;  ///< stalled now (reported, no progress since)
  std::uint64_t stalls = 0;
  /// The stream's own counters (stream::counters()): now, or for a stream that closed or is
  /// gone, as they were when the monitor last saw it.
  stream_counters counters{};
};

/// Everything a monitor knows, at one instant.
struct monitor_snapshot {
  loop::time_point at{};
  std::vector<stream_stats> streams;  ///< in watch() order
  // Totals over every watched stream (both sides).
  std::uint64_t episodes = 0;
  std::uint64_t timeouts = 0;
  std::uint64_t stalls = 0;
  std::size_t in_backpressure = 0;      ///< streams in an episode now
  loop::duration backpressured_time{};  ///< finished episodes, all streams
};

class monitor : public std::enable_shared_from_this<monitor> {
  struct token {};

 public:
  /// What a stream looks like to the monitor: read only by snapshot() and the timer.
  struct probe {
    bool has_writable = false;
    bool has_readable = false;
    bool object_mode = false;  // the readable side's mode if it has one, else the writable's
    bool writable_object_mode = false;
    bool readable_object_mode = false;
    bool need_drain = false;  // the writable side still waits for 'drain'
    bool done = false;        // every side it has is over ('finish', 'end'): nothing to watch
    std::size_t writable_length = 0;
    std::size_t writable_high_water_mark = 0;
    std::size_t readable_length = 0;
    std::size_t readable_high_water_mark = 0;
  };
  using probe_fn = probe (*)(const stream&);

  /// Use create(): the timer needs a weak_ptr to the monitor.
  monitor(token, sluice::loop& l, const monitor_options& o);
  monitor(const monitor&) = delete;
  monitor& operator=(const monitor&) = delete;
  /// Stops observing every stream still alive and cancels the timer.
  ~monitor();

  [[nodiscard]] static std::shared_ptr<monitor> create(sluice::loop& l, monitor_options o = {});

  /// Watches `s` (any readable, writable, duplex or transform; not null), named `name`
  /// (default: the stream's own name). Replaces the stream's observer, if it had one. Keeps only
  /// a weak_ptr: watching does not keep a stream alive. Watching a stream already watched
  /// renames it. The stream is watched until unwatch(), its 'close', or, for a stream that
  /// never closes (auto_destroy off), until every side it has is over ('finish', 'end').
  template <std::derived_from<stream> S>
  void watch(const std::shared_ptr<S>& s, std::string name = {}) {
    add(s, std::move(name), &probe_of<S>);
  }
  /// watch() for each stream of a pipeline (names: each stream's own).
  template <class... S>
  void watch_pipeline(const std::shared_ptr<S>&... s) {
    (watch(s), ...);
  }
  /// Stops watching `s`: restores no observer, forgets its stats. Returns false if not watched.
  bool unwatch(const stream& s);
  [[nodiscard]] std::size_t watched_count() const noexcept { return entries_.size(); }

  /// An episode started (write() or push() returned false). `episode` counts this stream's
  /// episodes on that side since watch(), from 1. Called once per episode, synchronously from
  /// inside the write()/push() that returned false: do not write to or destroy the stream here.
  listener_id on_backpressure_start(std::function<void(stream&, stream_side, std::uint64_t)> fn);
  /// The episode ended ('drain' or the next read), `lasted` long. Once per episode, synchronously
  /// from the drain/read, with the same restriction. An episode cut short by 'close' (or by
  /// end(), after which no 'drain' comes) ends then, so every start has exactly one end.
  listener_id on_backpressure_end(std::function<void(stream&, stream_side, loop::duration)> fn);
  /// The episode has lasted `lasted` >= backpressure_timeout (seen at a tick). At most once per
  /// episode, from the monitor's timer.
  listener_id on_backpressure_timeout(std::function<void(stream&, stream_side, loop::duration)> fn);
  /// No progress for stall_after while data waits (seen at a tick). Once per stall, from the
  /// timer; reported again only after the stream has made progress.
  listener_id on_stalled(std::function<void(stream&)> fn);
  /// Removes a listener added by an on_* above. Returns false if unknown.
  bool off(listener_id id);

  /// Every figure, now.
  [[nodiscard]] monitor_snapshot snapshot() const;
  /// Whether the timer is armed (it stops once nothing watched is open).
  [[nodiscard]] bool ticking() const noexcept { return timer_.pending(); }

 private:
  struct watched;
  struct sample {
    loop::time_point at{};
    std::uint64_t in = 0;
    std::uint64_t out = 0;
  };

  template <class S>
  static probe probe_of(const stream& base) {
    const S& s = dynamic_cast<const S&>(base);
    probe p;
    p.done = true;
    if constexpr (requires { writable_item(s); }) {
      p.has_writable = true;
      p.done = s.finished();
      p.object_mode = p.writable_object_mode = !chunk_traits<decltype(writable_item(s))>::byte_mode;
      p.need_drain = s.need_drain();
      p.writable_length = s.writable_length();
      p.writable_high_water_mark = s.writable_high_water_mark();
    }
    if constexpr (requires { readable_item(s); }) {
      p.has_readable = true;
      p.done = p.done && s.readable_ended();
      p.object_mode = p.readable_object_mode = !chunk_traits<decltype(readable_item(s))>::byte_mode;
      p.readable_length = s.readable_length();
      p.readable_high_water_mark = s.readable_high_water_mark();
    }
    return p;
  }
  template <chunk T>
  static T writable_item(const writable<T>&);
  template <chunk T>
  static T readable_item(const readable<T>&);

  void add(const std::shared_ptr<stream>& s, std::string name, probe_fn p);
  void started(watched& w, stream_side side);
  void ended(watched& w, stream_side side, loop::duration lasted);
  void closed(watched& w);
  void end_episode(watched& w, stream_side side, loop::duration lasted);
  void arm();
  void on_tick();
  void check(watched& w, loop::time_point now);
  [[nodiscard]] static sample measure(const stream& s, const probe& p, loop::time_point now);
  [[nodiscard]] stream_stats stats_of(const watched& w, loop::time_point now) const;
  void detach(watched& w);

  sluice::loop* loop_;
  monitor_options opts_;
  std::size_t ring_size_;
  std::vector<std::unique_ptr<watched>> entries_;
  std::size_t ticking_depth_ = 0;  // > 0 while on_tick walks entries_ (unwatch defers erasing)
  timer timer_;
  std::uint64_t listener_seq_ = 0;
  signal<stream&, stream_side, std::uint64_t> start_signal_;
  signal<stream&, stream_side, loop::duration> end_signal_;
  signal<stream&, stream_side, loop::duration> timeout_signal_;
  signal<stream&> stalled_signal_;
};

}  // namespace sluice
