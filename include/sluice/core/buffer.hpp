// sluice/core/buffer.hpp: bytes as streams carry them.
//
// `buffer` is the chunk of a byte stream (chunk.hpp makes byte streams count its size): an
// immutable, reference-counted view into shared storage, so copies and slices never copy bytes and
// may be handed between threads. `buffer_builder` is where producers (file and socket readers,
// transforms) write bytes before freezing them into a buffer without a copy. `buffer_list` is a
// rope of buffers for the places that collect, split and gather-write byte chunks: readable's
// read(n), writable's writev, codecs. `concat` is the one deliberate copy, for when contiguity is
// needed.
#pragma once

#include <sys/uio.h>

#include <atomic>
#include <cassert>
#include <cstddef>
#include <deque>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sluice {

namespace detail {

// The control block every buffer's bytes hang off. It is not templated so that a buffer does not
// care whether its bytes were copied in (they follow the block in the same allocation) or adopted
// from a string or vector (a derived block owns the container); `destroy` knows which.
struct storage {
  using destroy_fn = void (*)(storage*) noexcept;

  explicit storage(destroy_fn d) noexcept : destroy(d) {}

  // Atomic because buffers may cross to worker threads; the count is the only shared mutable state.
  std::atomic<std::size_t> refs{1};
  destroy_fn destroy;
};

inline void retain(storage* s) noexcept {
  // Relaxed suffices for an increment: whoever copies already holds a reference.
  if (s != nullptr) s->refs.fetch_add(1, std::memory_order_relaxed);
}

inline void release(storage* s) noexcept {
  // acq_rel so that every thread's last reads of the bytes happen before the free.
  if (s != nullptr && s->refs.fetch_sub(1, std::memory_order_acq_rel) == 1) s->destroy(s);
}

// One allocation holding the control block followed by `capacity` uninitialized bytes.
[[nodiscard]] storage* allocate_storage(std::size_t capacity);
[[nodiscard]] std::byte* storage_bytes(storage* s) noexcept;

}  // namespace detail

class buffer_builder;

/// An immutable run of bytes in shared, reference-counted storage. Copying and slicing share the
/// storage; the bytes are freed when the last buffer viewing them goes. An empty buffer never
/// holds storage, so an empty slice does not keep a large block alive.
class buffer {
 public:
  static constexpr std::size_t npos = static_cast<std::size_t>(-1);

  /// Empty; allocates nothing.
  buffer() noexcept = default;

  /// Copies `bytes` into a new buffer.
  [[nodiscard]] static buffer copy_of(std::span<const std::byte> bytes);
  [[nodiscard]] static buffer copy_of(std::string_view text);

  /// Takes over the container's memory; the bytes stay where they are.
  explicit buffer(std::string&& text);
  explicit buffer(std::vector<std::byte>&& bytes);

  buffer(const buffer& other) noexcept
      : storage_(other.storage_), data_(other.data_), size_(other.size_) {
    detail::retain(storage_);
  }
  buffer(buffer&& other) noexcept
      : storage_(std::exchange(other.storage_, nullptr)),
        data_(std::exchange(other.data_, nullptr)),
        size_(std::exchange(other.size_, 0)) {}
  buffer& operator=(const buffer& other) noexcept {
    buffer(other).swap(*this);
    return *this;
  }
  buffer& operator=(buffer&& other) noexcept {
    buffer(std::move(other)).swap(*this);
    return *this;
  }
  ~buffer() { detail::release(storage_); }

  void swap(buffer& other) noexcept {
    std::swap(storage_, other.storage_);
    std::swap(data_, other.data_);
    std::swap(size_, other.size_);
  }
  friend void swap(buffer& a, buffer& b) noexcept { a.swap(b); }

  [[nodiscard]] std::size_t size() const noexcept { return size_; }
  [[nodiscard]] bool empty() const noexcept { return size_ == 0; }
  [[nodiscard]] const std::byte* data() const noexcept { return data_; }
  [[nodiscard]] std::span<const std::byte> bytes() const noexcept { return {data_, size_}; }
  [[nodiscard]] std::string_view view() const noexcept {
    return {reinterpret_cast<const char*>(data_), size_};
  }
  [[nodiscard]] std::byte operator[](std::size_t i) const noexcept {
    assert(i < size_);
    return data_[i];
  }
  [[nodiscard]] const std::byte* begin() const noexcept { return data_; }
  [[nodiscard]] const std::byte* end() const noexcept { return data_ + size_; }

  /// The bytes [offset, offset + length), sharing storage. `length` is clamped to what is left;
  /// throws std::out_of_range if offset > size().
  [[nodiscard]] buffer slice(std::size_t offset, std::size_t length = npos) const;

  [[nodiscard]] std::string to_string() const { return std::string(view()); }
  [[nodiscard]] std::vector<std::byte> to_vector() const { return {begin(), end()}; }

  /// True if both view the same storage (so neither copy cost anything). False for empty buffers.
  [[nodiscard]] bool shares_storage_with(const buffer& other) const noexcept {
    return storage_ != nullptr && storage_ == other.storage_;
  }
  /// How many buffers share this storage (0 when empty). Racy by nature; meant for tests.
  [[nodiscard]] std::size_t use_count() const noexcept {
    return storage_ == nullptr ? 0 : storage_->refs.load(std::memory_order_relaxed);
  }

  /// Compares bytes, not identity.
  friend bool operator==(const buffer& a, const buffer& b) noexcept;

 private:
  friend class buffer_builder;

  // Takes over one reference to `s`.
  buffer(detail::storage* s, const std::byte* data, std::size_t size) noexcept
      : storage_(s), data_(data), size_(size) {}

  detail::storage* storage_ = nullptr;
  const std::byte* data_ = nullptr;
  std::size_t size_ = 0;
};

/// A block that producers fill in place (read(2) into free_space(), then commit) and then freeze
/// into a buffer without copying. Move-only: the bytes are writable only while one owner has them.
class buffer_builder {
 public:
  buffer_builder() noexcept = default;
  /// Allocates room for `capacity` bytes up front (nothing if 0).
  explicit buffer_builder(std::size_t capacity);

  buffer_builder(buffer_builder&& other) noexcept;
  buffer_builder& operator=(buffer_builder&& other) noexcept;
  buffer_builder(const buffer_builder&) = delete;
  buffer_builder& operator=(const buffer_builder&) = delete;
  ~buffer_builder() { detail::release(storage_); }

  /// Where the next bytes go. Writing here is not enough: commit() what was written.
  [[nodiscard]] std::span<std::byte> free_space() noexcept {
    return {data_ + size_, capacity_ - size_};
  }
  /// Marks the first `n` bytes of free_space() as written; throws std::out_of_range past the end.
  void commit(std::size_t n);

  /// Makes free_space() at least `free_bytes` long, moving what was written if needed.
  void reserve(std::size_t free_bytes);

  /// Copies `bytes` in after what was written, growing as needed.
  void append(std::span<const std::byte> bytes);
  void append(std::string_view text);

  [[nodiscard]] std::size_t size() const noexcept { return size_; }
  [[nodiscard]] std::size_t capacity() const noexcept { return capacity_; }
  [[nodiscard]] bool empty() const noexcept { return size_ == 0; }
  /// What has been committed so far.
  [[nodiscard]] std::span<const std::byte> bytes() const noexcept { return {data_, size_}; }

  /// The committed bytes as a buffer, without copying; the builder is left empty, with no
  /// capacity. Unused capacity stays allocated as long as the buffer lives.
  [[nodiscard]] buffer freeze() &&;

 private:
  detail::storage* storage_ = nullptr;
  std::byte* data_ = nullptr;
  std::size_t size_ = 0;
  std::size_t capacity_ = 0;
};

/// A sequence of buffers treated as one run of bytes: concatenation, splitting and slicing move
/// buffers around and never copy bytes. Empty buffers are never stored.
class buffer_list {
 public:
  using const_iterator = std::deque<buffer>::const_iterator;

  buffer_list() = default;

  void push_back(buffer b);
  void push_front(buffer b);
  /// Moves all of `other`'s chunks to the back.
  void append(buffer_list other);

  [[nodiscard]] std::size_t byte_size() const noexcept { return bytes_; }
  [[nodiscard]] std::size_t chunk_count() const noexcept { return chunks_.size(); }
  [[nodiscard]] bool empty() const noexcept { return chunks_.empty(); }

  /// Read-only iteration over the chunks; mutation goes through the members so byte_size() holds.
  [[nodiscard]] const_iterator begin() const noexcept { return chunks_.begin(); }
  [[nodiscard]] const_iterator end() const noexcept { return chunks_.end(); }

  /// The first chunk; the list must not be empty.
  [[nodiscard]] const buffer& front() const noexcept {
    assert(!chunks_.empty());
    return chunks_.front();
  }
  /// Removes and returns the first chunk; the list must not be empty.
  buffer pop_front() noexcept;

  /// The bytes [offset, offset + length) as slices of the chunks. `length` is clamped; throws
  /// std::out_of_range if offset > byte_size().
  [[nodiscard]] buffer_list slice(std::size_t offset, std::size_t length = buffer::npos) const;

  /// Removes the first `n` bytes (all of them if n >= byte_size()) and returns them, splitting a
  /// chunk in two if `n` falls inside it.
  [[nodiscard]] buffer_list consume(std::size_t n);

  /// All bytes as one buffer: the chunk itself when there is only one, a copy otherwise.
  [[nodiscard]] buffer flatten() const;

  void clear() noexcept {
    chunks_.clear();
    bytes_ = 0;
  }
  [[nodiscard]] std::string to_string() const;

  /// Describes chunks first_chunk, first_chunk + 1, ... in `out`, for writev(2) and friends.
  /// Returns how many entries it filled: min(out.size(), chunk_count() - first_chunk), so a caller
  /// with more chunks than IOV_MAX calls again with first_chunk advanced.
  [[nodiscard]] std::size_t fill_iovecs(std::span<::iovec> out, std::size_t first_chunk = 0) const;

 private:
  std::deque<buffer> chunks_;
  std::size_t bytes_ = 0;  // cached: readers ask for it on every push
};

/// The bytes of `parts` in order, as one contiguous buffer. Copies, except that when at most one
/// part is non-empty that part is returned as is.
[[nodiscard]] buffer concat(std::span<const buffer> parts);

}  // namespace sluice
