// tools/sluice/run_syntax.cpp: tokenizer and parser of `sluice run` expressions.
#include "run_syntax.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <limits>
#include <regex>

#include "sluice/compress.hpp"

namespace sluice::cli {
namespace {

bool is_blank(char c) noexcept { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

syntax_error error_at(const token& t, std::string message) {
  return {std::move(message), t.offset, std::max<std::size_t>(t.length, 1)};
}

std::string quote(std::string_view s) { return "'" + std::string(s) + "'"; }

// An option is an unquoted token starting with '-' (but not "-" alone, nor a negative number
// where a number is expected: callers that take numbers look at the raw token themselves).
bool is_option(const token& t) noexcept {
  return !t.quoted && t.text.size() > 1 && t.text[0] == '-';
}

std::optional<long long> parse_int(std::string_view s) {
  long long v = 0;
  const char* end = s.data() + s.size();
  auto [p, ec] = std::from_chars(s.data(), end, v);
  if (ec != std::errc{} || p != end || s.empty()) return std::nullopt;
  return v;
}

// The argument tokens of one stage (everything after its name, up to the next '|').
struct stage_tokens {
  const token* name = nullptr;
  std::vector<const token*> args;
  std::size_t end_offset = 0;  // one past the last byte of the stage
};

// Walks a stage's arguments: options with or without a value, and positional words.
class arg_reader {
 public:
  explicit arg_reader(const stage_tokens& st) : st_(st) {}
  [[nodiscard]] bool done() const noexcept { return i_ >= st_.args.size(); }
  [[nodiscard]] const token& peek() const { return *st_.args[i_]; }
  const token& next() { return *st_.args[i_++]; }
  // The value of an option that takes one: "--level=9" or "--level 9".
  std::variant<const token*, syntax_error> value_of(const token& opt, std::string_view name,
                                                    token& inline_value) {
    if (auto eq = opt.text.find('='); eq != std::string::npos) {
      inline_value.text = opt.text.substr(eq + 1);
      inline_value.offset = opt.offset + eq + 1;
      inline_value.length = opt.length - eq - 1;
      if (inline_value.text.empty()) return error_at(opt, std::string(name) + " needs a value");
      return &inline_value;
    }
    if (done()) return error_at(opt, std::string(name) + " needs a value");
    return &next();
  }

 private:
  const stage_tokens& st_;
  std::size_t i_ = 0;
};

std::string option_name(const token& t) { return t.text.substr(0, t.text.find('=')); }

using stage_result = std::variant<stage_variant, syntax_error>;

syntax_error unexpected(const token& t, std::string_view stage) {
  if (is_option(t)) return error_at(t, std::string(stage) + ": unknown option " + quote(t.text));
  return error_at(t, std::string(stage) + ": unexpected argument " + quote(t.text));
}

syntax_error missing(const stage_tokens& st, std::string what) {
  // Point just past the stage, where the missing word would go.
  return {std::string(st.name->text) + ": missing " + what, st.end_offset, 1};
}

// read FILE... / write FILE [--append] [--no-atomic]
stage_result parse_file_stage(const stage_tokens& st, bool is_write) {
  arg_reader in(st);
  std::optional<std::string> path;
  read_stage r;
  write_stage w;
  while (!in.done()) {
    const token& t = in.next();
    if (is_write && is_option(t) && t.text == "--append") {
      w.append = true;
    } else if (is_write && is_option(t) && t.text == "--no-atomic") {
      w.atomic = false;
    } else if (!is_option(t) && !path) {
      path = t.text;
    } else if (!is_write && !is_option(t)) {
      r.paths.push_back(t.text);
    } else {
      return unexpected(t, st.name->text);
    }
  }
  if (!path) return missing(st, "FILE");
  if (!is_write) {
    r.paths.insert(r.paths.begin(), *path);
    return r;
  }
  w.path = *path;
  return w;
}

struct level_range {
  int min;
  int max;
};

stage_result parse_codec(const stage_tokens& st, codec_kind kind) {
  codec_stage c;
  c.kind = kind;
  const bool compressor =
      kind == codec_kind::gzip || kind == codec_kind::zstd || kind == codec_kind::brotli;
  const level_range range = kind == codec_kind::gzip   ? level_range{0, 9}
                            : kind == codec_kind::zstd ? level_range{1, 19}
                                                       : level_range{0, 11};
  arg_reader in(st);
  while (!in.done()) {
    const token& t = in.next();
    const std::string opt = option_name(t);
    token inline_value;
    if (compressor && is_option(t) && opt == "--level") {
      auto v = in.value_of(t, "--level", inline_value);
      if (auto* e = std::get_if<syntax_error>(&v)) return *e;
      const token& val = *std::get<const token*>(v);
      auto n = parse_int(val.text);
      if (!n || *n < range.min || *n > range.max)
        return error_at(val, st.name->text + ": --level must be " + std::to_string(range.min) +
                                 ".." + std::to_string(range.max) + ", not " + quote(val.text));
      c.level = static_cast<int>(*n);
    } else if ((kind == codec_kind::gzip || kind == codec_kind::gunzip) && is_option(t) &&
               opt == "--engine") {
      auto v = in.value_of(t, "--engine", inline_value);
      if (auto* e = std::get_if<syntax_error>(&v)) return *e;
      const token& val = *std::get<const token*>(v);
      if (val.text == "zlib")
        c.engine = gzip_engine_kind::zlib;
      else if (val.text == "isal")
        c.engine = gzip_engine_kind::isal;
      else
        return error_at(val,
                        st.name->text + ": --engine must be zlib or isal, not " + quote(val.text));
    } else if (kind == codec_kind::gzip && is_option(t) && opt == "--threads") {
      auto v = in.value_of(t, "--threads", inline_value);
      if (auto* e = std::get_if<syntax_error>(&v)) return *e;
      const token& val = *std::get<const token*>(v);
      auto n = parse_int(val.text);
      if (!n || *n < 0 || *n > static_cast<long long>(max_gzip_threads))
        return error_at(val, "gzip: --threads must be 0.." + std::to_string(max_gzip_threads) +
                                 ", not " + quote(val.text));
      c.threads = static_cast<unsigned>(*n);
    } else {
      return unexpected(t, st.name->text);
    }
  }
  return c;
}

stage_result parse_grep(const stage_tokens& st) {
  grep_stage g;
  std::optional<std::string> pattern;
  const token* pattern_token = nullptr;
  arg_reader in(st);
  bool options_done = false;
  while (!in.done()) {
    const token& t = in.next();
    if (!options_done && is_option(t) && t.text == "--") {
      options_done = true;
    } else if (!options_done && is_option(t) && t.text[1] != '-') {
      for (std::size_t i = 1; i < t.text.size(); ++i) {
        switch (t.text[i]) {
          case 'v':
            g.invert = true;
            break;
          case 'F':
            g.fixed = true;
            break;
          case 'i':
            g.ignore_case = true;
            break;
          default:
            return syntax_error{"grep: unknown option '-" + std::string(1, t.text[i]) + "'",
                                t.offset + i, 1};
        }
      }
    } else if ((options_done || !is_option(t)) && !pattern) {
      pattern = t.text;
      pattern_token = &t;
    } else {
      return unexpected(t, "grep");
    }
  }
  if (!pattern) return missing(st, "PATTERN");
  if (!g.fixed) {
    try {
      (void)std::regex(*pattern, g.ignore_case ? std::regex::ECMAScript | std::regex::icase
                                               : std::regex::ECMAScript);
    } catch (const std::regex_error& e) {
      return error_at(*pattern_token, std::string("grep: invalid regular expression: ") + e.what());
    }
  }
  g.pattern = std::move(*pattern);
  return g;
}

// head [N] | head -n N | head -c N   (N may carry a K/M/G suffix)
stage_result parse_head(const stage_tokens& st) {
  head_stage h;
  bool have_count = false;
  arg_reader in(st);
  while (!in.done()) {
    const token& t = in.next();
    const token* val = &t;
    if (is_option(t) && (t.text == "-c" || t.text == "-n")) {
      if (in.done()) return error_at(t, "head: " + t.text + " needs a count");
      h.bytes = t.text == "-c";
      val = &in.next();
    } else if (is_option(t) || have_count) {
      return unexpected(t, "head");
    }
    auto n = parse_size(val->text);
    if (!n) return error_at(*val, "head: not a count: " + quote(val->text));
    h.count = *n;
    have_count = true;
  }
  return h;
}

stage_result parse_count(const stage_tokens& st) {
  count_stage c;
  arg_reader in(st);
  while (!in.done()) {
    const token& t = in.next();
    if (is_option(t) && t.text == "-c")
      c.bytes = true;
    else if (is_option(t) && t.text == "-l")
      c.bytes = false;
    else
      return unexpected(t, "count");
  }
  return c;
}

stage_result parse_no_args(const stage_tokens& st, stage_variant what) {
  if (!st.args.empty()) return unexpected(*st.args.front(), st.name->text);
  return what;
}

stage_result parse_stage(const stage_tokens& st) {
  const std::string& n = st.name->text;
  if (n == "read") return parse_file_stage(st, false);
  if (n == "write") return parse_file_stage(st, true);
  if (n == "stdin") return parse_no_args(st, stdin_stage{});
  if (n == "stdout") return parse_no_args(st, stdout_stage{});
  if (n == "lines") return parse_no_args(st, lines_stage{});
  if (n == "grep") return parse_grep(st);
  if (n == "head") return parse_head(st);
  if (n == "count") return parse_count(st);
  static constexpr std::array<std::pair<std::string_view, codec_kind>, 6> codecs{{
      {"gzip", codec_kind::gzip},
      {"gunzip", codec_kind::gunzip},
      {"zstd", codec_kind::zstd},
      {"unzstd", codec_kind::unzstd},
      {"brotli", codec_kind::brotli},
      {"unbrotli", codec_kind::unbrotli},
  }};
  for (const auto& [name, kind] : codecs)
    if (n == name) return parse_codec(st, kind);
  return error_at(*st.name,
                  "unknown stage " + quote(n) + " (stages: " + std::string(stage_names()) + ")");
}

bool is_source(const stage_variant& v) noexcept {
  return std::holds_alternative<read_stage>(v) || std::holds_alternative<stdin_stage>(v);
}
bool is_sink(const stage_variant& v) noexcept {
  return std::holds_alternative<write_stage>(v) || std::holds_alternative<stdout_stage>(v);
}

}  // namespace

std::variant<std::vector<token>, syntax_error> tokenize(std::string_view expr) {
  std::vector<token> out;
  std::size_t i = 0;
  while (i < expr.size()) {
    if (is_blank(expr[i])) {
      ++i;
      continue;
    }
    token t;
    t.offset = i;
    if (expr[i] == '|') {
      t.text = "|";
      t.pipe = true;
      t.length = 1;
      out.push_back(std::move(t));
      ++i;
      continue;
    }
    // A word: runs of plain characters and quoted parts ("a'b c'd" is one word, as in sh).
    while (i < expr.size() && !is_blank(expr[i]) && expr[i] != '|') {
      const char c = expr[i];
      if (c == '\'' || c == '"') {
        const std::size_t open = i++;
        t.quoted = true;
        while (i < expr.size() && expr[i] != c) {
          if (c == '"' && expr[i] == '\\' && i + 1 < expr.size() &&
              (expr[i + 1] == '"' || expr[i + 1] == '\\'))
            ++i;
          t.text += expr[i++];
        }
        if (i >= expr.size()) return syntax_error{"unterminated quote", open, expr.size() - open};
        ++i;  // closing quote
      } else {
        t.text += c;
        ++i;
      }
    }
    t.length = i - t.offset;
    out.push_back(std::move(t));
  }
  return out;
}

std::variant<std::vector<stage_spec>, syntax_error> parse_run_expression(std::string_view expr) {
  auto tokenized = tokenize(expr);
  if (auto* e = std::get_if<syntax_error>(&tokenized)) return *e;
  const auto& tokens = std::get<std::vector<token>>(tokenized);
  if (tokens.empty())
    return syntax_error{
        "empty expression: expected stages such as "
        "'read FILE | gzip | write FILE.gz'",
        0, 1};

  // Group the tokens into stages.
  std::vector<stage_tokens> groups;
  stage_tokens cur;
  for (std::size_t i = 0; i <= tokens.size(); ++i) {
    if (i == tokens.size() || tokens[i].pipe) {
      if (!cur.name) {
        const token& at = i == tokens.size() ? tokens.back() : tokens[i];
        return error_at(at, "empty stage: expected a stage name around this '|'");
      }
      groups.push_back(std::move(cur));
      cur = {};
      continue;
    }
    const token& t = tokens[i];
    if (!cur.name) {
      cur.name = &t;
    } else {
      cur.args.push_back(&t);
    }
    cur.end_offset = t.offset + t.length;
  }

  std::vector<stage_spec> stages;
  for (std::size_t g = 0; g < groups.size(); ++g) {
    const stage_tokens& st = groups[g];
    if (st.name->quoted || is_option(*st.name))
      return error_at(*st.name, "expected a stage name, not " + quote(st.name->text));
    stage_result r = parse_stage(st);
    if (auto* e = std::get_if<syntax_error>(&r)) return *e;
    stage_spec spec;
    spec.what = std::move(std::get<stage_variant>(r));
    spec.name = st.name->text;
    spec.offset = st.name->offset;
    spec.length = st.end_offset - st.name->offset;
    if (is_source(spec.what) && g != 0)
      return error_at(*st.name, quote(spec.name) + " is a source: it can only be the first stage");
    if (is_sink(spec.what) && g + 1 != groups.size())
      return error_at(*st.name, quote(spec.name) + " is a sink: it can only be the last stage");
    stages.push_back(std::move(spec));
  }
  if (!is_source(stages.front().what)) {
    stage_spec in{stdin_stage{}, "stdin", 0, 0, true};
    stages.insert(stages.begin(), std::move(in));
  }
  if (!is_sink(stages.back().what)) {
    stage_spec out{stdout_stage{}, "stdout", expr.size(), 0, true};
    stages.push_back(std::move(out));
  }
  return stages;
}

std::string format_syntax_error(std::string_view expr, const syntax_error& err) {
  // The expression on one line (newlines and tabs shown as blanks, so the caret lines up).
  std::string shown(expr);
  std::replace_if(
      shown.begin(), shown.end(), [](char c) { return is_blank(c); }, ' ');
  const std::size_t offset = std::min(err.offset, shown.size());
  const std::size_t length =
      std::max<std::size_t>(1, std::min(err.length, shown.size() - std::min(offset, shown.size())));
  std::string out = "sluice: run: " + err.message + "\n  " + shown + "\n  ";
  out.append(offset, ' ');
  out.append(length, '^');
  out += '\n';
  return out;
}

std::optional<std::uint64_t> parse_size(std::string_view text) {
  std::uint64_t value = 0;
  const char* end = text.data() + text.size();
  auto [p, ec] = std::from_chars(text.data(), end, value);
  if (ec != std::errc{} || p == text.data()) return std::nullopt;
  std::string suffix(p, end);
  std::transform(suffix.begin(), suffix.end(), suffix.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (suffix.ends_with("ib"))
    suffix.resize(suffix.size() - 2);
  else if (suffix.size() == 2 && suffix[1] == 'b')
    suffix.resize(1);
  unsigned shift = 0;
  if (suffix.empty() || suffix == "b")
    shift = 0;
  else if (suffix == "k")
    shift = 10;
  else if (suffix == "m")
    shift = 20;
  else if (suffix == "g")
    shift = 30;
  else if (suffix == "t")
    shift = 40;
  else
    return std::nullopt;
  if (shift != 0 && value > (std::numeric_limits<std::uint64_t>::max() >> shift))
    return std::nullopt;
  return value << shift;
}

std::string_view stage_names() noexcept {
  return "read, write, stdin, stdout, gzip, gunzip, zstd, unzstd, brotli, unbrotli, lines, grep, "
         "head, count";
}

}  // namespace sluice::cli
