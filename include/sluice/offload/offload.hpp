// sluice/offload/offload.hpp: CPU-heavy work off the loop, on a pool of threads, with
// backpressure (docs/offload.md).
//
// offload<In>(loop, fn, options) is a duplex<In, Out> that runs `fn` on each item on a thread of
// the CPU pool (cpu_pool.hpp: one thread per core, shared with parallel gzip) and hands the
// results back on the loop thread: in input order (`ordered`, the default: a reorder buffer
// bounded by max_in_flight) or as they complete. At most `max_in_flight` items are between
// write() and the readable side (running, or done and waiting for an earlier one); beyond that
// the write waits, and so does the source (backpressure, unlike a new Worker per chunk). A
// result the readable side has no room for stops further writes until it is read.
//
//   auto hash = sluice::offload<sluice::buffer>(loop, [](sluice::buffer b) { return sha256(b); },
//                                               {.max_in_flight = 8});
//   pipeline(source, hash, sink, done);
//
// `fn` takes the item by value (or const reference) and returns the result, or a
// std::variant<Out, std::error_code> whose error fails the stream. An exception fails the
// stream too: std::system_error with its code, anything else with errc::aborted, its what() in
// error_message(). `fn` runs on several threads at once: it must be safe to call concurrently
// (no shared mutable state without a lock). After the first error, or destroy(), results still
// coming back are dropped on the loop thread without running user code on the stream. With
// the skip policy (offload_options::skip, supervision.hpp) an item whose function failed is
// dropped and counted instead, and the stream goes on (in order, the items after it are not
// held up).
#pragma once

#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <system_error>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "sluice/core/detail/io_pool.hpp"
#include "sluice/core/duplex.hpp"
#include "sluice/core/error.hpp"
#include "sluice/core/supervision.hpp"
#include "sluice/offload/cpu_pool.hpp"

namespace sluice {

struct offload_options {
  /// Threads for this stream alone; 0 (the default): the process-wide CPU pool (cpu_pool.hpp).
  std::size_t threads = 0;
  /// Items between write() and the readable side at most (running, or done and waiting for an
  /// earlier one in ordered mode); 0: twice the pool's threads.
  std::size_t max_in_flight = 0;
  /// Results in input order (a bounded reorder buffer); false: in the order they complete.
  bool ordered = true;
  /// highWaterMark of each side (the stream's units: items, or bytes for buffers).
  std::optional<std::size_t> readable_high_water_mark{};
  std::optional<std::size_t> writable_high_water_mark{};
  std::string name = "offload";
  /// Supervision: skip the items whose function failed (an error result or an exception) with
  /// an error the policy takes, instead of failing the stream. Unset: the first error fails it.
  std::optional<skip_policy> skip{};
};

namespace detail {

template <class R>
struct offload_result_traits {
  using type = R;
};
template <class T>
struct offload_result_traits<std::variant<T, std::error_code>> {
  using type = T;
};

template <class In, class Fn>
using offload_out_t =
    typename offload_result_traits<std::decay_t<std::invoke_result_t<Fn&, In>>>::type;

// What a job hands back: the value, or the error and what failed.
template <class Out>
struct offload_outcome {
  std::optional<Out> value;
  std::error_code ec;
  std::string what;
};

template <class Out, class Fn, class In>
offload_outcome<Out> offload_call(const Fn& fn, In&& item) {
  offload_outcome<Out> o;
  try {
    auto r = fn(std::move(item));
    if constexpr (std::is_same_v<std::decay_t<decltype(r)>, std::variant<Out, std::error_code>>) {
      if (auto* ec = std::get_if<std::error_code>(&r)) {
        o.ec = *ec ? *ec : make_error_code(errc::invalid_argument);
        o.what = "returned an error";
      } else {
        o.value.emplace(std::move(std::get<Out>(r)));
      }
    } else {
      o.value.emplace(std::move(r));
    }
  } catch (const std::system_error& e) {
    o.ec = e.code();
    o.what = std::string("threw: ") + e.what();
  } catch (const std::exception& e) {
    o.ec = make_error_code(errc::aborted);
    o.what = std::string("threw: ") + e.what();
  } catch (...) {
    o.ec = make_error_code(errc::aborted);
    o.what = "threw an exception that is not a std::exception";
  }
  return o;
}

}  // namespace detail

template <chunk In, chunk Out, class Fn>
class offload_stream final : public duplex<In, Out> {
  using base = duplex<In, Out>;

 public:
  offload_stream(sluice::loop& l, Fn fn, const offload_options& o)
      : base(l, duplex_options{.readable_high_water_mark = o.readable_high_water_mark,
                               .writable_high_water_mark = o.writable_high_water_mark,
                               .name = o.name}),
        fn_(std::make_shared<const Fn>(std::move(fn))),
        own_pool_(o.threads != 0 ? std::make_shared<detail::io_pool>(o.threads) : nullptr),
        pool_(own_pool_ ? own_pool_.get() : &detail::shared_cpu_pool()),
        max_in_flight_(o.max_in_flight != 0 ? o.max_in_flight : 2 * pool_->thread_count()),
        ordered_(o.ordered),
        skip_(o.skip) {}

  /// Items handed to the pool and not yet pushed out (running, or done and waiting).
  [[nodiscard]] std::size_t in_flight() const noexcept { return running_ + waiting_.size(); }
  [[nodiscard]] std::size_t max_in_flight() const noexcept { return max_in_flight_; }
  /// Items done so far (pushed to the readable side).
  [[nodiscard]] std::uint64_t completed() const noexcept { return completed_; }
  /// Items dropped under the skip policy so far.
  [[nodiscard]] std::uint64_t items_skipped() const noexcept { return skipped_; }

 protected:
  void do_write(In&& item, typename writable<In>::write_callback cb) override {
    const std::uint64_t seq = next_seq_++;
    ++running_;
    // The item goes to the job. The result comes back through the mailbox: the job that finds
    // it without a pending drain posts one to the loop, which takes every result in it, so a
    // burst of results costs one wake-up of the loop, not one each. The job hands its reference
    // to a pool of this stream's own over with its result, so the pool never loses its last
    // reference on one of its own threads (its destructor joins them).
    pool_->submit([fn = fn_, item = std::move(item), seq, mail = mail_, l = &this->get_loop(),
                   guard = loop::work_guard(this->get_loop()), weak = this->weak_from_this(),
                   self = this, pool = own_pool_]() mutable {
      auto r = detail::offload_call<Out>(*fn, std::move(item));
      bool post = false;
      {
        std::lock_guard lk(mail->mu);
        mail->ready.push_back({seq, std::move(r), std::move(pool)});
        post = !std::exchange(mail->posted, true);
      }
      if (post) l->post([mail, weak, self] { drain(*mail, weak, self); });
      guard.reset();  // after the post: the loop never looks idle in between
    });
    if (room()) {
      cb();
    } else {
      held_.emplace(std::move(cb));
    }
  }

  void do_read(std::size_t) override {
    output_full_ = false;
    release();
  }

  void do_final(callback cb) override {
    final_.emplace(std::move(cb));
    maybe_finish();
  }

  void do_destroy(std::error_code ec, callback cb) override {
    if (held_) std::exchange(held_, std::nullopt).value()(make_error_code(errc::stream_destroyed));
    final_.reset();
    waiting_.clear();
    cb(ec);
  }

 private:
  // Results on their way back to the loop (filled on pool threads, drained on the loop).
  struct mailbox {
    struct entry {
      std::uint64_t seq;
      detail::offload_outcome<Out> outcome;
      std::shared_ptr<detail::io_pool> pool;  // released on the loop thread
    };
    std::mutex mu;
    std::vector<entry> ready;
    bool posted = false;  // a drain is on its way to the loop
  };

  static void drain(mailbox& mail, const std::weak_ptr<stream>& weak, offload_stream* self) {
    std::vector<typename mailbox::entry> got;
    {
      std::lock_guard lk(mail.mu);
      got.swap(mail.ready);
      mail.posted = false;
    }
    if (auto alive = weak.lock())
      for (auto& e : got) self->done(e.seq, std::move(e.outcome));
  }

  [[nodiscard]] bool room() const noexcept { return in_flight() < max_in_flight_ && !output_full_; }

  void done(std::uint64_t seq, detail::offload_outcome<Out>&& r) {
    --running_;
    if (this->destroyed()) return;  // after an error or destroy(): dropped
    if (r.ec) {
      if (!skip_ || !skip_->takes(r.ec)) {
        this->fail(r.ec, "offload: item " + std::to_string(seq) + ": the function " + r.what);
        return;
      }
      ++skipped_;
      if (skip_->on_skip) {
        // (drain() holds the stream alive: the observer may destroy it, not free it.)
        skip_->on_skip(skipped_item{.index = seq, .error = r.ec, .stage = this->name()});
        if (this->destroyed()) return;
      }
    }
    if (!ordered_) {
      if (r.value) emit(std::move(*r.value));
    } else {
      // (A skipped item waits as an empty result: the items after it go out in order.)
      waiting_.emplace(seq, std::move(r.value));
      // Every result that is next in order goes out now (they are computed: holding them would
      // only hold memory); a full readable side stops the writes instead.
      for (auto it = waiting_.begin(); it != waiting_.end() && it->first == next_out_;
           it = waiting_.begin()) {
        std::optional<Out> v = std::move(it->second);
        waiting_.erase(it);
        ++next_out_;
        if (!v) continue;
        emit(std::move(*v));
        if (this->destroyed()) return;
      }
    }
    release();
    maybe_finish();
  }

  void emit(Out&& v) {
    ++completed_;
    if (!this->push(std::move(v))) output_full_ = true;
  }

  void release() {
    if (held_ && room() && !this->destroyed()) {
      auto cb = std::move(*held_);
      held_.reset();
      cb();
    }
  }

  void maybe_finish() {
    if (!final_ || in_flight() != 0 || this->destroyed()) return;
    auto cb = std::move(*final_);
    final_.reset();
    this->push_eof();
    cb({});
  }

  std::shared_ptr<const Fn> fn_;
  std::shared_ptr<mailbox> mail_ = std::make_shared<mailbox>();
  std::shared_ptr<detail::io_pool> own_pool_;
  detail::io_pool* pool_;
  std::size_t max_in_flight_;
  bool ordered_;
  std::uint64_t next_seq_ = 0;
  std::uint64_t next_out_ = 0;
  std::uint64_t completed_ = 0;
  std::size_t running_ = 0;
  std::optional<skip_policy> skip_;
  std::uint64_t skipped_ = 0;
  // Ordered: done, waiting for an earlier one (empty: skipped).
  std::map<std::uint64_t, std::optional<Out>> waiting_;
  bool output_full_ = false;  // the last push returned false; cleared by a read
  std::optional<typename writable<In>::write_callback> held_;
  std::optional<callback> final_;
};

/// A duplex<In, Out> that runs `fn` on each item on the CPU pool (see the top of this file).
/// Throws std::system_error (errc::invalid_argument) for threads or max_in_flight too large to
/// make sense (more than 1024).
template <chunk In, class Fn>
requires std::invocable<const Fn&, In>
[[nodiscard]] auto offload(sluice::loop& l, Fn fn, offload_options o = {}) {
  using Out = detail::offload_out_t<In, const Fn>;
  static_assert(chunk<Out>, "offload: the function's result must be a chunk type");
  if (o.threads > 1024 || o.max_in_flight > 1024)
    throw std::system_error(make_error_code(errc::invalid_argument),
                            "offload: threads and max_in_flight must be at most 1024");
  return std::make_shared<offload_stream<In, Out, Fn>>(l, std::move(fn), o);
}

}  // namespace sluice
