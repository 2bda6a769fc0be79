// sluice/detail/run_buffer.hpp: the items of a run (readable.hpp, "runs"): a growable array
// whose append is a compare, a move and an increment, inline, so gathering an item costs no
// more than handing it on would.
#pragma once

#include <cstddef>
#include <memory>
#include <new>
#include <utility>

namespace sluice::detail {

template <class T>
class run_buffer {
 public:
  run_buffer() = default;
  run_buffer(const run_buffer&) = delete;
  run_buffer& operator=(const run_buffer&) = delete;
  ~run_buffer() {
    clear();
    std::allocator<T>().deallocate(data_, capacity_);
  }

  [[nodiscard]] T* data() noexcept { return data_; }
  [[nodiscard]] std::size_t size() const noexcept { return size_; }
  [[nodiscard]] bool empty() const noexcept { return size_ == 0; }
  T& operator[](std::size_t i) noexcept { return data_[i]; }
  T* begin() noexcept { return data_; }
  T* end() noexcept { return data_ + size_; }

  void push_back(T&& x) {
    if (size_ == capacity_) [[unlikely]]
      grow();
    std::construct_at(data_ + size_, std::move(x));
    ++size_;
  }

  /// Destroys the items (moved-from or not); keeps the storage for the next run.
  void clear() noexcept {
    std::destroy(data_, data_ + size_);
    size_ = 0;
  }

 private:
  [[gnu::noinline]] void grow() {
    const std::size_t cap = capacity_ == 0 ? 16 : capacity_ * 2;
    T* fresh = std::allocator<T>().allocate(cap);
    for (std::size_t i = 0; i < size_; ++i) {
      std::construct_at(fresh + i, std::move(data_[i]));
      std::destroy_at(data_ + i);
    }
    std::allocator<T>().deallocate(data_, capacity_);
    data_ = fresh;
    capacity_ = cap;
  }

  T* data_ = nullptr;
  std::size_t size_ = 0;
  std::size_t capacity_ = 0;
};

}  // namespace sluice::detail
