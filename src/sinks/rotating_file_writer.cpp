// rotating_file_writer: a file rotated by size at chunk boundaries. Each write runs as jobs on the
// I/O pool, one at a time, each doing at most one rotation (close, shift, rename, open) followed
// by the chunks that fit; the rotated file is then gzipped by a sluice pipeline while writing
// goes on.
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <system_error>

#include "sluice/codec/gzip.hpp"
#include "sluice/compose/pipeline.hpp"
#include "sluice/core/detail/io_pool.hpp"
#include "sluice/io/file.hpp"
#include "sluice/sinks/log_writer.hpp"

namespace sluice {

namespace {

std::error_code sys_error(int err) { return {err, std::system_category()}; }

std::string quoted(std::string_view op, const std::filesystem::path& p) {
  return std::string(op) + " '" + p.string() + "'";
}

// What a job needs to know about the files (a copy: jobs run on a pool thread).
struct file_plan {
  std::filesystem::path path;
  unsigned keep = 0;
  unsigned mode = 0644;
  [[nodiscard]] std::filesystem::path rotated(unsigned i, bool gz) const {
    std::string s = path.string() + "." + std::to_string(i);
    if (gz) s += ".gz";
    return s;
  }
};

struct opened {
  int fd = -1;
  int err = 0;
  std::uint64_t size = 0;
};

opened open_file(const file_plan& p) {
  opened r;
  do {
    r.fd = ::open(p.path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, p.mode);
  } while (r.fd < 0 && errno == EINTR);
  if (r.fd < 0) {
    r.err = errno;
    return r;
  }
  struct stat st {};
  if (::fstat(r.fd, &st) != 0) {
    r.err = errno;
    ::close(r.fd);
    r.fd = -1;
    return r;
  }
  r.size = static_cast<std::uint64_t>(st.st_size);
  return r;
}

// An unlink or rename of a file that may not exist (rotated files are shifted as far as they go).
int tolerate_missing(int rc) { return rc == 0 || errno == ENOENT ? 0 : errno; }

}  // namespace

struct rotating_file_writer::job_result {
  int fd = -1;
  int err = 0;
  std::string context;        // what failed, when err != 0
  bool rotated = false;       // the job rotated the file first
  std::uint64_t written = 0;  // bytes written to the (new) file
  std::size_t chunks = 0;     // chunks written completely
};

namespace {

// Close, shift path.<i> to path.<i+1> (dropping path.<keep>), rename path to path.1, reopen.
void rotate(const file_plan& p, int& fd, int& err, std::string& context) {
  if (fd >= 0) ::close(fd);
  fd = -1;
  if (p.keep == 0) {
    if ((err = tolerate_missing(::unlink(p.path.c_str()))) != 0) context = quoted("remove", p.path);
  } else {
    for (unsigned i = p.keep; i >= 1 && err == 0; --i) {
      for (const bool gz : {false, true}) {
        const auto from = p.rotated(i, gz);
        if (i == p.keep) {
          if ((err = tolerate_missing(::unlink(from.c_str()))) != 0)
            context = quoted("remove", from);
        } else {
          const auto to = p.rotated(i + 1, gz);
          if ((err = tolerate_missing(::rename(from.c_str(), to.c_str()))) != 0)
            context = quoted("rename", from) + " to '" + to.string() + "'";
        }
        if (err != 0) break;
      }
    }
    // (A current file someone else removed is no error: there is nothing to keep.)
    if (err == 0 &&
        (err = tolerate_missing(::rename(p.path.c_str(), p.rotated(1, false).c_str()))) != 0) {
      context = quoted("rename", p.path) + " to '" + p.rotated(1, false).string() + "'";
    }
  }
  if (err != 0) return;
  const opened o = open_file(p);
  fd = o.fd;
  if ((err = o.err) != 0) context = quoted("open", p.path);
}

struct written {
  int err = 0;
  std::uint64_t bytes = 0;
  std::size_t chunks = 0;  // written completely
};

// Writes every chunk with writev(2), retrying partial writes and EINTR.
written write_all(int fd, const std::vector<buffer>& chunks) {
  written r;
  std::size_t i = 0;
  std::size_t offset = 0;  // into chunks[i]
  while (i < chunks.size()) {
    iovec iov[64];
    int n = 0;
    std::size_t asked = 0;
    for (std::size_t k = i; k < chunks.size() && n < 64; ++k, ++n) {
      const std::size_t skip = k == i ? offset : 0;
      iov[n].iov_base = const_cast<std::byte*>(chunks[k].data() + skip);
      iov[n].iov_len = chunks[k].size() - skip;
      asked += iov[n].iov_len;
    }
    const ssize_t w = ::writev(fd, iov, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      r.err = errno;
      return r;
    }
    if (w == 0 && asked != 0) {  // no progress with bytes left: never spin
      r.err = EIO;
      return r;
    }
    r.bytes += static_cast<std::uint64_t>(w);
    auto left = static_cast<std::size_t>(w);
    while (i < chunks.size() && left >= chunks[i].size() - offset) {
      left -= chunks[i].size() - offset;
      offset = 0;
      ++i;
      ++r.chunks;
    }
    offset += left;
  }
  return r;
}

}  // namespace

rotating_file_writer::rotating_file_writer(sluice::loop& l, rotating_file_options opts)
    : writable<buffer>(l, {.high_water_mark = opts.high_water_mark,
                           .name = opts.name.empty() ? opts.path.string() : opts.name}),
      opts_(std::move(opts)) {
  if (opts_.path.empty())
    throw std::system_error(make_error_code(errc::invalid_argument), "rotating_file_writer path");
  use_construct();
}

rotating_file_writer::~rotating_file_writer() {
  if (fd_ >= 0) ::close(fd_);
}

std::shared_ptr<rotating_file_writer> rotating_file_writer::self() {
  return std::dynamic_pointer_cast<rotating_file_writer>(shared_from_this());
}

std::filesystem::path rotating_file_writer::rotated(unsigned i, bool gz) const {
  return file_plan{opts_.path, opts_.keep, opts_.mode}.rotated(i, gz);
}

void rotating_file_writer::do_construct(callback cb) {
  job_running_ = true;
  detail::run_blocking(
      detail::io_pool::shared(), get_loop(),
      [plan = file_plan{opts_.path, opts_.keep, opts_.mode}] { return open_file(plan); },
      [self = self(), cb = std::move(cb)](opened r) {
        self->job_running_ = false;
        self->fd_ = r.fd;
        self->size_ = r.size;
        if (r.err != 0) {
          self->fail(sys_error(r.err), quoted("open", self->opts_.path));
          cb(sys_error(r.err));
        } else {
          cb({});
        }
        self->settle();
      });
}

void rotating_file_writer::do_write(buffer&& chunk, write_callback cb) {
  std::vector<buffer> one;
  one.push_back(std::move(chunk));
  do_writev(one, std::move(cb));
}

bool rotating_file_writer::do_writev(std::vector<buffer>& chunks, write_callback cb) {
  pending_ = std::move(chunks);
  next_ = 0;
  pending_cb_ = std::move(cb);
  write_pending_ = true;
  step();
  return true;
}

// Starts the next job of the write in flight: a rotation if the next chunk does not fit (once no
// gzip is running: it reads path.1), then every chunk that fits in the file.
void rotating_file_writer::step() {
  if (!write_pending_ || job_running_ || destroyed()) return;
  if (next_ == pending_.size()) {
    write_pending_ = false;
    pending_.clear();
    next_ = 0;
    write_callback cb = std::move(pending_cb_);
    cb();
    return;
  }
  const std::uint64_t max = opts_.max_bytes;
  const bool rotate_first = max != 0 && size_ != 0 && size_ + pending_[next_].size() > max;
  if (rotate_first && gzip_running_) return;  // on_gzip steps again
  std::uint64_t size = rotate_first ? 0 : size_;
  std::vector<buffer> segment;
  for (std::size_t i = next_; i < pending_.size(); ++i) {
    if (max != 0 && size != 0 && size + pending_[i].size() > max) break;
    size += pending_[i].size();
    segment.push_back(pending_[i]);
  }
  job_running_ = true;
  detail::run_blocking(
      detail::io_pool::shared(), get_loop(),
      [plan = file_plan{opts_.path, opts_.keep, opts_.mode}, fd = fd_, rotate_first,
       segment = std::move(segment)] {
        job_result r;
        r.fd = fd;
        if (rotate_first) {
          rotate(plan, r.fd, r.err, r.context);
          r.rotated = r.err == 0;
        }
        if (r.err == 0) {
          const written w = write_all(r.fd, segment);
          r.written = w.bytes;
          r.chunks = w.chunks;
          if ((r.err = w.err) != 0) r.context = quoted("write", plan.path);
        }
        return r;
      },
      [self = self()](job_result r) { self->on_job(std::move(r)); });
}

void rotating_file_writer::on_job(job_result r) {
  job_running_ = false;
  fd_ = r.fd;
  if (r.rotated) {
    size_ = 0;
    ++rotations_;
  }
  size_ += r.written;
  bytes_written_ += r.written;
  next_ += r.chunks;
  if (r.err != 0) {
    // Take the write's callback before fail(): destroying must not complete it a second time.
    const std::error_code ec = sys_error(r.err);
    write_pending_ = false;
    pending_.clear();
    write_callback cb = std::move(pending_cb_);
    fail(ec, std::move(r.context));
    cb(ec);
    settle();
    return;
  }
  if (r.rotated && opts_.gzip_rotated && opts_.keep > 0 && !destroyed()) start_gzip();
  if (destroyed()) {
    settle();
    return;
  }
  step();
}

void rotating_file_writer::start_gzip() {
  gzip_running_ = true;
  auto& l = get_loop();
  const auto from = rotated(1, false);
  pipeline_handle h =
      pipeline(make_file_reader(l, from), make_gzip(l),
               make_file_writer(l, rotated(1, true), {.atomic = true}),
               [self = self()](const pipeline_error& e) { self->on_gzip(e.code, e.message()); });
  abort_gzip_ = [h]() mutable { h.abort(); };
}

void rotating_file_writer::on_gzip(std::error_code ec, const std::string& what) {
  const auto from = rotated(1, false);
  abort_gzip_ = nullptr;
  if (ec) {
    gzip_running_ = false;
    // After destroy() the gzip was aborted: path.1 stays, uncompressed.
    if (!destroyed()) fail(ec, quoted("gzip", from) + " (" + what + ")");
    settle();
    return;
  }
  // path.1.gz is complete: remove path.1 before the next rotation may shift the files.
  detail::run_blocking(
      detail::io_pool::shared(), get_loop(),
      [from] { return tolerate_missing(::unlink(from.c_str())); },
      [self = self(), from](int err) {
        self->gzip_running_ = false;
        if (err != 0) {
          if (!self->destroyed()) self->fail(sys_error(err), quoted("remove", from));
        } else {
          ++self->gzipped_;
        }
        self->step();
        self->settle();
      });
}

// Completes end() or destroy() once no job and no gzip is running.
void rotating_file_writer::settle() {
  if (job_running_ || gzip_running_) return;
  if (destroy_cb_) {
    if (write_pending_) {  // destroyed between two jobs of a write (or waiting for a gzip)
      const bool all_written = next_ == pending_.size();
      write_pending_ = false;
      pending_.clear();
      write_callback cb = std::move(pending_cb_);
      if (all_written)
        cb();
      else
        cb(make_error_code(errc::stream_destroyed));
    }
    final_cb_ = nullptr;
    close_file([self = self(), ec = destroy_ec_](std::error_code) {
      callback cb = std::move(self->destroy_cb_);
      self->destroy_cb_ = nullptr;
      cb(ec);
    });
  } else if (final_cb_ && !destroyed()) {
    callback cb = std::move(final_cb_);
    final_cb_ = nullptr;
    close_file(std::move(cb));
  }
}

void rotating_file_writer::close_file(callback cb) {
  const int fd = std::exchange(fd_, -1);
  if (fd < 0) {
    cb({});
    return;
  }
  job_running_ = true;
  detail::run_blocking(
      detail::io_pool::shared(), get_loop(), [fd] { return ::close(fd) == 0 ? 0 : errno; },
      [self = self(), cb = std::move(cb)](int err) {
        self->job_running_ = false;
        cb(err != 0 ? sys_error(err) : std::error_code());
        // A destroy() that came while end()'s close ran waited for it (settle() saw the job):
        // it completes now. (It used to wait for ever, and 'close' never came; found by the
        // conformance kit's destroy.ending rule.)
        self->settle();
      });
}

void rotating_file_writer::do_final(callback cb) {
  final_cb_ = std::move(cb);
  settle();
}

void rotating_file_writer::do_destroy(std::error_code ec, callback cb) {
  destroy_ec_ = ec;
  destroy_cb_ = std::move(cb);
  if (abort_gzip_) abort_gzip_();
  settle();
}

std::shared_ptr<rotating_file_writer> make_rotating_file_writer(sluice::loop& l,
                                                                rotating_file_options opts) {
  return std::make_shared<rotating_file_writer>(l, std::move(opts));
}

std::shared_ptr<log_writer> make_log_file_writer(sluice::loop& l, rotating_file_options file_opts,
                                                 log_writer_options log_opts) {
  log_opts.colour = log_colour::never;
  log_opts.terminal = false;
  return make_log_writer(l, make_rotating_file_writer(l, std::move(file_opts)),
                         std::move(log_opts));
}

}  // namespace sluice
