// The NATS JetStream stages of `sluice run` (tools/sluice/messaging_stages.hpp) end to end:
// real sluice processes against the three-node test cluster (ctest fixture "nats",
// scripts/nats-cluster.sh). Lines go in with nats-pub and come back with nats-sub exactly once;
// a consumer process killed mid-run leaves its unacknowledged messages to the next one, which
// reports them as delivered again.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <map>
#include <sstream>
#include <string>
#include <thread>

#include "cli/cli_fixture.hpp"
#include "messaging/jetstream_support.hpp"

namespace sluice::cli {
namespace {

using namespace std::chrono_literals;
using testing::CliTest;

class JetStreamCli : public CliTest {
 protected:
  void SetUp() override {
    CliTest::SetUp();
    SLUICE_NEED_NATS();
    nats.connect();
  }
  void TearDown() override {
    nats.delete_streams();
    CliTest::TearDown();
  }

  // "line-000001 ..." to "line-<n>": distinct lines, of some length.
  std::string make_lines(const std::string& file, int n) {
    std::string s;
    for (int i = 1; i <= n; ++i) {
      char head[16];
      std::snprintf(head, sizeof head, "line-%06d", i);
      s += head;
      s += " the quick brown fox jumps over the lazy dog\n";
    }
    testing::spit(path(file), s);
    return s;
  }

  // How many times each line of `text` occurs.
  static std::map<std::string, int> tally(const std::string& text) {
    std::map<std::string, int> m;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) ++m[line];
    return m;
  }

  std::string stream() const { return nats.stream_name(); }
  std::string subject() const { return nats.subject(); }
  std::string url() const { return jetstream_test::server_url(1); }

  // Publishes FILE's lines to the test's subject, creating its stream (three replicas).
  void publish(const std::string& file) {
    const auto r = sh("$SLUICE run 'read " + file + " | nats-pub " + url() + " " + subject() +
                      " --stream " + stream() + " --replicas 3'");
    ASSERT_EQ(r.status, 0) << r.err;
    nats.made.push_back(stream());
  }

  jetstream_test::cluster_client nats;
};

TEST_F(JetStreamCli, LinesGoThroughTheClusterOnceEach) {
  const std::string in = make_lines("in.txt", 5000);
  publish("in.txt");
  EXPECT_EQ(nats.stream_info(stream()).messages, 5000U);

  // An atomic `write`: acknowledged when the run has succeeded (it ends after 1 s idle).
  auto r = sh("$SLUICE run --stats 'nats-sub " + url() + " " + stream() +
              " billing --idle 1 --max-ack-pending 10000 | write out.txt'");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_TRUE(testing::same_bytes(testing::slurp(path("out.txt")), in));
  EXPECT_NE(r.err.find("nats-sub: 5000 messages, 5000 acknowledged; 0 delivered again"),
            std::string::npos)
      << r.err;
  const auto ci = nats.consumer_info(stream(), "billing");
  EXPECT_EQ(ci.num_ack_pending, 0);
  EXPECT_EQ(ci.num_pending, 0U);

  // The acknowledgements reached the server before the process left: nothing comes again.
  r = sh("$SLUICE run 'nats-sub " + url() + " " + stream() +
         " billing --idle 1 | write again.txt'");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(testing::slurp(path("again.txt")), "");

  // --count: exactly N, the rest left for the next reader (a consumer of its own here).
  r = sh("$SLUICE run 'nats-sub " + url() + " " + stream() +
         " audit --count 1200 --max-ack-pending 2000 | gzip | "
         "gunzip | write first.txt'");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_TRUE(testing::same_bytes(testing::slurp(path("first.txt")), in.substr(0, 1200 * 56)));
  r = sh("$SLUICE run 'nats-sub " + url() + " " + stream() +
         " audit --idle 1 | write --append rest.txt'");
  ASSERT_EQ(r.status, 0) << r.err;
  const auto rest = tally(testing::slurp(path("rest.txt")));
  const auto want = tally(in.substr(1200 * 56));
  std::size_t missing = 0;
  std::size_t twice = 0;
  for (const auto& [line, times] : want) missing += rest.count(line) == 0 ? 1 : 0;
  for (const auto& [line, times] : rest) twice += times > 1 ? 1 : 0;
  EXPECT_EQ(missing, 0U) << "of " << want.size();
  EXPECT_EQ(twice, 0U);
  EXPECT_EQ(rest.size(), want.size());
}

TEST_F(JetStreamCli, AConsumerKilledMidRunLeavesWhatItHadNotAcknowledgedToTheNextOne) {
  const int n = 40000;  // 2.2 MB of lines
  make_lines("in.txt", n);
  publish("in.txt");

  // The first consumer writes to a pipe read at 400 KB/s by another process: it holds
  // messages in flight (fetched, in its buffers, written but not yet acknowledged) when it is
  // killed 2 s in.
  const std::string cmd = "cd '" + dir_.string() + "' && $SLUICE run 'nats-sub " + url() + " " +
                          stream() +
                          " c --ack-wait 2' | $SLUICE run 'stdin | throttle "
                          "400K | write --no-atomic out1.txt'";
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    ::setpgid(0, 0);
    ::execl("/bin/bash", "bash", "-c", cmd.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  ::setpgid(pid, pid);
  std::this_thread::sleep_for(2s);
  // SIGKILL the consumer only: the sluice process whose expression starts with nats-sub (not
  // bash, whose command line names it too, nor the reader of the pipe).
  ASSERT_EQ(
      std::system(
          ("pkill -KILL -g " + std::to_string(pid) + " -f '^[^ ]*sluice run nats-sub'").c_str()),
      0);
  std::this_thread::sleep_for(300ms);
  const auto at_kill = nats.consumer_info(stream(), "c");
  int status = 0;
  ::waitpid(pid, &status, 0);  // the reader of the pipe drains it and ends
  const std::string out1 = testing::slurp(path("out1.txt"));
  const auto first = tally(out1);
  ASSERT_GT(first.size(), 1000U) << "the first consumer had barely started";
  ASSERT_LT(first.size(), static_cast<std::size_t>(n)) << "the first consumer was not cut short";
  ASSERT_GT(at_kill.num_ack_pending, 0) << "nothing was in flight at the kill";

  // The next consumer gets everything the first had not acknowledged, after the ack wait.
  const auto r = sh("$SLUICE run --stats 'nats-sub " + url() + " " + stream() +
                    " c --idle 3 | write --append out2.txt'");
  ASSERT_EQ(r.status, 0) << r.err;
  const auto second = tally(testing::slurp(path("out2.txt")));
  int missing = 0;
  int duplicates = 0;
  for (int i = 1; i <= n; ++i) {
    char head[16];
    std::snprintf(head, sizeof head, "line-%06d", i);
    const std::string line = std::string(head) + " the quick brown fox jumps over the lazy dog";
    const int times =
        (first.count(line) ? first.at(line) : 0) + (second.count(line) ? second.at(line) : 0);
    if (times == 0) ++missing;
    if (times > 1) duplicates += times - 1;
  }
  EXPECT_EQ(missing, 0) << "messages lost";
  // What reached the first consumer's output without its acknowledgement comes twice; the
  // second consumer reports every message it got again, which is every one left unacknowledged.
  EXPECT_LE(duplicates, at_kill.num_ack_pending);
  const std::string want = "; " + std::to_string(at_kill.num_ack_pending) + " delivered again";
  EXPECT_NE(r.err.find(want), std::string::npos)
      << r.err << "(unacknowledged at the kill: " << at_kill.num_ack_pending
      << ", duplicates in the output: " << duplicates << ")";
  EXPECT_EQ(nats.consumer_info(stream(), "c").num_ack_pending, 0);
}

TEST_F(JetStreamCli, MistakesAreOneLineNamingTheStage) {
  // No stream takes the subject: the publish fails after its retries, naming the subject.
  testing::spit(path("one.txt"), "x\n");
  auto r = sh("$SLUICE run 'read one.txt | nats-pub " + url() + " nowhere." + nats.name +
              " --max-pending 1'");
  testing::expect_one_line_error(r, "sluice: run: stage 2 (nats-pub): ");
  EXPECT_NE(r.err.find("'nowhere." + nats.name + "'"), std::string::npos) << r.err;

  // Stages after nats-sub and no end: refused before anything is fetched.
  r = sh("$SLUICE run 'nats-sub " + url() + " S c | gzip | write x.gz'");
  testing::expect_one_line_error(r, "sluice: run: nats-sub: ");
  EXPECT_NE(r.err.find("--count N or --idle S"), std::string::npos) << r.err;

  // Acknowledged at the end, more than the server hands out unacknowledged: would never end.
  r = sh("$SLUICE run 'nats-sub " + url() + " S c --count 5000 | write x.txt'");
  testing::expect_one_line_error(r, "sluice: run: nats-sub: ");
  EXPECT_NE(r.err.find("--max-ack-pending (1000)"), std::string::npos) << r.err;

  r = sh("$SLUICE run 'nats-sub " + url() + " S c --idle 0 | stdout'");
  EXPECT_EQ(r.status, 2) << r.err;
  EXPECT_NE(r.err.find("--idle takes seconds"), std::string::npos) << r.err;

  // A server that is not there.
  r = sh("$SLUICE run 'nats-sub nats://127.0.0.1:1 S c --idle 1 | stdout'");
  testing::expect_one_line_error(r, "sluice: run: stage 1 (nats-sub): ");
  EXPECT_NE(r.err.find("nats://127.0.0.1:1"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace sluice::cli
