// sluice/io/stdio.hpp: byte streams over file descriptors the program did not open: stdin, stdout,
// stderr, and any pipe, terminal or socket descriptor.
//
//   - `fd_reader` is a readable<buffer> that read(2)s a descriptor until end of file;
//   - `fd_writer` is a writable<buffer> that writev(2)s to one, gathering buffered chunks;
//   - make_stdin(), make_stdout() and make_stderr() create them for descriptors 0, 1 and 2.
//
// They work on regular files, pipes and terminals alike. Reads and writes on these descriptors
// may block for ever (a terminal nobody types into), so each stream has its own background thread
// instead of borrowing the shared file pool (sluice/core/detail/io_pool.hpp); destroying a stream
// stops waiting for a call still blocked there at once (its result is dropped). The streams never
// close their descriptor and never change its flags (a descriptor someone else made non-blocking is
// waited on with poll(2)).
//
// Broken pipes: a write to a pipe whose reader has gone fails with std::errc::broken_pipe
// (error_message() "write '<stdout>': Broken pipe"); is_broken_pipe() lets a command-line filter
// end quietly, like `yes | head`. That error only arrives if SIGPIPE is ignored: the library does
// not change signal dispositions, so a program writing to pipes must call
// std::signal(SIGPIPE, SIG_IGN) (or block SIGPIPE) itself; otherwise the kernel ends it silently.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <system_error>
#include <vector>

#include "sluice/core/readable.hpp"
#include "sluice/core/writable.hpp"

namespace sluice {

namespace detail {
class io_pool;
class loop_handoff;
}  // namespace detail

/// Options of fd_reader and fd_writer.
struct fd_stream_options {
  /// Reader: buffered bytes at which reading pauses, and the size of each read(2) (default 64 KiB).
  /// Writer: buffered bytes at which write() returns false (default 64 KiB).
  std::optional<std::size_t> high_water_mark{};
  /// Name in diagnostics and error messages; default "fd <n>" ("<stdin>" etc. for make_std*).
  std::string name{};
};

/// A readable<buffer> over a descriptor it does not own. Create it with make_fd_reader() or
/// make_stdin(). Create at most one reader per descriptor: two would steal each other's bytes.
class fd_reader final : public readable<buffer> {
 public:
  fd_reader(sluice::loop& l, int fd, fd_stream_options opts);
  ~fd_reader() override;

  [[nodiscard]] int fd() const noexcept { return fd_; }
  /// Bytes read so far.
  [[nodiscard]] std::uint64_t bytes_read() const noexcept { return bytes_read_; }

 protected:
  void do_read(std::size_t size) override;
  void do_destroy(std::error_code ec, callback cb) override;

 private:
  struct read_result;
  void on_read(read_result r);

  int fd_;
  std::size_t read_size_;
  std::uint64_t bytes_read_ = 0;
  std::shared_ptr<detail::loop_handoff> handoff_;
  std::unique_ptr<detail::io_pool> thread_;  // created on the first read
};

/// A writable<buffer> over a descriptor it does not own. Create it with make_fd_writer(),
/// make_stdout() or make_stderr(). end() does not close the descriptor.
class fd_writer final : public writable<buffer> {
 public:
  fd_writer(sluice::loop& l, int fd, fd_stream_options opts);
  ~fd_writer() override;

  [[nodiscard]] int fd() const noexcept { return fd_; }
  /// Bytes the system accepted so far.
  [[nodiscard]] std::uint64_t bytes_written() const noexcept { return bytes_written_; }
  /// writev(2) calls made so far.
  [[nodiscard]] std::uint64_t write_syscalls() const noexcept { return write_syscalls_; }

 protected:
  void do_write(buffer&& chunk, write_callback cb) override;
  bool do_writev(std::vector<buffer>& chunks, write_callback cb) override;
  void do_destroy(std::error_code ec, callback cb) override;

 private:
  struct write_result;
  void write_chunks(std::vector<buffer> chunks, write_callback cb);
  void on_written(const write_result& r, write_callback cb);

  int fd_;
  std::uint64_t bytes_written_ = 0;
  std::uint64_t write_syscalls_ = 0;
  bool busy_ = false;  // a write is on the thread
  std::error_code destroy_ec_;
  callback destroy_cb_;  // do_destroy waiting for the write in flight
  std::shared_ptr<detail::loop_handoff> handoff_;
  std::unique_ptr<detail::io_pool> thread_;  // created on the first write
};

/// A reader of `fd` (which stays open and owned by the caller).
[[nodiscard]] std::shared_ptr<fd_reader> make_fd_reader(sluice::loop& l, int fd,
                                                        fd_stream_options opts = {});
/// A writer to `fd` (which stays open and owned by the caller).
[[nodiscard]] std::shared_ptr<fd_writer> make_fd_writer(sluice::loop& l, int fd,
                                                        fd_stream_options opts = {});

/// The program's standard input (descriptor 0), named "<stdin>". Create one per program.
[[nodiscard]] std::shared_ptr<fd_reader> make_stdin(sluice::loop& l, fd_stream_options opts = {});
/// The program's standard output (descriptor 1), named "<stdout>". Bytes written with printf or
/// std::cout go through their own buffers: flush those before mixing them with this stream.
[[nodiscard]] std::shared_ptr<fd_writer> make_stdout(sluice::loop& l, fd_stream_options opts = {});
/// The program's standard error (descriptor 2), named "<stderr>".
[[nodiscard]] std::shared_ptr<fd_writer> make_stderr(sluice::loop& l, fd_stream_options opts = {});

/// True if `ec` says the reading end of a pipe or socket went away (EPIPE): the normal way for a
/// Unix filter's output to end early (`... | head`), usually not worth an error message.
[[nodiscard]] bool is_broken_pipe(std::error_code ec) noexcept;

}  // namespace sluice
