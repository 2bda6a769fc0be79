// sluice/messaging/detail/jetstream_client.hpp: the libnats side of the JetStream streams
// (internal to jetstream_writer.hpp and jetstream_reader.hpp).
//
// The stream templates serialize and decode on the loop thread and keep the streams' state;
// what touches libnats is compiled once, in src/messaging/, behind these handle/body classes,
// so no public header includes nats.h:
//   - js_publisher: one connection and JetStream context; publish() hands a message to
//     libnats without blocking, and each publish's outcome (libnats' PubAck handler, on its own
//     thread) comes back to the loop through loop::post.
//   - js_consumer: one connection bound to a durable pull consumer, and a thread of its own
//     that fetches only as many messages as the reader has asked for (request()).
//   - js_message: one delivered message; acknowledged from the loop thread (non-blocking).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <iterator>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <unordered_map>
#include <vector>

#include "sluice/core/loop.hpp"
#include "sluice/messaging/jetstream_options.hpp"

namespace sluice::messaging::detail {

/// How a connection attempt or a fatal condition ended: the code and the whole context
/// ("jetstream connect to nats://...: <libnats' words>").
using status_callback = std::function<void(std::error_code, std::string)>;

/// How one publish ended (on the loop thread).
struct publish_outcome {
  std::uint64_t token = 0;  ///< what publish() was given (the writer's item index)
  std::error_code ec;
  std::string detail;          ///< on failure: the server's or libnats' words
  std::uint64_t sequence = 0;  ///< on success: the message's stream sequence
  bool duplicate = false;      ///< on success: the stream had it already (a retry)
};

class js_publisher {
 public:
  struct handlers {
    std::function<void(publish_outcome)> on_outcome;
    /// The connection closed for good (reconnects exhausted): no outcome comes any more.
    status_callback on_closed;
  };

  /// Does not connect yet (open() does). `id_prefix` starts every message ID.
  js_publisher(loop& l, jetstream_options o, std::string id_prefix);
  js_publisher(const js_publisher&) = delete;
  js_publisher& operator=(const js_publisher&) = delete;
  /// close()s.
  ~js_publisher();

  /// Connects (and creates `stream` if it is given and missing) on a messaging thread; `done`
  /// runs on the loop thread, never from within this call. Handlers run on the loop thread.
  /// The caller keeps at most `max_pending` publishes outstanding.
  void open(std::size_t max_pending, std::optional<jetstream_stream_config> stream, handlers h,
            status_callback done);

  /// Hands one message to libnats without waiting for the network: its message ID is
  /// "<id_prefix>-<token>", and with `expect_previous` it asks the stream to store it only
  /// after "<id_prefix>-<token - 1>" (Nats-Expected-Last-Msg-Id). Its outcome comes once
  /// through on_outcome, unless take_back() is called first. No outcome comes for a publish
  /// whose answer is lost: the caller times its publishes and calls take_back(). An error
  /// returned here means nothing was sent (no outcome follows); `detail` then says why.
  std::error_code publish(const std::string& subject, std::string_view data, std::uint64_t token,
                          bool expect_previous, std::string& detail);

  /// Makes libnats forget every publish whose answer it still waits for (answers arriving later
  /// are dropped; outcomes already on their way to the loop still come). Returns how many it
  /// forgot.
  std::size_t take_back();

  /// Stops every handler (outcomes arriving later are dropped) and closes the connection on a
  /// messaging thread. Idempotent.
  void close();

  /// The servers, for messages.
  [[nodiscard]] const std::string& urls() const noexcept;

  struct impl;

 private:
  std::shared_ptr<impl> impl_;
};

enum class ack_kind : std::uint8_t { ack, nak, term, in_progress };

/// What a reader's acknowledgements did, shared by the reader and its deliveries' handles (loop
/// thread only): counts, and the fate of the messages handed on, by stream sequence, so that
/// the reader can tell a redelivery of a message it already handed on (an acknowledgement lost
/// with a server, an ack_wait that ran out while the sink held it) from a new one.
///
/// The messages not yet settled are few (at most what the reader and its sink hold); the
/// settled ones are kept as ranges of sequences, so a consumer that sees contiguous sequences
/// (one subject per stream, or no filter) needs one range however much it read. At most
/// `window` ranges are kept, the oldest forgotten first.
struct ack_tally {
  enum class fate : std::uint8_t {
    unknown,  ///< not handed on, handed back (nak), or forgotten (the ranges are bounded)
    in_sink,  ///< handed on, not settled: its acknowledgement is still to come
    done,     ///< acknowledged or terminated: the server should not send it again
  };

  std::uint64_t acked = 0;
  std::uint64_t naked = 0;
  std::uint64_t terminated = 0;
  bool open = true;           ///< false once the reader is destroyed: handles no longer acknowledge
  std::size_t window = 4096;  ///< how many ranges of settled sequences are kept

  void handed_on(std::uint64_t seq) { open_[seq] = fate::in_sink; }

  void settled(std::uint64_t seq, ack_kind k) {
    if (k == ack_kind::in_progress) return;
    open_.erase(seq);
    if (k != ack_kind::nak) add_done(seq);  // (a nak wants the redelivery: unknown again)
  }

  [[nodiscard]] fate lookup(std::uint64_t seq) const {
    if (const auto it = open_.find(seq); it != open_.end()) return it->second;
    auto it = done_.upper_bound(seq);  // the first range starting after seq
    if (it == done_.begin()) return fate::unknown;
    --it;
    return seq <= it->second ? fate::done : fate::unknown;
  }

 private:
  void add_done(std::uint64_t seq) {
    auto next = done_.upper_bound(seq);
    if (next != done_.begin()) {
      auto prev = std::prev(next);
      if (seq <= prev->second) return;  // already in
      if (prev->second + 1 == seq) {
        prev->second = seq;
        if (next != done_.end() && next->first == seq + 1) {
          prev->second = next->second;
          done_.erase(next);
        }
        return;
      }
    }
    if (next != done_.end() && next->first == seq + 1) {
      const std::uint64_t end = next->second;
      done_.erase(next);
      done_.emplace(seq, end);
    } else {
      done_.emplace(seq, seq);
    }
    while (done_.size() > window) done_.erase(done_.begin());
  }

  std::unordered_map<std::uint64_t, fate> open_;  // handed on and not settled
  std::map<std::uint64_t, std::uint64_t> done_;   // settled: first → last sequence of a range
};

/// One delivered message (defined in src/messaging/). Destroying it without an
/// acknowledgement leaves the message to be redelivered after the consumer's ack_wait.
class js_message;

/// Sends `kind` for `m` (a publish to its reply subject: non-blocking). Returns false if libnats
/// refused (the connection is closed): the server then redelivers the message after ack_wait.
bool send_ack(js_message& m, ack_kind kind);

/// One message as the fetch thread hands it over.
struct fetched_message {
  std::shared_ptr<js_message> msg;
  std::string_view subject;  ///< valid while `msg` lives
  std::string_view data;     ///< valid while `msg` lives
  std::uint64_t stream_sequence = 0;
  std::uint64_t consumer_sequence = 0;  ///< the consumer's delivery counter (every delivery)
  std::uint64_t deliveries = 1;         ///< 1 for a first delivery
};

/// A durable pull consumer, as a reader needs it.
struct consumer_settings {
  std::string stream;
  std::string consumer;
  std::string filter_subject;  ///< only for creating it (empty: every subject of the stream)
  std::int64_t max_ack_pending = 1000;
  std::int64_t max_deliver = -1;  ///< the server's MaxDeliver when creating it (-1: no limit)
  loop::duration ack_wait = std::chrono::seconds(30);
  loop::duration fetch_wait = std::chrono::milliseconds(200);
  std::size_t max_batch = 256;
};

class js_consumer {
 public:
  struct handlers {
    /// Messages fetched, in the order the server sent them (loop thread).
    std::function<void(std::vector<fetched_message>)> on_batch;
    /// The consumer cannot go on (deleted, connection closed): no batch follows.
    status_callback on_error;
  };

  js_consumer(loop& l, jetstream_options o, consumer_settings s);
  js_consumer(const js_consumer&) = delete;
  js_consumer& operator=(const js_consumer&) = delete;
  /// stop()s.
  ~js_consumer();

  /// On a thread of its own: connects, creates the consumer if it is missing, binds to it, then
  /// fetches while it has credit (request()). `ready` and the handlers run on the loop thread,
  /// never from within this call. The thread counts as the loop's outstanding work until it
  /// ends.
  void start(handlers h, status_callback ready);
  /// Allows `n` more messages to be fetched (loop thread). A fetch asks for at most what was
  /// allowed and not yet delivered, and at most max_batch.
  void request(std::size_t n);
  /// No more fetches: the thread ends within one fetch_wait, delivering nothing more.
  /// Messages handed out stay valid (and may still be acknowledged) as long as they live.
  /// Idempotent.
  void stop();

  /// "consumer 'S'/'C' on nats://...", for messages.
  [[nodiscard]] std::string describe() const;

  struct impl;

 private:
  std::shared_ptr<impl> impl_;
};

/// A random hex string of 16 digits (a writer's message ID prefix).
[[nodiscard]] std::string random_id_prefix();

}  // namespace sluice::messaging::detail
