// sluice/compose/supervise.hpp: supervision of pipeline stages, as Akka supervises its stages.
// A stage's errors get a policy instead of always tearing the pipeline down:
//
//   stop     today's behaviour: the first error fails the stage and the pipeline.
//   skip     for per-item stages (transforms made from a function, offload()): the failing item
//            is dropped and counted, its error goes to an observer, the stage goes on.
//            skip_errors(stage, policy) here; the policy itself is core/supervision.hpp.
//   restart  for sources and sinks made by a factory: the failed instance is destroyed and a new
//            one made after an exponential backoff, up to max_restarts within a window, and the
//            pipeline goes on without noticing.
//
//   auto src = sluice::supervise_source<sluice::buffer>(loop, [&](const sluice::restart_context& c)
//   {
//     return open_feed(loop, c.bytes);  // resume where the failed instance left off
//   }, {.max_restarts = 5});
//   auto sink = sluice::supervise_sink<row>(loop, [&](const auto&) { return connect_db(loop); });
//   sluice::pipeline(src, parse, sink, done);
//
// Nothing in flight is lost silently. A supervised source counts what it delivered downstream
// and hands the count to the factory (restart_context): a new instance that starts there gives
// every item exactly once; what the failed one had read ahead is discarded and reported
// (restart_event::in_flight). A supervised sink keeps each item it forwarded until the instance
// acknowledges it (its write callback); a new instance gets the unacknowledged ones again, in
// order, before anything new (at least once: an instance that wrote an item and failed before
// acknowledging it may see it twice), and the event reports how many. Memory stays bounded: the
// sink's highWaterMark counts items until they are acknowledged. docs/supervision.md has the
// whole story.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <system_error>
#include <type_traits>
#include <utility>

#include "sluice/core/error.hpp"
#include "sluice/core/loop.hpp"
#include "sluice/core/readable.hpp"
#include "sluice/core/supervision.hpp"
#include "sluice/core/transform.hpp"
#include "sluice/core/writable.hpp"

namespace sluice {

/// Where a new instance of a supervised stage starts.
struct restart_context {
  /// 0 for the first instance, k for the one made by the k-th restart.
  unsigned restart = 0;
  /// Source: items delivered downstream so far (a new instance should start at the next one).
  /// Sink: items the earlier instances acknowledged (the rest are written to the new one).
  std::uint64_t items = 0;
  /// The same position in the chunks' size (bytes for a byte stream, items in object mode).
  std::uint64_t bytes = 0;
  /// What the last instance failed with (empty for the first).
  std::error_code last_error{};
};

/// What happened when a supervised stage's instance failed.
struct restart_event {
  /// The restart this failure leads to (1 for the first), or the one refused when gave_up.
  unsigned restart = 0;
  std::error_code error{};
  /// The failed instance's error_message() ("connect 127.0.0.1:9: Connection refused").
  std::string message{};
  /// How long the stage waits before making the next instance.
  loop::duration delay{};
  /// The position at the failure (restart_context::items).
  std::uint64_t items = 0;
  /// Sink: the writes (chunks) made to the failed instance and not acknowledged, written again to
  /// the next one. Source: what the failed instance had read ahead and not delivered, in its
  /// units (items; bytes for a byte stream), discarded: the next instance starts at `items`.
  std::size_t in_flight = 0;
  /// No restart follows: the error was not retryable or the restarts ran out; the stage fails.
  bool gave_up = false;
};

/// The restart policy of a supervised source or sink.
struct restart_options {
  /// Restarts allowed within `window`; a failure beyond them fails the stage.
  unsigned max_restarts = 3;
  loop::duration window = std::chrono::seconds(60);
  /// The k-th restart within the window waits min(backoff_max, backoff_base * 2^(k-1)), or,
  /// with jitter, a uniform time between half that and that.
  loop::duration backoff_base = std::chrono::milliseconds(100);
  loop::duration backoff_max = std::chrono::seconds(10);
  bool jitter = true;
  /// Which errors are worth a restart; empty: every error. Another fails the stage at once.
  std::function<bool(std::error_code)> retryable{};
  /// Hears of every failure, on the loop thread, before the wait (and of the last, with
  /// gave_up). Must not throw.
  std::function<void(const restart_event&)> on_restart{};
  /// The supervised stage's highWaterMark. Unset: the first instance's.
  std::optional<std::size_t> high_water_mark{};
  std::string name{};
};

/// Counters of a supervised source or sink.
struct supervision_counters {
  std::uint64_t failures = 0;     ///< instances that failed
  std::uint64_t restarts = 0;     ///< instances made after a failure
  std::uint64_t redelivered = 0;  ///< sink: items written again to a new instance
  std::uint64_t discarded = 0;    ///< source: read ahead by failed instances, not delivered
};

template <chunk T>
using source_factory = std::function<std::shared_ptr<readable<T>>(const restart_context&)>;
template <chunk T>
using sink_factory = std::function<std::shared_ptr<writable<T>>(const restart_context&)>;

/// Puts `stage` under the skip policy (transform::skip_item_errors) and returns it, for use
/// inline in a pipeline() call. Throws std::system_error(errc::invalid_argument) for a
/// transform whose items are not independent (a decoder).
template <class S>
requires std::derived_from<S, stream> && requires(S& s, skip_policy p) {
  s.skip_item_errors(std::move(p));
}
std::shared_ptr<S> skip_errors(std::shared_ptr<S> stage, skip_policy policy = {}) {
  stage->skip_item_errors(std::move(policy));
  return stage;
}

namespace detail {

/// The restart bookkeeping shared by supervised sources and sinks: the window, the backoff, the
/// counters, the observer.
class restart_governor {
 public:
  explicit restart_governor(restart_options o) : o_(std::move(o)) {}

  /// An instance failed: decides whether to restart (returns the delay) or give up (nullopt),
  /// and tells the observer.
  std::optional<loop::duration> on_failure(loop& l, restart_event e) {
    ++counters_.failures;
    last_error_ = e.error;
    const auto now = l.now();
    while (!recent_.empty() && now - recent_.front() >= o_.window) recent_.pop_front();
    const bool retry = !o_.retryable || o_.retryable(e.error);
    e.restart = static_cast<unsigned>(recent_.size()) + 1;
    if (!retry || recent_.size() >= o_.max_restarts) {
      e.gave_up = true;
      gave_up_reason_ = !retry ? "not retryable"
                               : "gave up after " + std::to_string(recent_.size()) +
                                     " restarts within " + seconds(o_.window);
      if (o_.on_restart) o_.on_restart(e);
      return std::nullopt;
    }
    recent_.push_back(now);
    e.delay = backoff(recent_.size());
    if (o_.on_restart) o_.on_restart(e);
    return e.delay;
  }

  restart_context next_context(std::uint64_t items, std::uint64_t bytes) {
    ++counters_.restarts;
    return {static_cast<unsigned>(counters_.restarts), items, bytes, last_error_};
  }

  [[nodiscard]] const restart_options& options() const noexcept { return o_; }
  [[nodiscard]] supervision_counters& counters() noexcept { return counters_; }
  [[nodiscard]] const std::string& gave_up_reason() const noexcept { return gave_up_reason_; }

 private:
  [[nodiscard]] loop::duration backoff(std::size_t k) {
    loop::duration d = o_.backoff_base;
    for (std::size_t i = 1; i < k && d < o_.backoff_max; ++i) d *= 2;
    d = std::min(d, o_.backoff_max);
    if (!o_.jitter || d.count() <= 1) return d;
    std::uniform_int_distribution<loop::duration::rep> pick(d.count() / 2, d.count());
    return loop::duration(pick(rng_));
  }

  static std::string seconds(loop::duration d) {
    const double s = std::chrono::duration<double>(d).count();
    std::string t = std::to_string(s);
    t.erase(t.find_last_not_of('0') + 1);
    if (t.back() == '.') t.pop_back();
    return t + " s";
  }

  restart_options o_;
  supervision_counters counters_;
  std::deque<loop::time_point> recent_;  // restarts within the window, oldest first
  std::error_code last_error_;
  std::string gave_up_reason_;
  std::minstd_rand rng_{std::random_device{}()};
};

/// The context for the supervised stream's own failure: `verdict`, then the instance's message
/// without the code's text at its end (error_message() adds it back once).
inline std::string gave_up_context(const std::string& what, const std::string& verdict,
                                   std::string message, std::error_code ec) {
  const std::string tail = ": " + ec.message();
  if (message.size() > tail.size() &&
      message.compare(message.size() - tail.size(), tail.size(), tail) == 0)
    message.resize(message.size() - tail.size());
  return what + ": " + verdict + "; the last failure: " + message;
}

/// The first instance of a supervised stage: what the factory throws propagates (a stage that
/// cannot start is a set-up error), a null stream is std::system_error(errc::invalid_argument).
template <class Ptr, class F>
Ptr first_instance(F& factory, const char* who) {
  Ptr first = factory(restart_context{});
  if (!first)
    throw std::system_error(make_error_code(errc::invalid_argument),
                            std::string(who) + ": the factory returned no stream");
  return first;
}

/// Calls a factory; an exception becomes an error code (system_error: its code; anything else:
/// errc::aborted), a null stream errc::invalid_argument.
template <class Ptr, class F>
std::error_code make_instance(F& factory, const restart_context& c, Ptr& out, std::string& what) {
  try {
    out = factory(c);
  } catch (const std::system_error& e) {
    what = std::string("the factory threw: ") + e.what();
    return e.code();
  } catch (const std::exception& e) {
    what = std::string("the factory threw: ") + e.what();
    return make_error_code(errc::aborted);
  }
  if (!out) {
    what = "the factory returned no stream";
    return make_error_code(errc::invalid_argument);
  }
  return {};
}

}  // namespace detail

}  // namespace sluice

#include "sluice/compose/detail/supervised_sink.hpp"
#include "sluice/compose/detail/supervised_source.hpp"
