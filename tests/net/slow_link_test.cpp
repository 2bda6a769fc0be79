// A sluice sender on a rate-limited link: two network namespaces joined by a veth pair shaped
// to 40 Mbit/s with tbf (support/netns.hpp). The sluice server listens in namespace A and sends
// 6 MiB to a Python client in namespace B: the link, not the sender, sets the pace, so
// write() keeps returning false, the sender's queued bytes stay within one highWaterMark (plus
// one chunk) the whole time, and every byte arrives. Skipped, with the reason, where network
// namespaces cannot be made (not root, no iproute2).
#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <sstream>
#include <string>

#include "net/net_support.hpp"
#include "sluice/net/server.hpp"
#include "sluice/net/socket.hpp"
#include "support/netns.hpp"
#include "support/peer_process.hpp"

namespace {

using namespace std::chrono_literals;
using net_test::loop_fixture;
using sluice::buffer;
using sluice::test::crc32;
using sluice::test::peer_process;
using sluice::test::slow_link;

constexpr std::size_t KiB = 1024;
constexpr std::size_t MiB = 1024 * KiB;

// Connects to argv[1]:argv[2], reads to the end, prints "<bytes> <crc32>".
const char* const python_client = R"(
import socket, sys, zlib
c = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=30)
n = 0
h = 0
while True:
    b = c.recv(1 << 16)
    if not b:
        break
    n += len(b)
    h = zlib.crc32(b, h)
print(n, h, flush=True)
)";

TEST(SlowLinkTcp, SenderQueuesAtMostAHighWaterMarkAndEverythingArrives) {
  std::string why;
  auto link = slow_link::make("40mbit", &why);
  if (!link) GTEST_SKIP() << "no rate-limited link: " << why;
  loop_fixture f;
  auto srv = sluice::make_tcp_server(f.loop, {.host = link->addr_a()});
  f.track(srv);
  {
    slow_link::enter in(link->a());  // the listening socket, and what it accepts, live in A
    ASSERT_FALSE(srv->listen()) << srv->error_message();
  }

  constexpr std::uint64_t total = 6 * MiB;
  constexpr std::size_t chunk = 16 * KiB;
  std::shared_ptr<sluice::socket> sender;
  std::uint64_t sent = 0;
  std::uint64_t refused = 0;
  std::uint32_t crc = 0;
  std::size_t max_queued = 0;
  std::function<void()> pump = [&] {
    while (sent < total) {
      std::string bytes(chunk, '\0');
      for (std::size_t i = 0; i < chunk; ++i)
        bytes[i] = static_cast<char>(((sent + i) * 2654435761u) >> 13);
      crc = crc32(crc, bytes);
      sent += chunk;
      const bool more = sender->write(buffer(std::move(bytes)));
      max_queued = std::max(max_queued, sender->writable_length());
      if (!more) {
        ++refused;
        return;
      }
    }
    sender->end();
  };
  srv->on_connection([&](std::shared_ptr<sluice::socket> s) {
    sender = s;
    s->resume();
    s->on_drain([&] { pump(); });
    pump();
  });
  const auto rss_before = net_test::rss_kib();
  const auto start = std::chrono::steady_clock::now();
  const std::string python = sluice::test::python3();
  if (python.empty()) GTEST_SKIP() << "python3 is not installed";
  peer_process client({"ip", "netns", "exec", link->b(), python, "-c", python_client,
                       link->addr_a(), std::to_string(srv->port())});
  ASSERT_TRUE(client.started());
  std::string result;
  ASSERT_TRUE(f.run_until(
      [&] {
        if (sender) max_queued = std::max(max_queued, sender->writable_length());
        if (auto l = client.read_line(0ms)) result = *l;
        return !result.empty();
      },
      30000ms))
      << "the client got nothing; the sender wrote " << sent << " bytes";
  const auto took = std::chrono::steady_clock::now() - start;
  ASSERT_TRUE(sender);
  ASSERT_TRUE(f.run_until([&] { return sender->closed(); }));
  EXPECT_FALSE(sender->errored()) << sender->error_message();

  std::istringstream in(result);
  std::uint64_t n = 0;
  std::uint32_t h = 0;
  in >> n >> h;
  EXPECT_EQ(n, total);
  EXPECT_EQ(h, crc);
  // 6 MiB at 40 Mbit/s take 1.26 s: the link set the pace (a loopback would take milliseconds).
  EXPECT_GT(took, 800ms);
  EXPECT_GT(refused, 10u);
  const std::size_t bound = sender->writable_high_water_mark() + chunk;
  EXPECT_LE(max_queued, bound);
  EXPECT_LE(sender->counters().peak_writable_length, bound);
  const auto growth = net_test::growth_kib(rss_before, net_test::rss_kib());
  if (net_test::rss_is_meaningful) {
    EXPECT_LT(growth, 4 * 1024u) << "RSS grew by " << growth << " KiB";
  }
  std::printf("6 MiB over 40 Mbit/s in %.2f s: %llu refusals, at most %zu bytes queued (hwm %zu)\n",
              std::chrono::duration<double>(took).count(), static_cast<unsigned long long>(refused),
              max_queued, sender->writable_high_water_mark());
  EXPECT_EQ(client.wait(), 0);
}

}  // namespace
