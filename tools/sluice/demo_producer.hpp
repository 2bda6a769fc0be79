// tools/sluice/demo_producer.hpp: the producer of the demos (demo.cpp, demo_http.cpp).
//
// It reads a file with read(2) on the loop thread, the fastest a producer can be, and writes each
// chunk into a writable. Respecting backpressure, it stops when write() returns false and goes on
// at 'drain'; ignoring it, it writes every chunk at once, and whatever the writable cannot take
// yet waits in its queue.
#pragma once

#include <unistd.h>

#include <cerrno>
#include <memory>
#include <utility>

#include "sluice/core/buffer.hpp"
#include "sluice/core/writable.hpp"

namespace sluice::cli {

inline constexpr std::size_t chunk_size = 64 * 1024;

// Reads `fd` in chunks and writes them into `dest`, pausing for 'drain' when asked to.
class producer : public std::enable_shared_from_this<producer> {
 public:
  producer(int fd, std::shared_ptr<writable<buffer>> dest, bool respect)
      : fd_(fd), dest_(std::move(dest)), respect_(respect) {}

  // Returns false (with errno set) if a read failed.
  bool run() {
    for (;;) {
      buffer_builder b(chunk_size);
      ssize_t n;
      do {
        n = ::read(fd_, b.free_space().data(), b.free_space().size());
      } while (n < 0 && errno == EINTR);
      if (n < 0) return false;
      if (n == 0) {
        dest_->end();
        return true;
      }
      b.commit(static_cast<std::size_t>(n));
      const bool more = dest_->write(std::move(b).freeze());
      if (!more && respect_) {
        dest_->once_drain([self = shared_from_this()] { self->run(); });
        return true;
      }
    }
  }

 private:
  int fd_;
  std::shared_ptr<writable<buffer>> dest_;
  bool respect_;
};

}  // namespace sluice::cli
