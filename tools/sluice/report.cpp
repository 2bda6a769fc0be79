// tools/sluice/report.cpp: progress bar and --stats table.
#include "report.hpp"

#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstdlib>

namespace sluice::cli {
namespace {

std::string printf_string(const char* fmt, double v, const char* unit) {
  std::array<char, 64> buf{};
  std::snprintf(buf.data(), buf.size(), fmt, v, unit);
  return buf.data();
}

double to_seconds(loop::duration d) { return std::chrono::duration<double>(d).count(); }

}  // namespace

std::string pad_left(std::string s, std::size_t w) {
  if (s.size() < w) s.insert(0, w - s.size(), ' ');
  return s;
}

std::string pad_right(std::string s, std::size_t w) {
  if (s.size() < w) s.append(w - s.size(), ' ');
  return s;
}

std::string format_bytes(std::uint64_t n) {
  if (n < 1024) return std::to_string(n) + " B";
  static constexpr std::array<const char*, 5> units{"KiB", "MiB", "GiB", "TiB", "PiB"};
  double v = static_cast<double>(n) / 1024.0;
  std::size_t u = 0;
  while (v >= 1024.0 && u + 1 < units.size()) {
    v /= 1024.0;
    ++u;
  }
  // Three significant digits; rounding may carry into 1024.
  const char* fmt = v < 9.995 ? "%.2f %s" : v < 99.95 ? "%.1f %s" : "%.0f %s";
  return printf_string(fmt, v, units[u]);
}

std::string format_duration(double seconds) {
  if (!(seconds >= 0) || seconds > 1e9) return "--:--";
  const auto total = static_cast<std::uint64_t>(std::llround(seconds));
  const std::uint64_t h = total / 3600, m = (total / 60) % 60, s = total % 60;
  std::array<char, 32> buf{};
  if (h != 0)
    std::snprintf(buf.data(), buf.size(), "%llu:%02llu:%02llu", static_cast<unsigned long long>(h),
                  static_cast<unsigned long long>(m), static_cast<unsigned long long>(s));
  else
    std::snprintf(buf.data(), buf.size(), "%llu:%02llu", static_cast<unsigned long long>(m),
                  static_cast<unsigned long long>(s));
  return buf.data();
}

std::string format_rate(std::uint64_t bytes, double seconds) {
  if (!(seconds > 0)) return "-";
  return format_bytes(static_cast<std::uint64_t>(static_cast<double>(bytes) / seconds)) + "/s";
}

std::string format_progress(const progress_sample& s, std::size_t width) {
  const std::string rate = format_rate(s.bytes, s.seconds);
  // The parts, most important first; whatever does not fit in `width` is left out, from the
  // end, so that the line never wraps (a wrapped line is not erased by the next "\r").
  std::vector<std::string> parts;
  double fraction = 0;
  if (s.total) {
    const std::uint64_t total = *s.total;
    fraction =
        total == 0 ? 1.0 : std::min(1.0, static_cast<double>(s.bytes) / static_cast<double>(total));
    parts.push_back(pad_left(std::to_string(static_cast<int>(fraction * 100)), 3) + "%");
    parts.push_back(format_bytes(s.bytes) + " / " + format_bytes(total));
    parts.push_back(rate);
    if (s.seconds > 0 && s.bytes > 0 && s.bytes < total) {
      const double rate_bps = static_cast<double>(s.bytes) / s.seconds;
      parts.push_back("ETA " + format_duration(static_cast<double>(total - s.bytes) / rate_bps));
    }
  } else {
    parts.push_back(format_bytes(s.bytes));
    parts.push_back(rate);
  }
  std::string tail;
  std::size_t fitted = 0;
  for (const auto& p : parts) {
    const std::size_t need = tail.size() + (tail.empty() ? 0 : 2) + p.size();
    if (need > width) break;
    tail += (tail.empty() ? "" : "  ") + p;
    ++fitted;
  }
  if (fitted == 0) return parts.front().substr(0, width);
  // The bar takes what is left of the width, between 10 and 30 cells, once all the numbers fit.
  if (!s.total || fitted < parts.size()) return tail;
  const std::size_t room = width > tail.size() + 4 ? width - tail.size() - 4 : 0;
  const std::size_t cells = std::min<std::size_t>(30, room);
  if (cells < 10) return tail;
  const auto filled = static_cast<std::size_t>(fraction * static_cast<double>(cells));
  return "[" + std::string(filled, '#') + std::string(cells - filled, '.') + "]  " + tail;
}

progress_meter::progress_meter(sluice::loop& l, sampler sample, std::FILE* out,
                               loop::duration interval, width_fn width)
    : loop_(l),
      sample_(std::move(sample)),
      out_(out),
      interval_(interval),
      width_(std::move(width)) {}

progress_meter::~progress_meter() { stop(); }

void progress_meter::start() {
  if (running_) return;
  running_ = true;
  timer_ = loop_.start_timer(interval_, [this] { tick(); });
}

std::size_t terminal_width(std::FILE* f) {
  winsize ws{};
  if (::ioctl(::fileno(f), TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) return ws.ws_col;
  if (const char* cols = std::getenv("COLUMNS")) {
    const long n = std::strtol(cols, nullptr, 10);
    if (n > 0) return static_cast<std::size_t>(n);
  }
  return 80;
}

void progress_meter::tick() {
  if (!running_) return;
  // The width is asked for at every redraw, so the line follows a resized window. One column
  // is left free: a line that fills the last column makes some terminals wrap at once.
  const std::size_t width = width_ ? width_() : terminal_width(out_);
  const std::string line = format_progress(sample_(), width > 1 ? width - 1 : 1);
  // "\r" + erase-to-end-of-line: a shorter line leaves no debris behind.
  std::fprintf(out_, "\r%s\033[K", line.c_str());
  std::fflush(out_);
  drawn_ = true;
  timer_ = loop_.start_timer(interval_, [this] { tick(); });
}

void progress_meter::stop() {
  if (!running_) return;
  running_ = false;
  timer_.cancel();
  if (drawn_) {
    std::fputs("\r\033[K", out_);
    std::fflush(out_);
  }
}

std::string format_stats(const std::vector<stage_stats>& stages, double seconds) {
  const std::array<std::string, 10> head{"#",         "stage",          "bytes in", "bytes out",
                                         "chunks in", "chunks out",     "bp",       "bp time",
                                         "drains",    "peak buf in/out"};
  std::vector<std::array<std::string, 10>> rows;
  for (std::size_t i = 0; i < stages.size(); ++i) {
    const stage_stats& s = stages[i];
    const stream_counters& c = s.counters;
    const double bp = to_seconds(c.write_backpressured_time + c.push_backpressured_time);
    std::array<char, 32> bp_time{};
    std::snprintf(bp_time.data(), bp_time.size(), "%.3f s", bp);
    rows.push_back({std::to_string(i), s.name, s.has_input ? format_bytes(c.bytes_in) : "-",
                    s.has_output ? format_bytes(c.bytes_out) : "-",
                    s.has_input ? std::to_string(c.chunks_in) : "-",
                    s.has_output ? std::to_string(c.chunks_out) : "-",
                    std::to_string(c.write_backpressure + c.push_backpressure), bp_time.data(),
                    std::to_string(c.drains),
                    (s.has_input ? format_bytes(c.peak_writable_length) : "-") + " / " +
                        (s.has_output ? format_bytes(c.peak_readable_length) : "-")});
  }
  std::array<std::size_t, 10> w{};
  for (std::size_t k = 0; k < w.size(); ++k) {
    w[k] = head[k].size();
    for (const auto& r : rows) w[k] = std::max(w[k], r[k].size());
  }
  auto line = [&](const std::array<std::string, 10>& r) {
    std::string out;
    for (std::size_t k = 0; k < r.size(); ++k) {
      // Names and the last column align left, numbers right.
      const bool left = k == 1 || k + 1 == r.size();
      out += (k ? "  " : "") + (left ? pad_right(r[k], w[k]) : pad_left(r[k], w[k]));
    }
    while (!out.empty() && out.back() == ' ') out.pop_back();
    return out + "\n";
  };
  std::string out = "sluice: stats, " + printf_string("%.3f %s", seconds, "s") + " wall time\n";
  out += line(head);
  for (const auto& r : rows) out += line(r);
  out += "bp: times write() or push() returned false; bp time: how long the stage waited\n";
  return out;
}

}  // namespace sluice::cli
