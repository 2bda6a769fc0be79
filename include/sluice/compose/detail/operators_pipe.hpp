// sluice/compose/detail/operators_pipe.hpp: the pipe syntax of sluice/compose/operators.hpp
// (`src | sluice::ops::map(f)`) and operators as transforms (`ops::map(f).as_transform<In>(l)`).
//
// `ops::X(args...)` returns an `op_adaptor` holding the arguments; applying it to a readable
// calls sluice::X(readable, args...). `as_transform<In>(loop)` wraps the operator into a
// duplex<In, Out> (`op_transform`): written items go into an internal passthrough<In>, the
// operator reads that, and the duplex's readable side reads the operator's result. Write
// callbacks complete as the passthrough accepts items, so a full result holds back the writer.
#pragma once

#include <memory>
#include <optional>
#include <system_error>
#include <utility>

#include "sluice/compose/detail/operators_core.hpp"
#include "sluice/core/duplex.hpp"
#include "sluice/core/transform.hpp"

namespace sluice {
namespace detail {

template <chunk In, chunk Out>
class op_transform final : public duplex<In, Out> {
 public:
  op_transform(sluice::loop& l, const duplex_options& o) : duplex<In, Out>(l, o) {}

  template <class Apply>
  void attach(const Apply& apply, std::optional<std::size_t> inlet_hwm) {
    inlet_ = std::make_shared<passthrough<In>>(
        this->get_loop(), transform_options{.readable_high_water_mark = inlet_hwm,
                                            .writable_high_water_mark = inlet_hwm});
    out_ = as_readable(apply(std::shared_ptr<readable<In>>(inlet_)));
    std::weak_ptr<op_transform> self =
        std::dynamic_pointer_cast<op_transform>(this->shared_from_this());
    ids_[0] = out_->on_error([self](std::error_code ec) {
      if (auto s = self.lock()) s->inner_failed(ec);
    });
    ids_[1] = out_->on_close([self] {
      if (auto s = self.lock())
        if (!s->out_ended_) s->inner_failed(make_error_code(errc::premature_close));
    });
    ids_[2] = out_->once_end([self] {
      if (auto s = self.lock()) {
        s->out_ended_ = true;
        s->push_eof();
      }
    });
  }

 protected:
  void do_write(In&& chunk, typename writable<In>::write_callback cb) override {
    auto self = this->shared_from_this();  // the callback does not own us
    inlet_->write(std::move(chunk), [self, cb](std::error_code ec) { cb(ec); });
  }
  void do_final(callback cb) override {
    auto self = this->shared_from_this();
    inlet_->end([self, cb = std::move(cb)](std::error_code ec) { cb(ec); });
  }
  void do_read(std::size_t) override {
    want_ = true;
    if (!listening_) {
      listening_ = true;
      std::weak_ptr<op_transform> self =
          std::dynamic_pointer_cast<op_transform>(this->shared_from_this());
      ids_[3] = out_->on_readable([self] {
        if (auto s = self.lock()) s->pull();
      });
    }
    pull();
  }
  void do_destroy(std::error_code ec, callback cb) override {
    detach();
    if (!out_->destroyed()) out_->destroy();
    if (!inlet_->destroyed()) inlet_->destroy();
    cb(ec);
  }

 private:
  void pull() {
    while (want_ && !this->destroyed() && !out_ended_) {
      std::optional<Out> v = out_->read();
      if (!v) return;
      want_ = this->push(std::move(*v));
    }
  }
  void inner_failed(std::error_code ec) {
    if (this->destroyed()) return;
    std::string what = out_->error_context();
    detach();
    if (what.empty())
      this->destroy(ec);
    else
      this->fail(ec, std::move(what));
  }
  void detach() {
    for (listener_id& id : ids_) {
      if (id) out_->off(id);
      id = {};
    }
  }

  std::shared_ptr<passthrough<In>> inlet_;
  std::shared_ptr<readable<Out>> out_;
  listener_id ids_[4];
  bool want_ = false;
  bool listening_ = false;
  bool out_ended_ = false;
};

}  // namespace detail

namespace ops {

/// An operator waiting for its source: apply it with `src | adaptor` or `adaptor(src)`, or turn
/// it into a transform stage with as_transform<In>(loop).
template <class Apply>
class op_adaptor {
 public:
  explicit op_adaptor(Apply a) : apply_(std::move(a)) {}

  template <class S>
  requires detail::readable_stream<S>
  auto operator()(std::shared_ptr<S> src) const {
    return apply_(detail::as_readable(std::move(src)));
  }

  template <class S>
  requires detail::readable_stream<S>
  friend auto operator|(std::shared_ptr<S> src, const op_adaptor& op) { return op(std::move(src)); }

  /// The operator as a duplex<In, Out> stage (usable with pipe() like any transform): what is
  /// written goes through the operator and comes out of the readable side. `opts` sets the
  /// stage's highWaterMarks (the internal passthrough uses the writable one) and name.
  template <chunk In>
  [[nodiscard]] auto as_transform(sluice::loop& l, duplex_options opts = {}) const {
    using R = decltype(apply_(std::declval<std::shared_ptr<readable<In>>>()));
    using Out = detail::readable_value_t<typename R::element_type>;
    const auto inlet_hwm = opts.writable_high_water_mark;
    auto t = std::make_shared<detail::op_transform<In, Out>>(l, opts);
    t->attach(apply_, inlet_hwm);
    return std::shared_ptr<duplex<In, Out>>(t);
  }

 private:
  Apply apply_;
};

template <class Apply>
op_adaptor<Apply> make_adaptor(Apply a) {
  return op_adaptor<Apply>(std::move(a));
}

/// `src | ops::map(f, opts)` is map(src, f, opts); map<Out>(f) names the async result type.
template <class Out = void, class F>
[[nodiscard]] auto map(F f, map_options opts = {}) {
  return make_adaptor(
      [f = std::move(f), opts](auto src) { return sluice::map<Out>(src, f, opts); });
}
template <class F>
[[nodiscard]] auto filter(F pred, filter_options opts = {}) {
  return make_adaptor(
      [p = std::move(pred), opts](auto src) { return sluice::filter(src, p, opts); });
}
template <class F>
[[nodiscard]] auto flat_map(F f, operator_options opts = {}) {
  return make_adaptor(
      [f = std::move(f), opts](auto src) { return sluice::flat_map(src, f, opts); });
}
[[nodiscard]] inline auto take(std::uint64_t n, operator_options opts = {}) {
  return make_adaptor([n, opts](auto src) { return sluice::take(src, n, opts); });
}
[[nodiscard]] inline auto drop(std::uint64_t n, operator_options opts = {}) {
  return make_adaptor([n, opts](auto src) { return sluice::drop(src, n, opts); });
}
[[nodiscard]] inline auto batch(std::size_t max_items,
                                loop::duration max_wait = loop::duration::max(),
                                operator_options opts = {}) {
  return make_adaptor([max_items, max_wait, opts](auto src) {
    return sluice::batch(src, max_items, max_wait, opts);
  });
}
[[nodiscard]] inline auto throttle(throttle_options opts) {
  return make_adaptor([opts](auto src) { return sluice::throttle(src, opts); });
}

}  // namespace ops
}  // namespace sluice
