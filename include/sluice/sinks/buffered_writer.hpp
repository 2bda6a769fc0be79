// sluice/sinks/buffered_writer.hpp: buffered_writer, a writable<buffer> that gathers small writes
// and hands them to a destination writable<buffer> (a file_writer, a socket) in few, large writes.
//
// Each write is accepted into the writer's pending buffer at once (the core's accept(),
// core/writable.hpp) and stays counted in writable_length() until the destination has it. The
// pending buffer goes to the destination as ONE gather write (one do_writev there, when the
// destination implements it): as soon as it holds buffer_size bytes, flush_interval after its
// first write, on flush(), and at end(). One flush is in flight at a time; writes made meanwhile
// fill the next buffer. A write's callback runs only once the destination's write callback
// accepted the flush that carried it: data acknowledged to the producer is never lost if the
// destination fails later; the destination's error reaches every write not yet acknowledged and
// the writer's 'error'. An idle writer arms no timer. docs/writers.md, "buffered_writer".
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "sluice/core/buffer.hpp"
#include "sluice/core/loop.hpp"
#include "sluice/core/writable.hpp"

namespace sluice {

/// Options of a buffered_writer.
struct buffered_writer_options {
  /// A flush starts as soon as the pending buffer holds this many bytes (right after the flush
  /// in flight, if there is one). Must be > 0.
  std::size_t buffer_size = 64 * 1024;
  /// The longest a write waits in the pending buffer: a timer armed by the buffer's first write
  /// flushes it this long after (later only if a flush is still in flight then), and is
  /// cancelled when the buffer is flushed otherwise. No timer runs while nothing is pending.
  /// Zero: no timer; the buffer is flushed on size, flush(), end(), or write() returning false.
  loop::duration flush_interval = std::chrono::seconds(1);
  /// Size (written, not yet accepted by the destination) at which write() returns false.
  /// Default: 2 * buffer_size, so a buffer can fill while the previous one is being flushed.
  std::optional<std::size_t> high_water_mark{};
  /// The writer owns the destination's lifecycle: end() ends it (after the last flush) and
  /// destroy() destroys it with the same error. When false, both leave it open.
  bool end_destination = true;
  std::string name{};
};

/// A writable<buffer> gathering writes in front of `destination`. Create it with
/// make_buffered_writer(). Each write's callback runs exactly once, on a later tick: with
/// success once the destination's write callback accepted the flush that carried it, or with
/// the error that stopped it (the destination's, or the destroy() error / stream_destroyed).
/// A write that makes write() return false also starts a flush (right after the one in flight):
/// 'drain' needs every pending byte in the destination, so a producer waiting for it never waits
/// for the timer.
class buffered_writer final : public writable<buffer> {
 public:
  /// Prefer make_buffered_writer(). Throws std::system_error(errc::invalid_argument) for a null
  /// destination or a zero buffer_size.
  buffered_writer(sluice::loop& l, std::shared_ptr<writable<buffer>> destination,
                  buffered_writer_options opts);
  ~buffered_writer() override;

  /// Hands everything written so far to the destination now (as one gather write, or right after
  /// the flush in flight). `cb`, if given, runs exactly once, on a later tick: with no error once
  /// the destination accepted all those bytes, or with the error that stopped them (the
  /// destination's, or stream_destroyed). Writes held by a cork() of the caller's own are
  /// flushed after the matching uncork().
  void flush(callback cb = nullptr);

  /// Bytes written and not yet handed to the destination.
  [[nodiscard]] std::size_t pending_bytes() const noexcept {
    return writable_length() - in_flight_bytes_;
  }
  /// Gather writes handed to the destination so far (one per flush).
  [[nodiscard]] std::uint64_t flush_count() const noexcept { return flush_count_; }
  /// Bytes the destination accepted so far.
  [[nodiscard]] std::uint64_t bytes_flushed() const noexcept { return bytes_flushed_; }
  [[nodiscard]] const std::shared_ptr<writable<buffer>>& destination() const noexcept {
    return dest_;
  }

 protected:
  void do_construct(callback cb) override;
  void do_write(buffer&& chunk, write_callback cb) override;
  bool do_writev(std::vector<buffer>& chunks, write_callback cb) override;
  void do_final(callback cb) override;
  void do_destroy(std::error_code ec, callback cb) override;

 private:
  struct flush_waiter {
    std::uint64_t chunks;  // counters().chunks_in when flush() was called
    callback cb;
  };

  // Adds one do_write/do_writev call's chunks to the pending buffer and accepts them.
  void take(std::vector<buffer>& chunks, const write_callback& cb);
  // Whether the pending buffer should go now (or right after the flush in flight).
  [[nodiscard]] bool flush_due() const noexcept;
  // Starts a flush of the pending buffer if one is due and none is in flight.
  void maybe_flush();
  void start_flush();
  void on_sent(std::uint64_t seq, std::error_code ec);
  void on_destination_error(std::error_code ec);
  void arm_timer();
  void on_timer(std::uint64_t gen);
  void complete_waiters();
  void maybe_final();

  std::shared_ptr<writable<buffer>> dest_;
  buffered_writer_options opts_;
  listener_id dest_error_id_{};
  timer timer_;
  std::uint64_t timer_gen_ = 0;  // identifies the armed timer, to ignore a stale firing
  std::vector<flush_waiter> waiters_;
  callback final_cb_;              // do_final's, until the last flush is accepted
  std::vector<buffer> pending_;    // accepted, not yet handed to the destination
  std::size_t pending_calls_ = 0;  // do_write/do_writev calls accepted into pending_
  std::size_t pending_size_ = 0;   // bytes in pending_
  std::size_t in_flight_calls_ = 0;
  std::size_t in_flight_bytes_ = 0;
  std::size_t in_flight_chunks_ = 0;
  std::uint64_t seq_ = 0;           // identifies the flush in flight, to ignore a stale callback
  std::uint64_t acked_chunks_ = 0;  // chunks the destination accepted
  std::uint64_t flush_count_ = 0;
  std::uint64_t bytes_flushed_ = 0;
  std::uint64_t taken_chunks_ = 0;  // chunks taken into the pending buffer so far
  std::uint64_t flush_upto_ = 0;    // flush() or the timer asked for the chunks before this one
  bool in_flight_ = false;          // a flush is with the destination
};

/// Creates a buffered_writer in front of `destination`.
[[nodiscard]] std::shared_ptr<buffered_writer> make_buffered_writer(
    sluice::loop& l, std::shared_ptr<writable<buffer>> destination,
    buffered_writer_options opts = {});

}  // namespace sluice
