// sluice/core/duplex.hpp: duplex<In, Out>, a stream that is both writable<In> and readable<Out>
// (Node's stream.Duplex), e.g. a socket. The two sides share one lifecycle (one destroy, one
// 'error', one 'close'); each has its own highWaterMark. transform.hpp builds on it.
#pragma once

#include "sluice/core/readable.hpp"
#include "sluice/core/writable.hpp"

namespace sluice {

struct duplex_options {
  std::optional<std::size_t> readable_high_water_mark{};
  std::optional<std::size_t> writable_high_water_mark{};
  /// When false, the end of the readable side ends the writable side (on a later tick).
  bool allow_half_open = true;
  bool auto_destroy = true;
  bool emit_close = true;
  std::string name{};
};

template <chunk In, chunk Out>
class duplex : public readable<Out>, public writable<In> {
 public:
  using input_type = In;
  using output_type = Out;

  bool off(listener_id id) override { return readable<Out>::off(id) || writable<In>::off(id); }
  [[nodiscard]] std::size_t listener_count() const noexcept override {
    return stream::listener_count() + this->readable_listener_count() +
           this->writable_listener_count();
  }
  [[nodiscard]] bool allow_half_open() const noexcept { return this->allow_half_open_; }

 protected:
  duplex(sluice::loop& l, const duplex_options& o)
      : readable<Out>(readable_options{.high_water_mark = o.readable_high_water_mark}),
        writable<In>(writable_options{.high_water_mark = o.writable_high_water_mark}) {
    this->bind(l, stream_options{o.auto_destroy, o.emit_close, o.name});
    this->set_lifecycle_pointer();
    this->allow_half_open_ = o.allow_half_open;
  }
};

}  // namespace sluice
