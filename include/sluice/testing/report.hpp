// sluice/testing/report.hpp: what the conformance kit found, one result per contract rule.
//
// The kit (check_writable, check_readable and check_transform in sluice/testing/check_*.hpp)
// runs one scenario per `rule` on a fresh stream and records a `result` for it: passed, failed
// (with what broke the rule) or skipped (because the options said so). A `report` holds the
// results of one stream, says whether it conforms (ok()) and prints one line per rule.
// docs/reliability.md, "A conformance kit for your own streams", explains every rule.
#pragma once

#include <cstdint>
#include <iosfwd>
#include <string>
#include <string_view>
#include <vector>

namespace sluice::testing {

/// The contract rules. A writable is checked against write_*, the destroy rules of its states
/// (new, idle, writing, ending, finished, twice) and error_once; a readable against read_*, its
/// destroy rules (new, idle, flowing, paused, ended, twice) and error_once; a transform against
/// all of them but read_backpressure, whose place transform_backpressure takes.
enum class rule : std::uint8_t {
  write_backpressure,  ///< write() is false exactly when the buffer reaches the highWaterMark
  write_drain,         ///< a false write() is followed by one 'drain'; no 'drain' without it
  write_callbacks,     ///< every write callback runs once, in order, never inside write()
  write_finish,        ///< end(): 'finish' once, then 'close' once; end()'s callback once
  write_after_end,     ///< a write after end() fails with write_after_end, and so does the stream
  read_backpressure,   ///< with no consumer reading, the source stops at the highWaterMark
  read_resume,         ///< paused and resumed, the consumer gets all the data, in order
  read_end,            ///< 'end' once, after the last 'data', then 'close' once
  transform_backpressure,  ///< a consumer that does not read bounds what the transform takes in
  transform_flush,         ///< end() flushes: everything comes out before 'end'
  destroy_new,             ///< destroy() right after creation: 'close' once, nothing else
  destroy_idle,            ///< destroy() once set up, nothing done yet
  destroy_writing,         ///< destroy() with writes in flight: each callback once, 'close' once
  destroy_ending,          ///< destroy() after end(), before 'finish'
  destroy_finished,        ///< destroy() from the 'finish' listener
  destroy_flowing,         ///< destroy() from a 'data' listener
  destroy_paused,          ///< destroy() while paused with a full buffer
  destroy_ended,           ///< destroy() from the 'end' listener
  destroy_twice,           ///< destroy() twice, and again after 'close': one 'close'
  error_once,              ///< the stream's own error: 'error' once, then 'close' once
};

/// Every rule, in the order above (for loops and skip lists).
inline constexpr rule all_rules[] = {
    rule::write_backpressure, rule::write_drain,     rule::write_callbacks,
    rule::write_finish,       rule::write_after_end, rule::read_backpressure,
    rule::read_resume,        rule::read_end,        rule::transform_backpressure,
    rule::transform_flush,    rule::destroy_new,     rule::destroy_idle,
    rule::destroy_writing,    rule::destroy_ending,  rule::destroy_finished,
    rule::destroy_flowing,    rule::destroy_paused,  rule::destroy_ended,
    rule::destroy_twice,      rule::error_once,
};

/// The rule's stable id, e.g. "write.drain" (what reports print and configurations name).
[[nodiscard]] std::string_view rule_id(rule r) noexcept;
/// What the rule demands, in one sentence.
[[nodiscard]] std::string_view rule_description(rule r) noexcept;
/// Prints rule_id(r).
std::ostream& operator<<(std::ostream& os, rule r);

enum class outcome : std::uint8_t {
  passed,
  failed,
  skipped,  ///< not checked: the options listed it in `skip`, or it does not apply
};

/// One rule's verdict on one stream.
struct result {
  rule id{};
  outcome status = outcome::passed;
  /// What was seen: for a failure, what broke the rule (the events, the sizes, the error); for a
  /// pass or a skip, a short note (may be empty).
  std::string detail{};

  /// Not failed (a skipped rule counts as passed).
  [[nodiscard]] bool passed() const noexcept { return status != outcome::failed; }
  [[nodiscard]] std::string_view name() const noexcept { return rule_id(id); }
  [[nodiscard]] std::string_view description() const noexcept { return rule_description(id); }
};

/// Prints "FAIL write.drain: <description>\n     <detail>" (or "ok", "skip").
std::ostream& operator<<(std::ostream& os, const result& r);

/// The results of one check_* call, in the order the rules were checked.
class report {
 public:
  report() = default;
  /// `subject`: what was checked, e.g. "writable 'rows'", printed in the first line.
  explicit report(std::string subject) : subject_(std::move(subject)) {}

  void add(result r) { results_.push_back(std::move(r)); }

  /// No rule failed.
  [[nodiscard]] bool ok() const noexcept;
  /// The failed results, in order.
  [[nodiscard]] std::vector<result> failures() const;
  [[nodiscard]] const std::vector<result>& results() const noexcept { return results_; }
  /// The result for `r`, or nullptr if the rule was not part of this check.
  [[nodiscard]] const result* find(rule r) const noexcept;
  /// Whether `r` was checked and failed.
  [[nodiscard]] bool failed(rule r) const noexcept;
  [[nodiscard]] const std::string& subject() const noexcept { return subject_; }
  /// The printed form (operator<<).
  [[nodiscard]] std::string to_string() const;

 private:
  std::string subject_;
  std::vector<result> results_;
};

/// A summary line ("conformance of writable 'rows': 1 of 12 rules failed, 1 skipped"), then one
/// line per rule, failures with their detail.
std::ostream& operator<<(std::ostream& os, const report& r);

}  // namespace sluice::testing
