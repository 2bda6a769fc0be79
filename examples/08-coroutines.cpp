// 08-coroutines: streams in C++20 coroutines (sluice/compose/async.hpp, sluice/compose/from.hpp).
//
// A generator feeds a readable that produces only on demand (from); one coroutine iterates a
// transform of it with a reader and writes the results into a slow writable with async_write,
// which waits for 'drain' whenever write() says the sink is full. The program prints what waited.

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdio>
#include <exception>
#include <memory>

#include <sluice/compose.hpp>

namespace asio = boost::asio;

namespace {

int produced = 0;

sluice::generator<int> numbers(int n) {
  for (int i = 1; i <= n; ++i) {
    ++produced;
    co_yield i;
  }
}

asio::awaitable<void> copy_squares(std::shared_ptr<sluice::readable<long>> in,
                                   std::shared_ptr<sluice::writable<long>> out) {
  sluice::reader<long> rd(in);  // destroys `in` if this coroutine leaves the loop early
  int received = 0;
  while (auto x = co_await sluice::async_next(rd)) {
    ++received;
    const bool will_wait = out->writable_length() + 1 >= out->writable_high_water_mark();
    co_await sluice::async_write(*out, *x);
    if (will_wait)
      std::printf("wrote %ld after waiting for 'drain' (generator: %d produced, %d received)\n", *x,
                  produced, received);
  }
  co_await sluice::async_end(*out);
  std::printf("ended: %d items\n", received);
}

}  // namespace

int main() {
  asio::io_context io;
  sluice::asio_loop loop(io);

  // Small highWaterMarks, so the generator visibly stays just ahead of the consumer: it can be
  // ahead by at most the items buffered along the way (2 in `source`, 1 + 1 in `squares`).
  auto source = sluice::from(loop, numbers(12), {.high_water_mark = 2});
  auto squares = sluice::make_transform<int, long>(
      loop, {.readable_high_water_mark = 1,
             .writable_high_water_mark = 1,
             .transform = [](auto&, int&& x, auto done) { done(long{x} * x); }});
  long total = 0;
  // A sink that takes 1 ms per item, holding at most 3 before write() returns false.
  auto sink = sluice::make_writable<long>(
      loop, {.high_water_mark = 3, .write = [&](sluice::writable<long>& self, long&& x, auto done) {
               total += x;
               auto t = std::make_shared<asio::steady_timer>(io, std::chrono::milliseconds(1));
               t->async_wait([t, done, keep = self.shared_from_this()](auto) { done(); });
             }});

  source->pipe(squares);
  asio::co_spawn(io, copy_squares(squares, sink), [](std::exception_ptr e) {
    if (e) std::rethrow_exception(e);
  });
  io.run();
  std::printf("sum of squares 1..12 = %ld (expected 650)\n", total);
  return total == 650 ? 0 : 1;
}
