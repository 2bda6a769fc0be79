// sluice/testing.hpp: the conformance kit in one include (link sluice::testing).
//
// check_writable, check_readable and check_transform run the contract's scenarios on streams
// you write and report each rule they break (docs/reliability.md, "A conformance kit for your
// own streams"). From GoogleTest, add <sluice/testing/gtest.hpp> for SLUICE_EXPECT_CONFORMS.
// Not part of <sluice/sluice.hpp>: the kit is for tests, and links a library of its own.
#pragma once

#include "sluice/testing/check_readable.hpp"
#include "sluice/testing/check_transform.hpp"
#include "sluice/testing/check_writable.hpp"
#include "sluice/testing/options.hpp"
#include "sluice/testing/report.hpp"
