// Faults injected into the io layer's system calls (sluice/io/detail/fault_injection.hpp), on the
// real Asio loop: for every file stream, copy_file, the atomic writer and the descriptor streams,
// each call failed with EIO, ENOSPC, EAGAIN and EINTR at each of its calls in a clean run, and
// short reads and writes. What a user would notice is checked every time: the error (or none),
// its message naming the operation and the path, 'close' (or the callback) exactly once, no
// descriptor leaked, no temporary left and the old file untouched by a failed atomic write, and
// byte-exact output whenever the fault is one the library absorbs. docs/reliability.md
// ("Faults") has the matrix as a table.
#include "sluice/io/detail/fault_injection.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <boost/asio/io_context.hpp>
#include <cerrno>
#include <chrono>
#include <filesystem>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "sluice/compose/pipeline.hpp"
#include "sluice/core/asio_loop.hpp"
#include "sluice/io/copy_file.hpp"
#include "sluice/io/file.hpp"
#include "sluice/io/stdio.hpp"
#include "support/temp_files.hpp"

namespace {

namespace fs = std::filesystem;
namespace fi = sluice::detail::fault_injection;
using namespace std::chrono_literals;
using fi::sys_op;
using sluice::buffer;
using sluice::test::open_fd_count;
using sluice::test::pattern;
using sluice::test::read_file;
using sluice::test::temp_dir;
using sluice::test::write_file;

constexpr std::size_t chunk = 16 * 1024;

// Three chunks and a bit: several reads, writes and kernel-copy slices.
const std::string& input() {
  static const std::string s = pattern(3 * chunk + 1000, 11);
  return s;
}

const std::string old_content = "the old content, which a failed atomic write leaves alone";

// ---- the streams under test ---------------------------------------------------------------

enum class kind {
  reader,         // file_reader (fail_if_changed) into a collector
  writer,         // file_writer (sync_on_finish) of a new file, chunk by chunk
  atomic_writer,  // the same with atomic = true, over an existing file
  copy,           // copy_file (kernel copy, slices of a chunk, sync_on_finish, fail_if_changed)
  atomic_copy,    // the same with atomic = true, over an existing file
  copy_fallback,  // copy_file pushed to pread/pwrite by an EXDEV from copy_file_range
  pipeline,       // pipeline(file_reader, file_writer)
  fd_reader,      // fd_reader on a descriptor of the input
  fd_writer,      // fd_writer on a descriptor of the output, chunk by chunk
};

const char* name(kind k) {
  static constexpr std::array<const char*, 9> names{"reader",   "writer",      "atomic_writer",
                                                    "copy",     "atomic_copy", "copy_fallback",
                                                    "pipeline", "fd_reader",   "fd_writer"};
  return names[static_cast<std::size_t>(k)];
}

bool is_atomic(kind k) { return k == kind::atomic_writer || k == kind::atomic_copy; }
bool reads_only(kind k) { return k == kind::reader || k == kind::fd_reader; }
bool is_fd_stream(kind k) { return k == kind::fd_reader || k == kind::fd_writer; }

// What a user sees of one run.
struct seen {
  std::error_code error;
  std::string message;  // error_message() (the pipeline: the failing stage's)
  int completions = 0;  // 'close' events, copy_file callbacks, pipeline callbacks
  int expected_completions = 1;
  std::string output;                // bytes delivered (readers) or in the destination (the others)
  std::uint64_t bytes_written = 0;   // the writers' bytes_written()
  std::vector<std::string> entries;  // the directory afterwards
  std::size_t fds_before = 0;
  std::size_t fds_after = 0;
  bool stopped = false;              // the loop ran out of work (nothing hung)
  std::vector<std::uint64_t> fired;  // per fault given
  std::array<std::uint64_t, fi::sys_op_count> calls{};
};

// Writes `data` one chunk at a time, each after the previous one's callback (so the N-th write
// call is the N-th chunk), then ends.
struct chunk_writer : std::enable_shared_from_this<chunk_writer> {
  std::shared_ptr<sluice::writable<buffer>> w;
  std::string_view data;
  std::size_t pos = 0;
  void next() {
    if (pos >= data.size()) {
      w->end();
      return;
    }
    const std::size_t n = std::min(chunk, data.size() - pos);
    buffer piece = buffer::copy_of(data.substr(pos, n));
    pos += n;
    w->write(std::move(piece), [self = shared_from_this()](std::error_code ec) {
      if (!ec) self->next();
    });
  }
};

void write_in_chunks(std::shared_ptr<sluice::writable<buffer>> w, std::string_view data) {
  auto cw = std::make_shared<chunk_writer>();
  cw->w = std::move(w);
  cw->data = data;
  cw->next();
}

template <class Stream>
void count_close(Stream& s, seen& out) {
  s.on_close([&out] { ++out.completions; });
}

// Runs `k` on a fresh Asio loop with `faults` armed (after a fault that only counts, so calls()
// covers the whole run) and reports what a user would see.
seen run_case(kind k, const std::vector<fi::fault>& faults) {
  fi::disarm_all();
  temp_dir dir;
  const fs::path in = dir / "in.bin";
  const fs::path out = dir / "out.bin";
  write_file(in, input());
  if (is_atomic(k)) write_file(out, old_content);
  seen s;
  s.fds_before = open_fd_count();
  // The descriptor streams' descriptors are the test's: opened here, closed before counting.
  int in_fd = -1;
  int out_fd = -1;
  if (k == kind::fd_reader) in_fd = ::open(in.c_str(), O_RDONLY | O_CLOEXEC);
  if (k == kind::fd_writer) out_fd = ::open(out.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
  {
    std::vector<std::unique_ptr<fi::scoped_fault>> armed;
    armed.push_back(std::make_unique<fi::scoped_fault>(fi::fault{.op = sys_op::open}));
    if (k == kind::copy_fallback)
      armed.push_back(std::make_unique<fi::scoped_fault>(
          fi::fault{.op = sys_op::copy_file_range, .error = EXDEV}));
    const std::size_t first_given = armed.size();
    for (const fi::fault& f : faults) armed.push_back(std::make_unique<fi::scoped_fault>(f));

    boost::asio::io_context io;
    sluice::asio_loop loop(io);
    std::shared_ptr<sluice::file_reader> reader;
    std::shared_ptr<sluice::file_writer> writer;
    std::shared_ptr<sluice::fd_reader> fd_reader;
    std::shared_ptr<sluice::fd_writer> fd_writer;
    std::shared_ptr<sluice::file_copy> copy;
    auto collect = [&s](sluice::readable<buffer>& r) {
      r.on_data([&s](buffer&& b) { s.output.append(b.view()); });
      count_close(r, s);
    };
    switch (k) {
      case kind::reader:
        reader =
            sluice::make_file_reader(loop, in, {.high_water_mark = chunk, .fail_if_changed = true});
        collect(*reader);
        break;
      case kind::fd_reader:
        fd_reader = sluice::make_fd_reader(loop, in_fd, {.high_water_mark = chunk, .name = "in"});
        collect(*fd_reader);
        break;
      case kind::writer:
      case kind::atomic_writer:
        writer = sluice::make_file_writer(
            loop, out, {.atomic = is_atomic(k), .sync_on_finish = true, .high_water_mark = chunk});
        count_close(*writer, s);
        write_in_chunks(writer, input());
        break;
      case kind::fd_writer:
        fd_writer = sluice::make_fd_writer(loop, out_fd, {.high_water_mark = chunk, .name = "out"});
        count_close(*fd_writer, s);
        write_in_chunks(fd_writer, input());
        break;
      case kind::copy:
      case kind::atomic_copy:
      case kind::copy_fallback:
        copy = sluice::copy_file(loop, in, out,
                                 {.atomic = is_atomic(k),
                                  .sync_on_finish = true,
                                  .slice = chunk,
                                  .fail_if_changed = true},
                                 [&s](std::error_code ec) {
                                   ++s.completions;
                                   s.error = ec;
                                 });
        break;
      case kind::pipeline: {
        reader = sluice::make_file_reader(loop, in, {.high_water_mark = chunk});
        writer = sluice::make_file_writer(loop, out, {.high_water_mark = chunk});
        count_close(*reader, s);
        count_close(*writer, s);
        s.expected_completions = 3;  // two 'close' events, one callback
        (void)sluice::pipeline(reader, writer, [&s](const sluice::pipeline_error& e) {
          ++s.completions;
          s.error = e.code;
          s.message = e.detail;
        });
        break;
      }
    }
    io.run_for(20s);
    s.stopped = io.stopped();
    const auto take = [&s](const sluice::stream* st) {
      if (st == nullptr) return;
      s.error = st->errored();
      s.message = st->error_message();
    };
    if (k != kind::pipeline) {
      take(reader.get());
      take(writer.get());
    }
    take(fd_reader.get());
    take(fd_writer.get());
    if (copy) s.message = copy->error_message();
    if (writer) s.bytes_written = writer->bytes_written();
    if (fd_writer) s.bytes_written = fd_writer->bytes_written();
    for (std::size_t i = first_given; i < armed.size(); ++i) s.fired.push_back(armed[i]->fired());
    for (std::size_t op = 0; op < fi::sys_op_count; ++op)
      s.calls[op] = fi::calls(static_cast<sys_op>(op));
  }
  if (in_fd >= 0) ::close(in_fd);
  if (out_fd >= 0) ::close(out_fd);
  s.fds_after = open_fd_count();
  if (!reads_only(k)) s.output = fs::exists(out) ? read_file(out) : std::string();
  s.entries = dir.entries();
  return s;
}

// ---- what each failure should look like ---------------------------------------------------

// The calls each kind is checked on (every call of each, as counted in a clean run).
std::vector<sys_op> ops_of(kind k) {
  switch (k) {
    case kind::reader:
      return {sys_op::open, sys_op::stat, sys_op::read, sys_op::close};
    case kind::writer:
      return {sys_op::open, sys_op::stat, sys_op::write, sys_op::fsync, sys_op::close};
    case kind::atomic_writer:
      return {sys_op::open,  sys_op::stat,  sys_op::write, sys_op::chown,
              sys_op::chmod, sys_op::fsync, sys_op::close, sys_op::rename};
    case kind::copy:
      return {sys_op::open, sys_op::stat, sys_op::copy_file_range, sys_op::fsync, sys_op::close};
    case kind::atomic_copy:
      return {sys_op::open,  sys_op::stat,  sys_op::copy_file_range, sys_op::chown,
              sys_op::chmod, sys_op::fsync, sys_op::close,           sys_op::rename};
    case kind::copy_fallback:
      return {sys_op::read, sys_op::write};
    case kind::pipeline:
      return {sys_op::read, sys_op::write};
    case kind::fd_reader:
      return {sys_op::read};
    case kind::fd_writer:
      return {sys_op::write};
  }
  return {};
}

// The context of the error message when the nth call of `op` fails for real (EIO, ENOSPC; and
// EAGAIN, but for the descriptor streams), or nothing when that failure is not an error.
std::optional<std::string> context_of(kind k, sys_op op, std::uint64_t nth) {
  const std::string in = "'in.bin'";  // run_case's paths, by their file names (see below)
  const std::string out = "'out.bin'";
  const bool copying = k == kind::copy || k == kind::atomic_copy || k == kind::copy_fallback;
  switch (op) {
    case sys_op::open:
      if (k == kind::reader) return "open " + in;
      if (copying) return nth == 1 ? "open " + in : "open " + out;
      return "open " + out;
    case sys_op::stat:
      // The reader: fstat at open and at the end (fail_if_changed). copy_file: fstat of the
      // source, stat(2) of the destination (the same-file check), lstat and stat while opening
      // it, fstat of the source at the end. The writers: lstat and stat while opening.
      if (k == kind::reader) return "stat " + in;
      if (copying) return nth == 1 || nth == 5 ? "stat " + in : "open " + out;
      return "open " + out;
    case sys_op::read:
      return k == kind::fd_reader ? std::string("read 'in'") : "read " + in;
    case sys_op::write:
      return k == kind::fd_writer ? std::string("write 'out'") : "write " + out;
    case sys_op::copy_file_range:
      return "copy " + in + " to " + out;
    case sys_op::fsync:
      return "fsync " + out;
    case sys_op::close:
      // What was only read is closed without looking at the result: nothing can be lost.
      if (k == kind::reader || (copying && nth == 1)) return std::nullopt;
      return "close " + out;
    case sys_op::chown:
    case sys_op::chmod:
    case sys_op::utimens:
      return "chmod " + out;
    case sys_op::rename:
    case sys_op::link:
      return "rename " + out;
    case sys_op::readlink:
      return "open " + out;
    case sys_op::unlink:
    case sys_op::recv:  // sockets' (tests/net/socket_fault_test.cpp): no file stream makes them
    case sys_op::send:
      return std::nullopt;
  }
  return std::nullopt;
}

// Replaces the file names in a message by their bare names: run_case's directory is random.
std::string without_dir(std::string message) {
  for (const char* file : {"in.bin", "out.bin"}) {
    for (;;) {
      const std::size_t at = message.find(std::string("/") + file + "'");
      if (at == std::string::npos) break;
      const std::size_t quote = message.rfind('\'', at);
      message.erase(quote + 1, at + 1 - (quote + 1));
    }
  }
  return message;
}

bool has_temporary(const std::vector<std::string>& entries) {
  return std::any_of(entries.begin(), entries.end(),
                     [](const std::string& e) { return e.rfind(".out.bin.sluice-", 0) == 0; });
}

bool is_prefix_of_input(const std::string& s) {
  return s.size() <= input().size() && input().compare(0, s.size(), s) == 0;
}

// Compares bytes without printing kilobytes of them on a mismatch.
testing::AssertionResult same_bytes(const std::string& got, const std::string& want) {
  if (got == want) return testing::AssertionSuccess();
  const auto diff = std::mismatch(got.begin(), got.end(), want.begin(), want.end());
  return testing::AssertionFailure()
         << got.size() << " bytes where " << want.size()
         << " were expected, first difference at byte " << (diff.first - got.begin());
}

// What every run must show, failed or not.
void expect_clean_ending(kind k, const seen& s) {
  EXPECT_TRUE(s.stopped) << "the loop still had work after 20 s";
  EXPECT_EQ(s.completions, s.expected_completions) << "'close' / the callback not exactly once";
  EXPECT_EQ(s.fds_after, s.fds_before) << "a descriptor leaked";
  EXPECT_FALSE(has_temporary(s.entries)) << "a temporary was left behind";
  if (k == kind::writer) {
    EXPECT_EQ(s.output.size(), s.bytes_written);
  }
}

void expect_success(kind k, const seen& s) {
  expect_clean_ending(k, s);
  EXPECT_FALSE(s.error) << s.message;
  EXPECT_TRUE(same_bytes(s.output, input())) << "not byte-exact";
}

void expect_failure(kind k, const seen& s, int err, const std::string& context) {
  expect_clean_ending(k, s);
  EXPECT_EQ(s.error, std::error_code(err, std::system_category()));
  EXPECT_EQ(without_dir(s.message), context + ": " + std::system_category().message(err));
  if (is_atomic(k)) {
    EXPECT_TRUE(same_bytes(s.output, old_content))
        << "a failed atomic write touched the final name";
  } else {
    EXPECT_TRUE(is_prefix_of_input(s.output)) << "what was delivered or written is not the input";
  }
}

// ---- the matrix -----------------------------------------------------------------------------

class FaultMatrix : public testing::TestWithParam<kind> {};

TEST_P(FaultMatrix, EveryCallFailedOrInterruptedGivesWhatTheTableSays) {
  const kind k = GetParam();
  const seen clean = run_case(k, {});
  ASSERT_NO_FATAL_FAILURE(expect_success(k, clean));
  for (const sys_op op : ops_of(k)) {
    // The pipeline's writer gathers what is buffered behind a write in flight: how many writes
    // a run takes depends on timing, so only the first one is certain to happen.
    const std::uint64_t n =
        k == kind::pipeline && op == sys_op::write ? 1 : clean.calls[static_cast<std::size_t>(op)];
    ASSERT_GT(n, 0u) << fi::to_string(op) << " is never called by " << name(k);
    for (std::uint64_t nth = 1; nth <= n; ++nth) {
      for (const int err : {EIO, ENOSPC, EAGAIN, EINTR}) {
        SCOPED_TRACE(std::string(name(k)) + ": " + fi::to_string(op) + " call " +
                     std::to_string(nth) + " of " + std::to_string(n) + " fails with " +
                     std::system_category().message(err));
        const seen s = run_case(k, {{.op = op, .nth = nth, .error = err}});
        ASSERT_EQ(s.fired, std::vector<std::uint64_t>{1}) << "the fault never hit";
        const std::optional<std::string> context = context_of(k, op, nth);
        const bool absorbed = err == EINTR || (err == EAGAIN && is_fd_stream(k)) || !context;
        if (absorbed) {
          expect_success(k, s);
        } else {
          expect_failure(k, s, err, *context);
        }
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Streams, FaultMatrix,
                         testing::Values(kind::reader, kind::writer, kind::atomic_writer,
                                         kind::copy, kind::atomic_copy, kind::copy_fallback,
                                         kind::pipeline, kind::fd_reader, kind::fd_writer),
                         [](const testing::TestParamInfo<kind>& i) { return name(i.param); });

// ---- short reads and writes, interruptions: nothing lost --------------------------------------

class FaultsLoseNothing : public testing::TestWithParam<kind> {};

TEST_P(FaultsLoseNothing, ShortReadsAndWritesOnEveryCallAreByteExact) {
  const kind k = GetParam();
  for (const std::size_t count : {std::size_t{7}, std::size_t{4099}}) {
    std::vector<fi::fault> faults;
    for (const sys_op op : ops_of(k))
      if (op == sys_op::read || op == sys_op::write || op == sys_op::copy_file_range)
        faults.push_back({.op = op, .short_count = count, .repeat = true});
    SCOPED_TRACE(std::string(name(k)) + ", at most " + std::to_string(count) + " bytes a call");
    const seen s = run_case(k, faults);
    expect_success(k, s);
    // Every call was cut short: the input took that many more of them.
    for (std::size_t i = 0; i < faults.size(); ++i)
      EXPECT_GE(s.fired[i], input().size() / count) << fi::to_string(faults[i].op);
  }
}

TEST_P(FaultsLoseNothing, InterruptedOnEveryOtherCallIsByteExact) {
  const kind k = GetParam();
  std::vector<fi::fault> faults;
  // EINTR at calls 1, 3, 5, ... of each data call: every one is retried, the retry succeeds.
  for (const sys_op op : ops_of(k))
    if (op == sys_op::read || op == sys_op::write || op == sys_op::copy_file_range)
      for (std::uint64_t nth = 1; nth <= 11; nth += 2)
        faults.push_back({.op = op, .nth = nth, .error = EINTR});
  const seen s = run_case(k, faults);
  expect_success(k, s);
  EXPECT_GE(std::count(s.fired.begin(), s.fired.end(), 1u), 3) << "too few calls interrupted";
}

INSTANTIATE_TEST_SUITE_P(Streams, FaultsLoseNothing,
                         testing::Values(kind::reader, kind::writer, kind::atomic_writer,
                                         kind::copy, kind::copy_fallback, kind::pipeline,
                                         kind::fd_reader, kind::fd_writer),
                         [](const testing::TestParamInfo<kind>& i) { return name(i.param); });

TEST(FaultsLoseNothing, AShortGatheredWriteResumesMidChunk) {
  // 60 chunks of 1 to 60 bytes corked into one pwritev(2), cut to 7 bytes a call: each call
  // ends inside some chunk, and the next one must start at the right byte of it.
  temp_dir dir;
  std::string expected;
  boost::asio::io_context io;
  sluice::asio_loop loop(io);
  auto out = sluice::make_file_writer(loop, dir / "out.bin");
  fi::scoped_fault short_writes({.op = sys_op::write, .short_count = 7, .repeat = true});
  out->cork();
  for (std::size_t i = 1; i <= 60; ++i) {
    const std::string piece = pattern(i, static_cast<unsigned>(i));
    expected += piece;
    out->write(buffer::copy_of(piece));
  }
  out->uncork();
  out->end();
  io.run_for(20s);
  EXPECT_FALSE(out->errored()) << out->error_message();
  EXPECT_TRUE(same_bytes(read_file(dir / "out.bin"), expected));
  EXPECT_EQ(out->write_batches(), 1u);
  EXPECT_EQ(out->write_syscalls(), (expected.size() + 6) / 7);
}

// ---- what the matrix found -----------------------------------------------------------------

TEST(FaultsFound, AReaderThatCannotStatItsFileSaysSoInsteadOfIgnoringStart) {
  // Before: a failed fstat(2) made the reader take the file for a pipe and read(2) it from its
  // current offset, 0, delivering bytes before `start` as if they were the range asked for.
  temp_dir dir;
  write_file(dir / "in.bin", input());
  boost::asio::io_context io;
  sluice::asio_loop loop(io);
  fi::scoped_fault no_stat({.op = sys_op::stat, .error = EIO});
  auto in = sluice::make_file_reader(loop, dir / "in.bin", {.start = 1000});
  std::string data;
  in->on_data([&](buffer&& b) { data.append(b.view()); });
  io.run_for(20s);
  EXPECT_EQ(no_stat.fired(), 1u);
  EXPECT_EQ(in->errored(), std::errc::io_error);
  EXPECT_EQ(in->error_message(),
            "stat '" + (dir / "in.bin").string() + "': " + std::system_category().message(EIO));
  EXPECT_EQ(data.size(), 0u) << "bytes delivered from offset 0, before `start`";
}

TEST(FaultsFound, CopyingAFileOntoItselfLosesNothingWhenTheDestinationCannotBeStatted) {
  // Before: a failed stat(2) of the destination skipped the same-file check, and opening the
  // destination truncated the source: copy_file(a, a) "succeeded" with an empty file.
  temp_dir dir;
  write_file(dir / "a.bin", input());
  boost::asio::io_context io;
  sluice::asio_loop loop(io);
  // stat 1: fstat of the source; stat 2: the destination, for the same-file check.
  fi::scoped_fault no_stat({.op = sys_op::stat, .nth = 2, .error = EIO});
  std::error_code result;
  auto c = sluice::copy_file(loop, dir / "a.bin", dir / "a.bin", {},
                             [&](std::error_code ec) { result = ec; });
  io.run_for(20s);
  EXPECT_EQ(result, std::errc::io_error);
  EXPECT_EQ(c->error_message(),
            "open '" + (dir / "a.bin").string() + "': " + std::system_category().message(EIO));
  EXPECT_TRUE(same_bytes(read_file(dir / "a.bin"), input()));
}

TEST(FaultsFound, AnInterruptedFsyncCloseOrRenameIsNotAnError) {
  // Before: only the data calls and open(2) retried EINTR; a signal landing in fsync(2),
  // rename(2) (or in close(2), where it means "closed") failed the write with "Interrupted
  // system call" although nothing was wrong.
  for (const sys_op op : {sys_op::fsync, sys_op::close, sys_op::rename, sys_op::stat}) {
    SCOPED_TRACE(fi::to_string(op));
    const seen s = run_case(kind::atomic_writer, {{.op = op, .error = EINTR}});
    EXPECT_EQ(s.fired, std::vector<std::uint64_t>{1});
    expect_success(kind::atomic_writer, s);
  }
}

TEST(FaultsFound, AReaderCheckingForChangesFailsWhenItCannotStatTheEnd) {
  // Before: with fail_if_changed, a failed fstat(2) at the end skipped the check and the reader
  // ended as if the file had not changed.
  const seen s = run_case(kind::reader, {{.op = sys_op::stat, .nth = 2, .error = EIO}});
  EXPECT_EQ(s.fired, std::vector<std::uint64_t>{1});
  expect_failure(kind::reader, s, EIO, "stat 'in.bin'");
}

TEST(FaultsFound, AnExclusiveAtomicWriteWhoseLinkFailsCreatesNothing) {
  temp_dir dir;
  boost::asio::io_context io;
  sluice::asio_loop loop(io);
  const std::size_t fds_before = open_fd_count();
  fi::scoped_fault no_link({.op = sys_op::link, .error = EIO});
  auto out = sluice::make_file_writer(loop, dir / "out.bin",
                                      {.flags = sluice::open_mode::exclusive, .atomic = true});
  out->end(buffer::copy_of("content"));
  io.run_for(20s);
  EXPECT_EQ(no_link.fired(), 1u);
  EXPECT_EQ(out->error_message(),
            "rename '" + (dir / "out.bin").string() + "': " + std::system_category().message(EIO));
  EXPECT_TRUE(dir.entries().empty());
  EXPECT_EQ(open_fd_count(), fds_before);
}

TEST(FaultsFound, ATemporaryThatCannotBeRemovedStaysButTheFinalNameIsUntouched) {
  // Two faults: the write fails, then so does the unlink(2) of the temporary. The user gets the
  // first error (the unlink's is not reported over it), the old file is intact, and the
  // temporary stays under its hidden name (a limitation: nothing can remove it then).
  const seen s = run_case(kind::atomic_writer, {{.op = sys_op::write, .error = ENOSPC},
                                                {.op = sys_op::unlink, .error = EIO}});
  EXPECT_EQ(s.fired, (std::vector<std::uint64_t>{1, 1}));
  EXPECT_EQ(without_dir(s.message), "write 'out.bin': No space left on device");
  EXPECT_TRUE(same_bytes(s.output, old_content));
  EXPECT_TRUE(has_temporary(s.entries));
  EXPECT_EQ(s.fds_after, s.fds_before);
}

// ---- a real fault ---------------------------------------------------------------------------

TEST(RealFaults, ADescriptorWriterToDevFullFailsNamingIt) {
  // /dev/full fails every write with ENOSPC. (file_writer and copy_file are checked against it
  // in file_test.cpp and copy_file_test.cpp.)
  const int fd = ::open("/dev/full", O_WRONLY | O_CLOEXEC);
  if (fd < 0) GTEST_SKIP() << "no /dev/full";
  boost::asio::io_context io;
  sluice::asio_loop loop(io);
  auto out = sluice::make_fd_writer(loop, fd, {.name = "/dev/full"});
  std::error_code write_ec;
  int closes = 0;
  out->on_close([&] { ++closes; });
  out->write(buffer::copy_of("data"), [&](std::error_code ec) { write_ec = ec; });
  out->end();
  io.run_for(20s);
  ::close(fd);
  EXPECT_EQ(write_ec, std::errc::no_space_on_device);
  EXPECT_EQ(out->error_message(), "write '/dev/full': No space left on device");
  EXPECT_EQ(closes, 1);
}

// ---- the injection API itself ---------------------------------------------------------------

TEST(FaultInjection, RejectsFaultsThatCannotHappen) {
  EXPECT_THROW((void)fi::arm({.op = sys_op::read, .nth = 0, .error = EIO}), std::invalid_argument);
  EXPECT_THROW((void)fi::arm({.op = sys_op::read, .error = EIO, .short_count = 3}),
               std::invalid_argument);
  EXPECT_THROW((void)fi::arm({.op = sys_op::read, .short_count = 0}), std::invalid_argument);
  EXPECT_THROW((void)fi::arm({.op = sys_op::fsync, .short_count = 3}), std::invalid_argument);
}

TEST(FaultInjection, FiresAtTheNthCallOnlyUnlessRepeatedAndStopsWhenDisarmed) {
  // Counted on a real reader: 3 chunks and a bit are 4 reads and one that finds the end.
  seen once = run_case(kind::reader, {{.op = sys_op::read, .nth = 2, .short_count = 100}});
  EXPECT_EQ(once.fired, std::vector<std::uint64_t>{1});
  EXPECT_EQ(once.calls[static_cast<std::size_t>(sys_op::read)], 6u);  // one more for the rest
  seen repeated =
      run_case(kind::reader, {{.op = sys_op::read, .nth = 2, .short_count = 8000, .repeat = true}});
  EXPECT_TRUE(same_bytes(repeated.output, input()));
  EXPECT_GE(repeated.fired[0], (input().size() - chunk) / 8000);  // from the 2nd read on
  // The earliest armed of two faults due at the same call applies.
  seen both = run_case(kind::reader,
                       {{.op = sys_op::read, .error = ENOSPC}, {.op = sys_op::read, .error = EIO}});
  EXPECT_EQ(both.error, std::errc::no_space_on_device);
  EXPECT_EQ(both.fired, (std::vector<std::uint64_t>{1, 0}));
  // Nothing armed: nothing counted, nothing injected.
  fi::disarm_all();
  const std::uint64_t before = fi::calls(sys_op::read);
  {
    boost::asio::io_context io;
    sluice::asio_loop loop(io);
    temp_dir dir;
    write_file(dir / "in.bin", input());
    auto in = sluice::make_file_reader(loop, dir / "in.bin");
    std::string data;
    in->on_data([&](buffer&& b) { data.append(b.view()); });
    io.run_for(20s);
    EXPECT_TRUE(same_bytes(data, input()));
  }
  EXPECT_EQ(fi::calls(sys_op::read), before);
}

TEST(FaultInjection, AScopedFaultIsDisarmedAtTheEndOfItsScope) {
  temp_dir dir;
  write_file(dir / "in.bin", input());
  fi::fault_id id = 0;
  {
    fi::scoped_fault f({.op = sys_op::read, .error = EIO, .repeat = true});
    id = f.id();
  }
  boost::asio::io_context io;
  sluice::asio_loop loop(io);
  auto in = sluice::make_file_reader(loop, dir / "in.bin");
  std::string data;
  in->on_data([&](buffer&& b) { data.append(b.view()); });
  io.run_for(20s);
  EXPECT_FALSE(in->errored()) << in->error_message();
  EXPECT_TRUE(same_bytes(data, input()));
  EXPECT_EQ(fi::fired(id), 0u);
}

}  // namespace
