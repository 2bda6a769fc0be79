// sluice/core/transform.hpp: transform<In, Out>, a duplex whose output is computed from its input
// (Node's stream.Transform), and passthrough<T>.
//
// do_transform gets each written chunk and calls its callback once: with nothing, with an
// output chunk, or with an error; it may also push() any number of outputs before that. While
// the readable side is full the callback is held back, so backpressure travels upstream.
// do_flush runs after end(), before 'finish'; what it pushes comes before 'end'. A transform
// that can stop in the middle of a chunk when push() returns false resumes in do_output_wanted.
// A transform whose items are independent (items_independent()) accepts the skip policy
// (supervision.hpp): an error its callback reports then drops that item, not the stream.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <system_error>
#include <utility>

#include "sluice/core/duplex.hpp"
#include "sluice/core/supervision.hpp"

namespace sluice {

using transform_options = duplex_options;

template <chunk In, chunk Out = In>
class transform : public duplex<In, Out> {
 public:
  /// Completion of one do_transform call; call it exactly once. Like write_callback it does not
  /// own the stream: keep the stream alive if you complete later.
  class transform_callback {
   public:
    [[gnu::always_inline]] void operator()() const { t_->on_transform_ok(gen_); }
    void operator()(std::error_code ec) const {
      if (ec)
        t_->on_transform_error(gen_, ec);
      else
        t_->on_transform_ok(gen_);
    }
    [[gnu::always_inline]] void operator()(Out value) const {
      t_->on_transform_ok(gen_, std::move(value));
    }

   private:
    friend class transform;
    transform_callback(transform* t, std::uint64_t gen) : t_(t), gen_(gen) {}
    transform* t_;
    std::uint64_t gen_;
  };

  /// Supervision: from now on, an error that a do_transform call reports through its callback
  /// (for an item `policy` takes) drops that item instead of failing the stream: the write
  /// completes without output, items_skipped() counts it, `policy.on_skip` hears of it, and the
  /// next item goes on. Errors the stream raises otherwise (fail(), a flush error) still fail
  /// it. Throws std::system_error(errc::invalid_argument) for a transform whose items are not
  /// independent (a decoder: after an error its state is undefined, so the next item would be
  /// read wrongly).
  void skip_item_errors(skip_policy policy) {
    if (!items_independent())
      throw std::system_error(
          make_error_code(errc::invalid_argument),
          "skip_item_errors: " +
              (this->name().empty() ? std::string("this transform") : "'" + this->name() + "'") +
              " keeps state from one item to the next: it cannot skip one");
    skip_ = std::make_unique<skip_state>(skip_state{std::move(policy), 0});
  }
  /// Items dropped under the skip policy so far.
  [[nodiscard]] std::uint64_t items_skipped() const noexcept { return skip_ ? skip_->count : 0; }
  /// Whether each item is transformed on its own, so that skipping one leaves the next intact.
  /// False by default; transforms made from a per-item function say true.
  [[nodiscard]] virtual bool items_independent() const noexcept { return false; }

 protected:
  transform(sluice::loop& l, const transform_options& o) : duplex<In, Out>(l, o) {
    // A push from do_transform is not inside do_read: it may go straight to 'data' listeners.
    this->set_sync(false);
  }

  /// Turns one input chunk into zero or more outputs (push() them, or pass one to `cb`).
  virtual void do_transform(In&& chunk, transform_callback cb) = 0;
  /// Pushes whatever is left at the end; call `cb` once. Default: nothing to flush.
  virtual void do_flush(callback cb) { cb({}); }
  /// The readable side wants more output while a do_transform call is still in progress (its
  /// callback not called yet). A transform whose output for one chunk can be large (a
  /// decompressor) pushes until push() returns false, returns, and goes on from here, so that
  /// one input chunk never buffers more than the highWaterMark plus one output chunk. Default:
  /// nothing (a transform that completes inside do_transform never gets here).
  virtual void do_output_wanted() {}

  void do_write(In&& chunk, typename writable<In>::write_callback cb) final {
    has_held_ = false;
    pending_ = cb;
    length_before_ = this->readable_length();
    pend_ = pend_expected;
    do_transform(std::move(chunk), transform_callback(this, ++gen_));
  }

  // A run (writable::write_run): do_transform item by item, the outputs gathered and handed on
  // together (readable::begin_collect), an acknowledgement held back where the per-item path
  // would hold it.
  typename writable<In>::run_outcome do_write_run(In* items, std::size_t n) override {
    return transform_each(items, n, [this](In&& x, transform_callback cb) {
      do_transform(std::move(x), std::move(cb));
    });
  }

  /// do_write_run's loop, with `f(In&&, transform_callback)` in the place of do_transform (for
  /// an implementation that can call its transform directly).
  template <class F>
  [[gnu::flatten]] typename writable<In>::run_outcome transform_each(In* items, std::size_t n,
                                                                     F&& f) {
    // (The counts are locals until the end: kept in registers, not stored per item.)
    std::size_t taken = 0;
    std::size_t done = 0;
    std::size_t last_len = 0;
    std::error_code error;
    // gen_ is counted here and stored per item (only do_write and this loop change it, and no
    // write starts while the run is in progress).
    std::uint64_t gen = gen_;
    this->begin_collect();
    length_before_ = this->readable_length();
    for (;;) {
      In& x = items[taken];
      last_len = chunk_traits<In>::size(x);
      ++taken;
      // (While gathering, the readable side stays empty: length_before_ stays 0.)
      if (!this->collecting()) length_before_ = this->readable_length();
      pend_ = pend_run_expected;
      gen_ = ++gen;
      f(std::move(x), transform_callback(this, gen));
      if (pend_ != pend_run_done) [[unlikely]] {
        if (pend_ == pend_run_expected) {
          pend_ = pend_expected;  // completes later, as a write's (complete_write)
          pending_ = this->run_item_callback();
        } else {
          error = std::exchange(run_error_, {});
        }
        break;
      }
      // (pend_ stays pend_run_done until the loop ends: nothing reads it between items, and
      // the next item sets it anyway.)
      if (!this->collecting() && must_hold()) [[unlikely]] {  // (gathering: nothing buffered)
        pend_ = pend_none;
        held_ = this->run_item_callback();
        has_held_ = true;
        break;
      }
      ++done;
      if (taken == n || !this->run_can_continue()) {
        pend_ = pend_none;
        break;
      }
    }
    this->end_collect();
    if (done == taken && must_hold()) {
      // Handing on the outputs left the readable side full: hold the last acknowledgement.
      held_ = this->run_item_callback();
      has_held_ = true;
      --done;
    }
    return {taken, done, last_len, error};
  }

  void do_read(std::size_t) final {
    if (has_held_) {
      has_held_ = false;
      held_();
    } else if ((pend_ & pend_expected) != 0) {
      // What this turn pushes decides whether the write is held back (complete_write): if it
      // pushes nothing, the readable side is not waiting for it ('reading' stays set until a
      // push), so holding the write would stall the stream.
      length_before_ = this->readable_length();
      do_output_wanted();
    }
  }

  void do_final(callback cb) final {
    if (this->destroyed()) {
      this->push_eof();
      cb({});
      return;
    }
    do_flush([this, cb = std::move(cb)](std::error_code ec) {
      if (ec) {
        cb(ec);
        return;
      }
      this->push_eof();
      cb({});
    });
  }

 private:
  // The callback of the write in progress (gen_) came: clears the expected bit, leaving
  // pend_run_done for an item of a run, pend_none otherwise. False, after reporting
  // multiple_callback, for a callback that is not expected.
  [[gnu::always_inline]] bool take_pending(std::uint64_t gen) {
    if ((pend_ & pend_expected) == 0 || gen != gen_) [[unlikely]] {
      this->error_or_destroy(make_error_code(errc::multiple_callback));
      return false;
    }
    pend_ &= pend_run_done;
    return true;
  }

  void on_transform_error(std::uint64_t gen, std::error_code ec) {
    if (!take_pending(gen)) return;
    if (skip_ && skip_->policy.takes(ec)) [[unlikely]] {
      skip_item(gen, ec);
      return;
    }
    if (pend_ == pend_run_done) {
      pend_ = pend_none;
      run_error_ = ec;  // transform_each reports it
    } else {
      pending_(ec);
    }
  }

  [[gnu::always_inline]] void on_transform_ok(std::uint64_t gen) {
    if (take_pending(gen) && pend_ != pend_run_done) complete_write();
  }

  [[gnu::always_inline]] void on_transform_ok(std::uint64_t gen, Out&& value) {
    if (!take_pending(gen)) return;
    this->push(std::move(value));
    if (pend_ != pend_run_done) complete_write();  // an item of a run: transform_each goes on
  }

  // The item of write `gen` failed with `ec` under the skip policy: counted, reported, and its
  // write completed as if it had no output.
  [[gnu::noinline]] void skip_item(std::uint64_t gen, std::error_code ec) {
    ++skip_->count;
    ++this->counters_.items_skipped;
    if (skip_->policy.on_skip) {
      // (The observer may destroy the stream: the write then completes as any write that
      // outlives a destroy, and a run stops at the next item.)
      auto keep = this->weak_from_this().lock();
      skip_->policy.on_skip(skipped_item{.index = gen - 1, .error = ec, .stage = this->name()});
    }
    if (pend_ != pend_run_done) complete_write();  // an item of a run: transform_each goes on
  }

  // The readable side filled up with this write's output: its acknowledgement waits for
  // do_read, so the writer sees backpressure; after end() too. (Node's Transform stops holding
  // once end() was called, wState.ended "for backwards compat", so what the writable side had
  // buffered went into the readable side past its highWaterMark: 14 items for a highWaterMark
  // of 1 in the property test.) After push_eof() no do_read comes to release a held write, so it
  // completes. length_before_ == len is Node's "this write pushed nothing"; when the consumer
  // read meanwhile it can be wrong, but then lets a write through only at the length that write
  // started from, so the buffer does not grow.
  [[nodiscard]] bool must_hold() const noexcept {
    const std::size_t len = this->readable_length();
    return !(this->eof_pushed() || length_before_ == len || len < this->readable_high_water_mark());
  }

  [[gnu::noinline]] void complete_write() {
    if (must_hold()) {
      held_ = pending_;
      has_held_ = true;
    } else {
      pending_();
    }
  }

  // The write being transformed, and the one held back by a full readable side.
  typename writable<In>::write_callback pending_;
  typename writable<In>::write_callback held_;
  bool has_held_ = false;
  std::size_t length_before_ = 0;
  std::uint64_t gen_ = 0;
  // Where the write in progress is: its callback is expected (bit 1), and it is an item of a
  // run, inside transform_each's call (bit 2), which is left set when the callback came then.
  enum : std::uint8_t {
    pend_none = 0,
    pend_expected = 1,
    pend_run_done = 2,
    pend_run_expected = 3
  };
  std::uint8_t pend_ = pend_none;
  std::error_code run_error_;  // an item of a run failed with this, during its call
  struct skip_state {
    skip_policy policy;
    std::uint64_t count;
  };
  std::unique_ptr<skip_state> skip_;  // set by skip_item_errors()
};

/// Passes every chunk through unchanged.
template <chunk T>
class passthrough final : public transform<T, T> {
 public:
  explicit passthrough(sluice::loop& l, const transform_options& o = {}) : transform<T, T>(l, o) {}
  [[nodiscard]] bool items_independent() const noexcept override { return true; }

 protected:
  void do_transform(T&& chunk, typename transform<T, T>::transform_callback cb) override {
    cb(std::move(chunk));
  }
};

}  // namespace sluice
