// tests/messaging/jetstream_support.hpp: the NATS test cluster (scripts/nats-cluster.sh, three
// servers started by the ctest fixture "nats"), a loop to run, and synchronous forms of the
// admin calls for setting up and checking streams.
#pragma once

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <sys/types.h>

#include "sluice/core/asio_loop.hpp"
#include "sluice/core/make.hpp"
#include "sluice/messaging/jetstream_admin.hpp"

namespace jetstream_test {

using namespace std::chrono_literals;

// The cluster's directory (SLUICE_NATS_DIR), or "" when the tests run without the fixture.
inline std::string cluster_dir() {
  const char* d = std::getenv("SLUICE_NATS_DIR");
  return d != nullptr ? d : "";
}

inline std::string read_line(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  return line;
}

// Without SLUICE_NATS_DIR the suite is skipped (a plain run of sluice_tests); with it (ctest
// sets it) a cluster that cannot be found is a failure: the fixture promised one.
#define SLUICE_NEED_NATS()                                                                       \
  do {                                                                                           \
    if (::jetstream_test::cluster_dir().empty())                                                 \
      GTEST_SKIP()                                                                               \
          << "no NATS test cluster: run under ctest (fixture 'nats'), or start one with "        \
             "`scripts/nats-cluster.sh start /tmp/nats` and set SLUICE_NATS_DIR=/tmp/nats";      \
    ASSERT_FALSE(::jetstream_test::read_line(::jetstream_test::cluster_dir() + "/urls").empty()) \
        << "SLUICE_NATS_DIR=" << ::jetstream_test::cluster_dir()                                 \
        << " has no urls file: the cluster did not start";                                       \
  } while (0)

// The client URL of server n (1, 2 or 3).
inline std::string server_url(int n) {
  return "nats://127.0.0.1:" + read_line(cluster_dir() + "/s" + std::to_string(n) + "/port");
}

// The server leading the cluster's JetStream meta group ("s1", "s2" or "s3"), from server n's
// monitoring port; "" if it cannot tell.
inline std::string meta_leader(int n = 1) {
  const std::string cmd = "curl -s http://127.0.0.1:" +
                          read_line(cluster_dir() + "/s" + std::to_string(n) + "/monitor") +
                          "/jsz 2>/dev/null";
  FILE* p = ::popen(cmd.c_str(), "r");
  if (p == nullptr) return "";
  std::string out;
  char buf[4096];
  std::size_t got;
  while ((got = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, got);
  ::pclose(p);
  const auto meta = out.find("\"meta_cluster\"");
  const auto key = out.find("\"leader\": \"", meta == std::string::npos ? 0 : meta);
  if (meta == std::string::npos || key == std::string::npos) return "";
  const auto start = key + 11;
  return out.substr(start, out.find('"', start) - start);
}

// Runs the fixture's script: "kill" or "restart" server n.
inline int cluster(const std::string& verb, int n) {
  const std::string cmd = std::string(SLUICE_NATS_CLUSTER_SCRIPT) + " " + verb + " '" +
                          cluster_dir() + "' " + std::to_string(n) + " >/dev/null 2>&1";
  return std::system(cmd.c_str());
}

// Freezes the three servers (SIGSTOP) for its lifetime: they keep their connections and
// answer nothing, as a server stuck on a full disk or a paused VM would. Continued (SIGCONT) on
// destruction, however the test ends, which then waits until each reports itself healthy
// again (the next test needs the whole cluster).
class frozen_cluster {
 public:
  frozen_cluster() {
    for (int n = 1; n <= 3; ++n) {
      const pid_t pid = static_cast<pid_t>(
          std::stol("0" + read_line(cluster_dir() + "/s" + std::to_string(n) + "/pid")));
      if (pid > 0 && ::kill(pid, SIGSTOP) == 0) pids_.push_back(pid);
    }
  }
  frozen_cluster(const frozen_cluster&) = delete;
  frozen_cluster& operator=(const frozen_cluster&) = delete;
  ~frozen_cluster() {
    for (const pid_t pid : pids_) ::kill(pid, SIGCONT);
    for (int n = 1; n <= 3; ++n) EXPECT_EQ(cluster("restart", n), 0) << "server s" << n;
  }
  [[nodiscard]] std::size_t frozen() const noexcept { return pids_.size(); }

 private:
  std::vector<pid_t> pids_;
};

inline std::string item(std::size_t i) { return "item-" + std::to_string(i); }

// A sink that keeps what it is given.
inline std::shared_ptr<sluice::writable<std::string>> collector(sluice::loop& l,
                                                                std::vector<std::string>& into,
                                                                std::size_t hwm = 16) {
  return sluice::make_writable<std::string>(l, {.high_water_mark = hwm,
                                                .name = "collector",
                                                .write = [&into](auto&, std::string&& s, auto cb) {
                                                  into.push_back(std::move(s));
                                                  cb();
                                                }});
}

struct write_log {
  std::vector<std::error_code> results;  // one per callback, in the order they ran
  std::vector<std::size_t> order;        // the item index of each callback
};

// Writes items [0, n) as fast as write() allows (waiting for 'drain' after a false), logging
// every callback, then ends the writer.
struct producer {
  producer(std::shared_ptr<sluice::writable<std::string>> writer, std::size_t count)
      : w(std::move(writer)), n(count) {}
  std::shared_ptr<sluice::writable<std::string>> w;
  std::size_t n = 0;
  std::size_t next = 0;
  std::size_t falses = 0;
  write_log log;
  std::optional<std::error_code> ended;  // end()'s callback ran, with this

  void run() {
    if (next == n) return end();
    while (next < n) {
      const std::size_t i = next++;
      const bool more = w->write(item(i), [this, i](std::error_code ec) {
        log.results.push_back(ec);
        log.order.push_back(i);
      });
      if (!more) {
        ++falses;
        w->once_drain([this] { run(); });
        return;
      }
    }
    end();
  }
  void end() {
    w->end([this](std::error_code ec) { ended = ec; });
  }
};

// A client of the test cluster for a test: a loop, the cluster's options, names of the test's
// own (so tests do not meet in the cluster), and synchronous admin calls. The JetStream tests
// use it through jetstream_fixture; the CLI's JetStream tests hold one.
class cluster_client {
 public:
  boost::asio::io_context io;
  sluice::asio_loop loop{io};
  sluice::messaging::jetstream_options nats;
  std::string name;  // the test's name: streams are "T_<name>", subjects "t.<name>..."
  std::vector<std::string> made;

  // Checks that the three servers run (a test that killed one and failed before restarting it
  // would leave two: a stream with three replicas cannot be made then) and reads their URLs.
  void connect() {
    for (int n = 1; n <= 3; ++n)
      ASSERT_EQ(cluster("restart", n), 0) << "server s" << n << " of the test cluster is down";
    nats.urls = read_line(cluster_dir() + "/urls");
    nats.connect_timeout = 2s;
    nats.request_timeout = 5s;
    name = ::testing::UnitTest::GetInstance()->current_test_info()->name();
  }

  // Deletes the streams the test made.
  void delete_streams() {
    for (const std::string& s : made) {
      bool done = false;
      sluice::messaging::delete_stream(loop, nats, s,
                                       [&](std::error_code, const std::string&) { done = true; });
      run_until([&] { return done; }, 10s);
    }
    made.clear();
  }

  std::string stream_name() const { return "T_" + name; }
  std::string subject(const std::string& leaf = "items") const { return "t." + name + "." + leaf; }

  // A stream for the test's subjects, three replicas, created now.
  sluice::messaging::jetstream_stream_config stream_config() const {
    return {.name = stream_name(), .subjects = {"t." + name + ".>"}, .replicas = 3};
  }
  void make_stream(sluice::messaging::jetstream_stream_config c) {
    std::optional<std::error_code> r;
    std::string message;
    sluice::messaging::ensure_stream(loop, nats, c, [&](std::error_code ec, const std::string& m) {
      r = ec;
      message = m;
    });
    ASSERT_TRUE(run_until([&] { return r.has_value(); }, 15s));
    ASSERT_FALSE(*r) << message;
    made.push_back(c.name);
  }

  sluice::messaging::jetstream_stream_info stream_info(const std::string& stream) {
    std::optional<sluice::messaging::jetstream_stream_info> info;
    sluice::messaging::get_stream_info(
        loop, nats, stream,
        [&](std::error_code ec, const std::string& m, sluice::messaging::jetstream_stream_info i) {
          EXPECT_FALSE(ec) << m;
          info = std::move(i);
        });
    EXPECT_TRUE(run_until([&] { return info.has_value(); }, 10s));
    return info.value_or(sluice::messaging::jetstream_stream_info{});
  }

  sluice::messaging::jetstream_consumer_info consumer_info(const std::string& stream,
                                                           const std::string& consumer) {
    std::optional<sluice::messaging::jetstream_consumer_info> info;
    sluice::messaging::get_consumer_info(loop, nats, stream, consumer,
                                         [&](std::error_code ec, const std::string& m,
                                             sluice::messaging::jetstream_consumer_info i) {
                                           EXPECT_FALSE(ec) << m;
                                           info = std::move(i);
                                         });
    EXPECT_TRUE(run_until([&] { return info.has_value(); }, 10s));
    return info.value_or(sluice::messaging::jetstream_consumer_info{});
  }

  // Runs the io_context until `done()` holds; false if `limit` passed first.
  bool run_until(const std::function<bool()>& done, std::chrono::milliseconds limit = 10s) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (!done()) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      step();
    }
    return true;
  }
  // Runs the io_context for `d`, whatever happens.
  void run_for(std::chrono::milliseconds d) {
    const auto deadline = std::chrono::steady_clock::now() + d;
    while (std::chrono::steady_clock::now() < deadline) step();
  }
  void step() {
    if (io.stopped()) io.restart();
    if (io.run_for(std::chrono::milliseconds(5)) == 0)
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
};

// A JetStream test: a cluster_client, and the streams the test tracks destroyed at its end,
// before the streams it made are deleted.
class jetstream_fixture : public ::testing::Test, public cluster_client {
 public:
  std::vector<std::shared_ptr<sluice::stream>> tracked;

  void SetUp() override {
    if (!cluster_dir().empty()) connect();
  }

  // Destroys the tracked streams (a test that fails half-way leaves them running, and what
  // their hooks capture is gone), then deletes the streams the test made.
  void TearDown() override {
    for (auto& s : tracked) s->destroy();
    tracked.clear();
    run_for(50ms);
    delete_streams();
  }

  // Has TearDown destroy `s`.
  template <class S>
  std::shared_ptr<S> track(std::shared_ptr<S> s) {
    tracked.push_back(s);
    return s;
  }
};

}  // namespace jetstream_test
