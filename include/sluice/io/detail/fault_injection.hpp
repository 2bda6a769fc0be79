// sluice/io/detail/fault_injection.hpp: failing the io layer's system calls on purpose, for tests.
//
// TEST-ONLY, NOT A STABLE API: it may change in any release, and a program that arms a fault
// outside its tests breaks its own file I/O.
//
// Every system call of the io layer's files (the file streams, copy_file, the temporary files of
// atomic writes, the descriptor streams of stdio.hpp) goes through one internal seam
// (src/io/sys.hpp, as fmt's FMT_SYSTEM), which looks here first. A test arms a `fault`: "the
// 3rd write(2) fails with ENOSPC", "every read(2) returns at most 7 bytes", "the 1st fsync(2) is
// interrupted (EINTR)", and the streams meet it as they would meet the real thing:
//
//   namespace fi = sluice::detail::fault_injection;
//   fi::scoped_fault full({.op = fi::sys_op::write, .nth = 3, .error = ENOSPC});
//   ... run a file_writer; expect "write 'out.txt': No space left on device" ...
//   EXPECT_EQ(full.fired(), 1u);
//
// While no fault is armed, the seam costs one relaxed atomic load per call (no lock, no
// allocation), and nothing is counted. While one is, every call of the io layer takes a mutex:
// arming is thread-safe, and the calls made on the I/O pool's threads see a fault armed before
// the stream made the call (the pool's hand-off orders them). The reads and writes of
// sluice::socket (net layer) come here too, as recv and send; an EINTR or EAGAIN there is retried
// (as Asio's reactor retries them), another error fails the socket, a short count makes a short
// read or send. docs/reliability.md ("Faults") has the semantics of each call and the fault
// matrix.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>

namespace sluice::detail::fault_injection {

/// The calls a fault can target. One operation stands for the calls that do the same thing.
enum class sys_op : std::uint8_t {
  open,             ///< open(2)
  read,             ///< read(2), pread(2)
  write,            ///< write(2), pwrite(2), writev(2), pwritev(2)
  copy_file_range,  ///< copy_file_range(2)
  fsync,            ///< fsync(2)
  close,            ///< close(2): the descriptor is released even when a fault fires (as on Linux)
  stat,             ///< stat(2), fstat(2), lstat(2)
  readlink,         ///< readlink(2)
  chown,            ///< fchown(2)
  chmod,            ///< fchmod(2)
  utimens,          ///< futimens(2)
  rename,           ///< rename(2)
  link,             ///< link(2)
  unlink,           ///< unlink(2) (not the one in remove_temporary_files(): a signal handler's)
  recv,             ///< a sluice::socket's read (recv(2); over TLS, a read of the decrypted stream)
  send,  ///< a sluice::socket's write: each send of a gathered write (sendmsg(2); TLS: plaintext)
};
inline constexpr std::size_t sys_op_count = 16;

/// "write", "copy_file_range", ...: the operation's name, for test names and messages.
[[nodiscard]] const char* to_string(sys_op op) noexcept;

/// What to do to which call. A call that a fault fails is not made (but close(2) is: see
/// sys_op::close), so a failed write wrote nothing.
struct fault {
  sys_op op = sys_op::read;
  /// Which call of `op`, counted from when the fault is armed: 1 is the next one. Every call
  /// counts, an EINTR retry too.
  std::uint64_t nth = 1;
  /// errno the call fails with (EIO, ENOSPC, EINTR, EAGAIN, ...); 0: it does not fail.
  int error = 0;
  /// Instead of failing: the call transfers at most this many bytes (a short read or write; at
  /// least 1, since 0 bytes read means the end of the file). Only read, write, copy_file_range.
  std::optional<std::size_t> short_count{};
  /// Also every call of `op` after the nth.
  bool repeat = false;
};

/// Identifies an armed fault.
using fault_id = std::uint64_t;

/// Arms `f`; it fires at its `nth` call (and each one after, with `repeat`). Among faults that
/// would fire at the same call, the one armed first applies. A fault with neither `error` nor
/// `short_count` never fires: arm one to count the calls of a clean run (calls()). Arming the
/// first fault when none is armed resets calls(). Throws std::invalid_argument for `nth` 0,
/// both `error` and `short_count`, a `short_count` of 0 or on an operation that moves no bytes.
fault_id arm(const fault& f);
/// Disarms one fault (no effect if it is not armed).
void disarm(fault_id id) noexcept;
/// Disarms every fault; the seam is back to its one relaxed load. calls() stays readable.
void disarm_all() noexcept;
/// How many times the fault fired (also after it was disarmed, until the next arm into an empty
/// table; 0 for an unknown id).
[[nodiscard]] std::uint64_t fired(fault_id id) noexcept;
/// Calls of `op` made while a fault was armed, since the first one of them was (see arm()).
/// Calls made while nothing is armed are not counted.
[[nodiscard]] std::uint64_t calls(sys_op op) noexcept;

/// Arms a fault for a scope.
class scoped_fault {
 public:
  explicit scoped_fault(const fault& f) : id_(arm(f)) {}
  scoped_fault(const scoped_fault&) = delete;
  scoped_fault& operator=(const scoped_fault&) = delete;
  ~scoped_fault() { disarm(id_); }

  [[nodiscard]] fault_id id() const noexcept { return id_; }
  /// How many times it fired so far.
  [[nodiscard]] std::uint64_t fired() const noexcept { return fault_injection::fired(id_); }

 private:
  fault_id id_;
};

}  // namespace sluice::detail::fault_injection
