// buffered_writer: the writer's own buffer is the writable core's write buffer (held with a
// cork), so a flush is one uncork(): the core hands every pending chunk to do_writev at once,
// and that batch goes to the destination corked, as one gather write. The batch's completion
// (the core's write callback, which runs the producers' callbacks) is called only from the
// destination's write callback, or with the error that stops it.
#include "sluice/sinks/buffered_writer.hpp"

#include <stdexcept>

namespace sluice {

namespace {

writable_options core_options(const buffered_writer_options& o) {
  return {.high_water_mark = o.high_water_mark.value_or(o.buffer_size), .name = o.name};
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
  if (opts_.flush_interval > loop::duration::zero()) {
    cork();
    own_cork_ = true;
  }
  use_construct();  // the timer and the error listener need shared_from_this()
}

buffered_writer::~buffered_writer() {
  timer_.cancel();
  if (dest_error_id_) dest_->off(dest_error_id_);
}

std::shared_ptr<buffered_writer> buffered_writer::self() {
  // (stream is a virtual base: no static cast; the aliasing constructor shares ownership)
  return {shared_from_this(), this};
}

void buffered_writer::do_construct(callback cb) {
  // weak: the destination (which we own) must not keep us alive through its listener.
  dest_error_id_ =
      dest_->on_error([w = std::weak_ptr<buffered_writer>(self())](std::error_code ec) {
        if (auto s = w.lock()) s->on_destination_error(ec);
      });
  arm_timer();
  cb({});
  // A flush() called before construction: the core ends construction on the next tick, and
  // this runs right after it (FIFO).
  if (!waiters_.empty()) defer([this] { flush_now(); });
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
  flush_now();
}

void buffered_writer::flush_now() {
  if (destroyed() || ended() || !constructed()) return;  // after end() writes flow straight on
  const std::uint64_t pending = counters().chunks_in - acked_chunks_ - in_flight_chunks_;
  if (pending == 0) return;
  if (in_flight_) {
    flush_again_ = true;
    return;
  }
  if (!own_cork_) return;  // pass-through (no timer), or uncorked by the caller: data flows
  own_cork_ = false;
  uncork();  // the core calls do_write/do_writev with every pending chunk, now
  if (!ended() && !destroyed()) {
    cork();
    own_cork_ = true;
  }
}

void buffered_writer::check_size() {
  // A producer waiting for 'drain' waits for a flush: never make it wait for the timer too.
  if (pending_bytes() >= opts_.buffer_size || need_drain()) flush_now();
}

void buffered_writer::do_write(buffer&& chunk, write_callback cb) {
  std::vector<buffer> one;
  one.push_back(std::move(chunk));
  send(one, cb);
}

bool buffered_writer::do_writev(std::vector<buffer>& chunks, write_callback cb) {
  send(chunks, cb);
  return true;
}

void buffered_writer::send(std::vector<buffer>& chunks, write_callback cb) {
  in_flight_ = true;
  in_flight_cb_ = cb;
  in_flight_chunks_ = chunks.size();
  in_flight_bytes_ = 0;
  for (const auto& c : chunks) in_flight_bytes_ += c.size();
  const std::uint64_t seq = ++seq_;
  ++flush_count_;
  // The last chunk's callback tells the batch's fate: writes complete in order, and a failure
  // fails every write after it.
  const callback done = [s = self(), seq](std::error_code ec) { s->on_sent(seq, ec); };
  dest_->cork();
  for (std::size_t i = 0; i + 1 < chunks.size(); ++i) (void)dest_->write(std::move(chunks[i]));
  (void)dest_->write(std::move(chunks.back()), done);
  dest_->uncork();
}

void buffered_writer::on_sent(std::uint64_t seq, std::error_code ec) {
  if (!in_flight_ || seq != seq_) return;  // destroy() completed it already
  if (ec) {
    fail(ec, "flush to " + describe(*dest_));  // do_destroy completes the batch with `ec`
    return;
  }
  in_flight_ = false;
  bytes_flushed_ += in_flight_bytes_;
  acked_chunks_ += in_flight_chunks_;
  in_flight_bytes_ = 0;
  in_flight_chunks_ = 0;
  // The flushes these bytes complete: called after the writes' own callbacks.
  std::vector<flush_waiter> ready;
  std::erase_if(waiters_, [&](flush_waiter& w) {
    if (w.chunks > acked_chunks_) return false;
    ready.push_back(std::move(w));
    return true;
  });
  const write_callback cb = std::exchange(in_flight_cb_, {});
  cb();  // may start the next write at once (after end(), or uncorked by the caller)
  for (auto& w : ready) w.cb({});
  if (std::exchange(flush_again_, false))
    flush_now();
  else
    check_size();
}

void buffered_writer::on_destination_error(std::error_code ec) {
  if (!destroyed()) fail(ec, describe(*dest_));
}

void buffered_writer::arm_timer() {
  if (opts_.flush_interval <= loop::duration::zero() || ended() || destroyed()) return;
  timer_ =
      get_loop().start_timer(opts_.flush_interval, [w = std::weak_ptr<buffered_writer>(self())] {
        if (auto s = w.lock()) s->on_tick();
      });
}

void buffered_writer::on_tick() {
  if (destroyed() || ended()) return;
  flush_now();
  arm_timer();
}

void buffered_writer::complete_waiters(std::error_code ec) {
  auto all = std::move(waiters_);
  waiters_.clear();
  for (auto& w : all) w.cb(ec);
}

void buffered_writer::do_final(callback cb) {
  timer_.cancel();
  if (opts_.end_destination)
    dest_->end([cb = std::move(cb)](std::error_code ec) { cb(ec); });
  else
    cb({});
}

void buffered_writer::do_destroy(std::error_code ec, callback cb) {
  timer_.cancel();
  const std::error_code e = ec ? ec : make_error_code(errc::stream_destroyed);
  if (in_flight_) {
    // The destination has not accepted the batch: its writes fail, never succeed silently.
    in_flight_ = false;
    ++seq_;
    in_flight_bytes_ = 0;
    in_flight_chunks_ = 0;
    const write_callback c = std::exchange(in_flight_cb_, {});
    c(e);
  }
  complete_waiters(e);
  if (opts_.end_destination) dest_->destroy(ec);
  cb(ec);
}

std::shared_ptr<buffered_writer> make_buffered_writer(sluice::loop& l,
                                                      std::shared_ptr<writable<buffer>> destination,
                                                      buffered_writer_options opts) {
  return std::make_shared<buffered_writer>(l, std::move(destination), std::move(opts));
}

}  // namespace sluice
