// COPY statements, batch error messages and the record factories (sluice/db/postgres.hpp).
#include "sluice/db/postgres.hpp"

namespace sluice::db {

namespace detail {

namespace {
// The columns as quoted identifiers, comma-separated: the names exactly as given ("Id" stays
// "Id").
std::string column_list(const std::vector<std::string>& columns) {
  std::string list;
  for (std::size_t i = 0; i < columns.size(); ++i) {
    if (i != 0) list += ", ";
    list += '"';
    for (char c : columns[i]) {
      if (c == '"') list += '"';
      list += c;
    }
    list += '"';
  }
  return list;
}
}  // namespace

std::string pg_copy_sql(std::string_view table, const std::vector<std::string>& columns,
                        pg_copy_format format) {
  std::string sql = "COPY ";
  sql += table;
  if (!columns.empty()) sql += " (" + column_list(columns) + ")";
  sql += " FROM STDIN";
  if (format == pg_copy_format::binary) sql += " (FORMAT binary)";
  return sql;
}

std::string pg_columns_sql(std::string_view table, const std::vector<std::string>& columns) {
  return "SELECT " + (columns.empty() ? std::string("*") : column_list(columns)) + " FROM " +
         std::string(table) + " LIMIT 0";
}

std::string pg_batch_error(std::string_view table, std::uint64_t batch_number,
                           std::uint64_t first_index, std::size_t rows, const pg_outcome& o) {
  std::string m = "postgres COPY " + std::string(table) + ": ";
  if (o.line != 0 && o.line <= rows) {
    m += "row " + std::to_string(first_index + o.line - 1) + " (line " + std::to_string(o.line) +
         " of batch " + std::to_string(batch_number) + "): ";
  } else {
    m += "batch " + std::to_string(batch_number) + " (rows " + std::to_string(first_index) + ".." +
         std::to_string(first_index + rows - 1) + "): ";
  }
  return m + o.message;
}

}  // namespace detail

namespace {
asio_loop& need_asio(loop& l, const char* what) {
  auto* a = dynamic_cast<asio_loop*>(&l);
  if (a == nullptr)
    throw std::system_error(make_error_code(errc::invalid_argument),
                            std::string(what) + ": needs an asio_loop (it waits on a socket)");
  return *a;
}
}  // namespace

void pg_execute(asio_loop& l, std::string conninfo, std::string sql,
                std::function<void(std::error_code, const std::string& message)> done) {
  auto session = std::make_shared<detail::pg_session>(l, std::move(conninfo));
  // The callback keeps the session alive until the statement is over.
  session->describe(std::move(sql),
                    [session, done = std::move(done)](detail::pg_outcome o, auto&&, auto&&) {
                      done(o.ec, o.message);
                      session->close();
                    });
}

std::shared_ptr<writable<record>> make_pg_record_writer(loop& l, std::string conninfo,
                                                        std::string table,
                                                        pg_copy_options<record> o) {
  return make_pg_copy_writer<record>(need_asio(l, "make_pg_record_writer"), std::move(conninfo),
                                     std::move(table), std::move(o));
}

std::shared_ptr<readable<record>> make_pg_record_reader(loop& l, std::string conninfo,
                                                        std::string query) {
  return make_pg_reader<record>(need_asio(l, "make_pg_record_reader"), std::move(conninfo),
                                std::move(query));
}

}  // namespace sluice::db
