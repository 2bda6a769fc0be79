// file_reader and file_writer: every system call on the I/O pool, results back on the loop.
#include "sluice/io/file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include "file_util.hpp"
#include "sluice/core/detail/io_pool.hpp"
#include "sluice/core/error.hpp"
#include "sys.hpp"

namespace sluice {

namespace {

using detail::quoted;
using detail::sys_error;
namespace sys = detail::sys;

constexpr std::size_t default_read_size = 64 * 1024;

}  // namespace

// ---- file_reader ---------------------------------------------------------------------------

struct file_reader::read_result {
  buffer data;
  int err = 0;
  const char* op = "read";
  std::optional<std::uint64_t> size_at_end;  // at the end of a regular file, with fail_if_changed
};

file_reader::file_reader(sluice::loop& l, std::filesystem::path path, file_reader_options opts)
    : readable<buffer>(
          l, readable_options{.high_water_mark = opts.high_water_mark,
                              .name = opts.name.empty() ? path.string() : std::move(opts.name)}),
      path_(std::move(path)),
      start_(opts.start),
      end_(opts.end),
      read_size_(readable_high_water_mark() != 0 ? readable_high_water_mark() : default_read_size),
      fail_if_changed_(opts.fail_if_changed),
      pos_(opts.start) {
  if (end_ && *end_ < start_)
    throw std::system_error(make_error_code(errc::invalid_argument),
                            "file_reader: end is before start");
  use_construct();
}

file_reader::~file_reader() {
  if (fd_ >= 0) sys::close(fd_);  // never destroyed: reads hold the stream, so none is in flight
}

std::shared_ptr<file_reader> file_reader::self() {
  return std::dynamic_pointer_cast<file_reader>(shared_from_this());
}

std::optional<std::uint64_t> file_reader::expected_bytes() const noexcept {
  if (!size_) return std::nullopt;
  const std::uint64_t stop = end_ ? std::min(*size_, *end_ + 1) : *size_;
  return stop > start_ ? stop - start_ : 0;
}

void file_reader::do_construct(callback cb) {
  struct opened {
    int fd = -1;
    int err = 0;
    const char* op = "open";
    bool regular = false;
    std::uint64_t size = 0;
  };
  detail::run_blocking(
      detail::io_pool::shared(), get_loop(),
      [path = path_] {
        opened r;
        r.fd = sys::open(path.c_str(), O_RDONLY | O_CLOEXEC);
        if (r.fd < 0) {
          r.err = errno;
          return r;
        }
        // Without its type the reader cannot tell pread from read: a failure here is an error,
        // not a guess (a guess of "not a regular file" would ignore `start`).
        struct stat st {};
        if (sys::fstat(r.fd, &st) != 0) {
          r.err = errno;
          r.op = "stat";
          sys::close(std::exchange(r.fd, -1));
          return r;
        }
        if (S_ISREG(st.st_mode)) {
          r.regular = true;
          r.size = static_cast<std::uint64_t>(st.st_size);
        }
        return r;
      },
      [self = self(), cb = std::move(cb)](opened r) {
        if (r.err != 0) {
          self->fail(sys_error(r.err), quoted(r.op, self->path_));
          cb(sys_error(r.err));
          return;
        }
        self->fd_ = r.fd;
        self->seekable_ = r.regular;
        if (r.regular) self->size_ = r.size;
        cb({});
      });
}

void file_reader::do_read(std::size_t) {
  std::size_t n = read_size_;
  if (end_) {
    if (pos_ > *end_) {
      push_eof();
      return;
    }
    n = static_cast<std::size_t>(std::min<std::uint64_t>(n, *end_ - pos_ + 1));
  }
  // Do not allocate a full chunk for the tail of a file of known size (the read after it, which
  // finds the end or bytes appended since, gets a full one).
  if (size_ && pos_ < *size_)
    n = static_cast<std::size_t>(std::min<std::uint64_t>(n, *size_ - pos_));
  busy_ = true;
  detail::run_blocking(
      detail::io_pool::shared(), get_loop(),
      [fd = fd_, pos = pos_, seekable = seekable_, check = fail_if_changed_ && size_.has_value(), n,
       b = buffer_builder(n)]() mutable {
        read_result r;
        // EINTR is retried inside; a short read is just fewer bytes (the next read goes on).
        const ssize_t got = seekable
                                ? sys::pread(fd, b.free_space().data(), n, static_cast<off_t>(pos))
                                : sys::read(fd, b.free_space().data(), n);
        struct stat st {};
        if (got == 0 && check) {
          // The check was asked for: a size we cannot read is an error, not a pass.
          if (sys::fstat(fd, &st) != 0) {
            r.err = errno;
            r.op = "stat";
            return r;
          }
          r.size_at_end = static_cast<std::uint64_t>(st.st_size);
        }
        if (got < 0) {
          r.err = errno;
        } else {
          b.commit(static_cast<std::size_t>(got));
          r.data = std::move(b).freeze();
        }
        return r;
      },
      [self = self()](read_result r) { self->on_read(std::move(r)); });
}

void file_reader::on_read(read_result r) {
  busy_ = false;
  if (destroy_ec_) {
    const std::error_code ec = *destroy_ec_;
    destroy_ec_.reset();
    close_file(ec, std::move(destroy_cb_));
    return;
  }
  if (destroyed()) return;
  if (r.err != 0) {
    fail(sys_error(r.err), quoted(r.op, path_));
    return;
  }
  if (r.data.empty()) {
    if (r.size_at_end) {
      if (auto changed = detail::source_change(path_, *size_, *r.size_at_end, pos_, "read")) {
        fail(make_error_code(errc::source_changed), std::move(*changed));
        return;
      }
    }
    push_eof();
    return;
  }
  pos_ += r.data.size();
  bytes_read_ += r.data.size();
  const bool range_done = end_ && pos_ > *end_;
  push(std::move(r.data));
  if (range_done && !destroyed()) push_eof();
}

void file_reader::do_destroy(std::error_code ec, callback cb) {
  if (busy_) {  // never close an fd a pool thread is reading: its number could be reused
    destroy_ec_ = ec;
    destroy_cb_ = std::move(cb);
    return;
  }
  close_file(ec, std::move(cb));
}

void file_reader::close_file(std::error_code ec, callback cb) {
  if (fd_ < 0) {
    cb(ec);
    return;
  }
  // On the pool too: the last close of a file unlinked meanwhile frees its blocks, which can take
  // a while for a big file. Errors are ignored: nothing was written, so nothing can be lost.
  detail::run_blocking(
      detail::io_pool::shared(), get_loop(),
      [fd = std::exchange(fd_, -1)] { return sys::close(fd); },
      [self = self(), ec, cb = std::move(cb)](int) { cb(ec); });
}

std::shared_ptr<file_reader> make_file_reader(sluice::loop& l, std::filesystem::path path,
                                              file_reader_options opts) {
  return std::make_shared<file_reader>(l, std::move(path), std::move(opts));
}

// ---- file_writer ---------------------------------------------------------------------------

struct file_writer::write_result {
  std::uint64_t written = 0;
  std::uint64_t calls = 0;
  int err = 0;
};

file_writer::file_writer(sluice::loop& l, std::filesystem::path path, file_writer_options opts)
    : writable<buffer>(l, writable_options{.high_water_mark = opts.high_water_mark,
                                           .name = opts.name.empty() ? path.string() : opts.name}),
      path_(std::move(path)),
      opts_(std::move(opts)) {
  if (opts_.atomic && opts_.flags == open_mode::append)
    throw std::system_error(make_error_code(errc::invalid_argument),
                            "file_writer: atomic cannot be combined with open_mode::append");
  use_construct();
}

file_writer::~file_writer() {
  // Only reached without destroy() (which the pool jobs would have kept us alive for): last resort.
  if (dest_) detail::discard_destination(*dest_);
}

std::shared_ptr<file_writer> file_writer::self() {
  return std::dynamic_pointer_cast<file_writer>(shared_from_this());
}

std::string file_writer::describe(const char* op) const { return quoted(op, path_); }

void file_writer::do_construct(callback cb) {
  struct opened {
    std::shared_ptr<detail::destination> dest = std::make_shared<detail::destination>();
    int err = 0;
    const char* op = "open";
  };
  detail::run_blocking(
      detail::io_pool::shared(), get_loop(),
      [path = path_, o = opts_] {
        opened r;
        struct stat source {};
        if (o.metadata_from && sys::stat(o.metadata_from->c_str(), &source) != 0) {
          r.err = errno;
          r.op = "stat";
          return r;
        }
        r.err = detail::open_destination(path,
                                         {.flags = o.flags,
                                          .mode = o.mode,
                                          .atomic = o.atomic,
                                          .source = o.metadata_from ? &source : nullptr},
                                         *r.dest);
        return r;
      },
      [self = self(), cb = std::move(cb)](opened r) {
        if (r.err != 0) {
          const bool stat_failed = std::string_view(r.op) == "stat";
          self->fail(sys_error(r.err), stat_failed ? quoted("stat", *self->opts_.metadata_from)
                                                   : self->describe("open"));
          cb(sys_error(r.err));
          return;
        }
        self->fd_ = r.dest->fd;
        self->seekable_ = r.dest->seekable;
        self->temp_path_ = r.dest->temp;
        self->dest_ = std::move(r.dest);
        cb({});
      });
}

void file_writer::do_write(buffer&& chunk, write_callback cb) {
  std::vector<buffer> one;
  one.push_back(std::move(chunk));
  write_chunks(std::move(one), cb);
}

bool file_writer::do_writev(std::vector<buffer>& chunks, write_callback cb) {
  write_chunks(std::move(chunks), cb);
  return true;
}

void file_writer::write_chunks(std::vector<buffer> chunks, write_callback cb) {
  busy_ = true;
  ++write_batches_;
  const bool append = opts_.flags == open_mode::append || !seekable_;
  detail::run_blocking(
      detail::io_pool::shared(), get_loop(),
      [fd = fd_, pos = pos_, append, chunks = std::move(chunks)]() mutable {
        write_result r;
        std::vector<::iovec> iov;
        iov.reserve(chunks.size());
        for (const buffer& b : chunks)
          if (!b.empty())
            iov.push_back({const_cast<std::byte*>(b.data()), b.size()});  // NOLINT: iovec is C
        std::size_t i = 0;
        while (i < iov.size()) {
          const int count = static_cast<int>(std::min<std::size_t>(iov.size() - i, IOV_MAX));
          // EINTR is retried inside; EAGAIN (never expected: nothing is opened non-blocking) is
          // an error like any other.
          const ssize_t n = append ? sys::writev(fd, &iov[i], count)
                                   : sys::pwritev(fd, &iov[i], count, static_cast<off_t>(pos));
          ++r.calls;
          if (n <= 0) {
            r.err = n < 0 ? errno : EIO;
            break;
          }
          r.written += static_cast<std::uint64_t>(n);
          pos += static_cast<std::uint64_t>(n);
          // A short write: skip what went out, resume mid-chunk.
          auto left = static_cast<std::size_t>(n);
          while (i < iov.size() && left >= iov[i].iov_len) left -= iov[i++].iov_len;
          if (left != 0) {
            iov[i].iov_base = static_cast<char*>(iov[i].iov_base) + left;
            iov[i].iov_len -= left;
          }
        }
        return r;
      },
      [self = self(), cb](write_result r) { self->on_written(r, cb); });
}

void file_writer::on_written(const write_result& r, write_callback cb) {
  busy_ = false;
  pos_ += r.written;
  bytes_written_ += r.written;
  write_syscalls_ += r.calls;
  if (r.err != 0) {
    fail(sys_error(r.err), describe("write"));
    cb(sys_error(r.err));
  } else {
    cb();
  }
  if (destroy_ec_ && !busy_) {
    const std::error_code ec = *destroy_ec_;
    destroy_ec_.reset();
    release_file(ec, std::move(destroy_cb_));
  }
}

void file_writer::do_final(callback cb) {
  busy_ = true;
  detail::run_blocking(
      detail::io_pool::shared(), get_loop(),
      [dest = std::move(dest_), sync = opts_.sync_on_finish,
       exclusive = opts_.flags == open_mode::exclusive] {
        return detail::finish_destination(*dest, sync, exclusive);
      },
      [self = self(), cb = std::move(cb)](detail::finish_result r) {
        self->busy_ = false;
        self->fd_ = -1;
        self->temp_path_.clear();  // renamed or removed
        if (r.err != 0) {
          self->fail(sys_error(r.err), self->describe(r.op));
          cb(sys_error(r.err));
        } else {
          cb({});
        }
        if (self->destroy_ec_) {
          const std::error_code ec = *self->destroy_ec_;
          self->destroy_ec_.reset();
          self->release_file(ec, std::move(self->destroy_cb_));
        }
      });
}

void file_writer::do_destroy(std::error_code ec, callback cb) {
  if (busy_) {  // the call in flight uses the fd: close it once that call is back
    destroy_ec_ = ec;
    destroy_cb_ = std::move(cb);
    return;
  }
  release_file(ec, std::move(cb));
}

void file_writer::release_file(std::error_code ec, callback cb) {
  if (!dest_) {
    cb(ec);
    return;
  }
  fd_ = -1;
  detail::run_blocking(
      detail::io_pool::shared(), get_loop(),
      [dest = std::move(dest_)] {
        // Finished or not, an abandoned atomic write leaves nothing under any name.
        detail::discard_destination(*dest);
        return 0;
      },
      [self = self(), ec, cb = std::move(cb)](int) {
        self->temp_path_.clear();
        cb(ec);
      });
}

std::shared_ptr<file_writer> make_file_writer(sluice::loop& l, std::filesystem::path path,
                                              file_writer_options opts) {
  return std::make_shared<file_writer>(l, std::move(path), std::move(opts));
}

}  // namespace sluice
