// The conformance kit's rules (ids and descriptions) and how a report prints.
#include "sluice/testing/report.hpp"

#include <algorithm>
#include <ostream>
#include <sstream>

namespace sluice::testing {

namespace {

struct rule_text {
  rule r;
  std::string_view id;
  std::string_view description;
};

// One line per rule, in the enum's order.
constexpr rule_text rule_table[] = {
    {rule::write_backpressure, "write.backpressure",
     "write() returns false exactly when the buffered size reaches the highWaterMark (true "
     "below it, or with nothing buffered)"},
    {rule::write_drain, "write.drain",
     "after write() returns false, one 'drain' follows once the buffer empties; no 'drain' "
     "without a false write() before it"},
    {rule::write_callbacks, "write.callbacks",
     "every write callback runs exactly once, in the order of the writes, never inside "
     "write(), with success on a healthy stream"},
    {rule::write_finish, "write.finish",
     "end(): 'finish' once, after every write completed, then 'close' once; end()'s callback "
     "once; nothing after 'close'"},
    {rule::write_after_end, "write.after_end",
     "write() after end() returns false, its callback gets write_after_end, and 'error' "
     "(write_after_end) follows once, then 'close'"},
    {rule::read_backpressure, "read.backpressure",
     "with no consumer reading, the source stops being asked for data: buffered stays within "
     "the highWaterMark plus one push (burst); no 'data' while paused"},
    {rule::read_resume, "read.resume",
     "paused and resumed again and again, the consumer gets the same data as one read straight "
     "through, and the end"},
    {rule::read_end, "read.end",
     "'end' once, after the last 'data', then 'close' once; nothing after 'close'"},
    {rule::transform_backpressure, "transform.backpressure",
     "with the consumer not reading, the transform stops taking input: its readable side stays "
     "within the highWaterMark plus one input's output"},
    {rule::transform_flush, "transform.flush",
     "end() flushes: 'finish' and 'end' once each, every output before 'end' (and the output "
     "checker, if given, accepts it), then 'close' once"},
    {rule::destroy_new, "destroy.new",
     "destroy() right after creation: 'close' once, no other event; a write after it fails "
     "(false, and its callback gets an error)"},
    {rule::destroy_idle, "destroy.idle",
     "destroy() once set up, before any data: 'close' once, no other event"},
    {rule::destroy_writing, "destroy.writing",
     "destroy() with writes in flight: 'close' once, every write callback once, in order, none "
     "succeeding after one failed"},
    {rule::destroy_ending, "destroy.ending",
     "destroy() after end(), before 'finish': 'close' once; 'finish' only if it was due (the "
     "final hook done), and end()'s callback once, with an error unless 'finish' came"},
    {rule::destroy_finished, "destroy.finished",
     "destroy() from the 'finish' listener: 'close' once, no 'error'"},
    {rule::destroy_flowing, "destroy.flowing",
     "destroy() from a 'data' listener: 'close' once; no 'data' beyond what was buffered, no "
     "'end' that was not already due"},
    {rule::destroy_paused, "destroy.paused",
     "destroy() while paused with a full buffer: 'close' once, no 'end', no 'error'"},
    {rule::destroy_ended, "destroy.ended",
     "destroy() from the 'end' listener: 'close' once, nothing else"},
    {rule::destroy_twice, "destroy.twice",
     "destroy() twice, and once more after 'close': 'close' once, no 'error'"},
    {rule::error_once, "error.once",
     "the stream's own error: 'error' once, then 'close' once; pending callbacks once; nothing "
     "after 'close'"},
};

static_assert(std::size(rule_table) == std::size(all_rules));

const rule_text& text_of(rule r) noexcept { return rule_table[static_cast<std::size_t>(r)]; }

std::string_view status_word(outcome o) noexcept {
  switch (o) {
    case outcome::passed:
      return "ok  ";
    case outcome::failed:
      return "FAIL";
    case outcome::skipped:
      return "skip";
  }
  return "?";
}

}  // namespace

std::string_view rule_id(rule r) noexcept { return text_of(r).id; }
std::string_view rule_description(rule r) noexcept { return text_of(r).description; }
std::ostream& operator<<(std::ostream& os, rule r) { return os << rule_id(r); }

std::ostream& operator<<(std::ostream& os, const result& r) {
  os << status_word(r.status) << ' ' << r.name();
  if (r.status == outcome::failed) {
    os << ": " << r.description();
    if (!r.detail.empty()) os << "\n       " << r.detail;
  } else if (!r.detail.empty()) {
    os << " (" << r.detail << ')';
  }
  return os;
}

bool report::ok() const noexcept {
  return std::none_of(results_.begin(), results_.end(),
                      [](const result& r) { return r.status == outcome::failed; });
}

std::vector<result> report::failures() const {
  std::vector<result> out;
  for (const result& r : results_)
    if (r.status == outcome::failed) out.push_back(r);
  return out;
}

const result* report::find(rule r) const noexcept {
  for (const result& x : results_)
    if (x.id == r) return &x;
  return nullptr;
}

bool report::failed(rule r) const noexcept {
  const result* x = find(r);
  return x != nullptr && x->status == outcome::failed;
}

std::string report::to_string() const {
  std::ostringstream os;
  os << *this;
  return os.str();
}

std::ostream& operator<<(std::ostream& os, const report& r) {
  std::size_t failed = 0;
  std::size_t skipped = 0;
  for (const result& x : r.results()) {
    failed += x.status == outcome::failed ? 1 : 0;
    skipped += x.status == outcome::skipped ? 1 : 0;
  }
  os << "conformance of " << (r.subject().empty() ? std::string("a stream") : r.subject()) << ": ";
  if (failed == 0)
    os << "all " << r.results().size() - skipped << " rules checked passed";
  else
    os << failed << " of " << r.results().size() - skipped << " rules checked failed";
  if (skipped != 0) os << ", " << skipped << " skipped";
  os << '\n';
  for (const result& x : r.results()) os << "  " << x << '\n';
  return os;
}

}  // namespace sluice::testing
