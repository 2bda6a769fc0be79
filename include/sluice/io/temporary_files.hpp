// sluice/io/temporary_files.hpp: removing the temporary files of atomic writes when a signal ends
// the program.
//
// An atomic file_writer or copy_file writes to ".<name>.sluice-XXXXXX" beside its target and
// renames it into place at the end; destroyed or failed, it removes the temporary itself. A signal
// whose default action ends the process (SIGINT at a terminal, SIGTERM from kill, SIGHUP when the
// terminal closes) gives it no chance to: the temporary would stay behind. The library keeps the
// paths of the temporaries it has open in a fixed table that a signal handler can walk:
//
//   int main() {
//     sluice::remove_temporary_files_on({SIGINT, SIGTERM, SIGHUP});  // once, at startup
//     ...
//   }
//
// On one of those signals the handler removes every temporary, then lets the signal end the
// process as it would have (so the shell sees 130, 143 or 129). A program with its own handlers
// calls remove_temporary_files() from them instead. Nothing is left under the final name either:
// it is only ever written by the rename. docs/files.md has the rules.
#pragma once

#include <initializer_list>
#include <system_error>

namespace sluice {

/// Removes (unlink(2)) the temporary file of every atomic write in progress. Async-signal-safe:
/// no allocation, no lock. The writes themselves then fail when they finish; call it only on
/// the way out. At most 64 temporaries are tracked at once (more are written, and removed when
/// their writes end, but not by this call).
void remove_temporary_files() noexcept;

/// Installs, for each of `signals`, a handler that calls remove_temporary_files() and re-raises
/// the signal with its default action (SA_RESETHAND), so the process ends as the signal says.
/// A signal ignored at entry (nohup, `trap '' HUP`) is left ignored. Returns the error of
/// sigaction(2), if any (EINVAL for a signal that cannot be caught).
[[nodiscard]] std::error_code remove_temporary_files_on(std::initializer_list<int> signals);

}  // namespace sluice
