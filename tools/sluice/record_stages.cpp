// tools/sluice/record_stages.cpp: record segments and the record stage kinds (csv, jsonl,
// to-csv, to-jsonl).
#include "record_stages.hpp"

#include <cstdint>
#include <cstdio>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>

#include "sluice/compose/compose.hpp"
#include "sluice/core/error.hpp"
#include "sluice/core/supervision.hpp"
#include "sluice/db/csv.hpp"
#include "sluice/db/jsonl.hpp"

namespace sluice::cli {
namespace {

// The end of a segment that ends in a record sink: writes each record into the sink, holding
// the write's completion while the sink is full (its 'drain' releases it), ends the sink at the
// end and completes once the sink has finished (so the run's exit waits for the last commit).
// Gives no bytes.
class record_sink_tail final : public transform<db::record, buffer> {
 public:
  record_sink_tail(sluice::loop& l, std::shared_ptr<writable<db::record>> sink)
      : transform<db::record, buffer>(l, {}), sink_(std::move(sink)) {}

  // Listens to the sink (weakly: the sink's listeners must not keep the tail alive).
  void attach(const std::shared_ptr<record_sink_tail>& self) {
    std::weak_ptr<record_sink_tail> weak = self;
    sink_->on_drain([weak] {
      if (auto t = weak.lock()) t->release();
    });
    sink_->on_error([weak](std::error_code ec) {
      if (auto t = weak.lock()) t->fail(ec, t->sink_->error_context());
    });
  }

 protected:
  void do_transform(db::record&& r, transform_callback cb) override {
    if (sink_->write(std::move(r)))
      cb();
    else
      held_.emplace(cb);
  }
  void do_flush(callback cb) override {
    sink_->end([cb = std::move(cb)](std::error_code ec) { cb(ec); });
  }
  void do_destroy(std::error_code ec, callback done) override {
    if (held_) std::exchange(held_, std::nullopt).value()(make_error_code(errc::stream_destroyed));
    if (!sink_->destroyed() && !sink_->finished()) sink_->destroy(ec);
    transform<db::record, buffer>::do_destroy(ec, std::move(done));
  }

 private:
  void release() {
    if (held_) std::exchange(held_, std::nullopt).value()();
  }
  std::shared_ptr<writable<db::record>> sink_;
  std::optional<transform_callback> held_;
};

// A record source feeding `taker` (the segment's first record-taking stage): piped, its
// errors carried to the taker with their context, and destroyed when the taker goes first.
template <class Taker>
void feed(const std::shared_ptr<readable<db::record>>& source,
          const std::shared_ptr<Taker>& taker) {
  std::weak_ptr<Taker> t = taker;
  std::weak_ptr<readable<db::record>> s = source;
  source->on_error([t, s](std::error_code ec) {
    auto tk = t.lock();
    auto src = s.lock();
    if (tk && src) tk->fail(ec, src->error_context());
  });
  taker->on_close([s] {
    if (auto src = s.lock(); src && !src->readable_ended() && !src->destroyed())
      src->destroy(make_error_code(errc::aborted));
  });
  source->pipe(taker);
}

char separator_of(const std::string& text) { return text.size() == 1 ? text[0] : '\0'; }

}  // namespace

byte_stage record_stage_config::build(build_context&) const {
  throw std::logic_error("a record stage is built with its segment (build_record_segment)");
}

record_segment build_record_segment(const std::vector<stage_spec>& specs, std::size_t first,
                                    std::size_t last, build_context& ctx) {
  auto at = [&](std::size_t i) -> build_context& {
    ctx.index = i;
    ctx.name = specs[i].name;
    return ctx;
  };
  // The record-taking end: a formatter, or a record sink behind its tail.
  std::shared_ptr<transform<db::record, buffer>> tail;
  std::shared_ptr<stream> tail_stream;
  if (specs[last].is<record_formatter_config>()) {
    tail = specs[last].as<record_formatter_config>().make(at(last));
    tail_stream = tail;
  } else {
    auto sink = specs[last].as<record_sink_config>().make(at(last));
    auto t = std::make_shared<record_sink_tail>(ctx.loop, sink);
    t->attach(t);
    tail = t;
    tail_stream = sink;
  }
  if (last != first + 1)
    throw std::logic_error("record filters between a parser and a formatter are not built yet");
  if (specs[first].is<record_parser_config>()) {
    auto parser = specs[first].as<record_parser_config>().make(at(first));
    return {byte_stage(compose(parser, tail), specs[first].name), {parser, tail_stream}};
  }
  auto source = specs[first].as<record_source_config>().make(at(first));
  feed(source, tail);
  return {byte_stage(tail, specs[first].name), {source, tail_stream}};
}

std::size_t failed_stream(const std::vector<std::shared_ptr<stream>>& streams) {
  for (std::size_t i = 0; i < streams.size(); ++i)
    if (streams[i]->errored() && !streams[i]->error_context().empty()) return i;
  for (std::size_t i = 0; i < streams.size(); ++i)
    if (streams[i]->errored()) return i;
  return streams.size();
}

// ---- The kinds ----------------------------------------------------------------------------

namespace {

// --skip-bad: each skipped record on stderr, the first few of them, and the count at the end
// (when the stage goes).
class bad_record_report {
 public:
  explicit bad_record_report(std::string stage) : stage_(std::move(stage)) {}
  bad_record_report(const bad_record_report&) = delete;
  bad_record_report& operator=(const bad_record_report&) = delete;
  ~bad_record_report() {
    if (count_ > shown)
      std::fprintf(stderr, "sluice: %s: %llu bad records skipped\n", stage_.c_str(),
                   static_cast<unsigned long long>(count_));
  }
  void add(const skipped_item& s) {
    if (++count_ <= shown)
      std::fprintf(stderr, "sluice: %s: %s (skipped)\n", s.detail.c_str(),
                   s.error.message().c_str());
    if (count_ == shown)
      std::fprintf(stderr, "sluice: %s: further bad records are skipped without a message\n",
                   stage_.c_str());
  }

 private:
  static constexpr std::uint64_t shown = 10;
  std::string stage_;
  std::uint64_t count_ = 0;
};

std::optional<skip_policy> bad_records(bool on, std::string stage) {
  if (!on) return std::nullopt;
  auto report = std::make_shared<bad_record_report>(std::move(stage));
  return skip_policy{.on_skip = [report](const skipped_item& s) { report->add(s); }};
}

}  // namespace

std::shared_ptr<transform<buffer, db::record>> csv_stage::make(build_context& ctx) const {
  return db::parse_csv(ctx.loop, {.separator = separator,
                                  .header = header,
                                  .ragged_records = ragged,
                                  .skip = bad_records(skip_bad, "csv")});
}

std::shared_ptr<transform<buffer, db::record>> jsonl_stage::make(build_context& ctx) const {
  return db::parse_jsonl(
      ctx.loop, {.nested_as_text = nested_as_text, .skip = bad_records(skip_bad, "jsonl")});
}

std::shared_ptr<transform<db::record, buffer>> to_csv_stage::make(build_context& ctx) const {
  return db::write_csv(ctx.loop, {.separator = separator, .header = header});
}

std::shared_ptr<transform<db::record, buffer>> to_jsonl_stage::make(build_context& ctx) const {
  return db::write_jsonl(ctx.loop);
}

namespace {
// --sep C: one byte, not a quote or a line end; "\t" (or the word "tab") for a tab.
std::optional<syntax_error> parse_sep(stage_args& a, const token& t, char& out) {
  auto v = a.value_of(t);
  if (auto* e = std::get_if<syntax_error>(&v)) return *e;
  const token& val = *std::get<const token*>(v);
  const std::string& text = val.text;
  out = text == "\\t" || text == "tab" ? '\t' : separator_of(text);
  if (out == '\0' || out == '"' || out == '\n' || out == '\r')
    return error_at(val, a.name() +
                             ": the separator must be one character, not a quote or a "
                             "line end: " +
                             quote(text));
  return std::nullopt;
}
}  // namespace

std::variant<std::shared_ptr<const stage_config>, syntax_error> parse_csv_stage(stage_args& a) {
  auto c = std::make_shared<csv_stage>();
  while (!a.done()) {
    const token& t = a.next();
    const std::string name = is_option(t) ? option_name(t) : "";
    if (name == "--header" && t.text == name)
      c->header = true;
    else if (name == "--ragged" && t.text == name)
      c->ragged = true;
    else if (name == "--skip-bad" && t.text == name)
      c->skip_bad = true;
    else if (name == "--sep") {
      if (auto e = parse_sep(a, t, c->separator)) return *e;
    } else
      return a.unexpected(t);
  }
  return c;
}

std::variant<std::shared_ptr<const stage_config>, syntax_error> parse_jsonl_stage(stage_args& a) {
  auto j = std::make_shared<jsonl_stage>();
  while (!a.done()) {
    const token& t = a.next();
    if (is_option(t) && t.text == "--nested-as-text")
      j->nested_as_text = true;
    else if (is_option(t) && t.text == "--skip-bad")
      j->skip_bad = true;
    else
      return a.unexpected(t);
  }
  return j;
}

std::variant<std::shared_ptr<const stage_config>, syntax_error> parse_to_csv_stage(stage_args& a) {
  auto c = std::make_shared<to_csv_stage>();
  while (!a.done()) {
    const token& t = a.next();
    const std::string name = is_option(t) ? option_name(t) : "";
    if (name == "--header" && t.text == name)
      c->header = true;
    else if (name == "--sep") {
      if (auto e = parse_sep(a, t, c->separator)) return *e;
    } else
      return a.unexpected(t);
  }
  return c;
}

std::variant<std::shared_ptr<const stage_config>, syntax_error> parse_to_jsonl_stage(
    stage_args& a) {
  if (!a.done()) return a.unexpected(a.next());
  return std::make_shared<to_jsonl_stage>();
}

}  // namespace sluice::cli
