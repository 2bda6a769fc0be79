// 01-backpressure: what respecting write()'s return value buys.
//
// A producer writes 64 KiB chunks into a writable whose sink completes each write on a later
// turn of the loop (like a disk or a socket would). Run twice:
//   - respecting backpressure: stop when write() returns false, continue on 'drain';
//   - ignoring it: write everything at once.
// Then print the peak buffered bytes of each, from the stream's own counters.
//
//   example-01-backpressure [total MiB, default 256]
#include <boost/asio/io_context.hpp>

#include <cstdio>
#include <cstdlib>
#include <functional>
#include <memory>
#include <string>

#include <sluice/core.hpp>

namespace {

struct result {
  std::size_t peak_buffered = 0;
  std::uint64_t bytes = 0;
  std::uint64_t backpressure_episodes = 0;
  std::uint64_t drains = 0;
};

result run(std::size_t total, bool respect_backpressure) {
  boost::asio::io_context io;
  sluice::asio_loop loop(io);
  std::uint64_t consumed = 0;
  // The sink takes each chunk on a later turn of the loop: a slow consumer.
  auto sink = sluice::make_writable<sluice::buffer>(
      loop, {.write = [&](sluice::writable<sluice::buffer>& self, sluice::buffer&& b, auto cb) {
        consumed += b.size();
        boost::asio::post(io, [cb, keep = self.shared_from_this()] { cb(); });
      }});

  const sluice::buffer chunk(std::string(64 * 1024, 'x'));  // shared, never copied
  std::size_t written = 0;
  std::function<void()> produce = [&] {
    while (written < total) {
      written += chunk.size();
      const bool ok = sink->write(chunk);
      if (!ok && respect_backpressure) {
        sink->once_drain(produce);  // resume when the buffer has emptied
        return;
      }
    }
    sink->end();
  };
  produce();
  io.run();

  const auto& c = sink->counters();
  return {c.peak_writable_length, consumed, c.write_backpressure, c.drains};
}

}  // namespace

int main(int argc, char** argv) {
  const std::size_t mib = argc > 1 ? std::strtoul(argv[1], nullptr, 10) : 256;
  const std::size_t total = mib * 1024 * 1024;
  const result good = run(total, true);
  const result bad = run(total, false);
  std::printf("%-28s %16s %16s\n", "", "respects write()", "ignores write()");
  std::printf("%-28s %13.1f MiB %13.1f MiB\n", "bytes written", good.bytes / 1048576.0,
              bad.bytes / 1048576.0);
  std::printf("%-28s %12.1f KiB %12.1f KiB\n", "peak buffered (hwm 64 KiB)",
              good.peak_buffered / 1024.0, bad.peak_buffered / 1024.0);
  std::printf("%-28s %16llu %16llu\n", "backpressure episodes",
              static_cast<unsigned long long>(good.backpressure_episodes),
              static_cast<unsigned long long>(bad.backpressure_episodes));
  std::printf("%-28s %16llu %16llu\n", "drains", static_cast<unsigned long long>(good.drains),
              static_cast<unsigned long long>(bad.drains));
  return good.bytes == total && bad.bytes == total ? 0 : 1;
}
