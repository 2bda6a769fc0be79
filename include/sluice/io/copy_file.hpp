// sluice/io/copy_file.hpp: copy one file to another in the kernel (Node's fs.copyFile).
//
// A byte stream copies a file by moving every chunk through user space: pread(2) into a buffer,
// pwritev(2) out of it. When both ends are files, the kernel can do it without the trip:
// copy_file_range(2) moves the pages (or shares them, on file systems with reflinks) and is what
// cp(1) uses. copy_file() is that operation on sluice's loop: the system calls run on the I/O
// pool in slices, so the loop never blocks, progress can be read between slices, and the copy
// can be cancelled. Where the kernel cannot copy between the two files (another file system on
// an old kernel, a source that is not a regular file), it falls back to pread/pwrite through one
// reused buffer. The destination options are file_writer's: open mode, permissions, atomic
// replacement through a temporary file, fsync before the end; and so are its rules (links
// followed; a device, FIFO or socket written in place, with write(2); an existing file's mode
// and owner kept; see docs/files.md).
//
//   auto c = sluice::copy_file(loop, "big.img", "backup.img", {.atomic = true},
//                              [](std::error_code ec) { ... });
//   ... c->bytes_copied(), c->size(), c->cancel()
//
// Errors name what failed, as the file streams do: "open 'big.img': No such file or directory",
// "write 'backup.img': No space left on device". A failed or cancelled atomic copy leaves nothing
// under the destination's name (and an existing destination untouched).
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <system_error>
#include <vector>

#include "sluice/core/loop.hpp"
#include "sluice/io/file.hpp"

namespace sluice {

/// Options of copy_file().
struct copy_file_options {
  /// How the destination is opened (truncate: "w", exclusive: "wx"; append: "a").
  open_mode flags = open_mode::truncate;
  /// Permissions of a created destination, before the umask. Unset: the source's (as cp does).
  std::optional<unsigned> mode{};
  /// Write a temporary file beside the destination and rename it into place at the end (see
  /// file_writer_options::atomic). Not combinable with open_mode::append.
  bool atomic = false;
  /// fsync(2) the destination before it is closed (and renamed).
  bool sync_on_finish = false;
  /// Bytes per pool job: progress is updated, and cancel() is noticed, between slices.
  std::size_t slice = 32u << 20;
  /// Fail with errc::source_changed if the source, a regular file, was truncated or grew while
  /// it was copied (see file_reader_options::fail_if_changed).
  bool fail_if_changed = false;
};

/// A copy in progress. Create it with copy_file(); keep the shared_ptr to observe or cancel it
/// (the copy itself keeps running when it is dropped, until it completes).
class file_copy : public std::enable_shared_from_this<file_copy> {
 public:
  using done_fn = std::function<void(std::error_code)>;

  /// Prefer copy_file(). Throws std::system_error(errc::invalid_argument) for atomic with append
  /// or a zero slice.
  file_copy(sluice::loop& l, std::filesystem::path from, std::filesystem::path to,
            copy_file_options opts, done_fn done);
  ~file_copy();
  file_copy(const file_copy&) = delete;
  file_copy& operator=(const file_copy&) = delete;

  /// Starts the copy (copy_file() calls it). The callback runs later, on the loop, exactly once.
  void start();
  /// Stops after the slice in flight; the callback gets errc::aborted, and the destination is
  /// removed when atomic (left as far as it got otherwise). No effect once completed.
  void cancel();

  [[nodiscard]] const std::filesystem::path& source() const noexcept { return from_; }
  [[nodiscard]] const std::filesystem::path& destination() const noexcept { return to_; }
  /// Bytes copied so far (updated on the loop after each slice).
  [[nodiscard]] std::uint64_t bytes_copied() const noexcept { return copied_; }
  /// The source's size when it was opened; unset before, and for sources without a size.
  [[nodiscard]] std::optional<std::uint64_t> size() const noexcept { return size_; }
  /// Pool jobs that moved data so far (one per slice).
  [[nodiscard]] std::uint64_t slices() const noexcept { return slices_; }
  /// True once the kernel copy was refused and the copy went on with pread/pwrite.
  [[nodiscard]] bool fell_back() const noexcept { return fallback_; }
  [[nodiscard]] bool completed() const noexcept { return completed_; }
  /// The error the callback got, or empty.
  [[nodiscard]] std::error_code error() const noexcept { return error_; }
  /// "<what failed>: <message>", e.g. "open 'a.txt': No such file or directory"; empty on
  /// success.
  [[nodiscard]] std::string error_message() const;

 private:
  struct opened;
  struct slice_result;
  void on_opened(opened r);
  void next_slice();
  void on_slice(const slice_result& r);
  void finish();
  void fail(std::error_code ec, std::string context);
  void complete(std::error_code ec);

  sluice::loop& loop_;
  std::filesystem::path from_;
  std::filesystem::path to_;
  copy_file_options opts_;
  done_fn done_;
  std::shared_ptr<detail::destination> dest_;  // open: the destination, and how to finish it
  int in_ = -1;
  int out_ = -1;
  bool out_seekable_ = true;
  std::uint64_t copied_ = 0;
  std::uint64_t slices_ = 0;
  std::optional<std::uint64_t> size_;
  std::vector<std::byte> bounce_;  // the fallback's buffer, used by one pool job at a time
  bool fallback_ = false;
  bool started_ = false;
  bool cancelled_ = false;
  bool completed_ = false;
  std::error_code error_;
  std::string error_context_;
};

/// Copies `from` to `to` on the I/O pool; `done(ec)` runs on the loop when it is over (empty
/// `ec`: every byte of the source up to its end is in the destination, closed, and renamed into
/// place when atomic). Run the loop until it has no outstanding work.
std::shared_ptr<file_copy> copy_file(sluice::loop& l, std::filesystem::path from,
                                     std::filesystem::path to, copy_file_options opts,
                                     file_copy::done_fn done);

}  // namespace sluice
