// sluice/compose/detail/operators_core.hpp: the machinery under sluice/compose/operators.hpp.
//
// `op_stream<In, Out>` is a readable<Out> that pulls from a source readable<In>. It reads the
// source in paused mode (a 'readable' listener plus read()), only while its own consumer wants
// data (do_read was called and the last push() returned true) and while the operator says it can
// take more (accepting()). So the source is read no faster than the result is consumed, and
// backpressure travels upstream through every operator. The source's 'error' fails the result;
// its 'close' before 'end' fails it with premature_close; destroying the result destroys the
// source (without an error, as Node's operators return() the source's iterator).
//
// The operators built only on op_stream (map, filter, take, drop, flat_map, batch, throttle) are
// here too; the asynchronous map/filter engine is in operators_async.hpp.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <system_error>
#include <type_traits>
#include <utility>
#include <vector>

#include "sluice/core/readable.hpp"

namespace sluice::detail {

// ---- which readable a pointer is ----------------------------------------------------------------

template <class T>
T readable_value_probe(const readable<T>*);

/// The chunk type of a stream type that is (or derives from) readable<T>, duplexes included.
template <class S>
using readable_value_t = decltype(readable_value_probe(std::declval<S*>()));

template <class S>
concept readable_stream = requires(S* s) {
  readable_value_probe(s);
};

template <class S>
std::shared_ptr<readable<readable_value_t<S>>> as_readable(std::shared_ptr<S> s) {
  return std::shared_ptr<readable<readable_value_t<S>>>(std::move(s));
}

/// The context an operator's error carries when its source failed.
inline std::string source_context(const stream& src, const char* op) {
  if (!src.error_context().empty()) return src.error_context();
  std::string c = std::string(op) + " source";
  if (!src.name().empty()) c += " '" + src.name() + "'";
  return c;
}

// ---- op_stream ----------------------------------------------------------------------------------

template <chunk In, chunk Out>
class op_stream : public readable<Out> {
 public:
  op_stream(sluice::loop& l, std::shared_ptr<readable<In>> src, const readable_options& o,
            const char* op_name)
      : readable<Out>(l, o), src_(std::move(src)), op_name_(op_name) {}

  ~op_stream() override {
    // Nobody can read the result any more: let go of the source. Its own deferred work keeps it
    // alive until its 'close'.
    detach_source(true);
  }

  /// Connects to the source's events. Called once, right after make_shared.
  void attach() {
    std::weak_ptr<op_stream> self = std::dynamic_pointer_cast<op_stream>(this->shared_from_this());
    error_id_ = src_->on_error([self](std::error_code ec) {
      if (auto s = self.lock()) s->source_failed(ec);
    });
    close_id_ = src_->on_close([self] {
      if (auto s = self.lock())
        if (!s->input_ended_) s->source_failed(make_error_code(errc::premature_close));
    });
    end_id_ = src_->once_end([self] {
      if (auto s = self.lock()) s->source_ended();
    });
    if (src_->errored()) {
      source_failed(src_->errored());
    } else if (src_->readable_ended()) {
      source_ended();
    } else if (src_->destroyed()) {
      source_failed(make_error_code(errc::premature_close));
    }
    on_attached();
  }

 protected:
  /// One item from the source. Push results with emit().
  virtual void on_item(In&& item) = 0;
  /// Whether another source item may be taken now (default: the consumer wants data).
  [[nodiscard]] virtual bool accepting() const { return want_; }
  /// Delivers output held back from earlier items. False while something still waits (the
  /// source is then not read).
  virtual bool pump() { return true; }
  /// True when nothing is in flight or held: the end may be pushed once the input ended.
  [[nodiscard]] virtual bool idle() const { return true; }
  /// Before the end is pushed (batch emits its partial batch here).
  virtual void on_flush() {}
  /// Releases timers etc. when the result is destroyed.
  virtual void on_destroying() {}
  virtual void on_attached() {}

  /// Pushes one result; remembers whether the consumer wants more.
  bool emit(Out v) {
    if (this->destroyed() || this->eof_pushed()) return false;
    const bool ok = this->push(std::move(v));
    if (!ok) want_ = false;
    return ok;
  }

  /// Reads the source while the operator and its consumer want items. Re-entrant calls (from a
  /// synchronous completion) are folded into the running loop.
  void pull() {
    if (pulling_) {
      repull_ = true;
      return;
    }
    pulling_ = true;
    auto keep = this->shared_from_this();
    do {
      repull_ = false;
      while (!this->destroyed() && !this->eof_pushed()) {
        if (!pump()) break;
        if (input_ended_ || detached_ || !accepting()) break;
        std::optional<In> v = src_->read();
        if (!v) break;
        on_item(std::move(*v));
      }
    } while (repull_ && !this->destroyed());
    pulling_ = false;
    maybe_finish();
  }

  /// Pushes the end once the input ended and nothing is pending.
  void maybe_finish() {
    if (!input_ended_ || this->destroyed() || this->eof_pushed() || pulling_ || !idle()) return;
    on_flush();
    if (!this->destroyed()) this->push_eof();
  }

  /// Ends the result now and destroys the source (take, and operators that know the answer).
  void finish_early() {
    input_ended_ = true;
    detach_source(true);
    maybe_finish();
  }

  /// Fails the result (and so destroys the source) with `ec`; `what` names the failing step.
  void fail_op(std::error_code ec, const std::string& what) {
    if (!this->destroyed()) this->fail(ec, std::string(op_name_) + ": " + what);
  }

  void do_read(std::size_t) override {
    want_ = true;
    if (!listening_ && !detached_) {
      listening_ = true;
      std::weak_ptr<op_stream> self =
          std::dynamic_pointer_cast<op_stream>(this->shared_from_this());
      readable_id_ = src_->on_readable([self] {
        if (auto s = self.lock()) s->pull();
      });
    }
    pull();
  }

  void do_destroy(std::error_code ec, callback cb) override {
    on_destroying();
    detach_source(true);
    cb(ec);
  }

  [[nodiscard]] readable<In>& source() const noexcept { return *src_; }
  [[nodiscard]] bool input_ended() const noexcept { return input_ended_; }
  [[nodiscard]] bool wanted() const noexcept { return want_; }
  [[nodiscard]] const char* op_name() const noexcept { return op_name_; }

 private:
  void source_failed(std::error_code ec) {
    if (detached_ || this->destroyed()) return;
    detach_source(false);
    this->fail(ec, source_context(*src_, op_name_));
  }

  void source_ended() {
    input_ended_ = true;
    pull();  // delivers what is held and pushes the end when idle
  }

  void detach_source(bool destroy_it) {
    if (detached_ || !src_) return;
    detached_ = true;
    for (listener_id id : {error_id_, close_id_, end_id_, readable_id_})
      if (id) src_->off(id);
    if (destroy_it && !src_->destroyed() && !src_->readable_ended()) src_->destroy();
  }

  std::shared_ptr<readable<In>> src_;
  const char* op_name_;
  listener_id error_id_, close_id_, end_id_, readable_id_;
  bool want_ = false;         // the consumer asked for data and the last push() returned true
  bool listening_ = false;    // our 'readable' listener is on the source
  bool input_ended_ = false;  // the source ended (or we stopped it)
  bool detached_ = false;     // our listeners are off the source
  bool pulling_ = false;      // inside pull()
  bool repull_ = false;       // pull() was called again from inside pull()
};

/// Creates an operator stream and connects it to its source.
template <class Op, class... A>
std::shared_ptr<Op> make_op(A&&... args) {
  auto op = std::make_shared<Op>(std::forward<A>(args)...);
  op->attach();
  return op;
}

// ---- synchronous operators ----------------------------------------------------------------------

template <chunk In, chunk Out, class F>
class map_op final : public op_stream<In, Out> {
 public:
  map_op(std::shared_ptr<readable<In>> src, F f, const readable_options& o)
      : op_stream<In, Out>(src->get_loop(), src, o, "map"), f_(std::move(f)) {}

 protected:
  void on_item(In&& item) override { this->emit(f_(std::move(item))); }

 private:
  F f_;
};

template <chunk T, class F>
class filter_op final : public op_stream<T, T> {
 public:
  filter_op(std::shared_ptr<readable<T>> src, F f, const readable_options& o)
      : op_stream<T, T>(src->get_loop(), src, o, "filter"), f_(std::move(f)) {}

 protected:
  void on_item(T&& item) override {
    if (f_(std::as_const(item))) this->emit(std::move(item));
  }

 private:
  F f_;
};

template <chunk T>
class take_op final : public op_stream<T, T> {
 public:
  take_op(std::shared_ptr<readable<T>> src, std::uint64_t n, const readable_options& o)
      : op_stream<T, T>(src->get_loop(), src, o, "take"), left_(n) {}

 protected:
  void on_attached() override {
    if (left_ == 0) this->finish_early();
  }
  void on_item(T&& item) override {
    if (left_ == 0) return;
    --left_;
    this->emit(std::move(item));
    if (left_ == 0) this->finish_early();  // the n-th item is out: stop the source now
  }

 private:
  std::uint64_t left_;
};

template <chunk T>
class drop_op final : public op_stream<T, T> {
 public:
  drop_op(std::shared_ptr<readable<T>> src, std::uint64_t n, const readable_options& o)
      : op_stream<T, T>(src->get_loop(), src, o, "drop"), left_(n) {}

 protected:
  void on_item(T&& item) override {
    if (left_ != 0)
      --left_;
    else
      this->emit(std::move(item));
  }

 private:
  std::uint64_t left_;
};

/// flat_map whose function returns a range: every element is pushed, in order.
template <chunk In, chunk Out, class F>
class flat_map_range_op final : public op_stream<In, Out> {
 public:
  flat_map_range_op(std::shared_ptr<readable<In>> src, F f, const readable_options& o)
      : op_stream<In, Out>(src->get_loop(), src, o, "flat_map"), f_(std::move(f)) {}

 protected:
  void on_item(In&& item) override {
    auto&& range = f_(std::move(item));
    for (auto&& v : range) {
      if (this->destroyed()) return;
      this->emit(Out(std::move(v)));
    }
  }

 private:
  F f_;
};

/// flat_map whose function returns a readable: each inner stream is read to its end, one at a
/// time, before the next source item is taken.
template <chunk In, chunk Out, class F>
class flat_map_stream_op final : public op_stream<In, Out> {
 public:
  flat_map_stream_op(std::shared_ptr<readable<In>> src, F f, const readable_options& o)
      : op_stream<In, Out>(src->get_loop(), src, o, "flat_map"), f_(std::move(f)) {}

 protected:
  void on_item(In&& item) override {
    inner_ = detail::as_readable(f_(std::move(item)));
    inner_ended_ = false;
    std::weak_ptr<flat_map_stream_op> self =
        std::dynamic_pointer_cast<flat_map_stream_op>(this->shared_from_this());
    ids_[0] = inner_->on_readable([self] {
      if (auto s = self.lock()) s->pull();
    });
    ids_[1] = inner_->once_end([self] {
      if (auto s = self.lock()) {
        s->inner_ended_ = true;
        s->pull();
      }
    });
    ids_[2] = inner_->on_error([self](std::error_code ec) {
      if (auto s = self.lock()) s->inner_failed(ec);
    });
    ids_[3] = inner_->on_close([self] {
      if (auto s = self.lock())
        if (!s->inner_ended_) s->inner_failed(make_error_code(errc::premature_close));
    });
  }
  [[nodiscard]] bool accepting() const override { return this->wanted() && !inner_; }
  [[nodiscard]] bool idle() const override { return !inner_; }
  bool pump() override {
    while (inner_ && !this->destroyed()) {
      if (inner_ended_) {
        release_inner(false);
        return true;
      }
      if (!this->wanted()) return false;
      std::optional<Out> v = inner_->read();
      if (!v) return false;  // its 'readable' or 'end' calls pull() again
      this->emit(std::move(*v));
    }
    return true;
  }
  void on_destroying() override { release_inner(true); }

 private:
  void inner_failed(std::error_code ec) {
    if (!inner_) return;
    const std::string what = source_context(*inner_, "inner stream");
    release_inner(false);
    this->fail_op(ec, what);
  }
  void release_inner(bool destroy_it) {
    if (!inner_) return;
    auto inner = std::move(inner_);
    inner_.reset();
    for (listener_id id : ids_)
      if (id) inner->off(id);
    if (destroy_it && !inner->destroyed()) inner->destroy();
  }

  F f_;
  std::shared_ptr<readable<Out>> inner_;
  listener_id ids_[4];
  bool inner_ended_ = false;
};

// batch: vectors of up to max_items, or what came within max_wait of a batch's first item.
template <chunk T>
class batch_op final : public op_stream<T, std::vector<T>> {
 public:
  batch_op(std::shared_ptr<readable<T>> src, std::size_t max_items, loop::duration max_wait,
           const readable_options& o)
      : op_stream<T, std::vector<T>>(src->get_loop(), src, o, "batch"),
        max_items_(max_items == 0 ? 1 : max_items),
        max_wait_(max_wait) {}

 protected:
  void on_item(T&& item) override {
    current_.push_back(std::move(item));
    if (current_.size() >= max_items_) {
      flush_batch();
    } else if (current_.size() == 1 && max_wait_ != loop::duration::max()) {
      std::weak_ptr<batch_op> self = std::dynamic_pointer_cast<batch_op>(this->shared_from_this());
      timer_ = this->get_loop().start_timer(max_wait_, [self] {
        if (auto s = self.lock()) {
          s->flush_batch();
          s->pull();
        }
      });
    }
  }
  void on_flush() override { flush_batch(); }
  void on_destroying() override { timer_.cancel(); }

 private:
  void flush_batch() {
    timer_.cancel();
    if (current_.empty() || this->destroyed()) return;
    std::vector<T> out;
    out.swap(current_);
    current_.reserve(max_items_ < 1024 ? max_items_ : 1024);
    this->emit(std::move(out));
  }

  std::size_t max_items_;
  loop::duration max_wait_;
  std::vector<T> current_;
  timer timer_;
};

// throttle: a token bucket refilled at `rate` tokens per second, holding at most `burst`.
template <chunk T>
class throttle_op final : public op_stream<T, T> {
 public:
  throttle_op(std::shared_ptr<readable<T>> src, double rate, double burst,
              const readable_options& o)
      : op_stream<T, T>(src->get_loop(), src, o, "throttle"),
        rate_(rate),
        burst_(burst < 1 ? 1 : burst),
        tokens_(burst_),
        last_(src->get_loop().now()) {}

 protected:
  void on_item(T&& item) override { held_.emplace(std::move(item)); }
  [[nodiscard]] bool accepting() const override { return this->wanted() && !held_; }
  [[nodiscard]] bool idle() const override { return !held_; }
  bool pump() override {
    if (!held_) return true;
    refill();
    if (tokens_ >= 1) {
      tokens_ -= 1;
      auto v = std::move(*held_);
      held_.reset();
      this->emit(std::move(v));
      return true;
    }
    if (!timer_.pending()) {
      const double wait_s = (1 - tokens_) / rate_;
      const auto wait = std::chrono::ceil<loop::duration>(std::chrono::duration<double>(wait_s));
      std::weak_ptr<throttle_op> self =
          std::dynamic_pointer_cast<throttle_op>(this->shared_from_this());
      timer_ = this->get_loop().start_timer(wait, [self] {
        if (auto s = self.lock()) s->pull();
      });
    }
    return false;
  }
  void on_destroying() override { timer_.cancel(); }

 private:
  void refill() {
    const auto now = this->get_loop().now();
    const double dt = std::chrono::duration<double>(now - last_).count();
    last_ = now;
    tokens_ += dt * rate_;
    if (tokens_ > burst_) tokens_ = burst_;
    // Rounding of the timer to the clock's tick can leave a hair under one token.
    if (tokens_ < 1 && 1 - tokens_ < 1e-9) tokens_ = 1;
  }

  double rate_;
  double burst_;
  double tokens_;
  loop::time_point last_;
  std::optional<T> held_;
  timer timer_;
};

}  // namespace sluice::detail
