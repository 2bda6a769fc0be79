// tests/compose/operators_test_util.hpp: sources and probes shared by the operators tests.
#pragma once

#include <gtest/gtest.h>

#include <cstddef>
#include <memory>
#include <optional>
#include <system_error>
#include <vector>

#include "sluice/core/loop.hpp"
#include "sluice/core/make.hpp"
#include "sluice/core/readable.hpp"

namespace sluice::test {

/// What happened to a source: how many items it produced, destroy and close counts.
struct source_probe {
  int produced = 0;
  int destroys = 0;
  int closes = 0;
  int errors = 0;
  std::error_code destroy_ec{};
};

/// A readable<int> producing 0, 1, ..., n-1 on demand (one push per read call), then the end.
inline std::shared_ptr<readable<int>> counting_source(loop& l, int n,
                                                      std::shared_ptr<source_probe> p,
                                                      std::optional<std::size_t> hwm = {}) {
  auto s = make_readable<int>(l, {.high_water_mark = hwm,
                                  .read =
                                      [p, n](readable<int>& self, std::size_t) {
                                        if (p->produced < n)
                                          self.push(p->produced++);
                                        else
                                          self.push_eof();
                                      },
                                  .destroy =
                                      [p](readable<int>&, std::error_code ec, callback cb) {
                                        ++p->destroys;
                                        p->destroy_ec = ec;
                                        cb(ec);
                                      }});
  s->on_close([p] { ++p->closes; });
  s->on_error([p](std::error_code) { ++p->errors; });
  return s;
}

/// A readable<int> whose items are pushed by the test (push_eof / destroy too).
inline std::shared_ptr<readable<int>> manual_source(loop& l, std::shared_ptr<source_probe> p,
                                                    std::optional<std::size_t> hwm = {}) {
  auto s = make_readable<int>(l, {.high_water_mark = hwm,
                                  .read = [](readable<int>&, std::size_t) {},
                                  .destroy =
                                      [p](readable<int>&, std::error_code ec, callback cb) {
                                        ++p->destroys;
                                        p->destroy_ec = ec;
                                        cb(ec);
                                      }});
  s->on_close([p] { ++p->closes; });
  s->on_error([p](std::error_code) { ++p->errors; });
  return s;
}

/// Records what a result stream delivered and which of its events fired, and how often.
template <class T>
struct sink_probe {
  std::vector<T> items;
  int ends = 0;
  int closes = 0;
  int errors = 0;
  std::error_code error{};
};

/// Consumes `r` in flowing mode into a probe.
template <class T>
std::shared_ptr<sink_probe<T>> drain_into_probe(const std::shared_ptr<readable<T>>& r) {
  auto p = std::make_shared<sink_probe<T>>();
  r->on_data([p](T&& v) { p->items.push_back(std::move(v)); });
  r->on_end([p] { ++p->ends; });
  r->on_close([p] { ++p->closes; });
  r->on_error([p](std::error_code ec) {
    ++p->errors;
    p->error = ec;
  });
  return p;
}

}  // namespace sluice::test
