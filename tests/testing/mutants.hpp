// Handle classes with the stream surface the conformance kit checks, forwarding to a correct
// sluice stream but for one injected fault (a "mutation"). They break the rules a stream
// derived from sluice's bases cannot break (the core keeps 'close' to once, callbacks in
// order, 'drain' after a false write()...), so that broken_streams_test can show that every
// check of the kit can fail. Each mutation fires only in the circumstances of the one scenario
// it targets, so that the kit reports exactly that rule.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <system_error>
#include <utility>
#include <vector>

#include "sluice/core/loop.hpp"
#include "sluice/core/make.hpp"
#include "sluice/core/signal.hpp"

namespace sluice::test {

enum class wmut {
  none,
  true_at_hwm,              // write() always returns true (and no 'drain' is passed on)
  drain_without_false,      // a 'drain' after the first write completes, on a healthy stream
  callback_twice,           // write #2's callback runs twice
  callbacks_reordered,      // write #1's callback waits for write #2's
  close_before_finish,      // after end(cb): 'close', then 'finish'
  silent_write_after_end,   // a write after end() is dropped: no callback, no 'error'
  no_close_when_new,        // destroy() before the loop ran: no 'close'
  close_twice_when_idle,    // destroy() of an idle stream: two 'close's
  close_twice_from_finish,  // destroy() from a 'finish' listener: two 'close's
  close_per_destroy,        // every further destroy() call emits 'close' again
  error_twice,              // the stream's own error is emitted twice
};

/// A writable<int> handle over an asynchronous sink (each write completes on the next tick,
/// highWaterMark 4), with one mutation.
class mutant_writable : public std::enable_shared_from_this<mutant_writable> {
 public:
  using input_type = int;

  static std::shared_ptr<mutant_writable> make(loop& l, wmut m) {
    auto w = std::shared_ptr<mutant_writable>(new mutant_writable(l, m));
    w->attach();
    return w;
  }

  bool write(int x, const callback& cb) {
    const std::size_t i = writes_++;
    if (m_ == wmut::silent_write_after_end && ended_) return false;
    auto self = weak_from_this();
    const bool ok = inner_->write(x, [self, i, cb](std::error_code ec) {
      if (auto s = self.lock()) s->completed(i, ec, cb);
    });
    if (!ok) returned_false_ = true;
    // (Only while the stream is healthy: a write after end() or destroy() still says false.)
    return m_ == wmut::true_at_hwm && !ended_ && destroys_ == 0 ? true : ok;
  }
  void end(callback cb) {
    ended_ = true;
    end_with_cb_ = static_cast<bool>(cb);
    if (held_) std::exchange(held_, nullptr)();
    inner_->end(std::move(cb));
  }
  void destroy(std::error_code ec) {
    ++destroys_;
    if (destroys_ == 1) {
      idle_at_destroy_ = writes_ == 0 && !ended_ && started_ && !ec;
      new_at_destroy_ = !started_;
    }
    if (m_ == wmut::close_twice_from_finish && in_finish_) close_twice_ = true;
    if (m_ == wmut::close_per_destroy && destroys_ > 1 && closed_) close_.emit();
    inner_->destroy(ec);
  }

  listener_id on_drain(std::function<void()> f) { return add(drain_, std::move(f)); }
  listener_id on_prefinish(std::function<void()> f) { return add(prefinish_, std::move(f)); }
  listener_id on_finish(std::function<void()> f) { return add(finish_, std::move(f)); }
  listener_id on_close(std::function<void()> f) { return add(close_, std::move(f)); }
  listener_id on_error(std::function<void(std::error_code)> f) { return add(error_, std::move(f)); }
  [[nodiscard]] std::size_t writable_length() const { return inner_->writable_length(); }
  [[nodiscard]] std::size_t writable_high_water_mark() const {
    return inner_->writable_high_water_mark();
  }
  [[nodiscard]] bool auto_destroy() const { return inner_->auto_destroy(); }
  [[nodiscard]] bool emits_close() const { return inner_->emits_close(); }

 private:
  mutant_writable(loop& l, wmut m) : m_(m) {
    inner_ = make_writable<int>(
        l, {.high_water_mark = 4, .write = [](writable<int>& self, int&&, auto cb) {
              self.get_loop().defer([keep = self.shared_from_this(), cb] { cb(); });
            }});
    l.defer([flag = std::weak_ptr<bool>(started_flag_)] {
      if (auto f = flag.lock()) *f = true;
    });
  }

  void attach() {
    std::weak_ptr<mutant_writable> self = weak_from_this();
    auto with = [self](auto fn) {
      return [self, fn](auto... args) {
        if (auto s = self.lock()) fn(*s, args...);
      };
    };
    inner_->on_drain(with([](mutant_writable& s) {
      if (s.m_ != wmut::true_at_hwm) s.drain_.emit();
    }));
    inner_->on_prefinish(with([](mutant_writable& s) { s.prefinish_.emit(); }));
    inner_->on_finish(with([](mutant_writable& s) {
      if (s.m_ == wmut::close_before_finish && s.end_with_cb_ && s.destroys_ == 0) {
        s.finish_held_ = true;
        return;
      }
      s.in_finish_ = true;
      s.finish_.emit();
      s.in_finish_ = false;
    }));
    inner_->on_error(with([](mutant_writable& s, std::error_code ec) {
      s.error_.emit(ec);
      if (s.m_ == wmut::error_twice && ec != errc::write_after_end) s.error_.emit(ec);
    }));
    inner_->on_close(with([](mutant_writable& s) {
      s.closed_ = true;
      if (s.m_ == wmut::no_close_when_new && s.new_at_destroy_) return;
      s.close_.emit();
      const bool twice =
          (s.m_ == wmut::close_twice_when_idle && s.idle_at_destroy_ && s.destroys_ == 1) ||
          s.close_twice_;
      if (twice) s.close_.emit();
      if (s.finish_held_) s.finish_.emit();
    }));
  }

  void completed(std::size_t i, std::error_code ec, const callback& cb) {
    const bool healthy = destroys_ == 0 && !ec;
    if (m_ == wmut::drain_without_false && healthy && !ended_ && !returned_false_ && !drained_) {
      drained_ = true;
      drain_.emit();
    }
    if (!cb) return;
    if (m_ == wmut::callbacks_reordered && healthy && i == 1 && writes_ > 2) {
      held_ = [cb] { cb({}); };
      return;
    }
    cb(ec);
    if (m_ == wmut::callback_twice && healthy && i == 2) cb(ec);
    if (m_ == wmut::callbacks_reordered && i == 2 && held_) std::exchange(held_, nullptr)();
  }

  template <class... A>
  listener_id add(signal<A...>& s, std::function<void(A...)> f) {
    const listener_id id{++ids_};
    s.connect(id, std::move(f));
    return id;
  }

  wmut m_;
  std::shared_ptr<writable<int>> inner_;
  std::shared_ptr<bool> started_flag_ = std::make_shared<bool>(false);
  bool& started_ = *started_flag_;  // the loop ran a tick since creation
  signal<> drain_, prefinish_, finish_, close_;
  signal<std::error_code> error_;
  std::uint64_t ids_ = 0;
  std::size_t writes_ = 0;
  std::size_t destroys_ = 0;
  bool ended_ = false;
  bool end_with_cb_ = false;
  bool returned_false_ = false;
  bool drained_ = false;
  bool closed_ = false;
  bool in_finish_ = false;
  bool close_twice_ = false;
  bool finish_held_ = false;
  bool idle_at_destroy_ = false;
  bool new_at_destroy_ = false;
  std::function<void()> held_;
};

enum class rmut {
  none,
  end_twice,               // 'end' twice (unless destroyed in between)
  no_close_when_new,       // destroy() before the loop ran: no 'close'
  close_twice_when_idle,   // destroy() with no consumer: two 'close's
  data_after_destroy,      // destroy() from a 'data' listener: one more chunk, never buffered
  close_twice_when_ended,  // destroy() after 'end': two 'close's
  close_per_destroy,       // every further destroy() call emits 'close' again
  error_twice,             // the stream's own error is emitted twice
};

/// A readable<int> handle over a source of the numbers 0..99 (highWaterMark 8), with one
/// mutation.
class mutant_readable : public std::enable_shared_from_this<mutant_readable> {
 public:
  using output_type = int;

  static std::shared_ptr<mutant_readable> make(loop& l, rmut m) {
    auto r = std::shared_ptr<mutant_readable>(new mutant_readable(l, m));
    r->attach();
    return r;
  }

  listener_id on_data(std::function<void(int&&)> f) {
    consumed_ = true;
    const listener_id id{++ids_};
    data_.push_back(std::move(f));
    if (!forwarding_) {
      forwarding_ = true;
      std::weak_ptr<mutant_readable> self = weak_from_this();
      inner_->on_data([self](int&& x) {
        if (auto s = self.lock()) s->forward(x);
      });
    }
    return id;
  }
  listener_id on_end(std::function<void()> f) { return add(end_, std::move(f)); }
  listener_id on_close(std::function<void()> f) { return add(close_, std::move(f)); }
  listener_id on_error(std::function<void(std::error_code)> f) { return add(error_, std::move(f)); }
  void pause() { inner_->pause(); }
  void resume() { inner_->resume(); }
  void destroy(std::error_code ec) {
    ++destroys_;
    if (destroys_ == 1) {
      idle_at_destroy_ = !consumed_ && started_ && !ec;
      new_at_destroy_ = !started_;
      ended_at_destroy_ = ended_;
    }
    if (in_data_) destroyed_in_data_ = true;
    if (m_ == rmut::close_per_destroy && destroys_ > 1 && closed_) close_.emit();
    inner_->destroy(ec);
  }
  [[nodiscard]] std::size_t readable_length() const { return inner_->readable_length(); }
  [[nodiscard]] std::size_t readable_high_water_mark() const {
    return inner_->readable_high_water_mark();
  }
  [[nodiscard]] bool eof_pushed() const { return inner_->eof_pushed(); }
  [[nodiscard]] bool auto_destroy() const { return inner_->auto_destroy(); }
  [[nodiscard]] bool emits_close() const { return inner_->emits_close(); }

 private:
  mutant_readable(loop& l, rmut m) : m_(m) {
    auto next = std::make_shared<int>(0);
    inner_ = make_readable<int>(
        l, {.high_water_mark = 8, .read = [next](readable<int>& self, std::size_t) {
              for (;;) {
                if (*next == 100) return self.push_eof();
                if (!self.push((*next)++)) return;
              }
            }});
    l.defer([flag = std::weak_ptr<bool>(started_flag_)] {
      if (auto f = flag.lock()) *f = true;
    });
  }

  void attach() {
    std::weak_ptr<mutant_readable> self = weak_from_this();
    inner_->on_end([self] {
      auto s = self.lock();
      if (!s) return;
      s->ended_ = true;
      s->end_.emit();
      if (s->m_ == rmut::end_twice && s->destroys_ == 0) s->end_.emit();
    });
    inner_->on_error([self](std::error_code ec) {
      auto s = self.lock();
      if (!s) return;
      s->error_.emit(ec);
      if (s->m_ == rmut::error_twice) s->error_.emit(ec);
    });
    inner_->on_close([self] {
      auto s = self.lock();
      if (!s) return;
      s->closed_ = true;
      if (s->m_ == rmut::no_close_when_new && s->new_at_destroy_) return;
      s->close_.emit();
      const bool twice =
          (s->m_ == rmut::close_twice_when_idle && s->idle_at_destroy_ && s->destroys_ == 1) ||
          (s->m_ == rmut::close_twice_when_ended && s->ended_at_destroy_);
      if (twice) s->close_.emit();
    });
  }

  void forward(int x) {
    in_data_ = true;
    emit_data(x);
    in_data_ = false;
    if (m_ == rmut::data_after_destroy && destroyed_in_data_ && !extra_sent_) {
      extra_sent_ = true;
      emit_data(999);
    }
  }
  void emit_data(int x) {
    for (auto& f : data_) {
      int copy = x;
      f(std::move(copy));
    }
  }

  template <class... A>
  listener_id add(signal<A...>& s, std::function<void(A...)> f) {
    const listener_id id{++ids_};
    s.connect(id, std::move(f));
    return id;
  }

  rmut m_;
  std::shared_ptr<readable<int>> inner_;
  std::shared_ptr<bool> started_flag_ = std::make_shared<bool>(false);
  bool& started_ = *started_flag_;
  std::vector<std::function<void(int&&)>> data_;
  signal<> end_, close_;
  signal<std::error_code> error_;
  std::uint64_t ids_ = 0;
  std::size_t destroys_ = 0;
  bool consumed_ = false;
  bool forwarding_ = false;
  bool ended_ = false;
  bool closed_ = false;
  bool in_data_ = false;
  bool destroyed_in_data_ = false;
  bool extra_sent_ = false;
  bool idle_at_destroy_ = false;
  bool new_at_destroy_ = false;
  bool ended_at_destroy_ = false;
};

}  // namespace sluice::test
