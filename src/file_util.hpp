// src/file_util.hpp (internal): what file.cpp and copy_file.cpp share.
#pragma once

#include <filesystem>
#include <string>
#include <system_error>

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

/// Makes `temp` (a finished temporary) the file `target`: rename(2), or link(2) + unlink(2) when
/// `exclusive` (link refuses to replace an existing file). The temporary is removed on failure.
/// Returns 0 or an errno value.
[[nodiscard]] int commit_temp(const std::filesystem::path& temp,
                              const std::filesystem::path& target, bool exclusive);

}  // namespace sluice::detail
