// The conformance kit's record of events and the judgements every kind of stream shares.
#include <algorithm>
#include <string>
#include <system_error>
#include <vector>

#include "sluice/testing/detail/session.hpp"

namespace sluice::testing::detail {

namespace {

class kit_category final : public std::error_category {
 public:
  [[nodiscard]] const char* name() const noexcept override { return "sluice.testing"; }
  [[nodiscard]] std::string message(int) const override {
    return "error injected by the conformance kit";
  }
};

std::string label(const event& e) {
  const std::string i = std::to_string(e.index);
  switch (e.kind) {
    case ev::write_false:
      return "write#" + i + "=false";
    case ev::write_cb:
      return e.ec ? "cb#" + i + "(" + e.ec.message() + ")" : "cb#" + i;
    case ev::end_called:
      return "end()";
    case ev::end_cb:
      return e.ec ? "end-cb(" + e.ec.message() + ")" : "end-cb";
    case ev::destroy_called:
      return "destroy()";
    case ev::data:
      return "data#" + i;
    case ev::error:
      return "error(" + e.ec.message() + ")";
    default:
      return std::string(name_of(e.kind));
  }
}

// A run of events of one kind with consecutive indexes (and the same error) prints as one:
// "cb#0..#99".
bool continues(const event& prev, const event& e) {
  return prev.kind == e.kind && (e.kind == ev::write_cb || e.kind == ev::data) && prev.ec == e.ec &&
         e.index == prev.index + 1;
}

}  // namespace

std::error_code injected_error() noexcept {
  static const kit_category cat;
  return {1, cat};
}

std::string describe(std::error_code ec) {
  std::string s = "'";
  s += ec.message();
  s += "' (";
  s += ec.category().name();
  s += ' ';
  s += std::to_string(ec.value());
  s += ')';
  return s;
}

std::string_view name_of(ev e) noexcept {
  switch (e) {
    case ev::write_false:
      return "write=false";
    case ev::write_cb:
      return "write callback";
    case ev::end_called:
      return "end()";
    case ev::end_cb:
      return "end() callback";
    case ev::destroy_called:
      return "destroy()";
    case ev::drain:
      return "drain";
    case ev::prefinish:
      return "prefinish";
    case ev::finish:
      return "finish";
    case ev::data:
      return "data";
    case ev::end:
      return "end";
    case ev::error:
      return "error";
    case ev::close:
      return "close";
  }
  return "?";
}

std::size_t recorder::count(ev k) const noexcept {
  return static_cast<std::size_t>(
      std::count_if(events_.begin(), events_.end(), [k](const event& e) { return e.kind == k; }));
}

std::size_t recorder::first(ev k) const noexcept {
  for (std::size_t i = 0; i < events_.size(); ++i)
    if (events_[i].kind == k) return i;
  return npos;
}

std::size_t recorder::last(ev k) const noexcept {
  for (std::size_t i = events_.size(); i-- > 0;)
    if (events_[i].kind == k) return i;
  return npos;
}

const event* recorder::find(ev k, std::size_t from) const noexcept {
  for (std::size_t i = from; i < events_.size(); ++i)
    if (events_[i].kind == k) return &events_[i];
  return nullptr;
}

std::string recorder::story(std::size_t max) const {
  // Group runs first, then keep the last `max` groups.
  std::vector<std::string> groups;
  for (std::size_t i = 0; i < events_.size();) {
    std::size_t j = i;
    while (j + 1 < events_.size() && continues(events_[j], events_[j + 1])) ++j;
    std::string g = label(events_[j]);
    // A run: "cb#3(error)" becomes "cb#1..#3(error)".
    if (j > i) {
      std::string from = "#";
      from += std::to_string(events_[i].index);
      from += "..";
      g.insert(g.find('#'), from);
    }
    groups.push_back(std::move(g));
    i = j + 1;
  }
  std::string out;
  const std::size_t from = groups.size() > max ? groups.size() - max : 0;
  if (from != 0) out = "... ";
  for (std::size_t i = from; i < groups.size(); ++i) {
    if (i != from) out += ' ';
    out += groups[i];
  }
  return out.empty() ? "(no events)" : out;
}

std::string recorder::unexpected_error() const {
  const event* e = find(ev::error);
  if (e == nullptr) return {};
  std::string s = "the stream failed: " + describe(e->ec);
  if (e->ec == errc::multiple_callback)
    s += " (a hook called its callback twice, or after the stream was done with it)";
  else if (e->ec == errc::push_after_eof)
    s += " (the source pushed after push_eof())";
  else if (e->ec == errc::method_not_implemented)
    s += " (a hook the stream needs is not implemented)";
  return s;
}

result verdict::done(const recorder& rec) const {
  if (problems_.empty()) return pass(rule_, note_);
  std::string d;
  for (std::size_t i = 0; i < problems_.size() && i < 4; ++i) {
    if (i != 0) d += "; ";
    d += problems_[i];
  }
  if (problems_.size() > 4) d += "; and " + std::to_string(problems_.size() - 4) + " more";
  d += "\n       events: " + rec.story();
  return fail(rule_, std::move(d));
}

void judge_write_callbacks(const recorder& rec, std::size_t n, bool healthy, verdict& v) {
  std::vector<std::size_t> times(n, 0);
  std::size_t prev = recorder::npos;
  bool order_reported = false;
  bool sync_reported = false;
  bool error_reported = false;
  const event* failed = nullptr;
  for (const event& e : rec.events()) {
    if (e.kind != ev::write_cb || e.index >= n) continue;
    ++times[e.index];
    if (e.flag && !sync_reported) {
      sync_reported = true;
      v.problem("write #" + std::to_string(e.index) + "'s callback ran inside write()");
    }
    if (prev != recorder::npos && e.index < prev && !order_reported) {
      order_reported = true;
      v.problem("write #" + std::to_string(e.index) + "'s callback ran after write #" +
                std::to_string(prev) + "'s");
    }
    prev = std::max(prev == recorder::npos ? 0 : prev, e.index);
    if (e.ec) {
      if (healthy && !error_reported) {
        error_reported = true;
        v.problem("write #" + std::to_string(e.index) + "'s callback got " + describe(e.ec));
      }
      if (failed == nullptr) failed = &e;
    } else if (failed != nullptr && !healthy && !error_reported) {
      error_reported = true;
      v.problem("write #" + std::to_string(e.index) + "'s callback succeeded after write #" +
                std::to_string(failed->index) + "'s failed");
    }
  }
  std::vector<std::size_t> missing;
  for (std::size_t i = 0; i < n; ++i) {
    if (times[i] == 0) missing.push_back(i);
    if (times[i] > 1) {
      v.problem("write #" + std::to_string(i) + "'s callback ran " + std::to_string(times[i]) +
                " times");
      break;
    }
  }
  if (!missing.empty()) {
    std::string p = std::to_string(missing.size()) + " of " + std::to_string(n) +
                    " write callbacks never ran (write #" + std::to_string(missing.front());
    if (missing.size() > 1) p += " .. #" + std::to_string(missing.back());
    v.problem(p + ")");
  }
}

void judge_close(const recorder& rec, bool closes, verdict& v) {
  const std::size_t c = rec.count(ev::close);
  if (closes && c == 0) v.problem("no 'close'");
  if (closes && c > 1) v.problem("'close' came " + std::to_string(c) + " times");
  if (!closes && c != 0) v.problem("'close' came, though emits_close() is false");
  const std::size_t at = rec.first(ev::close);
  if (at == recorder::npos) return;
  const auto& es = rec.events();
  for (std::size_t i = at + 1; i < es.size(); ++i) {
    const ev k = es[i].kind;
    if (k == ev::drain || k == ev::finish || k == ev::data || k == ev::end || k == ev::error) {
      std::string p = "'";
      p += name_of(k);
      p += "' after 'close'";
      v.problem(std::move(p));
      return;
    }
  }
}

void judge_after_destroy(const recorder& rec, bool error_allowed, verdict& v) {
  const std::size_t at = rec.first(ev::destroy_called);
  if (at == recorder::npos) return;
  const auto& es = rec.events();
  const std::size_t buffered = es[at].length;
  const bool eof = es[at].flag;
  // Node delivers a 'finish' already due: the final hook had completed ('prefinish').
  bool finish_due = false;
  for (std::size_t i = 0; i < at; ++i) finish_due = finish_due || es[i].kind == ev::prefinish;
  std::size_t after = 0;
  bool data_reported = false;
  for (std::size_t i = at + 1; i < es.size(); ++i) {
    const event& e = es[i];
    switch (e.kind) {
      case ev::finish:
        if (!finish_due)
          v.problem("'finish' after destroy(), before which the final hook had not completed");
        break;
      case ev::drain:
        v.problem("'drain' after destroy()");
        break;
      case ev::data:
        after += e.length;
        if (after > buffered && !data_reported) {
          data_reported = true;
          v.problem("'data' after destroy(): " + std::to_string(after) + " delivered, only " +
                    std::to_string(buffered) + " were buffered when destroy() was called");
        }
        break;
      case ev::end:
        if (!eof) v.problem("'end' after destroy(), which came before the end was pushed");
        break;
      case ev::error:
        if (!error_allowed)
          v.problem("'error' " + describe(e.ec) + " after a destroy() without an error");
        break;
      default:
        break;
    }
  }
}

}  // namespace sluice::testing::detail
