// tests/support/netns.hpp: a rate-limited link for the network tests: two network namespaces
// joined by a veth pair, each end shaped with a token bucket (`tc qdisc ... tbf`; this kernel
// has tbf and htb but no netem). The same recipe as scripts/netns.sh, owned by the test:
//
//   auto link = sluice::test::slow_link::make("40mbit", &why);   // null: GTEST_SKIP() << why
//   { sluice::test::slow_link::enter in(link->a()); server->listen(...); }
//   run("ip netns exec " + link->b() + " curl http://" + link->addr_a() + ":PORT/...");
//
// A socket belongs to the namespace its creating thread was in when it was made, so the server
// listens from inside namespace A (enter: setns(2) on this thread only, undone at the end of the
// scope) and keeps serving from the test's own namespace afterwards; connections it accepts
// are in A too. The client runs in namespace B as a child process (`ip netns exec`).
//
// Names are unique per process and per link (sluice-t<pid>-<n>-a/-b); the destructor deletes
// both namespaces (and the veth pair with them), whatever the test did.
#pragma once

#include <fcntl.h>
#include <sched.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <memory>
#include <stdexcept>
#include <string>

namespace sluice::test {

class slow_link {
 public:
  /// The link, or null with *why_not saying why it cannot be made here (not root, no `ip`,
  /// `ip netns` not permitted, tc refusing the qdisc).
  static std::unique_ptr<slow_link> make(const std::string& rate, std::string* why_not) {
    if (::geteuid() != 0) {
      *why_not = "needs root for network namespaces and tc (running as uid " +
                 std::to_string(::geteuid()) + ")";
      return nullptr;
    }
    static std::atomic<int> counter{0};
    const std::string prefix =
        "sluice-t" + std::to_string(::getpid()) + "-" + std::to_string(counter++);
    std::unique_ptr<slow_link> l(new slow_link(prefix));
    std::string out;
    if (!run("ip netns add " + l->a_, &out)) {
      *why_not = "'ip netns add' failed: " + out;
      return nullptr;
    }
    l->made_a_ = true;
    const std::string steps[] = {
        "ip netns add " + l->b_,
        "ip link add name veth0 netns " + l->a_ + " type veth peer name veth0 netns " + l->b_,
        "ip -n " + l->a_ + " link set lo up",
        "ip -n " + l->b_ + " link set lo up",
        "ip -n " + l->a_ + " addr add " + l->addr_a_ + "/24 dev veth0",
        "ip -n " + l->b_ + " addr add " + l->addr_b_ + "/24 dev veth0",
        "ip -n " + l->a_ + " link set veth0 up",
        "ip -n " + l->b_ + " link set veth0 up",
        "ip netns exec " + l->a_ + " tc qdisc add dev veth0 root tbf rate " + rate +
            " burst 32kbit latency 50ms",
        "ip netns exec " + l->b_ + " tc qdisc add dev veth0 root tbf rate " + rate +
            " burst 32kbit latency 50ms",
    };
    for (const auto& step : steps) {
      if (!run(step, &out)) {
        *why_not = "'" + step + "' failed: " + out;
        return nullptr;  // the destructor removes what was made
      }
      l->made_b_ = true;  // (the first step made it)
    }
    return l;
  }

  slow_link(const slow_link&) = delete;
  slow_link& operator=(const slow_link&) = delete;
  ~slow_link() {
    std::string ignored;
    if (made_a_) run("ip netns del " + a_, &ignored);
    if (made_b_) run("ip netns del " + b_, &ignored);
  }

  /// The namespaces' names (for `ip netns exec NAME`).
  [[nodiscard]] const std::string& a() const { return a_; }
  [[nodiscard]] const std::string& b() const { return b_; }
  /// The addresses of veth0 in A and in B.
  [[nodiscard]] const std::string& addr_a() const { return addr_a_; }
  [[nodiscard]] const std::string& addr_b() const { return addr_b_; }

  /// Puts the calling thread in network namespace `name` for the scope's lifetime.
  class enter {
   public:
    explicit enter(const std::string& name) {
      home_ = ::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
      const int fd = ::open(("/run/netns/" + name).c_str(), O_RDONLY | O_CLOEXEC);
      const bool ok = home_ >= 0 && fd >= 0 && ::setns(fd, CLONE_NEWNET) == 0;
      if (fd >= 0) ::close(fd);
      if (!ok) {
        if (home_ >= 0) ::close(home_);
        throw std::runtime_error("cannot enter network namespace " + name);
      }
    }
    enter(const enter&) = delete;
    enter& operator=(const enter&) = delete;
    ~enter() {
      if (::setns(home_, CLONE_NEWNET) != 0) std::perror("slow_link: setns back");
      ::close(home_);
    }

   private:
    int home_ = -1;
  };

 private:
  explicit slow_link(const std::string& prefix) : a_(prefix + "-a"), b_(prefix + "-b") {}

  // Runs `cmd` through the shell; its combined output in *out; whether it exited with 0.
  static bool run(const std::string& cmd, std::string* out) {
    out->clear();
    FILE* p = ::popen((cmd + " 2>&1").c_str(), "r");
    if (p == nullptr) {
      *out = "popen failed";
      return false;
    }
    char buf[512];
    std::size_t n = 0;
    while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out->append(buf, n);
    while (!out->empty() && out->back() == '\n') out->pop_back();
    return ::pclose(p) == 0;
  }

  std::string a_, b_;
  std::string addr_a_ = "10.77.0.1";
  std::string addr_b_ = "10.77.0.2";
  bool made_a_ = false;
  bool made_b_ = false;
};

}  // namespace sluice::test
