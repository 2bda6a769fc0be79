// tests/support/trace.hpp: helpers shared by the conformance tests.
//
// A `trace` records events as lines in the format of the Node reference traces
// (tests/core/node/traces/*.txt), so a test can compare what sluice did with what Node
// printed for the same scenario, line for line.
#pragma once

#include <gtest/gtest.h>

#include <sstream>
#include <string>
#include <system_error>
#include <vector>

#include "sluice/core/error.hpp"

namespace sluice::test {

/// Node's name for one of our error codes (ERR_STREAM_WRITE_AFTER_END, ...), or the message.
std::string node_code(std::error_code ec);

class trace {
 public:
  void operator()(std::string line) { lines_.push_back(std::move(line)); }
  /// Marks the end of the synchronous part of a scenario (Node traces print "-- sync").
  void sync() { lines_.emplace_back("-- sync"); }
  [[nodiscard]] const std::vector<std::string>& lines() const noexcept { return lines_; }
  [[nodiscard]] std::string str() const {
    std::ostringstream o;
    for (const auto& l : lines_) o << l << '\n';
    return o.str();
  }
  void clear() { lines_.clear(); }

 private:
  std::vector<std::string> lines_;
};

/// "cb <label> <code|null>".
inline std::string cb_line(const std::string& label, std::error_code ec) {
  return "cb " + label + " " + (ec ? node_code(ec) : std::string("null"));
}

/// Splits a multi-line expected trace (raw string) into lines, ignoring blank lines and
/// leading/trailing spaces, so tests can write expectations readably.
std::vector<std::string> lines_of(const std::string& text);

}  // namespace sluice::test

/// Asserts the trace equals the expected text, printing both on failure.
#define EXPECT_TRACE(tr, expected) \
  EXPECT_EQ((tr).lines(), ::sluice::test::lines_of(expected)) << "actual trace:\n" << (tr).str()
