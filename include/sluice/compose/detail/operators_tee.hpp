// sluice/compose/detail/operators_tee.hpp: tee (broadcast) for sluice/compose/operators.hpp.
//
// A `tee_hub<T>` reads one source in paused mode and pushes a copy of every item into each of its
// `tee_branch<T>` readables. Without max_lag it reads only while every live branch wants data
// (its last push() returned true or it asked again), so the slowest branch sets the pace and no
// branch buffers more than its highWaterMark. With max_lag it reads while any branch wants data,
// and a branch that has consumed more than max_lag items fewer than the fastest one is failed with
// errc::aborted and dropped; the others go on. Branches own the hub, the hub owns the source; the
// source's listeners hold the hub weakly. When every branch is gone the source is destroyed.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <system_error>
#include <type_traits>
#include <utility>
#include <vector>

#include "sluice/compose/detail/operators_core.hpp"

namespace sluice::detail {

template <chunk T>
class tee_hub;

template <chunk T>
class tee_branch final : public readable<T> {
 public:
  tee_branch(sluice::loop& l, std::shared_ptr<tee_hub<T>> hub, std::size_t index,
             const readable_options& o)
      : readable<T>(l, o), hub_(std::move(hub)), index_(index) {}

 protected:
  void do_read(std::size_t) override {
    want_ = true;
    hub_->pull();
  }
  void do_destroy(std::error_code ec, callback cb) override {
    hub_->branch_gone(index_);
    cb(ec);
  }

 private:
  friend class tee_hub<T>;
  bool deliver(T v) {
    if (this->destroyed() || this->eof_pushed()) return false;
    const bool ok = this->push(std::move(v));
    if (!ok) want_ = false;
    return ok;
  }

  std::shared_ptr<tee_hub<T>> hub_;
  std::size_t index_;
  bool want_ = false;
};

template <chunk T>
class tee_hub final : public std::enable_shared_from_this<tee_hub<T>> {
 public:
  tee_hub(std::shared_ptr<readable<T>> src, std::optional<std::uint64_t> max_lag)
      : src_(std::move(src)), max_lag_(max_lag) {}

  ~tee_hub() { detach(true); }

  /// Creates the branches and connects to the source.
  std::vector<std::shared_ptr<readable<T>>> start(std::size_t n, const readable_options& o) {
    std::vector<std::shared_ptr<readable<T>>> out;
    for (std::size_t i = 0; i < n; ++i) {
      readable_options bo = o;
      if (!bo.name.empty()) bo.name += "[" + std::to_string(i) + "]";
      auto b = std::make_shared<tee_branch<T>>(src_->get_loop(), this->shared_from_this(), i, bo);
      branches_.push_back(b);
      out.push_back(b);
    }
    live_ = n;
    gone_.assign(n, false);
    std::weak_ptr<tee_hub> self = this->shared_from_this();
    ids_[0] = src_->on_error([self](std::error_code ec) {
      if (auto s = self.lock()) s->source_failed(ec);
    });
    ids_[1] = src_->on_close([self] {
      if (auto s = self.lock())
        if (!s->ended_) s->source_failed(make_error_code(errc::premature_close));
    });
    ids_[2] = src_->once_end([self] {
      if (auto s = self.lock()) s->source_ended();
    });
    if (src_->errored())
      source_failed(src_->errored());
    else if (src_->readable_ended())
      source_ended();
    else if (src_->destroyed())
      source_failed(make_error_code(errc::premature_close));
    else if (n == 0)
      detach(true);  // nobody will ever read it
    return out;
  }

  void pull() {
    if (pulling_) {
      repull_ = true;
      return;
    }
    if (detached_) return;
    if (!listening_) {
      listening_ = true;
      std::weak_ptr<tee_hub> self = this->shared_from_this();
      ids_[3] = src_->on_readable([self] {
        if (auto s = self.lock()) s->pull();
      });
    }
    auto keep = this->shared_from_this();
    pulling_ = true;
    do {
      repull_ = false;
      while (!detached_ && should_read()) {
        std::optional<T> v = src_->read();
        if (!v) break;
        broadcast(std::move(*v));
      }
    } while (repull_ && !detached_);
    pulling_ = false;
  }

  void branch_gone(std::size_t i) {
    if (i >= gone_.size() || gone_[i]) return;
    gone_[i] = true;
    if (--live_ == 0) {
      detach(true);
      return;
    }
    // The branch that held the others back may be gone: read on, on a later tick (we may be
    // inside broadcast()).
    std::weak_ptr<tee_hub> self = this->shared_from_this();
    src_->get_loop().defer([self] {
      if (auto s = self.lock()) s->pull();
    });
  }

 private:
  template <class F>
  void for_each_live(F&& f) {
    for (std::size_t i = 0; i < branches_.size(); ++i) {
      if (gone_[i]) continue;
      if (auto b = branches_[i].lock()) f(i, *b);
    }
  }

  [[nodiscard]] bool should_read() {
    bool all = true, any = false, some = false;
    for_each_live([&](std::size_t, tee_branch<T>& b) {
      some = true;
      if (b.want_)
        any = true;
      else
        all = false;
    });
    if (!some) return false;
    return max_lag_ ? any : all;
  }

  void broadcast(T v) {
    std::vector<tee_branch<T>*> targets;
    for_each_live([&](std::size_t, tee_branch<T>& b) { targets.push_back(&b); });
    std::vector<std::shared_ptr<stream>> keep;
    for (auto* b : targets) keep.push_back(b->shared_from_this());
    for (std::size_t k = 0; k < targets.size(); ++k) {
      if (k + 1 == targets.size())
        targets[k]->deliver(std::move(v));
      else if constexpr (std::is_copy_constructible_v<T>)
        targets[k]->deliver(T(v));
    }
    if (max_lag_) check_lag();
  }

  // Fails every branch that consumed more than max_lag items fewer than the fastest one.
  void check_lag() {
    std::uint64_t fastest = 0;
    for_each_live([&](std::size_t, tee_branch<T>& b) {
      fastest = std::max(fastest, b.counters().chunks_out);
    });
    std::vector<std::pair<std::size_t, std::shared_ptr<stream>>> behind;
    for_each_live([&](std::size_t i, tee_branch<T>& b) {
      if (fastest - b.counters().chunks_out > *max_lag_)
        behind.emplace_back(i, b.shared_from_this());
    });
    for (auto& [i, b] : behind)
      b->fail(make_error_code(errc::aborted), "tee: branch " + std::to_string(i) +
                                                  " fell more than " + std::to_string(*max_lag_) +
                                                  " items behind the fastest");
  }

  void source_ended() {
    ended_ = true;
    detach(false);
    for_each_live([](std::size_t, tee_branch<T>& b) { b.push_eof(); });
  }

  void source_failed(std::error_code ec) {
    if (detached_) return;
    detach(false);
    const std::string what = source_context(*src_, "tee");
    std::vector<std::shared_ptr<stream>> victims;
    for_each_live([&](std::size_t, tee_branch<T>& b) { victims.push_back(b.shared_from_this()); });
    for (auto& b : victims) b->fail(ec, what);
  }

  void detach(bool destroy_src) {
    if (detached_) return;
    detached_ = true;
    for (listener_id id : ids_)
      if (id) src_->off(id);
    if (destroy_src && !src_->destroyed() && !src_->readable_ended()) src_->destroy();
  }

  std::shared_ptr<readable<T>> src_;
  std::optional<std::uint64_t> max_lag_;
  std::vector<std::weak_ptr<tee_branch<T>>> branches_;
  std::vector<bool> gone_;
  std::size_t live_ = 0;
  listener_id ids_[4];
  bool listening_ = false;
  bool pulling_ = false;
  bool repull_ = false;
  bool ended_ = false;
  bool detached_ = false;
};

}  // namespace sluice::detail
