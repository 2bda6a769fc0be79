// The conformance kit itself: rules and reports, options (skip, items, loops, streams that do
// not end, do not close or do not destroy themselves), how it fails a stream that stalls or a
// factory that throws, and the GoogleTest adapter.
#include <gtest/gtest.h>

#include <memory>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <system_error>

#include "sluice/core/make.hpp"
#include "sluice/testing.hpp"
#include "sluice/testing/gtest.hpp"

namespace {

using sluice::loop;
namespace kit = sluice::testing;
using kit::rule;

std::shared_ptr<sluice::writable<int>> async_sink(loop& l, sluice::writable_options o = {}) {
  return sluice::make_writable<int>(l, o, [](sluice::writable<int>& self, int&&, auto cb) {
    self.get_loop().defer([keep = self.shared_from_this(), cb] { cb(); });
  });
}

TEST(ConformanceKit, EveryRuleHasAnIdAndADescription) {
  std::set<std::string_view> ids;
  for (rule r : kit::all_rules) {
    EXPECT_TRUE(ids.insert(kit::rule_id(r)).second) << kit::rule_id(r);
    EXPECT_FALSE(kit::rule_description(r).empty()) << kit::rule_id(r);
  }
  std::ostringstream os;
  os << rule::write_drain;
  EXPECT_EQ(os.str(), "write.drain");
}

TEST(ConformanceKit, ReportSaysWhatFailed) {
  kit::report rep("writable 'x'");
  rep.add({rule::write_drain, kit::outcome::failed, "no 'drain' after write #7"});
  rep.add({rule::write_finish, kit::outcome::passed, {}});
  rep.add({rule::destroy_writing, kit::outcome::skipped, "options.skip"});
  EXPECT_FALSE(rep.ok());
  ASSERT_EQ(rep.failures().size(), 1u);
  EXPECT_EQ(rep.failures().front().id, rule::write_drain);
  EXPECT_TRUE(rep.failed(rule::write_drain));
  EXPECT_FALSE(rep.failed(rule::destroy_writing));
  EXPECT_TRUE(rep.find(rule::destroy_writing)->passed());
  EXPECT_EQ(rep.find(rule::read_end), nullptr);
  const std::string text = rep.to_string();
  EXPECT_NE(text.find("conformance of writable 'x': 1 of 2 rules checked failed, 1 skipped"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("FAIL write.drain: after write() returns false"), std::string::npos) << text;
  EXPECT_NE(text.find("no 'drain' after write #7"), std::string::npos) << text;
  EXPECT_NE(text.find("skip destroy.writing (options.skip)"), std::string::npos) << text;
}

TEST(ConformanceKit, GoogleTestAdapterPrintsTheReport) {
  kit::report rep("writable");
  rep.add({rule::write_drain, kit::outcome::failed, "never drained"});
  const ::testing::AssertionResult r = kit::conforms(rep);
  EXPECT_FALSE(r);
  EXPECT_NE(std::string(r.message()).find("FAIL write.drain"), std::string::npos) << r.message();
  EXPECT_TRUE(kit::conforms(kit::report("fine")));
}

TEST(ConformanceKit, SkippedRulesAreNotRun) {
  int made = 0;
  const auto rep = kit::check_writable(
      [&made](loop& l) {
        ++made;
        return async_sink(l);
      },
      {.skip = {rule::write_backpressure, rule::destroy_writing}});
  SLUICE_EXPECT_CONFORMS(rep);
  EXPECT_EQ(rep.find(rule::write_backpressure)->status, kit::outcome::skipped);
  EXPECT_EQ(rep.find(rule::destroy_writing)->status, kit::outcome::skipped);
  EXPECT_EQ(made, 10);  // one fresh stream per rule checked
}

TEST(ConformanceKit, ItemsOptionSetsTheScenarioSize) {
  std::size_t most = 0;
  const auto rep =
      kit::check_writable([](loop& l) { return async_sink(l); }, {.item =
                                                                      [&most](std::size_t i) {
                                                                        most = std::max(most, i);
                                                                        return static_cast<int>(i);
                                                                      },
                                                                  .items = 50});
  SLUICE_EXPECT_CONFORMS(rep);
  EXPECT_GE(most, 49u);
}

TEST(ConformanceKit, CustomItemsNeedAGenerator) {
  struct row {
    int id;
  };
  const auto no_items = kit::check_writable([](loop& l) {
    return sluice::make_writable<row>(l, {.write = [](auto&, row&&, auto cb) { cb(); }});
  });
  ASSERT_EQ(no_items.failures().size(), 1u) << no_items;
  EXPECT_NE(no_items.failures().front().detail.find("options.item"), std::string::npos);
  SLUICE_EXPECT_CONFORMS(kit::check_writable(
      [](loop& l) {
        return sluice::make_writable<row>(l, {.write = [](auto&, row&&, auto cb) { cb(); }});
      },
      {.item = [](std::size_t i) { return row{static_cast<int>(i)}; }}));
}

TEST(ConformanceKit, AFactoryThatThrowsFailsEveryRule) {
  const auto rep = kit::check_writable([](loop&) -> std::shared_ptr<sluice::writable<int>> {
    throw std::runtime_error("no database");
  });
  EXPECT_EQ(rep.failures().size(), rep.results().size());
  EXPECT_NE(rep.failures().front().detail.find("the factory threw: no database"), std::string::npos)
      << rep;
}

// A sink whose writes never complete: the kit says so as soon as the loop has nothing left to
// do (it waits for events, not for time), on either loop.
TEST(ConformanceKit, AStalledSinkFailsAtIdleOnBothLoops) {
  for (auto kind : {kit::loop_kind::manual, kit::loop_kind::asio}) {
    const auto rep = kit::check_writable(
        [](loop& l) { return sluice::make_writable<int>(l, {.write = [](auto&, int&&, auto) {}}); },
        {.loop = kind});
    ASSERT_TRUE(rep.failed(rule::write_callbacks)) << rep;
    EXPECT_NE(rep.find(rule::write_callbacks)->detail.find("the loop went idle"), std::string::npos)
        << rep;
  }
}

TEST(ConformanceKit, InMemoryStreamsPassOnTheAsioLoopToo) {
  SLUICE_EXPECT_CONFORMS(
      kit::check_writable([](loop& l) { return async_sink(l); }, {.loop = kit::loop_kind::asio}));
}

TEST(ConformanceKit, StreamsWithoutCloseOrAutoDestroy) {
  // emit_close off: no 'close' is owed; auto_destroy off: 'close' follows the owner's destroy().
  SLUICE_EXPECT_CONFORMS(
      kit::check_writable([](loop& l) { return async_sink(l, {.emit_close = false}); }));
  SLUICE_EXPECT_CONFORMS(
      kit::check_writable([](loop& l) { return async_sink(l, {.auto_destroy = false}); }));
  auto source = [](bool auto_destroy, bool emit_close) {
    return [=](loop& l) {
      auto n = std::make_shared<int>(0);
      return sluice::make_readable<int>(l, {.high_water_mark = 4,
                                            .auto_destroy = auto_destroy,
                                            .emit_close = emit_close,
                                            .read = [n](sluice::readable<int>& self, std::size_t) {
                                              if (*n == 30) return self.push_eof();
                                              (void)self.push((*n)++);
                                            }});
    };
  };
  SLUICE_EXPECT_CONFORMS(kit::check_readable(source(false, true)));
  SLUICE_EXPECT_CONFORMS(kit::check_readable(source(true, false)));
}

TEST(ConformanceKit, AnEndlessSource) {
  const auto rep = kit::check_readable(
      [](loop& l) {
        auto n = std::make_shared<int>(0);
        return sluice::make_readable<int>(
            l, {.high_water_mark = 4, .read = [n](sluice::readable<int>& self, std::size_t) {
                  (void)self.push((*n)++);
                }});
      },
      {.ends = false, .read_limit = 200});
  SLUICE_EXPECT_CONFORMS(rep);
  EXPECT_EQ(rep.find(rule::read_end)->status, kit::outcome::skipped);
  EXPECT_EQ(rep.find(rule::destroy_ended)->status, kit::outcome::skipped);
}

TEST(ConformanceKit, ProvokedErrors) {
  // A sink that fails on a negative item: error_once uses it instead of destroy(ec).
  const auto rep = kit::check_writable(
      [](loop& l) {
        return sluice::make_writable<int>(
            l, {.write = [](auto&, int&& x, auto cb) {
              if (x < 0) return cb(std::make_error_code(std::errc::invalid_argument));
              cb();
            }});
      },
      {.provoke_error = [](sluice::writable<int>& w) { (void)w.write(-1); }});
  SLUICE_EXPECT_CONFORMS(rep);
  EXPECT_NE(rep.find(rule::error_once)->detail.find("options.provoke_error"), std::string::npos)
      << rep;
}

}  // namespace
