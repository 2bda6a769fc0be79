// Unit tests of signal<Args...>: order, once listeners, and re-entrancy (adding and removing
// listeners while the signal is being emitted).
#include "sluice/core/signal.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace {

using sluice::listener_id;
using log_t = std::vector<std::string>;

listener_id id(std::uint64_t v) { return listener_id{v}; }

std::string entry(const char* who, int n, const std::string& t) {
  std::string e(who);
  e.append(std::to_string(n)).append(t);
  return e;
}

TEST(Signal, ListenersAreCalledInOrderWithTheArguments) {
  sluice::signal<int, std::string> s;
  log_t log;
  s.connect(id(1), [&](int n, std::string t) { log.push_back(entry("a", n, t)); });
  s.connect(id(2), [&](int n, std::string t) { log.push_back(entry("b", n, t)); });
  s.connect(id(3), [&](int n, std::string t) { log.push_back(entry("c", n, t)); });
  EXPECT_EQ(s.size(), 3u);
  s.emit(7, "x");
  EXPECT_EQ(log, (log_t{"a7x", "b7x", "c7x"}));
  s.emit(8, "y");
  EXPECT_EQ(log, (log_t{"a7x", "b7x", "c7x", "a8y", "b8y", "c8y"}));
}

TEST(Signal, PrependPutsAListenerFirst) {
  sluice::signal<> s;
  log_t log;
  s.connect(id(1), [&] { log.push_back("a"); });
  s.connect(
      id(2), [&] { log.push_back("first"); }, false, true);
  s.emit();
  EXPECT_EQ(log, (log_t{"first", "a"}));
}

TEST(Signal, EmitWithoutListenersDoesNothing) {
  sluice::signal<int> s;
  EXPECT_TRUE(s.empty());
  s.emit(1);
  EXPECT_EQ(s.size(), 0u);
}

TEST(Signal, OnceListenersAreCalledOnce) {
  sluice::signal<> s;
  log_t log;
  s.connect(id(1), [&] { log.push_back("on"); });
  s.connect(
      id(2), [&] { log.push_back("once"); }, true);
  s.connect(id(3), [&] { log.push_back("on2"); });
  EXPECT_EQ(s.size(), 3u);
  s.emit();
  EXPECT_EQ(s.size(), 2u);
  s.emit();
  EXPECT_EQ(log, (log_t{"on", "once", "on2", "on", "on2"}));
  EXPECT_FALSE(s.disconnect(id(2)));  // already gone
}

TEST(Signal, OnceListenerIsNotCalledAgainByANestedEmit) {
  sluice::signal<> s;
  log_t log;
  bool nested = false;
  s.connect(
      id(1),
      [&] {
        log.push_back("once");
        if (!nested) {
          nested = true;
          s.emit();
        }
      },
      true);
  s.connect(id(2), [&] { log.push_back("on"); });
  s.emit();
  EXPECT_EQ(log, (log_t{"once", "on", "on"}));
  EXPECT_EQ(s.size(), 1u);
}

TEST(Signal, DisconnectRemovesOneListener) {
  sluice::signal<> s;
  log_t log;
  s.connect(id(1), [&] { log.push_back("a"); });
  s.connect(id(2), [&] { log.push_back("b"); });
  EXPECT_TRUE(s.disconnect(id(1)));
  EXPECT_FALSE(s.disconnect(id(1)));
  EXPECT_FALSE(s.disconnect(id(99)));
  EXPECT_EQ(s.size(), 1u);
  s.emit();
  EXPECT_EQ(log, (log_t{"b"}));
}

TEST(Signal, ListenerRemovingItselfDuringEmit) {
  sluice::signal<> s;
  log_t log;
  s.connect(id(1), [&] {
    log.push_back("a");
    EXPECT_TRUE(s.disconnect(id(1)));
  });
  s.connect(id(2), [&] { log.push_back("b"); });
  s.emit();
  EXPECT_EQ(log, (log_t{"a", "b"}));
  EXPECT_EQ(s.size(), 1u);
  s.emit();
  EXPECT_EQ(log, (log_t{"a", "b", "b"}));
}

// A listener removed during an emit is not called by that emit (a deliberate difference from
// Node, which snapshots its listener array; see docs/node-differences.md).
TEST(Signal, ListenerRemovingALaterOneDuringEmit) {
  sluice::signal<> s;
  log_t log;
  std::vector<bool> removed;
  s.connect(id(1), [&] {
    log.push_back("a");
    removed.push_back(s.disconnect(id(2)));
  });
  s.connect(id(2), [&] { log.push_back("b"); });
  s.connect(id(3), [&] { log.push_back("c"); });
  s.emit();
  EXPECT_EQ(log, (log_t{"a", "c"}));
  EXPECT_EQ(s.size(), 2u);
  s.emit();
  EXPECT_EQ(log, (log_t{"a", "c", "a", "c"}));
  EXPECT_EQ(removed, (std::vector<bool>{true, false}));
}

TEST(Signal, ListenerRemovingAnEarlierOneDuringEmit) {
  sluice::signal<> s;
  log_t log;
  s.connect(id(1), [&] { log.push_back("a"); });
  s.connect(id(2), [&] {
    log.push_back("b");
    s.disconnect(id(1));
  });
  s.emit();
  s.emit();
  EXPECT_EQ(log, (log_t{"a", "b", "b"}));
}

TEST(Signal, ListenerAddedDuringEmitIsNotCalledByThatEmit) {
  sluice::signal<> s;
  log_t log;
  bool added = false;
  s.connect(id(1), [&] {
    log.push_back("a");
    if (!added) {
      added = true;
      s.connect(id(3), [&] { log.push_back("new"); });
    }
  });
  s.connect(id(2), [&] { log.push_back("b"); });
  s.emit();
  EXPECT_EQ(log, (log_t{"a", "b"}));
  EXPECT_EQ(s.size(), 3u);
  s.emit();
  EXPECT_EQ(log, (log_t{"a", "b", "a", "b", "new"}));
}

TEST(Signal, ListenerPrependedDuringEmitIsNotCalledByThatEmit) {
  sluice::signal<> s;
  log_t log;
  bool added = false;
  s.connect(id(1), [&] {
    log.push_back("a");
    if (!added) {
      added = true;
      s.connect(
          id(4), [&] { log.push_back("new"); }, false, true);
    }
  });
  s.connect(id(2), [&] { log.push_back("b"); });
  s.connect(id(3), [&] { log.push_back("c"); });
  s.emit();
  EXPECT_EQ(log, (log_t{"a", "b", "c"}));  // nobody skipped, nobody called twice
  s.emit();
  EXPECT_EQ(log, (log_t{"a", "b", "c", "new", "a", "b", "c"}));
}

TEST(Signal, DisconnectAllRemovesEveryListener) {
  sluice::signal<> s;
  log_t log;
  s.connect(id(1), [&] { log.push_back("a"); });
  s.connect(id(2), [&] { log.push_back("b"); });
  s.connect(id(3), [&] { log.push_back("c"); });
  s.disconnect_all();
  EXPECT_EQ(s.size(), 0u);
  EXPECT_TRUE(s.empty());
  s.emit();
  EXPECT_TRUE(log.empty());
}

TEST(Signal, DisconnectAllDuringEmitStopsTheRest) {
  sluice::signal<> s;
  log_t log;
  s.connect(id(1), [&] {
    log.push_back("a");
    s.disconnect_all();
  });
  s.connect(id(2), [&] { log.push_back("b"); });
  s.connect(id(3), [&] { log.push_back("c"); });
  s.emit();
  EXPECT_EQ(log, (log_t{"a"}));
  EXPECT_TRUE(s.empty());
  s.connect(id(4), [&] { log.push_back("d"); });
  s.emit();
  EXPECT_EQ(log, (log_t{"a", "d"}));
}

// for_each's `last` is true for the last listener that will be called, so a caller can move the
// value into it and copy it for the others.
TEST(Signal, ForEachFlagsTheLastListener) {
  sluice::signal<int> s;
  log_t log;
  for (std::uint64_t i = 1; i <= 3; ++i)
    s.connect(id(i), [&log, i](int) { log.push_back(std::to_string(i)); });
  std::vector<bool> last;
  s.for_each([&](auto& h, bool is_last) {
    last.push_back(is_last);
    h(0);
  });
  EXPECT_EQ(log, (log_t{"1", "2", "3"}));
  EXPECT_EQ(last, (std::vector<bool>{false, false, true}));
}

TEST(Signal, ForEachLastSkipsListenersRemovedDuringTheEmit) {
  sluice::signal<int> s;
  log_t log;
  s.connect(id(1), [&](int) {
    log.push_back("1");
    s.disconnect(id(3));
  });
  s.connect(id(2), [&](int) { log.push_back("2"); });
  s.connect(id(3), [&](int) { log.push_back("3"); });
  std::vector<bool> last;
  s.for_each([&](auto& h, bool is_last) {
    last.push_back(is_last);
    h(0);
  });
  EXPECT_EQ(log, (log_t{"1", "2"}));
  EXPECT_EQ(last, (std::vector<bool>{false, true}));
}

TEST(Signal, ForEachLastIgnoresListenersAddedDuringTheEmit) {
  sluice::signal<int> s;
  log_t log;
  s.connect(id(1), [&](int) { log.push_back("1"); });
  s.connect(id(2), [&](int) {
    log.push_back("2");
    s.connect(id(3), [&](int) { log.push_back("3"); });
  });
  std::vector<bool> last;
  s.for_each([&](auto& h, bool is_last) {
    last.push_back(is_last);
    h(0);
  });
  EXPECT_EQ(log, (log_t{"1", "2"}));
  EXPECT_EQ(last, (std::vector<bool>{false, true}));
}

TEST(Signal, ForEachLastWithASingleOnceListener) {
  sluice::signal<int> s;
  s.connect(
      id(1), [](int) {}, true);
  std::vector<bool> last;
  s.for_each([&](auto& h, bool is_last) {
    last.push_back(is_last);
    h(0);
  });
  EXPECT_EQ(last, (std::vector<bool>{true}));
  EXPECT_TRUE(s.empty());
}

// A listener may move from an rvalue argument when it is the only one (the 'data' path).
TEST(Signal, ForEachCanMoveIntoTheLastListener) {
  sluice::signal<std::string&&> s;
  std::vector<std::string> got;
  s.connect(id(1), [&](std::string&& v) { got.push_back(std::move(v)); });
  s.connect(id(2), [&](std::string&& v) { got.push_back(std::move(v)); });
  std::string value = "payload";
  s.for_each([&](auto& h, bool is_last) {
    if (is_last)
      h(std::move(value));
    else
      h(std::string(value));
  });
  EXPECT_EQ(got, (std::vector<std::string>{"payload", "payload"}));
}

}  // namespace
