// sluice/core/detail/run_buffer.hpp: the containers of the object-mode data path.
//
// run_buffer: the items of a run (readable.hpp, "runs"): a growable array whose append is a
// compare, a move and an increment, inline, so gathering an item costs no more than handing it
// on would. ring: a readable's buffer.
#pragma once

#include <compare>
#include <cstddef>
#include <iterator>
#include <memory>
#include <new>
#include <type_traits>
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
  /// push_back when there is room (size() < capacity()); returns the new size. (size_ is read
  /// once: the item's store could alias it, for all the compiler knows.)
  std::size_t push_back_unchecked(T&& x) {
    const std::size_t n = size_;
    std::construct_at(data_ + n, std::move(x));
    size_ = n + 1;
    return n + 1;
  }
  [[nodiscard]] std::size_t capacity() const noexcept { return capacity_; }

  /// Moves [first, first + k) to the end (room for them must have been reserved).
  void append_moved(T* first, std::size_t k) {
    std::uninitialized_move(first, first + k, data_ + size_);
    size_ += k;
  }
  void reserve(std::size_t n) {
    if (n > capacity_) grow(n);
  }

  /// Destroys the items (moved-from or not); keeps the storage for the next run.
  void clear() noexcept {
    std::destroy(data_, data_ + size_);
    size_ = 0;
  }

 private:
  [[gnu::noinline]] void grow(std::size_t at_least = 0) {
    std::size_t cap = capacity_ == 0 ? 16 : capacity_ * 2;
    while (cap < at_least) cap *= 2;
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

namespace sluice::detail {

/// A readable's buffer: a double-ended queue on one power-of-two array (std::deque allocates and
/// frees a block every few dozen items, and its push_back is not inlined). Random-access
/// iterators; push and pop at both ends are O(1) amortized.
template <class T>
class ring {
 public:
  template <bool Const>
  class basic_iterator {
    using owner = std::conditional_t<Const, const ring, ring>;

   public:
    using iterator_category = std::random_access_iterator_tag;
    using value_type = T;
    using difference_type = std::ptrdiff_t;
    using pointer = std::conditional_t<Const, const T*, T*>;
    using reference = std::conditional_t<Const, const T&, T&>;

    basic_iterator() = default;
    basic_iterator(owner* r, std::size_t i) : r_(r), i_(i) {}
    reference operator*() const { return (*r_)[i_]; }
    pointer operator->() const { return &(*r_)[i_]; }
    reference operator[](difference_type d) const {
      return (*r_)[static_cast<std::size_t>(static_cast<difference_type>(i_) + d)];
    }
    basic_iterator& operator++() {
      ++i_;
      return *this;
    }
    basic_iterator operator++(int) {
      basic_iterator t = *this;
      ++i_;
      return t;
    }
    basic_iterator& operator--() {
      --i_;
      return *this;
    }
    basic_iterator operator--(int) {
      basic_iterator t = *this;
      --i_;
      return t;
    }
    basic_iterator& operator+=(difference_type d) {
      i_ = static_cast<std::size_t>(static_cast<difference_type>(i_) + d);
      return *this;
    }
    basic_iterator& operator-=(difference_type d) { return *this += -d; }
    friend basic_iterator operator+(basic_iterator a, difference_type d) { return a += d; }
    friend basic_iterator operator+(difference_type d, basic_iterator a) { return a += d; }
    friend basic_iterator operator-(basic_iterator a, difference_type d) { return a -= d; }
    friend difference_type operator-(const basic_iterator& a, const basic_iterator& b) {
      return static_cast<difference_type>(a.i_) - static_cast<difference_type>(b.i_);
    }
    friend bool operator==(const basic_iterator& a, const basic_iterator& b) {
      return a.i_ == b.i_;
    }
    friend auto operator<=>(const basic_iterator& a, const basic_iterator& b) {
      return a.i_ <=> b.i_;
    }

   private:
    owner* r_ = nullptr;
    std::size_t i_ = 0;
  };
  using iterator = basic_iterator<false>;
  using const_iterator = basic_iterator<true>;

  ring() = default;
  ring(const ring&) = delete;
  ring& operator=(const ring&) = delete;
  ~ring() {
    clear();
    std::allocator<T>().deallocate(data_, capacity_);
  }

  [[nodiscard]] std::size_t size() const noexcept { return size_; }
  [[nodiscard]] bool empty() const noexcept { return size_ == 0; }
  T& operator[](std::size_t i) noexcept { return data_[(head_ + i) & (capacity_ - 1)]; }
  const T& operator[](std::size_t i) const noexcept { return data_[(head_ + i) & (capacity_ - 1)]; }
  T& front() noexcept { return data_[head_]; }
  const T& front() const noexcept { return data_[head_]; }
  iterator begin() noexcept { return {this, 0}; }
  iterator end() noexcept { return {this, size_}; }
  const_iterator begin() const noexcept { return {this, 0}; }
  const_iterator end() const noexcept { return {this, size_}; }

  void push_back(T&& x) {
    if (size_ == capacity_) [[unlikely]]
      grow();
    std::construct_at(data_ + ((head_ + size_) & (capacity_ - 1)), std::move(x));
    ++size_;
  }
  void push_front(T&& x) {
    if (size_ == capacity_) [[unlikely]]
      grow();
    head_ = (head_ - 1) & (capacity_ - 1);
    std::construct_at(data_ + head_, std::move(x));
    ++size_;
  }
  void pop_front() noexcept {
    std::destroy_at(data_ + head_);
    head_ = (head_ + 1) & (capacity_ - 1);
    --size_;
  }
  /// Removes the first `n` items.
  void pop_front(std::size_t n) noexcept {
    for (std::size_t i = 0; i < n; ++i) pop_front();
  }
  /// Moves every item to the end of `out`, in order, and empties the ring.
  template <class Out>
  void move_all_to(Out& out) {
    out.reserve(out.size() + size_);
    const std::size_t first = size_ < capacity_ - head_ ? size_ : capacity_ - head_;
    out.append_moved(data_ + head_, first);
    out.append_moved(data_, size_ - first);
    clear();
  }
  /// Puts [first, last) in front of the current items, in order.
  template <class It>
  void push_front(It first, It last) {
    while (last != first) push_front(std::move(*--last));
  }
  void clear() noexcept {
    for (std::size_t i = 0; i < size_; ++i) std::destroy_at(&(*this)[i]);
    head_ = size_ = 0;
  }

 private:
  [[gnu::noinline]] void grow() {
    const std::size_t cap = capacity_ == 0 ? 16 : capacity_ * 2;
    T* fresh = std::allocator<T>().allocate(cap);
    for (std::size_t i = 0; i < size_; ++i) {
      T& x = (*this)[i];
      std::construct_at(fresh + i, std::move(x));
      std::destroy_at(&x);
    }
    std::allocator<T>().deallocate(data_, capacity_);
    data_ = fresh;
    capacity_ = cap;
    head_ = 0;
  }

  T* data_ = nullptr;
  std::size_t head_ = 0;
  std::size_t size_ = 0;
  std::size_t capacity_ = 0;
};

}  // namespace sluice::detail
