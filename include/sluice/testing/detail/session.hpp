// sluice/testing/detail/session.hpp: one scenario's stream, loop and record of events.
//
// A `session` makes a fresh stream with the factory on a fresh driver (loop), listens to every
// event the stream's surface has and records them, with the kit's own calls (a write that
// returned false, end(), destroy()), in one ordered list: the rules are judged on that list.
// The helpers below are the kit's hands: write a sample item, consume the readable side
// (flowing, or paused), feed the writable side the way pipe() would (waiting for 'drain').
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "sluice/core/chunk.hpp"
#include "sluice/core/error.hpp"
#include "sluice/testing/detail/driver.hpp"
#include "sluice/testing/options.hpp"
#include "sluice/testing/report.hpp"

namespace sluice::testing::detail {

/// The error error_once gives a stream through destroy(ec) when the options say no better way.
[[nodiscard]] std::error_code injected_error() noexcept;
/// "'write after end' (sluice.stream 1)": an error as a result's detail shows it.
[[nodiscard]] std::string describe(std::error_code ec);

enum class ev : std::uint8_t {
  write_false,     ///< the kit's write() returned false (index: the write; length: buffered)
  write_cb,        ///< a write's callback (index: the write; inside: during the write() call)
  end_called,      ///< the kit called end()
  end_cb,          ///< end()'s callback
  destroy_called,  ///< the kit called destroy() (length: readable_length(); flag: eof_pushed())
  drain,           ///< 'drain' (length: writable_length() then)
  prefinish,       ///< 'prefinish' (the final hook completed: 'finish' is due)
  finish,          ///< 'finish'
  data,            ///< 'data' (index: the chunk; length: its size; flag: the consumer was paused)
  end,             ///< 'end'
  error,           ///< 'error'
  close,           ///< 'close'
};

[[nodiscard]] std::string_view name_of(ev e) noexcept;

struct event {
  ev kind;
  std::size_t index = 0;
  std::error_code ec{};
  std::size_t length = 0;
  bool flag = false;
};

/// The ordered list of what happened.
class recorder {
 public:
  void add(event e) { events_.push_back(e); }
  [[nodiscard]] const std::vector<event>& events() const noexcept { return events_; }
  [[nodiscard]] std::size_t count(ev k) const noexcept;
  /// Position of the first / last event of kind k, or npos.
  [[nodiscard]] std::size_t first(ev k) const noexcept;
  [[nodiscard]] std::size_t last(ev k) const noexcept;
  /// The first event of kind `k` at or after position `from`, or nullptr.
  [[nodiscard]] const event* find(ev k, std::size_t from = 0) const noexcept;
  /// The last events, e.g. "end() finish end close": what a failure's detail shows.
  [[nodiscard]] std::string story(std::size_t max = 16) const;
  /// The first 'error' as "the stream failed: ...", or empty.
  [[nodiscard]] std::string unexpected_error() const;

  static constexpr std::size_t npos = static_cast<std::size_t>(-1);
  bool in_write = false;  // the kit is inside a write() call

 private:
  std::vector<event> events_;
};

/// The sample items' generator of a stream with a writable side (nothing for a readable).
template <class S>
struct items_of {
  using type = std::nullptr_t;
};
template <class S>
requires checkable_writable<S>
struct items_of<S> {
  using type = std::function<input_t<S>(std::size_t)>;
};

/// Everything a scenario needs from the options, one struct for every kind of stream.
template <class S>
struct settings {
  std::function<std::shared_ptr<S>(sluice::loop&)> factory;
  std::function<std::shared_ptr<S>(sluice::loop&)> failing_factory;
  std::function<void(S&)> provoke_error;
  loop_kind kind = loop_kind::manual;
  limits lim{};
  std::size_t items = 0;
  bool ends = true;
  std::size_t read_limit = 0;
  std::size_t burst = 1;
  // Writable side only: the sample items.
  typename items_of<S>::type item{};
};

/// What a scenario may do when an event comes (set by the scenario, called each time).
struct actions {
  std::function<void()> on_drain;
  std::function<void()> on_finish;
  std::function<void()> on_end;
  std::function<void()> on_close;
};

template <class S>
class session {
 public:
  /// Makes the stream with `make` (the factory, or the failing factory) and starts recording.
  session(const settings<S>& st, const std::function<std::shared_ptr<S>(sluice::loop&)>& make)
      : st_(st),
        drv_(st.kind, st.lim),
        rec_(std::make_shared<recorder>()),
        acts_(std::make_shared<actions>()) {
    try {
      s_ = make(drv_.get());
    } catch (const std::exception& e) {
      problem_ = std::string("the factory threw: ") + e.what();
      return;
    }
    if (!s_) {
      problem_ = "the factory returned no stream";
      return;
    }
    listen();
  }
  ~session() { close_down(); }
  session(const session&) = delete;
  session& operator=(const session&) = delete;

  /// Empty if the stream was made, else why not.
  [[nodiscard]] const std::string& problem() const noexcept { return problem_; }
  [[nodiscard]] S& s() const noexcept { return *s_; }
  [[nodiscard]] S* ptr() const noexcept { return s_.get(); }
  [[nodiscard]] recorder& rec() const noexcept { return *rec_; }
  [[nodiscard]] const std::shared_ptr<recorder>& rec_ptr() const noexcept { return rec_; }
  [[nodiscard]] actions& on() const noexcept { return *acts_; }
  [[nodiscard]] driver& drv() noexcept { return drv_; }
  [[nodiscard]] const settings<S>& opts() const noexcept { return st_; }

  /// Runs the loop until `done()`; returns how the wait ended.
  wait_status run_until(const std::function<bool()>& done) { return drv_.run_until(done); }
  wait_status settle() { return drv_.settle(); }
  /// Runs until an event of kind `k` was seen `n` times.
  wait_status wait_for(ev k, std::size_t n = 1) {
    return run_until([this, k, n] { return rec_->count(k) >= n; });
  }
  [[nodiscard]] std::string why(wait_status w) const { return drv_.describe(w); }

  /// Whether a 'close' is owed after destroy (the stream emits it).
  [[nodiscard]] bool closes() const { return static_cast<bool>(s_->emits_close()); }

  void end() {
    rec_->add({ev::end_called});
    s_->end(callback{});
  }
  void end_with_callback() {
    rec_->add({ev::end_called});
    s_->end([rec = rec_](std::error_code ec) { rec->add({ev::end_cb, 0, ec}); });
  }
  void destroy(std::error_code ec = {}) {
    event e{ev::destroy_called};
    if constexpr (checkable_readable<S>) {
      e.length = s_->readable_length();
      e.flag = static_cast<bool>(s_->eof_pushed());
    }
    rec_->add(e);
    s_->destroy(ec);
  }

  /// Writes sample item `i` (with a recording callback if `with_callback`); returns write()'s
  /// result, recording a false one.
  bool write(std::size_t i, bool with_callback) requires checkable_writable<S> {
    callback cb;
    if (with_callback) {
      cb = [rec = rec_, i](std::error_code ec) {
        rec->add({ev::write_cb, i, ec, 0, rec->in_write});
      };
    }
    rec_->in_write = true;
    bool ok = false;
    try {
      ok = static_cast<bool>(s_->write(st_.item(i), cb));
    } catch (...) {
      rec_->in_write = false;
      throw;
    }
    rec_->in_write = false;
    if (!ok) rec_->add({ev::write_false, i, {}, s_->writable_length()});
    return ok;
  }

 private:
  void listen() {
    S* s = s_.get();
    auto rec = rec_;
    auto acts = acts_;
    s->on_close([rec, acts] {
      rec->add({ev::close});
      if (acts->on_close) acts->on_close();
    });
    s->on_error([rec](std::error_code ec) { rec->add({ev::error, 0, ec}); });
    if constexpr (checkable_writable<S>) {
      s->on_drain([rec, acts, s] {
        rec->add({ev::drain, 0, {}, s->writable_length()});
        if (acts->on_drain) acts->on_drain();
      });
      s->on_prefinish([rec] { rec->add({ev::prefinish}); });
      s->on_finish([rec, acts] {
        rec->add({ev::finish});
        if (acts->on_finish) acts->on_finish();
      });
    }
    if constexpr (checkable_readable<S>) {
      s->on_end([rec, acts] {
        rec->add({ev::end});
        if (acts->on_end) acts->on_end();
      });
    }
  }

  // Leaves nothing running: a stream still open is destroyed and the loop run until idle, so
  // that pool work (a file being closed) ends before the loop goes.
  void close_down() {
    if (!s_) return;
    try {
      *acts_ = actions{};
      if (rec_->count(ev::close) == 0 && rec_->count(ev::destroy_called) == 0) s_->destroy({});
      (void)drv_.settle();
    } catch (...) {
      // (A throwing stream was reported by its scenario; cleaning up goes on.)
    }
    s_.reset();
  }

  const settings<S>& st_;
  driver drv_;
  std::shared_ptr<recorder> rec_;
  std::shared_ptr<actions> acts_;
  std::shared_ptr<S> s_;
  std::string problem_;
};

// ---- The readable side's consumer -----------------------------------------------------------

template <class S>
struct consumer {
  std::vector<output_t<S>> chunks;  // everything received, in order (when kept)
  std::size_t count = 0;            // chunks received
  std::size_t total = 0;            // their size (highWaterMark units)
  std::size_t max_chunk = 0;        // the largest
  bool paused = false;              // the kit paused the stream and has not resumed it
  std::size_t pause_every = 0;      // pause after every n-th chunk (0: never)
  bool keep = true;                 // keep the chunks
  std::function<void()> on_first;   // called at the first chunk
};

/// Consumes the readable side with a 'data' listener: flowing at once, or paused from the
/// start (`paused`: nothing is read until resume()).
template <class S>
std::shared_ptr<consumer<S>> consume(session<S>& ss, bool paused, std::size_t pause_every = 0) {
  auto c = std::make_shared<consumer<S>>();
  c->pause_every = pause_every;
  S* s = ss.ptr();
  auto rec = ss.rec_ptr();
  const std::size_t limit = ss.opts().read_limit;
  // (The listener holds the consumer; the stream holds the listener; neither holds the stream.)
  s->on_data([c, s, rec, limit](output_t<S>&& x) {
    const std::size_t size = chunk_traits<output_t<S>>::size(x);
    rec->add({ev::data, c->count, {}, size, c->paused});
    ++c->count;
    c->total += size;
    c->max_chunk = std::max(c->max_chunk, size);
    if (c->keep && c->total <= limit) c->chunks.push_back(std::move(x));
    if (c->count == 1 && c->on_first) c->on_first();
    // Enough read (an endless source): stop the flow for good.
    const bool enough = c->total >= limit;
    if ((enough || (c->pause_every != 0 && c->count % c->pause_every == 0)) && !c->paused) {
      c->paused = true;
      s->pause();
    }
  });
  if (paused) {
    c->paused = true;
    s->pause();
  }
  return c;
}

template <class S>
void resume(session<S>& ss, consumer<S>& c) {
  c.paused = false;
  ss.s().resume();
}

/// Feeds `n` sample items into the writable side as pipe() would: writes until write() returns
/// false, goes on at 'drain', and ends the stream after the last.
template <class S>
void feed(session<S>& ss, std::size_t n) {
  struct state {
    std::size_t next = 0;
    bool ended = false;
  };
  auto st = std::make_shared<state>();
  S* s = ss.ptr();
  auto item = ss.opts().item;
  auto rec = ss.rec_ptr();
  auto pump = [st, s, item, rec, n] {
    while (st->next < n) {
      if (!s->write(item(st->next++), callback{})) return;
    }
    if (!st->ended) {
      st->ended = true;
      rec->add({ev::end_called});
      s->end(callback{});
    }
  };
  ss.on().on_drain = pump;
  pump();
}

// ---- Judging --------------------------------------------------------------------------------

[[nodiscard]] inline result pass(rule r, std::string detail = {}) {
  return {r, outcome::passed, std::move(detail)};
}
[[nodiscard]] inline result fail(rule r, std::string detail) {
  return {r, outcome::failed, std::move(detail)};
}

/// Collects a rule's problems; the first few make the detail.
class verdict {
 public:
  explicit verdict(rule r) : rule_(r) {}
  void problem(std::string p) { problems_.push_back(std::move(p)); }
  void note(std::string n) { note_ = std::move(n); }
  [[nodiscard]] bool clean() const noexcept { return problems_.empty(); }
  /// The result; a failure's detail lists the problems and the story of events.
  [[nodiscard]] result done(const recorder& rec) const;

 private:
  rule rule_;
  std::vector<std::string> problems_;
  std::string note_;
};

/// Checks that every write callback recorded for indexes [0, n) ran exactly once, in order,
/// outside write(), and (with `healthy`) with success; otherwise that none succeeded after one
/// failed. Adds the problems to `v`.
void judge_write_callbacks(const recorder& rec, std::size_t n, bool healthy, verdict& v);

/// 'close' exactly as often as the stream emits it (once, or never with emit_close off), and
/// nothing but write callbacks after it.
void judge_close(const recorder& rec, bool closes, verdict& v);

/// After the kit's destroy(): no 'drain'; no 'finish' unless 'prefinish' came before (the final
/// hook was done); no 'data' beyond what was buffered then; no 'end' unless the end was already
/// pushed; no 'error' unless `error_allowed`.
void judge_after_destroy(const recorder& rec, bool error_allowed, verdict& v);

/// Items per scenario: options.items, or enough to fill `hwm` twice over.
template <class S>
std::size_t item_count(const settings<S>& st, std::size_t hwm) {
  if (st.items != 0) return st.items;
  std::size_t n = 0;
  std::size_t total = 0;
  while (n < 100000 && total <= 2 * hwm) total += chunk_traits<input_t<S>>::size(st.item(n++));
  return n + 2;
}

}  // namespace sluice::testing::detail
