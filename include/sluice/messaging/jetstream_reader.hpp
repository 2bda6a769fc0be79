// sluice/messaging/jetstream_reader.hpp: jetstream_reader<T, S>, a readable of delivery<T>
// (delivery.hpp) from a durable JetStream pull consumer.
//
// The reader binds to the consumer (creating it, with explicit acknowledgement, if it is
// missing) and fetches only as many messages as its readable side has room for: a fetch asks
// for at most highWaterMark - buffered - already asked, so a slow sink stops the fetching and
// the backlog stays on the server (the consumer's num_pending grows). Fetches run on a thread of
// the reader's own (libnats 3.4 fetches with a blocking call) and come back to the loop.
//
// Each message is decoded by S (a frame_serializer, codec/framing.hpp) into a delivery<T>
// that carries its acknowledgement: nothing is acknowledged by the reader; the sink does it
// (make_acknowledging_writer acknowledges in the inner sink's write callback), so a message is
// forgotten by the server only once the sink has it. A message that does not decode, or comes
// more than max_deliver times, goes to the dead letter (and is then terminated), or fails the
// stream with an error naming the stream, consumer and sequence.
//
// The reader drops a redelivery of a message it handed on lately (an acknowledgement lost with
// a server, an ack_wait that ran out while the sink held the message), acknowledging it again
// if the sink had. With `ordered` it also keeps the stream's order when deliveries are lost in
// transit (a server died with them): see jetstream_reader_options::ordered.
//
// destroy() stops the fetching (the thread ends within one fetch_wait); messages not
// acknowledged are simply not acknowledged, and the server delivers them again after ack_wait.
// stop() ends the readable gracefully ('end' after what was fetched), and acknowledgements of
// what is still in the sink keep working. docs/messaging.md has the whole story.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "sluice/codec/framing.hpp"
#include "sluice/core/readable.hpp"
#include "sluice/messaging/delivery.hpp"
#include "sluice/messaging/detail/jetstream_client.hpp"
#include "sluice/messaging/jetstream_error.hpp"
#include "sluice/messaging/jetstream_options.hpp"

namespace sluice::messaging {

struct jetstream_reader_options {
  std::string stream;
  /// The durable consumer's name. Created if missing (with the settings below, which are
  /// otherwise the consumer's own).
  std::string consumer;
  /// Creating: only messages on these subjects (empty: all of the stream's).
  std::string filter_subject{};
  /// Creating: messages delivered and not yet acknowledged, at most (the server's bound).
  std::int64_t max_ack_pending = 1000;
  /// Deliveries of one message handed on, at most (0: no limit). Creating, the consumer's
  /// MaxDeliver is one more: that last delivery is the dead letter's (or the stream's error),
  /// so the server never drops a message silently.
  unsigned max_deliver = 5;
  /// Creating: how long the server waits for an acknowledgement before delivering again.
  loop::duration ack_wait = std::chrono::seconds(30);
  /// How long one fetch waits for messages. Also the longest destroy() or stop() waits for
  /// the fetch thread (the loop stays busy until it ended).
  loop::duration fetch_wait = std::chrono::milliseconds(200);
  /// Messages per fetch, at most.
  std::size_t max_batch = 256;
  /// Keep the stream's order when deliveries are lost in transit: when the consumer's delivery
  /// counter skips (deliveries that never arrived), the reader leaves unacknowledged every
  /// message after the gap that comes before the lost ones have come again (after ack_wait),
  /// and hands a message on only when all it left before it have been: each comes again, in
  /// stream order. It fetches nothing for an ack_wait after a gap, so that what is due again
  /// comes before anything new. The price, after a loss: a stall of one ack_wait, and the
  /// messages left are delivered twice (it counts towards max_deliver). Only for a consumer
  /// this reader alone reads from.
  bool ordered = false;
  /// Ranges of stream sequences settled (acknowledged or terminated) that the reader remembers,
  /// to drop redeliveries of what it handed on. Contiguous sequences are one range.
  std::size_t dedupe_window = 4096;
  /// End (push 'end') once no message came for this long while the reader was asking for
  /// some. Default: never (a consumer has no end; stop() ends it).
  std::optional<loop::duration> end_after_idle{};
  /// Where messages that do not decode or come too often go; each is terminated once the dead
  /// letter's write callback succeeded. Null: such a message fails the stream.
  std::shared_ptr<writable<jetstream_message>> dead_letter{};
  /// Deliveries fetched and not yet read, at most (default 16).
  std::optional<std::size_t> high_water_mark{};
  std::string name = "jetstream_reader";
};

/// What a jetstream_reader has done.
struct jetstream_reader_stats {
  std::uint64_t fetched = 0;        ///< deliveries received from the server
  std::uint64_t handed_on = 0;      ///< deliveries pushed to the readable side
  std::uint64_t acked = 0;          ///< acknowledged (through their handles)
  std::uint64_t naked = 0;          ///< handed back for redelivery
  std::uint64_t terminated = 0;     ///< terminated (dead letters included)
  std::uint64_t redelivered = 0;    ///< deliveries received that were not the first
  std::uint64_t duplicates = 0;     ///< redeliveries dropped: the message was handed on already
  std::uint64_t held_back = 0;      ///< `ordered`: deliveries left after a gap, sent again later
  std::uint64_t dead_lettered = 0;  ///< written to the dead letter
  std::size_t asked = 0;            ///< messages asked for and not yet received, now
};

template <chunk T, class S>
requires frame_serializer<S, T>
class jetstream_reader final : public readable<delivery<T>> {
  using base = readable<delivery<T>>;

 public:
  jetstream_reader(sluice::loop& l, jetstream_options connection, jetstream_reader_options o,
                   S serializer = S{})
      : base(l, readable_options{.high_water_mark = o.high_water_mark, .name = o.name}),
        o_(std::move(o)),
        s_(std::move(serializer)),
        consumer_(l, std::move(connection), settings(o_)),
        tally_(std::make_shared<detail::ack_tally>()) {
    if (o_.stream.empty() || o_.consumer.empty() || o_.max_batch == 0 ||
        o_.fetch_wait <= loop::duration::zero())
      throw std::system_error(make_error_code(errc::invalid_argument),
                              "jetstream_reader: needs a stream, a consumer, a max_batch of at "
                              "least 1 and a positive fetch_wait");
    tally_->window = std::max<std::size_t>(1, o_.dedupe_window);
    this->use_construct();
  }

  [[nodiscard]] jetstream_reader_stats stats() const noexcept {
    jetstream_reader_stats s = stats_;
    s.acked = tally_->acked;
    s.naked = tally_->naked;
    s.terminated = tally_->terminated;
    s.asked = asked_;
    return s;
  }

  /// Ends the readable gracefully: no more fetches; 'end' comes after what was fetched is
  /// read. Deliveries already handed on can still be acknowledged; messages of a fetch that
  /// was under way are handed back (nak), so the next reader gets them without waiting.
  void stop() {
    if (stopped_ || this->destroyed()) return;
    stopped_ = true;
    idle_timer_.cancel();
    resume_timer_.cancel();
    consumer_.stop();
    this->push_eof();
  }

 protected:
  void do_construct(callback cb) override {
    std::weak_ptr<jetstream_reader> w = self();
    consumer_.start({.on_batch =
                         [w](std::vector<detail::fetched_message> batch) {
                           if (auto p = w.lock()) p->received(std::move(batch));
                         },
                     .on_error =
                         [w](std::error_code ec, std::string context) {
                           if (auto p = w.lock()) p->fail(ec, std::move(context));
                         }},
                    [p = self(), cb = std::move(cb)](std::error_code ec, std::string context) {
                      if (ec) p->fail(ec, std::move(context));
                      cb(ec);
                      if (!ec) p->arm_idle();
                    });
  }

  void do_read(std::size_t) override {
    if (ask() || asked_ != 0 || dead_in_flight_ != 0) return;
    // Full now: read() calls do_read before its item leaves the buffer, so the room appears
    // once that read returned. (Nothing asked would leave the consumer waiting: do_read is not
    // called again until something is pushed.)
    std::weak_ptr<jetstream_reader> w = self();
    this->get_loop().defer([w] {
      if (auto p = w.lock()) p->ask();
    });
  }

  void do_destroy(std::error_code ec, callback cb) override {
    idle_timer_.cancel();
    resume_timer_.cancel();
    consumer_.stop();
    // After a graceful end the sink may still acknowledge what it holds; otherwise nothing
    // more is acknowledged (the server delivers it again after ack_wait).
    if (!stopped_ || ec) tally_->open = false;
    cb(ec);
  }

 private:
  static detail::consumer_settings settings(const jetstream_reader_options& o) {
    return {.stream = o.stream,
            .consumer = o.consumer,
            .filter_subject = o.filter_subject,
            .max_ack_pending = o.max_ack_pending,
            .max_deliver = o.max_deliver == 0 ? -1 : static_cast<std::int64_t>(o.max_deliver) + 1,
            .ack_wait = o.ack_wait,
            .fetch_wait = o.fetch_wait,
            .max_batch = o.max_batch};
  }

  std::shared_ptr<jetstream_reader> self() {
    return std::dynamic_pointer_cast<jetstream_reader>(this->shared_from_this());
  }

  // Asks for as many messages as the readable side has room for: the highWaterMark less what
  // is buffered, already asked for, or on its way to the dead letter. Returns whether it did.
  bool ask() {
    if (stopped_ || !this->healthy() || this->get_loop().now() < paused_until_) return false;
    const std::size_t hwm = std::max<std::size_t>(1, this->readable_high_water_mark());
    const std::size_t held = this->readable_length() + asked_ + dead_in_flight_;
    if (held >= hwm) return false;
    consumer_.request(hwm - held);
    asked_ += hwm - held;
    return true;
  }

  void arm_idle() {
    if (!o_.end_after_idle || stopped_) return;
    idle_timer_.cancel();
    std::weak_ptr<jetstream_reader> w = self();
    idle_timer_ = this->get_loop().start_timer(*o_.end_after_idle, [w] {
      auto p = w.lock();
      if (!p) return;
      // Idle means asking and getting nothing: a reader that asks for nothing is full (its
      // sink is slow), not idle.
      if (p->asked_ == 0 || p->dead_in_flight_ != 0)
        p->arm_idle();
      else
        p->stop();
    });
  }

  void received(std::vector<detail::fetched_message> batch) {
    if (this->destroyed()) return;
    if (stopped_) {
      // A fetch that was under way at stop(): handed back, for the next reader at once rather
      // than after ack_wait.
      for (detail::fetched_message& f : batch) detail::send_ack(*f.msg, detail::ack_kind::nak);
      return;
    }
    asked_ -= std::min(asked_, batch.size());
    if (!batch.empty()) arm_idle();
    for (detail::fetched_message& f : batch) {
      if (this->destroyed()) return;
      take(f);
    }
    ask();
  }

  std::string where() const { return consumer_.describe(); }

  // One delivery: dropped (a duplicate, or held back after a gap), diverted to the dead
  // letter, or decoded and pushed.
  void take(detail::fetched_message& f) {
    ++stats_.fetched;
    if (f.deliveries > 1) ++stats_.redelivered;
    const std::uint64_t seq = f.stream_sequence;
    const std::uint64_t dseq = std::exchange(last_consumer_seq_, f.consumer_sequence);
    switch (tally_->lookup(seq)) {
      case detail::ack_tally::fate::done:
        // The sink had it and it was acknowledged: that acknowledgement was lost. Again.
        ++stats_.duplicates;
        detail::send_ack(*f.msg, detail::ack_kind::ack);
        return;
      case detail::ack_tally::fate::in_sink:
        ++stats_.duplicates;  // its acknowledgement is still to come
        return;
      default:
        break;
    }
    if (o_.ordered && held_back(seq, dseq, f.consumer_sequence, f.deliveries)) {
      ++stats_.held_back;
      return;
    }
    if (o_.max_deliver != 0 && f.deliveries > o_.max_deliver) {
      return divert(f, jetstream_errc::max_deliver_exceeded,
                    "delivered " + std::to_string(f.deliveries) + " times (max_deliver " +
                        std::to_string(o_.max_deliver) + ")");
    }
    T value{};
    if (const std::error_code ec = s_.decode(f.data, value)) {
      return divert(f, ec, "does not decode: " + ec.message());
    }
    tally_->handed_on(seq);
    ++stats_.handed_on;
    this->push(delivery<T>{std::move(value), std::string(f.subject), seq, f.deliveries,
                           acknowledgement(std::move(f.msg), tally_, seq)});
  }

  // `ordered`: whether to leave this delivery unacknowledged because an earlier one was lost.
  // A gap in the consumer's delivery counter means deliveries that never arrived, all before
  // this one. From then on a message is handed on only when every message held back before it
  // has been (the server sends the lost ones, then the held ones, again after ack_wait, each in
  // the order it first sent them); any other is held back in turn (left unacknowledged, it
  // comes again later). The held sequences are at most the consumer's max_ack_pending: the
  // server sends no more than that unacknowledged.
  bool held_back(std::uint64_t seq, std::uint64_t last_dseq, std::uint64_t dseq,
                 std::uint64_t deliveries) {
    if (held_.empty()) {
      if (last_dseq == 0 || dseq <= last_dseq + 1) return false;
      held_.insert(seq);
      pause_fetching();
      return true;
    }
    const std::uint64_t first = *held_.begin();
    if (seq < first) return false;  // one of the lost ones, come again
    if (seq == first || (o_.max_deliver != 0 && deliveries > o_.max_deliver)) {
      // The next one held, come again; or one the server will not send again (its last
      // delivery, for the dead letter): out of order rather than never.
      held_.erase(seq);
      return false;
    }
    held_.insert(seq);
    return true;
  }

  // `ordered`, after a gap: asks for nothing more until the lost and held messages are due
  // again (ack_wait, and a fetch's wait for the server to notice), so that the server, which
  // sends what is due again before anything new, sends them all before anything new.
  void pause_fetching() {
    const loop::duration pause = o_.ack_wait + o_.fetch_wait;
    paused_until_ = this->get_loop().now() + pause;
    std::weak_ptr<jetstream_reader> w = self();
    resume_timer_.cancel();
    resume_timer_ = this->get_loop().start_timer(pause, [w] {
      if (auto p = w.lock()) p->ask();
    });
  }

  // A message that cannot be handed on: to the dead letter (terminated once it took it), or
  // the stream fails naming it.
  void divert(detail::fetched_message& f, std::error_code ec, const std::string& why) {
    const std::string what = "message " + std::to_string(f.stream_sequence) + " on '" +
                             std::string(f.subject) + "' " + why;
    if (!o_.dead_letter) return this->fail(ec, where() + ": " + what);
    tally_->handed_on(f.stream_sequence);
    ++dead_in_flight_;
    std::weak_ptr<jetstream_reader> w = self();
    o_.dead_letter->write(
        jetstream_message{.subject = std::string(f.subject),
                          .data = buffer::copy_of(f.data),
                          .stream_sequence = f.stream_sequence,
                          .deliveries = f.deliveries,
                          .reason = where() + ": " + what},
        [w, m = std::move(f.msg), tally = tally_, seq = f.stream_sequence](std::error_code e) {
          auto p = w.lock();
          if (!e && tally->open) {
            detail::send_ack(*m, detail::ack_kind::term);
            tally->settled(seq, detail::ack_kind::term);
            ++tally->terminated;
          }
          if (!p) return;
          --p->dead_in_flight_;
          if (e) return p->fail(e, p->where() + ": dead letter for message " + std::to_string(seq));
          ++p->stats_.dead_lettered;
          p->ask();
        });
  }

  jetstream_reader_options o_;
  S s_;
  detail::js_consumer consumer_;
  std::shared_ptr<detail::ack_tally> tally_;
  jetstream_reader_stats stats_;
  std::size_t asked_ = 0;           // asked of the fetch thread, not yet received
  std::size_t dead_in_flight_ = 0;  // written to the dead letter, its callback not yet run
  std::uint64_t last_consumer_seq_ = 0;
  std::set<std::uint64_t> held_;     // `ordered`: sequences left unacknowledged after a gap
  loop::time_point paused_until_{};  // `ordered`: no fetching until then, after a gap
  timer resume_timer_;
  bool stopped_ = false;
  timer idle_timer_;
};

/// Makes a jetstream_reader (see there). The serializer defaults to bytes_serializer.
template <chunk T, class S = bytes_serializer>
requires frame_serializer<S, T>
[[nodiscard]] std::shared_ptr<jetstream_reader<T, S>> make_jetstream_reader(
    sluice::loop& l, jetstream_options connection, jetstream_reader_options o, S serializer = S{}) {
  return std::make_shared<jetstream_reader<T, S>>(l, std::move(connection), std::move(o),
                                                  std::move(serializer));
}

}  // namespace sluice::messaging
