// sluice/core/readable.hpp: readable<T>, the source end of a stream (Node's stream.Readable).
//
// An implementation produces chunks with push() when do_read asks for them; push() returns false
// once the buffer holds highWaterMark or more, and do_read is not called again until a consumer
// takes data. Consumers either read() in paused mode (usually from a 'readable' listener) or
// receive 'data' events in flowing mode (on_data, resume(), pipe()). 'end' comes only after
// every chunk was consumed. pipe() (sluice/pipe.hpp adds the details) moves chunks into a
// writable<T> and pauses while the destination is full.
//
// The state machine follows Node's readable.js, flag for flag; docs/concepts.md has the diagram.
#pragma once

#include <algorithm>
#include <bit>
#include <cstdint>
#include <optional>
#include <type_traits>
#include <utility>
#include <vector>

#include "sluice/core/detail/run_buffer.hpp"
#include "sluice/core/stream.hpp"
#include "sluice/core/writable.hpp"

namespace sluice {

struct readable_options {
  /// Buffered size at which push() starts returning false (default: 64 KiB / 16 items).
  std::optional<std::size_t> high_water_mark{};
  bool auto_destroy = true;
  bool emit_close = true;
  std::string name{};
};

struct pipe_options {
  /// Call dest.end() when the source ends.
  bool end = true;
  /// Object mode: hand items over in runs, all buffered items in one call, when the pipe is
  /// the source's only consumer (docs/concepts.md, "Runs"). Items, events, errors and
  /// backpressure are as item by item; what differs is the interleaving of the stages' own
  /// code (the source's do_read is asked for more once per run, so its push() returns false
  /// once per run; a transform handles the whole run before the next stage sees its first
  /// output). false: strictly one item at a time, in Node's exact order.
  bool runs = true;
};

template <chunk T>
class readable : public virtual stream {
 public:
  using value_type = T;
  /// read() argument meaning "whatever is there" (Node's read() without a size).
  static constexpr std::size_t npos = static_cast<std::size_t>(-1);

  ~readable() override {
    for (auto& l : pipes_) detach_dest_listeners(*l);
  }

  /// Adds a chunk to the buffer (or hands it straight to 'data' listeners in flowing mode).
  /// Returns false once the buffer reaches the highWaterMark: stop pushing until do_read is
  /// called again. Pushing after push_eof() fails the stream with push_after_eof.
  [[gnu::always_inline]] bool push(T chunk) {
    if constexpr (!is_byte_mode<T>) {
      // A transform's write run gathers what it pushes. collecting_ is cleared (after handing
      // on what was gathered) by whatever would stop a push from going straight to the pipe:
      // push_eof, pause, a new or removed listener, unpipe, a refill, a buffered chunk.
      if (collecting_ && (*life_ & intact_bits) == 0) {
        // (reading_ is cleared when the gathered items are handed on: flush_collected.)
        if constexpr (is_unit_size<T>) {
          // One compare: collect_limit_ is the smaller of the highWaterMark and the room.
          if (collected_.push_back_unchecked(std::move(chunk)) < collect_limit_) [[likely]]
            return true;
          return push_collected_at_limit();
        } else {
          const std::size_t len = collected_len_ += chunk_traits<T>::size(chunk);
          collected_.push_back(std::move(chunk));
          if (len < hwm_) [[likely]]
            return true;
          return push_collected_full();
        }
      }
      if (sync_ && !ended_ && (*life_ & intact_bits) == 0) {
        // Inside do_read: into the buffer (add_chunk_checked's path for this case, inline).
        reading_ = false;
        buffer_chunk(std::move(chunk), false);
        // push_result(), knowing the stream has not ended (buffer_chunk only defers work).
        if (length_ < hwm_ || length_ == 0) [[likely]]
          return true;
        return push_result();
      }
    }
    return add_chunk_checked(std::move(chunk), false);
  }
  /// Signals the end of the data (Node's push(null)).
  void push_eof() {
    stop_collecting();
    reading_ = false;
    on_eof_chunk();
  }
  /// Puts a chunk back at the front of the buffer. After 'end': unshift_after_end_event.
  bool unshift(T chunk) { return add_chunk_checked(std::move(chunk), true); }

  /// Takes data from the buffer. Byte mode: exactly `n` bytes (joining or splitting chunks), or
  /// everything buffered when n is npos; nothing if fewer than n bytes are buffered before the
  /// end. Object mode: one item. read(0) only triggers do_read / 'readable' / 'end'.
  /// Throws std::system_error(out_of_range) if n exceeds max_high_water_mark.
  std::optional<T> read(std::size_t n = npos) {
    std::optional<T> ret = read_impl(n);
    if (ret && nothing_emitted()) {
      data_emitted_ = true;
      if (!data_.empty()) {
        if constexpr (std::is_copy_constructible_v<T>) {
          emit_data(T(*ret));
        } else {
          emit_data(std::move(*ret));  // a move-only chunk goes to the 'data' listeners
          return std::nullopt;
        }
      }
    }
    return ret;
  }

  /// Appends up to `max` items to `out` and returns how many: what `max` read() calls in a row
  /// would take, stopping at the first that returns nothing (no data yet, the end, an error).
  /// Object mode without 'data' listeners moves the buffered items out in one go, all but the
  /// last, which a real read() takes, and refills at the end as that many read() calls would:
  /// the producer (do_read) is asked for more once per buffer's worth instead of once per item,
  /// and the items, the end, errors, 'readable' and the counters come out as with read().
  /// Byte mode, or a stream with 'data' listeners: `max` read() calls.
  std::size_t read_into(std::vector<T>& out, std::size_t max) {
    std::size_t taken = 0;
    if constexpr (!is_byte_mode<T>) {
      if (data_.empty()) {
        while (taken < max) {
          if (buffer_.size() > 1 && max - taken > 1)
            taken += take_buffered(out, std::min(max - taken, buffer_.size()) - 1);
          std::optional<T> v = read();  // refills first (do_read), as every read() does
          if (!v) return taken;
          out.push_back(std::move(*v));
          ++taken;
        }
        // read() would have refilled before each item: leave the buffer as the last one would.
        // (max == 0 is zero read() calls: nothing to refill.)
        if (taken != 0 && length_ < hwm_) refill();
        return taken;
      }
    }
    for (; taken < max; ++taken) {
      std::optional<T> v = read();
      if (!v) break;
      out.push_back(std::move(*v));
    }
    return taken;
  }

  /// Stops 'data' events (takes effect at once, even inside a 'data' listener).
  void pause() {
    stop_collecting();
    resume_on_drain_ = false;
    if (flowing_ != flow_state::paused) {
      flowing_ = flow_state::paused;
      pause_.emit();
    }
    paused_ = true;
  }
  /// Starts or restarts 'data' events, on a later tick. While a pipe's destination is full
  /// (write() returned false, no 'drain' yet), only at that 'drain'.
  void resume() {
    if (flowing_ != flow_state::flowing) {
      if (!pipes_.empty() && pipe_dest_full()) [[unlikely]] {
        // Node resumes at once: the pipe writes one more chunk into the full destination and
        // pauses again at its false write, so a source paused and resumed by hand put a chunk
        // past the destination's highWaterMark per resume(). Here the 'drain' resumes it
        // (pipe_on_drain); resume_on_drain_ keeps the request in case the destination is
        // unpiped instead (release_link).
        resume_on_drain_ = true;
        paused_ = false;
        return;
      }
      resume_on_drain_ = false;
      flowing_ = readable_listening_ ? flow_state::paused : flow_state::flowing;
      if (!resume_scheduled_) {
        resume_scheduled_ = true;
        defer([this] { resume_now(); });
      }
    }
    paused_ = false;
  }
  /// Node's readableFlowing: nullopt before any consumer, then true (flowing) or false (paused).
  [[nodiscard]] std::optional<bool> flowing() const noexcept {
    if (flowing_ == flow_state::none) return std::nullopt;
    return flowing_ == flow_state::flowing;
  }
  [[nodiscard]] bool is_paused() const noexcept { return paused_; }

  [[nodiscard]] std::size_t readable_length() const noexcept { return length_; }
  [[nodiscard]] std::size_t readable_high_water_mark() const noexcept { return hwm_; }
  /// 'end' was emitted (Node's readableEnded).
  [[nodiscard]] bool readable_ended() const noexcept { return end_emitted_; }
  /// push_eof() was called (the buffer may still hold data).
  [[nodiscard]] bool eof_pushed() const noexcept { return ended_; }
  /// Data can still be read (Node's `readable`).
  [[nodiscard]] bool is_readable() const noexcept {
    return !destroyed() && !errored() && !end_emitted_;
  }

  /// 'data': a chunk, in flowing mode. Adding a listener starts flowing unless pause() was called.
  listener_id on_data(std::function<void(T&&)> fn) {
    stop_collecting();
    const listener_id id = next_listener_id();
    data_.connect(id, std::move(fn));
    update_pipe_only();
    // Only ever set here: clearing is left to the deferred update after off() (as in Node).
    if (!readable_.empty()) readable_listening_ = true;
    if (flowing_ != flow_state::paused) resume();
    return id;
  }
  /// 'readable': data (or the end) can be read(). Switches the stream to paused mode.
  listener_id on_readable(std::function<void()> fn) {
    stop_collecting();
    const listener_id id = next_listener_id();
    readable_.connect(id, std::move(fn));
    if (!end_emitted_ && !readable_listening_) {
      readable_listening_ = need_readable_ = true;
      flowing_ = flow_state::paused;
      emitted_readable_ = false;
      if (length_ != 0)
        emit_readable();
      else if (!reading_)
        defer([this] { read(0); });
    }
    return id;
  }
  listener_id on_end(std::function<void()> fn) { return add(end_, std::move(fn), false); }
  listener_id once_end(std::function<void()> fn) { return add(end_, std::move(fn), true); }
  listener_id on_pause(std::function<void()> fn) { return add(pause_, std::move(fn), false); }
  listener_id on_resume(std::function<void()> fn) { return add(resume_, std::move(fn), false); }
  bool off(listener_id id) override {
    stop_collecting();
    if (readable_.disconnect(id)) {
      defer([this] { update_readable_listening(); });
      return true;
    }
    if (data_.disconnect(id)) {
      update_pipe_only();
      return true;
    }
    return end_.disconnect(id) || pause_.disconnect(id) || resume_.disconnect(id) ||
           stream::off(id);
  }
  [[nodiscard]] std::size_t data_listener_count() const noexcept { return data_.size(); }
  [[nodiscard]] std::size_t listener_count() const noexcept override {
    return stream::listener_count() + readable_listener_count();
  }
  /// Listeners on this side's own events (duplex adds both sides).
  [[nodiscard]] std::size_t readable_listener_count() const noexcept {
    return data_.size() + readable_.size() + end_.size() + pause_.size() + resume_.size();
  }

  /// Sends every chunk to `dest`, pausing while dest.write() returns false and resuming on its
  /// 'drain'; ends dest when this stream ends unless `opts.end` is false. With several
  /// destinations the slowest sets the pace. Returns dest.
  template <class W>
  requires std::derived_from<W, writable<T>> std::shared_ptr<W> pipe(std::shared_ptr<W> dest,
                                                                     pipe_options opts = {}) {
    pipe_to(std::static_pointer_cast<writable<T>>(dest), opts);
    return dest;
  }
  /// Stops piping into `dest` (which is not ended).
  void unpipe(const writable<T>& dest) {
    auto it = std::find_if(pipes_.begin(), pipes_.end(),
                           [&](const auto& l) { return l->dest.get() == &dest; });
    if (it != pipes_.end()) unpipe_link(it->get());
  }
  /// Stops piping into every destination.
  void unpipe() {
    if (pipes_.empty()) return;
    stop_collecting();
    // As Node: forget every destination and pause first, then tell each one, in pipe order.
    auto links = std::move(pipes_);
    pipes_.clear();
    update_pipe_only();
    pause();
    for (auto& l : links) release_link(std::move(l));
  }
  [[nodiscard]] std::size_t pipe_count() const noexcept { return pipes_.size(); }

 protected:
  readable(sluice::loop& l, const readable_options& o)
      : hwm_(detail::resolve_high_water_mark(o.high_water_mark, mode_of<T>(), "high_water_mark")) {
    bind(l, stream_options{o.auto_destroy, o.emit_close, o.name});
    life_ = &this->lifecycle_word();
    reserve_collected();
  }
  // For duplex, which binds the shared stream base itself (and sets life_: see duplex()).
  explicit readable(const readable_options& o)
      : hwm_(detail::resolve_high_water_mark(o.high_water_mark, mode_of<T>(),
                                             "readable_high_water_mark")) {
    reserve_collected();
  }
  void set_lifecycle_pointer() noexcept { life_ = &this->lifecycle_word(); }

  /// Produce data: push() up to `size` (a hint: the highWaterMark) now or later. Not called
  /// again until push() (or push_eof()) was called. Default: fails with method_not_implemented.
  virtual void do_read(std::size_t size) {
    (void)size;
    error_or_destroy(make_error_code(errc::method_not_implemented));
  }

  void readable_side_constructed() override {
    if (need_readable_) maybe_read_more();
  }
  [[nodiscard]] bool readable_side_done() const noexcept override { return end_emitted_; }

  /// Duplex: whether the end of the readable side ends the writable side (allowHalfOpen).
  bool allow_half_open_ = true;
  /// Transform: whether a push outside do_read may go straight to 'data' listeners at first.
  void set_sync(bool s) noexcept { sync_ = s; }

  /// Transform, at the start of a write run: from here to end_collect(), pushes that would go
  /// straight to the single pipe destination are gathered and handed on as one run instead.
  void begin_collect() noexcept {
    // (Inside refill_in_runs, gathering is already set up: what it gathered stays first.)
    if constexpr (!is_byte_mode<T>)
      if (!refill_in_runs_) start_collecting();
  }
  /// Gathering (begin_collect); the readable side is then empty.
  [[nodiscard]] bool collecting() const noexcept { return collecting_; }
  /// Transform, at the end of a write run: hands on what was gathered.
  void end_collect() {
    if constexpr (!is_byte_mode<T>) {
      if (collecting_) flush_collected();
    }
  }

 private:
  enum class flow_state : std::uint8_t { none, paused, flowing };

  struct pipe_link {
    std::shared_ptr<writable<T>> dest;
    pipe_options opts;
    listener_id data_id, end_id;                          // on the source
    listener_id drain_id, error_id, close_id, finish_id;  // on the destination
    bool awaiting_drain = false;
  };

  template <class... A>
  listener_id add(signal<A...>& s, std::function<void(A...)> fn, bool once) {
    const listener_id id = next_listener_id();
    s.connect(id, std::move(fn), once);
    return id;
  }

  [[gnu::always_inline]] void emit_data(T&& chunk) {
    ++counters_.chunks_out;
    counters_.bytes_out += chunk_traits<T>::bytes(chunk);
    if (awaiting_drain_ != 0) clear_awaiting_drain();
    if (pipes_.size() == 1 && data_.size() == 1) {
      // The only 'data' listener is the pipe's: write directly, skipping the signal.
      pipe_write(pipes_.front().get(), std::move(chunk));
      return;
    }
    data_.for_each([&](auto& h, bool last) {
      if (last) {
        h(std::move(chunk));
      } else if constexpr (std::is_copy_constructible_v<T>) {
        h(T(chunk));
      }
    });
  }

  // (By value: a reference would make push() keep every chunk on the stack for this cold path.)
  [[gnu::noinline]] bool add_chunk_checked(T chunk, bool front) {
    const bool empty_bytes = is_byte_mode<T> && chunk_traits<T>::size(chunk) == 0;
    if (empty_bytes) {
      if (!front) {
        reading_ = false;
        maybe_read_more();
      }
    } else if (front) {
      if (end_emitted_) {
        error_or_destroy(make_error_code(errc::unshift_after_end_event));
      } else if (!intact()) {
        return false;
      } else {
        add_chunk(std::move(chunk), true);
      }
    } else if (ended_) {
      error_or_destroy(make_error_code(errc::push_after_eof));
    } else if (!intact()) {
      return false;
    } else {
      reading_ = false;
      add_chunk(std::move(chunk), false);
    }
    return push_result();
  }

  // What push() returns, counting a backpressure episode when that is false.
  bool push_result() {
    const bool ok = !ended_ && (length_ < hwm_ || length_ == 0);
    if (!ok && !push_backpressured_) {
      push_backpressured_ = true;
      ++counters_.push_backpressure;
      push_backpressure_since_ = get_loop().event_time();
      if (observer_) [[unlikely]]
        observer_->backpressure_started(*this, stream_side::readable);
    }
    return ok;
  }

  [[gnu::always_inline]] void add_chunk(T&& chunk, bool front) {
    stop_collecting();  // what a run gathered goes first (unshift)
    if (flowing_ == flow_state::flowing && length_ == 0 && !sync_ && !data_.empty()) {
      data_emitted_ = true;
      emit_data(std::move(chunk));
    } else {
      buffer_chunk(std::move(chunk), front);
      return;
    }
    maybe_read_more();
  }

  [[gnu::always_inline]] void buffer_chunk(T&& chunk, bool front) {
    length_ += chunk_traits<T>::size(chunk);
    if (length_ > counters_.peak_readable_length) counters_.peak_readable_length = length_;
    if (front)
      buffer_.push_front(std::move(chunk));
    else
      buffer_.push_back(std::move(chunk));
    if (need_readable_) emit_readable();
    maybe_read_more();
  }

  void on_eof_chunk() {
    if (ended_) return;
    ended_ = true;
    if (sync_) {
      emit_readable();
    } else {
      need_readable_ = false;
      emitted_readable_ = true;
      emit_readable_now();
    }
  }

  void emit_readable() {
    need_readable_ = false;
    if (!emitted_readable_) {
      emitted_readable_ = true;
      defer([this] { emit_readable_now(); });
    }
  }

  void emit_readable_now() {
    if (!destroyed() && !errored() && (length_ != 0 || ended_)) {
      readable_.emit();
      emitted_readable_ = false;
    }
    need_readable_ = flowing_ != flow_state::flowing && !ended_ && length_ <= hwm_;
    flow();
  }

  void maybe_read_more() {
    if (!reading_more_ && constructed()) {
      reading_more_ = true;
      defer([this] {
        while (!reading_ && !ended_ &&
               (length_ < hwm_ || (flowing_ == flow_state::flowing && length_ == 0))) {
          const std::size_t len = length_;
          read(0);
          if (len == length_) break;
        }
        reading_more_ = false;
      });
    }
  }

  void flow() {
    if constexpr (!is_byte_mode<T>) {
      while (flowing_ == flow_state::flowing && pipe_only() && nothing_emitted()) {
        const run_result r = flow_run();
        if (r == run_result::nothing) return;
        if (r == run_result::partly) break;  // the destination is busy: item by item
      }
    }
    // (Node's `while (state.flowing && stream.read() !== null)`. A move-only item goes to the
    // 'data' listener and read() returns nothing: the item counter tells that one came out.)
    while (flowing_ == flow_state::flowing) {
      const std::uint64_t before = counters_.chunks_out;
      if (!read().has_value() && counters_.chunks_out == before) break;
    }
  }

  // --- runs (object mode; docs/concepts.md) -------------------------------------------------
  //
  // When a pipe is the only consumer, flowing mode hands the destination all buffered items in
  // one write_run instead of a read(), a 'data' event and a write() per item; a transform
  // gathers what it pushes while handling a run and hands that on the same way. Each item still
  // passes every step in order, and events, errors, backpressure and the counters come out as
  // the per-item path's, but for the count of push backpressure episodes (one per run). What
  // differs is the interleaving of the stages' code: stage 2 sees item 1 after stage 1 has
  // handled the whole run. tests/core/runs_test.cpp compares the two paths.

  // The only 'data' listener is a single pipe's, and it takes runs.
  [[nodiscard]] bool pipe_only() const noexcept { return pipe_only_; }
  // Recomputes pipe_only_: after any change to pipes_ or to the 'data' listeners.
  void update_pipe_only() noexcept {
    pipe_only_ = pipes_.size() == 1 && data_.size() == 1 && pipes_.front()->opts.runs;
  }

  // A push now would go straight to the pipe (add_chunk's direct path), or is one of the read
  // hook's pushes in refill_in_runs.
  [[nodiscard]] bool can_collect() const noexcept {
    return flowing_ == flow_state::flowing && length_ == 0 && (!sync_ || refill_in_runs_) &&
           pipe_only();
  }
  void start_collecting() noexcept { collecting_ = !ended_ && intact() && can_collect(); }

  enum class run_result : std::uint8_t { nothing, all, partly };

  // One turn of flow() as a run: read()'s refill, then every buffered item at once, with the
  // bookkeeping of that many read() calls. `partly`: the destination took only some (or was
  // busy to begin with): the rest are back in the buffer, for read() to take one by one, so
  // that a destination that completes later sees exactly the per-item sequence.
  run_result flow_run() {
    if (!pipes_.front()->dest->can_take_run()) return run_result::partly;
    emitted_readable_ = false;
    if (length_ == 0 && ended_) {
      end_readable();
      return run_result::nothing;
    }
    if ((need_readable_ || length_ <= hwm_) && can_refill()) {
      if (length_ == 0) {
        // Nothing buffered: what the refill pushes goes on as it comes, a run at a time.
        const std::uint64_t before = counters_.chunks_out;
        refill_in_runs();
        if (length_ == 0 && counters_.chunks_out != before && !ended_) return run_result::all;
      } else {
        refill(false);
      }
      // The read hook paused the stream (or left it with another consumer): what it pushed
      // stays in the buffer (flush_collected), for the per-item path or for resume().
      if (flowing_ != flow_state::flowing || !pipe_only()) [[unlikely]]
        return run_result::partly;
    }
    if (length_ == 0) {
      need_readable_ = true;
      if (ended_) end_readable();
      return run_result::nothing;
    }
    buffer_.move_all_to(run_);
    length_ = 0;
    // As the read() that takes the last item: the end follows once everything is out. But
    // need_readable_ stays: the per-item path refills before each item, so its buffer is not
    // found empty here; the next turn's refill finds out whether it is.
    if (ended_) end_readable();
    data_emitted_ = true;
    return emit_run(run_, true) ? run_result::all : run_result::partly;
  }

  // Room for the first gathered item, so that push() may store before it compares
  // (push_back_unchecked): from then on, an item that fills the room takes the slow path.
  void reserve_collected() {
    if constexpr (is_unit_size<T>) {
      collected_.reserve(std::clamp<std::size_t>(hwm_, 1, 16));
      update_collect_limit();
    }
  }
  void update_collect_limit() noexcept { collect_limit_ = std::min(hwm_, collected_.capacity()); }

  // A gathered push reached collect_limit_: the highWaterMark (hand on), or the room (grow).
  [[gnu::noinline]] bool push_collected_at_limit() {
    if (collected_.size() >= hwm_) return push_collected_full();
    collected_.reserve(collected_.size() + 1);
    update_collect_limit();
    return true;
  }

  // Hands on what a run gathered (at the latest when it holds a highWaterMark's worth, so a
  // run never gathers more than that) and stops gathering.
  [[gnu::noinline]] bool push_collected_full() {
    hand_on_collected();
    collecting_ = can_collect();
    return push_result();
  }

  // flow_run's refill with nothing buffered: inside do_read, pushes are gathered as a
  // transform's are during a write run, and handed on a highWaterMark's worth at a time, so
  // push() keeps returning true while the destination keeps up. What the destination does not
  // take stays in the buffer, as the per-item path's pushes would.
  void refill_in_runs() {
    refill_in_runs_ = true;
    refill(false, true);
    refill_in_runs_ = false;
  }

  // The per-item path would have buffered what refill_in_runs gathered: that is its peak.
  void note_collected_peak() noexcept {
    std::size_t len;
    if constexpr (is_unit_size<T>)
      len = collected_.size();
    else
      len = collected_len_;
    if (len > counters_.peak_readable_length) counters_.peak_readable_length = len;
  }

  // Stops gathering. Inside refill_in_runs (a pause, the end, a new listener... in the read
  // hook), what was gathered goes to the buffer, where the per-item path's pushes would be;
  // otherwise (a transform's pushes, which would have gone straight on) it is handed on.
  [[gnu::noinline]] void flush_collected() {
    if (refill_in_runs_)
      buffer_collected();
    else
      hand_on_collected();
  }
  [[gnu::noinline]] void hand_on_gathered() { hand_on_collected(); }

  void buffer_collected() {
    collecting_ = false;
    collected_len_ = 0;
    if (collected_.empty()) return;
    reading_ = false;  // as each of the pushes would have
    for (T& x : collected_) buffer_chunk(std::move(x), false);
    collected_.clear();
  }

  [[gnu::always_inline]] void hand_on_collected() {
    if (refill_in_runs_) note_collected_peak();
    collecting_ = false;
    collected_len_ = 0;
    if (collected_.empty()) return;
    reading_ = false;  // as each of the pushes would have
    data_emitted_ = true;
    maybe_read_more();  // as each of the pushes would have
    emit_run(collected_, false);
  }

  void stop_collecting() {
    if constexpr (!is_byte_mode<T>) {
      if (collecting_) flush_collected();
    }
  }

  // Hands `run` to the pipe's destination (write_run). Items of a run taken from the buffer
  // (`from_buffer`) that it does not take go back to the buffer's front; gathered pushes it
  // does not take are pushed as usual, one by one. Returns whether it took them all.
  bool emit_run(detail::run_buffer<T>& run, bool from_buffer) {
    const std::size_t n = run.size();
    std::size_t taken = 0;
    if (pipe_only()) {
      pipe_link* link = pipes_.front().get();
      if (awaiting_drain_ != 0) clear_awaiting_drain();
      // The run may unpipe the link: release_link then keeps it (and so the destination) until
      // the run is over, which costs less than holding a reference per run.
      ++emitting_;
      const auto w = link->dest->write_run(run.data(), n);
      --emitting_;
      taken = w.taken;
      counters_.chunks_out += taken;
      counters_.bytes_out += w.bytes;
      if (taken != 0 && !w.ok && has_link(link)) pipe_pause(link);
      if (emitting_ == 0 && !released_.empty()) released_.clear();
    }
    if (taken < n) {
      if (from_buffer) {
        for (std::size_t i = taken; i < n; ++i) length_ += chunk_traits<T>::size(run[i]);
        buffer_.push_front(run.begin() + taken, run.end());
      } else {
        for (std::size_t i = taken; i < n; ++i) add_chunk(std::move(run[i]), false);
      }
    }
    run.clear();
    return taken == n;
  }

  void resume_now() {
    if (!reading_) read(0);
    resume_scheduled_ = false;
    resume_.emit();
    flow();
    if (flowing_ == flow_state::flowing && !reading_) read(0);
  }

  void update_readable_listening() {
    readable_listening_ = !readable_.empty();
    if (resume_scheduled_ && !paused_) {
      flowing_ = flow_state::flowing;
    } else if (!data_.empty()) {
      resume();
    } else if (!readable_listening_) {
      flowing_ = flow_state::none;
    }
  }

  [[nodiscard]] std::size_t how_much_to_read(std::size_t n) const noexcept {
    if (n == 0 || (length_ == 0 && ended_)) return 0;
    if constexpr (!is_byte_mode<T>) {
      return 1;
    } else {
      if (n == npos) {
        if (flowing_ == flow_state::flowing && length_ != 0) return buffer_.front().size();
        return length_;
      }
      if (n <= length_) return n;
      return ended_ ? length_ : 0;
    }
  }

  std::optional<T> read_impl(std::size_t n) {
    stop_collecting();  // what a run gathered was, item by item, emitted before this read
    if (n != npos && n > hwm_) {
      if (n > max_high_water_mark)
        throw std::system_error(make_error_code(errc::out_of_range),
                                "read size exceeds the 1 GiB maximum");
      hwm_ = std::bit_ceil(n);
      update_collect_limit();
    }
    const std::size_t n_orig = n;
    if (n != 0) emitted_readable_ = false;
    if (n == 0 && need_readable_ && ((hwm_ != 0 ? length_ >= hwm_ : length_ > 0) || ended_)) {
      if (length_ == 0 && ended_)
        end_readable();
      else
        emit_readable();
      return std::nullopt;
    }
    n = how_much_to_read(n);
    if (n == 0 && ended_) {
      if (length_ == 0) end_readable();
      return std::nullopt;
    }
    bool do_read_now = need_readable_;
    if (length_ == 0 || length_ - n < hwm_) do_read_now = true;
    if (do_read_now && can_refill()) {
      refill();
      if (!reading_) n = how_much_to_read(n_orig);
    }
    std::optional<T> ret;
    if (n > 0) ret = from_list(n);
    if (!ret) {
      need_readable_ = length_ <= hwm_;
    } else {
      length_ -= n;
      if (awaiting_drain_ != 0) clear_awaiting_drain();
    }
    if (length_ == 0) {
      if (!ended_) need_readable_ = true;
      if (n_orig != n && ended_) end_readable();
    }
    if (ret && data_.empty()) {
      ++counters_.chunks_out;
      counters_.bytes_out += chunk_traits<T>::bytes(*ret);
    }
    return ret;
  }

  // read_into's bulk step (object mode, no 'data' listeners, 0 < k < buffered items, so the
  // buffer is not emptied): the bookkeeping of k read() calls that each take an item, without
  // their do_read calls.
  std::size_t take_buffered(std::vector<T>& out, std::size_t k) {
    emitted_readable_ = false;
    for (std::size_t i = 0; i < k; ++i) {
      counters_.bytes_out += chunk_traits<T>::bytes(buffer_[i]);
      out.push_back(std::move(buffer_[i]));
    }
    buffer_.pop_front(k);
    length_ -= k;
    counters_.chunks_out += k;
    if (nothing_emitted()) data_emitted_ = true;
    if (awaiting_drain_ != 0) clear_awaiting_drain();
    return k;
  }

  // Whether read() may ask the producer for more now (Node's doRead conditions).
  [[nodiscard]] bool can_refill() const noexcept { return !ended_ && !reading_ && healthy(); }

  // read()'s refill (do_read) before taking an item, without the taking. `emptied`: the buffer
  // being empty means a consumer is waiting (Node's doRead sets needReadable then); flow_run
  // empties it itself, where the per-item path would not have. `in_runs` (refill_in_runs): the
  // read hook's pushes are gathered, and what is left is handed on before sync_ is cleared.
  void refill(bool emptied = true, bool in_runs = false) {
    if (!in_runs) stop_collecting();  // first: what a run gathered counts as pushed (reading_)
    if (!can_refill()) return;
    reading_ = true;
    sync_ = true;
    if (length_ == 0 && emptied) need_readable_ = true;
    if (push_backpressured_) {
      push_backpressured_ = false;
      const loop::duration lasted = get_loop().event_time() - push_backpressure_since_;
      counters_.push_backpressured_time += lasted;
      if (observer_) [[unlikely]]
        observer_->backpressure_ended(*this, stream_side::readable, lasted);
    }
    if (in_runs) start_collecting();
    do_read(hwm_);
    // (While sync_: what the destination does not take is buffered.)
    if (in_runs && collecting_) hand_on_gathered();
    sync_ = false;
  }

  std::optional<T> from_list(std::size_t n) {
    if (length_ == 0) return std::nullopt;
    if constexpr (!is_byte_mode<T>) {
      (void)n;
      T v = std::move(buffer_.front());
      buffer_.pop_front();
      return v;
    } else {
      if (n >= length_) {
        if (buffer_.size() == 1) {
          T v = std::move(buffer_.front());
          buffer_.clear();
          return v;
        }
        std::vector<buffer> parts(std::make_move_iterator(buffer_.begin()),
                                  std::make_move_iterator(buffer_.end()));
        buffer_.clear();
        return concat(parts);
      }
      buffer& first = buffer_.front();
      if (n < first.size()) {
        buffer head = first.slice(0, n);
        first = first.slice(n);
        return head;
      }
      if (n == first.size()) {
        T v = std::move(first);
        buffer_.pop_front();
        return v;
      }
      std::vector<buffer> parts;
      std::size_t left = n;
      while (left != 0) {
        buffer& b = buffer_.front();
        if (b.size() <= left) {
          left -= b.size();
          parts.push_back(std::move(b));
          buffer_.pop_front();
        } else {
          parts.push_back(b.slice(0, left));
          b = b.slice(left);
          left = 0;
        }
      }
      return concat(parts);
    }
  }

  void end_readable() {
    if (!end_emitted_) {
      ended_ = true;
      defer([this] { end_readable_now(); });
    }
  }

  void end_readable_now() {
    if (errored() || close_emitted() || end_emitted_ || length_ != 0) return;
    end_emitted_ = true;
    end_.emit();
    this->release_if_done();
    if (writable_side_open() && !allow_half_open_) {
      defer([this] {
        if (!destroyed()) writable_side_end();
      });
    } else if (auto_destroy() && writable_side_done()) {
      destroy();
    }
  }

  // --- pipe --------------------------------------------------------------------------------

  void pipe_to(std::shared_ptr<writable<T>> dest, pipe_options opts) {
    // Both ends live until they are done, whoever holds them (loop::hold).
    this->hold_while_piped();
    dest->hold_while_piped();
    auto owned = std::make_unique<pipe_link>();
    pipe_link* link = owned.get();
    link->dest = std::move(dest);
    link->opts = opts;
    pipes_.push_back(std::move(owned));
    update_pipe_only();
    std::weak_ptr<stream> wsrc = weak_from_this();
    writable<T>& d = *link->dest;

    if (end_emitted_) {
      defer([this, link] { on_pipe_source_end(link); });
    } else {
      link->end_id =
          add(end_, std::function<void()>([this, link] { on_pipe_source_end(link); }), true);
    }
    // A failing, finishing or closing destination is unpiped; the source lives on.
    auto unpipe_if_alive = [wsrc, link]() {
      if (auto s = wsrc.lock()) dynamic_cast<readable&>(*s).unpipe_link(link);
    };
    link->error_id = d.prepend_on_error([unpipe_if_alive](std::error_code) { unpipe_if_alive(); });
    link->close_id = d.on_close(unpipe_if_alive);
    link->finish_id = d.once_finish(unpipe_if_alive);

    link->data_id = on_data([this, link](T&& c) { pipe_write(link, std::move(c)); });
    d.pipe_.for_each([this](auto& h, bool) { h(*this); });
    if (!has_link(link)) return;  // a 'pipe' listener unpiped it
    if (d.need_drain())
      pipe_pause(link);
    else if (flowing_ != flow_state::flowing)
      resume();
  }

  [[gnu::always_inline]] void pipe_write(pipe_link* link, T&& chunk) {
    // The write may unpipe the link (synchronously, from a listener): check before using it.
    if (!link->dest->write(std::move(chunk)) && has_link(link)) pipe_pause(link);
  }

  void on_pipe_source_end(pipe_link* link) {
    if (!has_link(link)) return;
    if (link->opts.end)
      link->dest->end();
    else
      unpipe_link(link);
  }

  void pipe_pause(pipe_link* link) {
    if (!link->awaiting_drain) {
      link->awaiting_drain = true;
      ++awaiting_drain_;
    }
    pause();
    if (!link->drain_id) {
      std::weak_ptr<stream> wsrc = weak_from_this();
      link->drain_id = link->dest->on_drain([wsrc, link] {
        if (auto s = wsrc.lock()) dynamic_cast<readable&>(*s).pipe_on_drain(link);
      });
    }
  }

  void pipe_on_drain(pipe_link* link) {
    if (!has_link(link)) return;
    if (link->awaiting_drain) {
      link->awaiting_drain = false;
      --awaiting_drain_;
    }
    if (awaiting_drain_ == 0 && !data_.empty()) resume();
  }

  // A destination this stream is piped into waits for its 'drain' (which pipe_on_drain hears):
  // no chunk may go on until then.
  [[nodiscard]] bool pipe_dest_full() const noexcept {
    return std::any_of(pipes_.begin(), pipes_.end(),
                       [](const auto& l) { return l->drain_id && l->dest->need_drain(); });
  }

  void clear_awaiting_drain() noexcept {
    for (auto& l : pipes_) l->awaiting_drain = false;
    awaiting_drain_ = 0;
  }

  [[nodiscard]] bool has_link(const pipe_link* link) const noexcept {
    return std::any_of(pipes_.begin(), pipes_.end(),
                       [&](const auto& l) { return l.get() == link; });
  }

  void detach_dest_listeners(pipe_link& l) {
    writable<T>& d = *l.dest;
    for (listener_id id : {l.drain_id, l.error_id, l.close_id, l.finish_id})
      if (id) d.off(id);
  }

  void unpipe_link(pipe_link* link) {
    auto it =
        std::find_if(pipes_.begin(), pipes_.end(), [&](const auto& l) { return l.get() == link; });
    if (it == pipes_.end()) return;
    std::unique_ptr<pipe_link> owned = std::move(*it);
    pipes_.erase(it);
    update_pipe_only();
    if (pipes_.empty()) pause();
    release_link(std::move(owned));
  }

  // Tells the destination of a link already removed from pipes_, and drops the link's listeners.
  void release_link(std::unique_ptr<pipe_link> owned) {
    stop_collecting();
    owned->dest->unpipe_.for_each([this](auto& h, bool) { h(*this); });
    detach_dest_listeners(*owned);
    if (owned->data_id) data_.disconnect(owned->data_id);
    update_pipe_only();
    if (owned->end_id) end_.disconnect(owned->end_id);
    const bool was_waiting = owned->awaiting_drain;
    if (was_waiting) --awaiting_drain_;
    if (!pipes_.empty() && ((was_waiting && awaiting_drain_ == 0) || resume_on_drain_) &&
        !data_.empty()) {
      resume();  // the destination we waited for is gone
    }
    if (emitting_ != 0) released_.push_back(std::move(owned));  // still inside its run
  }

  std::size_t hwm_;
  std::size_t length_ = 0;  // buffered size, in chunk_traits units
  detail::ring<T> buffer_;
  std::vector<std::unique_ptr<pipe_link>> pipes_;
  std::vector<std::unique_ptr<pipe_link>> released_;  // unpiped during a run (emit_run)
  unsigned emitting_ = 0;                             // emit_run calls in progress
  bool pipe_only_ = false;                            // pipe_only(), kept by update_pipe_only()
  bool refill_in_runs_ = false;                       // inside refill_in_runs
  std::size_t awaiting_drain_ = 0;                    // destinations whose 'drain' we wait for
  loop::time_point push_backpressure_since_{};
  signal<T&&> data_;
  signal<> readable_;
  signal<> end_;
  signal<> pause_;
  signal<> resume_;
  flow_state flowing_ = flow_state::none;
  bool ended_ = false;               // push_eof() was called
  bool end_emitted_ = false;         // 'end' went out
  bool reading_ = false;             // do_read was called and has not pushed yet
  bool sync_ = true;                 // inside do_read (true at first: nothing is sync before it)
  bool need_readable_ = false;       // a 'readable' event is wanted when data arrives
  bool emitted_readable_ = false;    // a 'readable' event is queued or was emitted
  bool readable_listening_ = false;  // there are 'readable' listeners
  bool resume_scheduled_ = false;
  bool resume_on_drain_ = false;  // resume() waits for a full destination (pipe_dest_full)
  bool paused_ = false;           // pause() was called (Node's kPaused)
  bool data_emitted_ = false;
  bool reading_more_ = false;  // a maybe_read_more tick is queued
  bool push_backpressured_ = false;
  bool collecting_ = false;             // a transform's write run gathers pushes (begin_collect)
  detail::run_buffer<T> run_;           // flow_run's items
  detail::run_buffer<T> collected_;     // pushes gathered while collecting_
  const std::uint8_t* life_ = nullptr;  // lifecycle_word(), for a cheap intact() per push
  std::size_t collected_len_ = 0;
  std::size_t collect_limit_ = 0;  // min(hwm_, collected_.capacity()), unit-size items
};

}  // namespace sluice
