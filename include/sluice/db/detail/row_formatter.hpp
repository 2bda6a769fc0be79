// sluice/db/detail/row_formatter.hpp: what the row-to-text writers (csv_writer, jsonl_writer)
// share: rows are encoded into one string, handed on as a buffer when it holds chunk_size bytes
// or when the loop's turn ends. Rows that come together (a parsed chunk, a run) share a buffer;
// a row alone waits for no more than the rest of its turn.
#pragma once

#include <cstddef>
#include <string>
#include <utility>

#include "sluice/core/buffer.hpp"
#include "sluice/core/transform.hpp"

namespace sluice::db::detail {

template <class Row>
class row_formatter : public transform<Row, buffer> {
  using base = transform<Row, buffer>;

 public:
  row_formatter(sluice::loop& l, std::size_t chunk_size, const transform_options& to)
      : base(l, to), chunk_size_(chunk_size == 0 ? 1 : chunk_size) {}

 protected:
  /// Appends the row's text to out_.
  virtual void encode(const Row& row) = 0;

  void do_transform(Row&& row, typename base::transform_callback cb) override {
    encode(row);
    // A full chunk, or output nobody has read yet: hand it on through the callback, which holds
    // the next write while the readable side is at its highWaterMark. (Completing the write
    // at once and pushing later, below, is only for rows that come while the output has room;
    // otherwise a fast source would fill the readable side without bound.)
    if (out_.size() >= chunk_size_ || this->readable_length() >= this->readable_high_water_mark()) {
      cb(take());
      return;
    }
    if (!flush_pending_) {
      flush_pending_ = true;
      this->defer([this] {
        flush_pending_ = false;
        if (!out_.empty() && !this->destroyed()) this->push(take());
      });
    }
    cb();
  }

  void do_flush(callback cb) override {
    if (!out_.empty()) this->push(take());
    cb({});
  }

  std::string out_;

 private:
  buffer take() { return buffer(std::exchange(out_, std::string())); }

  std::size_t chunk_size_;
  bool flush_pending_ = false;  // a push of out_ is deferred to the end of this turn
};

}  // namespace sluice::db::detail
