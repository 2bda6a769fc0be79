// Faults a socket cannot be made to meet on demand, injected through the io layer's seam
// (sluice/io/detail/fault_injection.hpp: recv and send): short reads and sends and retried
// EINTR/EAGAIN lose nothing (byte-exact), and a failed read or send fails the socket once with
// an error naming the operation and the peer, completes every pending write exactly once, and
// leaks no descriptor. The peer is outside sluice (blocking calls on a thread), so the only
// calls the faults count are the sluice socket's.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include "net/net_support.hpp"
#include "sluice/io/detail/fault_injection.hpp"
#include "sluice/net/socket.hpp"

namespace {

namespace fi = sluice::detail::fault_injection;
using fi::sys_op;
using namespace std::chrono_literals;
using net_test::loop_fixture;
using sluice::buffer;

constexpr std::size_t KiB = 1024;

std::string pattern(std::size_t n) {
  std::string s(n, '\0');
  for (std::size_t i = 0; i < n; ++i) s[i] = static_cast<char>('a' + (i * 7 + i / 251) % 26);
  return s;
}

// A loopback peer on a thread of its own, with plain blocking calls: it accepts one connection,
// then sends `out` and closes (send), reads to the end (receive), or reads to the end and sends
// back what it read (echo).
class raw_peer {
 public:
  enum class mode { send, receive, echo };
  explicit raw_peer(mode m, std::string out = {}) {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(listen_fd_, reinterpret_cast<sockaddr*>(&a), sizeof a);
    ::listen(listen_fd_, 1);
    socklen_t len = sizeof a;
    ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([this, m, out = std::move(out)] {
      const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0) return;
      if (m != mode::send) {
        char buf[64 * 1024];
        for (;;) {
          const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
          if (n <= 0) break;
          received_.append(buf, static_cast<std::size_t>(n));
        }
      }
      const std::string& reply = m == mode::echo ? received_ : out;
      for (std::size_t off = 0; off < reply.size();) {
        const ssize_t n = ::send(fd, reply.data() + off, reply.size() - off, MSG_NOSIGNAL);
        if (n <= 0) break;
        off += static_cast<std::size_t>(n);
      }
      ::close(fd);
    });
  }
  raw_peer(const raw_peer&) = delete;
  raw_peer& operator=(const raw_peer&) = delete;
  ~raw_peer() {
    join();
    ::close(listen_fd_);
  }
  [[nodiscard]] std::uint16_t port() const { return port_; }
  /// What it read, once it is done (waits for it).
  const std::string& received() {
    join();
    return received_;
  }

 private:
  void join() {
    if (!thread_.joinable()) return;
    ::shutdown(listen_fd_, SHUT_RDWR);  // an accept still waiting returns
    thread_.join();
  }
  int listen_fd_ = -1;
  std::uint16_t port_ = 0;
  std::string received_;
  std::thread thread_;
};

// A client socket and what happened to it.
struct client {
  std::shared_ptr<sluice::socket> s;
  std::string data;
  bool ended = false;
  int errors = 0;
  int closes = 0;
  client(loop_fixture& f, std::uint16_t port)
      : s(sluice::make_tcp_connection(f.loop, "127.0.0.1", port)) {
    s->on_data([this](buffer&& b) { data += b.view(); });
    s->on_end([this] { ended = true; });
    s->on_error([this](std::error_code) { ++errors; });
    s->on_close([this] { ++closes; });
  }
  /// Writes `data` in chunks of 16 KiB, then ends.
  void send_and_end(const std::string& data) {
    for (std::size_t off = 0; off < data.size(); off += 16 * KiB)
      s->write(buffer::copy_of(std::string_view(data).substr(off, 16 * KiB)));
    s->end();
  }
};

TEST(SocketFaults, ShortReadsLoseNothing) {
  const std::string data = pattern(256 * KiB);
  raw_peer peer(raw_peer::mode::send, data);
  loop_fixture f;
  fi::scoped_fault shorter({.op = sys_op::recv, .short_count = 7, .repeat = true});
  client c(f, peer.port());
  c.s->end();  // sends nothing; reads until the peer closes
  ASSERT_TRUE(f.run_until([&] { return c.closes > 0; }, 30s));
  EXPECT_EQ(c.errors, 0) << c.s->error_message();
  EXPECT_TRUE(c.ended);
  EXPECT_EQ(c.data.size(), data.size());
  EXPECT_TRUE(c.data == data);
  EXPECT_GE(shorter.fired(), data.size() / 7);  // every read was short
}

TEST(SocketFaults, ShortSendsLoseNothing) {
  const std::string data = pattern(256 * KiB);
  raw_peer peer(raw_peer::mode::receive);
  loop_fixture f;
  fi::scoped_fault shorter({.op = sys_op::send, .short_count = 1000, .repeat = true});
  client c(f, peer.port());
  c.send_and_end(data);
  ASSERT_TRUE(f.run_until([&] { return c.closes > 0; }, 30s));
  EXPECT_EQ(c.errors, 0) << c.s->error_message();
  EXPECT_EQ(c.s->bytes_written(), data.size());
  EXPECT_TRUE(peer.received() == data) << peer.received().size() << " of " << data.size();
  EXPECT_GE(shorter.fired(), data.size() / 1000);
  EXPECT_GE(c.s->write_syscalls(), data.size() / 1000);
}

TEST(SocketFaults, InterruptedAndWouldBlockCallsAreRetried) {
  const std::string data = pattern(64 * KiB);
  raw_peer peer(raw_peer::mode::echo);
  loop_fixture f;
  fi::scoped_fault recv_eintr({.op = sys_op::recv, .nth = 1, .error = EINTR});
  fi::scoped_fault recv_eagain({.op = sys_op::recv, .nth = 3, .error = EAGAIN});
  fi::scoped_fault send_eintr({.op = sys_op::send, .nth = 1, .error = EINTR});
  fi::scoped_fault send_eagain({.op = sys_op::send, .nth = 2, .error = EAGAIN});
  client c(f, peer.port());
  c.send_and_end(data);
  ASSERT_TRUE(f.run_until([&] { return c.closes > 0; }, 30s));
  EXPECT_EQ(c.errors, 0) << c.s->error_message();
  EXPECT_TRUE(c.data == data) << c.data.size() << " of " << data.size();
  EXPECT_EQ(recv_eintr.fired(), 1u);
  EXPECT_EQ(recv_eagain.fired(), 1u);
  EXPECT_EQ(send_eintr.fired(), 1u);
  EXPECT_EQ(send_eagain.fired(), 1u);
}

TEST(SocketFaults, AFailedReadFailsTheSocketOnceNamingThePeerAndLeaksNothing) {
  for (const int error : {ECONNRESET, ETIMEDOUT, EHOSTUNREACH}) {
    SCOPED_TRACE(std::error_code(error, std::system_category()).message());
    const std::size_t fds_before = net_test::open_fds();
    {
      const std::string data = pattern(1024 * KiB);
      raw_peer peer(raw_peer::mode::send, data);
      loop_fixture f;
      fi::scoped_fault fault({.op = sys_op::recv, .nth = 3, .error = error});
      client c(f, peer.port());
      ASSERT_TRUE(f.run_until([&] { return c.closes > 0; }, 30s));
      EXPECT_EQ(fault.fired(), 1u);
      EXPECT_EQ(c.errors, 1);
      EXPECT_EQ(c.closes, 1);
      EXPECT_EQ(c.s->errored(), std::error_code(error, std::system_category()));
      EXPECT_EQ(c.s->error_message(), "read from 127.0.0.1:" + std::to_string(peer.port()) + ": " +
                                          std::error_code(error, std::system_category()).message());
      EXPECT_FALSE(c.ended);
      // The two reads before the fault delivered what they read, in order.
      EXPECT_GT(c.data.size(), 0u);
      EXPECT_LT(c.data.size(), data.size());
      EXPECT_TRUE(c.data == data.substr(0, c.data.size()));
      f.run_for(50ms);
      EXPECT_EQ(c.closes, 1);
    }
    EXPECT_EQ(net_test::open_fds(), fds_before);
  }
}

TEST(SocketFaults, AFailedSendCompletesEveryPendingWriteOnceAndLosesNothingAcknowledged) {
  constexpr std::size_t chunk = 64 * KiB;
  constexpr int writes = 8;
  const std::string data = pattern(chunk * writes);
  const std::size_t fds_before = net_test::open_fds();
  {
    raw_peer peer(raw_peer::mode::receive);
    loop_fixture f;
    client c(f, peer.port());
    std::vector<int> completions(writes, 0);
    std::vector<std::error_code> results(writes);
    auto write = [&](int i) {
      c.s->write(buffer::copy_of(std::string_view(data).substr(i * chunk, chunk)),
                 [&, i](std::error_code ec) {
                   ++completions[i];
                   results[i] = ec;
                 });
    };
    // The first write goes through; then the next send fails (a peer gone: EPIPE) with seven
    // writes pending.
    write(0);
    ASSERT_TRUE(f.run_until([&] { return completions[0] == 1; }));
    fi::scoped_fault fault({.op = sys_op::send, .nth = 1, .error = EPIPE});
    for (int i = 1; i < writes; ++i) write(i);
    ASSERT_TRUE(f.run_until([&] { return c.closes > 0; }, 30s));
    f.run_for(50ms);
    EXPECT_EQ(fault.fired(), 1u);
    EXPECT_EQ(c.errors, 1);
    EXPECT_EQ(c.closes, 1);
    EXPECT_EQ(c.s->errored(), std::errc::broken_pipe);
    EXPECT_EQ(c.s->error_message(),
              "write to 127.0.0.1:" + std::to_string(peer.port()) + ": Broken pipe");
    int acknowledged = 0;
    for (int i = 0; i < writes; ++i) {
      EXPECT_EQ(completions[i], 1) << "write " << i;
      if (!results[i]) {
        EXPECT_EQ(acknowledged, i) << "write " << i << " succeeded after one that failed";
        ++acknowledged;
      }
    }
    EXPECT_EQ(acknowledged, 1);
    c.s.reset();
    // What was acknowledged reached the peer, and nothing after it.
    EXPECT_TRUE(peer.received() == data.substr(0, acknowledged * chunk))
        << peer.received().size() << " bytes received, " << acknowledged << " writes acknowledged";
  }
  EXPECT_EQ(net_test::open_fds(), fds_before);
}

}  // namespace
