// 34-conformance: the conformance kit on a writable of your own, without a test framework.
//
// `row_store` is what a user writes: a sink that stores rows, each store taking 2 ms (a timer,
// as a database round trip would), and that cancels the store in flight when destroyed. The
// kit runs the stream contract's scenarios on fresh instances (write() and 'drain' at the
// highWaterMark, every callback once and in order, end() -> 'finish' -> 'close', destroy() in
// every state, errors) and prints a report. The first version conforms; the second forgets to
// complete the write it cancels, and the report says which rule that breaks and how.
//
//   example-34-conformance
#include <chrono>
#include <cstdio>
#include <iostream>
#include <memory>
#include <string>
#include <system_error>
#include <vector>

#include <sluice/core.hpp>
#include <sluice/testing.hpp>

struct row {
  int id;
  std::string name;
};

class row_store final : public sluice::writable<row> {
 public:
  row_store(sluice::loop& l, bool complete_cancelled_write)
      : writable<row>(l, {.high_water_mark = 4, .name = "rows"}),
        complete_cancelled_(complete_cancelled_write) {}

  [[nodiscard]] const std::vector<row>& stored() const noexcept { return stored_; }

 protected:
  void do_write(row&& r, write_callback cb) override {
    in_flight_ = cb;
    store_timer_ = get_loop().start_timer(std::chrono::milliseconds(2),
                                          [keep = shared_from_this(), this, r = std::move(r)] {
                                            stored_.push_back(r);
                                            std::exchange(in_flight_, {})();
                                          });
  }
  void do_destroy(std::error_code ec, sluice::callback cb) override {
    // Cancel the store in flight. Its write must still complete, with an error: dropping the
    // callback leaves the writes buffered behind it waiting for ever.
    if (store_timer_.cancel() && complete_cancelled_)
      std::exchange(in_flight_, {})(make_error_code(sluice::errc::stream_destroyed));
    cb(ec);
  }

 private:
  bool complete_cancelled_;
  sluice::timer store_timer_;
  write_callback in_flight_;
  std::vector<row> stored_;
};

int main() {
  namespace kit = sluice::testing;
  auto rows = [](std::size_t i) { return row{static_cast<int>(i), "row " + std::to_string(i)}; };

  const kit::report good =
      kit::check_writable([](sluice::loop& l) { return std::make_shared<row_store>(l, true); },
                          {.item = rows, .name = "row_store"});
  std::cout << good << '\n';

  const kit::report buggy =
      kit::check_writable([](sluice::loop& l) { return std::make_shared<row_store>(l, false); },
                          {.item = rows, .name = "row_store that drops the cancelled write"});
  std::cout << buggy;

  // What this example shows: the first conforms, the second breaks destroy.writing only.
  const bool as_expected =
      good.ok() && buggy.failures().size() == 1 && buggy.failed(kit::rule::destroy_writing);
  return as_expected ? 0 : 1;
}
