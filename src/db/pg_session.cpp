// One libpq connection on an asio_loop: COPY in and out without blocking the loop
// (sluice/db/pg_session.hpp).
#include "sluice/db/pg_session.hpp"

#include <libpq-fe.h>

#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/post.hpp>
#include <cstdlib>
#include <optional>
#include <utility>

#include "sluice/core/detail/io_pool.hpp"

namespace sluice::db {

namespace {
class pg_category_impl final : public std::error_category {
 public:
  [[nodiscard]] const char* name() const noexcept override { return "sluice.postgres"; }
  [[nodiscard]] std::string message(int v) const override {
    switch (static_cast<pg_errc>(v)) {
      case pg_errc::connect_failed:
        return "could not connect to the PostgreSQL server";
      case pg_errc::connection_lost:
        return "connection to the PostgreSQL server lost";
      case pg_errc::server_error:
        return "the PostgreSQL server reported an error";
      case pg_errc::bad_value:
        return "a value does not convert to its field or column type";
      case pg_errc::aborted:
        return "PostgreSQL operation aborted";
    }
    return "unknown PostgreSQL error";
  }
};
}  // namespace

const std::error_category& pg_category() noexcept {
  static const pg_category_impl c;
  return c;
}

std::error_code make_error_code(pg_errc e) noexcept { return {static_cast<int>(e), pg_category()}; }

}  // namespace sluice::db

namespace sluice::db::detail {

namespace {

// The server as a person would name it, from the conninfo (before any connection exists).
std::string describe_server(const std::string& conninfo) {
  char* err = nullptr;
  PQconninfoOption* opts = PQconninfoParse(conninfo.c_str(), &err);
  if (opts == nullptr) {
    std::string m = err != nullptr ? err : "out of memory";
    if (err != nullptr) PQfreemem(err);
    while (!m.empty() && m.back() == '\n') m.pop_back();
    return "postgres (conninfo not understood: " + m + ")";
  }
  std::string host, port, db, user;
  for (PQconninfoOption* o = opts; o->keyword != nullptr; ++o) {
    const std::string_view k = o->keyword;
    const char* v = o->val;
    if (v == nullptr || *v == '\0') continue;
    if (k == "host" || (k == "hostaddr" && host.empty()))
      host = v;
    else if (k == "port")
      port = v;
    else if (k == "dbname")
      db = v;
    else if (k == "user")
      user = v;
  }
  PQconninfoFree(opts);
  if (host.empty()) host = "/var/run/postgresql";
  if (port.empty()) port = "5432";
  if (db.empty()) db = user;
  return "postgres " + host + ":" + port + (db.empty() ? "" : " dbname " + db);
}

std::string trimmed(const char* s) {
  std::string m = s != nullptr ? s : "";
  while (!m.empty() && (m.back() == '\n' || m.back() == ' ')) m.pop_back();
  return m;
}

// Owns a PGconn on its way back from the pool thread.
struct conn_box {
  PGconn* c = nullptr;
  conn_box() = default;
  conn_box(const conn_box&) = delete;
  conn_box& operator=(const conn_box&) = delete;
  ~conn_box() {
    if (c != nullptr) PQfinish(c);
  }
};

}  // namespace

struct pg_session::impl : std::enable_shared_from_this<impl> {
  using done_fn = std::function<void(pg_outcome)>;
  using step = void (impl::*)();

  impl(asio_loop& l, std::string ci) : loop_(l), conninfo_(std::move(ci)) {
    server_ = describe_server(conninfo_);
  }
  ~impl() { drop_connection(); }

  asio_loop& loop_;
  std::string conninfo_;
  std::string server_;
  PGconn* conn_ = nullptr;
  std::optional<boost::asio::posix::stream_descriptor> sock_;
  bool closed_ = false;
  bool busy_ = false;  // an operation is under way (one at a time)

  done_fn done_;  // the operation's completion (copy_in, describe, copy_out_start, copy_out end)
  std::function<bool(std::string_view)> on_line_;  // copy_out_next's consumer
  std::string sql_;
  copy_source source_;   // copy_in's rows, a chunk at a time
  std::string chunk_;    // the chunk being handed to libpq
  std::size_t pos_ = 0;  // how much of it libpq has taken
  bool source_done_ = false;
  bool aborting_ = false;                   // the source gave up: the COPY ends with an error
  std::optional<pg_outcome> result_error_;  // the first error result of the statement
  std::vector<std::string>* names_ = nullptr;
  std::vector<std::uint32_t>* types_ = nullptr;  // describe's column types (with names_)
  bool copy_out_ready_ = false;                  // copy_out_start's result was COPY OUT

  // ---- completion -------------------------------------------------------------------------

  void finish(pg_outcome o) {
    busy_ = false;
    names_ = nullptr;
    types_ = nullptr;
    on_line_ = nullptr;
    source_ = nullptr;
    chunk_.clear();
    chunk_.shrink_to_fit();
    if (auto d = std::move(done_)) {
      done_ = nullptr;
      d(std::move(o));
    }
  }
  // Completes on a later turn of the loop (never from within the caller's call).
  void finish_later(pg_outcome o) {
    busy_ = false;
    names_ = nullptr;
    types_ = nullptr;
    source_ = nullptr;
    auto d = std::move(done_);
    done_ = nullptr;
    on_line_ = nullptr;
    if (d) loop_.post([d = std::move(d), o = std::move(o)] { d(o); });
  }

  pg_outcome lost(std::string_view what) {
    pg_outcome o{make_error_code(pg_errc::connection_lost),
                 server_ + ": connection lost during " + std::string(what) + ": " +
                     trimmed(conn_ != nullptr ? PQerrorMessage(conn_) : "no connection"),
                 0};
    drop_connection();
    return o;
  }

  void fail_connection(std::string_view what) { finish(lost(what)); }

  void drop_connection() {
    if (sock_) {
      boost::system::error_code ignored;
      sock_->cancel(ignored);
      (void)sock_->release();  // libpq owns the descriptor
      sock_.reset();
    }
    if (conn_ != nullptr) {
      PQfinish(conn_);
      conn_ = nullptr;
    }
  }

  // ---- waiting for the socket -------------------------------------------------------------

  void wait(boost::asio::posix::stream_descriptor::wait_type type, step next) {
    sock_->async_wait(type, [self = shared_from_this(), next](boost::system::error_code) {
      if (self->closed_ || self->conn_ == nullptr) return;  // close() completed the operation
      ((*self).*next)();
    });
  }

  // ---- connecting -------------------------------------------------------------------------

  // Connects if there is no healthy connection, then runs `next`.
  // Starts the statement `sql` (done_ set by the caller): or, on a closed or busy session,
  // reports that on a later tick. Returns whether it started.
  bool start(std::string sql, std::vector<std::string>* names) {
    if (closed_ || busy_) {
      finish_later({make_error_code(pg_errc::aborted), server_ + ": session closed or busy", 0});
      return false;
    }
    busy_ = true;
    sql_ = std::move(sql);
    names_ = names;
    with_connection(&impl::send_query);
    return true;
  }

  void with_connection(step next) {
    if (conn_ != nullptr && PQstatus(conn_) == CONNECTION_OK) {
      // Still on the caller's call: go on from the loop, so done_ is never called from within.
      loop_.post([self = shared_from_this(), next] {
        if (!self->closed_) ((*self).*next)();
      });
      return;
    }
    drop_connection();
    auto self = shared_from_this();
    sluice::detail::run_blocking(
        sluice::detail::io_pool::shared(), loop_,
        [ci = conninfo_] {
          auto box = std::make_shared<conn_box>();
          box->c = PQconnectdb(ci.c_str());
          if (box->c != nullptr && PQstatus(box->c) == CONNECTION_OK) {
            // Text output the readers can parse whatever the server's defaults.
            PGresult* r = PQexec(box->c, "SET TimeZone TO 'UTC'; SET DateStyle TO 'ISO'");
            PQclear(r);
          }
          return box;
        },
        [self, next](std::shared_ptr<conn_box> box) {
          if (self->closed_) return;
          if (box->c == nullptr || PQstatus(box->c) != CONNECTION_OK) {
            self->finish({make_error_code(pg_errc::connect_failed),
                          "connect to " + self->server_ + ": " +
                              trimmed(box->c != nullptr ? PQerrorMessage(box->c) : "out of memory"),
                          0});
            return;
          }
          self->conn_ = std::exchange(box->c, nullptr);
          if (PQsetnonblocking(self->conn_, 1) != 0) {
            self->fail_connection("connect");
            return;
          }
          self->server_ = "postgres " + std::string(PQhost(self->conn_)) + ":" +
                          PQport(self->conn_) + " dbname " + PQdb(self->conn_);
          self->sock_.emplace(self->loop_.context(), PQsocket(self->conn_));
          ((*self).*next)();
        });
  }

  // ---- statements -------------------------------------------------------------------------

  step after_send_ = nullptr;

  void send_query() {
    result_error_.reset();
    if (PQsendQuery(conn_, sql_.c_str()) == 0) {
      fail_connection("send");
      return;
    }
    flush_then_await();
  }
  void flush_then_await() {
    const int r = PQflush(conn_);
    if (r < 0) return fail_connection("send");
    if (r == 1)
      return wait(boost::asio::posix::stream_descriptor::wait_write, &impl::flush_then_await);
    await_result();
  }

  // Reads results until libpq has one (or none: the statement is over), then acts on it.
  void await_result() {
    for (;;) {
      if (PQconsumeInput(conn_) == 0) return fail_connection("read");
      if (PQisBusy(conn_) != 0)
        return wait(boost::asio::posix::stream_descriptor::wait_read, &impl::await_result);
      PGresult* r = PQgetResult(conn_);
      if (r == nullptr) return statement_over();
      const ExecStatusType st = PQresultStatus(r);
      if (st == PGRES_COPY_IN) {
        PQclear(r);
        return put_data();
      }
      if (st == PGRES_COPY_OUT) {
        PQclear(r);
        copy_out_ready_ = true;
        return finish({});
      }
      if (st == PGRES_TUPLES_OK && names_ != nullptr) {
        for (int i = 0; i < PQnfields(r); ++i) {
          names_->emplace_back(PQfname(r, i));
          if (types_ != nullptr) types_->push_back(PQftype(r, i));
        }
      } else if (st == PGRES_FATAL_ERROR || st == PGRES_BAD_RESPONSE ||
                 st == PGRES_NONFATAL_ERROR) {
        if (!result_error_) result_error_ = error_of(r);
      }
      PQclear(r);
      if (PQstatus(conn_) == CONNECTION_BAD) return fail_connection("the statement");
    }
  }

  pg_outcome error_of(const PGresult* r) {
    const char* state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
    const char* primary = PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY);
    const char* detail = PQresultErrorField(r, PG_DIAG_MESSAGE_DETAIL);
    const char* context = PQresultErrorField(r, PG_DIAG_CONTEXT);
    pg_outcome o{make_error_code(pg_errc::server_error), {}, 0};
    o.message = primary != nullptr ? primary : trimmed(PQresultErrorMessage(r));
    if (detail != nullptr) o.message += std::string(" (") + detail + ")";
    if (state != nullptr) o.message += std::string(" [SQLSTATE ") + state + "]";
    if (context != nullptr) {
      // "COPY events, line 35, column id: ..." — the line of the data that failed; the COPY's
      // context line may come after others ("JSON data, line 1: ...\nCOPY events, line 35").
      std::string_view c = context;
      if (const auto copy = c.find("COPY "); copy == 0 || (copy != c.npos && c[copy - 1] == '\n')) {
        c.remove_prefix(copy);
        c = c.substr(0, c.find('\n'));
        if (const auto at = c.find(", line "); at != c.npos)
          o.line = std::strtoull(std::string(c.substr(at + 7, 20)).c_str(), nullptr, 10);
      }
    }
    return o;
  }

  void statement_over() {
    if (result_error_) {
      pg_outcome o = std::move(*result_error_);
      result_error_.reset();
      o.message += " on " + server_;
      return finish(std::move(o));
    }
    finish({});
  }

  // ---- COPY FROM STDIN ----------------------------------------------------------------------

  // Hands libpq the data a chunk at a time, asking the source for the next chunk only once
  // libpq has passed the last one to the socket: rows are encoded while the server works
  // through the chunks before them, and never more than a chunk ahead of the socket.
  void put_data() {
    for (;;) {
      if (pos_ < chunk_.size()) {
        const int r = PQputCopyData(conn_, chunk_.data(), static_cast<int>(chunk_.size()));
        if (r < 0) return copy_refused();
        if (r == 0) return wait(boost::asio::posix::stream_descriptor::wait_write, &impl::put_data);
        pos_ = chunk_.size();
      }
      const int f = PQflush(conn_);
      if (f < 0) return fail_connection("COPY");
      if (f == 1) return wait(boost::asio::posix::stream_descriptor::wait_write, &impl::put_data);
      if (source_done_) return put_end();
      chunk_.clear();
      pos_ = 0;
      const copy_step step = source_(chunk_);
      if (closed_ || conn_ == nullptr) return;
      if (step == copy_step::abort) {
        aborting_ = true;
        return put_end();
      }
      source_done_ = step == copy_step::last;
    }
  }
  void put_end() {
    const int r = PQputCopyEnd(conn_, aborting_ ? abandoned : nullptr);
    if (r < 0) return copy_refused();
    if (r == 0) return wait(boost::asio::posix::stream_descriptor::wait_write, &impl::put_end);
    flush_then_await();
  }
  // libpq refused the data: the server ended the COPY (an error) or the connection broke.
  void copy_refused() {
    if (PQstatus(conn_) == CONNECTION_BAD) return fail_connection("COPY");
    await_result();
  }

  // ---- COPY TO STDOUT -----------------------------------------------------------------------

  void pump() {
    for (;;) {
      char* buf = nullptr;
      const int n = PQgetCopyData(conn_, &buf, 1);
      if (n > 0) {
        bool more = false;
        {
          auto freer = std::unique_ptr<char, void (*)(void*)>(buf, PQfreemem);
          more = on_line_(std::string_view(buf, static_cast<std::size_t>(n)));
        }
        if (closed_ || !busy_) return;  // the consumer closed us, or failed the stream
        if (!more) {
          busy_ = false;  // paused: copy_out_next resumes
          on_line_ = nullptr;
          done_ = nullptr;
          return;
        }
        continue;
      }
      if (n == 0) return wait(boost::asio::posix::stream_descriptor::wait_read, &impl::read_more);
      if (n == -1) {
        copy_out_ready_ = false;
        return await_result();  // the COPY's own result, then none
      }
      if (PQstatus(conn_) == CONNECTION_BAD) return fail_connection("COPY");
      return await_result();
    }
  }
  void read_more() {
    if (PQconsumeInput(conn_) == 0) return fail_connection("COPY");
    pump();
  }
};

pg_session::pg_session(asio_loop& l, std::string conninfo)
    : impl_(std::make_shared<impl>(l, std::move(conninfo))) {}

pg_session::~pg_session() { close(); }

void pg_session::copy_in(std::string sql, copy_source source,
                         std::function<void(pg_outcome)> done) {
  auto& s = *impl_;
  s.done_ = std::move(done);
  if (s.closed_ || s.busy_) {  // the COPY in flight keeps its source; start() reports it
    s.start({}, nullptr);
    return;
  }
  s.source_ = std::move(source);
  s.chunk_.clear();
  s.pos_ = 0;
  s.source_done_ = false;
  s.aborting_ = false;
  s.start(std::move(sql), nullptr);
}

void pg_session::describe(std::string sql, describe_done done) {
  auto& s = *impl_;
  struct columns {
    std::vector<std::string> names;
    std::vector<std::uint32_t> types;
  };
  auto c = std::make_shared<columns>();
  s.done_ = [c, done = std::move(done)](pg_outcome o) {
    done(std::move(o), std::move(c->names), std::move(c->types));
  };
  if (s.start(std::move(sql), &c->names)) s.types_ = &c->types;
}

void pg_session::copy_out_start(std::string sql, std::function<void(pg_outcome)> done) {
  impl_->done_ = std::move(done);
  impl_->start(std::move(sql), nullptr);
}

void pg_session::copy_out_next(std::function<bool(std::string_view)> on_line,
                               std::function<void(pg_outcome)> on_end) {
  auto& s = *impl_;
  s.done_ = std::move(on_end);
  if (s.closed_ || s.busy_ || !s.copy_out_ready_ || s.conn_ == nullptr) {
    s.finish_later({make_error_code(pg_errc::aborted), s.server_ + ": no COPY in progress", 0});
    return;
  }
  s.busy_ = true;
  s.on_line_ = std::move(on_line);
  s.pump();
}

void pg_session::close() {
  auto& s = *impl_;
  if (s.closed_) return;
  s.closed_ = true;
  s.drop_connection();
  if (s.done_) s.finish_later({make_error_code(pg_errc::aborted), s.server_ + ": closed", 0});
}

const std::string& pg_session::server() const noexcept { return impl_->server_; }

}  // namespace sluice::db::detail
