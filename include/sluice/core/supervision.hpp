// sluice/core/supervision.hpp: the per-item supervision policy ("skip") that stages whose items
// are independent of each other accept: transforms made from a function (make_transform),
// offload(), and any transform that says its items are independent
// (transform::items_independent()).
//
// Under skip, an error that the stage's function reports for one item drops that item instead of
// failing the stream: the item is counted (items_skipped()), the observer hears of it, and the
// stream goes on with the next item. The restart policy, for sources and sinks made again by a
// factory, is in compose/supervise.hpp; docs/supervision.md tells the whole story.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <system_error>
#include <utility>

namespace sluice {

/// An item a stage dropped under the skip policy.
struct skipped_item {
  /// The item's position among the items written to the stage (0-based).
  std::uint64_t index = 0;
  /// What the stage's function reported for it.
  std::error_code error{};
  /// The stage's name (stream::name(); empty if it has none).
  std::string stage{};
  /// Where the stage says the item was, when it knows better than an index: a parser names the
  /// line ("jsonl: line 12, byte 7 (expected comma)"). Empty otherwise.
  std::string detail{};
  /// "stage 'parse': item 41 skipped: Invalid argument", or with a detail
  /// "stage 'jsonl': jsonl: line 12, byte 7 (expected comma) skipped: syntax error".
  [[nodiscard]] std::string message() const {
    std::string m = stage.empty() ? std::string("stage") : "stage '" + stage + "'";
    m += detail.empty() ? ": item " + std::to_string(index) : ": " + detail;
    return m + " skipped: " + error.message();
  }
};

/// The skip policy of a per-item stage.
struct skip_policy {
  /// Which errors are skipped; empty: every error. An error it refuses fails the stream, as
  /// without the policy.
  std::function<bool(std::error_code)> skippable{};
  /// Hears of each skipped item, on the loop thread, after it was dropped. It may log, count or
  /// write the item's error elsewhere; it must not throw. Destroying the stage from inside it is
  /// allowed (the stage then stops).
  std::function<void(const skipped_item&)> on_skip{};

  [[nodiscard]] bool takes(std::error_code ec) const { return !skippable || skippable(ec); }
};

}  // namespace sluice
