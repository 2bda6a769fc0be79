// tools/sluice/db_stages.hpp: `sluice run` stages that load and read databases, as record sinks
// and record sources (record_stages.hpp): `sqlite FILE TABLE [--create] [--batch N]`,
// `sqlite-query FILE SQL`, `pg CONNINFO TABLE [--batch N]`, `pg-query CONNINFO SQL`.
//
// A sink's writes are acknowledged only once their batch is committed (docs/databases.md), so
// the pipeline's backpressure is the database's own pace and `--stats` shows the time the stages
// before it spent waiting for it. `--restart N` puts a sink under the restart policy
// (compose/supervise.hpp): a lost connection (pg) or a locked or unopenable database (sqlite)
// makes a new writer after a backoff, up to N times a minute, which gets every row not yet
// committed again.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <variant>

#include "record_stages.hpp"

namespace sluice::cli {

/// sqlite FILE TABLE [--create] [--batch N]
struct sqlite_stage final : record_sink_config {
  std::string path;
  std::string table;
  bool create = false;
  std::size_t batch = 1000;
  std::size_t restarts = 0;  // --restart N: restarts allowed within a minute (0: none)
  [[nodiscard]] std::shared_ptr<writable<db::record>> make(build_context& ctx) const override;
};
/// sqlite-query FILE SQL
struct sqlite_query_stage final : record_source_config {
  std::string path;
  std::string sql;
  [[nodiscard]] std::shared_ptr<readable<db::record>> make(build_context& ctx) const override;
};
/// pg CONNINFO TABLE [--batch N]
struct pg_stage final : record_sink_config {
  std::string conninfo;
  std::string table;
  std::size_t batch = 10000;
  bool binary = false;          // --binary: binary COPY (type-exact, by the table's column types)
  std::size_t connections = 2;  // --connections N: batches in flight, each on a connection
  std::size_t restarts = 0;     // --restart N: restarts allowed within a minute (0: none)
  [[nodiscard]] std::shared_ptr<writable<db::record>> make(build_context& ctx) const override;
};
/// pg-query CONNINFO SQL
struct pg_query_stage final : record_source_config {
  std::string conninfo;
  std::string sql;
  [[nodiscard]] std::shared_ptr<readable<db::record>> make(build_context& ctx) const override;
};

std::variant<std::shared_ptr<const stage_config>, syntax_error> parse_sqlite_stage(stage_args& a);
std::variant<std::shared_ptr<const stage_config>, syntax_error> parse_sqlite_query_stage(
    stage_args& a);
std::variant<std::shared_ptr<const stage_config>, syntax_error> parse_pg_stage(stage_args& a);
std::variant<std::shared_ptr<const stage_config>, syntax_error> parse_pg_query_stage(stage_args& a);

}  // namespace sluice::cli
