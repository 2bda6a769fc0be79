// fd_reader / fd_writer: blocking read(2)/writev(2) on a thread of their own, results posted back.
#include "sluice/io/stdio.hpp"

#include <poll.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <utility>

#include "sluice/core/detail/io_pool.hpp"
#include "sys.hpp"

namespace sluice {

namespace {

constexpr std::size_t default_chunk = 64 * 1024;

std::error_code sys_error(int err) { return {err, std::system_category()}; }

std::string fd_name(const std::string& given, int fd) {
  return given.empty() ? "fd " + std::to_string(fd) : given;
}

// "<op> '<name>'". Built with append: GCC 12 warns falsely (-Wrestrict) on chained operator+.
std::string quoted(const char* op, const std::string& name) {
  std::string s(op);
  s.append(" '").append(name).append("'");
  return s;
}

// A descriptor someone else made non-blocking: wait until it is ready instead of spinning.
void wait_ready(int fd, short events) {
  ::pollfd p{fd, events, 0};
  while (::poll(&p, 1, -1) < 0 && errno == EINTR) {
  }
}

std::unique_ptr<detail::io_pool> own_thread() {
  // Detached when the stream goes: a read from a terminal may never return.
  return std::make_unique<detail::io_pool>(1, detail::io_pool::on_destroy::detach);
}

}  // namespace

bool is_broken_pipe(std::error_code ec) noexcept { return ec == std::errc::broken_pipe; }

// ---- fd_reader -----------------------------------------------------------------------------

struct fd_reader::read_result {
  buffer data;
  int err = 0;
};

fd_reader::fd_reader(sluice::loop& l, int fd, fd_stream_options opts)
    : readable<buffer>(l, readable_options{.high_water_mark = opts.high_water_mark,
                                           .name = fd_name(opts.name, fd)}),
      fd_(fd),
      read_size_(readable_high_water_mark() != 0 ? readable_high_water_mark() : default_chunk),
      handoff_(std::make_shared<detail::loop_handoff>(l)) {}

fd_reader::~fd_reader() { handoff_->abandon(); }

void fd_reader::do_read(std::size_t) {
  if (!thread_) thread_ = own_thread();
  handoff_->begin();
  // The job holds the stream weakly: if the stream goes while a read is blocked, nothing of it
  // may be released on the reading thread.
  std::weak_ptr<fd_reader> weak = std::dynamic_pointer_cast<fd_reader>(shared_from_this());
  thread_->submit([fd = fd_, n = read_size_, b = buffer_builder(read_size_), handoff = handoff_,
                   weak = std::move(weak)]() mutable {
    read_result r;
    for (;;) {  // EINTR is retried inside; EAGAIN waits here
      const ssize_t got = detail::sys::read(fd, b.free_space().data(), n);
      if (got >= 0) {
        b.commit(static_cast<std::size_t>(got));
        r.data = std::move(b).freeze();
        break;
      }
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        wait_ready(fd, POLLIN);
      } else {
        r.err = errno;
        break;
      }
    }
    handoff->deliver([weak = std::move(weak), r = std::move(r)]() mutable {
      if (auto self = weak.lock()) self->on_read(std::move(r));
    });
  });
}

void fd_reader::on_read(read_result r) {
  if (destroyed()) return;
  if (r.err != 0) {
    fail(sys_error(r.err), quoted("read", name()));
    return;
  }
  if (r.data.empty()) {
    push_eof();
    return;
  }
  bytes_read_ += r.data.size();
  push(std::move(r.data));
}

void fd_reader::do_destroy(std::error_code ec, callback cb) {
  // A read still blocked (a terminal, a silent pipe) is abandoned: the loop stops waiting for it
  // and whatever it returns is dropped.
  handoff_->abandon();
  cb(ec);
}

std::shared_ptr<fd_reader> make_fd_reader(sluice::loop& l, int fd, fd_stream_options opts) {
  return std::make_shared<fd_reader>(l, fd, std::move(opts));
}

std::shared_ptr<fd_reader> make_stdin(sluice::loop& l, fd_stream_options opts) {
  if (opts.name.empty()) opts.name = "<stdin>";
  return make_fd_reader(l, STDIN_FILENO, std::move(opts));
}

// ---- fd_writer -----------------------------------------------------------------------------

struct fd_writer::write_result {
  std::uint64_t written = 0;
  std::uint64_t calls = 0;
  int err = 0;
};

fd_writer::fd_writer(sluice::loop& l, int fd, fd_stream_options opts)
    : writable<buffer>(l, writable_options{.high_water_mark = opts.high_water_mark,
                                           .name = fd_name(opts.name, fd)}),
      fd_(fd),
      handoff_(std::make_shared<detail::loop_handoff>(l)) {}

fd_writer::~fd_writer() { handoff_->abandon(); }

void fd_writer::do_write(buffer&& chunk, write_callback cb) {
  std::vector<buffer> one;
  one.push_back(std::move(chunk));
  write_chunks(std::move(one), cb);
}

bool fd_writer::do_writev(std::vector<buffer>& chunks, write_callback cb) {
  write_chunks(std::move(chunks), cb);
  return true;
}

void fd_writer::write_chunks(std::vector<buffer> chunks, write_callback cb) {
  if (!thread_) thread_ = own_thread();
  handoff_->begin();
  busy_ = true;
  // Unlike a read, a write is never abandoned (its callback must run), so the job may hold the
  // stream strongly; the reference travels back inside the delivered task.
  auto self = std::dynamic_pointer_cast<fd_writer>(shared_from_this());
  thread_->submit([fd = fd_, chunks = std::move(chunks), handoff = handoff_, self = std::move(self),
                   cb]() mutable {
    write_result r;
    std::vector<::iovec> iov;
    iov.reserve(chunks.size());
    for (const buffer& b : chunks)
      if (!b.empty()) iov.push_back({const_cast<std::byte*>(b.data()), b.size()});
    std::size_t i = 0;
    while (i < iov.size()) {
      const int count = static_cast<int>(std::min<std::size_t>(iov.size() - i, IOV_MAX));
      const ssize_t n = detail::sys::writev(fd, &iov[i], count);  // EINTR is retried inside
      if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
          wait_ready(fd, POLLOUT);
          continue;
        }
        ++r.calls;
        r.err = errno;
        break;
      }
      ++r.calls;
      r.written += static_cast<std::uint64_t>(n);
      auto left = static_cast<std::size_t>(n);
      while (i < iov.size() && left >= iov[i].iov_len) left -= iov[i++].iov_len;
      if (left != 0) {
        iov[i].iov_base = static_cast<char*>(iov[i].iov_base) + left;
        iov[i].iov_len -= left;
      }
    }
    chunks.clear();  // release the bytes now, not when the loop gets to the result
    handoff->deliver([self = std::move(self), r, cb] { self->on_written(r, cb); });
  });
}

void fd_writer::on_written(const write_result& r, write_callback cb) {
  busy_ = false;
  bytes_written_ += r.written;
  write_syscalls_ += r.calls;
  if (r.err != 0) {
    fail(sys_error(r.err), quoted("write", name()));
    cb(sys_error(r.err));
  } else {
    cb();
  }
  if (destroy_cb_ && !busy_) {
    callback done = std::move(destroy_cb_);
    destroy_cb_ = nullptr;
    done(destroy_ec_);
  }
}

void fd_writer::do_destroy(std::error_code ec, callback cb) {
  if (busy_) {  // the write in flight completes first, so its callback still runs once
    destroy_ec_ = ec;
    destroy_cb_ = std::move(cb);
    return;
  }
  cb(ec);
}

std::shared_ptr<fd_writer> make_fd_writer(sluice::loop& l, int fd, fd_stream_options opts) {
  return std::make_shared<fd_writer>(l, fd, std::move(opts));
}

std::shared_ptr<fd_writer> make_stdout(sluice::loop& l, fd_stream_options opts) {
  if (opts.name.empty()) opts.name = "<stdout>";
  return make_fd_writer(l, STDOUT_FILENO, std::move(opts));
}

std::shared_ptr<fd_writer> make_stderr(sluice::loop& l, fd_stream_options opts) {
  if (opts.name.empty()) opts.name = "<stderr>";
  return make_fd_writer(l, STDERR_FILENO, std::move(opts));
}

}  // namespace sluice
