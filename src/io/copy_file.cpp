// copy_file: copy_file_range(2) in slices on the I/O pool, pread/pwrite where the kernel refuses.
#include "sluice/io/copy_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <string>
#include <string_view>
#include <utility>

#include "file_util.hpp"
#include "sluice/core/detail/io_pool.hpp"
#include "sluice/core/error.hpp"
#include "sys.hpp"

namespace sluice {

namespace {

using detail::quoted;
using detail::sys_error;
namespace sys = detail::sys;

constexpr std::size_t bounce_size = 1u << 20;

// Errors with which copy_file_range(2) says "not between these two files" rather than "the copy
// failed": the data can still be copied by reading and writing it.
bool kernel_copy_refused(int err) {
  return err == EXDEV || err == EINVAL || err == ENOSYS || err == EOPNOTSUPP || err == EBADF ||
         err == ETXTBSY;
}

}  // namespace

struct file_copy::opened {
  int in = -1;
  std::shared_ptr<detail::destination> dest = std::make_shared<detail::destination>();
  int err = 0;
  std::string context;
  std::optional<std::uint64_t> size;
  bool regular = false;
};

struct file_copy::slice_result {
  std::uint64_t bytes = 0;
  bool eof = false;
  std::optional<std::uint64_t> size_at_end;  // with fail_if_changed, at the end of a regular file
  bool fallback = false;
  int err = 0;
  const char* op = "";  // "read", "stat" (the source), "write" or "copy"
};

file_copy::file_copy(sluice::loop& l, std::filesystem::path from, std::filesystem::path to,
                     copy_file_options opts, done_fn done)
    : loop_(l), from_(std::move(from)), to_(std::move(to)), opts_(opts), done_(std::move(done)) {
  if (opts_.atomic && opts_.flags == open_mode::append)
    throw std::system_error(make_error_code(errc::invalid_argument),
                            "copy_file: atomic cannot be combined with open_mode::append");
  if (opts_.slice == 0)
    throw std::system_error(make_error_code(errc::invalid_argument),
                            "copy_file: slice must be at least one byte");
}

file_copy::~file_copy() {
  // Only reached with descriptors open if the loop went away mid-copy: last resort.
  if (in_ >= 0) sys::close(in_);
  if (dest_) detail::discard_destination(*dest_);
}

std::string file_copy::error_message() const {
  if (!error_) return {};
  return error_context_.empty() ? error_.message() : error_context_ + ": " + error_.message();
}

void file_copy::start() {
  if (started_) return;
  started_ = true;
  detail::run_blocking(
      detail::io_pool::shared(), loop_,
      [from = from_, to = to_, o = opts_] {
        opened r;
        r.in = sys::open(from.c_str(), O_RDONLY | O_CLOEXEC);
        struct stat src {};
        if (r.in < 0 || sys::fstat(r.in, &src) != 0) {
          r.err = errno;
          r.context = quoted(r.in < 0 ? "open" : "stat", from);
          return r;
        }
        r.regular = S_ISREG(src.st_mode);
        if (r.regular) r.size = static_cast<std::uint64_t>(src.st_size);
        // Copying a file onto itself would truncate it before reading it (cp refuses too). A
        // destination that cannot be looked at (other than "does not exist") is not assumed to
        // be another file: the open below would truncate it.
        struct stat dst {};
        if (sys::stat(to.c_str(), &dst) != 0) {
          if (errno != ENOENT) {
            r.err = errno;
            r.context = quoted("open", to);
            return r;
          }
        } else if (dst.st_dev == src.st_dev && dst.st_ino == src.st_ino) {
          r.err = EINVAL;
          r.context =
              quoted("copy", from).append(" to '").append(to.native()).append("' (the same file)");
          return r;
        }
        const unsigned mode = o.mode.value_or(r.regular ? (src.st_mode & 07777) : 0666);
        r.err = detail::open_destination(to, {.flags = o.flags, .mode = mode, .atomic = o.atomic},
                                         *r.dest);
        if (r.err != 0) r.context = quoted("open", to);
        return r;
      },
      [self = shared_from_this()](opened r) { self->on_opened(std::move(r)); });
}

void file_copy::on_opened(opened r) {
  in_ = r.in;
  if (r.err == 0) {
    out_ = r.dest->fd;
    out_seekable_ = r.dest->seekable;
    dest_ = std::move(r.dest);
  }
  size_ = r.size;
  // The kernel copy needs explicit offsets in both files: not for sources or destinations
  // without a position (pipes, devices), nor for a destination opened to append. A regular file
  // of size 0 is either empty (nothing to gain) or a pseudo-file (/proc, /sys) whose content the
  // kernel copy would not see.
  fallback_ =
      !r.regular || r.size.value_or(0) == 0 || opts_.flags == open_mode::append || !out_seekable_;
  if (r.err != 0) {
    fail(sys_error(r.err), std::move(r.context));
  } else if (cancelled_) {
    fail(make_error_code(errc::aborted), {});
  } else {
    next_slice();
  }
}

void file_copy::next_slice() {
  if (fallback_ && bounce_.empty()) bounce_.resize(bounce_size);
  detail::run_blocking(
      detail::io_pool::shared(), loop_,
      [in = in_, out = out_, pos = copied_, slice = opts_.slice, fallback = fallback_,
       append = opts_.flags == open_mode::append || !out_seekable_, regular = size_.has_value(),
       check = opts_.fail_if_changed && size_.has_value(), buf = bounce_.data(),
       cap = bounce_.size()]() mutable {
        slice_result r;
        // At the end of a regular source, its size then, to compare with its size at the start.
        // The check was asked for: a size that cannot be read is an error, not a pass.
        const auto at_end = [&] {
          struct stat st {};
          if (check && sys::fstat(in, &st) != 0) {
            r.err = errno;
            r.op = "stat";
            return r;
          }
          if (check) r.size_at_end = static_cast<std::uint64_t>(st.st_size);
          r.eof = true;
          return r;
        };
        auto in_off = static_cast<off_t>(pos);
        auto out_off = static_cast<off_t>(pos);
        while (!fallback && r.bytes < slice) {
          const ssize_t n = sys::copy_file_range(in, &in_off, out, &out_off, slice - r.bytes);
          if (n < 0 && kernel_copy_refused(errno)) {
            r.fallback = fallback = true;  // carry on below, from where the kernel stopped
            break;
          }
          if (n < 0) {
            r.err = errno;
            r.op = "copy";
            return r;
          }
          if (n == 0) return at_end();
          r.bytes += static_cast<std::uint64_t>(n);
        }
        if (fallback && cap == 0) return r;  // the buffer is allocated for the next slice
        while (fallback && r.bytes < slice) {
          const std::size_t want = std::min<std::uint64_t>(cap, slice - r.bytes);
          const ssize_t got = regular ? sys::pread(in, buf, want, static_cast<off_t>(pos + r.bytes))
                                      : sys::read(in, buf, want);
          if (got < 0) {
            r.err = errno;
            r.op = "read";
            return r;
          }
          if (got == 0) return at_end();
          std::size_t done = 0;
          while (done < static_cast<std::size_t>(got)) {
            const std::size_t left = static_cast<std::size_t>(got) - done;
            const ssize_t w = append ? sys::write(out, buf + done, left)
                                     : sys::pwrite(out, buf + done, left,
                                                   static_cast<off_t>(pos + r.bytes + done));
            if (w <= 0) {
              r.err = w < 0 ? errno : EIO;
              r.op = "write";
              r.bytes += done;
              return r;
            }
            done += static_cast<std::size_t>(w);
          }
          r.bytes += done;
        }
        return r;
      },
      [self = shared_from_this()](slice_result r) { self->on_slice(r); });
}

void file_copy::on_slice(const slice_result& r) {
  copied_ += r.bytes;
  ++slices_;
  fallback_ = fallback_ || r.fallback;
  if (r.err != 0) {
    // copy_file_range(2) does not say which side failed: name both.
    const std::string_view op = r.op;
    std::string context = quoted(r.op, op == "write" ? to_ : from_);
    if (op == "copy") context.append(" to '").append(to_.native()).append("'");
    fail(sys_error(r.err), std::move(context));
  } else if (cancelled_) {
    fail(make_error_code(errc::aborted), {});
  } else if (auto changed = r.size_at_end ? detail::source_change(from_, *size_, *r.size_at_end,
                                                                  copied_, "copied")
                                          : std::nullopt) {
    fail(make_error_code(errc::source_changed), std::move(*changed));
  } else if (r.eof) {
    finish();
  } else {
    next_slice();
  }
}

void file_copy::finish() {
  detail::run_blocking(
      detail::io_pool::shared(), loop_,
      [in = std::exchange(in_, -1), dest = std::move(dest_), sync = opts_.sync_on_finish,
       exclusive = opts_.flags == open_mode::exclusive] {
        sys::close(in);  // read only: nothing to lose
        return detail::finish_destination(*dest, sync, exclusive);
      },
      [self = shared_from_this()](detail::finish_result r) {
        self->out_ = -1;
        if (r.err != 0) {
          self->error_context_ = quoted(r.op, self->to_);
          self->complete(sys_error(r.err));
        } else {
          self->complete({});
        }
      });
}

void file_copy::cancel() {
  if (!completed_) cancelled_ = true;
}

void file_copy::fail(std::error_code ec, std::string context) {
  error_context_ = std::move(context);
  // Close both files and remove the temporary: an atomic copy leaves nothing behind.
  detail::run_blocking(
      detail::io_pool::shared(), loop_,
      [in = std::exchange(in_, -1), dest = std::move(dest_)] {
        if (in >= 0) sys::close(in);
        if (dest) detail::discard_destination(*dest);
        return 0;
      },
      [self = shared_from_this(), ec](int) {
        self->out_ = -1;
        self->complete(ec);
      });
}

void file_copy::complete(std::error_code ec) {
  completed_ = true;
  error_ = ec;
  if (!ec) error_context_.clear();
  if (auto done = std::exchange(done_, nullptr)) done(ec);
}

std::shared_ptr<file_copy> copy_file(sluice::loop& l, std::filesystem::path from,
                                     std::filesystem::path to, copy_file_options opts,
                                     file_copy::done_fn done) {
  auto c = std::make_shared<file_copy>(l, std::move(from), std::move(to), opts, std::move(done));
  c->start();
  return c;
}

}  // namespace sluice
