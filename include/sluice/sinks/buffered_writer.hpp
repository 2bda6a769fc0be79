// sluice/sinks/buffered_writer.hpp: buffered_writer, a writable<buffer> that gathers small writes
// and hands them to a destination writable<buffer> (a file_writer, a socket) in few, large writes.
//
// The writer keeps what is written in its own write buffer (it holds itself corked) and flushes
// it as ONE gather write to the destination (one do_writev there, when the destination
// implements it): when flush() is called, when the pending bytes reach buffer_size at a check,
// at every tick of a periodic flush_interval timer, and at end(). A write's callback runs only
// once the destination's write callback accepted its bytes: data acknowledged to the producer is
// never lost if the destination fails later; the destination's error reaches every write not
// yet acknowledged and the writer's 'error' (docs/writers.md, "buffered_writer", says why the
// size check happens at checks and not at every write()).
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
  /// A check that finds at least this many bytes pending starts a flush. Must be > 0.
  std::size_t buffer_size = 64 * 1024;
  /// Period of the flush timer: every tick flushes whatever is pending, so a byte waits at most
  /// one period (plus a flush already in flight). Zero: no timer and no gathering of its own: each
  /// write goes to the destination as soon as it is free, writes made while it is busy going
  /// together in the next gather write (buffer_size is then unused).
  loop::duration flush_interval = std::chrono::seconds(1);
  /// Size (written, not yet accepted by the destination) at which write() returns false.
  /// Default: buffer_size.
  std::optional<std::size_t> high_water_mark{};
  /// The writer owns the destination's lifecycle: end() ends it (after the last flush) and
  /// destroy() destroys it with the same error. When false, both leave it open.
  bool end_destination = true;
  std::string name{};
};

/// A writable<buffer> gathering writes in front of `destination`. Create it with
/// make_buffered_writer(). One flush is in flight at a time; writes made meanwhile wait for the
/// next one, bounded by high_water_mark as any writable's buffer. Each write's callback runs
/// exactly once, on a later tick: with success once the destination's write callback accepted
/// the flush that carried it, or with the error that stopped it (the destination's, or the
/// destroy() error / stream_destroyed).
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
  /// destination's, or stream_destroyed). A cork() of the caller's own holds the flush back
  /// until the matching uncork().
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

  void send(std::vector<buffer>& chunks, write_callback cb);
  void on_sent(std::uint64_t seq, std::error_code ec);
  void on_destination_error(std::error_code ec);
  // Flushes now, or right after the flush in flight.
  void flush_now();
  // A check point: flush if buffer_size is reached or the producer waits for 'drain'.
  void check_size();
  void arm_timer();
  void on_tick();
  void complete_waiters(std::error_code ec);
  std::shared_ptr<buffered_writer> self();

  std::shared_ptr<writable<buffer>> dest_;
  buffered_writer_options opts_;
  listener_id dest_error_id_{};
  timer timer_;
  std::vector<flush_waiter> waiters_;
  write_callback in_flight_cb_;      // the core's write being flushed (valid while in_flight_)
  std::size_t in_flight_bytes_ = 0;  // its size
  std::size_t in_flight_chunks_ = 0;
  std::uint64_t seq_ = 0;           // identifies the flush in flight, to ignore a stale callback
  std::uint64_t acked_chunks_ = 0;  // chunks the destination accepted
  std::uint64_t flush_count_ = 0;
  std::uint64_t bytes_flushed_ = 0;
  bool in_flight_ = false;    // a flush is with the destination
  bool flush_again_ = false;  // a flush was asked for while one was in flight
  bool own_cork_ = false;     // the cork() that keeps writes in our buffer is held
};

/// Creates a buffered_writer in front of `destination`.
[[nodiscard]] std::shared_ptr<buffered_writer> make_buffered_writer(
    sluice::loop& l, std::shared_ptr<writable<buffer>> destination,
    buffered_writer_options opts = {});

}  // namespace sluice
