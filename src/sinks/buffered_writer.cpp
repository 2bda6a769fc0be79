// buffered_writer: every write is accept()ed into pending_ at once (the core then hands over the
// next one, while the chunk stays counted in writable_length()); a flush moves pending_ to the
// destination, corked, as one gather write, and acknowledge()s those writes from the
// destination's write callback. Chunks are counted in the order they arrive (taken_chunks_,
// acked_chunks_), which is the order of counters().chunks_in, so "everything written before
// flush() was called" is a chunk count.
#include "sluice/sinks/buffered_writer.hpp"

#include <algorithm>
#include <limits>
#include <stdexcept>

namespace sluice {

namespace {

writable_options core_options(const buffered_writer_options& o) {
  const std::size_t twice = o.buffer_size > std::numeric_limits<std::size_t>::max() / 2
                                ? std::numeric_limits<std::size_t>::max()
                                : 2 * o.buffer_size;
  return {.high_water_mark = o.high_water_mark.value_or(twice), .name = o.name};
}

std::string describe(const writable<buffer>& dest) {
  return dest.name().empty() ? std::string("destination") : "'" + dest.name() + "'";
}

}  // namespace

buffered_writer::buffered_writer(sluice::loop& l, std::shared_ptr<writable<buffer>> destination,
                                 buffered_writer_options opts)
    : writable<buffer>(l, core_options(opts)),
      dest_(std::move(destination)),
      opts_(std::move(opts)) {
  if (!dest_)
    throw std::system_error(make_error_code(errc::invalid_argument),
                            "buffered_writer: null destination");
  if (opts_.buffer_size == 0)
    throw std::system_error(make_error_code(errc::invalid_argument),
                            "buffered_writer: buffer_size must be > 0");
  use_accept();
  use_construct();  // the error listener needs weak_from_this()
}

buffered_writer::~buffered_writer() {
  timer_.cancel();
  if (dest_error_id_) dest_->off(dest_error_id_);
}

void buffered_writer::do_construct(callback cb) {
  // weak: the destination (which we own) must not keep us alive through its listener.
  dest_error_id_ = dest_->on_error([this, w = weak_from_this()](std::error_code ec) {
    if (auto s = w.lock()) on_destination_error(ec);
  });
  cb({});
}

void buffered_writer::flush(callback cb) {
  if (finished()) {  // everything went through
    if (cb) defer([cb = std::move(cb)] { cb({}); });
    return;
  }
  if (destroyed() || errored()) {
    if (cb) {
      const std::error_code e = errored() ? errored() : make_error_code(errc::stream_destroyed);
      defer([cb = std::move(cb), e] { cb(e); });
    }
    return;
  }
  const std::uint64_t target = counters().chunks_in;
  if (cb) {
    if (target <= acked_chunks_)
      defer([cb = std::move(cb)] { cb({}); });
    else
      waiters_.push_back({target, std::move(cb)});
  }
  flush_upto_ = std::max(flush_upto_, target);
  maybe_flush();  // chunks still in the core's buffer (corked, constructing) go when they come
}

void buffered_writer::do_write(buffer&& chunk, write_callback cb) {
  std::vector<buffer> one;
  one.push_back(std::move(chunk));
  take(one, cb);
}

bool buffered_writer::do_writev(std::vector<buffer>& chunks, write_callback cb) {
  take(chunks, cb);
  return true;
}

void buffered_writer::take(std::vector<buffer>& chunks, const write_callback& cb) {
  const bool first = pending_.empty();
  for (auto& c : chunks) {
    pending_size_ += c.size();
    pending_.push_back(std::move(c));
  }
  taken_chunks_ += chunks.size();
  ++pending_calls_;
  if (first) arm_timer();
  accept(cb);  // may hand over the next buffered write at once (a nested take)
  if (!destroyed()) maybe_flush();
}

bool buffered_writer::flush_due() const noexcept {
  if (pending_.empty()) return false;
  // (writable_length() >= the highWaterMark: this write() returns false, and 'drain' needs
  // every byte acknowledged, so the producer is not made to wait for the timer.)
  return pending_size_ >= opts_.buffer_size || final_cb_ || need_drain() ||
         writable_length() >= writable_high_water_mark() ||
         flush_upto_ > taken_chunks_ - pending_.size();
}

void buffered_writer::maybe_flush() {
  if (in_flight_ || destroyed() || !flush_due()) return;
  start_flush();
}

void buffered_writer::start_flush() {
  timer_.cancel();  // it belonged to this buffer
  ++timer_gen_;
  std::vector<buffer> chunks = std::move(pending_);
  pending_.clear();
  in_flight_ = true;
  in_flight_calls_ = std::exchange(pending_calls_, 0);
  in_flight_bytes_ = std::exchange(pending_size_, 0);
  in_flight_chunks_ = chunks.size();
  const std::uint64_t seq = ++seq_;
  ++flush_count_;
  // The last chunk's callback tells the batch's fate: a destination completes writes in order,
  // and a failure fails every write after it. (Strong: a flush in flight keeps the writer; the
  // destination completing or being destroyed releases it.)
  auto self = std::shared_ptr<buffered_writer>(shared_from_this(), this);  // (virtual base)
  const callback done = [self, seq](std::error_code ec) { self->on_sent(seq, ec); };
  dest_->cork();
  for (std::size_t i = 0; i + 1 < chunks.size(); ++i) (void)dest_->write(std::move(chunks[i]));
  (void)dest_->write(std::move(chunks.back()), done);
  dest_->uncork();
}

void buffered_writer::on_sent(std::uint64_t seq, std::error_code ec) {
  if (!in_flight_ || seq != seq_ || destroyed()) return;  // destroy() failed it already
  if (ec) {
    // The core fails every accepted write (this flush's and the pending ones) with `ec`.
    fail(ec, "flush to " + describe(*dest_));
    return;
  }
  in_flight_ = false;
  bytes_flushed_ += in_flight_bytes_;
  acked_chunks_ += in_flight_chunks_;
  in_flight_bytes_ = 0;
  in_flight_chunks_ = 0;
  // The writes' callbacks run now (we are on the destination's callback, not inside a write);
  // they may write, end or destroy.
  acknowledge(std::exchange(in_flight_calls_, 0));
  if (destroyed()) return;
  complete_waiters();  // after the writes' own callbacks
  if (destroyed()) return;
  maybe_flush();
  maybe_final();
}

void buffered_writer::complete_waiters() {
  std::vector<flush_waiter> ready;
  std::erase_if(waiters_, [&](flush_waiter& w) {
    if (w.chunks > acked_chunks_) return false;
    ready.push_back(std::move(w));
    return true;
  });
  for (auto& w : ready) w.cb({});
}

void buffered_writer::on_destination_error(std::error_code ec) {
  if (!destroyed()) fail(ec, describe(*dest_));
}

void buffered_writer::arm_timer() {
  if (opts_.flush_interval <= loop::duration::zero() || ended() || destroyed()) return;
  timer_.cancel();
  const std::uint64_t gen = ++timer_gen_;
  timer_ = get_loop().start_timer(opts_.flush_interval, [this, w = weak_from_this(), gen] {
    if (auto s = w.lock()) on_timer(gen);
  });
}

void buffered_writer::on_timer(std::uint64_t gen) {
  if (gen != timer_gen_ || destroyed()) return;
  // The buffer's first write has waited flush_interval: flush it now, or right after the flush
  // in flight.
  flush_upto_ = std::max(flush_upto_, taken_chunks_);
  maybe_flush();
}

void buffered_writer::maybe_final() {
  if (!final_cb_ || in_flight_ || !pending_.empty()) return;
  callback cb = std::exchange(final_cb_, nullptr);
  if (opts_.end_destination)
    dest_->end(std::move(cb));
  else
    cb({});
}

void buffered_writer::do_final(callback cb) {
  timer_.cancel();  // what is pending goes now (or right after the flush in flight)
  ++timer_gen_;
  final_cb_ = std::move(cb);
  maybe_flush();
  maybe_final();
}

void buffered_writer::do_destroy(std::error_code ec, callback cb) {
  timer_.cancel();
  ++timer_gen_;
  // The core fails every accepted write (in flight or pending) with `ec` or stream_destroyed;
  // a late completion from the destination finds seq_ moved on.
  ++seq_;
  in_flight_ = false;
  in_flight_calls_ = in_flight_bytes_ = in_flight_chunks_ = 0;
  pending_.clear();
  pending_calls_ = pending_size_ = 0;
  final_cb_ = nullptr;
  if (!waiters_.empty()) {
    // After the writes' callbacks, which the core runs on the next tick.
    const std::error_code e = ec ? ec : make_error_code(errc::stream_destroyed);
    defer([all = std::move(waiters_), e] {
      for (const auto& w : all) w.cb(e);
    });
    waiters_.clear();
  }
  if (opts_.end_destination) dest_->destroy(ec);
  cb(ec);
}

std::shared_ptr<buffered_writer> make_buffered_writer(sluice::loop& l,
                                                      std::shared_ptr<writable<buffer>> destination,
                                                      buffered_writer_options opts) {
  return std::make_shared<buffered_writer>(l, std::move(destination), std::move(opts));
}

}  // namespace sluice
