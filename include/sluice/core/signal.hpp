// sluice/core/signal.hpp: typed event listeners (the C++ side of Node's EventEmitter).
//
// Each stream event is a `signal<Args...>` member: listeners are added with connect() (optionally
// once) and removed by the `listener_id` connect() returned. Emitting is re-entrancy safe: a
// listener may add or remove listeners (including itself) while the signal is being emitted.
// Listeners added during an emit are not called by that emit (as in Node); listeners removed
// during an emit are not called either (Node would still call them; see node-differences.md).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <utility>
#include <vector>

namespace sluice {

/// Identifies one listener of one stream; 0 means "none".
struct listener_id {
  std::uint64_t value = 0;
  explicit operator bool() const noexcept { return value != 0; }
  friend bool operator==(listener_id, listener_id) = default;
};

template <class... Args>
class signal {
 public:
  using handler = std::function<void(Args...)>;

  signal() = default;
  signal(const signal&) = delete;
  signal& operator=(const signal&) = delete;

  /// Adds a listener at the end (or at the front with `prepend`). `id` must be unique per stream.
  void connect(listener_id id, handler h, bool once = false, bool prepend = false) {
    auto e = std::make_unique<entry>(entry{id, once, true, std::move(h)});
    if (prepend) {
      entries_.insert(entries_.begin(), std::move(e));
      ++prepended_during_emit_;
    } else {
      entries_.push_back(std::move(e));
    }
    ++live_;
  }

  /// Removes a listener. Returns false if it is not connected to this signal.
  bool disconnect(listener_id id) noexcept {
    for (auto& e : entries_) {
      if (e->alive && e->id == id) {
        kill(*e);
        return true;
      }
    }
    return false;
  }

  void disconnect_all() noexcept {
    for (auto& e : entries_) {
      if (e->alive) {
        e->alive = false;
        --live_;
        ++dead_;
      }
    }
    if (depth_ == 0) compact();
  }

  [[nodiscard]] std::size_t size() const noexcept { return live_; }
  [[nodiscard]] bool empty() const noexcept { return live_ == 0; }

  /// Calls every listener with `args` (copied to each).
  void emit(const std::remove_cvref_t<Args>&... args) {
    for_each([&](handler& h, bool) { h(args...); });
  }

  /// Calls `f(handler&, bool last)` for each listener present when the emit started; `last` is
  /// true for the last live one, so a caller can move a value into it and copy for the others.
  template <class F>
  void for_each(F&& f) {
    if (live_ == 0) return;
    ++depth_;
    std::size_t n = entries_.size();
    if (n == 1) {  // the common case: one listener, nothing to look ahead for
      entry& e = *entries_[0];
      if (e.once) kill(e);
      f(e.fn, true);
      if (--depth_ == 0 && dead_ != 0) compact();
      return;
    }
    prepended_during_emit_ = 0;
    for (std::size_t i = 0; i < n; ++i) {
      // A listener prepended during this emit shifts the entries we have yet to visit.
      if (prepended_during_emit_ != 0) {
        i += prepended_during_emit_;
        n += prepended_during_emit_;
        prepended_during_emit_ = 0;
      }
      entry& e = *entries_[i];
      if (!e.alive) continue;
      bool last = true;
      for (std::size_t j = i + 1; j < n; ++j)
        if (entries_[j]->alive) {
          last = false;
          break;
        }
      if (e.once) kill(e);
      f(e.fn, last);
    }
    if (--depth_ == 0 && dead_ != 0) compact();
  }

 private:
  struct entry {
    listener_id id;
    bool once;
    bool alive;
    handler fn;
  };

  void kill(entry& e) noexcept {
    e.alive = false;
    --live_;
    ++dead_;
    if (depth_ == 0) compact();
  }

  void compact() noexcept {
    std::erase_if(entries_, [](const std::unique_ptr<entry>& e) { return !e->alive; });
    dead_ = 0;
  }

  // unique_ptr keeps an entry (and the listener running from it) in place while the vector grows.
  std::vector<std::unique_ptr<entry>> entries_;
  std::size_t live_ = 0;
  std::size_t dead_ = 0;
  std::size_t depth_ = 0;
  std::size_t prepended_during_emit_ = 0;
};

}  // namespace sluice
