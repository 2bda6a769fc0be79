// `sluice run --monitor`: the live per-stage view (live_view.hpp).
#include "live_view.hpp"

#include <algorithm>
#include <array>
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>
#include <chrono>
#include <cmath>
#include <utility>

#include "report.hpp"
#include "sluice/core/duplex.hpp"
#include "sluice/db/row.hpp"

namespace sluice::cli {

namespace {

double seconds_of(loop::duration d) { return std::chrono::duration<double>(d).count(); }

// A stage's backpressured time, the episode under way included: the larger of its sides' (a
// stage is held on one side at a time in a chain: its input refused, or its output full).
double stage_seconds(const stream_stats& st, loop::time_point at) {
  return seconds_of(std::max(backpressured_until(st.writable_side, at),
                             backpressured_until(st.readable_side, at)));
}

bool input_full(const stream_stats& st) {
  return st.has_writable &&
         (st.writable_side.active ||
          (st.writable_high_water_mark > 0 && st.writable_length >= st.writable_high_water_mark));
}
bool output_full(const stream_stats& st) {
  return st.has_readable &&
         (st.readable_side.active ||
          (st.readable_high_water_mark > 0 && st.readable_length >= st.readable_high_water_mark));
}

template <class S>
bool try_watch(monitor& m, const std::shared_ptr<stream>& s, std::string& name) {
  if (auto typed = std::dynamic_pointer_cast<S>(s)) {
    m.watch(typed, std::move(name));
    return true;
  }
  return false;
}

// "12.3k/s", "512/s" (items) or "1.50 MiB/s" (bytes).
std::string rate_text(double per_second, bool items) {
  if (!items) return format_bytes(static_cast<std::uint64_t>(std::llround(per_second))) + "/s";
  std::array<char, 32> b{};
  if (per_second < 1000) {
    std::snprintf(b.data(), b.size(), "%.0f rec/s", per_second);
  } else if (per_second < 1e6) {
    std::snprintf(b.data(), b.size(), "%.1fk rec/s", per_second / 1e3);
  } else {
    std::snprintf(b.data(), b.size(), "%.2fM rec/s", per_second / 1e6);
  }
  return b.data();
}
std::string size_text(std::size_t n, bool items) {
  return items ? std::to_string(n) + " rec" : format_bytes(n);
}

}  // namespace

bool watch_stage(monitor& m, const std::shared_ptr<stream>& s, std::string name) {
  using db::record;
  // Both sides first (a transform is a duplex), then the one-sided streams.
  return try_watch<duplex<buffer, buffer>>(m, s, name) ||
         try_watch<duplex<buffer, record>>(m, s, name) ||
         try_watch<duplex<record, buffer>>(m, s, name) ||
         try_watch<duplex<record, record>>(m, s, name) || try_watch<readable<buffer>>(m, s, name) ||
         try_watch<writable<buffer>>(m, s, name) || try_watch<readable<record>>(m, s, name) ||
         try_watch<writable<record>>(m, s, name);
}

std::optional<std::size_t> find_bottleneck(const std::vector<unsigned>& held, unsigned samples) {
  if (samples == 0 || held.empty()) return std::nullopt;
  // The most held; on a tie the later stage (it holds back the one before it).
  std::size_t best = 0;
  for (std::size_t i = 1; i < held.size(); ++i)
    if (held[i] >= held[best]) best = i;
  if (2 * held[best] < samples || held[best] == 0) return std::nullopt;
  return best;
}

std::vector<std::string> format_live_table(const std::vector<live_row>& rows, double seconds,
                                           std::size_t width) {
  constexpr std::size_t cols = 6;
  const std::array<std::string, cols> head{"#", "stage", "in/s", "out/s", "buffered", "bp"};
  std::vector<std::array<std::string, cols>> cells;
  for (std::size_t i = 0; i < rows.size(); ++i) {
    const live_row& r = rows[i];
    const bool buffered_items = r.has_input ? r.in_items : r.out_items;
    std::string bar;
    if (r.high_water_mark > 0) {
      const double fill =
          std::min(1.0, static_cast<double>(r.buffered) / static_cast<double>(r.high_water_mark));
      const auto n = static_cast<std::size_t>(std::lround(fill * 10));
      bar = "[" + std::string(n, '#') + std::string(10 - n, '.') + "] ";
    }
    std::array<char, 16> bp{};
    std::snprintf(bp.data(), bp.size(), "%3.0f%%", 100 * std::clamp(r.backpressured, 0.0, 1.0));
    cells.push_back({std::to_string(i), r.name,
                     r.has_input ? rate_text(r.in_per_second, r.in_items) : "-",
                     r.has_output ? rate_text(r.out_per_second, r.out_items) : "-",
                     bar + size_text(r.buffered, buffered_items) + " / " +
                         size_text(r.high_water_mark, buffered_items),
                     bp.data()});
  }
  std::array<std::size_t, cols> w{};
  for (std::size_t k = 0; k < cols; ++k) {
    w[k] = head[k].size();
    for (const auto& c : cells) w[k] = std::max(w[k], c[k].size());
  }
  auto line = [&](const std::array<std::string, cols>& c, bool bottleneck) {
    std::string out;
    for (std::size_t k = 0; k < cols; ++k)
      out += (k ? "  " : " ") + (k == 1 || k == 4 ? pad_right(c[k], w[k]) : pad_left(c[k], w[k]));
    if (bottleneck) out += "  <- bottleneck";
    while (!out.empty() && out.back() == ' ') out.pop_back();
    if (out.size() > width) out.resize(width);
    return out;
  };
  std::vector<std::string> lines;
  lines.push_back("sluice run --monitor  " + format_duration(seconds));
  if (lines.back().size() > width) lines.back().resize(width);
  lines.push_back(line(head, false));
  for (std::size_t i = 0; i < rows.size(); ++i) lines.push_back(line(cells[i], rows[i].bottleneck));
  return lines;
}

std::string format_live_json(const std::vector<live_row>& rows, double seconds) {
  namespace js = boost::json;
  js::array stages;
  js::value bottleneck = nullptr;
  for (std::size_t i = 0; i < rows.size(); ++i) {
    const live_row& r = rows[i];
    js::object o;
    o["index"] = i;
    o["name"] = r.name;
    if (r.has_input) o["in_unit"] = r.in_items ? "records" : "bytes";
    if (r.has_output) o["out_unit"] = r.out_items ? "records" : "bytes";
    // (Whole units a second; the share to a thousandth.)
    if (r.has_input) o["in_per_second"] = std::llround(r.in_per_second);
    if (r.has_output) o["out_per_second"] = std::llround(r.out_per_second);
    o["buffered"] = r.buffered;
    o["high_water_mark"] = r.high_water_mark;
    o["backpressured"] = std::round(r.backpressured * 1000) / 1000;
    o["bottleneck"] = r.bottleneck;
    if (r.bottleneck) bottleneck = i;
    stages.push_back(std::move(o));
  }
  js::object root;
  root["seconds"] = std::round(seconds * 1000) / 1000;
  root["bottleneck"] = bottleneck;
  root["stages"] = std::move(stages);
  return js::serialize(root) + "\n";
}

live_view::live_view(sluice::loop& l, std::shared_ptr<monitor> m, std::FILE* out, bool terminal,
                     loop::duration interval, loop::duration sample_every)
    : loop_(l),
      mon_(std::move(m)),
      out_(out),
      terminal_(terminal),
      interval_(interval),
      sample_every_(sample_every) {}

live_view::~live_view() { timer_.cancel(); }

void live_view::start() {
  if (running_) return;
  running_ = true;
  started_ = interval_start_ = loop_.now();
  timer_ = loop_.start_timer(sample_every_, [this] { on_sample(); });
}

void live_view::on_sample() {
  if (!running_) return;
  const monitor_snapshot snap = mon_->snapshot();
  held_.resize(snap.streams.size(), 0);
  for (std::size_t i = 0; i < snap.streams.size(); ++i)
    if (input_full(snap.streams[i]) && !output_full(snap.streams[i])) ++held_[i];
  ++samples_;
  if (loop_.now() - interval_start_ >= interval_) draw();
  timer_ = loop_.start_timer(sample_every_, [this] { on_sample(); });
}

void live_view::draw() {
  const loop::time_point now = loop_.now();
  const monitor_snapshot snap = mon_->snapshot();
  const double span = std::max(seconds_of(now - interval_start_), 1e-9);
  bp_at_start_.resize(snap.streams.size(), 0);
  held_.resize(snap.streams.size(), 0);
  const std::optional<std::size_t> bottleneck = find_bottleneck(held_, samples_);
  std::vector<live_row> rows;
  for (std::size_t i = 0; i < snap.streams.size(); ++i) {
    const stream_stats& st = snap.streams[i];
    live_row r;
    r.name = st.name;
    r.in_items = st.writable_object_mode;
    r.out_items = st.readable_object_mode;
    r.has_input = st.has_writable;
    r.has_output = st.has_readable;
    r.in_per_second = st.in_per_second;
    r.out_per_second = st.out_per_second;
    r.buffered = st.has_writable ? st.writable_length : st.readable_length;
    r.high_water_mark = st.has_writable ? st.writable_high_water_mark : st.readable_high_water_mark;
    const double bp = stage_seconds(st, snap.at);
    r.backpressured = (bp - bp_at_start_[i]) / span;
    bp_at_start_[i] = bp;
    r.bottleneck = bottleneck == i;
    rows.push_back(std::move(r));
  }
  const double elapsed = seconds_of(now - started_);
  if (terminal_) {
    const std::size_t width = terminal_width(out_);
    const auto lines = format_live_table(rows, elapsed, width > 1 ? width - 1 : 1);
    std::string frame;
    // Back to the first line of the previous frame, then each line over the old one.
    if (lines_drawn_ > 0) frame += "\033[" + std::to_string(lines_drawn_) + "A";
    for (const std::string& l : lines) frame += "\r\033[2K" + l + "\n";
    std::fputs(frame.c_str(), out_);
    lines_drawn_ = lines.size();
  } else {
    std::fputs(format_live_json(rows, elapsed).c_str(), out_);
  }
  std::fflush(out_);
  std::fill(held_.begin(), held_.end(), 0);
  samples_ = 0;
  interval_start_ = now;
}

void live_view::stop() {
  if (!running_) return;
  running_ = false;
  timer_.cancel();
  // The last interval (or, for a run shorter than one, the only one) stays on the screen.
  if (samples_ > 0 || lines_drawn_ == 0) draw();
}

}  // namespace sluice::cli
