// sluice/compose/detail/operators_async.hpp: map and filter with asynchronous functions and bounded
// concurrency (sluice/compose/operators.hpp documents them).
//
// `async_op<In, Out>` starts the function on up to `concurrency` items at once. Each call gets a
// `done<R>` completion that owns the operator; its result lands in a slot keyed by the item's
// sequence number. Ordered: results leave in input order, so a slot waits until every earlier one
// is done; the window from the oldest unfinished item to the newest started one never exceeds
// `concurrency`, which bounds the reorder buffer as well as the work in flight. Unordered:
// results leave as they complete. New work starts only while the consumer wants data.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <system_error>
#include <utility>

#include "sluice/compose/detail/operators_core.hpp"

namespace sluice {

template <class R>
class done;

namespace detail {

/// The engine behind asynchronous map / filter: slot results are optional<Out> (nullopt: the
/// item is dropped, as filter does).
template <chunk In, chunk Out>
class async_op_base : public op_stream<In, Out> {
 public:
  async_op_base(std::shared_ptr<readable<In>> src, std::size_t concurrency, bool ordered,
                const readable_options& o, const char* name)
      : op_stream<In, Out>(src->get_loop(), src, o, name),
        concurrency_(concurrency == 0 ? 1 : concurrency),
        ordered_(ordered) {}

  /// Work started and not yet completed.
  [[nodiscard]] std::size_t in_flight() const noexcept { return in_flight_; }

  /// Completion of item `seq`. A second completion of the same item is multiple_callback.
  void complete(std::uint64_t seq, std::error_code ec, std::optional<Out> value) {
    if (this->destroyed()) return;
    auto it = slots_.find(seq);
    if (it == slots_.end() || it->second.done) {
      this->fail_op(make_error_code(errc::multiple_callback), "completion called twice");
      return;
    }
    --in_flight_;
    if (ec) {
      this->fail_op(ec, "item " + std::to_string(seq));
      return;
    }
    it->second.done = true;
    it->second.value = std::move(value);
    deliver();
    this->pull();
  }

 protected:
  /// Starts the user's function on `item`; it completes through complete(seq, ...).
  virtual void start(std::uint64_t seq, In&& item) = 0;

  void on_item(In&& item) override {
    const std::uint64_t seq = next_seq_++;
    slots_.emplace_hint(slots_.end(), seq, slot{});
    ++in_flight_;
    start(seq, std::move(item));
  }
  [[nodiscard]] bool accepting() const override {
    return this->wanted() && slots_.size() < concurrency_;
  }
  [[nodiscard]] bool idle() const override { return slots_.empty(); }

 private:
  struct slot {
    bool done = false;
    std::optional<Out> value{};
  };

  // Ordered: pushes the done slots at the head of the window. Unordered: every done slot.
  void deliver() {
    auto it = slots_.begin();
    while (it != slots_.end() && !this->destroyed()) {
      if (!it->second.done) {
        if (ordered_) break;
        ++it;
        continue;
      }
      std::optional<Out> v = std::move(it->second.value);
      it = slots_.erase(it);
      if (v) this->emit(std::move(*v));
    }
  }

  std::size_t concurrency_;
  bool ordered_;
  std::size_t in_flight_ = 0;
  std::uint64_t next_seq_ = 0;
  std::map<std::uint64_t, slot> slots_;  // started and not yet delivered, by sequence number
};

template <chunk In, chunk Out, class F>
class async_map_op final : public async_op_base<In, Out> {
 public:
  async_map_op(std::shared_ptr<readable<In>> src, F f, std::size_t concurrency, bool ordered,
               const readable_options& o)
      : async_op_base<In, Out>(std::move(src), concurrency, ordered, o, "map"), f_(std::move(f)) {}

 protected:
  void start(std::uint64_t seq, In&& item) override;

 private:
  F f_;
};

template <chunk T, class F>
class async_filter_op final : public async_op_base<T, T> {
 public:
  async_filter_op(std::shared_ptr<readable<T>> src, F f, std::size_t concurrency, bool ordered,
                  const readable_options& o)
      : async_op_base<T, T>(std::move(src), concurrency, ordered, o, "filter"), f_(std::move(f)) {}

 protected:
  void start(std::uint64_t seq, T&& item) override;

 private:
  F f_;
};

}  // namespace detail

/// The completion handed to an asynchronous map or filter function, with the result type R
/// (the mapped value, or bool for filter). Call it exactly once: `cb(value)` on success,
/// `cb(ec)` or `cb(ec, value)` to fail (the error destroys the result and the source; the value
/// is then ignored). A second call fails the result with errc::multiple_callback. It owns the
/// operator stream, so it may be stored and called later, from the stream's loop thread. A
/// completion that is never called stalls the stream (and keeps it alive).
template <class R>
class done {
 public:
  using result_type = R;

  void operator()(R value) const { complete_({}, std::move(value)); }
  void operator()(std::error_code ec) const { complete_(ec, std::nullopt); }
  void operator()(std::error_code ec, R value) const {
    if (ec)
      complete_(ec, std::nullopt);
    else
      complete_({}, std::move(value));
  }

 private:
  template <chunk, chunk, class>
  friend class detail::async_map_op;
  template <chunk, class>
  friend class detail::async_filter_op;
  explicit done(std::function<void(std::error_code, std::optional<R>)> fn)
      : complete_(std::move(fn)) {}
  std::function<void(std::error_code, std::optional<R>)> complete_;
};

namespace detail {

template <chunk In, chunk Out, class F>
void async_map_op<In, Out, F>::start(std::uint64_t seq, In&& item) {
  auto self = std::dynamic_pointer_cast<async_map_op>(this->shared_from_this());
  f_(std::move(item), done<Out>([self, seq](std::error_code ec, std::optional<Out> v) {
       self->complete(seq, ec, std::move(v));
     }));
}

template <chunk T, class F>
void async_filter_op<T, F>::start(std::uint64_t seq, T&& item) {
  auto self = std::dynamic_pointer_cast<async_filter_op>(this->shared_from_this());
  // The item waits here for the verdict; the predicate sees it by const reference.
  auto held = std::make_shared<T>(std::move(item));
  const T& ref = *held;
  f_(ref, done<bool>([self, seq, held](std::error_code ec, std::optional<bool> keep) {
       if (ec || !keep || !*keep)
         self->complete(seq, ec, std::nullopt);
       else
         self->complete(seq, {}, std::optional<T>(std::move(*held)));
     }));
}

}  // namespace detail
}  // namespace sluice
