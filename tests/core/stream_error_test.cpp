// stream::fail and error_message (sluice/core/stream.hpp): an error says what failed.
#include <gtest/gtest.h>

#include <cerrno>
#include <memory>
#include <string>
#include <system_error>

#include "sluice/core/loop.hpp"
#include "sluice/core/make.hpp"

namespace {

using sluice::manual_loop;

TEST(StreamError, FailNamesTheOperation) {
  manual_loop l;
  auto w = sluice::make_writable<int>(l, {});
  std::error_code seen;
  w->on_error([&](std::error_code ec) { seen = ec; });
  w->fail(std::error_code(ENOENT, std::generic_category()), "open 'x.log'");
  l.run_until_idle();
  EXPECT_EQ(seen, std::errc::no_such_file_or_directory);
  EXPECT_EQ(w->error_context(), "open 'x.log'");
  EXPECT_EQ(w->error_message(), "open 'x.log': No such file or directory");
}

TEST(StreamError, FirstFailureKeepsItsContext) {
  manual_loop l;
  auto r = sluice::make_readable<int>(l, {});
  r->on_error([](std::error_code) {});
  r->fail(std::error_code(EIO, std::generic_category()), "read 'a'");
  r->fail(std::error_code(ENOSPC, std::generic_category()), "write 'b'");
  l.run_until_idle();
  EXPECT_EQ(r->errored(), std::errc::io_error);
  EXPECT_EQ(r->error_message(), "read 'a': " + std::generic_category().message(EIO));
}

TEST(StreamError, PlainDestroyHasNoContext) {
  manual_loop l;
  auto w = sluice::make_writable<int>(l, {});
  w->on_error([](std::error_code) {});
  EXPECT_EQ(w->error_message(), "");
  w->destroy(make_error_code(sluice::errc::aborted));
  l.run_until_idle();
  EXPECT_EQ(w->error_context(), "");
  EXPECT_EQ(w->error_message(), make_error_code(sluice::errc::aborted).message());
}

}  // namespace
