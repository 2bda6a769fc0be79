// sluice/sinks/batch_writer.hpp: batch_writer<T>, the tutorial's batch writer done right.
//
// Items are grouped into batches (by count, by bytes, and by time since the batch's first item,
// whichever comes first) and each batch is handed to an asynchronous flush hook. A write's
// callback runs only once the batch holding it was flushed: until then the item counts in
// writable_length(), so write() returning false and 'drain' reflect items that are not yet
// durable. The writer is built on the core's accept()/acknowledge() (core/writable.hpp): an item
// is accepted into a batch at once and acknowledged when its batch completes, in order.
//
// Failures: a batch whose flush fails with an error `retryable` accepts is retried after an
// exponential backoff with full jitter, up to max_attempts. A batch that exhausts its attempts
// goes to the dead-letter writable if there is one (its items then count as done, diverted, and
// the dead letter's own backpressure holds the writer), or fails the stream with an error naming
// the batch's first and last item index and the last cause. docs/writers.md has the whole story.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <iterator>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "sluice/core/writable.hpp"

namespace sluice {

/// A batch as the flush hook sees it.
template <chunk T>
struct write_batch {
  std::vector<T> items;
  std::uint64_t first_index = 0;  ///< the index of items[0] among every item written (from 0)
  std::size_t bytes = 0;          ///< the items' size as batch_writer_options::size_of counts it
  unsigned attempt = 1;           ///< 1 for the first flush, 2 for the first retry, ...
  [[nodiscard]] std::uint64_t last_index() const noexcept { return first_index + items.size() - 1; }
};

/// Flushes one batch; call `done` exactly once, with an empty code on success. The batch stays
/// alive and unchanged until then (a retry hands the same items again).
template <chunk T>
using batch_flush = std::function<void(const write_batch<T>&, callback done)>;

template <chunk T>
struct batch_writer_options {
  std::size_t max_items = 1000;  ///< a batch is flushed when it holds this many items
  std::size_t max_bytes = 0;     ///< ... or this many bytes (size_of); 0: no byte limit
  /// ... or when its first item has waited this long.
  loop::duration max_delay = std::chrono::milliseconds(100);
  std::size_t max_in_flight = 1;  ///< batches flushing at once; they complete in order
  unsigned max_attempts = 1;      ///< flushes per batch, the first included (1: no retry)
  /// Backoff before retry k (k = 1, 2, ...): uniform in [0, min(backoff_max,
  /// backoff_base*2^(k-1))].
  loop::duration backoff_base = std::chrono::milliseconds(50);
  loop::duration backoff_max = std::chrono::seconds(5);
  /// Which errors are worth a retry. Default: none.
  std::function<bool(std::error_code)> retryable{};
  /// Where the items of a batch that exhausted its attempts go. Null: the stream fails.
  std::shared_ptr<writable<T>> dead_letter{};
  /// An item's size for max_bytes. Default: chunk_traits<T>::bytes (0 in object mode).
  std::function<std::size_t(const T&)> size_of{};
  /// Default: max_items * (max_in_flight + 1), so a batch can fill while others flush.
  std::optional<std::size_t> high_water_mark{};
  std::string name = "batch_writer";
  std::uint64_t seed = 0;  ///< seeds the backoff jitter (0: from std::random_device)
};

/// What a batch_writer has done.
struct batch_writer_stats {
  std::uint64_t batches = 0;          ///< batches flushed successfully
  std::uint64_t items = 0;            ///< items acknowledged (flushed or diverted)
  std::uint64_t retries = 0;          ///< flushes retried
  std::uint64_t dead_lettered = 0;    ///< items diverted to the dead letter
  std::uint64_t dead_batches = 0;     ///< batches diverted to the dead letter
  loop::duration flush_time_total{};  ///< sum of successful flushes' latency (last attempt)
  loop::duration flush_time_max{};
};

template <chunk T>
class batch_writer final : public writable<T> {
  using base = writable<T>;
  using typename base::write_callback;

 public:
  batch_writer(loop& l, batch_flush<T> flush, batch_writer_options<T> o)
      : base(l, writable_options{.high_water_mark = o.high_water_mark
                                                        ? o.high_water_mark
                                                        : std::optional<std::size_t>(
                                                              o.max_items * (o.max_in_flight + 1)),
                                 .name = o.name}),
        flush_(std::move(flush)),
        o_(std::move(o)),
        rng_(o_.seed != 0 ? o_.seed : std::random_device{}()) {
    if (!flush_ || o_.max_items == 0 || o_.max_in_flight == 0 || o_.max_attempts == 0)
      throw std::system_error(make_error_code(errc::invalid_argument),
                              "batch_writer: needs a flush hook, and max_items, max_in_flight and "
                              "max_attempts of at least 1");
    if constexpr (is_unit_size<T>)
      this->use_accept_runs();  // a pipe's run of items goes into the batch in one call
    else
      this->use_accept();
    // 'drain' as soon as a whole batch fits again: the producer fills the next batch while the
    // last ones flush, instead of waiting until every batch has (Node's rule, length 0).
    const std::size_t hwm = this->writable_high_water_mark();
    if (hwm > o_.max_items) this->set_drain_threshold(hwm - o_.max_items);
  }

  [[nodiscard]] const batch_writer_stats& stats() const noexcept { return stats_; }
  /// Items in the batch being filled (not yet handed to flush).
  [[nodiscard]] std::size_t open_items() const noexcept { return open_.items.size(); }
  /// Batches handed to flush (or retrying, or being diverted) and not yet complete.
  [[nodiscard]] std::size_t batches_in_flight() const noexcept { return flight_.size(); }

 protected:
  void do_write(T&& x, write_callback cb) override {
    add(std::move(x));
    this->accept(cb);
    if (full()) seal();
  }

  // A pipe's run: as many items as the open batch has room for, moved in at once.
  void do_accept_run(T* items, std::size_t n) override {
    for (std::size_t i = 0; i < n;) {
      if (this->destroyed()) return;  // a flush hook destroyed the writer from inside
      if (open_.items.empty()) start_batch();
      // With a byte limit, item by item: the batch may fill before its item count says so.
      const std::size_t k =
          o_.max_bytes != 0 ? 1 : std::min(n - i, o_.max_items - open_.items.size());
      std::size_t bytes = 0;
      if (o_.size_of) {
        for (std::size_t j = i; j < i + k; ++j) bytes += o_.size_of(items[j]);
      } else {
        for (std::size_t j = i; j < i + k; ++j) bytes += chunk_traits<T>::bytes(items[j]);
      }
      open_.items.insert(open_.items.end(), std::make_move_iterator(items + i),
                         std::make_move_iterator(items + i + k));
      next_index_ += k;
      open_.bytes += bytes;
      i += k;
      if (full()) seal();
    }
  }

  void do_final(callback cb) override {
    final_cb_ = std::move(cb);
    if (!open_.items.empty()) seal();
    maybe_final();
  }

  void do_destroy(std::error_code ec, callback cb) override {
    delay_timer_.cancel();
    for (auto& f : flight_) f->retry_timer.cancel();
    flight_.clear();
    sealed_.clear();
    open_ = {};
    if (dl_drain_) {
      o_.dead_letter->off(*dl_drain_);
      dl_drain_.reset();
    }
    final_cb_ = nullptr;
    cb(ec);
  }

 private:
  // A batch handed on: flushing, waiting for a retry, or being diverted to the dead letter.
  struct flight {
    write_batch<T> b;
    bool done = false;         // flushed (or diverted): acknowledge when it reaches the front
    bool diverting = false;    // its items are going to the dead letter
    std::size_t diverted = 0;  // items handed to the dead letter so far
    loop::time_point started{};
    timer retry_timer;
  };

  // Puts an item into the open batch.
  void add(T&& x) {
    const std::size_t n = item_bytes(x);
    if (open_.items.empty()) start_batch();
    ++next_index_;
    open_.items.push_back(std::move(x));
    open_.bytes += n;
  }

  // The first item of a batch is coming: its index, room for the items, the max_delay timer.
  void start_batch() {
    open_.first_index = next_index_;
    open_.items.reserve(std::min<std::size_t>(o_.max_items, 4096));
    arm_delay();
  }

  [[nodiscard]] bool full() const noexcept {
    return open_.items.size() >= o_.max_items || (o_.max_bytes != 0 && open_.bytes >= o_.max_bytes);
  }

  std::size_t item_bytes(const T& x) const {
    return o_.size_of ? o_.size_of(x) : chunk_traits<T>::bytes(x);
  }

  void arm_delay() {
    delay_timer_.cancel();
    std::weak_ptr<stream> weak = this->weak_from_this();
    const std::uint64_t gen = ++delay_gen_;
    delay_timer_ = this->get_loop().start_timer(o_.max_delay, [this, weak, gen] {
      if (weak.expired() || gen != delay_gen_ || this->destroyed()) return;
      if (!open_.items.empty()) seal();
    });
  }

  // The open batch is complete: queue it and start what may start.
  void seal() {
    delay_timer_.cancel();
    ++delay_gen_;
    sealed_.push_back(std::move(open_));
    open_ = {};
    dispatch();
  }

  void dispatch() {
    while (flight_.size() < o_.max_in_flight && !sealed_.empty() && !this->destroyed()) {
      auto f = std::make_shared<flight>();
      f->b = std::move(sealed_.front());
      sealed_.pop_front();
      flight_.push_back(f);
      start_flush(f);
    }
  }

  void start_flush(const std::shared_ptr<flight>& f) {
    f->started = this->get_loop().now();
    auto self = std::shared_ptr<batch_writer>(this->shared_from_this(), this);  // (virtual base)
    auto called = std::make_shared<bool>(false);
    flush_(f->b, [self, f, called](std::error_code ec) {
      if (*called) {
        self->fail(make_error_code(errc::multiple_callback),
                   "flush of " + self->describe(f->b) + " called back twice");
        return;
      }
      *called = true;
      self->on_flushed(f, ec);
    });
  }

  void on_flushed(const std::shared_ptr<flight>& f, std::error_code ec) {
    if (this->destroyed() || !in_flight(f)) return;
    if (!ec) {
      const loop::duration took = this->get_loop().now() - f->started;
      stats_.flush_time_total += took;
      stats_.flush_time_max = std::max(stats_.flush_time_max, took);
      ++stats_.batches;
      f->done = true;
      complete_front();
      return;
    }
    if (f->b.attempt < o_.max_attempts && o_.retryable && o_.retryable(ec)) {
      const loop::duration delay = backoff(f->b.attempt);
      ++f->b.attempt;
      ++stats_.retries;
      std::weak_ptr<stream> weak = this->weak_from_this();
      f->retry_timer = this->get_loop().start_timer(delay, [this, weak, f] {
        if (weak.expired() || this->destroyed() || !in_flight(f)) return;
        start_flush(f);
      });
      return;
    }
    if (o_.dead_letter) {
      f->diverting = true;
      divert();
      return;
    }
    this->fail(ec, describe(f->b) + " failed after " + std::to_string(f->b.attempt) +
                       (f->b.attempt == 1 ? " attempt" : " attempts"));
  }

  // Full jitter: uniform in [0, min(max, base * 2^(attempt-1))].
  loop::duration backoff(unsigned attempt) {
    loop::duration cap = o_.backoff_base;
    for (unsigned i = 1; i < attempt && cap < o_.backoff_max; ++i) cap *= 2;
    cap = std::min(cap, o_.backoff_max);
    std::uniform_int_distribution<loop::duration::rep> d(0, cap.count());
    return loop::duration(d(rng_));
  }

  // Writes the diverting batches' items to the dead letter, in order, while it accepts them.
  void divert() {
    if (dl_drain_) return;  // waiting for the dead letter's 'drain'
    for (auto& f : flight_) {
      if (!f->diverting || f->done) continue;
      auto& dl = *o_.dead_letter;
      while (f->diverted < f->b.items.size()) {
        if (!dl.is_writable()) {
          this->fail(dl.errored() ? dl.errored() : make_error_code(errc::stream_destroyed),
                     "dead letter of " + describe(f->b));
          return;
        }
        const bool last = f->diverted + 1 == f->b.items.size();
        T item = std::move(f->b.items[f->diverted]);  // not flushed again: no retry after this
        ++f->diverted;
        std::weak_ptr<stream> weak = this->weak_from_this();
        bool ok;
        if (last) {
          // The batch counts as done once the dead letter has its last item.
          ok = dl.write(std::move(item), [this, weak, f](std::error_code ec) {
            if (weak.expired() || this->destroyed() || !in_flight(f)) return;
            if (ec) {
              this->fail(ec, "dead letter of " + describe(f->b));
              return;
            }
            stats_.dead_lettered += f->b.items.size();
            ++stats_.dead_batches;
            f->done = true;
            complete_front();
          });
        } else {
          ok = dl.write(std::move(item));
        }
        if (!ok && f->diverted < f->b.items.size()) {
          dl_drain_ = dl.once_drain([this, weak] {
            if (weak.expired() || this->destroyed()) return;
            dl_drain_.reset();
            divert();
          });
          return;
        }
      }
    }
  }

  // Acknowledges the completed batches at the front, in order, then starts the next ones.
  void complete_front() {
    while (!flight_.empty() && flight_.front()->done) {
      const std::size_t n = flight_.front()->b.items.size();
      flight_.pop_front();
      stats_.items += n;
      this->acknowledge(n);
      if (this->destroyed()) return;
    }
    dispatch();
    maybe_final();
  }

  void maybe_final() {
    if (final_cb_ && open_.items.empty() && sealed_.empty() && flight_.empty()) {
      auto cb = std::move(final_cb_);
      final_cb_ = nullptr;
      cb({});
    }
  }

  [[nodiscard]] bool in_flight(const std::shared_ptr<flight>& f) const {
    return std::find(flight_.begin(), flight_.end(), f) != flight_.end();
  }

  std::string describe(const write_batch<T>& b) const {
    return this->name() + ": batch of items " + std::to_string(b.first_index) + ".." +
           std::to_string(b.last_index());
  }

  batch_flush<T> flush_;
  batch_writer_options<T> o_;
  std::minstd_rand rng_;
  write_batch<T> open_;                         // being filled
  std::deque<write_batch<T>> sealed_;           // full, waiting for a flight slot
  std::deque<std::shared_ptr<flight>> flight_;  // handed on, oldest first
  std::uint64_t next_index_ = 0;
  timer delay_timer_;
  std::uint64_t delay_gen_ = 0;
  std::optional<listener_id> dl_drain_;
  callback final_cb_;
  batch_writer_stats stats_;
};

/// Makes a batch_writer: `flush` is called with each batch (see batch_flush).
template <chunk T>
[[nodiscard]] std::shared_ptr<batch_writer<T>> make_batch_writer(loop& l, batch_flush<T> flush,
                                                                 batch_writer_options<T> o = {}) {
  return std::make_shared<batch_writer<T>>(l, std::move(flush), std::move(o));
}

}  // namespace sluice
