// copy_file (sluice/io/copy_file.hpp) on real files: byte-exact copies in one or many slices, the
// kernel copy and its pread/pwrite fallback, atomic replacement, errors that name the file,
// cancellation, and no descriptor or temporary file left behind.
#include "sluice/io/copy_file.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <system_error>

#include "sluice/core/asio_loop.hpp"
#include "sluice/core/error.hpp"
#include "sluice/core/loop.hpp"
#include "support/temp_files.hpp"

namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using sluice::copy_file_options;
using sluice::manual_loop;
using sluice::test::open_fd_count;
using sluice::test::pattern;
using sluice::test::read_file;
using sluice::test::temp_dir;
using sluice::test::write_file;

struct copy_outcome {
  int calls = 0;
  std::error_code ec;
};

// Runs one copy on a manual loop to the end.
copy_outcome copy_and_wait(const fs::path& from, const fs::path& to, copy_file_options o,
                           std::shared_ptr<sluice::file_copy>* handle = nullptr) {
  manual_loop loop;
  copy_outcome out;
  auto c = sluice::copy_file(loop, from, to, o, [&out](std::error_code ec) {
    ++out.calls;
    out.ec = ec;
  });
  EXPECT_EQ(out.calls, 0) << "the callback must not run inside copy_file()";
  EXPECT_TRUE(loop.run_until_quiet_for(20s));
  if (handle != nullptr) *handle = c;
  return out;
}

class CopyFile : public testing::TestWithParam<std::size_t> {};

TEST_P(CopyFile, CopiesByteExactInSlicesAndClosesEverything) {
  temp_dir dir;
  const std::string content = pattern(GetParam());
  write_file(dir / "in.bin", content);
  const std::size_t fds_before = open_fd_count();
  std::shared_ptr<sluice::file_copy> c;
  // Slices of 100 000 bytes: the larger sizes take several pool jobs.
  const copy_outcome r = copy_and_wait(dir / "in.bin", dir / "out.bin", {.slice = 100000}, &c);
  EXPECT_EQ(r.calls, 1);
  EXPECT_FALSE(r.ec) << c->error_message();
  EXPECT_EQ(read_file(dir / "out.bin"), content);
  EXPECT_EQ(c->bytes_copied(), content.size());
  EXPECT_EQ(c->size(), content.size());
  EXPECT_TRUE(c->completed());
  EXPECT_EQ(c->slices(), content.size() / 100000 + 1);  // the last one finds the end
  EXPECT_EQ(open_fd_count(), fds_before);
}

INSTANTIATE_TEST_SUITE_P(Sizes, CopyFile, testing::Values(0, 1, 99999, 100000, 1000003));

TEST(CopyFileKernel, ReplacesAnExistingFileAndKeepsTheSourceMode) {
  temp_dir dir;
  const std::string content = pattern(300000, 2);
  write_file(dir / "in.bin", content);
  ASSERT_EQ(::chmod((dir / "in.bin").c_str(), 0640), 0);
  write_file(dir / "out.bin", std::string(1000000, 'x'));  // longer: must be truncated
  const copy_outcome r = copy_and_wait(dir / "in.bin", dir / "out.bin", {});
  ASSERT_FALSE(r.ec);
  EXPECT_EQ(read_file(dir / "out.bin"), content);
  // A file it creates gets the source's permissions (as cp does), before the umask.
  const copy_outcome created = copy_and_wait(dir / "in.bin", dir / "new.bin", {});
  ASSERT_FALSE(created.ec);
  const auto perms = fs::status(dir / "new.bin").permissions();
  EXPECT_EQ(perms & fs::perms::others_all, fs::perms::none);
  EXPECT_NE(perms & fs::perms::owner_read, fs::perms::none);
}

TEST(CopyFileFallback, AppendGoesThroughReadAndWrite) {
  temp_dir dir;
  const std::string content = pattern(2500000, 3);
  write_file(dir / "in.bin", content);
  write_file(dir / "out.bin", "head:");
  std::shared_ptr<sluice::file_copy> c;
  const copy_outcome r =
      copy_and_wait(dir / "in.bin", dir / "out.bin", {.flags = sluice::open_mode::append}, &c);
  ASSERT_FALSE(r.ec) << c->error_message();
  EXPECT_TRUE(c->fell_back());
  EXPECT_EQ(read_file(dir / "out.bin"), "head:" + content);
}

TEST(CopyFileFallback, ASourceWithoutASizeIsReadToItsEnd) {
  temp_dir dir;
  // /proc files report size 0 and refuse copy_file_range's offsets: read until read(2) says 0.
  std::shared_ptr<sluice::file_copy> c;
  const copy_outcome r = copy_and_wait("/proc/self/status", dir / "status.txt", {}, &c);
  ASSERT_FALSE(r.ec) << c->error_message();
  const std::string copied = read_file(dir / "status.txt");
  EXPECT_NE(copied.find("Name:"), std::string::npos) << copied;
  EXPECT_EQ(c->bytes_copied(), copied.size());
}

TEST(CopyFileAtomic, RenamesIntoPlaceAndLeavesNoTemporary) {
  temp_dir dir;
  const std::string content = pattern(700000, 4);
  write_file(dir / "in.bin", content);
  const copy_outcome r = copy_and_wait(dir / "in.bin", dir / "out.bin", {.atomic = true});
  ASSERT_FALSE(r.ec);
  EXPECT_EQ(read_file(dir / "out.bin"), content);
  EXPECT_EQ(dir.entries(), (std::vector<std::string>{"in.bin", "out.bin"}));
}

TEST(CopyFileAtomic, CancelKeepsTheOldTargetAndRemovesTheTemporary) {
  temp_dir dir;
  write_file(dir / "in.bin", pattern(1000000, 5));
  write_file(dir / "out.bin", "old content");
  const std::size_t fds_before = open_fd_count();
  manual_loop loop;
  std::optional<std::error_code> got;
  auto c = sluice::copy_file(loop, dir / "in.bin", dir / "out.bin", {.atomic = true, .slice = 4096},
                             [&got](std::error_code ec) { got = ec; });
  c->cancel();  // before the files are even open
  ASSERT_TRUE(loop.run_until_quiet_for(20s));
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(*got, sluice::make_error_code(sluice::errc::aborted));
  EXPECT_EQ(read_file(dir / "out.bin"), "old content");
  EXPECT_EQ(dir.entries(), (std::vector<std::string>{"in.bin", "out.bin"}));
  EXPECT_LT(c->bytes_copied(), 1000000u);
  EXPECT_EQ(open_fd_count(), fds_before);
}

TEST(CopyFileAtomic, CancelMidwayStopsAfterTheSliceInFlight) {
  temp_dir dir;
  write_file(dir / "in.bin", pattern(1000000, 6));
  boost::asio::io_context io;
  sluice::asio_loop loop(io);
  std::optional<std::error_code> got;
  std::shared_ptr<sluice::file_copy> c;
  c = sluice::copy_file(loop, dir / "in.bin", dir / "out.bin", {.atomic = true, .slice = 4096},
                        [&got](std::error_code ec) { got = ec; });
  // Cancel from a timer once some slices have gone through.
  std::function<void()> poll = [&] {
    if (c->bytes_copied() >= 8192 || c->completed()) {
      c->cancel();
    } else {
      (void)loop.start_timer(0ms, poll);
    }
  };
  (void)loop.start_timer(0ms, poll);
  io.run();
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(*got, sluice::make_error_code(sluice::errc::aborted));
  EXPECT_GE(c->bytes_copied(), 8192u);
  EXPECT_LT(c->bytes_copied(), 1000000u);
  EXPECT_FALSE(fs::exists(dir / "out.bin"));
  EXPECT_EQ(dir.entries(), (std::vector<std::string>{"in.bin"}));
}

TEST(CopyFileErrors, MissingSourceNamesItAndCreatesNothing) {
  temp_dir dir;
  std::shared_ptr<sluice::file_copy> c;
  const copy_outcome r = copy_and_wait(dir / "gone.bin", dir / "out.bin", {.atomic = true}, &c);
  EXPECT_EQ(r.ec, std::errc::no_such_file_or_directory);
  EXPECT_EQ(c->error_message(),
            "open '" + (dir / "gone.bin").string() + "': No such file or directory");
  EXPECT_TRUE(dir.entries().empty());
}

TEST(CopyFileErrors, MissingDestinationDirectoryNamesTheDestination) {
  temp_dir dir;
  write_file(dir / "in.bin", "abc");
  std::shared_ptr<sluice::file_copy> c;
  const copy_outcome r = copy_and_wait(dir / "in.bin", dir / "no" / "out.bin", {}, &c);
  EXPECT_EQ(r.ec, std::errc::no_such_file_or_directory);
  EXPECT_EQ(c->error_message(),
            "open '" + (dir / "no" / "out.bin").string() + "': No such file or directory");
}

TEST(CopyFileErrors, ExclusiveRefusesAnExistingFile) {
  temp_dir dir;
  write_file(dir / "in.bin", "new");
  write_file(dir / "out.bin", "old");
  for (const bool atomic : {false, true}) {
    const copy_outcome r = copy_and_wait(dir / "in.bin", dir / "out.bin",
                                         {.flags = sluice::open_mode::exclusive, .atomic = atomic});
    EXPECT_EQ(r.ec, std::errc::file_exists) << "atomic " << atomic;
    EXPECT_EQ(read_file(dir / "out.bin"), "old");
    EXPECT_EQ(dir.entries(), (std::vector<std::string>{"in.bin", "out.bin"}));
  }
}

TEST(CopyFileErrors, CopyingAFileOntoItselfIsRefusedAndLosesNothing) {
  temp_dir dir;
  const std::string content = pattern(5000, 7);
  write_file(dir / "a.bin", content);
  std::shared_ptr<sluice::file_copy> c;
  const copy_outcome r = copy_and_wait(dir / "a.bin", dir / "a.bin", {}, &c);
  EXPECT_EQ(r.ec, std::errc::invalid_argument);
  EXPECT_NE(c->error_message().find("the same file"), std::string::npos) << c->error_message();
  EXPECT_EQ(read_file(dir / "a.bin"), content);
}

TEST(CopyFileErrors, AFullDeviceFailsNamingTheDestination) {
  if (!fs::exists("/dev/full")) GTEST_SKIP() << "no /dev/full";
  temp_dir dir;
  write_file(dir / "in.bin", pattern(100000, 8));
  std::shared_ptr<sluice::file_copy> c;
  const copy_outcome r = copy_and_wait(dir / "in.bin", "/dev/full", {}, &c);
  EXPECT_EQ(r.ec, std::errc::no_space_on_device);
  EXPECT_NE(c->error_message().find("'/dev/full'"), std::string::npos) << c->error_message();
}

TEST(CopyFileErrors, AtomicWithAppendOrAZeroSliceIsRejectedAtTheCallSite) {
  manual_loop loop;
  EXPECT_THROW((void)sluice::copy_file(loop, "a", "b",
                                       {.flags = sluice::open_mode::append, .atomic = true}, {}),
               std::system_error);
  EXPECT_THROW((void)sluice::copy_file(loop, "a", "b", {.slice = 0}, {}), std::system_error);
}

}  // namespace
