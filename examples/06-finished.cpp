// 06-finished: finished() tells once when a stream is done, whichever way: here a writable that
// finishes normally, and a readable destroyed before its end (premature close). A watch that is
// no longer wanted is cancelled; its callback never runs.
#include <boost/asio/io_context.hpp>
#include <cstdio>
#include <sluice/compose.hpp>

int main() {
  boost::asio::io_context io;
  sluice::asio_loop loop(io);
  int reports = 0;

  auto sink = sluice::make_writable<int>(loop, {.write = [](auto&, int&&, auto done) { done(); }});
  sluice::finished(sink, [&](std::error_code ec) {
    std::printf("sink: %s\n", ec ? ec.message().c_str() : "finished");
    ++reports;
  });
  sink->write(1);
  sink->end(2);

  auto source = sluice::make_readable<int>(loop, {.read = [](auto&, std::size_t) {}});
  sluice::finished(source, [&](std::error_code ec) {
    std::printf("source: %s\n", ec ? ec.message().c_str() : "ended");  // "Premature close"
    ++reports;
  });
  auto unwanted = sluice::finished(source, [](std::error_code) { std::printf("never printed\n"); });
  unwanted.cancel();
  source->destroy();

  io.run();
  return reports == 2 ? 0 : 1;
}
