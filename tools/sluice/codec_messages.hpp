// tools/sluice/codec_messages.hpp: what the CLI says when a decompressor rejects its input.
//
// The library's message names the codec's own stage and an input offset ("stage 2 (gunzip):
// gunzip at input byte 0: not in the codec's format"). The CLI says it as gzip does, naming the
// file the bytes came from: "plain.gz: not in gzip format", and for the other kinds the offset
// after the reason: "x.gz: unexpected end of compressed data (at input byte 1234)". run_stages()
// (stages.hpp) prints it after "sluice: <command>: ".
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "run_syntax.hpp"
#include "sluice/compose/pipeline.hpp"

namespace sluice::cli {

/// The text after "sluice: <command>: " for `e`, a failure of the pipeline `stages` run by
/// `command`, when a codec stage failed on its input (a compress_errc); nothing otherwise.
///
/// The input is named when the codec reads the source directly: the file of a one-file `read`,
/// or "stdin". The "stage N (name): " prefix is kept for `run` and dropped when the stage is
/// the command itself (`sluice gunzip`), so no name is printed twice.
[[nodiscard]] std::optional<std::string> codec_error_message(const std::vector<stage_spec>& stages,
                                                             const pipeline_error& e,
                                                             const std::string& command);

/// The message for `e` after "sluice: <command>: ": codec_error_message() when it applies, else
/// e.message() without its "stage N (name): " prefix when that name is the command's.
[[nodiscard]] std::string failure_message(const std::vector<stage_spec>& stages,
                                          const pipeline_error& e, const std::string& command);

}  // namespace sluice::cli
