// log_writer: records formatted as JSON lines (Boost.JSON), text or pretty lines, written in
// batches to the destination and the errors writable.
#include "sluice/sinks/log_writer.hpp"

#include <unistd.h>

#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/string.hpp>

#include <charconv>
#include <cmath>
#include <cstdio>
#include <system_error>

#include "sluice/io/stdio.hpp"

namespace sluice {

namespace {

constexpr std::array<std::string_view, log_level_count> level_names{"trace", "debug", "info",
                                                                    "warn",  "error", "fatal"};
// Text columns: five wide, so messages line up.
constexpr std::array<std::string_view, log_level_count> level_columns{"TRACE", "DEBUG", "INFO ",
                                                                      "WARN ", "ERROR", "FATAL"};
// ANSI colours of the level column in pretty lines.
constexpr std::array<std::string_view, log_level_count> level_colours{
    "\x1b[90m", "\x1b[36m", "\x1b[32m", "\x1b[33m", "\x1b[31m", "\x1b[1;35m"};
constexpr std::string_view colour_reset = "\x1b[0m";
constexpr std::string_view colour_key = "\x1b[2m";

std::size_t index_of(log_level l) noexcept {
  const auto i = static_cast<std::size_t>(l);
  return i < log_level_count ? i : log_level_count - 1;
}

std::chrono::system_clock::time_point time_of(const log_record& r) {
  return r.time == std::chrono::system_clock::time_point{} ? std::chrono::system_clock::now()
                                                           : r.time;
}

void append_double(std::string& out, double d) {
  if (std::isnan(d)) {
    out += "NaN";
  } else if (std::isinf(d)) {
    out += d > 0 ? "inf" : "-inf";
  } else {
    char buf[32];
    const auto r = std::to_chars(buf, buf + sizeof buf, d);
    out.append(buf, r.ptr);
  }
}

// Text quoting: a string is written bare when it is non-empty and holds no ASCII control
// character, space, '"', '=' or backslash (UTF-8 passes through); otherwise it is quoted, with
// backslash escapes for '"', backslash, newline, CR and tab, and \xHH for other controls.
bool needs_quotes(std::string_view s) noexcept {
  if (s.empty()) return true;
  for (const char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (c <= 0x20 || c == 0x7f || c == '"' || c == '=' || c == '\\') return true;
  }
  return false;
}

void append_escaped(std::string& out, std::string_view s) {
  for (const char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (c < 0x20 || c == 0x7f) {
          char buf[5];
          std::snprintf(buf, sizeof buf, "\\x%02x", c);
          out += buf;
        } else {
          out += ch;
        }
    }
  }
}

void append_text_string(std::string& out, std::string_view s) {
  if (!needs_quotes(s)) {
    out += s;
    return;
  }
  out += '"';
  append_escaped(out, s);
  out += '"';
}

// The message: bare unless it holds a control character or a quote or backslash (a space is
// fine), so that a record is always one line.
void append_text_message(std::string& out, std::string_view s) {
  bool plain = true;
  for (const char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (c < 0x20 || c == 0x7f || c == '"' || c == '\\') plain = false;
  }
  if (plain) {
    out += s;
    return;
  }
  out += '"';
  append_escaped(out, s);
  out += '"';
}

void append_text_value(std::string& out, const log_value& v) {
  std::visit(
      [&out](const auto& x) {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, std::nullptr_t>) {
          out += "null";
        } else if constexpr (std::is_same_v<T, bool>) {
          out += x ? "true" : "false";
        } else if constexpr (std::is_same_v<T, std::int64_t>) {
          out += std::to_string(x);
        } else if constexpr (std::is_same_v<T, double>) {
          append_double(out, x);
        } else {
          append_text_string(out, x);
        }
      },
      v);
}

std::string format_text(const log_record& r, bool pretty, bool colour) {
  std::string out = format_log_time(time_of(r));
  out += ' ';
  const std::size_t li = index_of(r.level);
  if (colour) out += level_colours[li];
  out += level_columns[li];
  if (colour) out += colour_reset;
  out += ' ';
  append_text_message(out, r.message);
  for (const auto& [key, value] : r.fields) {
    if (pretty) {
      out += "\n    ";
      if (colour) out += colour_key;
      append_text_string(out, key);
      out += ':';
      if (colour) out += colour_reset;
      out += ' ';
    } else {
      out += ' ';
      append_text_string(out, key);
      out += '=';
    }
    append_text_value(out, value);
  }
  out += '\n';
  return out;
}

boost::json::value json_of(const log_value& v) {
  return std::visit(
      [](const auto& x) -> boost::json::value {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, std::nullptr_t>) {
          return nullptr;
        } else if constexpr (std::is_same_v<T, double>) {
          if (std::isfinite(x)) return x;
          std::string s;
          append_double(s, x);
          return boost::json::string(s);
        } else if constexpr (std::is_same_v<T, std::string>) {
          return boost::json::string(x);
        } else {
          return x;
        }
      },
      v);
}

std::string format_json(const log_record& r) {
  boost::json::object o;
  o["time"] = format_log_time(time_of(r));
  o["level"] = level_names[index_of(r.level)];
  o["msg"] = r.message;
  for (const auto& [key, value] : r.fields) {
    if (key == "time" || key == "level" || key == "msg")
      o["_" + key] = json_of(value);
    else
      o[key] = json_of(value);
  }
  std::string out = boost::json::serialize(o);
  out += '\n';
  return out;
}

}  // namespace

std::string_view to_string(log_level level) noexcept { return level_names[index_of(level)]; }

std::string format_log_time(std::chrono::system_clock::time_point t) {
  using namespace std::chrono;
  const auto ms = floor<milliseconds>(t);
  const auto day = floor<days>(ms);
  const year_month_day ymd{day};
  const hh_mm_ss hms{ms - day};
  char buf[40];
  std::snprintf(buf, sizeof buf, "%04d-%02u-%02uT%02d:%02d:%02d.%03dZ", int(ymd.year()),
                unsigned(ymd.month()), unsigned(ymd.day()), int(hms.hours().count()),
                int(hms.minutes().count()), int(hms.seconds().count()),
                int(hms.subseconds().count()));
  return buf;
}

std::string format_log_line(const log_record& record, log_format format, bool colour) {
  switch (format) {
    case log_format::text:
      return format_text(record, false, false);
    case log_format::pretty:
      return format_text(record, true, colour);
    case log_format::json_lines:
      break;
  }
  return format_json(record);
}

// ---- log_writer ---------------------------------------------------------------------------------

// One batch of records on its way to one or two destinations: the write callback runs when the
// last destination's callback came back.
struct log_writer::batch {
  write_callback cb;
  unsigned remaining = 0;
  std::error_code error;
  std::array<std::uint64_t, log_level_count> per_level{};
};

namespace {

bool colours_for(log_format f, log_colour c, bool terminal) {
  if (f != log_format::pretty) return false;
  return c == log_colour::always || (c == log_colour::automatic && terminal);
}

writable_options writer_options(const log_writer_options& o) {
  return {.high_water_mark = o.high_water_mark, .name = o.name.empty() ? "log_writer" : o.name};
}

}  // namespace

log_writer::log_writer(sluice::loop& l, std::shared_ptr<writable<buffer>> destination,
                       log_writer_options opts)
    : writable<log_record>(l, writer_options(opts)), dest_(std::move(destination)) {
  if (!dest_) throw std::system_error(make_error_code(errc::invalid_argument), "log_writer");
  if (opts.errors.has_value()) {
    errors_ = std::move(*opts.errors);
  } else {
    errors_ = make_stderr(l);
    opts.errors_terminal = ::isatty(2) == 1;
  }
  if (errors_ == dest_) errors_ = nullptr;
  opts.errors.reset();
  opts_ = std::move(opts);
  colour_dest_ = colours_for(opts_.format, opts_.colour, opts_.terminal);
  colour_errors_ = colours_for(opts_.format, opts_.colour, opts_.errors_terminal);
  watch(dest_);
  if (errors_) watch(errors_);
}

log_writer::~log_writer() { unwatch(); }

log_writer_stats log_writer::stats() const {
  log_writer_stats s = stats_;
  if (const auto* file = dynamic_cast<const rotating_file_writer*>(dest_.get()))
    s.rotations = file->rotations();
  return s;
}

std::shared_ptr<log_writer> log_writer::self() {
  return std::dynamic_pointer_cast<log_writer>(shared_from_this());
}

// A destination failing on its own (not through a write of ours) fails the log_writer. The
// listener holds a plain pointer: the destructor removes it, so it never outlives us.
void log_writer::watch(const std::shared_ptr<writable<buffer>>& target) {
  listeners_.emplace_back(target, target->on_error([this, t = target.get()](std::error_code ec) {
    target_failed(*t, ec);
  }));
}

void log_writer::unwatch() noexcept {
  for (auto& [target, id] : listeners_) target->off(id);
  listeners_.clear();
}

void log_writer::target_failed(writable<buffer>& target, std::error_code ec) {
  if (destroyed()) return;
  std::string context = target.error_context();
  if (context.empty()) context = "write '" + target.name() + "'";
  fail(ec, std::move(context));
}

void log_writer::do_write(log_record&& record, write_callback cb) {
  write_records(&record, 1, std::move(cb));
}

bool log_writer::do_writev(std::vector<log_record>& records, write_callback cb) {
  write_records(records.data(), records.size(), std::move(cb));
  return true;
}

void log_writer::write_records(log_record* records, std::size_t n, write_callback cb) {
  std::vector<buffer> to_dest;
  std::vector<buffer> to_errors;
  auto b = std::make_shared<batch>();
  b->cb = std::move(cb);
  std::array<std::uint64_t, log_level_count> per_level_dest{};
  for (std::size_t i = 0; i < n; ++i) {
    const log_record& r = records[i];
    if (r.level < opts_.min_level) {
      ++stats_.dropped;
      continue;
    }
    const bool to_err = errors_ && r.level >= opts_.error_level;
    std::string line = format_log_line(r, opts_.format, to_err ? colour_errors_ : colour_dest_);
    if (to_err) {
      to_errors.emplace_back(std::move(line));
      ++b->per_level[index_of(r.level)];
    } else {
      to_dest.emplace_back(std::move(line));
      ++per_level_dest[index_of(r.level)];
    }
  }
  if (to_dest.empty() && to_errors.empty()) {
    b->cb();
    return;
  }
  b->remaining = unsigned(!to_dest.empty()) + unsigned(!to_errors.empty());
  // Each destination gets its part corked, as one batch; the last line's callback says the
  // destination took them all (writes complete in order, and a failure fails the rest too).
  auto send = [this, &b](writable<buffer>& target, std::vector<buffer>& lines,
                         const std::array<std::uint64_t, log_level_count>& levels, bool errs) {
    std::uint64_t bytes = 0;
    for (const auto& l : lines) bytes += l.size();
    target.cork();
    for (std::size_t i = 0; i + 1 < lines.size(); ++i) target.write(std::move(lines[i]));
    target.write(std::move(lines.back()), [self = self(), b, &target, bytes, levels, errs,
                                           count = lines.size()](std::error_code ec) {
      if (ec) {
        if (!b->error) b->error = ec;
        self->target_failed(target, ec);
      } else {
        self->stats_.bytes_written += bytes;
        for (std::size_t i = 0; i < log_level_count; ++i) self->stats_.written[i] += levels[i];
        if (errs) self->stats_.routed_to_errors += count;
      }
      if (--b->remaining == 0) b->cb(b->error);
    });
    target.uncork();
  };
  // Keep the targets alive while their callbacks are pending (they hold `target` by reference).
  if (!to_dest.empty()) send(*dest_, to_dest, per_level_dest, false);
  if (!to_errors.empty()) send(*errors_, to_errors, b->per_level, true);
}

void log_writer::do_final(callback cb) {
  auto remaining = std::make_shared<unsigned>(errors_ ? 2 : 1);
  auto first_error = std::make_shared<std::error_code>();
  auto done = [self = self(), remaining, first_error, cb = std::move(cb)](std::error_code ec) {
    if (ec && !*first_error) *first_error = ec;
    if (--*remaining == 0) cb(*first_error);
  };
  dest_->end(done);
  if (errors_) errors_->end(done);
}

void log_writer::do_destroy(std::error_code ec, callback cb) {
  unwatch();
  dest_->destroy();
  if (errors_) errors_->destroy();
  cb(ec);
}

std::shared_ptr<log_writer> make_log_writer(sluice::loop& l,
                                            std::shared_ptr<writable<buffer>> destination,
                                            log_writer_options opts) {
  return std::make_shared<log_writer>(l, std::move(destination), std::move(opts));
}

std::shared_ptr<log_writer> make_console_log_writer(sluice::loop& l, log_writer_options opts) {
  opts.terminal = ::isatty(1) == 1;
  return make_log_writer(l, make_stdout(l), std::move(opts));
}

}  // namespace sluice
