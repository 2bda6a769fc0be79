// sluice/sinks/validating_writer.hpp: validating_writer<T>, a writable<T> that checks every item
// with a validator before it reaches a destination writable<T>.
//
// A valid item is written to the destination. What happens to an invalid one is the policy:
// `fail` (the writer fails with the item's 0-based index and the reason), `skip` (dropped and
// counted), `divert` (written to a `rejects` writable<T>, with its backpressure) or `log` (handed
// to a callable, e.g. a log_writer's write, and dropped). An item's write callback runs once its
// destination (or rejects) write completed, never earlier; counters and the last N reasons tell
// what was seen. docs/writers.md, "validating_writer", shows each policy.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include "sluice/core/writable.hpp"

namespace sluice {

/// What a validating_writer does with an item its validator rejects.
enum class invalid_policy : std::uint8_t {
  fail,    ///< the writer fails: errc::invalid_argument, context "invalid item <index>: <reason>"
  skip,    ///< dropped; counted in `skipped`
  divert,  ///< written to `rejects` (waiting for its callback, and its 'drain' when it is full)
  log,     ///< handed to `log` with its index and reason, then dropped; counted in `logged`
};

/// Options of a validating_writer<T>.
template <chunk T>
struct validating_writer_options {
  /// Returns std::nullopt for a valid item, or why it is not. An exception it throws makes the
  /// item invalid, with "validator threw: <what()>" as the reason. Required.
  std::function<std::optional<std::string>(const T&)> validator{};
  invalid_policy on_invalid = invalid_policy::fail;
  /// Where `divert` writes invalid items. Required for divert, unused otherwise.
  std::shared_ptr<writable<T>> rejects{};
  /// Where `log` reports invalid items (index over all items written, 0-based). Required for
  /// log; called on the loop thread, it must not throw. To use a log_writer, write a record
  /// built from these three arguments to it here (docs/writers.md).
  std::function<void(std::size_t index, const T& item, std::string_view reason)> log{};
  /// How many of the latest rejections recent_rejections() keeps (0: none).
  std::size_t reasons_kept = 16;
  /// Items written and not yet completed at which write() returns false. Default: 16.
  std::optional<std::size_t> high_water_mark{};
  /// The writer owns its destination and rejects: end() ends them (after the last item) and
  /// destroy() destroys them with the same error. When false, both leave them open.
  bool end_destination = true;
  std::string name{};
};

/// One rejected item: its index over all items written (0-based) and the validator's reason.
struct rejection {
  std::size_t index = 0;
  std::string reason;
  friend bool operator==(const rejection&, const rejection&) = default;
};

/// What a validating_writer has seen. invalid == skipped + diverted + logged (+ 1 after `fail`).
struct validation_counts {
  std::uint64_t valid = 0;
  std::uint64_t invalid = 0;
  std::uint64_t skipped = 0;
  std::uint64_t diverted = 0;
  std::uint64_t logged = 0;
};

/// A writable<T> validating each item in front of `destination`. Create it with
/// make_validating_writer(). Items go one at a time, in order: item n+1 is validated once item
/// n completed. Each write's callback runs exactly once, on a later tick: with success once the
/// item was written (its destination or rejects write callback ran, and that target's 'drain'
/// if its write() returned false) or dropped by skip/log; with the error otherwise (the
/// validation failure under `fail`, the target's error, or the destroy() error /
/// stream_destroyed).
template <chunk T>
class validating_writer final : public writable<T> {
  using base = writable<T>;

 public:
  using write_callback = typename base::write_callback;

  /// Prefer make_validating_writer(). Throws std::system_error(errc::invalid_argument) for a
  /// null destination, a missing validator, divert without rejects or log without log.
  validating_writer(sluice::loop& l, std::shared_ptr<writable<T>> destination,
                    validating_writer_options<T> opts)
      : base(l, {.high_water_mark = opts.high_water_mark, .name = opts.name}),
        dest_(std::move(destination)),
        opts_(std::move(opts)) {
    if (!dest_) invalid("null destination");
    if (!opts_.validator) invalid("no validator");
    if (opts_.on_invalid == invalid_policy::divert && !opts_.rejects) invalid("divert: no rejects");
    if (opts_.on_invalid == invalid_policy::log && !opts_.log) invalid("log: no log");
    this->use_construct();  // the error listeners need shared_from_this()
  }
  ~validating_writer() override {
    stop_waiting_for_drain();
    if (dest_error_id_) dest_->off(dest_error_id_);
    if (rejects_error_id_) opts_.rejects->off(rejects_error_id_);
  }

  [[nodiscard]] const validation_counts& counts() const noexcept { return counts_; }
  /// The latest rejections (at most reasons_kept), oldest first.
  [[nodiscard]] std::vector<rejection> recent_rejections() const {
    return {recent_.begin(), recent_.end()};
  }
  [[nodiscard]] const std::shared_ptr<writable<T>>& destination() const noexcept { return dest_; }
  [[nodiscard]] const std::shared_ptr<writable<T>>& rejects() const noexcept {
    return opts_.rejects;
  }

 protected:
  void do_construct(callback cb) override {
    // weak: the streams we own must not keep us alive through their listeners.
    dest_error_id_ = dest_->on_error([w = weak_self()](std::error_code ec) {
      if (auto s = w.lock()) s->on_target_error(ec, "destination");
    });
    if (opts_.rejects)
      rejects_error_id_ = opts_.rejects->on_error([w = weak_self()](std::error_code ec) {
        if (auto s = w.lock()) s->on_target_error(ec, "rejects");
      });
    cb({});
  }

  void do_write(T&& item, write_callback cb) override {
    const std::size_t index = next_index_++;
    std::optional<std::string> reason = check(item);
    if (!reason) {
      ++counts_.valid;
      forward(*dest_, std::move(item), cb);
      return;
    }
    ++counts_.invalid;
    remember(index, *reason);
    switch (opts_.on_invalid) {
      case invalid_policy::fail: {
        // Failed on a later tick, outside this call, so this item's callback gets the error
        // before those of the items written after it.
        start(cb);
        std::string context = "invalid item " + std::to_string(index) + ": " + *reason;
        this->get_loop().defer([s = self(), context = std::move(context)]() mutable {
          s->fail(make_error_code(errc::invalid_argument), std::move(context));
        });
        return;
      }
      case invalid_policy::skip:
        ++counts_.skipped;
        cb();
        return;
      case invalid_policy::log:
        ++counts_.logged;
        opts_.log(index, item, *reason);
        cb();
        return;
      case invalid_policy::divert:
        ++counts_.diverted;
        forward(*opts_.rejects, std::move(item), cb);
        return;
    }
  }

  void do_final(callback cb) override {
    if (!opts_.end_destination) {
      cb({});
      return;
    }
    // Both ends complete `cb` once: the first error, or success when both finished.
    struct join {
      callback cb;
      int left;
      std::error_code first;
    };
    auto j = std::make_shared<join>(join{std::move(cb), opts_.rejects ? 2 : 1, {}});
    auto done = [j](std::error_code ec) {
      if (ec && !j->first) j->first = ec;
      if (--j->left == 0) j->cb(j->first);
    };
    dest_->end(done);
    if (opts_.rejects) opts_.rejects->end(done);
  }

  void do_destroy(std::error_code ec, callback cb) override {
    const std::error_code e = ec ? ec : make_error_code(errc::stream_destroyed);
    if (in_flight_) {
      // Not completed by its destination: it fails, never succeeds silently.
      stop_waiting_for_drain();
      in_flight_ = false;
      ++seq_;
      const write_callback c = std::exchange(in_flight_cb_, {});
      c(e);
    }
    if (opts_.end_destination) {
      dest_->destroy(ec);
      if (opts_.rejects) opts_.rejects->destroy(ec);
    }
    cb(ec);
  }

 private:
  [[noreturn]] static void invalid(const char* what) {
    throw std::system_error(make_error_code(errc::invalid_argument),
                            std::string("validating_writer: ") + what);
  }
  std::shared_ptr<validating_writer> self() {
    // (stream is a virtual base: no static cast; the aliasing constructor shares ownership)
    return {this->shared_from_this(), this};
  }
  std::weak_ptr<validating_writer> weak_self() { return self(); }

  std::optional<std::string> check(const T& item) {
    try {
      return opts_.validator(item);
    } catch (const std::exception& e) {
      return std::string("validator threw: ") + e.what();
    } catch (...) {
      return std::string("validator threw");
    }
  }

  void remember(std::size_t index, const std::string& reason) {
    if (opts_.reasons_kept == 0) return;
    if (recent_.size() == opts_.reasons_kept) recent_.pop_front();
    recent_.push_back({index, reason});
  }

  void start(write_callback cb) {
    in_flight_ = true;
    in_flight_cb_ = cb;
    ++seq_;
  }

  // Writes `item` to `target`; the item completes with the target's write callback, and, if
  // that write() returned false, not before the target's 'drain'.
  void forward(writable<T>& target, T&& item, write_callback cb) {
    start(cb);
    waiting_cb_ = true;
    to_rejects_ = &target == opts_.rejects.get();
    const std::uint64_t seq = seq_;
    const bool ok = target.write(std::move(item),
                                 [s = self(), seq](std::error_code ec) { s->on_written(seq, ec); });
    if (!ok && target.need_drain()) {
      drain_target_ = &target;
      drain_id_ = target.once_drain([w = weak_self(), seq] {
        if (auto s = w.lock()) s->on_target_drain(seq);
      });
    }
  }

  void on_written(std::uint64_t seq, std::error_code ec) {
    if (!in_flight_ || seq != seq_) return;  // destroy() completed it already
    if (ec) {
      this->fail(ec, to_rejects_ ? "write to rejects" : "write to destination");
      return;  // do_destroy completes the item with `ec`
    }
    waiting_cb_ = false;
    maybe_complete();
  }

  // (Not on_drain: that name would hide writable::on_drain from the writer's users.)
  void on_target_drain(std::uint64_t seq) {
    if (!in_flight_ || seq != seq_) return;
    drain_target_ = nullptr;
    drain_id_ = {};
    maybe_complete();
  }

  void maybe_complete() {
    if (waiting_cb_ || drain_target_ != nullptr) return;
    in_flight_ = false;
    const write_callback c = std::exchange(in_flight_cb_, {});
    c();
  }

  void stop_waiting_for_drain() {
    if (drain_target_ != nullptr && drain_id_) drain_target_->off(drain_id_);
    drain_target_ = nullptr;
    drain_id_ = {};
  }

  void on_target_error(std::error_code ec, const char* which) {
    if (!this->destroyed()) this->fail(ec, which);
  }

  std::shared_ptr<writable<T>> dest_;
  validating_writer_options<T> opts_;
  validation_counts counts_;
  std::deque<rejection> recent_;  // ring of the latest reasons_kept rejections
  std::size_t next_index_ = 0;
  listener_id dest_error_id_{};
  listener_id rejects_error_id_{};
  write_callback in_flight_cb_;          // the item being handled (valid while in_flight_)
  std::uint64_t seq_ = 0;                // identifies it, to ignore a stale completion
  writable<T>* drain_target_ = nullptr;  // whose 'drain' the item waits for, if any
  listener_id drain_id_{};
  bool in_flight_ = false;
  bool waiting_cb_ = false;  // the target's write callback has not run yet
  bool to_rejects_ = false;  // the item went to rejects (for the error's context)
};

/// Creates a validating_writer<T> in front of `destination`.
template <chunk T>
[[nodiscard]] std::shared_ptr<validating_writer<T>> make_validating_writer(
    sluice::loop& l, std::shared_ptr<writable<T>> destination, validating_writer_options<T> opts) {
  return std::make_shared<validating_writer<T>>(l, std::move(destination), std::move(opts));
}

}  // namespace sluice
