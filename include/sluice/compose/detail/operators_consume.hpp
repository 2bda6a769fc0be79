// sluice/compose/detail/operators_consume.hpp: the consumers of sluice/compose/operators.hpp
// (for_each, reduce, to_vector, some, every, find).
//
// A `consumer<T>` reads its source in paused mode (a 'readable' listener plus read()) and hands
// each item to a step function that says whether to go on. It completes exactly once: at 'end',
// at the source's 'error', with premature_close at a 'close' before 'end', or as soon as the step
// function has the answer, in which case it destroys the source first (no 'error' on it). While
// it runs, the source's listeners own the consumer and the consumer owns the source; completion
// removes the listeners, which breaks that cycle.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <system_error>
#include <utility>

#include "sluice/compose/detail/operators_core.hpp"

namespace sluice::detail {

template <chunk T>
class consumer : public std::enable_shared_from_this<consumer<T>> {
 public:
  /// Takes one item; returns false to stop (the answer is known).
  using step_fn = std::function<bool(T&&)>;
  /// Called once: with the source's error, or {} at the end or after an early stop.
  using finish_fn = std::function<void(std::error_code)>;

  consumer(std::shared_ptr<readable<T>> src, step_fn step, finish_fn finish)
      : src_(std::move(src)), step_(std::move(step)), finish_(std::move(finish)) {}

  void start() {
    auto self = this->shared_from_this();
    if (src_->errored()) {
      defer_finish(src_->errored());
      return;
    }
    if (src_->readable_ended() || src_->destroyed()) {
      defer_finish(src_->readable_ended() ? std::error_code{}
                                          : make_error_code(errc::premature_close));
      return;
    }
    ids_[0] = src_->on_error([self](std::error_code ec) { self->finish(ec); });
    ids_[1] = src_->on_close([self] { self->finish(make_error_code(errc::premature_close)); });
    ids_[2] = src_->once_end([self] { self->finish({}); });
    ids_[3] = src_->on_readable([self] { self->drain(); });
  }

 private:
  void drain() {
    while (!finished_) {
      std::optional<T> v = src_->read();
      if (!v) return;
      if (!step_(std::move(*v))) {
        stop_early();
        return;
      }
    }
  }

  void stop_early() {
    auto keep = this->shared_from_this();  // detach() may drop the listeners that own us
    auto src = src_;
    detach();
    if (!src->destroyed()) src->destroy();
    finish({});
  }

  void detach() {
    for (listener_id& id : ids_) {
      if (id) src_->off(id);
      id = {};
    }
  }

  void finish(std::error_code ec) {
    if (finished_) return;
    finished_ = true;
    auto keep = this->shared_from_this();  // detach() may drop the listeners that own us
    detach();
    auto fn = std::move(finish_);
    src_.reset();
    fn(ec);
  }

  void defer_finish(std::error_code ec) {
    auto self = this->shared_from_this();
    src_->get_loop().defer([self, ec] { self->finish(ec); });
  }

  std::shared_ptr<readable<T>> src_;
  step_fn step_;
  finish_fn finish_;
  listener_id ids_[4];
  bool finished_ = false;
};

template <chunk T>
void consume(std::shared_ptr<readable<T>> src, typename consumer<T>::step_fn step,
             typename consumer<T>::finish_fn finish) {
  auto c = std::make_shared<consumer<T>>(std::move(src), std::move(step), std::move(finish));
  c->start();
}

}  // namespace sluice::detail
