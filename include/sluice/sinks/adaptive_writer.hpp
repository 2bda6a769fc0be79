// sluice/sinks/adaptive_writer.hpp: a writable that paces what it forwards to a destination,
// learning the destination's rate from its backpressure (the tutorial's createAdaptiveWriter).
//
// adaptive_writer<T> is a writable<T> placed in front of a destination writable<T>. It forwards
// items at a paced rate (a token bucket on one timer, in items or bytes per second) and adjusts
// that rate by AIMD: +`increase` per `increase_interval` while the destination accepts writes
// without backpressure, ×`decrease` on each backpressure episode of the destination (a write()
// that returned false), clamped to [min_rate, max_rate]. It never writes to the destination
// between that false and its 'drain', so the destination's buffer stays within its
// highWaterMark. Its own buffer is an ordinary writable buffer: write() returns false once it
// holds `high_water_mark` items, and 'drain' follows, so a producer (or a pipe) upstream waits.
//
// It watches the destination through write()'s result and 'drain', not as its stream_observer,
// so a monitor (sluice/core/monitor.hpp) can watch the same destination. docs/monitoring.md.
//
//   auto paced = sluice::adaptive_writer<int>::create(loop, slow_sink, {.initial_rate = 50});
//   source->pipe(paced);
#pragma once

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "sluice/core/error.hpp"
#include "sluice/core/loop.hpp"
#include "sluice/core/writable.hpp"

namespace sluice {

/// What adaptive_writer's rates count.
enum class pace_unit : std::uint8_t {
  items,  ///< writes (chunks) per second
  bytes   ///< bytes per second (chunk_traits<T>::bytes; byte streams only)
};

/// Options of an adaptive_writer. Rates are in `unit`s per second.
struct adaptive_writer_options {
  /// Its own buffer (in the writable's units): write() returns false once it holds this much.
  std::optional<std::size_t> high_water_mark{};
  pace_unit unit = pace_unit::items;
  double initial_rate = 100;
  double min_rate = 1;
  double max_rate = 1e9;
  /// Additive increase: added once per `increase_interval` in which writes were accepted
  /// without backpressure.
  double increase = 10;
  loop::duration increase_interval = std::chrono::milliseconds(100);
  /// Multiplicative decrease: the rate is multiplied by this on each backpressure episode of the
  /// destination (0 < decrease < 1). Not TCP's 0.5: 'drain' comes only once the destination's
  /// buffer is empty, so halving then leaves its consumer idle for most of the climb back (on
  /// the virtual clock, with a 16-item destination, 0.5 delivers 89 % of a 200/s consumer and
  /// 76 % of a 1000/s one; 0.875 delivers 96-102 %). docs/monitoring.md.
  double decrease = 0.875;
  /// The shortest timer wait: at high rates a wake-up forwards up to rate × tick at once (the
  /// token bucket's depth).
  loop::duration tick = std::chrono::milliseconds(10);
  bool auto_destroy = true;
  bool emit_close = true;
  std::string name{};
};

/// What an adaptive_writer has done.
struct adaptive_writer_counters {
  std::uint64_t forwarded = 0;        ///< items written to the destination
  std::uint64_t forwarded_bytes = 0;  ///< their bytes (0 in object mode)
  std::uint64_t decreases = 0;        ///< destination backpressure episodes (rate × decrease)
  std::uint64_t increases = 0;        ///< additive increases
  std::uint64_t waits = 0;            ///< timer waits for tokens
};

template <chunk T>
class adaptive_writer final : public writable<T> {
  struct token {};
  using base = writable<T>;

 public:
  using write_callback = typename base::write_callback;

  /// Use create().
  adaptive_writer(token, sluice::loop& l, std::shared_ptr<writable<T>> dest,
                  const adaptive_writer_options& o)
      : base(l, {o.high_water_mark, o.auto_destroy, o.emit_close, o.name}),
        dest_(std::move(dest)),
        opts_(o),
        rate_(std::clamp(o.initial_rate, o.min_rate, o.max_rate)),
        tokens_(1),
        last_refill_(l.now()),
        last_increase_(l.now()) {}

  /// An adaptive_writer forwarding to `dest`. The destination is held (shared_ptr) and ended by
  /// this writer's end(); an error of the destination destroys this writer with that error.
  /// Destroying this writer leaves the destination alone.
  [[nodiscard]] static std::shared_ptr<adaptive_writer> create(sluice::loop& l,
                                                               std::shared_ptr<writable<T>> dest,
                                                               adaptive_writer_options o = {}) {
    auto w = std::make_shared<adaptive_writer>(token{}, l, std::move(dest), o);
    w->attach();
    return w;
  }

  /// The pace now, in units per second.
  [[nodiscard]] double current_rate() const noexcept { return rate_; }
  [[nodiscard]] const adaptive_writer_counters& pacing() const noexcept { return pacing_; }
  [[nodiscard]] const std::shared_ptr<writable<T>>& destination() const noexcept { return dest_; }

 protected:
  /// Holds the item until the bucket has a token and the destination is not backpressured;
  /// then writes it to the destination and completes. One item at a time: the writable's own
  /// buffer holds the rest.
  void do_write(T&& chunk, write_callback cb) override {
    pending_.emplace(std::move(chunk));
    pending_cb_ = cb;
    pump();
  }
  /// Every item was forwarded (do_final runs after the last write completed): end the
  /// destination; 'finish' follows the destination's.
  void do_final(callback cb) override {
    dest_->end(
        [keep = this->shared_from_this(), cb = std::move(cb)](std::error_code ec) { cb(ec); });
  }
  /// Cancels the timer and fails the item held (the destination is left alone).
  void do_destroy(std::error_code ec, callback cb) override {
    timer_.cancel();
    detach();
    if (pending_) {
      pending_.reset();
      std::exchange(pending_cb_, {})(ec ? ec : make_error_code(errc::stream_destroyed));
    }
    cb(ec);
  }

 private:
  void attach() {
    auto weak = this->weak_from_this();
    drain_id_ = dest_->on_drain([weak, this] {
      if (auto keep = weak.lock()) on_dest_drain();
    });
    error_id_ = dest_->on_error([weak, this](std::error_code ec) {
      if (auto keep = weak.lock()) this->destroy(ec);
    });
  }
  void detach() {
    if (drain_id_) dest_->off(std::exchange(drain_id_, {}));
    if (error_id_) dest_->off(std::exchange(error_id_, {}));
  }

  [[nodiscard]] double cost_of(const T& x) const noexcept {
    if (opts_.unit == pace_unit::bytes) return static_cast<double>(chunk_traits<T>::bytes(x));
    return 1;
  }
  // The bucket's depth: one tick's worth, plus one unit so that the fraction left over after a
  // wake-up is kept (clipping it would pace at floor(rate × tick) per tick).
  [[nodiscard]] double burst() const noexcept {
    return std::max(1.0, rate_ * std::chrono::duration<double>(opts_.tick).count()) + 1.0;
  }

  void refill(loop::time_point now) {
    const double dt = std::chrono::duration<double>(now - last_refill_).count();
    last_refill_ = now;
    tokens_ = std::min(burst(), tokens_ + rate_ * dt);
  }

  // Forwards the held item if allowed now; otherwise waits (timer, or the destination's drain).
  void pump() {
    if (!pending_ || dest_blocked_ || timer_.pending() || !this->intact()) return;
    const loop::time_point now = this->get_loop().now();
    refill(now);
    // A chunk larger than the bucket goes once the bucket is full, leaving it in debt.
    const double cost = cost_of(*pending_);
    const double need = std::min(cost, burst());
    if (tokens_ < need) {
      const auto wait = std::chrono::duration_cast<loop::duration>(
          std::chrono::duration<double>((need - tokens_) / rate_));
      ++pacing_.waits;
      timer_ = this->get_loop().start_timer(std::max(wait, opts_.tick),
                                            [weak = this->weak_from_this(), this] {
                                              if (auto keep = weak.lock()) pump();
                                            });
      return;
    }
    tokens_ -= cost;
    forward(now);
  }

  void forward(loop::time_point now) {
    T item = std::move(*pending_);
    pending_.reset();
    const write_callback cb = std::exchange(pending_cb_, {});
    ++pacing_.forwarded;
    pacing_.forwarded_bytes += chunk_traits<T>::bytes(item);
    if (dest_->write(std::move(item))) {
      if (now - last_increase_ >= opts_.increase_interval) {
        rate_ = std::min(opts_.max_rate, rate_ + opts_.increase);
        last_increase_ = now;
        ++pacing_.increases;
      }
    } else {
      dest_blocked_ = true;  // until 'drain' (a failed destination destroys us instead)
      if (dest_->intact()) {
        rate_ = std::max(opts_.min_rate, rate_ * opts_.decrease);
        ++pacing_.decreases;
      }
    }
    cb();  // may run do_write again, synchronously, for the next buffered item
  }

  void on_dest_drain() {
    dest_blocked_ = false;
    // Time spent blocked earns no increase; the tokens it earned (up to one burst) refill the
    // destination at once, so its consumer does not idle.
    last_increase_ = this->get_loop().now();
    pump();
  }

  std::shared_ptr<writable<T>> dest_;
  adaptive_writer_options opts_;
  double rate_;
  double tokens_;
  loop::time_point last_refill_;
  loop::time_point last_increase_;
  std::optional<T> pending_{};
  write_callback pending_cb_{};
  bool dest_blocked_ = false;  // the destination's write() returned false; waiting for 'drain'
  timer timer_{};
  listener_id drain_id_{};
  listener_id error_id_{};
  adaptive_writer_counters pacing_{};
};

}  // namespace sluice
