// sluice/compose/generator.hpp: generator<T>, a minimal synchronous coroutine generator (C++20 has
// no std::generator; C++23's is the model).
//
//   sluice::generator<int> count(int n) { for (int i = 0; i < n; ++i) co_yield i; }
//
// A generator is a move-only input range: begin() runs the body up to the first co_yield, each
// ++it resumes it up to the next one, and it == end() once the body returned. The body runs only
// when the iterator is advanced, so a consumer that stops asking stops the producer: that is what
// sluice::from(loop, generator) (sluice/compose/from.hpp) relies on for its pull model. An
// exception thrown by the body propagates out of the begin() or ++it call that resumed it; the
// generator is then done. Destroying the generator destroys the suspended body (its locals'
// destructors run).
#pragma once

#include <coroutine>
#include <cstddef>
#include <exception>
#include <iterator>
#include <memory>
#include <type_traits>
#include <utility>

namespace sluice {

template <class T>
class generator {
  static_assert(!std::is_reference_v<T>, "generator<T> yields values; T must not be a reference");

 public:
  using value_type = std::remove_cv_t<T>;

  class promise_type {
   public:
    generator get_return_object() noexcept {
      return generator(std::coroutine_handle<promise_type>::from_promise(*this));
    }
    std::suspend_always initial_suspend() const noexcept { return {}; }
    std::suspend_always final_suspend() const noexcept { return {}; }
    /// co_yield of a value: it is stored in the frame until the next resumption.
    std::suspend_always yield_value(value_type v) noexcept(
        std::is_nothrow_move_constructible_v<value_type>) {
      value_.reset();
      value_.emplace(std::move(v));
      return {};
    }
    void return_void() const noexcept {}
    void unhandled_exception() noexcept { exception_ = std::current_exception(); }
    /// co_await is not available inside a generator.
    template <class U>
    std::suspend_never await_transform(U&&) = delete;

   private:
    friend class generator;
    // An optional, so a T without a default constructor can be yielded.
    struct slot {
      alignas(value_type) unsigned char bytes[sizeof(value_type)];
      bool full = false;
      void reset() noexcept {
        if (full) get().~value_type();
        full = false;
      }
      template <class... A>
      void emplace(A&&... a) {
        ::new (static_cast<void*>(bytes)) value_type(std::forward<A>(a)...);
        full = true;
      }
      value_type& get() noexcept { return *std::launder(reinterpret_cast<value_type*>(bytes)); }
      slot() = default;
      slot(const slot&) = delete;
      slot& operator=(const slot&) = delete;
      ~slot() { reset(); }
    };
    slot value_;
    std::exception_ptr exception_;
  };

  class iterator {
   public:
    using value_type = generator::value_type;
    using difference_type = std::ptrdiff_t;
    using reference = value_type&;

    iterator() = default;
    /// The value of the last co_yield. Moving from it is allowed (from() does).
    reference operator*() const noexcept { return handle_.promise().value_.get(); }
    /// Resumes the body up to its next co_yield (or its end). Rethrows what the body threw.
    iterator& operator++() {
      resume(handle_);
      return *this;
    }
    void operator++(int) { ++*this; }
    friend bool operator==(const iterator& it, std::default_sentinel_t) noexcept {
      return !it.handle_ || it.handle_.done();
    }

   private:
    friend class generator;
    explicit iterator(std::coroutine_handle<promise_type> h) noexcept : handle_(h) {}
    std::coroutine_handle<promise_type> handle_{};
  };

  generator(generator&& o) noexcept : handle_(std::exchange(o.handle_, {})) {}
  generator& operator=(generator&& o) noexcept {
    if (this != &o) {
      if (handle_) handle_.destroy();
      handle_ = std::exchange(o.handle_, {});
    }
    return *this;
  }
  generator(const generator&) = delete;
  generator& operator=(const generator&) = delete;
  ~generator() {
    if (handle_) handle_.destroy();
  }

  /// Runs the body up to its first co_yield. Call once. Rethrows what the body threw.
  iterator begin() {
    resume(handle_);
    return iterator(handle_);
  }
  [[nodiscard]] std::default_sentinel_t end() const noexcept { return {}; }

 private:
  explicit generator(std::coroutine_handle<promise_type> h) noexcept : handle_(h) {}

  static void resume(std::coroutine_handle<promise_type> h) {
    if (!h || h.done()) return;
    h.promise().value_.reset();
    h.resume();
    if (h.promise().exception_) std::rethrow_exception(std::exchange(h.promise().exception_, {}));
  }

  std::coroutine_handle<promise_type> handle_{};
};

}  // namespace sluice
