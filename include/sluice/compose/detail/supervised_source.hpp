// sluice/compose/detail/supervised_source.hpp: supervised_source<T>, a readable that reads from
// an instance made by a factory and makes a new one when it fails (supervise.hpp has the
// policy). Included by sluice/compose/supervise.hpp.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <system_error>
#include <utility>

#include "sluice/compose/supervise.hpp"

namespace sluice {

/// A readable<T> that delivers what a chain of instances made by `factory` produce: each in
/// paused mode, only as fast as this stream is read (backpressure reaches the instance). When
/// one fails (an error, or a close before its end), it is let go, and after the backoff the
/// factory makes the next from restart_context{.items, .bytes} = what was delivered so far. Its
/// end is this stream's end. When the restarts run out, or for an error that is not retryable,
/// this stream fails with the instance's error, its context naming the policy's verdict and the
/// instance's own message. Destroying this stream destroys the instance.
template <chunk T>
class supervised_source final : public readable<T> {
 public:
  supervised_source(sluice::loop& l, source_factory<T> factory, restart_options o, std::size_t hwm)
      : readable<T>(l, readable_options{.high_water_mark = hwm, .name = o.name}),
        factory_(std::move(factory)),
        gov_(std::move(o)) {}

  ~supervised_source() override { detach(true); }

  /// Starts reading the first instance (supervise_source() calls it).
  void start(std::shared_ptr<readable<T>> first) { attach(std::move(first)); }

  [[nodiscard]] const supervision_counters& counters() noexcept { return gov_.counters(); }
  /// Items (and bytes, by chunk size) delivered so far.
  [[nodiscard]] std::uint64_t delivered_items() const noexcept { return items_; }
  [[nodiscard]] std::uint64_t delivered_bytes() const noexcept { return bytes_; }
  /// The instance being read (null while waiting to restart).
  [[nodiscard]] const std::shared_ptr<readable<T>>& instance() const noexcept { return inner_; }

 protected:
  void do_read(std::size_t) override {
    want_ = true;
    pull();
  }

  void do_destroy(std::error_code ec, callback cb) override {
    timer_.cancel();
    detach(true);
    cb(ec);
  }

 private:
  void attach(std::shared_ptr<readable<T>> s) {
    inner_ = std::move(s);
    ++gen_;
    std::weak_ptr<supervised_source> self =
        std::dynamic_pointer_cast<supervised_source>(this->shared_from_this());
    const std::uint64_t gen = gen_;
    auto guard = [self, gen](auto fn) {
      return [self, gen, fn](auto&&... a) {
        if (auto s = self.lock(); s && s->gen_ == gen && s->inner_) fn(*s, a...);
      };
    };
    error_id_ = inner_->on_error(
        guard([](supervised_source& s, std::error_code ec) { s.instance_failed(ec); }));
    close_id_ = inner_->on_close(guard(
        [](supervised_source& s) { s.instance_failed(make_error_code(errc::premature_close)); }));
    end_id_ = inner_->once_end(guard([](supervised_source& s) { s.instance_ended(); }));
    readable_id_ = inner_->on_readable(guard([](supervised_source& s) { s.pull(); }));
    if (inner_->errored()) {
      instance_failed(inner_->errored());
    } else if (inner_->readable_ended()) {
      instance_ended();
    } else if (inner_->destroyed()) {
      instance_failed(make_error_code(errc::premature_close));
    } else if (want_) {
      pull();
    }
  }

  void detach(bool destroy_it) {
    if (!inner_) return;
    for (listener_id id : {error_id_, close_id_, end_id_, readable_id_})
      if (id) inner_->off(id);
    if (destroy_it && !inner_->destroyed() && !inner_->readable_ended()) inner_->destroy();
    inner_.reset();
  }

  void pull() {
    if (pulling_) return;  // a synchronous 'readable' from inside read(): the loop goes on
    pulling_ = true;
    auto keep = this->shared_from_this();
    while (want_ && inner_ && !this->destroyed() && !this->eof_pushed()) {
      std::optional<T> v = inner_->read();
      if (!v) break;
      ++items_;
      bytes_ += chunk_traits<T>::size(*v);
      if (!this->push(std::move(*v))) want_ = false;
    }
    pulling_ = false;
  }

  void instance_ended() {
    detach(false);
    if (!this->destroyed() && !this->eof_pushed()) this->push_eof();
  }

  void instance_failed(std::error_code ec) {
    const std::size_t ahead = inner_->readable_length();
    std::string message = inner_->error_message();
    detach(true);
    failed(ec, message, ahead);
  }

  // The instance failed (or could not be made): restart after the backoff, or give up.
  void failed(std::error_code ec, const std::string& message, std::size_t ahead) {
    if (this->destroyed()) return;
    restart_event e;
    e.error = ec;
    e.message = message;
    e.items = items_;
    e.in_flight = ahead;
    gov_.counters().discarded += ahead;
    std::optional<loop::duration> delay = gov_.on_failure(this->get_loop(), std::move(e));
    if (this->destroyed()) return;  // (the observer destroyed it)
    if (!delay) {
      this->fail(ec, detail::gave_up_context("supervised source" + named(), gov_.gave_up_reason(),
                                             message, ec));
      return;
    }
    std::weak_ptr<supervised_source> self =
        std::dynamic_pointer_cast<supervised_source>(this->shared_from_this());
    timer_ = this->get_loop().start_timer(*delay, [self] {
      if (auto s = self.lock(); s && !s->destroyed()) s->restart();
    });
  }

  void restart() {
    const restart_context c = gov_.next_context(items_, bytes_);
    ++this->counters_.restarts;  // (stream::counters(), for monitors and metrics)
    std::shared_ptr<readable<T>> next;
    std::string what;
    // A factory that cannot make the stream now is a failure like any other.
    if (std::error_code ec = detail::make_instance(factory_, c, next, what))
      return failed(ec, "restart " + std::to_string(c.restart) + ": " + what, 0);
    attach(std::move(next));
  }

  [[nodiscard]] std::string named() const {
    return this->name().empty() ? std::string() : " '" + this->name() + "'";
  }

  source_factory<T> factory_;
  detail::restart_governor gov_;
  std::shared_ptr<readable<T>> inner_;
  std::uint64_t gen_ = 0;  // which instance the listeners belong to
  listener_id error_id_, close_id_, end_id_, readable_id_;
  timer timer_;
  std::uint64_t items_ = 0;
  std::uint64_t bytes_ = 0;
  bool want_ = false;     // the consumer asked for data and the last push() returned true
  bool pulling_ = false;  // inside pull()
};

/// Makes the first instance with `factory` (restart_context{} : restart 0, position 0) and
/// returns a supervised source around it. Throws what the factory throws for the first instance,
/// and std::system_error(errc::invalid_argument) if it returns null: a stage that cannot start
/// is a setup error, not a failure to supervise.
template <chunk T, class F>
requires std::is_invocable_r_v<
    std::shared_ptr<readable<T>>, F&,
    const restart_context&> [[nodiscard]] std::shared_ptr<supervised_source<T>>
supervise_source(sluice::loop& l, F factory, restart_options o = {}) {
  std::shared_ptr<readable<T>> first =
      detail::first_instance<std::shared_ptr<readable<T>>>(factory, "supervise_source");
  const std::size_t hwm = o.high_water_mark.value_or(first->readable_high_water_mark());
  auto s = std::make_shared<supervised_source<T>>(l, source_factory<T>(std::move(factory)),
                                                  std::move(o), hwm);
  s->start(std::move(first));
  return s;
}

}  // namespace sluice
