// 05-pipeline: pipeline() wires readable<int> → transform<int, long> → writable<long> and calls
// back once, with the first real error and the stage that failed. The second run has a stage
// that rejects an item: every stage is torn down and the error names it.
#include <boost/asio/io_context.hpp>
#include <cstdio>
#include <sluice/compose.hpp>
#include <system_error>

namespace {

// Sums the squares of 0..n-1; a negative `reject` never matches.
bool run(int n, int reject) {
  boost::asio::io_context io;
  sluice::asio_loop loop(io);
  int next = 0;
  auto numbers =
      sluice::make_readable<int>(loop, {.name = "numbers", .read = [&](auto& self, std::size_t) {
                                          if (next < n)
                                            self.push(next++);
                                          else
                                            self.push_eof();
                                        }});
  auto square = sluice::make_transform<int, long>(
      loop, {.name = "square", .transform = [reject](auto& self, int&& x, auto done) {
               if (x == reject)
                 self.fail(make_error_code(std::errc::invalid_argument),
                           "item " + std::to_string(x));
               else
                 done(long{x} * x);
             }});
  long sum = 0;
  auto total =
      sluice::make_writable<long>(loop, {.name = "total", .write = [&](auto&, long&& x, auto done) {
                                           sum += x;
                                           done();
                                         }});
  bool ok = false;
  sluice::pipeline(numbers, square, total, [&](const sluice::pipeline_error& e) {
    if (e) {
      std::printf("failed: %s\n", e.message().c_str());
    } else {
      std::printf("sum of squares below %d: %ld\n", n, sum);
      ok = sum == 332833500L;
    }
  });
  io.run();
  return ok;
}

}  // namespace

int main() {
  const bool first = run(1000, -1);
  const bool second = run(1000, 500);  // "failed: stage 2 (square): item 500: Invalid argument"
  return first && !second ? 0 : 1;
}
