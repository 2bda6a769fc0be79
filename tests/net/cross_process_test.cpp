// Backpressure across the wire between two processes (issue 14: "a sender writing 1 GiB to a
// receiver that does not read keeps both processes' memory bounded and the sender's writes
// returning false"). The other process is python3, a peer sluice does not control:
//   - sluice sends 1 GiB to a Python receiver that accepts and does not read: the sender stops
//     after the kernel buffers and one highWaterMark, write() keeps returning false, neither
//     process grows; once Python reads, every byte arrives (CRC-32 on both sides).
//   - Python sends 1 GiB to a sluice receiver with no consumer: sluice stops reading, so
//     Python's non-blocking send() hits EAGAIN after a few MiB and stays blocked; once sluice
//     consumes, the rest arrives byte-exact.
// The 1 GiB is never sent: both tests stop once the sender has been blocked for a while and
// then move 16 MiB at most, so they take about a second each.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstdio>
#include <memory>
#include <sstream>
#include <string>

#include "net/net_support.hpp"
#include "sluice/net/server.hpp"
#include "sluice/net/socket.hpp"
#include "support/peer_process.hpp"

namespace {

using namespace std::chrono_literals;
using net_test::loop_fixture;
using net_test::stream_bytes;
using sluice::buffer;
using sluice::test::crc32;
using sluice::test::peer_process;

constexpr std::size_t KiB = 1024;
constexpr std::size_t MiB = 1024 * KiB;

// A Python receiver: prints its port, then "accepted" once a client is in; reads nothing until
// a line arrives on stdin, then reads to the end and prints "<bytes> <crc32>".
const char* const python_receiver = R"(
import socket, sys, zlib
s = socket.socket()
s.bind(('127.0.0.1', 0))
s.listen(1)
print(s.getsockname()[1], flush=True)
c, _ = s.accept()
print('accepted', flush=True)
sys.stdin.readline()
n = 0
h = 0
while True:
    b = c.recv(1 << 20)
    if not b:
        break
    n += len(b)
    h = zlib.crc32(b, h)
print(n, h, flush=True)
)";

// A Python sender of argv[2] bytes to port argv[1]: sends without blocking until send() has
// made no progress for 0.5 s, prints "blocked <bytes sent>", waits for a line on stdin, then
// sends (blocking) until argv[3] bytes or what it sent already, whichever is more, half-closes
// and prints "done <bytes> <crc32>".
const char* const python_sender = R"(
import os, select, socket, sys, time, zlib
port, total, cap = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
block = memoryview(os.urandom(1 << 20))
c = socket.create_connection(('127.0.0.1', port))
c.setblocking(False)
sent = 0
h = 0
def send_some():
    global sent, h
    off = sent % len(block)
    piece = block[off:off + min(len(block) - off, total - sent)]
    n = c.send(piece)
    h = zlib.crc32(piece[:n], h)
    sent += n
since = None
while sent < total:
    try:
        send_some()
        since = None
    except BlockingIOError:
        now = time.monotonic()
        if since is None:
            since = now
        elif now - since > 0.5:
            break
        select.select([], [c], [], 0.05)
print('blocked', sent, flush=True)
sys.stdin.readline()
total = max(sent, cap)
c.setblocking(True)
while sent < total:
    send_some()
c.shutdown(socket.SHUT_WR)
print('done', sent, h, flush=True)
)";

// Writes `total` bytes in `chunk`-sized writes while write() returns true, then waits for
// 'drain'; ends the socket when done. Counts the refusals and the CRC of what it wrote.
struct producer {
  std::shared_ptr<sluice::socket> s;
  std::uint64_t total;
  std::size_t chunk;
  std::uint64_t sent = 0;
  std::uint64_t refused = 0;
  std::uint32_t crc = 0;
  bool ended = false;

  void start() {
    s->on_drain([this] { pump(); });
    pump();
  }
  void pump() {
    while (sent < total) {
      const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(chunk, total - sent));
      std::string bytes = stream_bytes(sent, n);
      crc = crc32(crc, bytes);
      sent += n;
      if (!s->write(buffer(std::move(bytes)))) {
        ++refused;
        return;
      }
    }
    if (!ended) {
      ended = true;
      s->end();
    }
  }
};

// Reads the peer's next stdout line while the loop runs (the peer may need the loop to get
// there); "" if none came within `limit`.
std::string line_while_running(loop_fixture& f, peer_process& p,
                               std::chrono::milliseconds limit = 10000ms) {
  std::string line;
  f.run_until(
      [&] {
        auto l = p.read_line(0ms);
        if (l) line = *l;
        return l.has_value();
      },
      limit);
  return line;
}

TEST(TcpAcrossProcesses, PythonReceiverThatDoesNotReadStopsTheSluiceSender) {
  const std::string python = sluice::test::python3();
  if (python.empty()) GTEST_SKIP() << "python3 is not installed";
  loop_fixture f;
  peer_process receiver({python, "-c", python_receiver});
  ASSERT_TRUE(receiver.started());
  const auto port_line = receiver.read_line();
  ASSERT_TRUE(port_line) << "the Python receiver did not print its port";
  const auto port = static_cast<std::uint16_t>(std::stoi(*port_line));

  auto sender = sluice::make_tcp_connection(f.loop, "127.0.0.1", port);
  sender->resume();  // nothing comes back, but 'end' needs a flowing consumer
  ASSERT_EQ(line_while_running(f, receiver), "accepted");
  const std::uint64_t sender_rss_before = net_test::rss_kib();
  const std::uint64_t receiver_rss_before = receiver.rss_kib();

  // 1 GiB to send; the receiver reads nothing.
  producer p{sender, 1024 * MiB, 16 * KiB};
  p.start();
  // Run until the sender is stuck: write() said no and nothing moved for 200 ms.
  std::uint64_t last = 0;
  int still = 0;
  ASSERT_TRUE(f.run_until(
      [&] {
        f.run_for(50ms);
        still = (sender->need_drain() && sender->bytes_written() == last) ? still + 1 : 0;
        last = sender->bytes_written();
        return still >= 4;
      },
      15000ms))
      << "the sender never stopped: " << p.sent << " bytes written";
  const std::uint64_t sent_at_stall = p.sent;
  const std::uint64_t refused_at_stall = p.refused;
  f.run_for(300ms);
  EXPECT_EQ(p.sent, sent_at_stall) << "the sender went on writing to a receiver that reads nothing";
  EXPECT_EQ(p.refused, refused_at_stall);
  EXPECT_GT(p.refused, 0u);
  EXPECT_TRUE(sender->need_drain());  // write() returns false, and no 'drain' came
  EXPECT_LT(p.sent, 64 * MiB) << "more than the kernel buffers can hold went out";
  EXPECT_LE(sender->writable_length(), sender->writable_high_water_mark() + 16 * KiB);
  EXPECT_LE(sender->counters().peak_writable_length, sender->writable_high_water_mark() + 16 * KiB);
  const std::uint64_t sender_growth = net_test::growth_kib(sender_rss_before, net_test::rss_kib());
  const std::uint64_t receiver_growth =
      net_test::growth_kib(receiver_rss_before, receiver.rss_kib());
  if (net_test::rss_is_meaningful) {
    EXPECT_LT(sender_growth, 4 * 1024u) << "sender RSS grew by " << sender_growth << " KiB";
  }
  EXPECT_LT(receiver_growth, 4 * 1024u) << "receiver RSS grew by " << receiver_growth << " KiB";
  std::printf(
      "stalled: sluice sender wrote %llu of 1 GiB (%zu buffered, hwm %zu, %llu refusals); "
      "RSS +%llu KiB sender, +%llu KiB receiver\n",
      static_cast<unsigned long long>(p.sent), sender->writable_length(),
      sender->writable_high_water_mark(), static_cast<unsigned long long>(p.refused),
      static_cast<unsigned long long>(sender_growth),
      static_cast<unsigned long long>(receiver_growth));

  // The receiver reads now: the sender drains, and everything it wrote arrives (the test stops
  // at 16 MiB).
  p.total = std::max<std::uint64_t>(p.sent, 16 * MiB);
  ASSERT_TRUE(receiver.write("go\n"));
  ASSERT_TRUE(f.run_until([&] { return sender->closed(); }, 20000ms))
      << sender->bytes_written() << " bytes written";
  EXPECT_FALSE(sender->errored()) << sender->error_message();
  std::istringstream result(line_while_running(f, receiver));
  std::uint64_t n = 0;
  std::uint32_t h = 0;
  result >> n >> h;
  EXPECT_EQ(n, p.total);
  EXPECT_EQ(h, p.crc);
  EXPECT_EQ(receiver.wait(), 0);
}

TEST(TcpAcrossProcesses, SluiceReceiverWithoutAConsumerBlocksThePythonSender) {
  const std::string python = sluice::test::python3();
  if (python.empty()) GTEST_SKIP() << "python3 is not installed";
  loop_fixture f;
  auto srv = sluice::make_tcp_server(f.loop);
  f.track(srv);
  std::shared_ptr<sluice::socket> receiver;
  srv->on_connection([&](std::shared_ptr<sluice::socket> s) { receiver = s; });
  ASSERT_FALSE(srv->listen());
  const std::uint64_t rss_before = net_test::rss_kib();
  peer_process sender({python, "-c", python_sender, std::to_string(srv->port()),
                       std::to_string(1024 * MiB), std::to_string(16 * MiB)});
  ASSERT_TRUE(sender.started());

  // Python sends until its send() has been refused (EAGAIN) for 0.5 s.
  std::istringstream blocked(line_while_running(f, sender, 20000ms));
  std::string word;
  std::uint64_t python_sent = 0;
  blocked >> word >> python_sent;
  ASSERT_EQ(word, "blocked") << "the Python sender was never blocked";
  ASSERT_TRUE(receiver);
  f.run_for(100ms);
  EXPECT_LT(python_sent, 64 * MiB) << "the receiver took more than its kernel buffers hold";
  EXPECT_FALSE(receiver->reading());  // no read outstanding: the receive window closes
  // Reads go on while less than the highWaterMark is buffered, each of up to a highWaterMark
  // (the read size): at most one read's worth beyond it.
  EXPECT_LT(receiver->readable_length(), 2 * receiver->readable_high_water_mark());
  EXPECT_LE(receiver->bytes_read(), python_sent);
  const std::uint64_t growth = net_test::growth_kib(rss_before, net_test::rss_kib());
  if (net_test::rss_is_meaningful) {
    EXPECT_LT(growth, 4 * 1024u) << "receiver RSS grew by " << growth << " KiB";
  }
  EXPECT_LT(sender.peak_rss_kib(), 64 * 1024u);  // Python itself holds 1 MiB of pattern
  std::printf(
      "stalled: Python sent %llu of 1 GiB; sluice read %llu (%zu buffered, hwm %zu); RSS +%llu "
      "KiB\n",
      static_cast<unsigned long long>(python_sent),
      static_cast<unsigned long long>(receiver->bytes_read()), receiver->readable_length(),
      receiver->readable_high_water_mark(), static_cast<unsigned long long>(growth));

  // sluice consumes now: Python's blocked send goes on, and everything arrives (Python stops at
  // 16 MiB so that the test stays short).
  std::uint64_t got = 0;
  std::uint32_t crc = 0;
  bool ended = false;
  receiver->on_data([&](buffer&& b) {
    got += b.size();
    crc = crc32(crc, b.view());
  });
  receiver->on_end([&] { ended = true; });
  ASSERT_TRUE(sender.write("go\n"));
  ASSERT_TRUE(f.run_until([&] { return ended; }, 60000ms)) << got << " bytes arrived";
  std::istringstream done(line_while_running(f, sender));
  std::uint64_t n = 0;
  std::uint32_t h = 0;
  done >> word >> n >> h;
  EXPECT_EQ(word, "done");
  EXPECT_EQ(got, n);
  EXPECT_EQ(crc, h);
  EXPECT_EQ(sender.wait(), 0);
}

}  // namespace
