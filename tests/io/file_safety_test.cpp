// Where a file_writer's and copy_file's bytes go (docs/files.md): FIFOs written in place, links
// followed, directories refused, modes and times kept, temporaries removable from a signal
// handler; and inputs that change while they are read.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <future>
#include <memory>
#include <string>
#include <thread>

#include "sluice/core/error.hpp"
#include "sluice/core/loop.hpp"
#include "sluice/io/copy_file.hpp"
#include "sluice/io/file.hpp"
#include "sluice/io/temporary_files.hpp"
#include "support/temp_files.hpp"

namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using sluice::buffer;
using sluice::manual_loop;
using sluice::test::read_file;
using sluice::test::temp_dir;
using sluice::test::write_file;

struct outcome {
  bool finished = false;
  std::error_code error;
  std::string message;
};

// Writes `text` in chunks to a writer made with `opts`, runs the loop to the end.
outcome write_all(const fs::path& p, const std::string& text, sluice::file_writer_options opts,
                  std::shared_ptr<sluice::file_writer>* keep = nullptr) {
  manual_loop loop;
  auto w = sluice::make_file_writer(loop, p, std::move(opts));
  auto o = std::make_shared<outcome>();
  w->on_finish([o] { o->finished = true; });
  w->on_error([o, w](std::error_code ec) {
    o->error = ec;
    o->message = w->error_message();
  });
  for (std::size_t i = 0; i < text.size(); i += 10000)
    w->write(buffer(std::string(text.substr(i, 10000))));
  w->end();
  EXPECT_TRUE(loop.run_until_quiet_for(20s));
  if (keep != nullptr) *keep = w;
  return *o;
}

unsigned mode_of(const fs::path& p) {
  struct stat st {};
  return ::stat(p.c_str(), &st) == 0 ? st.st_mode & 07777 : 0;
}

TEST(FileSafety, AFifoIsWrittenInPlaceEvenWhenAtomicIsAsked) {
  temp_dir dir;
  const fs::path fifo = dir / "fifo";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  const std::string text = sluice::test::pattern(300000);
  auto got = std::async(std::launch::async, [&] { return read_file(fifo); });
  std::shared_ptr<sluice::file_writer> w;
  const outcome o = write_all(fifo, text, {.atomic = true}, &w);
  EXPECT_TRUE(o.finished) << o.message;
  EXPECT_FALSE(w->seekable());
  EXPECT_EQ(got.get(), text);
  struct stat st {};
  ASSERT_EQ(::lstat(fifo.c_str(), &st), 0);
  EXPECT_TRUE(S_ISFIFO(st.st_mode));
  EXPECT_EQ(dir.entries().size(), 1u);  // no temporary was made
}

TEST(FileSafety, ADirectoryIsRefusedWithEisdir) {
  temp_dir dir;
  fs::create_directory(dir / "d");
  for (const bool atomic : {false, true}) {
    const outcome o = write_all(dir / "d", "x", {.atomic = atomic});
    EXPECT_EQ(o.error, std::errc::is_a_directory);
    EXPECT_EQ(o.message, "open '" + (dir / "d").string() + "': Is a directory");
  }
  EXPECT_TRUE(fs::is_empty(dir / "d"));
}

TEST(FileSafety, SymlinksAreFollowedAndStayLinks) {
  temp_dir dir;
  fs::create_symlink("target", dir / "link");
  const outcome created = write_all(dir / "link", "first", {.atomic = true});  // dangling
  EXPECT_TRUE(created.finished) << created.message;
  const outcome replaced = write_all(dir / "link", "second", {.atomic = true});
  EXPECT_TRUE(replaced.finished) << replaced.message;
  EXPECT_TRUE(fs::is_symlink(dir / "link"));
  EXPECT_EQ(read_file(dir / "target"), "second");
  // A loop of links is an error, not a hang.
  fs::create_symlink("b", dir / "a");
  fs::create_symlink("a", dir / "b");
  EXPECT_EQ(write_all(dir / "a", "x", {.atomic = true}).error,
            std::errc::too_many_symbolic_link_levels);
}

TEST(FileSafety, AnAtomicReplacementKeepsTheOldFilesMode) {
  temp_dir dir;
  write_file(dir / "out", "old");
  fs::permissions(dir / "out", fs::perms::owner_read | fs::perms::owner_write);
  EXPECT_TRUE(write_all(dir / "out", "new", {.mode = 0666, .atomic = true}).finished);
  EXPECT_EQ(mode_of(dir / "out"), 0600u);
  EXPECT_EQ(read_file(dir / "out"), "new");
}

TEST(FileSafety, MetadataFromGivesTheSourcesModeAndTimesAndNeverMore) {
  temp_dir dir;
  write_file(dir / "src", "data");
  ASSERT_EQ(::chmod((dir / "src").c_str(), 0640), 0);
  const struct timespec times[2] = {{1000000000, 0}, {1200000000, 500}};
  ASSERT_EQ(::utimensat(AT_FDCWD, (dir / "src").c_str(), times, 0), 0);
  EXPECT_TRUE(write_all(dir / "new", "x", {.atomic = true, .metadata_from = dir / "src"}).finished);
  struct stat st {};
  ASSERT_EQ(::stat((dir / "new").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0640u);
  EXPECT_EQ(st.st_mtim.tv_sec, 1200000000);
  EXPECT_EQ(st.st_atim.tv_sec, 1000000000);
  // An existing output more open than the source is narrowed to the source's mode.
  write_file(dir / "open", "old");
  ASSERT_EQ(::chmod((dir / "open").c_str(), 0666), 0);
  EXPECT_TRUE(
      write_all(dir / "open", "x", {.atomic = true, .metadata_from = dir / "src"}).finished);
  EXPECT_EQ(mode_of(dir / "open"), 0640u);
  // A missing source is named in the error.
  const outcome o = write_all(dir / "o2", "x", {.atomic = true, .metadata_from = dir / "nope"});
  EXPECT_EQ(o.message, "stat '" + (dir / "nope").string() + "': No such file or directory");
}

TEST(FileSafety, RemoveTemporaryFilesRemovesAnOpenAtomicWritesTemporary) {
  temp_dir dir;
  manual_loop loop;
  auto w = sluice::make_file_writer(loop, dir / "out", {.atomic = true});
  w->write(buffer(std::string("partial")));
  ASSERT_TRUE(loop.run_until_quiet_for(20s));
  ASSERT_FALSE(w->temp_path().empty());
  EXPECT_TRUE(fs::exists(w->temp_path()));
  EXPECT_TRUE(w->temp_path().is_absolute());
  sluice::remove_temporary_files();
  EXPECT_FALSE(fs::exists(w->temp_path()));
  EXPECT_TRUE(dir.entries().empty());
  w->destroy();
  ASSERT_TRUE(loop.run_until_quiet_for(20s));
  EXPECT_TRUE(dir.entries().empty());
}

TEST(FileSafety, AReaderFailsWhenItsFileShrinksWhileRead) {
  temp_dir dir;
  write_file(dir / "in", sluice::test::pattern(1 << 20));
  manual_loop loop;
  auto r = sluice::make_file_reader(loop, dir / "in",
                                    {.high_water_mark = 65536, .fail_if_changed = true});
  std::size_t got = 0;
  std::error_code error;
  bool truncated = false;
  r->on_data([&](buffer&& b) {
    got += b.size();
    if (!truncated) {
      truncated = true;
      fs::resize_file(dir / "in", 100000);
    }
  });
  r->on_error([&](std::error_code ec) { error = ec; });
  ASSERT_TRUE(loop.run_until_quiet_for(20s));
  EXPECT_EQ(error, sluice::errc::source_changed);
  EXPECT_NE(r->error_message().find("(1048576 bytes when opened, 100000 at the end"),
            std::string::npos)
      << r->error_message();
}

TEST(FileSafety, AReaderWithoutTheCheckReadsAGrowingFileToItsNewEnd) {
  temp_dir dir;
  write_file(dir / "in", "abc");
  manual_loop loop;
  auto r = sluice::make_file_reader(loop, dir / "in", {.high_water_mark = 1});
  std::string got;
  bool grown = false;
  r->on_data([&](buffer&& b) {
    got.append(b.view());
    if (!grown) {
      grown = true;
      std::ofstream(dir / "in", std::ios::app) << "def";
    }
  });
  ASSERT_TRUE(loop.run_until_quiet_for(20s));
  EXPECT_EQ(got, "abcdef");
}

TEST(FileSafety, CopyFileToAFifoWritesEveryByteAndChecksTheSource) {
  temp_dir dir;
  const std::string text = sluice::test::pattern(3 << 20);
  write_file(dir / "in", text);
  ASSERT_EQ(::mkfifo((dir / "fifo").c_str(), 0600), 0);
  auto got = std::async(std::launch::async, [&] { return read_file(dir / "fifo"); });
  manual_loop loop;
  std::error_code result{sluice::errc::aborted};
  auto c =
      sluice::copy_file(loop, dir / "in", dir / "fifo", {.atomic = true, .fail_if_changed = true},
                        [&](std::error_code ec) { result = ec; });
  ASSERT_TRUE(loop.run_until_quiet_for(20s));
  EXPECT_FALSE(result) << c->error_message();
  EXPECT_TRUE(c->fell_back());
  EXPECT_EQ(got.get(), text);
}

}  // namespace
