// Slow HTTP attacks against the sluice server, made with Debian's slowhttptest (a real attack
// tool, not a simulation), each run for about three seconds while curl keeps asking for a page:
//   - slow headers (slowloris, -H): every attack connection is closed by the headers timeout
//     (short here) well before the attack ends, and the normal client is served throughout;
//   - slow body (R-U-Dead-Yet, -B: a large Content-Length, then a few bytes a second): every
//     attack connection is answered 408 and closed by the request timeout (short here);
//   - slow read (-X, a tiny receive window, reads a few bytes a second): the server's memory and
//     each response's queued bytes stay bounded while it waits for readers that barely read,
//     and the normal client is served throughout.
// Skipped when slowhttptest or curl is missing (scripts/setup.sh installs both).
#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <cstdio>
#include <functional>
#include <future>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "http_support.hpp"
#include "net/net_support.hpp"

namespace {

using sluice::buffer;
using sluice::http_request;
using sluice::http_response;
using namespace sluice::test;
using namespace std::chrono_literals;

using req_ptr = std::shared_ptr<http_request>;
using res_ptr = std::shared_ptr<http_response>;

constexpr std::size_t KiB = 1024;
constexpr std::size_t MiB = 1024 * KiB;

bool have(const char* tool) {
  return std::system((std::string("command -v ") + tool + " >/dev/null 2>&1").c_str()) == 0;
}

// One row of slowhttptest's statistics (-g -o PREFIX writes PREFIX.csv, one row a second).
struct stats_row {
  int second = 0, closed = 0, pending = 0, connected = 0, available = 0;
};

std::vector<stats_row> read_stats(const std::string& csv) {
  std::vector<stats_row> rows;
  std::istringstream in(csv);
  std::string line;
  std::getline(in, line);  // Seconds,Closed,Pending,Connected,Service Available
  while (std::getline(in, line)) {
    stats_row r;
    if (std::sscanf(line.c_str(), "%d,%d,%d,%d,%d", &r.second, &r.closed, &r.pending, &r.connected,
                    &r.available) == 5)
      rows.push_back(r);
  }
  return rows;
}

// The server under attack, slowhttptest on one thread, curl asking for /small every 250 ms on
// another (from 0.5 s in, while the attack is on), the loop on this one.
struct attack_env {
  explicit attack_env(sluice::http_server_options o, sluice::http_handler h)
      : loop(io), server(sluice::make_http_server(loop, o, std::move(h))) {
    EXPECT_FALSE(server->listen("127.0.0.1", 0));
    url = "http://127.0.0.1:" + std::to_string(server->port());
  }
  ~attack_env() {
    bool closed = false;
    server->close([&](std::error_code) { closed = true; });
    run_until(
        io, [&] { return closed; }, 5s);
  }

  struct outcome {
    command_result attack;  // its exit status, as text
    std::string report;     // what it printed
    std::vector<stats_row> stats;
    int normal_ok = 0;  // curl requests answered 200 with the right body
    int normal_total = 0;
    double normal_slowest = 0;  // seconds
    std::size_t peak_connections = 0;
    int ended_on = -1;  // the second the tool says the test ended on
  };

  // Runs `slowhttptest ARGS -g -o ... -u URL/PATH` while the loop serves.
  outcome attack(const std::string& args, const std::string& path,
                 const std::function<void()>& every_tick = {}) {
    outcome o;
    const std::string prefix = (dir / "stats").string();
    auto tool = std::async(std::launch::async, [&] {
      return run_command("slowhttptest " + args + " -g -o " + prefix + " -u " + url + path + " >" +
                         (dir / "out.txt").string() + " 2>&1; echo $?");
    });
    auto normal = std::async(std::launch::async, [&] {
      std::this_thread::sleep_for(500ms);
      while (tool.wait_for(0s) != std::future_status::ready && o.normal_total < 8) {
        const auto t0 = std::chrono::steady_clock::now();
        auto r = run_command("curl -s --max-time 10 " + url + "/small");
        const double s =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        ++o.normal_total;
        if (r.exit_code == 0 && r.out == "small") ++o.normal_ok;
        o.normal_slowest = std::max(o.normal_slowest, s);
        std::this_thread::sleep_for(250ms);
      }
    });
    run_until(
        io,
        [&] {
          o.peak_connections = std::max(o.peak_connections, server->connection_count());
          if (every_tick) every_tick();
          return tool.wait_for(0s) == std::future_status::ready &&
                 normal.wait_for(0s) == std::future_status::ready;
        },
        60s);
    o.attack = tool.get();
    normal.get();
    o.stats = read_stats(read_file(prefix + ".csv"));
    o.report = read_file((dir / "out.txt").string());
    // Its report is in colour: drop the escape sequences.
    for (auto esc = o.report.find('\x1b'); esc != std::string::npos; esc = o.report.find('\x1b')) {
      const auto end = o.report.find_first_of("mHJ", esc);
      o.report.erase(esc, end == std::string::npos ? std::string::npos : end - esc + 1);
    }
    if (const auto at = o.report.find("Test ended on "); at != std::string::npos)
      o.ended_on = std::atoi(o.report.c_str() + at + 14);
    return o;
  }

  boost::asio::io_context io;
  sluice::asio_loop loop;
  std::unique_ptr<sluice::http_server> server;
  std::string url;
  temp_dir dir;
};

// The tool ran, and every attack connection was closed by the server before `seconds` had
// passed (slowhttptest itself keeps them open to the end of the test, so it stopped early).
void expect_closed_by_the_server(const attack_env::outcome& o, int seconds) {
  EXPECT_EQ(o.attack.out, "0\n");
  EXPECT_FALSE(o.stats.empty()) << "slowhttptest wrote no statistics";
  EXPECT_NE(o.report.find("Exit status: No open connections left"), std::string::npos) << o.report;
  EXPECT_GE(o.ended_on, 0) << o.report;
  EXPECT_LT(o.ended_on, seconds) << o.report;
}

// The normal client was served during the attack, promptly.
void expect_normal_clients_served(const attack_env::outcome& o) {
  EXPECT_GT(o.normal_total, 0);
  EXPECT_EQ(o.normal_ok, o.normal_total);
  EXPECT_LT(o.normal_slowest, 3.0);
}

void answer_small(const res_ptr& res) {
  res->set_content_length(5);
  res->end(buffer::copy_of("small"));
}

TEST(HttpSlowAttacks, SlowlorisConnectionsAreClosedByTheHeadersTimeout) {
  if (!have("slowhttptest") || !have("curl")) GTEST_SKIP() << "slowhttptest or curl is missing";
  attack_env e({.headers_timeout = 500ms},
               [](const req_ptr&, const res_ptr& res) { answer_small(res); });
  // 40 connections opened within a second, each sending one more header line every second
  // (never the blank line that ends the head), for at most 4 s.
  auto o = e.attack("-H -c 40 -r 40 -i 1 -x 8 -p 3 -l 4", "/");
  expect_closed_by_the_server(o, 4);
  for (const auto& r : o.stats)
    EXPECT_GT(r.available, 0) << "slowhttptest's probe found the service down at second "
                              << r.second;
  expect_normal_clients_served(o);
  EXPECT_TRUE(run_until(
      e.io, [&] { return e.server->connection_count() == 0; }, 5s));
  std::printf(
      "slowloris: 40 connections all closed by the server, attack over on second %d; %d/%d "
      "normal requests served (slowest %.3f s); peak %zu connections\n",
      o.ended_on, o.normal_ok, o.normal_total, o.normal_slowest, o.peak_connections);
}

TEST(HttpSlowAttacks, SlowBodyConnectionsAreClosedByTheRequestTimeout) {
  if (!have("slowhttptest") || !have("curl")) GTEST_SKIP() << "slowhttptest or curl is missing";
  std::size_t timed_out = 0;
  std::size_t other_errors = 0;
  attack_env e({.request_timeout = 1s}, [&](const req_ptr& req, const res_ptr& res) {
    if (req->target() == "/small") return answer_small(res);
    req->on_data([](buffer&&) {});  // reads the body as it comes
    req->on_end([res] { answer_small(res); });
    req->on_error(
        [&](std::error_code ec) { ++(ec == std::errc::timed_out ? timed_out : other_errors); });
  });
  // 40 connections opened within a second, each POSTing a body of 8192 declared bytes, sending
  // up to 8 of them every second, for at most 5 s.
  auto o = e.attack("-B -c 40 -r 40 -i 1 -s 8192 -x 8 -p 3 -l 5", "/");
  expect_closed_by_the_server(o, 5);
  // Each attack request failed with the timeout, none otherwise.
  EXPECT_EQ(timed_out, 40u);
  EXPECT_EQ(other_errors, 0u);
  expect_normal_clients_served(o);
  EXPECT_TRUE(run_until(
      e.io, [&] { return e.server->connection_count() == 0; }, 5s));
  std::printf(
      "slow body: %zu requests timed out, attack over on second %d; %d/%d normal requests served "
      "(slowest %.3f s); peak %zu connections\n",
      timed_out, o.ended_on, o.normal_ok, o.normal_total, o.normal_slowest, o.peak_connections);
}

TEST(HttpSlowAttacks, SlowReadKeepsTheServersMemoryBounded) {
  if (!have("slowhttptest") || !have("curl")) GTEST_SKIP() << "slowhttptest or curl is missing";
  constexpr std::size_t body = 8 * MiB;  // per response; the attack reads a tiny part of it
  constexpr std::size_t chunk = 16 * KiB;
  std::size_t max_queued = 0;  // the most any response held, at any write
  std::size_t refused = 0;
  std::size_t hwm = 0;
  std::size_t responses = 0;
  std::size_t written = 0;
  attack_env e({}, [&](const req_ptr& req, const res_ptr& res) {
    if (req->target() == "/small") return answer_small(res);
    ++responses;
    hwm = res->writable_high_water_mark();
    res->set_header("Content-Type", "application/octet-stream");
    res->set_content_length(body);
    auto sent = std::make_shared<std::size_t>(0);
    auto pump = std::make_shared<std::function<void()>>();
    *pump = [&, sent, w = std::weak_ptr(res)] {  // weak: the drain listener must not own res
      auto r = w.lock();
      if (!r) return;
      while (*sent < body) {
        *sent += chunk;
        written += chunk;
        const bool more = r->write(buffer(std::string(chunk, 'r')));
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
  const auto rss_before = net_test::rss_kib();
  std::uint64_t rss_peak = rss_before;
  // 30 connections asking for 8 MiB each (twice, pipelined), advertising a 512-1024 byte
  // window and reading 32 bytes a second, for 3 s.
  auto o = e.attack("-X -c 30 -r 30 -k 2 -n 1 -w 512 -y 1024 -z 32 -p 3 -l 3", "/big",
                    [&] { rss_peak = std::max(rss_peak, net_test::rss_kib()); });
  EXPECT_EQ(o.attack.out, "0\n");
  ASSERT_FALSE(o.stats.empty()) << "slowhttptest wrote no statistics";
  EXPECT_GE(responses, 20u) << "the attack did not get going";
  EXPECT_GT(refused, 0u);
  EXPECT_LE(max_queued, hwm + chunk);
  // What went out is kernel buffers' worth per connection, not 8 MiB each.
  EXPECT_LT(written, responses * 4 * MiB);
  const auto growth = rss_peak - rss_before;
  if (net_test::rss_is_meaningful) {
    EXPECT_LT(growth, 16 * 1024u) << "RSS grew by " << growth << " KiB during the attack";
  }
  expect_normal_clients_served(o);
  // The attack's connections are gone once it stops.
  EXPECT_TRUE(run_until(
      e.io, [&] { return e.server->connection_count() == 0; }, 10s))
      << e.server->connection_count() << " connections left";
  std::printf(
      "slow read: %zu responses, %zu KiB written, at most %zu bytes queued per response "
      "(hwm %zu); RSS +%llu KiB; %d/%d normal requests served (slowest %.3f s)\n",
      responses, written / KiB, max_queued, hwm, static_cast<unsigned long long>(growth),
      o.normal_ok, o.normal_total, o.normal_slowest);
}

}  // namespace
