// An HTTP download over a rate-limited link: the sluice server in one network namespace, curl
// in another, the veth pair between them shaped to 40 Mbit/s with tbf (support/netns.hpp). The
// handler writes 4 MiB honouring write(): the link sets the pace, write() returns false, the
// response never holds more than a highWaterMark (plus one chunk), the server's memory stays
// flat, and curl gets every byte. Skipped, with the reason, where network namespaces cannot be
// made (not root, no iproute2).
#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <cstdio>
#include <functional>
#include <memory>
#include <string>

#include "http_support.hpp"
#include "net/net_support.hpp"
#include "support/netns.hpp"

namespace {

using sluice::buffer;
using sluice::http_request;
using sluice::http_response;
using sluice::test::slow_link;
using namespace sluice::test;
using namespace std::chrono_literals;

constexpr std::size_t KiB = 1024;
constexpr std::size_t MiB = 1024 * KiB;

std::string body_bytes(std::size_t offset, std::size_t len) {
  std::string s(len, '\0');
  for (std::size_t i = 0; i < len; ++i)
    s[i] = static_cast<char>(((offset + i) * 2654435761u) >> 13);
  return s;
}

TEST(SlowLinkHttp, DownloadKeepsTheServersBufferBoundedAndArrivesWhole) {
  std::string why;
  auto link = slow_link::make("40mbit", &why);
  if (!link) GTEST_SKIP() << "no rate-limited link: " << why;
  constexpr std::size_t total = 4 * MiB;
  constexpr std::size_t chunk = 16 * KiB;
  boost::asio::io_context io;
  sluice::asio_loop loop(io);
  std::size_t written = 0;
  std::size_t refused = 0;
  std::size_t max_queued = 0;
  std::size_t hwm = 0;
  std::shared_ptr<http_response> held;
  auto server = sluice::make_http_server(
      loop, {},
      [&](const std::shared_ptr<http_request>&, const std::shared_ptr<http_response>& res) {
        held = res;
        hwm = res->writable_high_water_mark();
        res->set_header("Content-Type", "application/octet-stream");
        res->set_content_length(total);
        auto pump = std::make_shared<std::function<void()>>();
        *pump = [&, w = std::weak_ptr(res)] {  // weak: the drain listener must not own res
          auto r = w.lock();
          if (!r) return;
          while (written < total) {
            const bool more = r->write(buffer(body_bytes(written, chunk)));
            written += chunk;
            max_queued = std::max(max_queued, r->writable_length());
            if (!more) {
              ++refused;
              return;
            }
          }
          r->end();
        };
        res->on_drain([pump] { (*pump)(); });
        (*pump)();
      });
  {
    slow_link::enter in(link->a());
    ASSERT_FALSE(server->listen(link->addr_a(), 0));
  }
  temp_dir dir;
  const auto out = dir / "download";
  const auto rss_before = rss_bytes();
  const auto start = std::chrono::steady_clock::now();
  auto r = run_command_with(
      io, "ip netns exec " + link->b() +
              " curl -s --max-time 30 -w '%{http_code} %{size_download}' -o " + out.string() +
              " http://" + link->addr_a() + ":" + std::to_string(server->port()) + "/big");
  const auto took = std::chrono::steady_clock::now() - start;
  const auto growth = rss_bytes() - rss_before;
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.out, "200 " + std::to_string(total));
  EXPECT_TRUE(read_file(out) == body_bytes(0, total)) << "the body differs";
  EXPECT_GT(took, 500ms);  // 4 MiB at 40 Mbit/s take 0.84 s
  EXPECT_GT(refused, 10u);
  EXPECT_LE(max_queued, hwm + chunk);
  ASSERT_TRUE(held);
  EXPECT_LE(held->counters().peak_writable_length, hwm + chunk);
  if (net_test::rss_is_meaningful) {
    EXPECT_LT(growth, 8 * MiB) << "server RSS grew by " << growth << " bytes";
  }
  std::printf("4 MiB over 40 Mbit/s in %.2f s: %zu refusals, at most %zu bytes queued (hwm %zu)\n",
              std::chrono::duration<double>(took).count(), refused, max_queued, hwm);
  held.reset();
  bool closed = false;
  server->close([&](std::error_code) { closed = true; });
  run_until(
      io, [&] { return closed; }, 5s);
  EXPECT_TRUE(closed);
}

}  // namespace
