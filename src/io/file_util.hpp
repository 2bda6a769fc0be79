// src/io/file_util.hpp (internal): what file.cpp and copy_file.cpp share.
#pragma once

#include <filesystem>
#include <string>
#include <system_error>

#include "sluice/io/file.hpp"

namespace sluice::detail {

inline std::error_code sys_error(int err) { return {err, std::system_category()}; }

/// "<op> '<path>'", the context of an error message: "open 'x.log'".
[[nodiscard]] std::string quoted(const char* op, const std::filesystem::path& p);

/// open(2), retried on EINTR. Returns the fd or -1 (errno set).
[[nodiscard]] int open_retrying(const std::filesystem::path& p, int flags, unsigned mode = 0);

/// Creates ".<name>.sluice-XXXXXX" next to `target` exclusively, sets `temp` to its path and
/// returns the fd, or -1 (errno set).
[[nodiscard]] int open_temp_beside(const std::filesystem::path& target, unsigned mode,
                                   std::filesystem::path& temp);

/// Opens a destination the way file_writer_options describe it: `atomic`, a temporary beside
/// `target` (set in `temp`; with `exclusive`, an existing target is refused first); otherwise
/// `target` itself, truncated, appended to or created exclusively. Returns the fd, or -1 with
/// errno set (and `temp` empty).
[[nodiscard]] int open_destination(const std::filesystem::path& target, open_mode flags,
                                   unsigned mode, bool atomic, std::filesystem::path& temp);

/// What finish_destination() found: 0, or an errno value and the operation that failed.
struct finish_result {
  int err = 0;
  const char* op = "";
};

/// The end of a written destination: fsync(2) if `sync`, close(2), then, for an atomic write
/// (`temp` not empty), the temporary renamed over `target` (commit_temp), or removed if anything
/// failed.
[[nodiscard]] finish_result finish_destination(int fd, bool sync, const std::filesystem::path& temp,
                                               const std::filesystem::path& target, bool exclusive);

/// Makes `temp` (a finished temporary) the file `target`: rename(2), or link(2) + unlink(2) when
/// `exclusive` (link refuses to replace an existing file). The temporary is removed on failure.
/// Returns 0 or an errno value.
[[nodiscard]] int commit_temp(const std::filesystem::path& temp,
                              const std::filesystem::path& target, bool exclusive);

}  // namespace sluice::detail
