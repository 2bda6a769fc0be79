// pipeline() over a vector of stages (sluice/compose/runtime_pipeline.hpp): chains whose length
// is known only at run time, object and byte mode, failures with the failing stage, stages that
// cannot stand where they stand, abort, stop_token, and stop_before() (what `head` needs), which
// the variadic pipeline() shares.
#include "sluice/compose/runtime_pipeline.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <csignal>
#include <cstddef>
#include <filesystem>
#include <fstream>
#include <future>
#include <iterator>
#include <memory>
#include <optional>
#include <stop_token>
#include <string>
#include <system_error>
#include <vector>

#include "sluice/codec/gzip.hpp"
#include "sluice/core/asio_loop.hpp"
#include "sluice/core/loop.hpp"
#include "sluice/core/make.hpp"
#include "sluice/io/file.hpp"
#include "sluice/io/stdio.hpp"
#include "support/temp_files.hpp"

namespace {

using sluice::errc;
using sluice::manual_loop;
using sluice::pipeline_error;
using sluice::pipeline_stage;

// Every stream of a test counts its do_destroy calls and remembers the last error it got.
struct destroys {
  int n = 0;
  std::vector<std::error_code> codes;
  auto hook() {
    return [this](auto&, std::error_code ec, sluice::callback cb) {
      ++n;
      codes.push_back(ec);
      cb(ec);
    };
  }
};

// 0 .. n-1 (n < 0: for ever), one per read, each on a later tick.
std::shared_ptr<sluice::readable<int>> numbers(sluice::loop& loop, int n, destroys& d) {
  auto next = std::make_shared<int>(0);
  return sluice::make_readable<int>(
      loop, {.high_water_mark = 4,
             .read =
                 [&loop, next, n](sluice::readable<int>& self, std::size_t) {
                   loop.defer([s = self.shared_from_this(), &self, next, n] {
                     if (self.destroyed()) return;
                     if (n < 0 || *next < n)
                       self.push((*next)++);
                     else
                       self.push_eof();
                   });
                 },
             .destroy = d.hook()});
}

// Adds one; fails with `fail_on` when it sees that value.
std::shared_ptr<sluice::transform<int, int>> plus_one(sluice::loop& loop, destroys& d,
                                                      std::optional<int> fail_on = {}) {
  return sluice::make_transform<int>(loop,
                                     {.readable_high_water_mark = 4,
                                      .writable_high_water_mark = 4,
                                      .transform =
                                          [fail_on](auto&, int&& x, auto cb) {
                                            if (fail_on && x == *fail_on)
                                              cb(std::make_error_code(std::errc::invalid_argument));
                                            else
                                              cb(x + 1);
                                          },
                                      .destroy = d.hook()});
}

std::shared_ptr<sluice::writable<int>> collect(sluice::loop& loop, std::vector<int>& out,
                                               destroys& d) {
  return sluice::make_writable<int>(loop, {.high_water_mark = 4,
                                           .write =
                                               [&out](auto&, int&& x, auto cb) {
                                                 out.push_back(x);
                                                 cb();
                                               },
                                           .destroy = d.hook()});
}

std::vector<int> iota(int from, int n) {
  std::vector<int> v;
  for (int i = 0; i < n; ++i) v.push_back(from + i);
  return v;
}

TEST(RuntimePipeline, ChainsOfAnyLengthDeliverEverythingAndCallBackOnce) {
  for (int middle = 0; middle <= 5; ++middle) {
    manual_loop loop;
    destroys d;
    std::vector<int> out;
    std::vector<pipeline_stage<int>> stages;
    stages.emplace_back(numbers(loop, 100, d));
    for (int i = 0; i < middle; ++i) stages.emplace_back(plus_one(loop, d));
    stages.emplace_back(collect(loop, out, d));
    int calls = 0;
    auto h = sluice::pipeline(std::move(stages), [&](const pipeline_error& e) {
      ++calls;
      EXPECT_FALSE(e) << e.message();
    });
    EXPECT_TRUE(h.running());
    loop.run_until_idle();
    EXPECT_EQ(calls, 1) << middle << " middle stages";
    EXPECT_EQ(out, iota(middle, 100)) << middle << " middle stages";
    EXPECT_FALSE(h.running());
    EXPECT_EQ(h.listener_count(), 0u);
    // Each stream destroyed itself once (auto_destroy) without an error; none by the pipeline.
    EXPECT_EQ(d.n, middle + 2);
    for (auto ec : d.codes) EXPECT_FALSE(ec);
  }
}

TEST(RuntimePipeline, TheCallbackComesAfterEveryStageClosed) {
  manual_loop loop;
  destroys d;
  std::vector<int> out;
  auto src = numbers(loop, 10, d);
  auto mid = plus_one(loop, d);
  auto dst = collect(loop, out, d);
  int closed = 0;
  for (sluice::stream* s : std::vector<sluice::stream*>{src.get(), mid.get(), dst.get()})
    s->on_close([&] { ++closed; });
  int closed_at_callback = -1;
  sluice::pipeline(std::vector<pipeline_stage<int>>{src, mid, dst},
                   [&](std::error_code) { closed_at_callback = closed; });
  loop.run_until_idle();
  EXPECT_EQ(closed_at_callback, 3);
}

TEST(RuntimePipeline, AFailureDestroysEveryStageOnceAndNamesTheStage) {
  manual_loop loop;
  destroys d;
  std::vector<int> out;
  std::vector<pipeline_stage<int>> stages{numbers(loop, 100, d)};
  stages.emplace_back(plus_one(loop, d), "first");
  stages.emplace_back(plus_one(loop, d, 20), "picky");  // fails on its 20th item
  stages.emplace_back(plus_one(loop, d), "third");
  stages.emplace_back(collect(loop, out, d));
  std::vector<pipeline_error> reports;
  sluice::pipeline(stages, [&](const pipeline_error& e) { reports.push_back(e); });
  loop.run_until_idle();
  ASSERT_EQ(reports.size(), 1u);
  const pipeline_error& e = reports[0];
  EXPECT_EQ(e.code, std::errc::invalid_argument);
  EXPECT_EQ(e.stage, 3u);  // 1-based: the source is stage 1
  EXPECT_EQ(e.stage_name, "picky");
  EXPECT_EQ(e.message().rfind("stage 3 (picky): ", 0), 0u) << e.message();
  EXPECT_EQ(d.n, 5);  // every stage, once
  for (const auto& s : stages) EXPECT_TRUE(s.get()->destroyed());
  // Nothing past the failing item got through, and everything before it did, in order.
  ASSERT_FALSE(out.empty());
  EXPECT_LT(out.back(), 23);
  EXPECT_EQ(out, iota(3, static_cast<int>(out.size())));
}

TEST(RuntimePipeline, NamesDefaultToTheStreamsNameThenItsType) {
  manual_loop loop;
  destroys d;
  std::vector<int> out;
  auto named = plus_one(loop, d, 0);  // fails on the first item
  named->set_name("adder");
  auto unnamed = plus_one(loop, d, 1);
  std::optional<pipeline_error> e1, e2;
  sluice::pipeline(
      std::vector<pipeline_stage<int>>{numbers(loop, 5, d), named, collect(loop, out, d)},
      [&](const pipeline_error& e) { e1 = e; });
  sluice::pipeline(std::vector<pipeline_stage<int>>{numbers(loop, 5, d), plus_one(loop, d), unnamed,
                                                    collect(loop, out, d)},
                   [&](const pipeline_error& e) { e2 = e; });
  loop.run_until_idle();
  ASSERT_TRUE(e1 && e2);
  EXPECT_EQ(e1->stage_name, "adder");
  EXPECT_EQ(e2->stage, 3u);
  EXPECT_EQ(e2->stage_name, "transform<int, int>");
}

TEST(RuntimePipeline, AStageThatCannotStandWhereItStandsFailsTheSetUp) {
  manual_loop loop;
  destroys d;
  std::vector<int> out;
  auto src = numbers(loop, 5, d);
  auto sink_in_the_middle = collect(loop, out, d);
  auto dst = collect(loop, out, d);
  std::vector<pipeline_error> reports;
  sluice::pipeline(std::vector<pipeline_stage<int>>{src, sink_in_the_middle, dst},
                   [&](const pipeline_error& e) { reports.push_back(e); });
  EXPECT_TRUE(reports.empty());  // reported on a later tick, like any outcome
  loop.run_until_idle();
  ASSERT_EQ(reports.size(), 1u);
  EXPECT_EQ(reports[0].code, errc::invalid_argument);
  EXPECT_EQ(reports[0].stage, 2u);
  EXPECT_NE(reports[0].detail.find("can only be the last stage"), std::string::npos)
      << reports[0].detail;
  EXPECT_TRUE(out.empty());
  EXPECT_EQ(d.n, 3);  // nothing is left running
  EXPECT_TRUE(src->destroyed() && sink_in_the_middle->destroyed() && dst->destroyed());

  // A readable after the first place: it has nothing to write into.
  std::optional<pipeline_error> late_source;
  sluice::pipeline(std::vector<pipeline_stage<int>>{numbers(loop, 5, d), numbers(loop, 5, d)},
                   [&](const pipeline_error& e) { late_source = e; });
  loop.run_until_idle();
  ASSERT_TRUE(late_source);
  EXPECT_EQ(late_source->stage, 2u);
  EXPECT_NE(late_source->detail.find("can only be the first stage"), std::string::npos);
}

TEST(RuntimePipeline, NullStagesAndTooFewStages) {
  manual_loop loop;
  destroys d;
  std::vector<int> out;
  auto src = numbers(loop, 5, d);
  std::optional<pipeline_error> e;
  sluice::pipeline(std::vector<pipeline_stage<int>>{src, std::shared_ptr<sluice::writable<int>>{}},
                   [&](const pipeline_error& r) { e = r; });
  loop.run_until_idle();
  ASSERT_TRUE(e);
  EXPECT_EQ(e->code, errc::invalid_argument);
  EXPECT_EQ(e->stage, 2u);
  EXPECT_EQ(e->detail, "stage 2 is null");
  EXPECT_TRUE(src->destroyed());
  // Nothing to report on: a programming error at the call site.
  EXPECT_THROW(sluice::pipeline(std::vector<pipeline_stage<int>>{collect(loop, out, d)},
                                [](std::error_code) {}),
               std::system_error);
  EXPECT_THROW(sluice::pipeline(std::vector<pipeline_stage<int>>{}, [](std::error_code) {}),
               std::system_error);
}

TEST(RuntimePipeline, AbortAndStopTokenDestroyEveryStage) {
  manual_loop loop;
  destroys d;
  std::vector<int> out;
  std::optional<pipeline_error> aborted;
  auto h =
      sluice::pipeline(std::vector<pipeline_stage<int>>{numbers(loop, -1, d), plus_one(loop, d),
                                                        collect(loop, out, d)},
                       [&](const pipeline_error& e) { aborted = e; });
  for (int i = 0; i < 20; ++i) loop.step();
  h.abort();
  loop.run_until_idle();
  ASSERT_TRUE(aborted);
  EXPECT_EQ(aborted->code, errc::aborted);
  EXPECT_EQ(d.n, 3);

  std::stop_source stop;
  std::optional<pipeline_error> stopped;
  // A source that waits for ever (a request that never comes back).
  auto stalled =
      sluice::make_readable<int>(loop, {.read = [](auto&, std::size_t) {}, .destroy = d.hook()});
  sluice::pipeline(stop.get_token(),
                   std::vector<pipeline_stage<int>>{stalled, collect(loop, out, d)},
                   [&](const pipeline_error& e) { stopped = e; });
  loop.run_until_idle();
  EXPECT_FALSE(stopped);
  stop.request_stop();
  loop.run_until_idle();
  ASSERT_TRUE(stopped);
  EXPECT_EQ(stopped->code, errc::aborted);
  EXPECT_EQ(d.n, 5);
}

// A transform that passes `keep` items, then asks the pipeline to end before itself.
std::shared_ptr<sluice::transform<int, int>> head(sluice::loop& loop, destroys& d, int keep,
                                                  std::shared_ptr<sluice::pipeline_handle> h,
                                                  std::size_t stage) {
  auto seen = std::make_shared<int>(0);
  return sluice::make_transform<int>(loop, {.transform =
                                                [=](auto&, int&& x, auto cb) {
                                                  if (*seen == keep) return cb();
                                                  cb(x);
                                                  if (++*seen == keep) h->stop_before(stage);
                                                },
                                            .destroy = d.hook()});
}

TEST(RuntimePipeline, StopBeforeEndsAnEndlessSourceQuietly) {
  manual_loop loop;
  destroys d;
  std::vector<int> out;
  auto h = std::make_shared<sluice::pipeline_handle>();
  auto src = numbers(loop, -1, d);  // never ends by itself
  auto mid = plus_one(loop, d);
  std::optional<pipeline_error> result;
  *h = sluice::pipeline(
      std::vector<pipeline_stage<int>>{src, mid, head(loop, d, 7, h, 3), collect(loop, out, d)},
      [&](const pipeline_error& e) { result = e; });
  loop.run_until_idle();
  ASSERT_TRUE(result);
  EXPECT_FALSE(*result) << result->message();  // success: nothing failed
  EXPECT_EQ(out, iota(1, 7));                  // exactly what head let through
  // The stages upstream of head were destroyed without an error; the rest ended normally.
  EXPECT_TRUE(src->destroyed() && mid->destroyed());
  EXPECT_EQ(d.n, 4);
  for (auto ec : d.codes) EXPECT_FALSE(ec);
  EXPECT_EQ(h->listener_count(), 0u);
  // Later calls are no-ops.
  h->stop_before(2);
}

TEST(RuntimePipeline, StopBeforeWorksForTheVariadicPipelineToo) {
  manual_loop loop;
  destroys d;
  std::vector<int> out;
  auto h = std::make_shared<sluice::pipeline_handle>();
  auto src = numbers(loop, -1, d);
  std::optional<pipeline_error> result;
  *h = sluice::pipeline(src, head(loop, d, 5, h, 2), collect(loop, out, d),
                        [&](const pipeline_error& e) { result = e; });
  loop.run_until_idle();
  ASSERT_TRUE(result);
  EXPECT_FALSE(*result) << result->message();
  EXPECT_EQ(out, iota(0, 5));
  EXPECT_TRUE(src->destroyed());
}

TEST(RuntimePipeline, StopBeforeIsIgnoredOnceThePipelineFailed) {
  manual_loop loop;
  destroys d;
  std::vector<int> out;
  auto h = std::make_shared<sluice::pipeline_handle>();
  std::optional<pipeline_error> result;
  *h = sluice::pipeline(
      std::vector<pipeline_stage<int>>{numbers(loop, -1, d), plus_one(loop, d, 3),
                                       head(loop, d, 100, h, 3), collect(loop, out, d)},
      [&](const pipeline_error& e) { result = e; });
  loop.run_until_idle();
  h->stop_before(3);
  loop.run_until_idle();
  ASSERT_TRUE(result);
  EXPECT_EQ(result->code, std::errc::invalid_argument);
  EXPECT_EQ(result->stage, 2u);
}

TEST(RuntimePipeline, AsAnAsioOperationWithTheFailingStage) {
  boost::asio::io_context io;
  sluice::asio_loop loop(io);
  destroys d;
  std::vector<int> out;
  std::future<std::error_code> ok = sluice::async_pipeline(
      std::vector<pipeline_stage<int>>{numbers(loop, 10, d), plus_one(loop, d),
                                       collect(loop, out, d)},
      boost::asio::use_future);
  pipeline_error details;
  std::future<std::error_code> failed = sluice::async_pipeline(
      details,
      std::vector<pipeline_stage<int>>{
          numbers(loop, 10, d), {plus_one(loop, d, 4), "four"}, collect(loop, out, d)},
      boost::asio::use_future);
  io.run();
  EXPECT_EQ(ok.get(), std::error_code{});
  EXPECT_EQ(failed.get(), std::errc::invalid_argument);
  EXPECT_EQ(details.stage, 2u);
  EXPECT_EQ(details.stage_name, "four");
}

// ---- Byte mode, on real files --------------------------------------------------------------

std::string slurp(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

TEST(RuntimePipeline, ByteStagesThroughRealFilesAndCodecs) {
  sluice::test::temp_dir dir;
  const auto in = dir.path() / "in.txt", out = dir.path() / "out.txt";
  std::string text;
  for (int i = 0; i < 20000; ++i) text += "line " + std::to_string(i) + "\n";
  std::ofstream(in, std::ios::binary) << text;
  for (int codecs = 0; codecs <= 2; ++codecs) {
    boost::asio::io_context io;
    sluice::asio_loop loop(io);
    std::vector<sluice::byte_stage> stages;
    stages.emplace_back(sluice::make_file_reader(loop, in.string()), "read");
    for (int i = 0; i < codecs; ++i) {
      stages.emplace_back(sluice::make_gzip(loop), "gzip");
      stages.emplace_back(sluice::make_gunzip(loop), "gunzip");
    }
    stages.emplace_back(sluice::make_file_writer(loop, out.string()), "write");
    std::optional<pipeline_error> result;
    sluice::pipeline(std::move(stages), [&](const pipeline_error& e) { result = e; });
    io.run();
    ASSERT_TRUE(result);
    EXPECT_FALSE(*result) << result->message();
    EXPECT_EQ(slurp(out), text) << codecs << " codec pairs";
  }
}

TEST(RuntimePipeline, CorruptInputNamesTheCodecAndLeavesNoOutput) {
  sluice::test::temp_dir dir;
  const auto in = dir.path() / "bad.gz", out = dir.path() / "out.txt";
  std::ofstream(in, std::ios::binary) << "\x1f\x8b\x08\x00 certainly not deflate data";
  boost::asio::io_context io;
  sluice::asio_loop loop(io);
  std::optional<pipeline_error> result;
  sluice::pipeline(
      std::vector<sluice::byte_stage>{
          {sluice::make_file_reader(loop, in.string()), "read"},
          {sluice::make_gunzip(loop), "gunzip"},
          {sluice::make_file_writer(loop, out.string(), {.atomic = true}), "write"}},
      [&](const pipeline_error& e) { result = e; });
  io.run();
  ASSERT_TRUE(result);
  EXPECT_TRUE(*result);
  EXPECT_EQ(result->stage, 2u);
  EXPECT_EQ(result->stage_name, "gunzip");
  EXPECT_NE(result->detail.find("input byte"), std::string::npos) << result->detail;
  // The atomic writer was destroyed with the error: no output, no temporary file left.
  EXPECT_FALSE(std::filesystem::exists(out));
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(dir.path()), {}), 1);
}

TEST(RuntimePipeline, ABrokenPipeIsReportedByTheLastStageSoACallerCanEndQuietly) {
  std::signal(SIGPIPE, SIG_IGN);  // as a command-line program must (stdio.hpp)
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  ::close(fds[0]);  // the reader went away
  boost::asio::io_context io;
  sluice::asio_loop loop(io);
  destroys d;
  auto src = sluice::make_readable<sluice::buffer>(
      loop,
      {.read = [](auto& self, std::size_t) { self.push(sluice::buffer(std::string("data\n"))); },
       .destroy = d.hook()});
  std::optional<pipeline_error> result;
  sluice::pipeline(std::vector<sluice::byte_stage>{src, sluice::make_fd_writer(loop, fds[1])},
                   [&](const pipeline_error& e) { result = e; });
  io.run();
  ::close(fds[1]);
  ASSERT_TRUE(result);
  EXPECT_EQ(result->stage, 2u);  // the last stage
  EXPECT_TRUE(sluice::is_broken_pipe(result->code)) << result->message();
  EXPECT_EQ(d.n, 1);  // the endless source was torn down
}

}  // namespace
