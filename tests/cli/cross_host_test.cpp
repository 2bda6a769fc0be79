// A `sluice run` pipeline split across two hosts: `read data.bin | tcp-connect A:P` in network
// namespace B sends to `tcp-listen A:P | write got.bin` in namespace A, over a veth pair shaped
// to 200 Mbit/s with tbf (support/netns.hpp). Both are the real binary, as separate processes.
// - The far side stopped (SIGSTOP): the near side's source stops reading its file within a
//   socket's worth, and both processes' resident memory stays bounded (well under the file);
//   resumed, every byte arrives.
// - The far side killed mid-stream: the near side fails with one line naming the stage and the
//   peer, and the far side leaves nothing under the final name.
// - The near side killed mid-stream: its connection is reset, not closed (reset_on_abort), so
//   the far side fails too instead of taking the close for the end of the data, and leaves
//   nothing under the final name.
// - The link cut (the veth taken down): both sides fail after their --timeout, naming the peer.
// Skipped, with the reason, where network namespaces cannot be made (not root, no iproute2).
#include <signal.h>
#include <sys/types.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "cli/cli_fixture.hpp"
#include "support/netns.hpp"
#include "support/sanitizers.hpp"

namespace sluice::cli::testing {
namespace {

using namespace std::chrono_literals;
using sluice::test::slow_link;

constexpr std::uint64_t MiB = 1 << 20;

class CrossHostCli : public CliTest {
 protected:
  void TearDown() override {
    for (const int pid : pids_) {
      ::kill(pid, SIGCONT);
      ::kill(pid, SIGKILL);
    }
    CliTest::TearDown();
  }

  // Starts `run_args` (a `sluice run` expression) in namespace `ns`, in the background, as
  // NAME: its pid in NAME.pid (`ip netns exec` execs the command, so it is sluice's own), its
  // stderr in NAME.err, its exit status in NAME.status once it ends. Returns the pid.
  int start(const std::string& name, const std::string& ns, const std::string& run_args) {
    const result r =
        sh("(ip netns exec " + ns + " \"$SLUICE\" run " + quote(run_args) + " 2>" + name +
           ".err & echo $! > " + name + ".pid.part && mv " + name + ".pid.part " + name +
           ".pid; wait $!; echo $? > " + name + ".status.part && mv " + name + ".status.part " +
           name + ".status) >/dev/null 2>&1 & echo started");
    EXPECT_EQ(r.status, 0) << r.err;
    const std::string pid = wait_for(name + ".pid", 5s);
    if (pid.empty()) return -1;
    pids_.push_back(std::stoi(pid));
    return pids_.back();
  }

  // Waits for `file` in the test directory; its contents, or "" after `limit`.
  std::string wait_for(const std::string& file, std::chrono::milliseconds limit) {
    const auto until = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < until) {
      if (fs::exists(path(file))) return slurp(path(file));
      std::this_thread::sleep_for(10ms);
    }
    return {};
  }

  // The port the listener printed ("listening on ADDR:PORT"), or "".
  std::string listening_port(const std::string& addr) {
    const std::string key = "listening on " + addr + ":";
    for (int i = 0; i < 500; ++i) {
      const std::string err = slurp(path("recv.err"));
      if (const auto at = err.find(key);
          at != std::string::npos && err.find('\n', at) != std::string::npos)
        return err.substr(at + key.size(), err.find('\n', at) - at - key.size());
      std::this_thread::sleep_for(10ms);
    }
    return {};
  }

  // A number from /proc/PID/<file>: the value after `key` (VmHWM in kB, rchar in bytes).
  static std::uint64_t proc_value(int pid, const std::string& file, const std::string& key) {
    const std::string text = slurp("/proc/" + std::to_string(pid) + "/" + file);
    const auto at = text.find(key);
    if (at == std::string::npos) return 0;
    return std::stoull(text.substr(at + key.size()));
  }
  static std::uint64_t bytes_read(int pid) { return proc_value(pid, "io", "rchar:"); }
  static std::uint64_t peak_rss_mib(int pid) { return proc_value(pid, "status", "VmHWM:") / 1024; }

  // A transfer under way: `tcp-listen A:0 OPTS | write got.bin` in namespace A, `read data.bin
  // | tcp-connect A:PORT OPTS` in B, and 8 MiB of data.bin read by the sender. nullopt (with
  // the failure added) when it does not get that far.
  struct transfer {
    int receiver = -1;
    int sender = -1;
    std::string peer;  ///< the receiver's address as the sender names it
  };
  std::optional<transfer> start_transfer(const slow_link& link, const std::string& opts = "") {
    transfer t;
    t.receiver =
        start("recv", link.a(), "tcp-listen " + link.addr_a() + ":0" + opts + " | write got.bin");
    const std::string port = listening_port(link.addr_a());
    if (port.empty()) {
      ADD_FAILURE() << "no port printed: " << slurp(path("recv.err"));
      return std::nullopt;
    }
    t.peer = link.addr_a() + ":" + port;
    t.sender = start("send", link.b(), "read data.bin | tcp-connect " + t.peer + opts);
    if (t.receiver <= 0 || t.sender <= 0) {
      ADD_FAILURE() << "not started";
      return std::nullopt;
    }
    for (int i = 0; i < 1000 && bytes_read(t.sender) < 8 * MiB; ++i)
      std::this_thread::sleep_for(5ms);
    if (bytes_read(t.sender) < 8 * MiB) {
      ADD_FAILURE() << "not under way: " << slurp(path("send.err"));
      return std::nullopt;
    }
    return t;
  }

  std::vector<int> pids_;
};

TEST_F(CrossHostCli, AStoppedReceiverPausesTheSenderAndBothStayBounded) {
  std::string why;
  auto link = slow_link::make("200mbit", &why);
  if (!link) GTEST_SKIP() << "no link between namespaces: " << why;
  const std::string data = make_text("data.bin", 96 * MiB, 5);

  const auto t = start_transfer(*link);
  ASSERT_TRUE(t);
  const int receiver = t->receiver;
  const int sender = t->sender;

  // The receiver stops. Once the socket buffers on both sides and the sender's own
  // highWaterMarks are full, the sender stops reading its file.
  ASSERT_EQ(::kill(receiver, SIGSTOP), 0);
  std::this_thread::sleep_for(1500ms);
  const std::uint64_t before = bytes_read(sender);
  std::this_thread::sleep_for(1000ms);
  const std::uint64_t after = bytes_read(sender);
  EXPECT_LT(after - before, 1 * MiB) << "the sender kept reading while the receiver was stopped";
  EXPECT_LT(before, 64 * MiB) << "the sender read most of the file before pausing";
  const std::uint64_t send_rss = peak_rss_mib(sender);
  const std::uint64_t recv_rss = peak_rss_mib(receiver);
  if (sluice::test::rss_is_meaningful) {
    // (Not under AddressSanitizer: its shadow memory and quarantine of freed blocks add tens of
    // MiB to any process; the sender's file offset above is the check there.)
    EXPECT_LE(send_rss, 32U) << "sender peak RSS, MiB";
    EXPECT_LE(recv_rss, 32U) << "receiver peak RSS, MiB";
  }
  std::printf(
      "[ stopped  ] sender read %llu MiB of 96 and paused; peak RSS sender %llu MiB, "
      "receiver %llu MiB\n",
      static_cast<unsigned long long>(before / MiB), static_cast<unsigned long long>(send_rss),
      static_cast<unsigned long long>(recv_rss));

  // Resumed: everything arrives, byte-exact, and both exit 0.
  ASSERT_EQ(::kill(receiver, SIGCONT), 0);
  EXPECT_EQ(wait_for("send.status", 60s), "0\n") << slurp(path("send.err"));
  EXPECT_EQ(wait_for("recv.status", 60s), "0\n") << slurp(path("recv.err"));
  EXPECT_TRUE(same_bytes(slurp(path("got.bin")), data));
}

TEST_F(CrossHostCli, AReceiverKilledMidStreamFailsTheSenderNamingThePeer) {
  std::string why;
  auto link = slow_link::make("200mbit", &why);
  if (!link) GTEST_SKIP() << "no link between namespaces: " << why;
  make_text("data.bin", 96 * MiB, 7);

  const auto t = start_transfer(*link);
  ASSERT_TRUE(t);
  const int receiver = t->receiver;

  ASSERT_EQ(::kill(receiver, SIGKILL), 0);
  EXPECT_EQ(wait_for("recv.status", 10s), "137\n");
  const std::string status = wait_for("send.status", 30s);
  EXPECT_NE(status, "") << "the sender did not notice";
  EXPECT_NE(status, "0\n");
  const std::string err = slurp(path("send.err"));
  EXPECT_NE(err.find("sluice: run: stage 2 (tcp-connect): "), std::string::npos) << err;
  EXPECT_NE(err.find(t->peer), std::string::npos) << err;
  EXPECT_EQ(std::count(err.begin(), err.end(), '\n'), 1) << err;
  EXPECT_FALSE(fs::exists(path("got.bin"))) << "partial output under the final name";
}

TEST_F(CrossHostCli, ASenderKilledMidStreamFailsTheReceiverInsteadOfEndingIt) {
  std::string why;
  auto link = slow_link::make("200mbit", &why);
  if (!link) GTEST_SKIP() << "no link between namespaces: " << why;
  make_text("data.bin", 96 * MiB, 9);

  const auto t = start_transfer(*link);
  ASSERT_TRUE(t);
  const int sender = t->sender;

  // Killed, the sender cannot say anything; its kernel resets the connection (SO_LINGER 0).
  ASSERT_EQ(::kill(sender, SIGKILL), 0);
  EXPECT_EQ(wait_for("send.status", 10s), "137\n");
  const std::string status = wait_for("recv.status", 30s);
  EXPECT_NE(status, "") << "the receiver did not notice";
  EXPECT_NE(status, "0\n") << "the receiver took the sender's death for the end of the data";
  const std::string err = slurp(path("recv.err"));
  EXPECT_NE(err.find("sluice: run: stage 1 (tcp-listen): read from " + link->addr_b() + ":"),
            std::string::npos)
      << err;
  EXPECT_NE(err.find("Connection reset by peer"), std::string::npos) << err;
  EXPECT_FALSE(fs::exists(path("got.bin"))) << "partial output under the final name";
}

TEST_F(CrossHostCli, ACutLinkFailsBothSidesAfterTheirTimeoutNamingThePeer) {
  std::string why;
  auto link = slow_link::make("200mbit", &why);
  if (!link) GTEST_SKIP() << "no link between namespaces: " << why;
  make_text("data.bin", 96 * MiB, 11);

  const auto t = start_transfer(*link, " --timeout 2");
  ASSERT_TRUE(t);

  // Nothing crosses any more, and neither side is told: no FIN, no reset.
  const auto cut = std::chrono::steady_clock::now();
  ASSERT_EQ(std::system(("ip -n " + link->a() + " link set veth0 down").c_str()), 0);
  const std::string send_status = wait_for("send.status", 30s);
  const std::string recv_status = wait_for("recv.status", 30s);
  const auto took =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - cut);
  EXPECT_NE(send_status, "") << "the sender did not notice";
  EXPECT_NE(send_status, "0\n");
  EXPECT_NE(recv_status, "") << "the receiver did not notice";
  EXPECT_NE(recv_status, "0\n");
  const std::string send_err = slurp(path("send.err"));
  const std::string recv_err = slurp(path("recv.err"));
  EXPECT_NE(send_err.find("sluice: run: stage 2 (tcp-connect): write to " + t->peer + ": "),
            std::string::npos)
      << send_err;
  EXPECT_NE(recv_err.find("sluice: run: stage 1 (tcp-listen): read from " + link->addr_b() + ":"),
            std::string::npos)
      << recv_err;
  EXPECT_FALSE(fs::exists(path("got.bin"))) << "partial output under the final name";
  std::printf("[ cut      ] both sides failed %lld ms after the cut\n  sender: %s  receiver: %s",
              static_cast<long long>(took.count()), send_err.c_str(), recv_err.c_str());
}

}  // namespace
}  // namespace sluice::cli::testing
