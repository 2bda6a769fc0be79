// Bulk data over sluice sockets: byte-exact transfers, backpressure that crosses the wire (a
// receiver that stops reading stops the sender, with bounded memory on both sides), and a
// connection reset in the middle of a stream.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstdio>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "net/net_support.hpp"
#include "sluice/net/server.hpp"
#include "sluice/net/socket.hpp"

namespace {

using namespace std::chrono_literals;
using net_test::loop_fixture;
using net_test::stream_bytes;
using sluice::buffer;

constexpr std::size_t KiB = 1024;
constexpr std::size_t MiB = 1024 * KiB;

// FNV-1a over a byte stream, chunk by chunk.
struct checksum {
  std::uint64_t h = 14695981039346656037ull;
  std::uint64_t n = 0;
  void add(std::string_view s) {
    for (char c : s) {
      h ^= static_cast<unsigned char>(c);
      h *= 1099511628211ull;
    }
    n += s.size();
  }
};

// Writes `total` bytes of stream_bytes() in `chunk`-sized pieces, honouring backpressure:
// writes while write() returns true, then waits for 'drain'. Ends the socket when done.
struct producer {
  producer(std::shared_ptr<sluice::socket> sock, std::uint64_t t, std::size_t c)
      : s(std::move(sock)), total(t), chunk(c) {}
  std::shared_ptr<sluice::socket> s;
  std::uint64_t total;
  std::size_t chunk;
  std::uint64_t sent = 0;
  std::uint64_t refused = 0;  // write() returned false
  checksum sum;
  bool ended = false;

  void start() {
    s->on_drain([this] { pump(); });
    pump();
  }
  void pump() {
    while (sent < total) {
      const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(chunk, total - sent));
      std::string bytes = stream_bytes(sent, n);
      sum.add(bytes);
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

TEST(TcpTransfer, SixtyFourMebibytesByteExact) {
  loop_fixture f;
  auto srv = sluice::make_tcp_server(f.loop);
  f.track(srv);
  checksum got;
  bool server_ended = false;
  srv->on_connection([&](std::shared_ptr<sluice::socket> s) {
    s->on_data([&](buffer&& b) { got.add(b.view()); });
    s->on_end([&] { server_ended = true; });
  });
  ASSERT_FALSE(srv->listen());
  producer p{sluice::make_tcp_connection(f.loop, "127.0.0.1", srv->port()), 64 * MiB, 16 * KiB};
  p.s->resume();  // (nothing comes back, but 'end' needs a flowing or reading consumer)
  p.start();
  ASSERT_TRUE(f.run_until([&] { return server_ended && p.s->closed(); }, 10000ms));
  EXPECT_EQ(got.n, 64 * MiB);
  EXPECT_EQ(got.h, p.sum.h);
  EXPECT_EQ(p.s->bytes_written(), 64 * MiB);
  EXPECT_GT(p.refused, 0u);  // the socket did push back
  // Chunks written while a write was in flight went out together, in far fewer batches.
  EXPECT_LT(p.s->write_batches(), 64 * MiB / (16 * KiB));
  EXPECT_GE(p.s->write_syscalls(), p.s->write_batches());
  EXPECT_LE(p.s->counters().peak_writable_length, p.s->writable_high_water_mark() + 16 * KiB);
}

TEST(TcpTransfer, BackpressureCrossesTheWire) {
  loop_fixture f;
  auto srv = sluice::make_tcp_server(f.loop);
  f.track(srv);
  std::shared_ptr<sluice::socket> receiver;
  srv->on_connection([&](std::shared_ptr<sluice::socket> s) { receiver = s; });
  ASSERT_FALSE(srv->listen());
  auto sender = sluice::make_tcp_connection(f.loop, "127.0.0.1", srv->port());
  ASSERT_TRUE(f.run_until([&] { return receiver != nullptr; }));
  const std::uint64_t rss_before = net_test::rss_kib();

  // The sender wants to send 1 GiB; the receiver attaches no consumer at all.
  producer p{sender, 1024 * MiB, 16 * KiB};
  p.start();
  // Run until the sender is stuck: write() said no and nothing moved for a while.
  std::uint64_t last = 0;
  ASSERT_TRUE(f.run_until(
      [&] {
        f.run_for(50ms);
        const bool stuck = sender->need_drain() && sender->bytes_written() == last;
        last = sender->bytes_written();
        return stuck;
      },
      10000ms));
  const std::uint64_t read_at_stall = receiver->bytes_read();
  const std::uint64_t sent_at_stall = p.sent;
  f.run_for(150ms);
  // Nothing moves: the sender is held by write() == false and its kernel send buffer, the
  // receiver holds one highWaterMark and has no read outstanding.
  EXPECT_EQ(p.sent, sent_at_stall);
  EXPECT_EQ(receiver->bytes_read(), read_at_stall);
  EXPECT_FALSE(receiver->reading());
  EXPECT_LE(receiver->readable_length(), receiver->readable_high_water_mark());
  EXPECT_GE(receiver->readable_length(), receiver->readable_high_water_mark() / 2);
  EXPECT_LE(sender->writable_length(), sender->writable_high_water_mark() + 16 * KiB);
  EXPECT_LE(sender->counters().peak_writable_length, sender->writable_high_water_mark() + 16 * KiB);
  EXPECT_LT(p.sent, 64 * MiB);  // kernel buffers only, not the 1 GiB
  const std::uint64_t rss_growth_kib = net_test::growth_kib(rss_before, net_test::rss_kib());
  if (net_test::rss_is_meaningful) {
    EXPECT_LT(rss_growth_kib, 4 * 1024u) << "RSS grew by " << rss_growth_kib << " KiB";
  }
  std::printf(
      "stalled: sender wrote %llu bytes (%zu buffered), receiver read %llu (%zu "
      "buffered, hwm %zu); RSS +%llu KiB\n",
      static_cast<unsigned long long>(p.sent), sender->writable_length(),
      static_cast<unsigned long long>(read_at_stall), receiver->readable_length(),
      receiver->readable_high_water_mark(), static_cast<unsigned long long>(rss_growth_kib));

  // The receiver consumes again: everything arrives, byte-exact. (It stops at 32 MiB so the
  // test stays short.)
  p.total = std::max<std::uint64_t>(p.sent, 32 * MiB);
  checksum got;
  bool ended = false;
  receiver->on_data([&](buffer&& b) { got.add(b.view()); });
  receiver->on_end([&] { ended = true; });
  p.pump();
  ASSERT_TRUE(f.run_until([&] { return ended; }, 20000ms));
  EXPECT_EQ(got.n, p.total);
  EXPECT_EQ(got.h, p.sum.h);
}

TEST(TcpTransfer, ResetByPeerFailsEveryPendingWriteOnce) {
  loop_fixture f;
  auto srv = sluice::make_tcp_server(f.loop);
  f.track(srv);
  std::shared_ptr<sluice::socket> peer;
  srv->on_connection([&](std::shared_ptr<sluice::socket> s) { peer = s; });
  ASSERT_FALSE(srv->listen());
  auto c = sluice::make_tcp_connection(f.loop, "127.0.0.1", srv->port());
  ASSERT_TRUE(f.run_until([&] { return peer != nullptr; }));
  // Far more than the kernel buffers hold, so that writes are pending when the peer resets.
  constexpr int writes = 1000;
  std::vector<int> calls(writes, 0);
  std::vector<std::error_code> results(writes);
  const buffer chunk(std::string(64 * KiB, 'x'));
  for (int i = 0; i < writes; ++i)
    c->write(chunk, [&, i](std::error_code ec) {
      ++calls[i];
      results[i] = ec;
    });
  std::error_code err;
  c->on_error([&](std::error_code ec) { err = ec; });
  // Let some data flow, then the peer resets the connection (SO_LINGER 0: RST, not FIN).
  ASSERT_TRUE(f.run_until([&] { return peer->bytes_read() > 0; }));
  f.run_for(20ms);
  peer->reset_and_destroy();
  ASSERT_TRUE(f.run_until([&] { return c->closed(); }));
  f.run_for(20ms);  // any late (double) callback would show up here
  int failed = 0;
  for (int i = 0; i < writes; ++i) {
    ASSERT_EQ(calls[i], 1) << "write " << i;
    if (results[i]) {
      ++failed;
      EXPECT_EQ(results[i], c->errored()) << "write " << i;
    }
  }
  EXPECT_GT(failed, 0);
  EXPECT_TRUE(err == std::errc::connection_reset || err == std::errc::broken_pipe) << err;
  const std::string peer_text = "127.0.0.1:" + std::to_string(srv->port());
  EXPECT_TRUE(c->error_message() == "read from " + peer_text + ": Connection reset by peer" ||
              c->error_message() == "write to " + peer_text + ": Connection reset by peer" ||
              c->error_message() == "write to " + peer_text + ": Broken pipe")
      << c->error_message();
}

}  // namespace
