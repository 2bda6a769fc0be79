// sluice/io/file.hpp: byte streams over files (Node's fs.createReadStream / fs.createWriteStream).
//
//   - `file_reader` is a readable<buffer>: it opens the file, reads it in chunks of its
//     highWaterMark (optionally only the byte range [start, end]) and ends at end of file.
//   - `file_writer` is a writable<buffer>: it creates, truncates or appends to a file and writes
//     every chunk buffered behind a slow disk in one gathered pwritev(2). With `atomic`, the bytes
//     go to a temporary file that replaces the target only once everything was written, so a
//     failed or abandoned copy never leaves a partial file under the final name.
//
// Every system call runs on the shared I/O thread pool (sluice/core/detail/io_pool.hpp) and reports
// back through loop::post(), so the loop never blocks on the disk; run the loop until it has no
// outstanding work (asio: io_context::run(); manual_loop: run_until_quiet()). A failing call
// destroys the stream with the system's error code and names what failed, e.g.
// error_message() == "open 'x.log': No such file or directory" (operations: open, stat, read,
// write, chmod, fsync, close, rename). A call interrupted by a signal (EINTR) is retried, never an
// error; a short write goes on with the rest and a short read is just fewer bytes. As with every
// sluice stream, keep a reference to a file stream while it is in use; docs/files.md has the
// details.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>

#include "sluice/core/readable.hpp"
#include "sluice/core/writable.hpp"

namespace sluice {

namespace detail {
struct destination;
}  // namespace detail

/// Options of a file_reader.
struct file_reader_options {
  /// First byte to read.
  std::uint64_t start = 0;
  /// Last byte to read, inclusive (as in Node); unset: to the end of the file.
  std::optional<std::uint64_t> end{};
  /// Buffered bytes at which reading pauses, and the size of each read. Default: 64 KiB.
  std::optional<std::size_t> high_water_mark{};
  /// Name for diagnostics; default: the path.
  std::string name{};
  /// Fail with errc::source_changed when a regular file's size at the end differs from its size
  /// when it was opened, or fewer bytes were read than it had (it was truncated, or written to,
  /// while being read), as gzip does. Checked when the reader reaches the end of the file.
  bool fail_if_changed = false;
};

/// A readable<buffer> over a file. Create it with make_file_reader().
class file_reader final : public readable<buffer> {
 public:
  /// Prefer make_file_reader(). Throws std::system_error(errc::invalid_argument) if `end` is
  /// before `start` or the highWaterMark is out of range; opening happens later, on the pool.
  file_reader(sluice::loop& l, std::filesystem::path path, file_reader_options opts);
  ~file_reader() override;

  [[nodiscard]] const std::filesystem::path& path() const noexcept { return path_; }
  /// Bytes read from the file so far (pushed into the stream).
  [[nodiscard]] std::uint64_t bytes_read() const noexcept { return bytes_read_; }
  /// The file's size as reported when it was opened: unset before that, and for files that have
  /// no size (pipes, character devices).
  [[nodiscard]] std::optional<std::uint64_t> size() const noexcept { return size_; }
  /// Bytes this reader will deliver in all, once known: size() clamped to [start, end].
  [[nodiscard]] std::optional<std::uint64_t> expected_bytes() const noexcept;

 protected:
  void do_construct(callback cb) override;
  void do_read(std::size_t size) override;
  void do_destroy(std::error_code ec, callback cb) override;

 private:
  struct read_result;
  void on_read(read_result r);
  void close_file(std::error_code ec, callback cb);
  std::shared_ptr<file_reader> self();

  std::filesystem::path path_;
  std::uint64_t start_;
  std::optional<std::uint64_t> end_;
  std::size_t read_size_;
  int fd_ = -1;
  bool fail_if_changed_ = false;
  bool seekable_ = true;                       // regular file: pread at pos_; otherwise read()
  std::uint64_t pos_ = 0;                      // offset of the next read
  std::uint64_t bytes_read_ = 0;               // delivered so far
  std::optional<std::uint64_t> size_;          // st_size of a regular file
  bool busy_ = false;                          // a read is on the pool
  std::optional<std::error_code> destroy_ec_;  // do_destroy waiting for the read in flight
  callback destroy_cb_;
};

/// Creates a file_reader for `path` (opened on the next ticks, on the I/O pool).
[[nodiscard]] std::shared_ptr<file_reader> make_file_reader(sluice::loop& l,
                                                            std::filesystem::path path,
                                                            file_reader_options opts = {});

/// How file_writer opens an existing file.
enum class open_mode {
  truncate,   ///< create or empty it ("w")
  append,     ///< create or add to its end ("a")
  exclusive,  ///< create; fail with "File exists" if it exists ("wx")
};

/// Options of a file_writer.
///
/// Where the bytes go (docs/files.md): a symbolic link is followed to the file it names; a
/// character or block device, a FIFO or a socket is opened and written in place (never created,
/// truncated or replaced, whatever `flags` and `atomic` say, and written with writev(2) when it
/// has no offsets); a directory is an error (EISDIR). An existing regular file keeps its mode and
/// owner, also when an atomic write replaces it.
struct file_writer_options {
  open_mode flags = open_mode::truncate;
  /// Permissions of a created file, before the umask (unused with `metadata_from`).
  unsigned mode = 0666;
  /// Write to a temporary file in the same directory (".<name>.sluice-XXXXXX") and rename it over
  /// the target when the stream finishes; if it is destroyed before (or fails), the temporary is
  /// removed and the target is untouched (sluice/io/temporary_files.hpp covers signals). Only for
  /// regular files and new paths; special files are written in place. Not combinable with
  /// open_mode::append.
  bool atomic = false;
  /// A file whose mode, owner (where permitted) and access and modification times the output
  /// takes when it is finished, as gzip gives its output the input's; an existing output keeps
  /// its own mode narrowed to the source's. Never more permissive than the source, not even
  /// while it is written (0600 until then). Ignored for special files.
  std::optional<std::filesystem::path> metadata_from{};
  /// fsync(2) the file before 'finish' (and before the rename, with `atomic`).
  bool sync_on_finish = false;
  /// Buffered bytes at which write() returns false. Default: 64 KiB.
  std::optional<std::size_t> high_water_mark{};
  /// Name for diagnostics; default: the path.
  std::string name{};
};

/// A writable<buffer> over a file. Create it with make_file_writer().
class file_writer final : public writable<buffer> {
 public:
  /// Prefer make_file_writer(). Throws std::system_error(errc::invalid_argument) for atomic
  /// together with append, or an out-of-range highWaterMark.
  file_writer(sluice::loop& l, std::filesystem::path path, file_writer_options opts);
  ~file_writer() override;

  [[nodiscard]] const std::filesystem::path& path() const noexcept { return path_; }
  /// Bytes the system accepted so far.
  [[nodiscard]] std::uint64_t bytes_written() const noexcept { return bytes_written_; }
  /// pwritev(2)/writev(2) calls made so far: several buffered or corked chunks go out in one.
  [[nodiscard]] std::uint64_t write_syscalls() const noexcept { return write_syscalls_; }
  /// do_write/do_writev batches handed to the pool so far.
  [[nodiscard]] std::uint64_t write_batches() const noexcept { return write_batches_; }
  /// With `atomic`, the absolute path of the temporary file being written (empty before it is
  /// created, after the rename, without `atomic` and for special files).
  [[nodiscard]] const std::filesystem::path& temp_path() const noexcept { return temp_path_; }
  /// False once opened if the destination has no offsets (a FIFO, a socket, a terminal,
  /// /dev/null): it is then written with writev(2) rather than pwritev(2).
  [[nodiscard]] bool seekable() const noexcept { return seekable_; }

 protected:
  void do_construct(callback cb) override;
  void do_write(buffer&& chunk, write_callback cb) override;
  bool do_writev(std::vector<buffer>& chunks, write_callback cb) override;
  void do_final(callback cb) override;
  void do_destroy(std::error_code ec, callback cb) override;

 private:
  struct write_result;
  void write_chunks(std::vector<buffer> chunks, write_callback cb);
  void on_written(const write_result& r, write_callback cb);
  void release_file(std::error_code ec, callback cb);
  [[nodiscard]] std::string describe(const char* op) const;
  std::shared_ptr<file_writer> self();

  std::filesystem::path path_;
  file_writer_options opts_;
  std::filesystem::path temp_path_;
  std::shared_ptr<detail::destination> dest_;  // open: where the bytes go, and how to finish
  int fd_ = -1;
  bool seekable_ = true;
  std::uint64_t pos_ = 0;  // offset of the next pwritev (not used in append mode)
  std::uint64_t bytes_written_ = 0;
  std::uint64_t write_syscalls_ = 0;
  std::uint64_t write_batches_ = 0;
  bool busy_ = false;  // a write or the final step is on the pool
  std::optional<std::error_code> destroy_ec_;
  callback destroy_cb_;
};

/// Creates a file_writer for `path` (opened on the next ticks, on the I/O pool).
[[nodiscard]] std::shared_ptr<file_writer> make_file_writer(sluice::loop& l,
                                                            std::filesystem::path path,
                                                            file_writer_options opts = {});

}  // namespace sluice
