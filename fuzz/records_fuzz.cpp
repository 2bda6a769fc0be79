// fuzz/records_fuzz.cpp: CSV and JSON lines parsing (sluice/db/csv.hpp, jsonl.hpp) as streams.
// The control byte's variant bits pick the format (and for CSV whether the first line is a
// header); each run parses the payload whatever it is (an error naming the line, or records,
// with the contract of driver.hpp), then writes the records it got back in that format and parses
// that again: the same records must come out (CSV: the same column names too).
// (A record of one NULL field is written as an empty line, which reads back as such a record
// once the width is known to be one column; before that a blank line is skipped, but a parser
// never emits such a record first, so the round trip holds.)
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "driver.hpp"
#include "sluice/db/csv.hpp"
#include "sluice/db/jsonl.hpp"

namespace {

using sluice::buffer;
using sluice::manual_loop;
using sluice::db::record;
namespace fz = sluice::fuzz;
namespace db = sluice::db;

sluice::transform_options marks(const fz::input& in) {
  return {.readable_high_water_mark = in.item_hwm(), .writable_high_water_mark = in.byte_hwm()};
}
fz::drive_options record_options(const fz::input& in) {
  return {.sink_hwm = in.item_hwm(), .out_chunk = 1, .out_hwm = in.item_hwm()};
}
fz::drive_options byte_options(const fz::input& in) {
  return {.sink_hwm = in.byte_hwm(), .out_chunk = 64 * 1024, .out_hwm = in.byte_hwm()};
}

// A record as one line, for the report of a mismatch.
std::string show(const record& r) {
  std::string s = "[";
  for (const auto& v : r.values) {
    if (std::holds_alternative<db::null_t>(v))
      s += "null";
    else if (const auto* t = std::get_if<std::string>(&v))
      s += "\"" + *t + "\"";
    else if (const auto* i = std::get_if<std::int64_t>(&v))
      s += std::to_string(*i);
    else if (const auto* d = std::get_if<double>(&v))
      s += std::to_string(*d) + "d";
    else if (const auto* b = std::get_if<bool>(&v))
      s += *b ? "true" : "false";
    else
      s += "?";
    s += ", ";
  }
  return s + "]";
}

void check_same(const std::vector<record>& got, const std::vector<record>& want) {
  if (got == want) return;
  std::fprintf(stderr, "round trip: %zu records, expected %zu\n", got.size(), want.size());
  for (std::size_t i = 0; i < std::max(got.size(), want.size()); ++i) {
    if (i < got.size() && i < want.size() && got[i] == want[i]) continue;
    std::fprintf(stderr, "record %zu: got %s\n  expected %s\n", i,
                 i < got.size() ? show(got[i]).c_str() : "-",
                 i < want.size() ? show(want[i]).c_str() : "-");
    break;
  }
  fuzz_check(got == want);
}

void check_csv(manual_loop& loop, fz::input& in, const std::string& payload, bool header) {
  static constexpr char separators[] = {',', ';', '\t', '|'};
  db::csv_options o;
  o.separator = separators[in.below(4)];
  o.header = header;
  o.ragged_records = in.below(2) == 0;
  o.max_field_size = 16 + in.below(4096);
  const auto first =
      fz::drive<record>(loop, db::parse_csv(loop, o, marks(in)), payload, in, record_options(in));
  if (first.items.empty()) return;

  db::csv_write_options w;
  w.separator = o.separator;
  w.header = header;
  w.chunk_size = 1 + in.below(256);
  const auto text = fz::drive_items<record, buffer>(loop, db::write_csv(loop, w), first.items, in,
                                                    byte_options(in));
  fuzz_check(text.finished);
  db::csv_options again = o;
  again.max_field_size = std::size_t{1} << 20;
  const auto second = fz::drive<record>(loop, db::parse_csv(loop, again, marks(in)), text.joined(),
                                        in, record_options(in));
  fuzz_check(second.finished);
  check_same(second.items, first.items);
  if (header && !second.items.empty()) {
    fuzz_check(second.items[0].columns && first.items[0].columns);
    fuzz_check(*second.items[0].columns == *first.items[0].columns);
  }
}

void check_jsonl(manual_loop& loop, fz::input& in, const std::string& payload) {
  db::jsonl_options o;
  o.max_line_length = 16 + in.below(8192);
  o.nested_as_text = in.below(2) == 0;
  const auto first =
      fz::drive<record>(loop, db::parse_jsonl(loop, o, marks(in)), payload, in, record_options(in));
  if (first.items.empty()) return;
  db::jsonl_write_options w;
  w.chunk_size = 1 + in.below(256);
  const auto text = fz::drive_items<record, buffer>(loop, db::write_jsonl(loop, w), first.items, in,
                                                    byte_options(in));
  fuzz_check(text.finished);
  db::jsonl_options again = o;
  again.max_line_length = std::size_t{1} << 20;
  const auto second = fz::drive<record>(loop, db::parse_jsonl(loop, again, marks(in)),
                                        text.joined(), in, record_options(in));
  fuzz_check(second.finished);
  check_same(second.items, first.items);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  fz::input in(data, size);
  const std::string payload(in.payload());
  manual_loop loop;
  if (in.variant() < 2)
    check_csv(loop, in, payload, in.variant() == 1);
  else
    check_jsonl(loop, in, payload);
  return 0;
}
