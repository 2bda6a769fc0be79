// src/io/file_util.hpp (internal): what file.cpp and copy_file.cpp share, above all how a
// destination is opened and finished (docs/files.md, "Where the bytes go"):
//   - symbolic links are followed to the file they name, as cp and gzip do;
//   - a regular file, or a path that does not exist yet, is written through a temporary beside it
//     when the write is atomic, and keeps the mode and owner an existing file had;
//   - a character or block device, a FIFO or a socket is opened and written in place: never
//     truncated, created, or replaced by a rename; a directory is an error (EISDIR);
//   - with a source's attributes (gzip's rule), the output gets the source's mode, owner where
//     permitted and times, and never a mode more permissive than the source's.
#pragma once

#include <sys/stat.h>

#include <filesystem>
#include <optional>
#include <string>
#include <system_error>

#include "sluice/io/file.hpp"

namespace sluice::detail {

inline std::error_code sys_error(int err) { return {err, std::system_category()}; }

/// "<op> '<path>'", the context of an error message: "open 'x.log'".
[[nodiscard]] std::string quoted(const char* op, const std::filesystem::path& p);

/// `p` with every symbolic link along its last component followed (up to 40, then ELOOP), as
/// open(2) would: a dangling link gives the path it points to. Returns 0 or an errno value.
[[nodiscard]] int resolve_links(const std::filesystem::path& p, std::filesystem::path& out);

/// How a destination is to be opened.
struct destination_request {
  open_mode flags = open_mode::truncate;
  /// Permissions of a created file, before the umask (ignored with `source`).
  unsigned mode = 0666;
  /// Through a temporary file renamed over the target at the end (regular files only).
  bool atomic = false;
  /// The source whose mode, owner and times the output takes (gzip's rule), if any.
  const struct stat* source = nullptr;
};

/// Attributes given to a destination when it is finished, before it gets its final name.
struct final_attributes {
  std::optional<mode_t> mode;
  std::optional<uid_t> uid;
  std::optional<gid_t> gid;
  std::optional<struct timespec> atime;
  std::optional<struct timespec> mtime;
};

/// An open destination.
struct destination {
  int fd = -1;
  std::filesystem::path target;  ///< the final path, links followed
  std::filesystem::path temp;    ///< the temporary being written (atomic writes), or empty
  bool seekable = true;          ///< regular file or block device: written with pwritev
  final_attributes attributes;
};

/// Opens `target` as `req` asks (see the top of this file). Returns 0 or an errno value.
[[nodiscard]] int open_destination(const std::filesystem::path& target,
                                   const destination_request& req, destination& out);

/// The context of errc::source_changed if a file of `opened` bytes had `at_end` bytes at the end
/// and `done` were read from it: "read 'x' (N bytes when opened, M at the end, K read)"; nothing
/// if it did not change.
[[nodiscard]] std::optional<std::string> source_change(const std::filesystem::path& p,
                                                       std::uint64_t opened, std::uint64_t at_end,
                                                       std::uint64_t done, const char* done_what);

/// What finish_destination() found: 0, or an errno value and the operation that failed.
struct finish_result {
  int err = 0;
  const char* op = "";
};

/// The end of a written destination: its attributes applied, fsync(2) if `sync`, close(2), then
/// the temporary (if any) renamed over the target (commit_temp), or removed if anything failed.
[[nodiscard]] finish_result finish_destination(destination& d, bool sync, bool exclusive);

/// Closes a destination that will not be finished and removes its temporary.
void discard_destination(destination& d);

/// Makes `temp` (a finished temporary) the file `target`: rename(2), or link(2) + unlink(2) when
/// `exclusive` (link refuses to replace an existing file). The temporary is removed on failure.
/// Returns 0 or an errno value.
[[nodiscard]] int commit_temp(const std::filesystem::path& temp,
                              const std::filesystem::path& target, bool exclusive);

/// The registry remove_temporary_files() walks: a temporary is registered from its creation to
/// its rename or removal. Returns false when the registry is full (the file is then not removed
/// on a signal, but everything else works).
bool register_temp(const std::filesystem::path& temp) noexcept;
void unregister_temp(const std::filesystem::path& temp) noexcept;

}  // namespace sluice::detail
