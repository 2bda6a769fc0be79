// tests/db/pg_support.hpp: the PostgreSQL test server (scripts/pg-server.sh, started by the ctest
// fixture "postgres"), psql for setting up and checking tables, and a loop runner.
#pragma once

#include <gtest/gtest.h>
#include <sys/wait.h>

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <thread>

#include "sluice/core/asio_loop.hpp"

namespace sluice::test {

// The server's socket directory, or "" when the tests run without the fixture.
inline std::string pg_socket_dir() {
  const char* d = std::getenv("SLUICE_PG_SOCKET_DIR");
  return d != nullptr ? d : "";
}

inline std::string pg_conninfo() {
  return "host=" + pg_socket_dir() + " user=sluice dbname=postgres";
}

#define SLUICE_NEED_PG()                                                                     \
  do {                                                                                       \
    if (::sluice::test::pg_socket_dir().empty())                                             \
      GTEST_SKIP() << "no PostgreSQL test server: run under ctest (fixture 'postgres'), or " \
                      "start one with `scripts/pg-server.sh start /tmp/pg` and set "         \
                      "SLUICE_PG_SOCKET_DIR=/tmp/pg";                                        \
  } while (0)

inline std::string shell_quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) {
    if (c == '\'')
      q += "'\\''";
    else
      q += c;
  }
  return q + "'";
}

// Runs SQL with psql; returns its unaligned output (rows by newline, columns by '|'), trailing
// newline removed. Throws if psql fails.
inline std::string psql(const std::string& sql) {
  const std::string cmd = "psql -X -q -At -v ON_ERROR_STOP=1 " + shell_quote(pg_conninfo()) +
                          " -c " + shell_quote(sql) + " 2>&1";
  FILE* p = ::popen(cmd.c_str(), "r");
  if (p == nullptr) throw std::runtime_error("popen psql");
  std::string out;
  char buf[4096];
  std::size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  const int rc = ::pclose(p);
  if (rc != 0) throw std::runtime_error("psql failed: " + sql + ": " + out);
  while (!out.empty() && out.back() == '\n') out.pop_back();
  return out;
}

// The fixture's script, for crashing and restarting the server.
inline int pg_server(const std::string& verb) {
  const std::string cmd = std::string(SLUICE_PG_SERVER_SCRIPT) + " " + verb + " " +
                          shell_quote(pg_socket_dir()) + " >/dev/null 2>&1";
  return std::system(cmd.c_str());
}

// Runs the io_context until `done()` or the deadline; returns whether done() became true.
template <class F>
bool run_until(boost::asio::io_context& io, F done,
               std::chrono::milliseconds limit = std::chrono::seconds(20)) {
  // (done() is called once per turn and its answer kept: it may consume, as read() does.)
  const auto end = std::chrono::steady_clock::now() + limit;
  for (;;) {
    if (done()) return true;
    if (std::chrono::steady_clock::now() >= end) return false;
    io.restart();
    if (io.run_for(std::chrono::milliseconds(5)) == 0)
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

// Runs the io_context for `d` (whatever happens).
inline void run_for(boost::asio::io_context& io, std::chrono::milliseconds d) {
  const auto end = std::chrono::steady_clock::now() + d;
  while (std::chrono::steady_clock::now() < end) {
    io.restart();
    if (io.run_for(std::chrono::milliseconds(5)) == 0)
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

}  // namespace sluice::test
