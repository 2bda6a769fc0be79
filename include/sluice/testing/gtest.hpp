// sluice/testing/gtest.hpp: the conformance kit in GoogleTest's words (optional: only this
// header includes <gtest/gtest.h>).
//
//   TEST(MySink, Conforms) {
//     SLUICE_EXPECT_CONFORMS(sluice::testing::check_writable(make_my_sink));
//   }
//
// prints the whole report when a rule fails. `EXPECT_TRUE(report.ok()) << report` does the
// same by hand; conforms(report) is the predicate both use. Inside namespace sluice, name
// GoogleTest's namespace `::testing` (sluice::testing is the kit).
#pragma once

#include <gtest/gtest.h>

#include <ostream>

#include "sluice/testing/report.hpp"

namespace sluice::testing {

/// Success if no rule failed; the failure message is the whole report.
[[nodiscard]] inline ::testing::AssertionResult conforms(const report& r) {
  if (r.ok()) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << r;
}

/// How GoogleTest prints a report in its messages (ASSERT_EQ and friends).
inline void PrintTo(const report& r, std::ostream* os) { *os << r; }

}  // namespace sluice::testing

/// Expects (non-fatal) / asserts (fatal) that a report has no failed rule, printing it if not.
#define SLUICE_EXPECT_CONFORMS(report_expr) EXPECT_TRUE(::sluice::testing::conforms(report_expr))
#define SLUICE_ASSERT_CONFORMS(report_expr) ASSERT_TRUE(::sluice::testing::conforms(report_expr))
