// sluice/transform.hpp: transform<In, Out>, a duplex whose output is computed from its input
// (Node's stream.Transform), and passthrough<T>.
//
// do_transform gets each written chunk and calls its callback once: with nothing, with an
// output chunk, or with an error; it may also push() any number of outputs before that. While
// the readable side is full the callback is held back, so backpressure travels upstream.
// do_flush runs after end(), before 'finish'; what it pushes comes before 'end'.
#pragma once

#include <optional>

#include "sluice/duplex.hpp"

namespace sluice {

using transform_options = duplex_options;

template <chunk In, chunk Out = In>
class transform : public duplex<In, Out> {
 public:
  /// Completion of one do_transform call; call it exactly once. Like write_callback it does not
  /// own the stream: keep the stream alive if you complete later.
  class transform_callback {
   public:
    void operator()() const { t_->on_transform_done(gen_, {}, std::nullopt); }
    void operator()(std::error_code ec) const { t_->on_transform_done(gen_, ec, std::nullopt); }
    void operator()(Out value) const {
      t_->on_transform_done(gen_, {}, std::optional<Out>(std::move(value)));
    }

   private:
    friend class transform;
    transform_callback(transform* t, std::uint64_t gen) : t_(t), gen_(gen) {}
    transform* t_;
    std::uint64_t gen_;
  };

 protected:
  transform(sluice::loop& l, const transform_options& o) : duplex<In, Out>(l, o) {
    // A push from do_transform is not inside do_read: it may go straight to 'data' listeners.
    this->set_sync(false);
  }

  /// Turns one input chunk into zero or more outputs (push() them, or pass one to `cb`).
  virtual void do_transform(In&& chunk, transform_callback cb) = 0;
  /// Pushes whatever is left at the end; call `cb` once. Default: nothing to flush.
  virtual void do_flush(callback cb) { cb({}); }

  void do_write(In&& chunk, typename writable<In>::write_callback cb) final {
    held_.reset();
    pending_ = cb;
    length_before_ = this->readable_length();
    expect_ = true;
    do_transform(std::move(chunk), transform_callback(this, ++gen_));
  }

  void do_read(std::size_t) final {
    if (held_) {
      auto cb = *held_;
      held_.reset();
      cb();
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
  void on_transform_done(std::uint64_t gen, std::error_code ec, std::optional<Out> value) {
    if (!expect_ || gen != gen_) {
      this->error_or_destroy(make_error_code(errc::multiple_callback));
      return;
    }
    expect_ = false;
    auto cb = *pending_;
    pending_.reset();
    if (ec) {
      cb(ec);
      return;
    }
    if (value) this->push(std::move(*value));
    const std::size_t len = this->readable_length();
    if (this->ended() || length_before_ == len || len < this->readable_high_water_mark())
      cb();
    else
      held_ = cb;  // released by do_read when the consumer makes room
  }

  std::optional<typename writable<In>::write_callback> pending_;
  std::optional<typename writable<In>::write_callback> held_;
  std::size_t length_before_ = 0;
  std::uint64_t gen_ = 0;
  bool expect_ = false;
};

/// Passes every chunk through unchanged.
template <chunk T>
class passthrough final : public transform<T, T> {
 public:
  explicit passthrough(sluice::loop& l, const transform_options& o = {}) : transform<T, T>(l, o) {}

 protected:
  void do_transform(T&& chunk, typename transform<T, T>::transform_callback cb) override {
    cb(std::move(chunk));
  }
};

}  // namespace sluice
