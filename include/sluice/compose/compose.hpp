// sluice/compose/compose.hpp: compose(s1, ..., sN), a chain of duplexes/transforms seen from
// outside as one duplex<In, Out> (Node's stream.compose).
//
// Writes to the composite go into s1 (with s1's backpressure), reads come from sN, and s1..sN
// run as a pipeline() inside (pipeline.hpp): the same compile-time type checks, the same error
// rules. An error in any stage destroys the composite with that error, its message naming the
// stage ("stage 2 (gunzip): ..."), and destroying the composite destroys every stage. The
// composite's 'finish' comes once every stage has completed; its 'end' once sN's output is
// consumed. A composite can itself be a stage of another pipeline or composite.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <system_error>
#include <tuple>
#include <type_traits>
#include <utility>

#include "sluice/compose/pipeline.hpp"

namespace sluice {

namespace detail {

template <chunk In, chunk Out>
class composite final : public duplex<In, Out> {
 public:
  composite(loop& l, std::shared_ptr<writable<In>> head, std::shared_ptr<readable<Out>> tail)
      : duplex<In, Out>(l, duplex_options{.name = "compose"}),
        head_(std::move(head)),
        tail_(std::move(tail)) {}

  ~composite() override {
    detach();
    inner_.abort();  // a composite dropped while running tears its stages down
  }

  // Starts the inner pipeline; called once, right after construction.
  template <class... Ps>
  void start(const Ps&... stages) {
    std::weak_ptr<stream> w = this->weak_from_this();
    drain_id_ = head_->on_drain([this] {
      if (auto cb = std::exchange(pending_write_, std::nullopt)) (*cb)();
    });
    inner_ = pipeline(stages..., [w, self = this](const pipeline_error& e) {
      if (auto alive = w.lock()) self->on_inner_done(e);  // `w` tells whether `self` lives
    });
  }

 protected:
  void do_write(In&& chunk, typename writable<In>::write_callback cb) override {
    if (head_->write(std::move(chunk)))
      cb();
    else
      pending_write_ = cb;  // completed at head's 'drain' (or failed by destroy)
  }

  void do_final(callback cb) override {
    if (inner_done_) {
      cb(inner_error_);
      return;
    }
    pending_final_ = std::move(cb);
    head_->end();
  }

  void do_read(std::size_t) override {
    if (data_id_) {
      tail_->resume();
      return;
    }
    data_id_ = tail_->on_data([this](Out&& x) {
      if (!this->push(std::move(x))) tail_->pause();
    });
    end_id_ = tail_->on_end([this] { this->push_eof(); });
  }

  void do_destroy(std::error_code ec, callback cb) override {
    const std::error_code failed = ec ? ec : make_error_code(errc::stream_destroyed);
    if (auto w = std::exchange(pending_write_, std::nullopt)) (*w)(failed);
    if (auto f = std::exchange(pending_final_, nullptr)) f(failed);
    if (inner_done_) {
      detach();
      cb(ec);
      return;
    }
    // Tear the stages down with our error (Node: AbortError when there is none) and complete
    // once they all have.
    pending_destroy_ = [ec, cb = std::move(cb)](std::error_code) { cb(ec); };
    inner_.abort(ec ? ec : make_error_code(errc::aborted));
  }

 private:
  void on_inner_done(const pipeline_error& e) {
    inner_done_ = true;
    inner_error_ = e.code;
    if (auto d = std::exchange(pending_destroy_, nullptr)) {
      detach();
      d(e.code);
      return;
    }
    if (e) {
      detach();
      std::string context = e.message();
      // fail() appends the code's message itself.
      const std::string suffix = ": " + e.code.message();
      if (context.size() > suffix.size() &&
          context.compare(context.size() - suffix.size(), suffix.size(), suffix) == 0)
        context.resize(context.size() - suffix.size());
      this->fail(e.code, std::move(context));
      return;
    }
    if (auto f = std::exchange(pending_final_, nullptr)) f({});
  }

  void detach() noexcept {
    if (drain_id_) head_->off(drain_id_);
    if (data_id_) tail_->off(data_id_);
    if (end_id_) tail_->off(end_id_);
    drain_id_ = data_id_ = end_id_ = {};
  }

  std::shared_ptr<writable<In>> head_;
  std::shared_ptr<readable<Out>> tail_;
  pipeline_handle inner_;
  std::optional<typename writable<In>::write_callback> pending_write_;
  callback pending_final_;
  callback pending_destroy_;
  listener_id drain_id_, data_id_, end_id_;
  std::error_code inner_error_;
  bool inner_done_ = false;
};

template <class... Ps>
struct compose_check {
  using first = stage_of<std::tuple_element_t<0, std::tuple<Ps...>>>;
  using last = stage_of<std::tuple_element_t<sizeof...(Ps) - 1, std::tuple<Ps...>>>;
  static_assert(has_writable_side<first> && has_readable_side<first>,
                "sluice::compose: the first stage must be a duplex or transform");
  static_assert(has_writable_side<last> && has_readable_side<last>,
                "sluice::compose: the last stage must be a duplex or transform");
  static constexpr bool value = has_writable_side<first> && has_readable_side<first> &&
                                has_writable_side<last> && has_readable_side<last> &&
                                chain_check<std::remove_cvref_t<Ps>...>::value;
};

}  // namespace detail

/// compose(s1, ..., sN): one duplex<In, Out> over a chain of duplexes/transforms, where In is
/// what s1 accepts and Out what sN yields; adjacent chunk types must match (checked at compile
/// time, as for pipeline()). Needs at least two stages, all std::shared_ptr to duplexes or
/// transforms (or classes derived from them). The composite owns its stages.
template <class... Ps>
auto compose(const Ps&... stages) {
  static_assert(sizeof...(Ps) >= 2, "sluice::compose needs at least two stages");
  using first = detail::stage_of<std::tuple_element_t<0, std::tuple<Ps...>>>;
  using last = detail::stage_of<std::tuple_element_t<sizeof...(Ps) - 1, std::tuple<Ps...>>>;
  using in = detail::input_of<first>;
  using out = detail::output_of<last>;
  using result = std::shared_ptr<duplex<in, out>>;
  if constexpr (!detail::compose_check<Ps...>::value) {
    return result{};
  } else {
    const auto& head = std::get<0>(std::tie(stages...));
    const auto& tail = std::get<sizeof...(Ps) - 1>(std::tie(stages...));
    if (!head || !tail)
      throw std::system_error(make_error_code(errc::invalid_argument), "compose: a stage is null");
    auto c = std::make_shared<detail::composite<in, out>>(
        head->get_loop(), std::static_pointer_cast<writable<in>>(head),
        std::static_pointer_cast<readable<out>>(tail));
    c->start(stages...);
    return result(std::move(c));
  }
}

}  // namespace sluice
