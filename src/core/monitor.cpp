// The backpressure monitor (sluice/core/monitor.hpp).
#include "sluice/core/monitor.hpp"

#include <algorithm>
#include <cassert>
#include <utility>

namespace sluice {

namespace {
constexpr std::size_t side_index(stream_side side) noexcept {
  return side == stream_side::writable ? 0 : 1;
}
constexpr stream_side side_at(std::size_t i) noexcept {
  return i == 0 ? stream_side::writable : stream_side::readable;
}
double per_second(std::uint64_t from, std::uint64_t to, loop::duration over) {
  if (over <= loop::duration::zero() || to < from) return 0;
  return static_cast<double>(to - from) / std::chrono::duration<double>(over).count();
}
}  // namespace

// One watched stream. It is the stream's observer itself, so an episode needs no lookup.
struct monitor::watched final : stream_observer {
  struct side_state {
    side_backpressure bp;
    bool timed_out = false;  // this episode was reported by on_backpressure_timeout
  };

  monitor* owner = nullptr;
  std::weak_ptr<stream> ref;
  const stream* identity = nullptr;  // compared, never dereferenced once ref has expired
  std::string name;
  probe_fn probe = nullptr;
  listener_id close_listener{};
  side_state sides[2];
  bool closed = false;  // 'close' seen, or the stream is gone: no more ticks needed for it
  bool dead = false;    // unwatched while on_tick was walking the entries
  // Stall detection: the last progress (out counter moved, or nothing was waiting).
  std::uint64_t progress_mark = 0;
  loop::time_point progress_at{};
  bool stalled = false;
  std::uint64_t stalls = 0;
  // The stream's counters and shape when last seen (at a tick or its close), for once it is
  // gone.
  stream_counters last_counters{};
  monitor::probe last_probe{};
  // The last samples, oldest first from `head` (a ring of owner->ring_size_ slots).
  std::vector<sample> ring;
  std::size_t head = 0;
  std::size_t count = 0;

  void backpressure_started(stream& /*s*/, stream_side side) override {
    owner->started(*this, side);
  }
  void backpressure_ended(stream& /*s*/, stream_side side, loop::duration lasted) override {
    owner->ended(*this, side, lasted);
  }
  void push_sample(const sample& s) {
    const std::size_t n = ring.size();
    if (count < n) {
      ring[(head + count) % n] = s;
      ++count;
    } else {
      ring[head] = s;
      head = (head + 1) % n;
    }
  }
  [[nodiscard]] const sample& oldest() const { return ring[head]; }
  [[nodiscard]] bool open() const noexcept { return !closed && !dead; }
};

monitor::monitor(token, sluice::loop& l, const monitor_options& o)
    : loop_(&l),
      opts_(o),
      ring_size_(1 + static_cast<std::size_t>((o.window + o.tick - loop::duration(1)) /
                                              std::max(o.tick, loop::duration(1)))) {
  if (opts_.tick <= loop::duration::zero()) opts_.tick = std::chrono::milliseconds(100);
}

std::shared_ptr<monitor> monitor::create(sluice::loop& l, monitor_options o) {
  return std::make_shared<monitor>(token{}, l, o);
}

monitor::~monitor() {
  timer_.cancel();
  for (auto& w : entries_) detach(*w);
}

void monitor::detach(watched& w) {
  if (auto s = w.ref.lock()) {
    if (s->observer() == &w) s->set_observer(nullptr);
    if (w.close_listener) s->off(w.close_listener);
  }
  w.close_listener = {};
}

void monitor::add(const std::shared_ptr<stream>& s, std::string name, probe_fn p) {
  assert(s != nullptr);
  if (name.empty()) name = s->name();
  for (auto& w : entries_) {
    if (w->identity == s.get() && !w->dead && !w->ref.expired()) {
      w->name = std::move(name);
      return;
    }
  }
  auto w = std::make_unique<watched>();
  w->owner = this;
  w->ref = s;
  w->identity = s.get();
  w->name = std::move(name);
  w->probe = p;
  w->closed = s->closed();
  w->last_counters = s->counters();
  w->last_probe = p(*s);
  w->ring.resize(ring_size_);
  const loop::time_point now = loop_->event_time();
  const sample first = measure(*s, p(*s), now);
  w->push_sample(first);
  w->progress_mark = first.out;
  w->progress_at = now;
  watched* raw = w.get();
  w->close_listener = s->on_close([weak = weak_from_this(), raw] {
    if (auto m = weak.lock()) m->closed(*raw);
  });
  s->set_observer(raw);
  entries_.push_back(std::move(w));
  arm();
}

bool monitor::unwatch(const stream& s) {
  const auto it = std::find_if(entries_.begin(), entries_.end(), [&](const auto& w) {
    return w->identity == &s && !w->dead && !w->ref.expired();
  });
  if (it == entries_.end()) return false;
  detach(**it);
  if (ticking_depth_ > 0)
    (*it)->dead = true;  // on_tick erases it once its walk is over
  else
    entries_.erase(it);
  if (std::none_of(entries_.begin(), entries_.end(), [](const auto& w) { return w->open(); }))
    timer_.cancel();
  return true;
}

void monitor::started(watched& w, stream_side side) {
  auto& st = w.sides[side_index(side)];
  if (st.bp.active) return;
  st.bp.active = true;
  st.bp.since = loop_->event_time();
  st.timed_out = false;
  const std::uint64_t episode = ++st.bp.episodes;
  // Episodes come every few items in a busy pipeline: with no listener, just the bookkeeping
  // (no reference counting, no weak_ptr lock).
  if (start_signal_.empty()) return;
  const auto keep = shared_from_this();  // a listener may drop the last reference to us
  if (auto s = w.ref.lock()) start_signal_.for_each([&](auto& h, bool) { h(*s, side, episode); });
}

void monitor::ended(watched& w, stream_side side, loop::duration lasted) {
  // An episode that began before watch() ends unseen: every reported start has one end.
  if (!w.sides[side_index(side)].bp.active) return;
  if (end_signal_.empty()) {
    end_episode(w, side, lasted);  // no listener to call: nothing can drop us meanwhile
    return;
  }
  const auto keep = shared_from_this();  // a listener may drop the last reference to us
  end_episode(w, side, lasted);
}

void monitor::end_episode(watched& w, stream_side side, loop::duration lasted) {
  auto& bp = w.sides[side_index(side)].bp;
  bp.active = false;
  bp.total += lasted;
  bp.longest = std::max(bp.longest, lasted);
  const double seconds = std::chrono::duration<double>(lasted).count();
  const auto bucket =
      std::lower_bound(episode_bucket_bounds.begin(), episode_bucket_bounds.end(), seconds) -
      episode_bucket_bounds.begin();
  ++bp.histogram[static_cast<std::size_t>(bucket)];
  if (end_signal_.empty()) return;
  if (auto s = w.ref.lock()) end_signal_.for_each([&](auto& h, bool) { h(*s, side, lasted); });
}

void monitor::closed(watched& w) {
  if (w.closed) return;
  w.closed = true;
  if (auto s = w.ref.lock()) {
    w.last_counters = s->counters();
    w.last_probe = w.probe(*s);
  }
  const loop::time_point now = loop_->event_time();
  for (std::size_t i = 0; i < 2; ++i)
    if (w.sides[i].bp.active) end_episode(w, side_at(i), now - w.sides[i].bp.since);
  w.stalled = false;
  if (ticking_depth_ == 0 &&
      std::none_of(entries_.begin(), entries_.end(), [](const auto& e) { return e->open(); }))
    timer_.cancel();
}

void monitor::arm() {
  if (timer_.pending()) return;
  timer_ = loop_->start_timer(opts_.tick, [weak = weak_from_this()] {
    if (auto m = weak.lock()) m->on_tick();
  });
}

void monitor::on_tick() {
  const loop::time_point now = loop_->event_time();
  ++ticking_depth_;
  // By index: a listener may watch more streams (appending) while we walk.
  for (std::size_t i = 0; i < entries_.size(); ++i)
    if (entries_[i]->open()) check(*entries_[i], now);
  --ticking_depth_;
  std::erase_if(entries_, [](const auto& w) { return w->dead; });
  if (std::any_of(entries_.begin(), entries_.end(), [](const auto& w) { return w->open(); })) arm();
}

void monitor::check(watched& w, loop::time_point now) {
  const std::shared_ptr<stream> s = w.ref.lock();
  if (!s) {  // freed without our seeing 'close' (emit_close off): its episodes end unreported
    w.closed = true;
    for (auto& side : w.sides) side.bp.active = false;
    return;
  }
  const probe p = w.probe(*s);
  if (s->closed() || p.done) {  // (done: finished without closing, as with auto_destroy off)
    closed(w);
    return;
  }
  // end() (or destroy) during an episode: no 'drain' will come, so the episode is over.
  if (w.sides[0].bp.active && !p.need_drain)
    end_episode(w, stream_side::writable, now - w.sides[0].bp.since);
  for (std::size_t i = 0; i < 2; ++i) {
    auto& st = w.sides[i];
    if (!st.bp.active || st.timed_out || opts_.backpressure_timeout == loop::duration::zero())
      continue;
    const loop::duration lasted = now - st.bp.since;
    if (lasted < opts_.backpressure_timeout) continue;
    st.timed_out = true;
    ++st.bp.timeouts;
    timeout_signal_.for_each([&](auto& h, bool) { h(*s, side_at(i), lasted); });
    if (w.dead || w.closed) return;  // a listener unwatched or closed it
  }
  const sample now_sample = measure(*s, p, now);
  w.push_sample(now_sample);
  w.last_counters = s->counters();
  w.last_probe = p;
  const bool waiting = p.writable_length > 0 || p.readable_length > 0;
  if (!waiting || now_sample.out != w.progress_mark) {
    w.progress_mark = now_sample.out;
    w.progress_at = now;
    w.stalled = false;
  } else if (!w.stalled && opts_.stall_after > loop::duration::zero() &&
             now - w.progress_at >= opts_.stall_after) {
    w.stalled = true;
    ++w.stalls;
    stalled_signal_.for_each([&](auto& h, bool) { h(*s); });
  }
}

monitor::sample monitor::measure(const stream& s, const probe& p, loop::time_point now) {
  const stream_counters& c = s.counters();
  sample r;
  r.at = now;
  // Each side in its own unit (a transform of records into bytes counts records in, bytes out).
  const std::uint64_t in = p.writable_object_mode ? c.chunks_in : c.bytes_in;
  const std::uint64_t out = p.readable_object_mode ? c.chunks_out : c.bytes_out;
  if (p.has_writable) {
    r.in = in;
    r.out = p.has_readable ? out : in - std::min<std::uint64_t>(in, p.writable_length);
  } else {  // readable only: what was pushed is what went out plus what is buffered
    r.out = out;
    r.in = out + p.readable_length;
  }
  return r;
}

stream_stats monitor::stats_of(const watched& w, loop::time_point now) const {
  stream_stats st;
  st.name = w.name;
  st.writable_side = w.sides[0].bp;
  st.readable_side = w.sides[1].bp;
  st.stalled = w.stalled;
  st.stalls = w.stalls;
  const std::shared_ptr<stream> s = w.ref.lock();
  st.alive = s && !w.closed && !s->closed();
  st.counters = s ? s->counters() : w.last_counters;
  // A stream that is gone: its shape as last seen, nothing buffered.
  const probe p = s ? w.probe(*s) : w.last_probe;
  st.has_writable = p.has_writable;
  st.has_readable = p.has_readable;
  st.object_mode = p.object_mode;
  st.writable_object_mode = p.writable_object_mode;
  st.readable_object_mode = p.readable_object_mode;
  st.writable_high_water_mark = p.writable_high_water_mark;
  st.readable_high_water_mark = p.readable_high_water_mark;
  if (!s) return st;
  st.writable_length = p.writable_length;
  st.readable_length = p.readable_length;
  const sample cur = measure(*s, p, now);
  const sample& old = w.oldest();
  st.in_per_second = per_second(old.in, cur.in, cur.at - old.at);
  st.out_per_second = per_second(old.out, cur.out, cur.at - old.at);
  return st;
}

monitor_snapshot monitor::snapshot() const {
  monitor_snapshot snap;
  snap.at = loop_->event_time();
  snap.streams.reserve(entries_.size());
  for (const auto& w : entries_) {
    if (w->dead) continue;
    stream_stats st = stats_of(*w, snap.at);
    for (const side_backpressure* bp : {&st.writable_side, &st.readable_side}) {
      snap.episodes += bp->episodes;
      snap.timeouts += bp->timeouts;
      snap.backpressured_time += bp->total;
    }
    snap.stalls += st.stalls;
    if (st.writable_side.active || st.readable_side.active) ++snap.in_backpressure;
    snap.streams.push_back(std::move(st));
  }
  return snap;
}

listener_id monitor::on_backpressure_start(
    std::function<void(stream&, stream_side, std::uint64_t)> fn) {
  const listener_id id{++listener_seq_};
  start_signal_.connect(id, std::move(fn));
  return id;
}

listener_id monitor::on_backpressure_end(
    std::function<void(stream&, stream_side, loop::duration)> fn) {
  const listener_id id{++listener_seq_};
  end_signal_.connect(id, std::move(fn));
  return id;
}

listener_id monitor::on_backpressure_timeout(
    std::function<void(stream&, stream_side, loop::duration)> fn) {
  const listener_id id{++listener_seq_};
  timeout_signal_.connect(id, std::move(fn));
  return id;
}

listener_id monitor::on_stalled(std::function<void(stream&)> fn) {
  const listener_id id{++listener_seq_};
  stalled_signal_.connect(id, std::move(fn));
  return id;
}

bool monitor::off(listener_id id) {
  return start_signal_.disconnect(id) || end_signal_.disconnect(id) ||
         timeout_signal_.disconnect(id) || stalled_signal_.disconnect(id);
}

}  // namespace sluice
