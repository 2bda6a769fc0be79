#include "sluice/core/buffer.hpp"

#include <algorithm>
#include <cstring>
#include <new>
#include <stdexcept>

namespace sluice {
namespace detail {
namespace {

// The bytes start right after the control block; its size keeps them aligned to the block's
// alignment, which is what operator new guarantees for the whole allocation.
constexpr std::size_t header_size =
    (sizeof(storage) + alignof(storage) - 1) / alignof(storage) * alignof(storage);

void destroy_inline(storage* s) noexcept {
  s->~storage();
  ::operator delete(static_cast<void*>(s));
}

// Storage that owns a container whose memory the buffer views.
template <class Container>
struct adopted_storage final : storage {
  explicit adopted_storage(Container&& c) noexcept
      : storage(&destroy_adopted), value(std::move(c)) {}

  static void destroy_adopted(storage* s) noexcept { delete static_cast<adopted_storage*>(s); }

  Container value;
};

}  // namespace

storage* allocate_storage(std::size_t capacity) {
  if (capacity > static_cast<std::size_t>(-1) - header_size) throw std::bad_alloc();
  void* memory = ::operator new(header_size + capacity);
  return ::new (memory) storage(&destroy_inline);
}

std::byte* storage_bytes(storage* s) noexcept {
  return reinterpret_cast<std::byte*>(s) + header_size;
}

}  // namespace detail

namespace {

// memcpy with a null pointer is undefined even for zero bytes, and empty buffers have null data.
void copy_bytes(std::byte* to, const std::byte* from, std::size_t n) noexcept {
  if (n != 0) std::memcpy(to, from, n);
}

std::span<const std::byte> as_bytes(std::string_view text) noexcept {
  return {reinterpret_cast<const std::byte*>(text.data()), text.size()};
}

// Joins a range of buffers whose sizes add up to `total`; shares instead when only one is
// non-empty, because buffers are immutable and a copy would buy nothing.
template <class It>
buffer join(It first, It last, std::size_t total) {
  if (total == 0) return {};
  for (It it = first; it != last; ++it) {
    if (it->size() == total) return *it;
    if (!it->empty()) break;
  }
  buffer_builder out(total);
  for (It it = first; it != last; ++it) out.append(it->bytes());
  return std::move(out).freeze();
}

}  // namespace

// ---- buffer ----

buffer buffer::copy_of(std::span<const std::byte> bytes) {
  if (bytes.empty()) return {};
  buffer_builder b(bytes.size());
  b.append(bytes);
  return std::move(b).freeze();
}

buffer buffer::copy_of(std::string_view text) { return copy_of(as_bytes(text)); }

buffer::buffer(std::string&& text) {
  if (text.empty()) return;
  auto* s = new detail::adopted_storage<std::string>(std::move(text));
  storage_ = s;
  data_ = reinterpret_cast<const std::byte*>(s->value.data());
  size_ = s->value.size();
}

buffer::buffer(std::vector<std::byte>&& bytes) {
  if (bytes.empty()) return;
  auto* s = new detail::adopted_storage<std::vector<std::byte>>(std::move(bytes));
  storage_ = s;
  data_ = s->value.data();
  size_ = s->value.size();
}

buffer buffer::slice(std::size_t offset, std::size_t length) const {
  if (offset > size_) throw std::out_of_range("sluice::buffer::slice: offset past the end");
  length = std::min(length, size_ - offset);
  if (length == 0) return {};
  if (length == size_) return *this;
  detail::retain(storage_);
  return buffer(storage_, data_ + offset, length);
}

bool operator==(const buffer& a, const buffer& b) noexcept {
  if (a.size() != b.size()) return false;
  if (a.data() == b.data() || a.empty()) return true;
  return std::memcmp(a.data(), b.data(), a.size()) == 0;
}

// ---- buffer_builder ----

buffer_builder::buffer_builder(std::size_t capacity) {
  if (capacity == 0) return;
  storage_ = detail::allocate_storage(capacity);
  data_ = detail::storage_bytes(storage_);
  capacity_ = capacity;
}

buffer_builder::buffer_builder(buffer_builder&& other) noexcept
    : storage_(std::exchange(other.storage_, nullptr)),
      data_(std::exchange(other.data_, nullptr)),
      size_(std::exchange(other.size_, 0)),
      capacity_(std::exchange(other.capacity_, 0)) {}

buffer_builder& buffer_builder::operator=(buffer_builder&& other) noexcept {
  if (this != &other) {
    detail::release(storage_);
    storage_ = std::exchange(other.storage_, nullptr);
    data_ = std::exchange(other.data_, nullptr);
    size_ = std::exchange(other.size_, 0);
    capacity_ = std::exchange(other.capacity_, 0);
  }
  return *this;
}

void buffer_builder::commit(std::size_t n) {
  if (n > capacity_ - size_) {
    throw std::out_of_range("sluice::buffer_builder::commit: more than the free space");
  }
  size_ += n;
}

void buffer_builder::reserve(std::size_t free_bytes) {
  if (free_bytes <= capacity_ - size_) return;
  constexpr std::size_t limit = static_cast<std::size_t>(-1);
  if (free_bytes > limit - size_) throw std::bad_alloc();
  const std::size_t needed = size_ + free_bytes;
  // Doubling keeps a run of small appends linear overall.
  const std::size_t doubled = capacity_ <= limit / 2 ? capacity_ * 2 : needed;
  const std::size_t wanted = std::max(needed, doubled);
  buffer_builder bigger(wanted);
  copy_bytes(bigger.data_, data_, size_);
  bigger.size_ = size_;
  *this = std::move(bigger);
}

void buffer_builder::append(std::span<const std::byte> bytes) {
  reserve(bytes.size());
  copy_bytes(data_ + size_, bytes.data(), bytes.size());
  size_ += bytes.size();
}

void buffer_builder::append(std::string_view text) { append(as_bytes(text)); }

buffer buffer_builder::freeze() && {
  buffer_builder taken(std::move(*this));
  if (taken.size_ == 0) return {};
  // The builder's reference becomes the buffer's.
  buffer result(std::exchange(taken.storage_, nullptr), taken.data_, taken.size_);
  return result;
}

// ---- buffer_list ----

void buffer_list::push_back(buffer b) {
  if (b.empty()) return;
  bytes_ += b.size();
  chunks_.push_back(std::move(b));
}

void buffer_list::push_front(buffer b) {
  if (b.empty()) return;
  bytes_ += b.size();
  chunks_.push_front(std::move(b));
}

void buffer_list::append(buffer_list other) {
  if (chunks_.empty()) {
    *this = std::move(other);
    return;
  }
  for (buffer& b : other.chunks_) chunks_.push_back(std::move(b));
  bytes_ += other.bytes_;
}

buffer buffer_list::pop_front() noexcept {
  assert(!chunks_.empty());
  buffer b = std::move(chunks_.front());
  chunks_.pop_front();
  bytes_ -= b.size();
  return b;
}

buffer_list buffer_list::slice(std::size_t offset, std::size_t length) const {
  if (offset > bytes_) throw std::out_of_range("sluice::buffer_list::slice: offset past the end");
  length = std::min(length, bytes_ - offset);
  buffer_list out;
  for (auto it = chunks_.begin(); it != chunks_.end() && length != 0; ++it) {
    if (offset >= it->size()) {
      offset -= it->size();
      continue;
    }
    std::size_t take = std::min(length, it->size() - offset);
    out.push_back(it->slice(offset, take));
    offset = 0;
    length -= take;
  }
  return out;
}

buffer_list buffer_list::consume(std::size_t n) {
  if (n >= bytes_) return std::exchange(*this, buffer_list{});
  buffer_list out;
  while (n != 0) {
    buffer& first = chunks_.front();
    if (first.size() <= n) {
      n -= first.size();
      out.push_back(pop_front());
    } else {
      out.push_back(first.slice(0, n));
      first = first.slice(n);
      bytes_ -= n;
      n = 0;
    }
  }
  return out;
}

buffer buffer_list::flatten() const { return join(chunks_.begin(), chunks_.end(), bytes_); }

std::string buffer_list::to_string() const {
  std::string out;
  out.reserve(bytes_);
  for (const buffer& b : chunks_) out += b.view();
  return out;
}

std::size_t buffer_list::fill_iovecs(std::span<::iovec> out, std::size_t first_chunk) const {
  if (first_chunk >= chunks_.size()) return 0;
  std::size_t n = std::min(out.size(), chunks_.size() - first_chunk);
  auto it = chunks_.begin() + static_cast<std::ptrdiff_t>(first_chunk);
  for (std::size_t i = 0; i < n; ++i, ++it) {
    // iovec is shared with readv, hence the non-const pointer; writev only reads through it.
    out[i].iov_base = const_cast<std::byte*>(it->data());
    out[i].iov_len = it->size();
  }
  return n;
}

buffer concat(std::span<const buffer> parts) {
  std::size_t total = 0;
  for (const buffer& b : parts) total += b.size();
  return join(parts.begin(), parts.end(), total);
}

}  // namespace sluice
