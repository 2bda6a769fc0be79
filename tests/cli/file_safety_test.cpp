// The CLI never destroys what is not its own: special files given as outputs are written in
// place, symlinks are followed, modes and times are kept, signals leave no temporary behind, and
// an input that changes while it is read fails the command. Run as root (device nodes made with
// mknod in the test's directory) and, through tests/support/run-unprivileged.sh, as an
// unprivileged user (the nodes made beforehand by root, in a directory the user owns).
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <chrono>
#include <thread>

#include "cli/cli_fixture.hpp"

namespace {

using namespace sluice::cli::testing;

class FileSafetyCli : public CliTest {
 protected:
  // A character device like the system's `name` (full: every write fails with ENOSPC; null:
  // every write succeeds), made in a directory the test may use: its own as root, the one
  // run-unprivileged.sh prepared otherwise. Empty when neither is possible (the test is skipped).
  fs::path device(const std::string& name, unsigned minor) {
    if (const char* dir = std::getenv("SLUICE_TEST_DEVICE_DIR"); dir != nullptr && *dir != 0)
      return fs::path(dir) / name;
    if (::geteuid() != 0) return {};
    const fs::path p = path(name);
    if (::mknod(p.c_str(), S_IFCHR | 0666, makedev(1, minor)) != 0) return {};
    return p;
  }

  static bool is_char_device(const fs::path& p) {
    struct stat st {};
    return ::lstat(p.c_str(), &st) == 0 && S_ISCHR(st.st_mode);
  }

  // Starts a pipeline reading a FIFO that is fed but not closed, waits for its temporary file,
  // sends `sig` and returns the exit status the shell saw. (A background job of a
  // non-interactive shell ignores SIGINT: env --default-signal gives it back.)
  int status_after_signal(const std::string& sig) {
    const result r =
        sh("mkfifo feed; (head -c 1000000 in.txt; exec sleep 30) > feed & w=$!; "
           "env --default-signal=INT \"$SLUICE\" run 'read feed | gzip | write out.gz' & p=$!; "
           "for i in $(seq 200); do ls -a | grep -q sluice- && break; sleep 0.05; done; "
           "kill -" +
           sig + " $p; wait $p; s=$?; kill $w 2>/dev/null; rm -f feed; exit $s");
    return r.status;
  }

  static unsigned mode_of(const fs::path& p) {
    struct stat st {};
    return ::stat(p.c_str(), &st) == 0 ? st.st_mode & 07777 : 0;
  }

  static std::int64_t mtime_of(const fs::path& p) {
    struct stat st {};
    return ::stat(p.c_str(), &st) == 0 ? st.st_mtim.tv_sec : -1;
  }

  // No ".NAME.sluice-XXXXXX" temporary left in the test directory.
  bool no_temporaries() const {
    for (const auto& f : files())
      if (f.find(".sluice-") != std::string::npos) return false;
    return true;
  }
};

// Each way the CLI writes a file, with OUT standing for the destination. (gzip on one thread:
// what is tested here is the destination; the multi-threaded gzip's teardown on a failed write
// is another matter.)
const std::vector<std::string> writers = {
    "\"$SLUICE\" gzip --threads 1 -o OUT in.txt",
    "\"$SLUICE\" cat -o OUT in.txt",
    "\"$SLUICE\" copy in.txt OUT",
    "\"$SLUICE\" copy --no-atomic in.txt OUT",
    "\"$SLUICE\" copy --stream in.txt OUT",
    "\"$SLUICE\" run 'read in.txt | gzip --threads 1 | write OUT'",
    "\"$SLUICE\" run 'read in.txt | gzip --threads 1 | write --no-atomic OUT'",
};

std::string with_output(std::string cmd, const std::string& out) {
  cmd.replace(cmd.find("OUT"), 3, "'" + out + "'");
  return cmd;
}

TEST_F(FileSafetyCli, AFullDeviceFailsWithNoSpaceAndStaysADevice) {
  const fs::path full = device("full", 7);
  if (full.empty()) GTEST_SKIP() << "needs root to make a device node";
  make_text("in.txt", 500000);
  for (const std::string& w : writers) {
    const result r = sh(with_output(w, full.string()));
    EXPECT_EQ(r.status, 1) << w << ": " << r.err;
    EXPECT_NE(r.err.find("No space left on device"), std::string::npos) << w << ": " << r.err;
    EXPECT_EQ(r.err.find('\n'), r.err.size() - 1) << w << ": " << r.err;
    EXPECT_TRUE(is_char_device(full)) << w << " replaced the device node";
  }
  EXPECT_TRUE(no_temporaries());
}

TEST_F(FileSafetyCli, ANullDeviceTakesTheBytesAndStaysADevice) {
  const fs::path null = device("null", 3);
  if (null.empty()) GTEST_SKIP() << "needs root to make a device node";
  make_text("in.txt", 300000);
  for (const std::string& w : writers) {
    const result r = sh(with_output(w, null.string()));
    EXPECT_EQ(r.status, 0) << w << ": " << r.err;
    EXPECT_TRUE(is_char_device(null)) << w << " replaced the device node";
  }
  EXPECT_TRUE(no_temporaries());
}

TEST_F(FileSafetyCli, AFifosReaderGetsEveryByte) {
  const std::string text = make_text("in.txt", 400000);
  for (const std::string& w : writers) {
    ASSERT_EQ(sh("rm -f fifo got && mkfifo fifo").status, 0);
    const result r =
        sh("timeout 20 cat fifo > got & " + with_output(w, "fifo") + "; s=$?; wait; exit $s");
    EXPECT_EQ(r.status, 0) << w << ": " << r.err;
    const bool gz = w.find("gzip") != std::string::npos;
    const std::string got = gz ? sh("gzip -dc got").out : slurp(path("got"));
    EXPECT_TRUE(same_bytes(got, text)) << w;
    struct stat st {};
    EXPECT_TRUE(::lstat(path("fifo").c_str(), &st) == 0 && S_ISFIFO(st.st_mode)) << w;
  }
  EXPECT_TRUE(no_temporaries());
}

TEST_F(FileSafetyCli, ASymlinkIsFollowedToItsTarget) {
  const std::string text = make_text("in.txt", 100000);
  fs::create_directory(path("sub"));
  fs::create_symlink("sub/real", path("link"));
  fs::create_symlink("link", path("link2"));  // a chain
  for (const std::string& w : writers) {
    fs::remove(path("sub/real"));  // a dangling link first: its target is created
    const result r = sh(with_output(w, "link2"));
    ASSERT_EQ(r.status, 0) << w << ": " << r.err;
    EXPECT_TRUE(fs::is_symlink(path("link"))) << w;
    EXPECT_TRUE(fs::is_symlink(path("link2"))) << w;
    const bool gz = w.find("gzip") != std::string::npos;
    EXPECT_TRUE(same_bytes(gz ? sh("gzip -dc sub/real").out : slurp(path("sub/real")), text)) << w;
  }
  EXPECT_TRUE(no_temporaries());
}

TEST_F(FileSafetyCli, ADirectoryIsAnError) {
  make_text("in.txt", 1000);
  fs::create_directory(path("d"));
  for (const std::string& w : writers) {
    const result r = sh(with_output(w, "d"));
    EXPECT_EQ(r.status, 1) << w;
    EXPECT_NE(r.err.find("'d': Is a directory"), std::string::npos) << w << ": " << r.err;
    EXPECT_TRUE(fs::is_empty(path("d"))) << w;
  }
}

TEST_F(FileSafetyCli, CompressorsKeepTheInputsModeAndTimes) {
  const std::string text = make_text("secret.txt", 50000);
  ASSERT_EQ(sh("chmod 600 secret.txt && touch -d '2020-02-03 04:05:06' secret.txt").status, 0);
  const std::int64_t mtime = mtime_of(path("secret.txt"));
  for (const char* c : {"gzip", "zstd", "brotli"}) {
    ASSERT_EQ(sh(std::string("\"$SLUICE\" ") + c + " secret.txt -o secret.x").status, 0) << c;
    EXPECT_EQ(mode_of(path("secret.x")), 0600u) << c;
    EXPECT_EQ(mtime_of(path("secret.x")), mtime) << c;
    fs::remove(path("secret.x"));
  }
  // Decompressing gives the compressed file's mode and time back, as gunzip does.
  ASSERT_EQ(sh("\"$SLUICE\" gzip secret.txt && mv secret.txt orig.txt").status, 0);
  ASSERT_EQ(sh("\"$SLUICE\" gunzip secret.txt.gz").status, 0);
  EXPECT_EQ(mode_of(path("secret.txt")), 0600u);
  EXPECT_EQ(mtime_of(path("secret.txt")), mtime);
  EXPECT_TRUE(same_bytes(slurp(path("secret.txt")), text));
}

TEST_F(FileSafetyCli, AReplacedOutputKeepsItsModeAndIsNeverMorePermissiveThanTheInput) {
  make_text("in.txt", 20000);
  ASSERT_EQ(sh("chmod 640 in.txt && echo old > out && chmod 600 out").status, 0);
  for (const std::string& w : writers) {
    ASSERT_EQ(sh(with_output(w, "out")).status, 0) << w;
    EXPECT_EQ(mode_of(path("out")), 0600u) << w;  // the old file's mode, not 644
  }
  // An existing output more open than the input is narrowed to the input's mode.
  ASSERT_EQ(sh("chmod 644 out && \"$SLUICE\" gzip -f -o out in.txt").status, 0);
  EXPECT_EQ(mode_of(path("out")), 0640u);
}

TEST_F(FileSafetyCli, SignalsRemoveTheTemporaryAndExitAsTheShellExpects) {
  make_text("in.txt", 1000000);
  for (const auto& [sig, want] : {std::pair{"INT", 130}, {"TERM", 143}, {"HUP", 129}}) {
    EXPECT_EQ(status_after_signal(sig), want) << sig;
    EXPECT_TRUE(no_temporaries()) << sig;
    EXPECT_FALSE(fs::exists(path("out.gz"))) << sig;  // nothing under the final name either
  }
}

TEST_F(FileSafetyCli, AnInputThatShrinksOrGrowsWhileReadFailsTheCommand) {
  // The reader is held back by a consumer that waits before reading, so the input changes after
  // the first chunks were read and before its end.
  const std::vector<std::string> readers = {"\"$SLUICE\" gzip -c big", "\"$SLUICE\" cat big",
                                            "\"$SLUICE\" run 'read big | gzip'",
                                            "\"$SLUICE\" copy big fifo"};
  for (const char* change : {"truncate -s 100000 big", "head -c 100000 /dev/zero >> big"}) {
    for (const std::string& rd : readers) {
      make_text("big", 4000000);
      ASSERT_EQ(sh("rm -f fifo && mkfifo fifo").status, 0);
      const bool to_fifo = rd.find("fifo") != std::string::npos;
      const std::string consumer = to_fifo ? "(sleep 1; timeout 20 cat fifo > /dev/null) & " : "";
      const std::string pipe_to = to_fifo ? "" : " | (sleep 1; cat > /dev/null)";
      const result r = sh(consumer + "(sleep 0.3; " + std::string(change) + ") & " + rd + pipe_to +
                          "; s=${PIPESTATUS[0]}; wait; exit $s");
      EXPECT_EQ(r.status, 1) << rd << " / " << change;
      EXPECT_NE(r.err.find("The file changed while it was read"), std::string::npos)
          << rd << " / " << change << ": " << r.err;
      EXPECT_NE(r.err.find("bytes when opened"), std::string::npos) << r.err;
    }
  }
}

}  // namespace
