// tools/sluice/filters.cpp: line_splitter, grep_filter, head_filter, line_counter.
#include "filters.hpp"

#include <algorithm>
#include <cctype>
#include <stdexcept>
#include <variant>

namespace sluice::cli {
namespace {

std::string ascii_lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

std::variant<grep_pattern, std::string> compile(const grep_options& g) {
  return compile_grep_pattern(g.pattern, {.ignore_case = g.ignore_case});
}

grep_pattern compile_or_throw(const grep_options& g) {
  auto compiled = compile(g);
  if (auto* why = std::get_if<std::string>(&compiled)) throw std::invalid_argument(*why);
  return std::get<grep_pattern>(std::move(compiled));
}

}  // namespace

// ---- line_splitter -----------------------------------------------------------------------------

line_splitter::line_splitter(sluice::loop& l, const transform_options& o) : transform(l, o) {}

void line_splitter::do_transform(buffer&& chunk, transform_callback cb) {
  const std::string_view v = chunk.view();
  const std::size_t last_nl = v.rfind('\n');
  if (last_nl == std::string_view::npos) {
    carry_.append(v);
    cb();
    return;
  }
  buffer out;
  if (carry_.empty()) {
    out = chunk.slice(0, last_nl + 1);  // shares the input's storage
  } else {
    carry_.append(v.substr(0, last_nl + 1));
    out = buffer(std::move(carry_));
    carry_.clear();
  }
  carry_.assign(v.substr(last_nl + 1));
  cb(std::move(out));
}

void line_splitter::do_flush(callback cb) {
  if (!carry_.empty()) {
    push(buffer(std::move(carry_)));
    carry_.clear();
  }
  cb({});
}

// ---- grep_filter -------------------------------------------------------------------------------

std::string check_grep_pattern(const grep_options& g) {
  if (g.fixed) return {};
  auto compiled = compile(g);
  if (auto* why = std::get_if<std::string>(&compiled)) return *why;
  return {};
}

grep_matcher::grep_matcher(grep_options g) : opts_(std::move(g)) {
  if (opts_.fixed)
    lowered_pattern_ = opts_.ignore_case ? ascii_lower(opts_.pattern) : opts_.pattern;
  else
    re_.emplace(compile_or_throw(opts_));
}

bool grep_matcher::keeps(std::string_view line) const {
  if (!opts_.fixed) return re_->search(line) != opts_.invert;
  if (opts_.ignore_case) {
    auto it = std::search(
        line.begin(), line.end(), lowered_pattern_.begin(), lowered_pattern_.end(),
        // (b as unsigned too: a pattern byte of 0x80 or above, as char, is negative and used
        // to match nothing; the fuzzer found it.)
        [](char a, char b) {
          return std::tolower(static_cast<unsigned char>(a)) == static_cast<unsigned char>(b);
        });
    return (it != line.end() || lowered_pattern_.empty()) != opts_.invert;
  }
  return (line.find(lowered_pattern_) != std::string_view::npos) != opts_.invert;
}

grep_matcher::counts grep_matcher::filter(std::string_view text, std::string& out) const {
  counts c;
  std::size_t start = 0;
  while (start < text.size()) {
    const std::size_t nl = text.find('\n', start);
    const std::size_t end = nl == std::string_view::npos ? text.size() : nl + 1;
    const std::string_view line = text.substr(start, end - start);
    ++c.lines;
    if (keeps(line.substr(0, nl == std::string_view::npos ? line.size() : line.size() - 1))) {
      ++c.kept;
      out.append(line);
    }
    start = end;
  }
  return c;
}

grep_filter::grep_filter(sluice::loop& l, grep_options g, const transform_options& o)
    : transform(l, o), matcher_(std::move(g)) {}

void grep_filter::do_transform(buffer&& chunk, transform_callback cb) {
  const std::string_view v = chunk.view();
  const std::size_t last_nl = v.rfind('\n');
  if (last_nl == std::string_view::npos) {
    carry_.append(v);
    cb();
    return;
  }
  std::string out;
  if (!carry_.empty()) {
    // The line that started in an earlier chunk ends in this one.
    const std::size_t first_nl = v.find('\n');
    carry_.append(v.substr(0, first_nl + 1));
    filter(carry_, out);
    carry_.clear();
    filter(v.substr(first_nl + 1, last_nl - first_nl), out);
  } else {
    filter(v.substr(0, last_nl + 1), out);
  }
  carry_.assign(v.substr(last_nl + 1));
  if (out.empty())
    cb();
  else
    cb(buffer(std::move(out)));
}

void grep_filter::do_flush(callback cb) {
  if (!carry_.empty()) {
    std::string out;
    filter(carry_, out);
    carry_.clear();
    if (!out.empty()) push(buffer(std::move(out)));
  }
  cb({});
}

// ---- head_filter -------------------------------------------------------------------------------

rate_limiter::rate_limiter(sluice::loop& l, std::uint64_t bytes_per_second,
                           const transform_options& o)
    : transform(l, o), rate_(bytes_per_second == 0 ? 1 : bytes_per_second) {}

void rate_limiter::do_transform(buffer&& chunk, transform_callback cb) {
  const loop::time_point now = get_loop().now();
  next_ = std::max(next_, now) +
          std::chrono::duration_cast<loop::duration>(std::chrono::duration<double>(
              static_cast<double>(chunk.size()) / static_cast<double>(rate_)));
  timer_ = get_loop().start_timer(next_ - now,
                                  [weak = weak_from_this(), c = std::move(chunk), cb]() mutable {
                                    if (auto self = weak.lock(); self && !self->destroyed())
                                      cb(std::move(c));
                                  });
}

void rate_limiter::do_destroy(std::error_code ec, callback cb) {
  timer_.cancel();
  cb(ec);
}

head_filter::head_filter(sluice::loop& l, options h, const transform_options& o)
    : transform(l, o), left_(h.count), bytes_(h.bytes), on_limit_(std::move(h.on_limit)) {}

void head_filter::reach_limit() {
  if (limit_reported_) return;
  limit_reported_ = true;
  if (on_limit_) defer([this] { on_limit_(); });
}

void head_filter::do_transform(buffer&& chunk, transform_callback cb) {
  if (left_ == 0) {
    reach_limit();
    cb();
    return;
  }
  std::size_t take = chunk.size();
  if (bytes_) {
    take = static_cast<std::size_t>(std::min<std::uint64_t>(left_, chunk.size()));
    left_ -= take;
  } else {
    const std::string_view v = chunk.view();
    std::size_t pos = 0;
    while (left_ != 0) {
      const std::size_t nl = v.find('\n', pos);
      if (nl == std::string_view::npos) {
        pos = v.size();
        break;
      }
      pos = nl + 1;
      --left_;
    }
    take = pos;
  }
  if (left_ == 0) reach_limit();
  if (take == 0)
    cb();
  else if (take == chunk.size())
    cb(std::move(chunk));
  else
    cb(chunk.slice(0, take));
}

// ---- line_counter ------------------------------------------------------------------------------

line_counter::line_counter(sluice::loop& l, bool bytes, const transform_options& o)
    : transform(l, o), bytes_(bytes) {}

void line_counter::do_transform(buffer&& chunk, transform_callback cb) {
  const std::string_view v = chunk.view();
  total_ += v.size();
  lines_ += static_cast<std::uint64_t>(std::count(v.begin(), v.end(), '\n'));
  if (!v.empty()) open_line_ = v.back() != '\n';
  cb();
}

void line_counter::do_flush(callback cb) {
  const std::uint64_t n = bytes_ ? total_ : lines_ + (open_line_ ? 1 : 0);
  push(buffer(std::to_string(n) + "\n"));
  cb({});
}

}  // namespace sluice::cli
