// Conformance: finished() (Node's stream.finished / eos). The expected orders were checked
// against Node 20 with the same scenarios (a listener added before finished() runs first).
#include <gtest/gtest.h>

#include <cstddef>
#include <memory>
#include <string>
#include <system_error>
#include <vector>

#include "sluice/compose/finished.hpp"
#include "sluice/core/loop.hpp"
#include "sluice/core/make.hpp"
#include "support/trace.hpp"

namespace {

using sluice::errc;
using sluice::manual_loop;
using sluice::test::trace;

std::string code_of(std::error_code ec) { return ec ? sluice::test::node_code(ec) : "null"; }

std::shared_ptr<sluice::writable<int>> sink(manual_loop& loop, bool auto_destroy = true) {
  return sluice::make_writable<int>(
      loop, {.auto_destroy = auto_destroy, .write = [](auto&, int&&, auto cb) { cb(); }});
}

std::shared_ptr<sluice::readable<int>> idle_source(manual_loop& loop) {
  return sluice::make_readable<int>(loop, {.read = [](auto&, std::size_t) {}});
}

// A transform that counts the listeners added to it (listener ids are sequential per stream)
// and the ones removed through off(), so a test can tell whether any are left behind.
class counted final : public sluice::transform<int, int> {
 public:
  explicit counted(manual_loop& l) : transform<int, int>(l, {.auto_destroy = false}) {
    base_ = peek();
  }
  bool off(sluice::listener_id id) override {
    const bool ok = transform<int, int>::off(id);
    if (ok) ++removed_;
    return ok;
  }
  // Listeners added since construction (each peek() uses up one id, which is subtracted).
  std::size_t added() {
    const std::uint64_t now = peek();
    const std::size_t n = static_cast<std::size_t>(now - base_ - 1 - peeks_);
    ++peeks_;
    return n;
  }
  [[nodiscard]] std::size_t removed() const noexcept { return removed_; }

 protected:
  void do_transform(int&& x, transform_callback cb) override { cb(x); }

 private:
  std::uint64_t peek() { return next_listener_id().value; }
  std::uint64_t base_ = 0;
  std::size_t peeks_ = 0;
  std::size_t removed_ = 0;
};

TEST(Finished, WritableSuccessWaitsForClose) {
  manual_loop loop;
  trace tr;
  auto w = sink(loop);
  w->on_finish([&] { tr("finish"); });
  w->on_close([&] { tr("close"); });
  sluice::finished(w, [&](std::error_code ec) { tr("cb " + code_of(ec)); });
  w->end(1);
  loop.run();
  EXPECT_TRACE(tr, "finish\nclose\ncb null");
}

TEST(Finished, StreamWithoutCloseCompletesAtFinish) {
  manual_loop loop;
  trace tr;
  auto make = [&] {
    auto w = sluice::make_writable<int>(
        loop, {.emit_close = false, .write = [](auto&, int&&, auto cb) { cb(); }});
    w->on_finish([&] { tr("finish"); });
    w->on_close([&] { tr("close"); });
    return w;
  };
  auto w = make();
  auto control = make();  // the same stream and events, not watched
  EXPECT_FALSE(w->emits_close());
  sluice::finished(w, [&](std::error_code ec) { tr("cb " + code_of(ec)); });
  EXPECT_GT(w->listener_count(), control->listener_count());
  w->end(1);
  loop.run();
  EXPECT_TRACE(tr, "finish\ncb null");
  control->end(1);
  loop.run();
  // The watch took every listener it added away again.
  EXPECT_EQ(w->listener_count(), control->listener_count());
}

TEST(Finished, ReadableSuccessAfterEnd) {
  manual_loop loop;
  trace tr;
  int n = 0;
  auto r = sluice::make_readable<int>(loop, {.read = [&n](auto& self, std::size_t) {
                                        if (n < 3)
                                          self.push(n++);
                                        else
                                          self.push_eof();
                                      }});
  r->on_end([&] { tr("end"); });
  r->on_data([&](int&& x) { tr("data " + std::to_string(x)); });
  sluice::finished(r, [&](std::error_code ec) { tr("cb " + code_of(ec)); });
  loop.run();
  EXPECT_TRACE(tr, "data 0\ndata 1\ndata 2\nend\ncb null");
}

TEST(Finished, AlreadyClosedIsReportedOnALaterTick) {
  manual_loop loop;
  auto w = sink(loop);
  w->end(1);
  loop.run();
  ASSERT_TRUE(w->closed());
  bool called = false;
  std::error_code got = make_error_code(errc::aborted);
  sluice::finished(w, [&](std::error_code ec) {
    called = true;
    got = ec;
  });
  EXPECT_FALSE(called);  // never from within finished()
  loop.run();
  EXPECT_TRUE(called);
  EXPECT_FALSE(got);
}

TEST(Finished, DestroyWithoutErrorIsPrematureClose) {
  manual_loop loop;
  trace tr;
  auto r = idle_source(loop);
  sluice::finished(r, [&](std::error_code ec) { tr("cb " + code_of(ec)); });
  r->on_close([&] { tr("close"); });
  r->destroy();
  loop.run();
  EXPECT_TRACE(tr, "cb ERR_STREAM_PREMATURE_CLOSE\nclose");
}

TEST(Finished, ErrorIsReportedAtTheErrorEvent) {
  manual_loop loop;
  trace tr;
  auto r = idle_source(loop);
  r->on_error([&](std::error_code ec) { tr("error " + code_of(ec)); });
  r->on_close([&] { tr("close"); });
  sluice::finished(r, [&](std::error_code ec) { tr("cb " + code_of(ec)); });
  r->destroy(make_error_code(std::errc::io_error));
  loop.run();
  EXPECT_TRACE(tr, "error " + code_of(make_error_code(std::errc::io_error)) + "\ncb " +
                       code_of(make_error_code(std::errc::io_error)) + "\nclose");
}

TEST(Finished, ErrorFalseReportsTheErrorAtClose) {
  manual_loop loop;
  trace tr;
  auto r = idle_source(loop);
  sluice::finished(r, {.error = false}, [&](std::error_code ec) { tr("cb " + code_of(ec)); });
  r->on_error([&](std::error_code) { tr("error"); });
  r->on_close([&] { tr("close"); });
  r->destroy(make_error_code(std::errc::io_error));
  loop.run();
  EXPECT_TRACE(tr, "error\ncb " + code_of(make_error_code(std::errc::io_error)) + "\nclose");
}

TEST(Finished, AlreadyErroredStreamReportsItsError) {
  manual_loop loop;
  auto r = idle_source(loop);
  r->destroy(make_error_code(std::errc::broken_pipe));
  loop.run();
  std::error_code got;
  sluice::finished(r, [&](std::error_code ec) { got = ec; });
  loop.run();
  EXPECT_EQ(got, std::errc::broken_pipe);
}

TEST(Finished, DuplexWatchedForItsWritableSideOnly) {
  manual_loop loop;
  trace tr;
  auto p = std::make_shared<sluice::passthrough<int>>(loop);
  sluice::finished(p, {.readable = false}, [&](std::error_code ec) {
    tr("cb " + code_of(ec) + " readable_ended=" + (p->readable_ended() ? "true" : "false"));
  });
  p->on_finish([&] { tr("finish"); });
  p->end(1);
  loop.run();
  // Nobody reads the output: the readable side never ends, the watch is done at 'finish'.
  EXPECT_TRACE(tr, "cb null readable_ended=false\nfinish");
}

TEST(Finished, DuplexWaitsForBothSides) {
  manual_loop loop;
  bool called = false;
  auto p = std::make_shared<sluice::passthrough<int>>(loop);
  sluice::finished(p, [&](std::error_code ec) {
    called = true;
    EXPECT_FALSE(ec);
  });
  p->end(1);
  loop.run();
  EXPECT_FALSE(called);  // 'finish' came, 'end' did not
  std::vector<int> out;
  p->on_data([&](int&& x) { out.push_back(x); });
  loop.run();
  EXPECT_TRUE(called);
  EXPECT_EQ(out, std::vector<int>{1});
}

TEST(Finished, CancelRemovesEveryListenerAndTheCallbackNeverRuns) {
  manual_loop loop;
  auto c = std::make_shared<counted>(loop);
  bool called = false;
  auto h = sluice::finished(c, [&](std::error_code) { called = true; });
  EXPECT_TRUE(h.active());
  EXPECT_EQ(c->added(), 4u);  // end, finish, error, close
  h.cancel();
  EXPECT_FALSE(h.active());
  EXPECT_EQ(c->removed(), 4u);
  c->destroy(make_error_code(std::errc::io_error));
  loop.run();
  EXPECT_FALSE(called);
  h.cancel();  // idempotent
}

TEST(Finished, NoListenerLeftAfterTheCallback) {
  manual_loop loop;
  auto c = std::make_shared<counted>(loop);
  int calls = 0;
  sluice::finished(c, [&](std::error_code ec) {
    ++calls;
    EXPECT_FALSE(ec);
  });
  std::vector<int> out;
  const auto data_id = c->on_data([&](int&& x) { out.push_back(x); });
  c->write(7);
  c->end();
  loop.run();
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(out, std::vector<int>{7});
  EXPECT_FALSE(c->destroyed());  // auto_destroy is off: nothing closes it, yet it completed
  c->off(data_id);
  EXPECT_EQ(c->added(), c->removed());
}

TEST(Finished, DroppingTheHandleDoesNotCancel) {
  manual_loop loop;
  auto w = sink(loop);
  int calls = 0;
  {
    (void)sluice::finished(w, [&](std::error_code) { ++calls; });
  }
  w->end();
  loop.run();
  EXPECT_EQ(calls, 1);
}

TEST(Finished, DoesNotKeepTheStreamAlive) {
  manual_loop loop;
  auto w = sink(loop, false);
  std::weak_ptr<sluice::writable<int>> weak = w;
  auto h = sluice::finished(w, [](std::error_code) {});
  EXPECT_EQ(w.use_count(), 1);
  w.reset();
  EXPECT_TRUE(weak.expired());
  h.cancel();  // safe on a stream that is gone
  loop.run();
}

}  // namespace
