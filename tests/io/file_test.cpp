// File streams (sluice/io/file.hpp) on real files in a temporary directory, and the cross-thread
// half of the loop they rely on (loop::post, loop::work_guard) on both loops.
#include "sluice/io/file.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "sluice/core/asio_loop.hpp"
#include "sluice/core/loop.hpp"
#include "support/temp_files.hpp"

namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using sluice::buffer;
using sluice::manual_loop;

// ---- helpers ----------------------------------------------------------------------------------

using sluice::test::open_fd_count;
using sluice::test::pattern;
using sluice::test::read_file;
using sluice::test::temp_dir;
using sluice::test::write_file;

// Everything a reader delivered.
struct collected {
  std::string data;
  bool ended = false;
  bool closed = false;
  std::error_code error;
};

std::shared_ptr<collected> collect(sluice::readable<buffer>& r) {
  auto c = std::make_shared<collected>();
  r.on_data([c](buffer&& b) { c->data.append(b.view()); });
  r.on_end([c] { c->ended = true; });
  r.on_error([c](std::error_code ec) { c->error = ec; });
  r.on_close([c] { c->closed = true; });
  return c;
}

struct outcome {
  bool finished = false;
  bool closed = false;
  std::error_code error;
};

std::shared_ptr<outcome> watch(sluice::writable<buffer>& w) {
  auto o = std::make_shared<outcome>();
  w.on_finish([o] { o->finished = true; });
  w.on_error([o](std::error_code ec) { o->error = ec; });
  w.on_close([o] { o->closed = true; });
  return o;
}

void run(manual_loop& loop) {
  ASSERT_TRUE(loop.run_until_quiet_for(20s)) << "loop never went quiet";
}

// ---- loop::post and work --------------------------------------------------------------------

TEST(LoopPost, ManualLoopRunsPostsFromAnotherThreadInOrderOnItsOwnThread) {
  manual_loop loop;
  std::vector<int> seen;
  std::atomic<bool> off_thread{false};
  const auto loop_thread = std::this_thread::get_id();
  sluice::loop::work_guard work(loop);
  std::thread t([&, w = std::move(work)]() mutable {
    for (int i = 0; i < 100; ++i)
      loop.post([&, i] {
        if (std::this_thread::get_id() != loop_thread) off_thread = true;
        seen.push_back(i);
      });
    w.reset();
  });
  // Blocks until the thread has posted everything and released its work.
  EXPECT_EQ(loop.run_until_quiet(), 100u);
  t.join();
  ASSERT_EQ(seen.size(), 100u);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(seen[static_cast<std::size_t>(i)], i);
  EXPECT_FALSE(off_thread);
  EXPECT_EQ(loop.outstanding_work(), 0u);
}

TEST(LoopPost, PostedTaskIsFollowedByTheTicksItDeferred) {
  manual_loop loop;
  std::vector<std::string> log;
  loop.post([&] {
    log.emplace_back("post 1");
    loop.defer([&] { log.emplace_back("tick of 1"); });
  });
  loop.post([&] { log.emplace_back("post 2"); });
  loop.defer([&] { log.emplace_back("earlier tick"); });
  EXPECT_TRUE(log.empty());  // never inline
  EXPECT_EQ(loop.posted_count(), 2u);
  loop.run_until_idle();
  EXPECT_EQ(log, (std::vector<std::string>{"earlier tick", "post 1", "tick of 1", "post 2"}));
}

TEST(LoopPost, RunUntilQuietForGivesUpWhileWorkIsOutstanding) {
  manual_loop loop;
  auto work = loop.make_work_guard();
  EXPECT_EQ(loop.outstanding_work(), 1u);
  EXPECT_FALSE(loop.run_until_quiet_for(10ms));
  work.reset();
  EXPECT_TRUE(loop.run_until_quiet_for(10ms));
}

TEST(LoopPost, ManualRunFinishesOutstandingWorkBeforeJumpingToTimers) {
  manual_loop loop;
  std::vector<std::string> log;
  auto t = loop.start_timer(1s, [&] { log.emplace_back("timer"); });
  std::thread worker([&, w = loop.make_work_guard()]() mutable {
    std::this_thread::sleep_for(10ms);
    loop.post([&] { log.emplace_back("result"); });
  });
  EXPECT_EQ(loop.run(), 1u);
  worker.join();
  EXPECT_EQ(log, (std::vector<std::string>{"result", "timer"}));
}

TEST(LoopPost, AsioRunDoesNotReturnWhileWorkIsOutstanding) {
  boost::asio::io_context io;
  sluice::asio_loop loop(io);
  std::vector<int> seen;
  std::atomic<bool> off_thread{false};
  const auto loop_thread = std::this_thread::get_id();
  std::thread t([&, w = loop.make_work_guard()]() mutable {
    // Nothing else is queued on the io_context: only the guard keeps run() from returning.
    std::this_thread::sleep_for(20ms);
    for (int i = 0; i < 10; ++i)
      loop.post([&, i] {
        if (std::this_thread::get_id() != loop_thread) off_thread = true;
        seen.push_back(i);
        loop.defer([&, i] { seen.push_back(100 + i); });
      });
    w.reset();
  });
  io.run();
  t.join();
  std::vector<int> expected;
  for (int i = 0; i < 10; ++i) {
    expected.push_back(i);
    expected.push_back(100 + i);
  }
  EXPECT_EQ(seen, expected);
  EXPECT_FALSE(off_thread);
}

// ---- file_reader → file_writer copies ---------------------------------------------------------

constexpr std::size_t hwm = 64 * 1024;

class FileCopy : public testing::TestWithParam<std::size_t> {};

TEST_P(FileCopy, PipeCopiesByteExactAndClosesBothFiles) {
  temp_dir dir;
  const std::string content = pattern(GetParam());
  write_file(dir / "in.bin", content);
  const std::size_t fds_before = open_fd_count();

  manual_loop loop;
  auto in = sluice::make_file_reader(loop, dir / "in.bin");
  auto out = sluice::make_file_writer(loop, dir / "out.bin");
  auto src = collect(*in);
  auto dst = watch(*out);
  in->pipe(out);
  run(loop);

  EXPECT_TRUE(src->ended);
  EXPECT_TRUE(dst->finished);
  EXPECT_TRUE(src->closed && dst->closed);
  EXPECT_FALSE(dst->error) << out->error_message();
  EXPECT_EQ(read_file(dir / "out.bin"), content);
  EXPECT_EQ(in->bytes_read(), content.size());
  EXPECT_EQ(out->bytes_written(), content.size());
  EXPECT_EQ(in->size(), content.size());
  EXPECT_EQ(open_fd_count(), fds_before);
}

INSTANTIATE_TEST_SUITE_P(Sizes, FileCopy,
                         testing::Values(0, 1, hwm - 1, hwm, hwm + 1, 3 * 1024 * 1024 + 7));

TEST(FileCopy, WorksOnAnAsioLoop) {
  temp_dir dir;
  const std::string content = pattern(1024 * 1024 + 3, 7);
  write_file(dir / "in.bin", content);
  boost::asio::io_context io;
  sluice::asio_loop loop(io);
  auto in = sluice::make_file_reader(loop, dir / "in.bin", {.high_water_mark = 16 * 1024});
  auto out = sluice::make_file_writer(loop, dir / "out.bin");
  auto dst = watch(*out);
  in->pipe(out);
  io.run();  // returns only once every pool call has come back
  EXPECT_TRUE(dst->finished && dst->closed);
  EXPECT_EQ(read_file(dir / "out.bin"), content);
}

TEST(FileCopy, BackpressureBoundsWhatIsBuffered) {
  temp_dir dir;
  const std::string content = pattern(8 * 1024 * 1024, 3);
  write_file(dir / "in.bin", content);
  manual_loop loop;
  auto in = sluice::make_file_reader(loop, dir / "in.bin");
  auto out = sluice::make_file_writer(loop, dir / "out.bin", {.high_water_mark = hwm});
  in->pipe(out);
  run(loop);
  ASSERT_EQ(read_file(dir / "out.bin"), content);
  // The reader reads one chunk of its highWaterMark at a time and stops when the writer is full.
  EXPECT_LE(out->counters().peak_writable_length, hwm + hwm);
  EXPECT_LE(in->counters().peak_readable_length, hwm);
  EXPECT_GT(out->counters().write_backpressure, 0u);
}

// ---- file_reader ------------------------------------------------------------------------------

TEST(FileReader, ReadsTheInclusiveRangeStartToEnd) {
  temp_dir dir;
  const std::string content = pattern(200 * 1024, 5);
  write_file(dir / "in.bin", content);
  struct range_case {
    std::uint64_t start;
    std::optional<std::uint64_t> end;
    std::size_t hwm;
  };
  for (const range_case rc :
       {range_case{0, 0, 4096}, range_case{10, 19, 4096}, range_case{1000, std::nullopt, 4096},
        range_case{70000, 140000, 65536}, range_case{5, 10'000'000, 8192},
        range_case{300'000, std::nullopt, 4096}}) {
    manual_loop loop;
    auto in = sluice::make_file_reader(
        loop, dir / "in.bin", {.start = rc.start, .end = rc.end, .high_water_mark = rc.hwm});
    auto c = collect(*in);
    run(loop);
    const std::size_t from = std::min<std::size_t>(rc.start, content.size());
    const std::size_t to =
        rc.end ? std::min<std::size_t>(*rc.end + 1, content.size()) : content.size();
    EXPECT_TRUE(c->ended);
    EXPECT_EQ(c->data, content.substr(from, to > from ? to - from : 0))
        << "start " << rc.start << " end " << (rc.end ? std::to_string(*rc.end) : "-");
    EXPECT_EQ(in->expected_bytes(), c->data.size());
  }
}

TEST(FileReader, EndBeforeStartIsRejectedAtTheCallSite) {
  manual_loop loop;
  EXPECT_THROW((void)sluice::make_file_reader(loop, "x", {.start = 10, .end = 9}),
               std::system_error);
}

TEST(FileReader, MissingFileFailsNamingTheOperationAndPath) {
  temp_dir dir;
  manual_loop loop;
  auto in = sluice::make_file_reader(loop, dir / "nope.log");
  auto c = collect(*in);
  run(loop);
  EXPECT_EQ(c->error, std::errc::no_such_file_or_directory);
  EXPECT_TRUE(c->closed);
  EXPECT_FALSE(c->ended);
  EXPECT_EQ(in->error_message(),
            "open '" + (dir / "nope.log").string() + "': No such file or directory");
  EXPECT_FALSE(in->size().has_value());
}

TEST(FileReader, ReadingADirectoryFailsWithRead) {
  temp_dir dir;
  manual_loop loop;
  auto in = sluice::make_file_reader(loop, dir.path());
  auto c = collect(*in);
  run(loop);
  EXPECT_EQ(c->error, std::errc::is_a_directory);
  EXPECT_EQ(in->error_message(), "read '" + dir.path().string() + "': Is a directory");
}

TEST(FileReader, DestroyWhileAReadIsInFlightClosesOnceItIsBack) {
  temp_dir dir;
  write_file(dir / "in.bin", pattern(1024 * 1024));
  const std::size_t fds_before = open_fd_count();
  manual_loop loop;
  auto in = sluice::make_file_reader(loop, dir / "in.bin");
  auto c = std::make_shared<collected>();
  in->on_data([c, in = in.get()](buffer&& b) {
    c->data.append(b.view());
    in->destroy();  // the next read may already be on the pool
  });
  in->on_close([c] { c->closed = true; });
  run(loop);
  EXPECT_TRUE(c->closed);
  EXPECT_EQ(c->data.size(), hwm);
  EXPECT_EQ(open_fd_count(), fds_before);
}

// ---- file_writer ------------------------------------------------------------------------------

TEST(FileWriter, MissingDirectoryFailsWithOpen) {
  temp_dir dir;
  manual_loop loop;
  const fs::path target = dir / "no-such-dir" / "out.txt";
  auto out = sluice::make_file_writer(loop, target);
  auto o = watch(*out);
  std::error_code write_ec;
  out->write(buffer::copy_of("x"), [&](std::error_code ec) { write_ec = ec; });
  out->end();
  run(loop);
  EXPECT_EQ(o->error, std::errc::no_such_file_or_directory);
  EXPECT_EQ(write_ec, std::errc::no_such_file_or_directory);
  EXPECT_FALSE(o->finished);
  EXPECT_EQ(out->error_message(), "open '" + target.string() + "': No such file or directory");
}

TEST(FileWriter, ExclusiveRefusesAnExistingFileAndLeavesItAlone) {
  temp_dir dir;
  write_file(dir / "keep.txt", "precious");
  for (const bool atomic : {false, true}) {
    manual_loop loop;
    auto out = sluice::make_file_writer(loop, dir / "keep.txt",
                                        {.flags = sluice::open_mode::exclusive, .atomic = atomic});
    auto o = watch(*out);
    out->end(buffer::copy_of("overwritten"));
    run(loop);
    EXPECT_EQ(o->error, std::errc::file_exists) << "atomic " << atomic;
    EXPECT_EQ(out->error_message(), "open '" + (dir / "keep.txt").string() + "': File exists");
    EXPECT_EQ(read_file(dir / "keep.txt"), "precious");
  }
  EXPECT_EQ(dir.entries(), std::vector<std::string>{"keep.txt"});
}

TEST(FileWriter, ExclusiveCreatesANewFile) {
  temp_dir dir;
  manual_loop loop;
  auto out = sluice::make_file_writer(loop, dir / "new.txt",
                                      {.flags = sluice::open_mode::exclusive, .mode = 0640});
  out->end(buffer::copy_of("fresh"));
  run(loop);
  EXPECT_FALSE(out->errored());
  EXPECT_EQ(read_file(dir / "new.txt"), "fresh");
  EXPECT_EQ(fs::status(dir / "new.txt").permissions() & fs::perms::others_all, fs::perms::none);
}

TEST(FileWriter, AppendAddsToTheEnd) {
  temp_dir dir;
  write_file(dir / "log.txt", "one\n");
  for (const char* line : {"two\n", "three\n"}) {
    manual_loop loop;
    auto out =
        sluice::make_file_writer(loop, dir / "log.txt", {.flags = sluice::open_mode::append});
    out->write(buffer::copy_of(line));
    out->end();
    run(loop);
    EXPECT_FALSE(out->errored()) << out->error_message();
  }
  EXPECT_EQ(read_file(dir / "log.txt"), "one\ntwo\nthree\n");
}

TEST(FileWriter, TruncateReplacesOldContent) {
  temp_dir dir;
  write_file(dir / "f.txt", "a much longer old content");
  manual_loop loop;
  auto out = sluice::make_file_writer(loop, dir / "f.txt");
  out->end(buffer::copy_of("short"));
  run(loop);
  EXPECT_EQ(read_file(dir / "f.txt"), "short");
}

TEST(FileWriter, CorkedWritesGoOutInOnePwritev) {
  temp_dir dir;
  manual_loop loop;
  auto out = sluice::make_file_writer(loop, dir / "out.txt");
  run(loop);  // opened
  out->cork();
  std::string expected;
  for (int i = 0; i < 50; ++i) {
    const std::string piece = "chunk " + std::to_string(i) + "\n";
    expected += piece;
    out->write(buffer::copy_of(piece));
  }
  out->uncork();
  run(loop);
  EXPECT_EQ(out->write_syscalls(), 1u);
  EXPECT_EQ(out->write_batches(), 1u);
  out->end();
  run(loop);
  EXPECT_EQ(read_file(dir / "out.txt"), expected);
  EXPECT_EQ(out->bytes_written(), expected.size());
}

TEST(FileWriter, WritesBufferedBehindASlowWriteAreGathered) {
  temp_dir dir;
  manual_loop loop;
  auto out = sluice::make_file_writer(loop, dir / "out.txt");
  // Before the open completes every write is buffered; they then go out together.
  std::string expected;
  for (int i = 0; i < 2000; ++i) {  // more than IOV_MAX (1024) chunks: split over calls
    const std::string piece = std::to_string(i) + ",";
    expected += piece;
    out->write(buffer::copy_of(piece));
  }
  out->end();
  run(loop);
  EXPECT_EQ(read_file(dir / "out.txt"), expected);
  EXPECT_EQ(out->write_batches(), 1u);
  EXPECT_EQ(out->write_syscalls(), 2u);
}

TEST(FileWriter, AtomicRenamesIntoPlaceOnFinish) {
  temp_dir dir;
  write_file(dir / "out.txt", "old");
  manual_loop loop;
  auto out =
      sluice::make_file_writer(loop, dir / "out.txt", {.atomic = true, .sync_on_finish = true});
  out->write(buffer::copy_of("new "));
  run(loop);
  // Midway: the target still has its old content; the bytes are in a hidden temporary.
  EXPECT_EQ(read_file(dir / "out.txt"), "old");
  ASSERT_FALSE(out->temp_path().empty());
  EXPECT_EQ(out->temp_path().parent_path(), dir.path());
  EXPECT_EQ(out->temp_path().filename().string().rfind(".out.txt.sluice-", 0), 0u);
  EXPECT_EQ(read_file(out->temp_path()), "new ");
  out->end(buffer::copy_of("content"));
  run(loop);
  EXPECT_TRUE(out->finished());
  EXPECT_EQ(read_file(dir / "out.txt"), "new content");
  EXPECT_EQ(dir.entries(), std::vector<std::string>{"out.txt"});
}

TEST(FileWriter, AtomicDestroyMidwayLeavesNothingBehind) {
  temp_dir dir;
  write_file(dir / "in.bin", pattern(2 * 1024 * 1024));
  manual_loop loop;
  auto in = sluice::make_file_reader(loop, dir / "in.bin");
  auto out = sluice::make_file_writer(loop, dir / "out.bin", {.atomic = true});
  auto o = watch(*out);
  std::size_t seen = 0;
  in->on_data([&](buffer&& b) {
    seen += b.size();
    if (seen >= 512 * 1024 && !out->destroyed())
      out->destroy(std::make_error_code(std::errc::io_error));
  });
  in->pipe(out);
  run(loop);
  in->destroy();
  run(loop);
  EXPECT_EQ(o->error, std::errc::io_error);
  EXPECT_TRUE(o->closed);
  EXPECT_FALSE(o->finished);
  EXPECT_GT(out->bytes_written(), 0u);  // something had been written to the temporary
  EXPECT_EQ(dir.entries(), std::vector<std::string>{"in.bin"});
}

TEST(FileWriter, AtomicDestroyKeepsTheOldTarget) {
  temp_dir dir;
  write_file(dir / "cfg", "v1");
  manual_loop loop;
  auto out = sluice::make_file_writer(loop, dir / "cfg", {.atomic = true});
  out->write(buffer::copy_of("v2 half"));
  run(loop);
  out->destroy();
  run(loop);
  EXPECT_TRUE(out->closed());
  EXPECT_EQ(read_file(dir / "cfg"), "v1");
  EXPECT_EQ(dir.entries(), std::vector<std::string>{"cfg"});
}

TEST(FileWriter, AtomicWithAppendIsRejected) {
  manual_loop loop;
  EXPECT_THROW((void)sluice::make_file_writer(loop, "x",
                                              {.flags = sluice::open_mode::append, .atomic = true}),
               std::system_error);
}

TEST(FileWriter, WriteErrorNamesTheFile) {
  // /dev/full accepts open(2) and fails every write with ENOSPC: a real disk-full error.
  if (!fs::exists("/dev/full")) GTEST_SKIP() << "no /dev/full";
  manual_loop loop;
  auto out = sluice::make_file_writer(loop, "/dev/full");
  auto o = watch(*out);
  std::error_code write_ec;
  out->write(buffer::copy_of("data"), [&](std::error_code ec) { write_ec = ec; });
  out->end();
  run(loop);
  EXPECT_EQ(o->error, std::errc::no_space_on_device);
  EXPECT_EQ(write_ec, std::errc::no_space_on_device);
  EXPECT_EQ(out->error_message(), "write '/dev/full': No space left on device");
}

}  // namespace
