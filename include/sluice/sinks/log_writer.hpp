// sluice/sinks/log_writer.hpp: structured logging as a stream.
//
//   - `log_record` is one record: a level, a message, typed fields (`log_value`) and a time.
//   - `log_writer` is a writable<log_record> (object mode). It formats each record as a JSON
//     line, a text line or a pretty line (colours only on a terminal) and writes the bytes to a
//     writable<buffer>; records at or above `error_level` go to a second one (stderr by default).
//   - `rotating_file_writer` is a writable<buffer> over a file that is rotated by size at chunk
//     boundaries (app.log -> app.log.1 ...), rotated files optionally gzipped, a bounded number
//     kept. make_log_file_writer() puts a log_writer in front of one.
//
// A record's write callback means its bytes were accepted by the destination's own write
// callback (for a file: written to the file), so a slow destination holds the log_writer back:
// its write() returns false and 'drain' comes once the destination caught up. docs/writers.md
// ("log_writer") has the formats, the rotation rules and the errors.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "sluice/core/writable.hpp"

namespace sluice {

// ---- Records -----------------------------------------------------------------------------------

/// Severity of a record, lowest first.
enum class log_level : std::uint8_t { trace, debug, info, warn, error, fatal };
inline constexpr std::size_t log_level_count = 6;

/// "trace", "debug", "info", "warn", "error", "fatal".
[[nodiscard]] std::string_view to_string(log_level level) noexcept;

/// A field's value. An `int` converts to std::int64_t, a string literal to std::string; an
/// unsigned 64-bit value does not convert (it may not fit): cast it.
using log_value = std::variant<std::nullptr_t, bool, std::int64_t, double, std::string>;

/// One record.
struct log_record {
  log_level level = log_level::info;
  std::string message{};
  /// In order; keys need not be unique (json_lines: see format_log_line).
  std::vector<std::pair<std::string, log_value>> fields{};
  /// When it happened. The default (the epoch) means "now": the time the record is formatted,
  /// which is when the log_writer takes it from its buffer.
  std::chrono::system_clock::time_point time{};
};

/// How a record becomes bytes. Each record is one line ending in '\n' in every format.
enum class log_format {
  /// {"time":"2026-12-05T23:59:01.123Z","level":"info","msg":"...","key":value,...}, written by
  /// Boost.JSON. A field named time, level or msg is written as _time, _level, _msg; of fields
  /// with the same key the last wins; a non-finite double is the string "NaN", "inf" or "-inf".
  json_lines,
  /// 2026-12-05T23:59:01.123Z INFO  message key=value key2="quoted value": for people (parse
  /// json_lines). Quoting rule in docs/writers.md.
  text,
  /// As text, each field on its own indented line ("    key: value"); coloured (level, keys)
  /// when colours are on.
  pretty,
};

/// Whether pretty lines are coloured (ANSI escapes). Other formats are never coloured.
enum class log_colour {
  automatic,  ///< only when the destination is a terminal (log_writer_options::terminal)
  always,
  never,
};

/// The time as RFC 3339 in UTC with milliseconds: "2026-12-05T23:59:01.123Z".
[[nodiscard]] std::string format_log_time(std::chrono::system_clock::time_point t);

/// One record as `format` writes it, '\n' included (`colour` matters only for pretty). A record
/// with the default time is formatted with the current time.
[[nodiscard]] std::string format_log_line(const log_record& record, log_format format,
                                          bool colour = false);

// ---- log_writer ---------------------------------------------------------------------------------

/// Options of a log_writer.
struct log_writer_options {
  log_format format = log_format::json_lines;
  /// Records below it are dropped (counted in log_writer_stats::dropped); their write callback
  /// succeeds.
  log_level min_level = log_level::info;
  /// Records at or above it go to `errors` (unless that is null).
  log_level error_level = log_level::error;
  log_colour colour = log_colour::automatic;
  /// The destination is a terminal (make_console_log_writer sets it with isatty(1)).
  bool terminal = false;
  /// Where records at or above error_level go. Unset: a new stderr writable (make_stderr),
  /// coloured when descriptor 2 is a terminal. nullptr: the destination, like every record.
  std::optional<std::shared_ptr<writable<buffer>>> errors{};
  /// A given `errors` writable is a terminal.
  bool errors_terminal = false;
  /// Records buffered at which write() returns false (object mode: default 16).
  std::optional<std::size_t> high_water_mark{};
  std::string name{};
};

/// What a log_writer did.
struct log_writer_stats {
  /// Records whose bytes the destination accepted, per level (index: the level's value).
  std::array<std::uint64_t, log_level_count> written{};
  /// Records below min_level.
  std::uint64_t dropped = 0;
  /// Records sent to the errors writable (also counted in `written`).
  std::uint64_t routed_to_errors = 0;
  /// Bytes the destinations accepted.
  std::uint64_t bytes_written = 0;
  /// Rotations of the destination when it is a rotating_file_writer (make_log_file_writer).
  std::uint64_t rotations = 0;
};

/// A writable<log_record> that formats records and writes them to byte writables it owns.
///
/// Exactly once, on a later tick, each write's callback runs: with success once the record's
/// bytes were accepted by its destination's write callback (or it was dropped below
/// min_level), or with the error that stopped it. Records are written in order; the ones
/// buffered while a batch is in flight go out as one batch (one corked write per destination).
/// A destination's failure fails the log_writer with the same error_code and its context
/// ("write 'app.log'"). end() ends the destinations and 'finish' waits for theirs; destroy()
/// destroys them. Create it with make_log_writer() and friends.
class log_writer final : public writable<log_record> {
 public:
  /// Prefer make_log_writer(). Throws std::system_error(errc::invalid_argument) for a null
  /// destination.
  log_writer(sluice::loop& l, std::shared_ptr<writable<buffer>> destination,
             log_writer_options opts);
  ~log_writer() override;

  /// The counters, as of now.
  [[nodiscard]] log_writer_stats stats() const;
  [[nodiscard]] const std::shared_ptr<writable<buffer>>& destination() const noexcept {
    return dest_;
  }
  /// The errors writable; null when errors go to the destination.
  [[nodiscard]] const std::shared_ptr<writable<buffer>>& errors() const noexcept { return errors_; }
  /// Whether lines to the destination / the errors writable are coloured.
  [[nodiscard]] bool coloured() const noexcept { return colour_dest_; }
  [[nodiscard]] bool errors_coloured() const noexcept { return colour_errors_; }

 protected:
  void do_write(log_record&& record, write_callback cb) override;
  bool do_writev(std::vector<log_record>& records, write_callback cb) override;
  void do_final(callback cb) override;
  void do_destroy(std::error_code ec, callback cb) override;

 private:
  struct batch;
  void write_records(log_record* records, std::size_t n, write_callback cb);
  void watch(const std::shared_ptr<writable<buffer>>& target);
  void unwatch() noexcept;
  void target_failed(writable<buffer>& target, std::error_code ec);
  std::shared_ptr<log_writer> self();

  std::shared_ptr<writable<buffer>> dest_;
  std::shared_ptr<writable<buffer>> errors_;  // null: errors go to dest_
  log_writer_options opts_;
  bool colour_dest_ = false;
  bool colour_errors_ = false;
  log_writer_stats stats_;
  // Our 'error' listeners on the destinations, removed at destroy and in the destructor.
  std::vector<std::pair<std::shared_ptr<writable<buffer>>, listener_id>> listeners_;
};

/// A log_writer over `destination`.
[[nodiscard]] std::shared_ptr<log_writer> make_log_writer(
    sluice::loop& l, std::shared_ptr<writable<buffer>> destination, log_writer_options opts = {});

/// A log_writer over the program's standard output (make_stdout), a terminal when isatty(1);
/// errors to stderr unless `opts.errors` says otherwise. Create one per program.
[[nodiscard]] std::shared_ptr<log_writer> make_console_log_writer(sluice::loop& l,
                                                                  log_writer_options opts = {});

// ---- rotating_file_writer -----------------------------------------------------------------------

/// Options of a rotating_file_writer.
struct rotating_file_options {
  std::filesystem::path path{};
  /// Size the file may reach; a chunk that would take it past this starts a new file first.
  /// 0: never rotate.
  std::uint64_t max_bytes = 10 * 1024 * 1024;
  /// Rotated files kept (path.1 newest ... path.<keep> oldest); 0 keeps none.
  unsigned keep = 5;
  /// Compress each rotated file to path.1.gz (sluice's gzip), then remove path.1.
  bool gzip_rotated = false;
  /// Permissions of created files, before the umask.
  unsigned mode = 0644;
  /// Buffered bytes at which write() returns false. Default: 64 KiB.
  std::optional<std::size_t> high_water_mark{};
  /// Name for diagnostics; default: the path.
  std::string name{};
};

/// A writable<buffer> that appends to a file and rotates it by size, never splitting a chunk.
///
/// Before a chunk that would take the file past max_bytes (and the file is not empty), the file
/// is rotated: path.<keep> (and .gz) is removed, path.<i> moves to path.<i+1>, path to path.1,
/// and a new path is created; a chunk larger than max_bytes goes alone into a fresh file. With
/// gzip_rotated, path.1 is then compressed to path.1.gz while writing goes on (the next rotation
/// waits for it) and removed once path.1.gz is complete. Each write's callback runs exactly once,
/// once its bytes are in the file or with the error that stopped them. A failing operation
/// fails the stream with the system's error code and a context that names it and the path:
/// "open 'app.log'", "rename 'app.log' to 'app.log.1'", "write 'app.log'", "gzip 'app.log.1'
/// ...". System calls run on the shared I/O pool; end() waits for a gzip in progress; destroy()
/// aborts it (the uncompressed file stays, no partial .gz is left). Create it with
/// make_rotating_file_writer().
class rotating_file_writer final : public writable<buffer> {
 public:
  /// Prefer make_rotating_file_writer(). Throws std::system_error(errc::invalid_argument) for
  /// an empty path or an out-of-range highWaterMark. The file is opened on the I/O pool.
  rotating_file_writer(sluice::loop& l, rotating_file_options opts);
  ~rotating_file_writer() override;

  [[nodiscard]] const std::filesystem::path& path() const noexcept { return opts_.path; }
  /// Size of the current file (as opened, plus what was written to it).
  [[nodiscard]] std::uint64_t current_size() const noexcept { return size_; }
  [[nodiscard]] std::uint64_t bytes_written() const noexcept { return bytes_written_; }
  /// Rotations done so far.
  [[nodiscard]] std::uint64_t rotations() const noexcept { return rotations_; }
  /// Rotated files compressed so far.
  [[nodiscard]] std::uint64_t gzipped() const noexcept { return gzipped_; }
  /// A rotated file is being compressed.
  [[nodiscard]] bool gzip_in_progress() const noexcept { return gzip_running_; }

 protected:
  void do_construct(callback cb) override;
  void do_write(buffer&& chunk, write_callback cb) override;
  bool do_writev(std::vector<buffer>& chunks, write_callback cb) override;
  void do_final(callback cb) override;
  void do_destroy(std::error_code ec, callback cb) override;

 private:
  struct job_result;
  void step();
  void on_job(job_result r);
  void start_gzip();
  void on_gzip(std::error_code ec, const std::string& what);
  void settle();
  void close_file(callback cb);
  [[nodiscard]] std::filesystem::path rotated(unsigned i, bool gz) const;
  std::shared_ptr<rotating_file_writer> self();

  rotating_file_options opts_;
  int fd_ = -1;  // used by the one job in flight only
  std::uint64_t size_ = 0;
  std::uint64_t bytes_written_ = 0;
  std::uint64_t rotations_ = 0;
  std::uint64_t gzipped_ = 0;
  std::vector<buffer> pending_;  // chunks of the write in flight not yet written, in order
  std::size_t next_ = 0;         // first of pending_ not yet written
  write_callback pending_cb_;
  bool write_pending_ = false;        // pending_cb_ is owed
  bool job_running_ = false;          // a job is on the pool
  bool gzip_running_ = false;         // a gzip pipeline is running
  std::function<void()> abort_gzip_;  // aborts the gzip pipeline (pipeline_handle::abort)
  callback final_cb_;                 // do_final waiting for a gzip
  callback destroy_cb_;               // do_destroy waiting for the job or the gzip
  std::error_code destroy_ec_;
};

/// A rotating_file_writer (the file is opened on the next ticks, on the I/O pool).
[[nodiscard]] std::shared_ptr<rotating_file_writer> make_rotating_file_writer(
    sluice::loop& l, rotating_file_options opts);

/// A log_writer over a rotating_file_writer. Colours never go into files: `log_opts.colour` and
/// `terminal` are ignored. `log_opts.errors` unset means "stderr", as for make_log_writer; pass
/// nullptr to keep every record in the file.
[[nodiscard]] std::shared_ptr<log_writer> make_log_file_writer(sluice::loop& l,
                                                               rotating_file_options file_opts,
                                                               log_writer_options log_opts = {});

}  // namespace sluice
