// src/io/fault_injection.cpp: the fault table behind the io layer's system-call seam (sys.hpp).
//
// A mutex-guarded list behind one atomic counter: the seam reads the counter (relaxed) on every
// call and takes the mutex only while it is nonzero, that is only in tests that armed a fault.
#include "sluice/io/detail/fault_injection.hpp"

#include <sys/uio.h>

#include <array>
#include <climits>
#include <mutex>
#include <stdexcept>
#include <string>
#include <vector>

#include "sys.hpp"

namespace sluice::detail::fault_injection {

std::atomic<std::uint32_t> armed_faults{0};

namespace {

struct record {
  fault_id id = 0;
  fault f;
  std::uint64_t seen = 0;   // calls of f.op since it was armed
  std::uint64_t fired = 0;  // times it fired
  bool armed = true;
};

struct table {
  std::mutex mutex;
  std::vector<record> records;  // since the last arm into an empty table, disarmed ones too
  std::array<std::uint64_t, sys_op_count> calls{};
  fault_id next_id = 1;
  std::uint32_t armed = 0;
};

table& the_table() {
  static table t;
  return t;
}

bool moves_bytes(sys_op op) {
  return op == sys_op::read || op == sys_op::write || op == sys_op::copy_file_range ||
         op == sys_op::recv || op == sys_op::send;
}

}  // namespace

const char* to_string(sys_op op) noexcept {
  static constexpr std::array<const char*, sys_op_count> names{
      "open",  "read",  "write",   "copy_file_range", "fsync", "close",  "stat", "readlink",
      "chown", "chmod", "utimens", "rename",          "link",  "unlink", "recv", "send"};
  const auto i = static_cast<std::size_t>(op);
  return i < names.size() ? names[i] : "?";
}

fault_id arm(const fault& f) {
  if (f.nth == 0) throw std::invalid_argument("fault_injection::arm: nth counts from 1");
  if (f.short_count) {
    if (f.error != 0)
      throw std::invalid_argument("fault_injection::arm: an error or a short count, not both");
    if (*f.short_count == 0)
      throw std::invalid_argument("fault_injection::arm: a short count of 0 is an end of file");
    if (!moves_bytes(f.op))
      throw std::invalid_argument(std::string("fault_injection::arm: ") + to_string(f.op) +
                                  " moves no bytes: no short count");
  }
  table& t = the_table();
  const std::lock_guard lock(t.mutex);
  if (t.armed == 0) {
    t.records.clear();
    t.calls = {};
  }
  const fault_id id = t.next_id++;
  t.records.push_back({.id = id, .f = f});
  ++t.armed;
  armed_faults.store(t.armed, std::memory_order_relaxed);
  return id;
}

void disarm(fault_id id) noexcept {
  table& t = the_table();
  const std::lock_guard lock(t.mutex);
  for (record& r : t.records) {
    if (r.id == id && r.armed) {
      r.armed = false;
      --t.armed;
      armed_faults.store(t.armed, std::memory_order_relaxed);
      return;
    }
  }
}

void disarm_all() noexcept {
  table& t = the_table();
  const std::lock_guard lock(t.mutex);
  for (record& r : t.records) r.armed = false;
  t.armed = 0;
  armed_faults.store(0, std::memory_order_relaxed);
}

std::uint64_t fired(fault_id id) noexcept {
  table& t = the_table();
  const std::lock_guard lock(t.mutex);
  for (const record& r : t.records)
    if (r.id == id) return r.fired;
  return 0;
}

std::uint64_t calls(sys_op op) noexcept {
  table& t = the_table();
  const std::lock_guard lock(t.mutex);
  const auto i = static_cast<std::size_t>(op);
  return i < t.calls.size() ? t.calls[i] : 0;
}

outcome on_call(sys_op op) noexcept {
  table& t = the_table();
  const std::lock_guard lock(t.mutex);
  ++t.calls[static_cast<std::size_t>(op)];
  outcome out;
  bool applied = false;
  for (record& r : t.records) {
    if (!r.armed || r.f.op != op) continue;
    ++r.seen;
    const bool due = r.seen == r.f.nth || (r.f.repeat && r.seen > r.f.nth);
    const bool acts = r.f.error != 0 || r.f.short_count.has_value();
    if (!due || !acts || applied) continue;  // the earliest armed of those due applies
    applied = true;
    ++r.fired;
    if (r.f.error != 0) {
      out.error = r.f.error;
    } else {
      out.limit = *r.f.short_count;
    }
  }
  return out;
}

}  // namespace sluice::detail::fault_injection

namespace sluice::detail::sys {

ssize_t writev_clipped(int fd, const ::iovec* iov, int count, off_t off,
                       std::size_t limit) noexcept {
  std::array<::iovec, IOV_MAX> cut{};  // on the stack: a fault's slow path allocates nothing
  int n = 0;
  for (std::size_t left = limit; n < count && n < IOV_MAX && left > 0; ++n) {
    cut[static_cast<std::size_t>(n)] = iov[n];
    if (iov[n].iov_len > left) cut[static_cast<std::size_t>(n)].iov_len = left;
    left -= cut[static_cast<std::size_t>(n)].iov_len;
  }
  return off < 0 ? ::writev(fd, cut.data(), n) : ::pwritev(fd, cut.data(), n, off);
}

}  // namespace sluice::detail::sys
