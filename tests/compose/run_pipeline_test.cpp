// sluice/compose/run_pipeline.hpp: one call runs one pipeline on a loop of its own and returns
// its pipeline_error: success, a failing stage named with its message, a runtime vector of
// stages, a stuck pipeline, a file that does not open.
#include "sluice/compose/run_pipeline.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <system_error>
#include <tuple>
#include <vector>

#include "sluice/core/make.hpp"
#include "sluice/io/file.hpp"
#include "support/temp_files.hpp"

namespace {

using sluice::errc;

// 0..n-1, on demand.
std::shared_ptr<sluice::readable<int>> numbers(sluice::loop& loop, int n) {
  return sluice::make_readable<int>(
      loop, {.name = "numbers", .read = [next = 0, n](auto& self, std::size_t) mutable {
               if (next < n)
                 self.push(next++);
               else
                 self.push_eof();
             }});
}

// Doubles each item; fails at `reject`.
std::shared_ptr<sluice::transform<int, int>> doubler(sluice::loop& loop, int reject = -1) {
  return sluice::make_transform<int, int>(
      loop, {.name = "double", .transform = [reject](auto& self, int&& x, auto done) {
               if (x == reject)
                 self.fail(std::make_error_code(std::errc::invalid_argument),
                           "item " + std::to_string(x));
               else
                 done(x * 2);
             }});
}

std::shared_ptr<sluice::writable<int>> collect(sluice::loop& loop, std::vector<int>& out) {
  return sluice::make_writable<int>(loop,
                                    {.name = "collect", .write = [&out](auto&, int&& x, auto done) {
                                       out.push_back(x);
                                       done();
                                     }});
}

TEST(RunPipeline, RunsToCompletionAndReportsSuccess) {
  std::vector<int> out;
  const sluice::pipeline_error err = sluice::run_pipeline([&](sluice::loop& loop) {
    return std::tuple{numbers(loop, 5), doubler(loop), collect(loop, out)};
  });
  EXPECT_FALSE(err) << err.message();
  EXPECT_EQ(out, (std::vector<int>{0, 2, 4, 6, 8}));
}

TEST(RunPipeline, ReportsTheFailingStageWithItsMessage) {
  std::vector<int> out;
  const auto err = sluice::run_pipeline([&](sluice::loop& loop) {
    return std::tuple{numbers(loop, 100), doubler(loop, 3), collect(loop, out)};
  });
  ASSERT_TRUE(err);
  EXPECT_EQ(err.code, std::errc::invalid_argument);
  EXPECT_EQ(err.stage, 2U);
  EXPECT_EQ(err.stage_name, "double");
  EXPECT_EQ(err.message(), "stage 2 (double): item 3: " +
                               std::make_error_code(std::errc::invalid_argument).message());
  EXPECT_LT(out.size(), 100U);
}

TEST(RunPipeline, TakesAVectorOfStagesBuiltAtRunTime) {
  std::vector<int> out;
  const auto err = sluice::run_pipeline([&](sluice::loop& loop) {
    std::vector<sluice::pipeline_stage<int>> stages{numbers(loop, 3)};
    for (int i = 0; i < 3; ++i) stages.emplace_back(doubler(loop));
    stages.emplace_back(collect(loop, out));
    return stages;
  });
  EXPECT_FALSE(err) << err.message();
  EXPECT_EQ(out, (std::vector<int>{0, 8, 16}));
}

TEST(RunPipeline, AStuckPipelineIsAbortedAndReported) {
  std::weak_ptr<sluice::readable<int>> source;
  std::vector<int> out;
  const auto err = sluice::run_pipeline([&](sluice::loop& loop) {
    // Never pushes and holds no work: the loop empties with the pipeline still running.
    auto silent = sluice::make_readable<int>(loop, {.read = [](auto&, std::size_t) {}});
    source = silent;
    return std::tuple{silent, collect(loop, out)};
  });
  EXPECT_EQ(err.code, errc::premature_close);
  EXPECT_NE(err.message().find("ran out of work"), std::string::npos) << err.message();
  EXPECT_TRUE(source.expired());  // torn down, not leaked
}

TEST(RunPipeline, AFileThatDoesNotOpenIsNamed) {
  sluice::test::temp_dir dir;
  const std::string missing = (dir / "missing").string();
  const auto err = sluice::run_pipeline([&](sluice::loop& loop) {
    return std::tuple{sluice::make_file_reader(loop, missing),
                      sluice::make_file_writer(loop, dir / "out")};
  });
  ASSERT_TRUE(err);
  EXPECT_EQ(err.stage, 1U);
  EXPECT_NE(err.message().find("open '" + missing + "': No such file or directory"),
            std::string::npos)
      << err.message();
}

}  // namespace
