// tools/sluice/record_stages.hpp: `sluice run` stages that carry rows (db::record) instead of
// bytes, and how a run of them becomes one byte stage of the pipeline.
//
// A run expression is a byte pipeline. A *record segment* is a stretch of it that carries
// records: it starts with a stage that makes records (a parser such as `csv`, bytes in; or a
// record source such as a database query, nothing in) and ends with one that takes them (a
// formatter such as `to-jsonl`, bytes out; or a record sink such as a database table, nothing
// out). build_record_segment() turns the segment into one byte stage: parser and formatter are
// composed (sluice/compose/compose.hpp) into a duplex<buffer, buffer>; a record sink sits behind
// a small transform that writes into it with its backpressure and ends it at the end (its
// output is empty, so the implicit stdout after it prints nothing); a record source is piped
// into the first record-taking stage, which becomes the pipeline's source.
//
// Adding a kind is one table entry (stage_kinds.cpp) with a role of stage_role::record_parser,
// record_formatter, record_source or record_sink and a config derived from the matching
// *_config below, whose make() returns the stream. run_syntax.cpp checks that bytes and records
// meet only where they should.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "sluice/compose/runtime_pipeline.hpp"
#include "sluice/core/readable.hpp"
#include "sluice/core/transform.hpp"
#include "sluice/core/writable.hpp"
#include "sluice/db/row.hpp"
#include "stage_kinds.hpp"

namespace sluice::cli {

/// A record stage's options. build() is not used (record stages are built per segment).
struct record_stage_config : stage_config {
  [[nodiscard]] byte_stage build(build_context& ctx) const override;
};
/// bytes → records (csv, jsonl).
struct record_parser_config : record_stage_config {
  [[nodiscard]] virtual std::shared_ptr<transform<buffer, db::record>> make(
      build_context& ctx) const = 0;
};
/// records → bytes (to-csv, to-jsonl).
struct record_formatter_config : record_stage_config {
  [[nodiscard]] virtual std::shared_ptr<transform<db::record, buffer>> make(
      build_context& ctx) const = 0;
};
/// nothing → records: a database query (sqlite-query, pg-query).
struct record_source_config : record_stage_config {
  [[nodiscard]] virtual std::shared_ptr<readable<db::record>> make(build_context& ctx) const = 0;
};
/// records → nothing: a database table (sqlite, pg). Each write's callback (its
/// acknowledgement) is the sink's affair; the segment ends it and waits for its 'finish'.
struct record_sink_config : record_stage_config {
  [[nodiscard]] virtual std::shared_ptr<writable<db::record>> make(build_context& ctx) const = 0;
};

/// One record segment built: the byte stage the pipeline runs, and the streams of the segment's
/// own stages, in order, one per stage of the expression (for --stats and error messages).
struct record_segment {
  byte_stage stage;
  std::vector<std::shared_ptr<stream>> streams;
};

/// Builds specs[first, last] (a parser or source, then a formatter or sink: the syntax check
/// guarantees it) into one byte stage. `ctx.index` and `ctx.name` are set per stage.
[[nodiscard]] record_segment build_record_segment(const std::vector<stage_spec>& specs,
                                                  std::size_t first, std::size_t last,
                                                  build_context& ctx);

/// The stream's own error message (its context and code), for the stage of a segment that
/// failed first: the index in `streams` of the first with an error context, else the first
/// errored; streams.size() when none did.
[[nodiscard]] std::size_t failed_stream(const std::vector<std::shared_ptr<stream>>& streams);

// ---- The kinds --------------------------------------------------------------------------------

/// csv [--header] [--sep C] [--ragged] [--skip-bad]
struct csv_stage final : record_parser_config {
  bool header = false;
  char separator = ',';
  bool ragged = false;
  bool skip_bad = false;  // --skip-bad: a record with a wrong field count is skipped, reported
  [[nodiscard]] std::shared_ptr<transform<buffer, db::record>> make(
      build_context& ctx) const override;
};
/// jsonl [--nested-as-text] [--skip-bad]
struct jsonl_stage final : record_parser_config {
  bool nested_as_text = false;
  bool skip_bad = false;  // --skip-bad: a line that is not a row is skipped, reported
  [[nodiscard]] std::shared_ptr<transform<buffer, db::record>> make(
      build_context& ctx) const override;
};
/// to-csv [--header] [--sep C]
struct to_csv_stage final : record_formatter_config {
  bool header = false;
  char separator = ',';
  [[nodiscard]] std::shared_ptr<transform<db::record, buffer>> make(
      build_context& ctx) const override;
};
/// to-jsonl
struct to_jsonl_stage final : record_formatter_config {
  [[nodiscard]] std::shared_ptr<transform<db::record, buffer>> make(
      build_context& ctx) const override;
};

/// The table entries' parsers.
std::variant<std::shared_ptr<const stage_config>, syntax_error> parse_csv_stage(stage_args& a);
std::variant<std::shared_ptr<const stage_config>, syntax_error> parse_jsonl_stage(stage_args& a);
std::variant<std::shared_ptr<const stage_config>, syntax_error> parse_to_csv_stage(stage_args& a);
std::variant<std::shared_ptr<const stage_config>, syntax_error> parse_to_jsonl_stage(stage_args& a);

}  // namespace sluice::cli
