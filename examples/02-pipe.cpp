// 02-pipe: the README example — readable<int> → transform<int, long> → writable<long>, piped on
// an Asio loop. Prints the sum of the squares of 0..999.
#include <boost/asio/io_context.hpp>
#include <cstdio>
#include <sluice/core.hpp>
int main() {
  boost::asio::io_context io;
  sluice::asio_loop loop(io);

  int next = 0;
  auto numbers =
      sluice::make_readable<int>(loop, {.read = [&](sluice::readable<int>& self, std::size_t) {
                                   if (next < 1000)
                                     self.push(next++);
                                   else
                                     self.push_eof();
                                 }});
  auto square = sluice::make_transform<int, long>(
      loop, {.transform = [](auto&, int&& x, auto done) { done(long{x} * x); }});
  long sum = 0;
  auto total = sluice::make_writable<long>(loop, {.write = [&](auto&, long&& x, auto done) {
                                             sum += x;
                                             done();
                                           }});

  numbers->pipe(square)->pipe(total);  // types checked at compile time
  io.run();
  std::printf("%ld\n", sum);
  return sum == 332833500L ? 0 : 1;
}
