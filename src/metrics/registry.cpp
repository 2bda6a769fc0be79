// The metrics registry: Prometheus text exposition and JSON (sluice/metrics/registry.hpp).
#include "sluice/metrics/registry.hpp"

#include <algorithm>
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>
#include <charconv>
#include <chrono>
#include <cmath>
#include <functional>
#include <stdexcept>
#include <utility>

namespace sluice::metrics {

namespace {

double seconds(loop::duration d) { return std::chrono::duration<double>(d).count(); }

double backpressured_seconds(const side_backpressure& s, loop::time_point at) {
  return seconds(backpressured_until(s, at));
}

void append_number(std::string& out, double v) {
  if (std::isnan(v)) {
    out += "NaN";
  } else if (std::isinf(v)) {
    out += v > 0 ? "+Inf" : "-Inf";
  } else {
    char buf[32];
    const auto r = std::to_chars(buf, buf + sizeof buf, v);
    out.append(buf, r.ptr);
  }
}
void append_number(std::string& out, std::uint64_t v) {
  char buf[24];
  const auto r = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, r.ptr);
}

// One stage as the families see it.
struct stage {
  std::string labels;  // pipeline="...",stage="0",stage_name="..."
  const stream_stats* st;
};

// A side of a stage, for the families labelled by side.
struct side_view {
  const char* name;  // "writable", "readable"
  bool present;
  std::size_t buffered;
  std::size_t high_water_mark;
  const side_backpressure* bp;
};
std::array<side_view, 2> sides_of(const stream_stats& st) {
  return {side_view{"writable", st.has_writable, st.writable_length, st.writable_high_water_mark,
                    &st.writable_side},
          side_view{"readable", st.has_readable, st.readable_length, st.readable_high_water_mark,
                    &st.readable_side}};
}

// Builds the exposition: a family's HELP and TYPE lines, then its samples.
class exposition {
 public:
  explicit exposition(loop::time_point at) : at_(at) {}

  void family(const char* name, const char* type, const char* help) {
    out_ += "# HELP ";
    out_ += name;
    out_ += ' ';
    out_ += help;  // (our own texts: no backslash or newline to escape)
    out_ += "\n# TYPE ";
    out_ += name;
    out_ += ' ';
    out_ += type;
    out_ += '\n';
  }
  template <class V>
  void sample(const char* name, const char* suffix, const std::string& labels,
              const std::string& extra, V value) {
    out_ += name;
    out_ += suffix;
    out_ += '{';
    out_ += labels;
    out_ += extra;
    out_ += "} ";
    append_number(out_, value);
    out_ += '\n';
  }
  [[nodiscard]] loop::time_point at() const noexcept { return at_; }
  std::string take() { return std::move(out_); }

 private:
  loop::time_point at_;
  std::string out_;
};

std::string side_label(const side_view& s) { return std::string(",side=\"") + s.name + "\""; }

}  // namespace

std::string escape_label_value(const std::string& value) {
  std::string out;
  out.reserve(value.size());
  for (const char c : value) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

void registry::add(std::string name, std::shared_ptr<monitor> m) {
  if (name.empty() || m == nullptr)
    throw std::invalid_argument("metrics::registry::add: a pipeline needs a name and a monitor");
  if (std::any_of(entries_.begin(), entries_.end(), [&](const entry& e) { return e.name == name; }))
    throw std::invalid_argument("metrics::registry::add: pipeline '" + name +
                                "' is already registered");
  entries_.push_back({std::move(name), std::move(m)});
}

bool registry::remove(const std::string& name) {
  return std::erase_if(entries_, [&](const entry& e) { return e.name == name; }) > 0;
}

std::vector<std::string> registry::pipelines() const {
  std::vector<std::string> names;
  names.reserve(entries_.size());
  for (const auto& e : entries_) names.push_back(e.name);
  return names;
}

std::string registry::prometheus_text() const {
  // Every monitor read once, then written out family by family (the format wants a family's
  // samples together).
  std::vector<monitor_snapshot> snaps;
  snaps.reserve(entries_.size());
  for (const auto& e : entries_) snaps.push_back(e.mon->snapshot());
  std::vector<stage> stages;
  for (std::size_t p = 0; p < entries_.size(); ++p) {
    const std::string pipeline = "pipeline=\"" + escape_label_value(entries_[p].name) + "\"";
    for (std::size_t i = 0; i < snaps[p].streams.size(); ++i) {
      const stream_stats& st = snaps[p].streams[i];
      stages.push_back({pipeline + ",stage=\"" + std::to_string(i) + "\",stage_name=\"" +
                            escape_label_value(st.name) + "\"",
                        &st});
    }
  }
  exposition x(entries_.empty() ? loop::time_point{} : snaps.front().at);

  // Per stage, unlabelled by side.
  using stage_value = std::function<void(const stage&)>;
  auto each = [&](const char* name, const char* type, const char* help, const stage_value& f) {
    x.family(name, type, help);
    for (const stage& s : stages) f(s);
  };
  each("sluice_stage_open", "gauge", "1 while the stage is open, 0 once it closed.",
       [&](const stage& s) {
         x.sample("sluice_stage_open", "", s.labels, "", std::uint64_t{s.st->alive ? 1u : 0u});
       });
  // The stream's own counters, each on the side it counts.
  struct counter_family {
    const char* name;
    const char* help;
    bool (*has)(const stream_stats&);
    std::uint64_t (*value)(const stream_counters&);
  };
  static constexpr counter_family counters[] = {
      {"sluice_stage_items_in_total",
       "Chunks (items in object mode) accepted by the stage's writable side.",
       [](const stream_stats& st) { return st.has_writable; },
       [](const stream_counters& c) { return c.chunks_in; }},
      {"sluice_stage_items_out_total",
       "Chunks (items in object mode) delivered by the stage's readable side.",
       [](const stream_stats& st) { return st.has_readable; },
       [](const stream_counters& c) { return c.chunks_out; }},
      {"sluice_stage_bytes_in_total",
       "Bytes accepted by the stage's writable side (a side in byte mode only).",
       [](const stream_stats& st) { return st.has_writable && !st.writable_object_mode; },
       [](const stream_counters& c) { return c.bytes_in; }},
      {"sluice_stage_bytes_out_total",
       "Bytes delivered by the stage's readable side (a side in byte mode only).",
       [](const stream_stats& st) { return st.has_readable && !st.readable_object_mode; },
       [](const stream_counters& c) { return c.bytes_out; }},
      {"sluice_stage_drains_total", "'drain' events emitted by the stage.",
       [](const stream_stats& st) { return st.has_writable; },
       [](const stream_counters& c) { return c.drains; }},
      {"sluice_stage_overflowed_total",
       "Writes refused by the stage's overflow policy (dropped or failed).",
       [](const stream_stats& st) { return st.has_writable; },
       [](const stream_counters& c) { return c.overflowed; }},
      {"sluice_stage_items_skipped_total",
       "Items the stage dropped under its skip policy (supervision).",
       [](const stream_stats& st) { return st.has_writable && st.has_readable; },
       [](const stream_counters& c) { return c.items_skipped; }},
      {"sluice_stage_restarts_total",
       "Times the stage was made again after a failure (supervision).",
       [](const stream_stats&) { return true; },
       [](const stream_counters& c) { return c.restarts; }},
  };
  for (const counter_family& f : counters)
    each(f.name, "counter", f.help, [&](const stage& s) {
      if (f.has(*s.st)) x.sample(f.name, "", s.labels, "", f.value(s.st->counters));
    });
  each("sluice_stage_stalls_total", "counter",
       "Times the stage had data waiting and made no progress for the monitor's stall_after.",
       [&](const stage& s) {
         x.sample("sluice_stage_stalls_total", "", s.labels, "", s.st->stalls);
       });

  // Per stage and side.
  using side_value = std::function<void(const stage&, const side_view&)>;
  auto each_side = [&](const char* name, const char* type, const char* help, const side_value& f) {
    x.family(name, type, help);
    for (const stage& s : stages)
      for (const side_view& v : sides_of(*s.st))
        if (v.present) f(s, v);
  };
  each_side(
      "sluice_stage_buffered", "gauge", "Buffered on the side now: bytes, or items in object mode.",
      [&](const stage& s, const side_view& v) {
        x.sample("sluice_stage_buffered", "", s.labels, side_label(v), std::uint64_t{v.buffered});
      });
  each_side("sluice_stage_high_water_mark", "gauge",
            "The side's highWaterMark: bytes, or items in object mode.",
            [&](const stage& s, const side_view& v) {
              x.sample("sluice_stage_high_water_mark", "", s.labels, side_label(v),
                       std::uint64_t{v.high_water_mark});
            });
  each_side("sluice_stage_backpressure_seconds_total", "counter",
            "Time the side spent backpressured (write() or push() returned false until 'drain' "
            "or the next read), the episode under way included.",
            [&](const stage& s, const side_view& v) {
              x.sample("sluice_stage_backpressure_seconds_total", "", s.labels, side_label(v),
                       backpressured_seconds(*v.bp, x.at()));
            });
  each_side("sluice_stage_backpressure_episodes_total", "counter",
            "Backpressure episodes started on the side.", [&](const stage& s, const side_view& v) {
              x.sample("sluice_stage_backpressure_episodes_total", "", s.labels, side_label(v),
                       v.bp->episodes);
            });
  each_side("sluice_stage_backpressure_timeouts_total", "counter",
            "Episodes that outlasted the monitor's backpressure_timeout.",
            [&](const stage& s, const side_view& v) {
              x.sample("sluice_stage_backpressure_timeouts_total", "", s.labels, side_label(v),
                       v.bp->timeouts);
            });
  each_side("sluice_stage_backpressure_episode_seconds", "histogram",
            "Lengths of the side's finished backpressure episodes.",
            [&](const stage& s, const side_view& v) {
              const char* name = "sluice_stage_backpressure_episode_seconds";
              const std::string side = side_label(v);
              std::uint64_t cumulative = 0;
              for (std::size_t i = 0; i < episode_bucket_bounds.size(); ++i) {
                cumulative += v.bp->histogram[i];
                std::string le = side + ",le=\"";
                append_number(le, episode_bucket_bounds[i]);
                le += '"';
                x.sample(name, "_bucket", s.labels, le, cumulative);
              }
              cumulative += v.bp->histogram.back();
              x.sample(name, "_bucket", s.labels, side + ",le=\"+Inf\"", cumulative);
              x.sample(name, "_sum", s.labels, side, seconds(v.bp->total));
              x.sample(name, "_count", s.labels, side, cumulative);
            });
  return x.take();
}

std::string registry::json() const {
  namespace js = boost::json;
  js::array pipelines;
  for (const auto& e : entries_) {
    const monitor_snapshot snap = e.mon->snapshot();
    js::array stages;
    for (std::size_t i = 0; i < snap.streams.size(); ++i) {
      const stream_stats& st = snap.streams[i];
      js::object o;
      o["index"] = i;
      o["name"] = st.name;
      o["open"] = st.alive;
      o["object_mode"] = st.object_mode;
      o["items_in"] = st.counters.chunks_in;
      o["items_out"] = st.counters.chunks_out;
      o["bytes_in"] = st.counters.bytes_in;
      o["bytes_out"] = st.counters.bytes_out;
      o["in_per_second"] = st.in_per_second;
      o["out_per_second"] = st.out_per_second;
      o["drains"] = st.counters.drains;
      o["overflowed"] = st.counters.overflowed;
      o["items_skipped"] = st.counters.items_skipped;
      o["restarts"] = st.counters.restarts;
      o["stalled"] = st.stalled;
      o["stalls"] = st.stalls;
      for (const side_view& v : sides_of(st)) {
        if (!v.present) continue;
        js::object side;
        side["buffered"] = v.buffered;
        side["high_water_mark"] = v.high_water_mark;
        side["backpressured"] = v.bp->active;
        side["backpressure_seconds"] = backpressured_seconds(*v.bp, snap.at);
        side["episodes"] = v.bp->episodes;
        side["longest_episode_seconds"] = seconds(v.bp->longest);
        side["timeouts"] = v.bp->timeouts;
        o[v.name] = std::move(side);
      }
      stages.push_back(std::move(o));
    }
    js::object p;
    p["name"] = e.name;
    p["stages"] = std::move(stages);
    pipelines.push_back(std::move(p));
  }
  js::object root;
  root["pipelines"] = std::move(pipelines);
  return js::serialize(root);
}

}  // namespace sluice::metrics
