// 18-multi-writer: one writable that copies each item to three targets under quorum(2).
//
// "disk" acknowledges at once, "replica" 5 ms later, and "remote" fails its third write (its
// stream is then dead). Every write still completes, because two targets acknowledge it; the
// failing target takes nothing else down. The producer respects backpressure; at the end the
// per-target counters show who got what.
//
//   example-18-multi-writer
#include <boost/asio/io_context.hpp>

#include <chrono>
#include <cstdio>
#include <functional>
#include <memory>
#include <string>
#include <system_error>
#include <vector>

#include <sluice/core.hpp>
#include <sluice/sinks/multi_writer.hpp>

int main() {
  using namespace std::chrono_literals;
  boost::asio::io_context io;
  sluice::asio_loop loop(io);
  using wcb = sluice::writable<std::string>::write_callback;

  auto disk = sluice::make_writable<std::string>(
      loop, {.write = [](sluice::writable<std::string>&, std::string&&, wcb cb) { cb(); }});
  auto replica = sluice::make_writable<std::string>(
      loop, {.write = [&loop](sluice::writable<std::string>& self, std::string&&, wcb cb) {
        (void)loop.start_timer(5ms, [cb, keep = self.shared_from_this()] { cb(); });
      }});
  int remote_writes = 0;
  auto remote = sluice::make_writable<std::string>(
      loop, {.write = [&](sluice::writable<std::string>&, std::string&&, wcb cb) {
        if (++remote_writes == 3)
          cb(std::make_error_code(std::errc::connection_reset));
        else
          cb();
      }});

  auto out = sluice::make_multi_writer<std::string>(
      loop, {{"disk", disk}, {"replica", replica}, {"remote", remote}},
      {.policy = sluice::fan_out_policy::quorum(2),
       .target_timeout = 100ms,
       .queue_limit = 4,
       .high_water_mark = 4});

  int written = 0;
  int completed = 0;
  int failed = 0;
  std::function<void()> produce = [&] {
    while (written < 20) {
      const bool more = out->write("record " + std::to_string(++written),
                                   [&](std::error_code ec) { ++(ec ? failed : completed); });
      if (!more) {
        out->once_drain(produce);  // wait until the slowest needed target caught up
        return;
      }
    }
    out->end([](std::error_code ec) {
      std::printf("end: %s\n", ec ? ec.message().c_str() : "finished");
    });
  };
  produce();
  io.run();

  std::printf("writes: %d completed, %d failed; write() returned false %llu times\n", completed,
              failed, static_cast<unsigned long long>(out->counters().write_backpressure));
  std::printf("%-8s %-8s %9s %6s %8s %7s  %s\n", "target", "state", "delivered", "failed",
              "timeouts", "lagging", "error");
  for (const auto& t : out->target_counters())
    std::printf(
        "%-8s %-8s %9llu %6llu %8llu %7llu  %s\n", t.name.c_str(), sluice::to_string(t.state),
        static_cast<unsigned long long>(t.delivered), static_cast<unsigned long long>(t.failed),
        static_cast<unsigned long long>(t.timeouts), static_cast<unsigned long long>(t.lagging),
        t.error ? t.error.message().c_str() : "-");
}
