// sluice/testing/detail/run.hpp: runs a list of rules and gathers their results in a report.
#pragma once

#include <algorithm>
#include <exception>
#include <functional>
#include <initializer_list>
#include <memory>
#include <string>
#include <vector>

#include "sluice/testing/detail/session.hpp"
#include "sluice/testing/report.hpp"

namespace sluice::testing::detail {

/// One rule of a check: its id and the scenario that judges it.
struct planned {
  rule id;
  std::function<result()> run;
};

/// Runs every planned rule that `skip` does not list; a scenario that throws fails its rule.
inline report run_rules(std::string subject, const std::vector<rule>& skip,
                        std::initializer_list<planned> plan) {
  report rep(std::move(subject));
  for (const planned& p : plan) {
    if (std::find(skip.begin(), skip.end(), p.id) != skip.end()) {
      rep.add({p.id, outcome::skipped, "options.skip"});
      continue;
    }
    try {
      rep.add(p.run());
    } catch (const std::exception& e) {
      rep.add({p.id, outcome::failed, std::string("the scenario threw: ") + e.what()});
    } catch (...) {
      rep.add({p.id, outcome::failed, "the scenario threw"});
    }
  }
  return rep;
}

/// The report of a check that has no sample items to write (the item type has no default).
inline report without_items(std::string subject) {
  report rep(std::move(subject));
  rep.add({rule::write_backpressure, outcome::failed, "no sample items: set options.item"});
  return rep;
}

/// The settings every kind of check takes from its options.
template <class S, class F, class O>
settings<S> common_settings(F& factory, const O& o) {
  settings<S> st;
  st.factory = [&factory](sluice::loop& l) -> std::shared_ptr<S> { return factory(l); };
  st.failing_factory = o.failing_factory;
  st.provoke_error = o.provoke_error;
  st.kind = o.loop;
  st.lim = {o.timeout, o.virtual_limit};
  return st;
}

/// read_limit, with 0 meaning the default for the chunk type.
template <class T>
std::size_t read_limit_of(std::size_t given) {
  if (given != 0) return given;
  return is_byte_mode<T> ? std::size_t{16} << 20 : 100000;
}

inline std::string subject_of(std::string_view kind, const std::string& name) {
  return name.empty() ? std::string(kind) : std::string(kind) + " '" + name + "'";
}

}  // namespace sluice::testing::detail
