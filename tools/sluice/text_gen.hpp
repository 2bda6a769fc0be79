// tools/sluice/text_gen.hpp: compressible test text for the demo and the tests.
//
// The demo needs a large, realistic, compressible input when the user names no file. It writes
// log-like lines (timestamp, level, component, a sentence of common words, a few numbers) from a
// fixed pseudo-random sequence, so the same size always gives the same bytes. gzip -6 shrinks
// it about as much as a real application log (to roughly a fifth).
#pragma once

#include <cstdint>
#include <string>
#include <system_error>

namespace sluice::cli {

/// Appends lines to `out` until it holds at least `size` bytes, then cuts it to exactly `size`
/// (the last line may lose its end). `seed` picks the sequence; the same seed, the same text.
void generate_text(std::string& out, std::uint64_t size, std::uint64_t seed = 1);

/// Writes `size` bytes of generate_text() output to `path` (created or truncated), in blocks.
/// Returns the error of the first failing call ("open"/"write"/"close" in `what`).
[[nodiscard]] std::error_code write_text_file(const std::string& path, std::uint64_t size,
                                              std::string* what = nullptr);

}  // namespace sluice::cli
