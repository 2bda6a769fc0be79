// sluice/messaging/delivery.hpp: what a JetStream reader hands out, and how its acknowledgement
// travels with it to the sink.
//
// delivery<T>                 a decoded message: its value, subject, stream sequence, how many
//                             times it was delivered, and its acknowledgement (a move-only
//                             handle: ack, nak, term, in_progress)
// map_values(f)               for sluice::map: f on the value, the rest of the delivery (its
//                             acknowledgement included) carried along
// make_acknowledging_writer   a writable<delivery<T>> in front of a writable<T>: writes the value,
//                             acknowledges the message in the inner write's callback, so the
//                             server forgets a message only once the sink has it
// jetstream_message           a message as it came (bytes), for a reader's dead letter
//
// A delivery dropped without an acknowledgement is not lost: the server delivers it again
// after the consumer's ack_wait.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <system_error>
#include <type_traits>
#include <utility>

#include "sluice/core/buffer.hpp"
#include "sluice/core/writable.hpp"
#include "sluice/messaging/detail/jetstream_client.hpp"

namespace sluice::messaging {

/// The acknowledgement of one delivered message. Settled by the first of ack(), nak() or
/// term(); later calls do nothing, and so does every call once the reader that fetched the
/// message is destroyed (the server then delivers it again after ack_wait). Loop thread only.
class acknowledgement {
 public:
  /// A handle with nothing to acknowledge.
  acknowledgement() = default;
  acknowledgement(std::shared_ptr<detail::js_message> m, std::shared_ptr<detail::ack_tally> tally,
                  std::uint64_t stream_sequence) noexcept
      : m_(std::move(m)), tally_(std::move(tally)), seq_(stream_sequence) {}
  acknowledgement(acknowledgement&&) noexcept = default;
  acknowledgement& operator=(acknowledgement&&) noexcept = default;
  acknowledgement(const acknowledgement&) = delete;
  acknowledgement& operator=(const acknowledgement&) = delete;
  /// Without an acknowledgement the message is delivered again after ack_wait.
  ~acknowledgement() = default;

  /// Done with it: the server will not deliver it again.
  void ack() { settle(detail::ack_kind::ack); }
  /// Not done: deliver it again now (it counts as a delivery towards max_deliver).
  void nak() { settle(detail::ack_kind::nak); }
  /// Never deliver it again, done or not.
  void term() { settle(detail::ack_kind::term); }
  /// Still working on it: the server restarts its ack_wait. Does not settle.
  void in_progress() {
    if (m_ && tally_ && tally_->open) detail::send_ack(*m_, detail::ack_kind::in_progress);
  }
  /// ack(), nak() or term() was called, or there was nothing to acknowledge.
  [[nodiscard]] bool settled() const noexcept { return m_ == nullptr; }

 private:
  void settle(detail::ack_kind k) {
    if (!m_) return;
    auto m = std::move(m_);
    if (!tally_ || !tally_->open) return;
    if (!detail::send_ack(*m, k)) return;  // the connection is closed: redelivered later
    tally_->settled(seq_, k);
    if (k == detail::ack_kind::ack) ++tally_->acked;
    if (k == detail::ack_kind::nak) ++tally_->naked;
    if (k == detail::ack_kind::term) ++tally_->terminated;
  }

  std::shared_ptr<detail::js_message> m_;
  std::shared_ptr<detail::ack_tally> tally_;
  std::uint64_t seq_ = 0;
};

/// One message from a jetstream_reader, decoded.
template <class T>
struct delivery {
  T value{};
  std::string subject;
  std::uint64_t stream_sequence = 0;  ///< its place in the stream
  std::uint64_t deliveries = 1;       ///< 1 for a first delivery, more for a redelivery
  acknowledgement receipt;

  void ack() { receipt.ack(); }
  void nak() { receipt.nak(); }
  void term() { receipt.term(); }
};

/// A message as the server sent it, for a dead letter: the reader could not decode it, or it
/// was delivered more often than max_deliver.
struct jetstream_message {
  std::string subject;
  buffer data;
  std::uint64_t stream_sequence = 0;
  std::uint64_t deliveries = 0;
  std::string reason;  ///< why it is here, as an error message would say it
};

/// For sluice::map (compose/operators.hpp): `sluice::map(reader, map_values(f))` turns each
/// delivery<T> into a delivery<f(T)> with the same subject, sequence and acknowledgement.
template <class F>
struct value_mapper {
  F f;
  template <class T>
  auto operator()(delivery<T>&& d) {
    using R = std::invoke_result_t<F&, T&&>;
    return delivery<R>{f(std::move(d.value)), std::move(d.subject), d.stream_sequence, d.deliveries,
                       std::move(d.receipt)};
  }
};

template <class F>
[[nodiscard]] value_mapper<F> map_values(F f) {
  return {std::move(f)};
}

/// A writable<delivery<T>> that writes each delivery's value to `inner` and acknowledges the
/// message only in `inner`'s write callback: the server forgets a message once the sink has
/// it (its write callback means what it means for that sink: a file writer's, that the bytes
/// are written; a batch writer's, that the batch was flushed). On an error from `inner` nothing
/// more is acknowledged, and this writer fails with inner's error and message: the messages
/// not acknowledged are delivered again after ack_wait, to the next reader.
///
/// Backpressure is inner's: a delivery is taken (accepted) while inner->write() returns true;
/// after a false, the next waits for inner's 'drain'. A write's callback runs once inner's did,
/// so writable_length() counts deliveries written and not yet acknowledged, and the
/// highWaterMark bounds them. end() ends inner and finishes when it has; destroy() destroys
/// it. The writer owns inner.
template <chunk T>
class acknowledging_writer final : public writable<delivery<T>> {
  using base = writable<delivery<T>>;
  using typename base::write_callback;

 public:
  acknowledging_writer(sluice::loop& l, std::shared_ptr<writable<T>> inner, writable_options o)
      : base(l, o), inner_(std::move(inner)) {
    if (!inner_)
      throw std::system_error(make_error_code(errc::invalid_argument),
                              "make_acknowledging_writer: no inner writable");
    this->use_accept();
  }

  [[nodiscard]] const std::shared_ptr<writable<T>>& inner() const noexcept { return inner_; }

  // (Called by make_acknowledging_writer once the writer is owned by a shared_ptr.)
  void attach() {
    self_ = std::dynamic_pointer_cast<acknowledging_writer>(this->shared_from_this());
    std::weak_ptr<acknowledging_writer> w = self_;
    drain_id_ = inner_->on_drain([w] {
      if (auto self = w.lock()) self->inner_drained();
    });
    error_id_ = inner_->on_error([w](std::error_code ec) {
      if (auto self = w.lock()) self->inner_failed(ec);
    });
  }

 protected:
  void do_write(delivery<T>&& d, write_callback cb) override {
    auto receipt = std::make_shared<acknowledgement>(std::move(d.receipt));
    const bool more = inner_->write(std::move(d.value), [w = self_, receipt](std::error_code ec) {
      // The item is in the sink: acknowledge it, whatever became of this writer meanwhile.
      if (!ec) receipt->ack();
      if (auto self = w.lock()) self->inner_done(ec);
    });
    if (more)
      this->accept(cb);
    else
      held_.emplace(cb);  // taken once inner drains
  }

  void do_final(callback cb) override {
    inner_->end([w = self_, cb = std::move(cb)](std::error_code ec) {
      auto self = w.lock();
      if (self && !self->destroyed()) cb(ec);
    });
  }

  void do_destroy(std::error_code ec, callback cb) override {
    inner_->off(drain_id_);
    inner_->off(error_id_);
    if (held_) {
      const std::error_code e = ec ? ec : make_error_code(errc::stream_destroyed);
      this->defer([c = *std::exchange(held_, std::nullopt), e] { c(e); });
    }
    inner_->destroy(ec);
    cb(ec);
  }

 private:
  void inner_drained() {
    if (held_) this->accept(*std::exchange(held_, std::nullopt));
  }

  void inner_done(std::error_code ec) {
    if (this->destroyed()) return;
    if (ec) return inner_failed(ec);
    // (A sink that completes a write before its 'drain' would leave it held: take it first.)
    if (this->accepted_count() == 0 && held_) this->accept(*std::exchange(held_, std::nullopt));
    this->acknowledge(1);
  }

  void inner_failed(std::error_code ec) {
    if (this->destroyed()) return;
    const std::string context = inner_->error_context();
    this->fail(ec, "write to " +
                       (inner_->name().empty() ? std::string("the sink") : inner_->name()) +
                       (context.empty() ? std::string() : ": " + context));
  }

  std::shared_ptr<writable<T>> inner_;
  std::weak_ptr<acknowledging_writer> self_;
  std::optional<write_callback> held_;  // a write taken by inner that waits for its 'drain'
  listener_id drain_id_{};
  listener_id error_id_{};
};

/// Makes an acknowledging_writer (see there) that owns `inner`.
template <chunk T>
[[nodiscard]] std::shared_ptr<acknowledging_writer<T>> make_acknowledging_writer(
    std::shared_ptr<writable<T>> inner, writable_options o = {}) {
  if (!inner)
    throw std::system_error(make_error_code(errc::invalid_argument),
                            "make_acknowledging_writer: no inner writable");
  if (o.name.empty()) o.name = "acknowledge " + inner->name();
  auto w =
      std::make_shared<acknowledging_writer<T>>(inner->get_loop(), std::move(inner), std::move(o));
  w->attach();
  return w;
}

}  // namespace sluice::messaging
