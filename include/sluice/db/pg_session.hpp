// sluice/db/pg_session.hpp: one libpq connection driven by an asio_loop (internal to postgres.hpp).
//
// pg_session connects (a blocking PQconnectdb on the I/O pool, then non-blocking mode) and runs
// one COPY at a time: copy_in sends a batch of COPY text in chunks, waiting with Asio for the
// socket to be writable whenever PQflush reports it full, and reports the COPY's result;
// copy_out hands out COPY TO STDOUT lines only while its consumer takes them, and reads the
// socket only when asked for more, so a consumer that stops stops the server. libpq stays
// behind the pimpl: no public header includes libpq-fe.h.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "sluice/core/asio_loop.hpp"

namespace sluice::db {

/// Errors of the PostgreSQL streams (category "sluice.postgres"). The message of the stream
/// that failed (stream::error_message()) has the server's own words and names the server.
enum class pg_errc {
  connect_failed = 1,  ///< no connection could be made (refused, bad conninfo, auth)
  connection_lost,     ///< the connection broke during a COPY
  server_error,        ///< the server refused the statement or the data (a constraint, a type)
  bad_value,           ///< a value does not convert: a column to the reader's field type, or a
                       ///< field to its column's type (binary COPY)
  aborted,             ///< the stream was destroyed while the operation was in flight
};
[[nodiscard]] const std::error_category& pg_category() noexcept;
[[nodiscard]] std::error_code make_error_code(pg_errc e) noexcept;

}  // namespace sluice::db

template <>
struct std::is_error_code_enum<sluice::db::pg_errc> : std::true_type {};

namespace sluice::db::detail {

/// How an operation ended: ec empty on success; else what the server said, and for a COPY
/// error the server's "line N" of the data (0 if it named none).
struct pg_outcome {
  std::error_code ec;
  std::string message;
  std::uint64_t line = 0;
};

class pg_session {
 public:
  /// Does not connect yet: the first operation does (and the first after a lost connection).
  pg_session(asio_loop& l, std::string conninfo);
  pg_session(const pg_session&) = delete;
  pg_session& operator=(const pg_session&) = delete;
  /// close()s.
  ~pg_session();

  /// What a copy_in source did with the chunk it was given: filled it with more data, with the
  /// last of it, or gave up (the COPY is then ended with an error and rolled back).
  enum class copy_step : std::uint8_t { more, last, abort };
  /// Fills `chunk` (empty when called) with the next piece of COPY data.
  using copy_source = std::function<copy_step(std::string& chunk)>;
  /// In the server's message for a COPY its source gave up.
  static constexpr const char* abandoned = "sluice: a row could not be encoded";

  /// Runs `sql` (a COPY ... FROM STDIN) and sends what `source` makes, asking it for a chunk
  /// only when the socket took the previous one; then ends the COPY and calls `done` once with
  /// its result (success: the rows are committed). Never calls `done` from within this function.
  void copy_in(std::string sql, copy_source source, std::function<void(pg_outcome)> done);

  /// Runs `sql` and calls `done` once with the names of its result's columns and their type
  /// OIDs (pg_type.oid), in order.
  using describe_done =
      std::function<void(pg_outcome, std::vector<std::string>, std::vector<std::uint32_t>)>;
  void describe(std::string sql, describe_done done);

  /// Starts `sql` (a COPY ... TO STDOUT); then copy_out_next hands out its lines.
  void copy_out_start(std::string sql, std::function<void(pg_outcome)> done);
  /// Calls on_line(line) for each line while it returns true, reading the socket as needed; when
  /// on_line returns false, stops (call again for more). At the end of the data, or on an error,
  /// calls on_end once instead. Lines, and the end, may be delivered from within this function.
  void copy_out_next(std::function<bool(std::string_view)> on_line,
                     std::function<void(pg_outcome)> on_end);

  /// Closes the connection; an operation in flight completes with pg_errc::aborted (later).
  void close();

  /// "postgres /tmp/pg:5432 dbname postgres": for error messages.
  [[nodiscard]] const std::string& server() const noexcept;

  struct impl;

 private:
  std::shared_ptr<impl> impl_;
};

}  // namespace sluice::db::detail
