// sluice/compose/detail/supervised_sink.hpp: supervised_sink<T>, a writable that writes to an
// instance made by a factory and makes a new one when it fails (supervise.hpp has the policy).
// Included by sluice/compose/supervise.hpp.
#pragma once

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <system_error>
#include <utility>

#include "sluice/compose/supervise.hpp"

namespace sluice {

/// A writable<T> that forwards every write to an instance made by `factory` and keeps a copy of
/// each until the instance acknowledges it (its write callback). A write here completes when
/// the instance acknowledged it, so its callback, 'drain' and 'finish' mean what they meant for
/// the instance (a database sink: committed), and writable_length() counts every item not yet
/// acknowledged, which bounds the copies kept. When the instance fails (an error, a failed
/// write, or a close before it finished), it is destroyed, and after the backoff the factory
/// makes the next from restart_context{.items, .bytes} = what was acknowledged so far; the
/// unacknowledged items are written to it again, in order, before anything new, and end()
/// reaches it if it had reached the failed one. When the restarts run out, or for an error that
/// is not retryable, this stream fails with the instance's error (unacknowledged writes fail).
template <chunk T>
requires std::copy_constructible<T>
class supervised_sink final : public writable<T> {
  using write_callback = typename writable<T>::write_callback;

 public:
  supervised_sink(sluice::loop& l, sink_factory<T> factory, restart_options o, std::size_t hwm)
      : writable<T>(l, writable_options{.high_water_mark = hwm, .name = o.name}),
        factory_(std::move(factory)),
        gov_(std::move(o)) {
    this->use_accept();
    // 'drain' once half the window is acknowledged: an instance that acknowledges in groups (a
    // batch writer) gets the next group while it commits the last.
    this->set_drain_threshold(hwm / 2);
  }

  ~supervised_sink() override { detach(true, {}); }

  /// Starts writing to the first instance (supervise_sink() calls it).
  void start(std::shared_ptr<writable<T>> first) {
    self_ = std::dynamic_pointer_cast<supervised_sink>(this->shared_from_this());
    attach(std::move(first));
  }

  [[nodiscard]] const supervision_counters& counters() noexcept { return gov_.counters(); }
  /// Items (and bytes, by chunk size) acknowledged so far.
  [[nodiscard]] std::uint64_t acknowledged_items() const noexcept { return items_; }
  [[nodiscard]] std::uint64_t acknowledged_bytes() const noexcept { return bytes_; }
  /// The instance written to (null while waiting to restart).
  [[nodiscard]] const std::shared_ptr<writable<T>>& instance() const noexcept { return inner_; }

 protected:
  void do_write(T&& item, write_callback cb) override {
    this->accept(cb);
    unacked_.push_back(item);
    if (!inner_) return;  // waiting to restart: the next instance gets it
    ++sent_;
    forward(std::move(item));
  }

  void do_final(callback cb) override {
    final_.emplace(std::move(cb));
    if (inner_) end_instance();
  }

  void do_destroy(std::error_code ec, callback cb) override {
    timer_.cancel();
    detach(true, ec);
    unacked_.clear();
    final_.reset();
    cb(ec);
  }

 private:
  void attach(std::shared_ptr<writable<T>> s) {
    inner_ = std::move(s);
    const std::uint64_t gen = ++gen_;
    auto self = self_;
    error_id_ = inner_->on_error([self, gen](std::error_code ec) {
      if (auto s = self.lock(); s && s->gen_ == gen && s->inner_) s->instance_failed(ec);
    });
    close_id_ = inner_->on_close([self, gen] {
      if (auto s = self.lock(); s && s->gen_ == gen && s->inner_)
        s->instance_failed(make_error_code(errc::premature_close));
    });
    if (inner_->errored()) {
      instance_failed(inner_->errored());
    } else if (inner_->destroyed() || inner_->ended()) {
      instance_failed(make_error_code(errc::premature_close));
    }
  }

  void detach(bool destroy_it, std::error_code ec) {
    if (!inner_) return;
    ++gen_;  // callbacks still to come from this instance are ignored
    for (listener_id id : {error_id_, close_id_})
      if (id) inner_->off(id);
    if (destroy_it && !inner_->destroyed()) inner_->destroy(ec);
    inner_.reset();
  }

  void forward(T&& item) {
    const std::uint64_t gen = gen_;
    inner_->write(std::move(item), [self = self_, gen](std::error_code ec) {
      auto s = self.lock();
      if (!s || s->gen_ != gen || !s->inner_) return;
      if (ec) return s->instance_failed(ec);
      s->acknowledged_one();
    });
  }

  void acknowledged_one() {
    ++items_;
    bytes_ += chunk_traits<T>::size(unacked_.front());
    unacked_.pop_front();
    --sent_;
    this->acknowledge(1);
  }

  void end_instance() {
    const std::uint64_t gen = gen_;
    inner_->end([self = self_, gen](std::error_code ec) {
      auto s = self.lock();
      if (!s || s->gen_ != gen || !s->inner_) return;
      if (ec) return s->instance_failed(ec);
      s->detach(false, {});
      if (s->final_) std::exchange(s->final_, std::nullopt).value()({});
    });
  }

  void instance_failed(std::error_code ec) {
    std::string message = inner_->error_message();
    detach(true, {});
    failed(ec, message, sent_);
  }

  // The instance failed with `in_flight` items unacknowledged (or could not be made): restart
  // after the backoff, or give up.
  void failed(std::error_code ec, const std::string& message, std::size_t in_flight) {
    if (this->destroyed()) return;
    restart_event e;
    e.error = ec;
    e.message = message;
    e.items = items_;
    e.in_flight = in_flight;
    std::optional<loop::duration> delay = gov_.on_failure(this->get_loop(), std::move(e));
    if (this->destroyed()) return;  // (the observer destroyed it)
    if (!delay) {
      this->fail(ec, detail::gave_up_context("supervised sink" + named(), gov_.gave_up_reason(),
                                             message, ec));
      return;
    }
    timer_ = this->get_loop().start_timer(*delay, [self = self_] {
      if (auto s = self.lock(); s && !s->destroyed()) s->restart();
    });
  }

  void restart() {
    const restart_context c = gov_.next_context(items_, bytes_);
    ++this->counters_.restarts;  // (stream::counters(), for monitors and metrics)
    std::shared_ptr<writable<T>> next;
    std::string what;
    // A factory that cannot make the stream now is a failure like any other.
    if (std::error_code ec = detail::make_instance(factory_, c, next, what))
      return failed(ec, "restart " + std::to_string(c.restart) + ": " + what, 0);
    attach(std::move(next));
    if (!inner_) return;  // failed as it was attached
    // What the failed instance did not acknowledge goes first, in order, then what was
    // written while waiting.
    gov_.counters().redelivered += sent_;
    const std::uint64_t gen = gen_;
    const std::size_t n = unacked_.size();
    sent_ = n;
    for (std::size_t i = 0; i < n && gen_ == gen && !this->destroyed(); ++i) {
      T copy = unacked_[i];
      forward(std::move(copy));
    }
    if (final_ && gen_ == gen && inner_) end_instance();
  }

  [[nodiscard]] std::string named() const {
    return this->name().empty() ? std::string() : " '" + this->name() + "'";
  }

  sink_factory<T> factory_;
  detail::restart_governor gov_;
  // This stream, for the callbacks given to instances (set by start(); cast once, not per item).
  std::weak_ptr<supervised_sink> self_;
  std::shared_ptr<writable<T>> inner_;
  std::uint64_t gen_ = 0;  // which instance the callbacks belong to; bumped when one goes
  listener_id error_id_, close_id_;
  timer timer_;
  std::deque<T> unacked_;  // copies of the items written here, not yet acknowledged
  std::size_t sent_ = 0;   // the first sent_ of them were written to an instance
  std::optional<callback> final_;
  std::uint64_t items_ = 0;
  std::uint64_t bytes_ = 0;
};

/// Makes the first instance with `factory` (restart_context{}) and returns a supervised sink
/// around it. Throws what the factory throws for the first instance, and
/// std::system_error(errc::invalid_argument) if it returns null.
template <chunk T, class F>
requires std::is_invocable_r_v<
    std::shared_ptr<writable<T>>, F&,
    const restart_context&> [[nodiscard]] std::shared_ptr<supervised_sink<T>>
supervise_sink(sluice::loop& l, F factory, restart_options o = {}) {
  std::shared_ptr<writable<T>> first =
      detail::first_instance<std::shared_ptr<writable<T>>>(factory, "supervise_sink");
  const std::size_t hwm = o.high_water_mark.value_or(first->writable_high_water_mark());
  auto s = std::make_shared<supervised_sink<T>>(l, sink_factory<T>(std::move(factory)),
                                                std::move(o), hwm);
  s->start(std::move(first));
  return s;
}

}  // namespace sluice
