// 09-operators: Node's readable operators on sluice streams, on an Asio loop.
//
// Numbers 1..20 are filtered (odd ones), squared by an asynchronous "lookup" that takes 5 ms on
// a timer, 4 at a time, grouped in batches of 3, and collected. Then a consumer finds the first
// square above 100 and stops the source there. Prints the batches and the find result.
#include <boost/asio/io_context.hpp>
#include <cstdio>
#include <optional>
#include <sluice/compose.hpp>
#include <vector>

namespace {

std::shared_ptr<sluice::readable<int>> numbers(sluice::loop& loop, int n) {
  auto next = std::make_shared<int>(1);
  return sluice::make_readable<int>(loop, {.read = [next, n](auto& self, std::size_t) {
                                      if (*next <= n)
                                        self.push((*next)++);
                                      else
                                        self.push_eof();
                                    }});
}

}  // namespace

int main() {
  boost::asio::io_context io;
  sluice::asio_loop loop(io);
  using namespace std::chrono_literals;

  // An asynchronous mapper: completes each item on a timer; at most 4 run at once, results in
  // input order.
  auto slow_square = [&loop](int x, sluice::done<long> done) {
    loop.start_timer(5ms, [x, done] { done(long{x} * x); });
  };
  auto batches = numbers(loop, 20) | sluice::ops::filter([](const int& x) { return x % 2 == 1; }) |
                 sluice::ops::map(slow_square, {.concurrency = 4}) | sluice::ops::batch(3);

  int failures = 0;
  sluice::to_vector(batches, [&](std::error_code ec, std::vector<std::vector<long>> all) {
    if (ec) {
      std::fprintf(stderr, "failed: %s\n", batches->error_message().c_str());
      ++failures;
      return;
    }
    for (const auto& b : all) {
      std::printf("[");
      for (std::size_t i = 0; i < b.size(); ++i) std::printf(i ? " %ld" : "%ld", b[i]);
      std::printf("]\n");
    }
  });

  auto squares = sluice::map(numbers(loop, 1'000'000), [](int x) { return long{x} * x; });
  sluice::find(
      squares, [](const long& v) { return v > 100; },
      [&](std::error_code ec, std::optional<long> v) {
        if (ec || !v) {
          ++failures;
          return;
        }
        std::printf("first square above 100: %ld\n", *v);  // the source stops here
      });
  io.run();
  return failures == 0 ? 0 : 1;
}
