// tools/sluice/run_syntax.cpp: tokenizer and parser of `sluice run` expressions.
#include "run_syntax.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <limits>

#include "stage_kinds.hpp"

namespace sluice::cli {
namespace {

bool is_blank(char c) noexcept { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

// The tokens of one stage: its name, its arguments (up to the next '|') and where it ends.
struct stage_tokens {
  const token* name = nullptr;
  std::vector<const token*> args;
  std::size_t end_offset = 0;  // one past the last byte of the stage
};

}  // namespace

syntax_error error_at(const token& t, std::string message) {
  return {std::move(message), t.offset, std::max<std::size_t>(t.length, 1)};
}

std::string quote(std::string_view s) { return "'" + std::string(s) + "'"; }

// An option is an unquoted token starting with '-' (but not "-" alone, nor a negative number
// where a number is expected: callers that take numbers look at the raw token themselves).
bool is_option(const token& t) noexcept {
  return !t.quoted && t.text.size() > 1 && t.text[0] == '-';
}

std::string option_name(const token& t) { return t.text.substr(0, t.text.find('=')); }

std::optional<long long> parse_int(std::string_view s) {
  long long v = 0;
  const char* end = s.data() + s.size();
  auto [p, ec] = std::from_chars(s.data(), end, v);
  if (ec != std::errc{} || p != end || s.empty()) return std::nullopt;
  return v;
}

std::variant<const token*, syntax_error> stage_args::value_of(const token& opt) {
  const std::string name = option_name(opt);
  if (auto eq = opt.text.find('='); eq != std::string::npos) {
    token& v = inline_values_.emplace_back();
    v.text = opt.text.substr(eq + 1);
    v.offset = opt.offset + eq + 1;
    v.length = opt.length - eq - 1;
    if (v.text.empty()) return error_at(opt, name + " needs a value");
    return &v;
  }
  if (done()) return error_at(opt, name + " needs a value");
  return &next();
}

syntax_error stage_args::unexpected(const token& t) const {
  if (is_option(t)) return error_at(t, name() + ": unknown option " + quote(t.text));
  return error_at(t, name() + ": unexpected argument " + quote(t.text));
}

syntax_error stage_args::missing(const std::string& what) const {
  return {name() + ": missing " + what, end_offset_, 1};
}

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

namespace {

// Bytes and records meet only where a parser or a formatter stands: a stage that takes records
// must follow one that gives them, and the reverse. The error names both stages and points at
// the second.
std::optional<syntax_error> check_records(const std::vector<stage_spec>& stages,
                                          const std::vector<stage_role>& roles) {
  bool records = false;  // what the stage before gives
  std::string before = "the input (stdin)";
  for (std::size_t i = 0; i < stages.size(); ++i) {
    const stage_role r = roles[i];
    const stage_spec& s = stages[i];
    const bool is_source = r == stage_role::source || r == stage_role::record_source;
    const bool takes_records = r == stage_role::record_formatter || r == stage_role::record_sink;
    const syntax_error here{"", s.offset, std::max<std::size_t>(1, s.length)};
    if (!is_source && takes_records && !records)
      return syntax_error{quote(s.name) + " takes records, but " + before +
                              " gives bytes (put csv or jsonl before it)",
                          here.offset, here.length};
    if (!is_source && !takes_records && records)
      return syntax_error{quote(s.name) + " takes bytes, but " + before +
                              " gives records (put to-csv or to-jsonl before it)",
                          here.offset, here.length};
    records = r == stage_role::record_parser || r == stage_role::record_source;
    before = quote(s.name);
  }
  if (records)
    return syntax_error{before + " gives records: end with to-csv, to-jsonl or a record sink",
                        stages.back().offset, std::max<std::size_t>(1, stages.back().length)};
  return std::nullopt;
}

}  // namespace

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
  std::vector<stage_role> roles;
  for (std::size_t g = 0; g < groups.size(); ++g) {
    const stage_tokens& st = groups[g];
    if (st.name->quoted || is_option(*st.name))
      return error_at(*st.name, "expected a stage name, not " + quote(st.name->text));
    const stage_kind* kind = find_stage_kind(st.name->text);
    if (!kind)
      return error_at(*st.name,
                      "unknown stage " + quote(st.name->text) + " (stages: " + stage_names() + ")");
    stage_args args(*st.name, st.args, st.end_offset);
    auto parsed = kind->parse(args);
    if (auto* e = std::get_if<syntax_error>(&parsed)) return *e;
    stage_spec spec;
    spec.config = std::move(std::get<std::shared_ptr<const stage_config>>(parsed));
    spec.name = st.name->text;
    spec.offset = st.name->offset;
    spec.length = st.end_offset - st.name->offset;
    if ((kind->role == stage_role::source || kind->role == stage_role::record_source) && g != 0)
      return error_at(*st.name, quote(spec.name) + " is a source: it can only be the first stage");
    if ((kind->role == stage_role::sink || kind->role == stage_role::record_sink) &&
        g + 1 != groups.size())
      return error_at(*st.name, quote(spec.name) + " is a sink: it can only be the last stage");
    if (kind->role == stage_role::endpoint && g != 0 && g + 1 != groups.size())
      return error_at(*st.name, quote(spec.name) +
                                    " is a source or a sink: it can only be the first or the "
                                    "last stage");
    stages.push_back(std::move(spec));
    // An endpoint is the source when it comes first (also when it stands alone), else the sink.
    roles.push_back(kind->role != stage_role::endpoint ? kind->role
                    : g == 0                           ? stage_role::source
                                                       : stage_role::sink);
  }
  if (auto e = check_records(stages, roles)) return *e;
  if (roles.front() != stage_role::source && roles.front() != stage_role::record_source) {
    stage_spec in{std::make_shared<stdin_stage>(), "stdin", 0, 0, true};
    stages.insert(stages.begin(), std::move(in));
  }
  if (roles.back() != stage_role::sink) {
    stage_spec out{std::make_shared<stdout_stage>(), "stdout", expr.size(), 0, true};
    stages.push_back(std::move(out));
  }
  return stages;
}

std::string format_syntax_error(std::string_view expr, const syntax_error& err) {
  // The expression on one line (newlines and tabs shown as blanks, so the caret lines up).
  std::string shown(expr);
  std::replace_if(
      shown.begin(), shown.end(), [](char c) { return is_blank(c); }, ' ');
  std::size_t offset = std::min(err.offset, shown.size());
  std::size_t length =
      std::max<std::size_t>(1, std::min(err.length, shown.size() - std::min(offset, shown.size())));
  // A long expression (a pattern of 20,000 parentheses) is shown as a window around the
  // error, "..." marking what is cut, so that the report stays a few short lines.
  constexpr std::size_t window = 100;
  constexpr std::size_t before = 40;
  if (shown.size() > window) {
    const std::size_t from = offset > before ? offset - before : 0;
    const std::size_t to = std::min(shown.size(), from + window);
    std::string cut = (from > 0 ? "..." : "") + shown.substr(from, to - from);
    if (to < shown.size()) cut += "...";
    offset = offset - from + (from > 0 ? 3 : 0);
    length = std::max<std::size_t>(1, std::min(length, to - std::min(to, err.offset)));
    shown = std::move(cut);
  }
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

}  // namespace sluice::cli
