// sluice/messaging/jetstream_writer.hpp: jetstream_writer<T, S>, a writable that publishes
// each item to a JetStream subject and completes its write when the server acknowledged it.
//
// Each item is serialized by S (a frame_serializer, codec/framing.hpp: bytes_serializer for
// strings and buffers, json_serializer<T> from codec/json_frames.hpp, or your own) and
// published asynchronously with a message ID ("<id_prefix>-<index>", the Nats-Msg-Id header).
// A write's callback runs when the server's publish acknowledgement for its item arrives: the
// message is stored on a majority of the stream's replicas. Callbacks run in write order.
// At most max_pending publishes are unacknowledged at once; the highWaterMark (default
// max_pending) counts items written and not yet acknowledged, so write() returns false while
// the server is behind and 'drain' follows its acknowledgements.
//
// A publish that fails with an error `retryable` accepts (default is_transient: no answer in
// time, no responders, disconnected) starts a retry round: nothing new is published until
// every publish in flight has its answer, then, after a backoff with full jitter, every failed
// publish goes again, in order, with the same message ID, so the stream stores it once even
// if the lost answer was an acknowledgement (within the stream's duplicate window). With
// `ordered`, each publish also names its predecessor's ID (Nats-Expected-Last-Msg-Id): a
// publish whose predecessor was lost is refused rather than stored ahead of it, so the stream
// keeps the write order through failures (for a stream with one writer). Any other error, or
// max_attempts spent, fails the stream with an error naming the subject and the item:
// "jetstream publish to 'orders.new' (item 41): maximum messages exceeded".
//
// end() finishes once every item is acknowledged. destroy() fails every unacknowledged
// write's callback once, with stream_destroyed (or the error), and closes the connection.
// docs/messaging.md has the whole story.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "sluice/codec/framing.hpp"
#include "sluice/core/writable.hpp"
#include "sluice/messaging/detail/jetstream_client.hpp"
#include "sluice/messaging/jetstream_error.hpp"
#include "sluice/messaging/jetstream_options.hpp"

namespace sluice::messaging {

struct jetstream_writer_options {
  /// The subject every item is published to (a stream must take it).
  std::string subject;
  /// Publishes sent and not yet acknowledged, at most.
  std::size_t max_pending = 256;
  /// Items written and not yet acknowledged at which write() returns false. Default:
  /// max_pending (a write beyond waits for a slot before it is published).
  std::optional<std::size_t> high_water_mark{};
  /// How long a publish waits for its acknowledgement. When one has waited longer, every
  /// publish still unanswered counts as failed (jetstream_errc::timeout, retried by default,
  /// together in one round).
  loop::duration ack_timeout = std::chrono::seconds(5);
  /// Keep the write order in the stream through failures: each publish expects its
  /// predecessor as the stream's last message. Only for a stream this writer alone writes to.
  bool ordered = false;
  /// Starts every message ID. Empty: 16 random hex digits, new for each writer. Give the same
  /// prefix to a writer that starts over with the same items, and the stream drops the items
  /// it already has (within its duplicate window).
  std::string id_prefix{};
  /// Publishes per item, the first included (1: no retry).
  unsigned max_attempts = 10;
  /// Backoff before retry round k (k = 1, 2, ...): uniform in [0, min(backoff_max,
  /// backoff_base * 2^(k-1))].
  loop::duration backoff_base = std::chrono::milliseconds(100);
  loop::duration backoff_max = std::chrono::seconds(2);
  /// Which errors are worth a retry. Default: is_transient().
  std::function<bool(std::error_code)> retryable{};
  /// Created when the writer connects, if missing.
  std::optional<jetstream_stream_config> ensure_stream{};
  std::string name = "jetstream_writer";
  std::uint64_t seed = 0;  ///< seeds the backoff jitter (0: from std::random_device)
};

/// What a jetstream_writer has done.
struct jetstream_writer_stats {
  std::uint64_t published = 0;   ///< publishes handed to libnats, retries included
  std::uint64_t acked = 0;       ///< items the server acknowledged
  std::uint64_t duplicates = 0;  ///< of those, acknowledged as already stored (a retry)
  std::uint64_t retries = 0;     ///< publishes that were retries
  std::uint64_t retry_rounds = 0;
  std::size_t in_flight = 0;        ///< items taken and not yet acknowledged
  std::size_t peak_in_flight = 0;   ///< never above max_pending
  std::uint64_t last_sequence = 0;  ///< the stream sequence of the latest acknowledgement
};

template <chunk T, class S>
requires frame_serializer<S, T>
class jetstream_writer final : public writable<T> {
  using base = writable<T>;
  using typename base::write_callback;

 public:
  jetstream_writer(sluice::loop& l, jetstream_options connection, jetstream_writer_options o,
                   S serializer = S{})
      : base(l, writable_options{.high_water_mark = o.high_water_mark
                                                        ? o.high_water_mark
                                                        : std::optional<std::size_t>(o.max_pending),
                                 .name = o.name}),
        o_(std::move(o)),
        s_(std::move(serializer)),
        prefix_(o_.id_prefix.empty() ? detail::random_id_prefix() : o_.id_prefix),
        publisher_(l, std::move(connection), prefix_),
        rng_(o_.seed != 0 ? o_.seed : std::random_device{}()) {
    if (o_.subject.empty() || o_.max_pending == 0 || o_.max_attempts == 0)
      throw std::system_error(make_error_code(errc::invalid_argument),
                              "jetstream_writer: needs a subject, and max_pending and "
                              "max_attempts of at least 1");
    this->use_accept();
    this->use_construct();
    // 'drain' once half the window is free, not when it is empty (Node's rule): the producer
    // refills it while the other half is still being acknowledged, so the publishes in flight
    // never fall to zero (with the default, each window waited for its last acknowledgement).
    this->set_drain_threshold(this->writable_high_water_mark() / 2);
  }

  [[nodiscard]] const jetstream_writer_stats& stats() const noexcept { return stats_; }
  /// Message IDs are "<id_prefix()>-<index>", the index of the item among those written
  /// (from 0).
  [[nodiscard]] const std::string& id_prefix() const noexcept { return prefix_; }
  [[nodiscard]] const std::string& subject() const noexcept { return o_.subject; }

 protected:
  void do_construct(callback cb) override {
    std::weak_ptr<jetstream_writer> w = self();
    publisher_.open(o_.max_pending, o_.ensure_stream,
                    {.on_outcome =
                         [w](detail::publish_outcome out) {
                           if (auto p = w.lock()) p->outcome(std::move(out));
                         },
                     .on_closed =
                         [w](std::error_code ec, std::string context) {
                           if (auto p = w.lock()) p->fail(ec, std::move(context));
                         }},
                    [p = self(), cb = std::move(cb)](std::error_code ec, std::string context) {
                      if (ec) p->fail(ec, std::move(context));
                      cb(ec);
                    });
  }

  void do_write(T&& x, write_callback cb) override {
    std::string payload;
    s_.encode(x, payload);
    if (entries_.size() >= o_.max_pending) {
      waiting_.emplace(std::move(payload), cb);  // taken when an acknowledgement frees a slot
      return;
    }
    admit(std::move(payload));
    this->accept(cb);
  }

  // 'finish' waits for every acknowledgement (the core's accept()/acknowledge()).
  void do_final(callback cb) override { cb({}); }

  void do_destroy(std::error_code ec, callback cb) override {
    retry_timer_.cancel();
    ack_timer_.cancel();
    busy_.reset();
    publisher_.close();
    entries_.clear();
    stats_.in_flight = 0;
    if (waiting_) {
      const std::error_code e = ec ? ec : make_error_code(errc::stream_destroyed);
      this->defer([c = std::exchange(waiting_, std::nullopt)->second, e] { c(e); });
    }
    cb(ec);
  }

 private:
  // What became of an item taken (accepted) and not yet acknowledged to the core.
  enum class state : std::uint8_t {
    pending,    // not published yet: a retry round is under way
    published,  // its outcome is awaited
    failed,     // failed with a retryable error: goes again in the next round
    acked,      // stored: acknowledged once the items before it are
  };
  struct entry {
    std::uint64_t index = 0;
    std::string payload;
    unsigned attempts = 0;
    state st = state::pending;
    loop::time_point sent{};  // when it was last published
    std::error_code ec;
    std::string detail;
  };

  std::shared_ptr<jetstream_writer> self() {
    return std::dynamic_pointer_cast<jetstream_writer>(this->shared_from_this());
  }

  void admit(std::string payload) {
    entries_.push_back(entry{.index = next_index_++,
                             .payload = std::move(payload),
                             .attempts = 0,
                             .st = state::pending,
                             .ec = {},
                             .detail = {}});
    stats_.in_flight = entries_.size();
    stats_.peak_in_flight = std::max(stats_.peak_in_flight, stats_.in_flight);
    if (!recovering_) publish(entries_.back());
  }

  void publish(entry& e) {
    ++e.attempts;
    e.st = state::published;
    e.sent = this->get_loop().now();
    // Waiting for the server is work: the loop does not go idle under it.
    if (published_++ == 0) busy_.emplace(this->get_loop());
    if (!ack_timer_.pending()) watch_acks(o_.ack_timeout);
    ++stats_.published;
    if (e.attempts > 1) ++stats_.retries;
    std::string detail;
    const std::error_code ec =
        publisher_.publish(o_.subject, e.payload, e.index, o_.ordered, detail);
    if (ec) {
      // Not sent (libnats refused it at once): an outcome like any other, on a later tick.
      std::weak_ptr<jetstream_writer> w = self();
      this->get_loop().defer([w, out = detail::publish_outcome{
                                     .token = e.index, .ec = ec, .detail = std::move(detail)}] {
        if (auto p = w.lock()) p->outcome(out);
      });
    }
  }

  entry* find(std::uint64_t index) {
    if (entries_.empty() || index < entries_.front().index) return nullptr;
    const std::uint64_t at = index - entries_.front().index;
    return at < entries_.size() ? &entries_[at] : nullptr;
  }

  void outcome(detail::publish_outcome out) {
    if (this->destroyed()) return;
    entry* e = find(out.token);
    if (e == nullptr || e->st != state::published) return;
    if (--published_ == 0) {
      busy_.reset();
      ack_timer_.cancel();
    }
    if (!out.ec) {
      e->st = state::acked;
      ++stats_.acked;
      if (out.duplicate) ++stats_.duplicates;
      stats_.last_sequence = std::max(stats_.last_sequence, out.sequence);
      acknowledge_front();
    } else if (o_.retryable ? o_.retryable(out.ec) : is_transient(out.ec)) {
      e->st = state::failed;
      e->ec = out.ec;
      e->detail = std::move(out.detail);
      recovering_ = true;
    } else {
      return give_up(*e, out.ec, out.detail);
    }
    if (recovering_ && published_ == 0 && !retry_timer_.pending()) plan_retry();
  }

  // Completes the items at the front that are stored, then takes a waiting write if a slot
  // is free.
  void acknowledge_front() {
    std::size_t n = 0;
    while (!entries_.empty() && entries_.front().st == state::acked) {
      entries_.pop_front();
      ++n;
    }
    stats_.in_flight = entries_.size();
    if (n != 0) this->acknowledge(n);
    if (this->destroyed()) return;
    if (waiting_ && entries_.size() < o_.max_pending) {
      auto [payload, cb] = std::move(*std::exchange(waiting_, std::nullopt));
      admit(std::move(payload));
      this->accept(cb);
    }
  }

  void watch_acks(loop::duration after) {
    std::weak_ptr<jetstream_writer> w = self();
    ack_timer_ = this->get_loop().start_timer(after, [w] {
      if (auto p = w.lock()) p->check_acks();
    });
  }

  // The ack timer: when the oldest unanswered publish has waited ack_timeout, libnats forgets
  // every publish it still waits for, and each counts as timed out (a retry round, by
  // default). Otherwise the timer waits for the oldest one's deadline.
  void check_acks() {
    if (this->destroyed() || published_ == 0) return;
    loop::time_point oldest = loop::time_point::max();
    for (const entry& e : entries_)
      if (e.st == state::published) oldest = std::min(oldest, e.sent);
    const loop::time_point now = this->get_loop().now();
    if (oldest + o_.ack_timeout > now) return watch_acks(oldest + o_.ack_timeout - now);
    publisher_.take_back();
    std::vector<std::uint64_t> overdue;
    for (const entry& e : entries_)
      if (e.st == state::published) overdue.push_back(e.index);
    const std::string detail =
        "no acknowledgement within " +
        std::to_string(
            std::chrono::duration_cast<std::chrono::milliseconds>(o_.ack_timeout).count()) +
        " ms";
    for (const std::uint64_t index : overdue) {
      if (this->destroyed()) return;
      outcome({.token = index, .ec = jetstream_errc::timeout, .detail = detail});
    }
  }

  // Every publish in flight has its answer and some failed: the first failed item pays for the
  // round with one attempt; the round starts after its backoff.
  void plan_retry() {
    const entry* first = nullptr;
    for (const entry& e : entries_) {
      if (e.st == state::failed) {
        first = &e;
        break;
      }
    }
    if (first == nullptr) {
      recovering_ = false;
      return;
    }
    if (first->attempts >= o_.max_attempts) return give_up(*first, first->ec, first->detail);
    const unsigned k = std::min(first->attempts, 30u);
    const auto cap = std::min<loop::duration>(o_.backoff_max, o_.backoff_base * (1ll << (k - 1)));
    std::uniform_int_distribution<loop::duration::rep> jitter(0, cap.count());
    std::weak_ptr<jetstream_writer> w = self();
    retry_timer_ = this->get_loop().start_timer(loop::duration(jitter(rng_)), [w] {
      if (auto p = w.lock()) p->retry_round();
    });
  }

  void retry_round() {
    if (this->destroyed()) return;
    recovering_ = false;
    ++stats_.retry_rounds;
    for (entry& e : entries_) {
      if (e.st == state::failed || e.st == state::pending) publish(e);
    }
  }

  void give_up(const entry& e, std::error_code ec, const std::string& detail) {
    std::string context =
        "jetstream publish to '" + o_.subject + "' (item " + std::to_string(e.index) + ")";
    if (e.attempts > 1) context += " after " + std::to_string(e.attempts) + " attempts";
    // The server's or libnats' words, unless the error's own message says the same.
    const std::string said = ec.message();
    if (!detail.empty() && detail.compare(0, said.size(), said) != 0 &&
        ec != jetstream_errc::timeout && ec != jetstream_errc::no_responders)
      context += ": " + detail;
    this->fail(ec, std::move(context));
  }

  jetstream_writer_options o_;
  S s_;
  std::string prefix_;
  detail::js_publisher publisher_;
  std::mt19937_64 rng_;
  std::deque<entry> entries_;  // taken and not yet acknowledged to the core, in write order
  std::uint64_t next_index_ = 0;
  std::size_t published_ = 0;  // entries whose outcome is awaited
  bool recovering_ = false;    // a retry round is being prepared: publish nothing new
  timer retry_timer_;
  timer ack_timer_;                       // armed while publishes are unanswered
  std::optional<loop::work_guard> busy_;  // held while publishes are unanswered
  // A write that found max_pending items in flight: its payload and callback.
  std::optional<std::pair<std::string, write_callback>> waiting_;
  jetstream_writer_stats stats_;
};

/// Makes a jetstream_writer (see there). The serializer defaults to bytes_serializer (items
/// of std::string or buffer, sent as they are).
template <chunk T, class S = bytes_serializer>
requires frame_serializer<S, T>
[[nodiscard]] std::shared_ptr<jetstream_writer<T, S>> make_jetstream_writer(
    sluice::loop& l, jetstream_options connection, jetstream_writer_options o, S serializer = S{}) {
  return std::make_shared<jetstream_writer<T, S>>(l, std::move(connection), std::move(o),
                                                  std::move(serializer));
}

}  // namespace sluice::messaging
