// bench/grep/grep_bench.cpp: the engines `grep` in `sluice run` could use, on the same lines.
//
//   sluice-grep-bench generate SIZE FILE      writes SIZE bytes of the CLI's log-like text
//   sluice-grep-bench match FILE PATTERN [-i] counts the matching lines of FILE with each
//                                             engine, one line each: "engine seconds matches
//                                             errors"
//
// Engines: "re2" (grep_pattern, what the CLI uses), "std_regex" (std::regex ECMAScript, what it
// used), "pcre2_jit" (when built with PCRE2: JIT, with a match limit). The file is read into
// memory first; the time is the matching of every line, as grep_filter does it. Lines longer
// than SLUICE_BENCH_STD_REGEX_MAX (default 4096) bytes are not given to std::regex, whose
// recursion overflows the stack on long lines; it counts them as errors instead.
// scripts/bench-grep.sh runs this next to `grep -E` and prints ratios.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <iterator>
#include <regex>
#include <string>
#include <string_view>
#include <variant>

#include "grep_pattern.hpp"
#include "text_gen.hpp"

#ifdef SLUICE_BENCH_HAVE_PCRE2
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#endif

namespace {

struct tally {
  std::size_t matches = 0;
  std::size_t errors = 0;  // lines the engine could not decide
};

// Calls `match` on every line of `text` (without its newline) and times the whole pass.
// `match` returns 1 (match), 0 (none) or -1 (error).
void time_engine(const char* name, std::string_view text,
                 const std::function<int(std::string_view)>& match) {
  tally t;
  const auto start = std::chrono::steady_clock::now();
  std::size_t pos = 0;
  while (pos < text.size()) {
    std::size_t nl = text.find('\n', pos);
    if (nl == std::string_view::npos) nl = text.size();
    const int r = match(text.substr(pos, nl - pos));
    if (r > 0) ++t.matches;
    if (r < 0) ++t.errors;
    pos = nl + 1;
  }
  const std::chrono::duration<double> took = std::chrono::steady_clock::now() - start;
  std::printf("%s %.6f %zu %zu\n", name, took.count(), t.matches, t.errors);
  std::fflush(stdout);
}

int match_all(const std::string& file, const std::string& pattern, bool icase) {
  std::ifstream in(file, std::ios::binary);
  if (!in) {
    std::fprintf(stderr, "sluice-grep-bench: cannot read %s\n", file.c_str());
    return 1;
  }
  const std::string text{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};

  auto compiled = sluice::cli::compile_grep_pattern(pattern, {.ignore_case = icase});
  if (auto* why = std::get_if<std::string>(&compiled)) {
    std::fprintf(stderr, "sluice-grep-bench: re2: %s\n", why->c_str());
    return 1;
  }
  const auto& re2 = std::get<sluice::cli::grep_pattern>(compiled);
  time_engine("re2", text, [&](std::string_view l) { return re2.search(l) ? 1 : 0; });

  const char* cap = std::getenv("SLUICE_BENCH_STD_REGEX_MAX");
  const std::size_t std_max = cap != nullptr ? std::strtoull(cap, nullptr, 10) : 4096;
  auto flags = std::regex::ECMAScript;
  if (icase) flags |= std::regex::icase;
  const std::regex sre(pattern, flags);
  time_engine("std_regex", text, [&](std::string_view l) {
    if (l.size() > std_max) return -1;
    return std::regex_search(l.begin(), l.end(), sre) ? 1 : 0;
  });

#ifdef SLUICE_BENCH_HAVE_PCRE2
  int err = 0;
  PCRE2_SIZE err_at = 0;
  pcre2_code* code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(),
                                   icase ? PCRE2_CASELESS : 0u, &err, &err_at, nullptr);
  if (code == nullptr) {
    std::fprintf(stderr, "sluice-grep-bench: pcre2: cannot compile (error %d)\n", err);
    return 1;
  }
  pcre2_jit_compile(code, PCRE2_JIT_COMPLETE);
  pcre2_match_context* mctx = pcre2_match_context_create(nullptr);
  pcre2_set_match_limit(mctx, 10'000'000);  // what a CLI would need against runaway patterns
  pcre2_jit_stack* stack = pcre2_jit_stack_create(32 << 10, 1 << 20, nullptr);
  pcre2_jit_stack_assign(mctx, nullptr, stack);
  pcre2_match_data* md = pcre2_match_data_create_from_pattern(code, nullptr);
  time_engine("pcre2_jit", text, [&](std::string_view l) {
    const int rc =
        pcre2_match(code, reinterpret_cast<PCRE2_SPTR>(l.data()), l.size(), 0, 0, md, mctx);
    if (rc >= 0) return 1;
    return rc == PCRE2_ERROR_NOMATCH ? 0 : -1;
  });
  pcre2_match_data_free(md);
  pcre2_jit_stack_free(stack);
  pcre2_match_context_free(mctx);
  pcre2_code_free(code);
#endif
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string cmd = argc > 1 ? argv[1] : "";
  if (cmd == "generate" && argc == 4) {
    std::string what;
    if (auto ec =
            sluice::cli::write_text_file(argv[3], std::strtoull(argv[2], nullptr, 10), &what)) {
      std::fprintf(stderr, "sluice-grep-bench: %s %s: %s\n", what.c_str(), argv[3],
                   ec.message().c_str());
      return 1;
    }
    return 0;
  }
  if (cmd == "match" && (argc == 4 || (argc == 5 && std::string_view(argv[4]) == "-i")))
    return match_all(argv[2], argv[3], argc == 5);
  std::fprintf(stderr,
               "usage: sluice-grep-bench generate SIZE FILE\n"
               "       sluice-grep-bench match FILE PATTERN [-i]\n");
  return 2;
}
