// The database stages of `sluice run` (db_stages.hpp).
#include "db_stages.hpp"

#include <charconv>
#include <chrono>
#include <cstdio>
#include <optional>
#include <utility>

#include "sluice/compose/supervise.hpp"
#include "sluice/db/postgres.hpp"
#include "sluice/db/sqlite.hpp"

namespace sluice::cli {

namespace {

// --restart N: a new writer after each failure `retryable` accepts, up to N within a minute,
// each failure told on stderr.
template <class Make>
std::shared_ptr<writable<db::record>> supervised(loop& l, std::size_t restarts, const char* stage,
                                                 bool (*retryable)(std::error_code), Make make) {
  if (restarts == 0) return make();
  restart_options o{.max_restarts = static_cast<unsigned>(restarts),
                    .window = std::chrono::minutes(1),
                    .retryable = retryable,
                    .on_restart =
                        [stage](const restart_event& e) {
                          if (e.gave_up) return;  // the pipeline's error says it
                          std::fprintf(stderr, "sluice: %s: %s; restart %u in %.1f s\n", stage,
                                       e.message.c_str(), e.restart,
                                       std::chrono::duration<double>(e.delay).count());
                        },
                    .name = stage};
  return supervise_sink<db::record>(
      l, [make](const restart_context&) { return make(); }, std::move(o));
}

bool pg_retryable(std::error_code ec) {
  return ec == db::pg_errc::connect_failed || ec == db::pg_errc::connection_lost;
}

bool sqlite_retryable(std::error_code ec) {
  // Locked by another connection, or not openable (yet): a directory to be mounted, say.
  return db::sqlite_busy(ec) || ec == std::errc::no_such_file_or_directory ||
         (ec.category() == db::sqlite_category() && (ec.value() & 0xff) == 14);  // CANTOPEN
}

}  // namespace

std::shared_ptr<writable<db::record>> sqlite_stage::make(build_context& ctx) const {
  db::sqlite_writer_options<db::record> o;
  o.batch_rows = batch;
  o.high_water_mark = 2 * batch;
  o.create_table = create;
  o.name = "sqlite";
  return supervised(ctx.loop, restarts, "sqlite", sqlite_retryable,
                    [&l = ctx.loop, path = path, table = table, o] {
                      return db::make_sqlite_record_writer(l, path, table, o);
                    });
}

std::shared_ptr<readable<db::record>> sqlite_query_stage::make(build_context& ctx) const {
  db::sqlite_reader_options o;
  o.name = "sqlite-query";
  return db::make_sqlite_record_reader(ctx.loop, path, sql, {}, std::move(o));
}

std::shared_ptr<writable<db::record>> pg_stage::make(build_context& ctx) const {
  db::pg_copy_options<db::record> o;
  o.batch.max_items = batch;
  o.batch.name = "pg";
  if (binary) o.format = db::pg_copy_format::binary;
  o.connections = connections;
  return supervised(ctx.loop, restarts, "pg", pg_retryable,
                    [&l = ctx.loop, conninfo = conninfo, table = table, o] {
                      return db::make_pg_record_writer(l, conninfo, table, o);
                    });
}

std::shared_ptr<readable<db::record>> pg_query_stage::make(build_context& ctx) const {
  return db::make_pg_record_reader(ctx.loop, conninfo, sql);
}

namespace {

using parse_result = std::variant<std::shared_ptr<const stage_config>, syntax_error>;

// The next word that is not an option, or an error saying that `what` is missing.
std::variant<std::string, syntax_error> word(stage_args& a, const std::string& what) {
  if (a.done()) return a.missing(what);
  const token& t = a.next();
  if (is_option(t)) return a.unexpected(t);
  return t.text;
}

// --batch N (rows per transaction), --connections N: a count, at least 1 and at most `max`.
std::optional<syntax_error> parse_count(stage_args& a, const token& t, const std::string& what,
                                        std::size_t max, std::size_t& out) {
  auto v = a.value_of(t);
  if (auto* e = std::get_if<syntax_error>(&v)) return *e;
  const token& n = *std::get<const token*>(v);
  std::size_t value = 0;
  const auto [end, ec] = std::from_chars(n.text.data(), n.text.data() + n.text.size(), value);
  if (ec != std::errc() || end != n.text.data() + n.text.size() || value == 0 || value > max)
    return error_at(n, a.name() + ": " + option_name(t) + " takes a number of " + what +
                           ", from 1 to " + std::to_string(max));
  out = value;
  return std::nullopt;
}

// TARGET NAME [options]: two words, then --batch (and --create, --binary, --connections for a
// stage that has it).
template <class Stage>
parse_result parse_sink(stage_args& a, std::string Stage::*first, const std::string& first_what) {
  auto s = std::make_shared<Stage>();
  auto f = word(a, first_what);
  if (auto* e = std::get_if<syntax_error>(&f)) return *e;
  (*s).*first = std::get<std::string>(std::move(f));
  auto table = word(a, "a table name");
  if (auto* e = std::get_if<syntax_error>(&table)) return *e;
  s->table = std::get<std::string>(std::move(table));
  while (!a.done()) {
    const token& t = a.next();
    const std::string name = is_option(t) ? option_name(t) : "";
    if (name == "--batch") {
      if (auto e = parse_count(a, t, "rows", 100'000'000, s->batch)) return *e;
      continue;
    }
    if (name == "--restart") {
      if (auto e = parse_count(a, t, "restarts", 1000, s->restarts)) return *e;
      continue;
    }
    if constexpr (requires { s->connections; }) {
      if (name == "--connections") {
        if (auto e = parse_count(a, t, "connections", 16, s->connections)) return *e;
        continue;
      }
    }
    if (t.text != name) return a.unexpected(t);  // a flag takes no value
    if constexpr (requires { s->create; }) {
      if (name == "--create") {
        s->create = true;
        continue;
      }
    }
    if constexpr (requires { s->binary; }) {
      if (name == "--binary") {
        s->binary = true;
        continue;
      }
    }
    return a.unexpected(t);
  }
  return s;
}

template <class Stage>
parse_result parse_source(stage_args& a, std::string Stage::*first, const std::string& first_what) {
  auto s = std::make_shared<Stage>();
  auto f = word(a, first_what);
  if (auto* e = std::get_if<syntax_error>(&f)) return *e;
  (*s).*first = std::get<std::string>(std::move(f));
  auto sql = word(a, "a query");
  if (auto* e = std::get_if<syntax_error>(&sql)) return *e;
  s->sql = std::get<std::string>(std::move(sql));
  if (!a.done()) return a.unexpected(a.next());
  return s;
}

}  // namespace

parse_result parse_sqlite_stage(stage_args& a) {
  return parse_sink<sqlite_stage>(a, &sqlite_stage::path, "a database file");
}
parse_result parse_sqlite_query_stage(stage_args& a) {
  return parse_source<sqlite_query_stage>(a, &sqlite_query_stage::path, "a database file");
}
parse_result parse_pg_stage(stage_args& a) {
  return parse_sink<pg_stage>(a, &pg_stage::conninfo, "a connection string");
}
parse_result parse_pg_query_stage(stage_args& a) {
  return parse_source<pg_query_stage>(a, &pg_query_stage::conninfo, "a connection string");
}

}  // namespace sluice::cli
