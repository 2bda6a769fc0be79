// fuzz/lines_fuzz.cpp: line splitting (sluice/codec/lines.hpp) against a line-by-line reference.
// After the control byte (driver.hpp), the payload is the text; the generator picks the longest
// line accepted (1 to 64 bytes, or the default). Whatever the chunking:
// - with no line over the limit, the lines come out as the reference splits them ("\n" or
//   "\r\n" ends a line, a lone "\r" is part of it, the last line needs no newline);
// - otherwise the stream fails with line_too_long, after emitting at most the lines before the
//   first long one.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "driver.hpp"
#include "sluice/codec/lines.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  namespace fz = sluice::fuzz;
  fz::input in(data, size);
  const std::string_view text = in.payload();
  sluice::line_options lo;
  if (in.variant() != 0) lo.max_line_length = 1 + in.below(64);

  std::vector<std::string> expected;
  std::size_t first_long = std::string::npos;  // index of the first line over the limit
  for (std::string_view rest = text; !rest.empty();) {
    const std::size_t nl = rest.find('\n');
    std::string_view line = rest.substr(0, nl);
    if (nl != std::string_view::npos && line.ends_with('\r')) line.remove_suffix(1);
    if (line.size() > lo.max_line_length && first_long == std::string::npos)
      first_long = expected.size();
    expected.emplace_back(line);
    rest = nl == std::string_view::npos ? std::string_view{} : rest.substr(nl + 1);
  }

  sluice::manual_loop loop;
  sluice::transform_options o{.readable_high_water_mark = in.item_hwm(),
                              .writable_high_water_mark = in.byte_hwm()};
  const auto r =
      fz::drive<std::string>(loop, std::make_shared<sluice::line_splitter>(loop, lo, o), text, in,
                             {.sink_hwm = in.item_hwm(), .out_chunk = 1, .out_hwm = in.item_hwm()});
  if (first_long == std::string::npos) {
    fuzz_check(r.finished);
    fuzz_check(r.items == expected);
  } else {
    fuzz_check(r.ec == sluice::lines_errc::line_too_long);
    fuzz_check(r.items.size() <= first_long);
    for (std::size_t i = 0; i < r.items.size(); ++i) fuzz_check(r.items[i] == expected[i]);
  }
  return 0;
}
