// fuzz/run_syntax_fuzz.cpp: the expression language of `sluice run` (tools/sluice/run_syntax.hpp).
// The whole input is the expression (no control byte: nothing streams here). Checked:
// - tokenize(): every token lies inside the expression, an unquoted token is the very bytes it
//   spans, and tokens come in order without overlapping;
// - parse_run_expression(): an error has a message and points at bytes of the expression (or
//   just past its end, where a missing word would go), and format_syntax_error() draws its
//   report; a success has at least two stages (a source and a sink; stdin and stdout are added
//   when left out), each written one lying inside the expression;
// - parse_size(): whatever it accepts is the number the text spells (checked for plain digits).
#include <charconv>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <variant>

#include "driver.hpp"
#include "run_syntax.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view expr(reinterpret_cast<const char*>(data), size);
  namespace cli = sluice::cli;

  if (auto tokens = cli::tokenize(expr); std::holds_alternative<std::vector<cli::token>>(tokens)) {
    std::size_t last_end = 0;
    for (const auto& t : std::get<std::vector<cli::token>>(tokens)) {
      fuzz_check(t.offset >= last_end && t.offset + t.length <= expr.size());
      if (!t.quoted) fuzz_check(expr.substr(t.offset, t.length) == t.text);
      last_end = t.offset + t.length;
    }
  } else {
    const auto& e = std::get<cli::syntax_error>(tokens);
    fuzz_check(!e.message.empty() && e.offset <= expr.size());
  }

  const auto parsed = cli::parse_run_expression(expr);
  if (const auto* e = std::get_if<cli::syntax_error>(&parsed)) {
    fuzz_check(!e->message.empty());
    fuzz_check(e->offset <= expr.size() && e->offset + e->length <= expr.size() + 1);
    const std::string report = cli::format_syntax_error(expr, *e);
    fuzz_check(report.starts_with("sluice: run: "));
  } else {
    const auto& stages = std::get<std::vector<cli::stage_spec>>(parsed);
    fuzz_check(stages.size() >= 2);
    for (const auto& s : stages) {
      fuzz_check(s.config != nullptr);
      if (!s.implicit) fuzz_check(s.offset + s.length <= expr.size());
    }
  }

  if (const auto n = cli::parse_size(expr)) {
    std::uint64_t plain = 0;
    const auto [end, ec] = std::from_chars(expr.data(), expr.data() + expr.size(), plain);
    if (ec == std::errc{} && end == expr.data() + expr.size()) fuzz_check(*n == plain);
  }
  return 0;
}
