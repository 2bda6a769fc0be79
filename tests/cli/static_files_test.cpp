// Tests of `sluice serve`'s decisions (tools/sluice/static_files.hpp): which file a target
// names, content types, Range, HTTP dates, log lines.
#include "static_files.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

namespace {

namespace fs = std::filesystem;
using namespace sluice::cli;

class StaticFiles : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::temp_directory_path() / "sluice-static-XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    base_ = tmpl;
    root_ = base_ / "site";
    fs::create_directories(root_ / "docs");
    fs::create_directories(root_ / "empty");
    write(root_ / "index.html", "<h1>hi</h1>");
    write(root_ / "docs" / "a b.txt", "spaced");
    write(root_ / "docs" / "index.html", "docs");
    write(base_ / "secret.txt", "outside");
    root_ = fs::canonical(root_);
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(base_, ec);
  }
  static void write(const fs::path& p, const std::string& s) { std::ofstream(p) << s; }

  fs::path base_;
  fs::path root_;
};

TEST_F(StaticFiles, ServesFilesAndDirectoryIndexes) {
  EXPECT_EQ(resolve_served_path(root_, "/").file, root_ / "index.html");
  EXPECT_EQ(resolve_served_path(root_, "/docs/").file, root_ / "docs" / "index.html");
  EXPECT_EQ(resolve_served_path(root_, "/docs").file, root_ / "docs" / "index.html");
  const auto spaced = resolve_served_path(root_, "/docs/a%20b.txt?download=1");
  EXPECT_EQ(spaced.status, 200);
  EXPECT_EQ(spaced.file, root_ / "docs" / "a b.txt");
  EXPECT_EQ(resolve_served_path(root_, "/docs//./a%20b.txt").status, 200);
}

TEST_F(StaticFiles, RefusesWhatIsMissingOrOutside) {
  EXPECT_EQ(resolve_served_path(root_, "/nope.txt").status, 404);
  EXPECT_EQ(resolve_served_path(root_, "/empty/").status, 403);
  EXPECT_EQ(resolve_served_path(root_, "/../secret.txt").status, 400);
  EXPECT_EQ(resolve_served_path(root_, "/docs/%2e%2e/%2e%2e/secret.txt").status, 400);
  EXPECT_EQ(resolve_served_path(root_, "/docs%2F..%2F..%2Fsecret.txt").status, 400);
  EXPECT_EQ(resolve_served_path(root_, "/a%00b").status, 400);
  EXPECT_EQ(resolve_served_path(root_, "http://host/index.html").status, 400);
  EXPECT_EQ(resolve_served_path(root_, "*").status, 400);
  // A link inside the tree that leads out of it is refused; one that stays inside is served.
  fs::create_symlink(base_ / "secret.txt", root_ / "leak.txt");
  fs::create_symlink(root_ / "index.html", root_ / "home.html");
  EXPECT_EQ(resolve_served_path(root_, "/leak.txt").status, 403);
  EXPECT_EQ(resolve_served_path(root_, "/home.html").status, 200);
  // Not a regular file.
  ASSERT_EQ(::mkfifo((root_ / "fifo").c_str(), 0600), 0);
  EXPECT_EQ(resolve_served_path(root_, "/fifo").status, 403);
}

TEST_F(StaticFiles, UnreadableFileIsForbidden) {
  if (::geteuid() == 0) GTEST_SKIP() << "root reads every file";
  write(root_ / "private.txt", "x");
  fs::permissions(root_ / "private.txt", fs::perms::none);
  EXPECT_EQ(resolve_served_path(root_, "/private.txt").status, 403);
}

TEST(StaticFileTypes, ByExtension) {
  EXPECT_EQ(content_type_for("a/index.html"), "text/html; charset=utf-8");
  EXPECT_EQ(content_type_for("A.PNG"), "image/png");
  EXPECT_EQ(content_type_for("app.js"), "text/javascript; charset=utf-8");
  EXPECT_EQ(content_type_for("data"), "application/octet-stream");
  EXPECT_EQ(content_type_for("x.unknownext"), "application/octet-stream");
}

TEST(StaticFileRange, OneRange) {
  using k = range_answer::kind;
  auto r = parse_range("bytes=0-99", 1000);
  EXPECT_EQ(r.what, k::partial);
  EXPECT_EQ(r.range.first, 0u);
  EXPECT_EQ(r.range.last, 99u);
  r = parse_range("bytes=900-", 1000);
  EXPECT_EQ(r.range.first, 900u);
  EXPECT_EQ(r.range.length(), 100u);
  r = parse_range("bytes=-10", 1000);
  EXPECT_EQ(r.range.first, 990u);
  EXPECT_EQ(r.range.last, 999u);
  r = parse_range("bytes=-5000", 1000);  // more than the file: all of it, as a 206
  EXPECT_EQ(r.what, k::partial);
  EXPECT_EQ(r.range.first, 0u);
  r = parse_range("bytes=500-5000", 1000);  // clipped
  EXPECT_EQ(r.range.last, 999u);
  EXPECT_EQ(parse_range("bytes=1000-", 1000).what, k::unsatisfiable);
  EXPECT_EQ(parse_range("bytes=-0", 1000).what, k::unsatisfiable);
  EXPECT_EQ(parse_range("bytes=0-", 0).what, k::unsatisfiable);
  // Ignored: the whole file.
  EXPECT_EQ(parse_range("bytes=0-1,5-6", 1000).what, k::whole);
  EXPECT_EQ(parse_range("items=0-1", 1000).what, k::whole);
  EXPECT_EQ(parse_range("bytes=9-3", 1000).what, k::whole);
  EXPECT_EQ(parse_range("bytes=x-3", 1000).what, k::whole);
  EXPECT_EQ(parse_range("bytes=", 1000).what, k::whole);
}

TEST(StaticFileDates, RoundTrip) {
  EXPECT_EQ(http_date(784111777), "Sun, 06 Nov 1994 08:49:37 GMT");
  EXPECT_EQ(parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT"),
            std::optional<std::time_t>(784111777));
  const std::time_t now = std::time(nullptr);
  EXPECT_EQ(parse_http_date(http_date(now)), std::optional<std::time_t>(now));
  EXPECT_FALSE(parse_http_date("Sunday, 06-Nov-94 08:49:37 GMT"));
  EXPECT_FALSE(parse_http_date("Sun, 06 Nov 1994 08:49:37 UTC"));
  EXPECT_FALSE(parse_http_date("Sun, 06 Foo 1994 08:49:37 GMT"));
  EXPECT_FALSE(parse_http_date(""));
}

TEST(StaticFileLog, CommonLogFormatWithEscapes) {
  EXPECT_EQ(log_line("127.0.0.1", 784111777, "GET", "/a.txt", 11, 200, 1234),
            "127.0.0.1 - - [06/Nov/1994:08:49:37 +0000] \"GET /a.txt HTTP/1.1\" 200 1234");
  EXPECT_EQ(log_line("::1", 784111777, "HEAD", "/", 10, 304, 0),
            "::1 - - [06/Nov/1994:08:49:37 +0000] \"HEAD / HTTP/1.0\" 304 -");
  // A target cannot forge a second line or close the quotes.
  const std::string l = log_line("1.2.3.4", 0, "GET", "/x\"\n5.6.7.8 - -", 11, 404, 0);
  EXPECT_EQ(l.find('\n'), std::string::npos);
  EXPECT_NE(l.find("/x\\x22\\x0a5.6.7.8"), std::string::npos);
}

std::string text_of(const std::optional<sluice::buffer>& b) {
  return b ? b->to_string() : std::string("<none>");
}

TEST_F(StaticFiles, CacheAnswersHitsFromMemoryAndSeesAChangedFile) {
  static_file_cache cache(root_);
  auto first = cache.get("/docs/a%20b.txt");
  ASSERT_EQ(first->where.status, 200);
  EXPECT_EQ(text_of(first->bytes), "spaced");
  EXPECT_EQ(first->content_type, "text/plain; charset=utf-8");
  EXPECT_EQ(first->last_modified, http_date(first->where.modified));
  auto again = cache.get("/docs/a%20b.txt");
  EXPECT_EQ(again, first);  // the same entry, not resolved again
  EXPECT_EQ(cache.stats().hits, 1u);
  EXPECT_EQ(cache.stats().misses, 1u);

  write(root_ / "docs" / "a b.txt", "changed, longer");
  auto changed = cache.get("/docs/a%20b.txt");
  EXPECT_EQ(text_of(changed->bytes), "changed, longer");
  EXPECT_EQ(changed->where.size, 15u);
  EXPECT_EQ(cache.stats().changed, 1u);

  // Same size, new time: seen too (to the nanosecond).
  write(root_ / "docs" / "a b.txt", "CHANGED, LONGER");
  struct timespec times[2] = {{0, UTIME_OMIT}, {1'000'000'000, 5}};
  ASSERT_EQ(::utimensat(AT_FDCWD, (root_ / "docs" / "a b.txt").c_str(), times, 0), 0);
  EXPECT_EQ(text_of(cache.get("/docs/a%20b.txt")->bytes), "CHANGED, LONGER");

  fs::remove(root_ / "docs" / "a b.txt");
  EXPECT_EQ(cache.get("/docs/a%20b.txt")->where.status, 404);
  EXPECT_EQ(cache.get("/docs/a%20b.txt")->where.status, 404);  // refusals are not kept
  EXPECT_EQ(cache.size(), 0u);
}

TEST_F(StaticFiles, CacheKeepsLargeFilesWithoutTheirBytesAndStaysWithinItsBounds) {
  write(root_ / "big.bin", std::string(100, 'x'));
  write(root_ / "c.txt", "c");
  static_file_cache cache(root_, {.max_entries = 2, .max_file_bytes = 50, .max_bytes = 60});
  auto big = cache.get("/big.bin");
  EXPECT_EQ(big->where.status, 200);
  EXPECT_EQ(big->where.size, 100u);
  EXPECT_FALSE(big->bytes.has_value());  // sent from the file (sendfile)
  EXPECT_EQ(text_of(cache.get("/")->bytes), "<h1>hi</h1>");
  EXPECT_EQ(text_of(cache.get("/c.txt")->bytes), "c");
  EXPECT_EQ(cache.size(), 2u);  // the least recently used (/big.bin) went
  EXPECT_EQ(cache.bytes_held(), 12u);
  (void)cache.get("/big.bin");
  EXPECT_EQ(cache.stats().misses, 4u);
  EXPECT_LE(cache.bytes_held(), 60u);
}

TEST_F(StaticFiles, CacheRedoesTheResolutionAfterItsValidity) {
  fs::create_symlink(root_ / "docs" / "a b.txt", root_ / "link.txt");
  static_file_cache trusting(root_);  // validity 1 s
  static_file_cache strict(root_, {.validity = std::chrono::seconds(0)});
  EXPECT_EQ(trusting.get("/link.txt")->where.status, 200);
  EXPECT_EQ(strict.get("/link.txt")->where.status, 200);
  EXPECT_EQ(strict.stats().hits, 0u);
  // The link retargeted outside the root; the file it led to is unchanged. Within its
  // validity the resolution is trusted; after it, it is redone and refused.
  fs::remove(root_ / "link.txt");
  fs::create_symlink(base_ / "secret.txt", root_ / "link.txt");
  EXPECT_EQ(trusting.get("/link.txt")->where.status, 200);
  EXPECT_EQ(trusting.stats().hits, 1u);
  EXPECT_EQ(strict.get("/link.txt")->where.status, 403);
  EXPECT_EQ(strict.stats().misses, 2u);
}

}  // namespace
