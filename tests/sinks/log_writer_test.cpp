// log_writer and rotating_file_writer (sluice/sinks/log_writer.hpp): formats checked exactly and
// parsed back (Boost.JSON, python3), routing, min_level, backpressure from a held destination on
// a manual_loop, and rotation on real files, gzipped files read back with the real gzip -d.
#include "sluice/sinks/log_writer.hpp"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include <chrono>
#include <cstdio>
#include <deque>
#include <filesystem>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "sluice/core/loop.hpp"
#include "sluice/core/make.hpp"
#include "support/temp_files.hpp"

namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using sluice::buffer;
using sluice::log_format;
using sluice::log_level;
using sluice::log_record;
using sluice::manual_loop;
using sluice::test::read_file;
using sluice::test::temp_dir;

// 2026-12-05T23:59:01.123Z
const auto fixed_time = std::chrono::system_clock::time_point(
    std::chrono::sys_days(std::chrono::year{2026} / 12 / 5) + 23h + 59min + 1s + 123ms);

log_record rec(log_level l, std::string msg,
               std::vector<std::pair<std::string, sluice::log_value>> fields = {}) {
  return {.level = l, .message = std::move(msg), .fields = std::move(fields), .time = fixed_time};
}

// A destination that records each write and completes it at once or when the test says so.
struct sink_state {
  std::vector<std::string> writes;
  std::deque<sluice::writable<buffer>::write_callback> held;
  bool hold = false;
  std::string joined() const {
    std::string s;
    for (const auto& w : writes) s += w;
    return s;
  }
  void release_all() {
    auto h = std::move(held);
    held.clear();
    for (auto& cb : h) cb();
  }
};

std::shared_ptr<sluice::writable<buffer>> make_sink(manual_loop& loop,
                                                    const std::shared_ptr<sink_state>& s,
                                                    std::optional<std::size_t> hwm = {}) {
  return sluice::make_writable<buffer>(
      loop, {.high_water_mark = hwm,
             .name = "sink",
             .write = [s](sluice::writable<buffer>&, buffer&& b, auto cb) {
               s->writes.push_back(b.to_string());
               if (s->hold)
                 s->held.push_back(cb);
               else
                 cb();
             }});
}

// Records each write callback's outcome.
struct outcomes {
  std::vector<std::string> seen;  // "<tag>:ok" or "<tag>:<message>"
  sluice::callback cb(std::string tag) {
    return
        [this, tag](std::error_code ec) { seen.push_back(tag + ":" + (ec ? ec.message() : "ok")); };
  }
};

std::string run(const std::string& cmd) {
  std::string out;
  FILE* p = ::popen(cmd.c_str(), "r");
  if (p == nullptr) return "popen failed";
  char buf[4096];
  std::size_t n = 0;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  const int rc = ::pclose(p);
  if (rc != 0) out += "\n(exit " + std::to_string(rc) + ")";
  return out;
}

std::vector<std::string> lines_of(const std::string& s) {
  std::vector<std::string> v;
  std::size_t start = 0;
  for (std::size_t i = 0; i < s.size(); ++i)
    if (s[i] == '\n') {
      v.push_back(s.substr(start, i - start));
      start = i + 1;
    }
  return v;
}

// ---- formats ----------------------------------------------------------------------------------

TEST(LogFormat, TextLineIsExact) {
  const auto line = sluice::format_log_line(rec(log_level::info, "message",
                                                {{"key", "value"},
                                                 {"key2", "quoted value"},
                                                 {"n", -42},
                                                 {"x", 1.5},
                                                 {"ok", true},
                                                 {"none", nullptr},
                                                 {"empty", ""},
                                                 {"esc", "a\"b\\c\nd\x01"},
                                                 {"utf8", "h\xc3\xa9llo"},
                                                 {"odd key", std::string("v=1")}}),
                                            log_format::text);
  EXPECT_EQ(line,
            "2026-12-05T23:59:01.123Z INFO  message key=value key2=\"quoted value\" n=-42 x=1.5 "
            "ok=true none=null empty=\"\" esc=\"a\\\"b\\\\c\\nd\\x01\" utf8=h\xc3\xa9llo "
            "\"odd key\"=\"v=1\"\n");
}

TEST(LogFormat, TextMessageStaysOnOneLine) {
  EXPECT_EQ(sluice::format_log_line(rec(log_level::warn, "two words"), log_format::text),
            "2026-12-05T23:59:01.123Z WARN  two words\n");
  EXPECT_EQ(sluice::format_log_line(rec(log_level::fatal, "line1\nline2"), log_format::text),
            "2026-12-05T23:59:01.123Z FATAL \"line1\\nline2\"\n");
}

TEST(LogFormat, TimeIsRfc3339UtcWithMilliseconds) {
  using std::chrono::system_clock;
  EXPECT_EQ(sluice::format_log_time(system_clock::time_point{} + 1ms), "1970-01-01T00:00:00.001Z");
  EXPECT_EQ(sluice::format_log_time(system_clock::time_point{} - 1ms), "1969-12-31T23:59:59.999Z");
  EXPECT_EQ(sluice::format_log_time(fixed_time + 999us), "2026-12-05T23:59:01.123Z");
  // The default time means "now".
  const auto before = sluice::format_log_time(system_clock::now());
  const auto line = sluice::format_log_line({.message = "m"}, log_format::text);
  EXPECT_GE(line.substr(0, 24), before.substr(0, 24));
}

TEST(LogFormat, JsonLineParsesBackWithEveryFieldType) {
  const std::string tricky =
      "quote\" backslash\\ nl\n cr\r tab\t ctl\x01\x1f del\x7f h\xc3\xa9 \xe2\x9c\x93";
  const auto line = sluice::format_log_line(rec(log_level::error, tricky,
                                                {{"null", nullptr},
                                                 {"yes", true},
                                                 {"no", false},
                                                 {"min", std::numeric_limits<std::int64_t>::min()},
                                                 {"max", std::numeric_limits<std::int64_t>::max()},
                                                 {"pi", 3.141592653589793},
                                                 {"nan", std::numeric_limits<double>::quiet_NaN()},
                                                 {"inf", -std::numeric_limits<double>::infinity()},
                                                 {"s", tricky},
                                                 {"msg", "shadowed"},
                                                 {tricky, 1}}),
                                            log_format::json_lines);
  ASSERT_EQ(line.back(), '\n');
  ASSERT_EQ(line.find('\n'), line.size() - 1) << "one line per record";
  const boost::json::object o = boost::json::parse(line).as_object();
  EXPECT_EQ(o.at("time").as_string(), "2026-12-05T23:59:01.123Z");
  EXPECT_EQ(o.at("level").as_string(), "error");
  EXPECT_EQ(o.at("msg").as_string(), tricky);
  EXPECT_TRUE(o.at("null").is_null());
  EXPECT_EQ(o.at("yes").as_bool(), true);
  EXPECT_EQ(o.at("no").as_bool(), false);
  EXPECT_EQ(o.at("min").as_int64(), std::numeric_limits<std::int64_t>::min());
  EXPECT_EQ(o.at("max").as_int64(), std::numeric_limits<std::int64_t>::max());
  EXPECT_EQ(o.at("pi").as_double(), 3.141592653589793);
  EXPECT_EQ(o.at("nan").as_string(), "NaN");
  EXPECT_EQ(o.at("inf").as_string(), "-inf");
  EXPECT_EQ(o.at("s").as_string(), tricky);
  EXPECT_EQ(o.at("_msg").as_string(), "shadowed");
  EXPECT_EQ(o.at(tricky).as_int64(), 1);
  // And a parser that is not Boost's.
  temp_dir dir;
  sluice::test::write_file(dir / "l.json", line);
  EXPECT_EQ(run("python3 -c 'import json,sys; o=json.loads(open(sys.argv[1]).read()); "
                "print(o[\"msg\"]==o[\"s\"], o[\"min\"], o[\"level\"])' " +
                (dir / "l.json").string()),
            "True -9223372036854775808 error\n");
}

TEST(LogFormat, PrettyPutsFieldsOnTheirOwnLinesAndColoursOnlyWhenAsked) {
  const auto r = rec(log_level::info, "hello", {{"k", "v"}, {"n", 2}});
  EXPECT_EQ(sluice::format_log_line(r, log_format::pretty, false),
            "2026-12-05T23:59:01.123Z INFO  hello\n    k: v\n    n: 2\n");
  EXPECT_EQ(sluice::format_log_line(r, log_format::pretty, true),
            "2026-12-05T23:59:01.123Z \x1b[32mINFO \x1b[0m hello\n    \x1b[2mk:\x1b[0m v\n"
            "    \x1b[2mn:\x1b[0m 2\n");
  // Colour never applies to the other formats.
  EXPECT_EQ(sluice::format_log_line(r, log_format::text, true).find('\x1b'), std::string::npos);
}

TEST(LogWriter, ColoursFollowTheTerminalFlagAndNeverGoIntoFiles) {
  manual_loop loop;
  auto s = std::make_shared<sink_state>();
  auto not_tty = sluice::make_log_writer(loop, make_sink(loop, s),
                                         {.format = log_format::pretty, .errors = nullptr});
  EXPECT_FALSE(not_tty->coloured());
  auto tty =
      sluice::make_log_writer(loop, make_sink(loop, s),
                              {.format = log_format::pretty, .terminal = true, .errors = nullptr});
  EXPECT_TRUE(tty->coloured());
  auto json = sluice::make_log_writer(loop, make_sink(loop, s),
                                      {.colour = sluice::log_colour::always, .errors = nullptr});
  EXPECT_FALSE(json->coloured());
  temp_dir dir;
  auto file = sluice::make_log_file_writer(
      loop, {.path = dir / "a.log"},
      {.format = log_format::pretty, .colour = sluice::log_colour::always, .errors = nullptr});
  EXPECT_FALSE(file->coloured());
  tty->write(rec(log_level::warn, "w"));
  loop.run_until_quiet();
  ASSERT_EQ(s->writes.size(), 1u);
  EXPECT_EQ(s->writes[0], "2026-12-05T23:59:01.123Z \x1b[33mWARN \x1b[0m w\n");
  file->destroy();
  loop.run_until_quiet();
}

// ---- log_writer -------------------------------------------------------------------------------

TEST(LogWriter, BelowMinLevelIsCountedDroppedAndItsCallbackSucceeds) {
  manual_loop loop;
  auto s = std::make_shared<sink_state>();
  auto log = sluice::make_log_writer(
      loop, make_sink(loop, s),
      {.format = log_format::text, .min_level = log_level::warn, .errors = nullptr});
  outcomes o;
  log->write(rec(log_level::debug, "d"), o.cb("debug"));
  log->write(rec(log_level::info, "i"), o.cb("info"));
  log->write(rec(log_level::warn, "w"), o.cb("warn"));
  loop.run_until_idle();
  EXPECT_EQ(o.seen, (std::vector<std::string>{"debug:ok", "info:ok", "warn:ok"}));
  EXPECT_EQ(s->joined(), "2026-12-05T23:59:01.123Z WARN  w\n");
  EXPECT_EQ(log->stats().dropped, 2u);
  EXPECT_EQ(log->stats().written[std::size_t(log_level::warn)], 1u);
  EXPECT_EQ(log->stats().written[std::size_t(log_level::info)], 0u);
  EXPECT_EQ(log->stats().bytes_written, s->joined().size());
}

TEST(LogWriter, RecordsAtErrorLevelGoToTheErrorsWritable) {
  manual_loop loop;
  auto out = std::make_shared<sink_state>();
  auto err = std::make_shared<sink_state>();
  auto err_w = make_sink(loop, err);
  auto log = sluice::make_log_writer(loop, make_sink(loop, out),
                                     {.format = log_format::text,
                                      .min_level = log_level::trace,
                                      .error_level = log_level::error,
                                      .errors = err_w});
  EXPECT_EQ(log->errors(), err_w);
  for (auto l : {log_level::trace, log_level::info, log_level::warn, log_level::error,
                 log_level::fatal, log_level::debug})
    log->write(rec(l, std::string(sluice::to_string(l))));
  bool finished = false;
  log->end([&](std::error_code ec) { finished = !ec; });
  loop.run_until_idle();
  EXPECT_TRUE(finished);
  EXPECT_EQ(lines_of(out->joined()),
            (std::vector<std::string>{
                "2026-12-05T23:59:01.123Z TRACE trace", "2026-12-05T23:59:01.123Z INFO  info",
                "2026-12-05T23:59:01.123Z WARN  warn", "2026-12-05T23:59:01.123Z DEBUG debug"}));
  EXPECT_EQ(lines_of(err->joined()),
            (std::vector<std::string>{"2026-12-05T23:59:01.123Z ERROR error",
                                      "2026-12-05T23:59:01.123Z FATAL fatal"}));
  EXPECT_EQ(log->stats().routed_to_errors, 2u);
  // end() ended both destinations.
  EXPECT_TRUE(log->destination()->finished());
  EXPECT_TRUE(err_w->finished());
}

TEST(LogWriter, NullErrorsKeepsEveryRecordInTheDestination) {
  manual_loop loop;
  auto out = std::make_shared<sink_state>();
  auto log = sluice::make_log_writer(loop, make_sink(loop, out),
                                     {.format = log_format::text, .errors = nullptr});
  EXPECT_EQ(log->errors(), nullptr);
  log->write(rec(log_level::fatal, "f"));
  loop.run_until_idle();
  EXPECT_EQ(out->joined(), "2026-12-05T23:59:01.123Z FATAL f\n");
  EXPECT_EQ(log->stats().routed_to_errors, 0u);
  // Unset, errors go to a stderr writable of their own; the destination itself counts as null.
  auto dflt = sluice::make_log_writer(loop, make_sink(loop, out));
  ASSERT_NE(dflt->errors(), nullptr);
  EXPECT_EQ(dflt->errors()->name(), "<stderr>");
  auto dest = make_sink(loop, out);
  EXPECT_EQ(sluice::make_log_writer(loop, dest, {.errors = dest})->errors(), nullptr);
  dflt->destroy();
  loop.run_until_idle();
  EXPECT_TRUE(dflt->closed());
}

// A slow destination holds the log_writer: a record's callback waits for the destination's,
// write() turns false at the highWaterMark, 'drain' comes once the destination caught up, and
// the destination never holds more than one batch.
TEST(LogWriter, SlowDestinationHoldsTheWriterBack) {
  manual_loop loop;
  auto s = std::make_shared<sink_state>();
  s->hold = true;
  auto dest = make_sink(loop, s, 1 << 20);
  auto log = sluice::make_log_writer(
      loop, dest, {.format = log_format::text, .errors = nullptr, .high_water_mark = 3});
  outcomes o;
  int drains = 0;
  log->on_drain([&] {
    ++drains;
    o.seen.push_back("drain");
  });
  EXPECT_TRUE(log->write(rec(log_level::info, "r0"), o.cb("r0")));
  EXPECT_TRUE(log->write(rec(log_level::info, "r1"), o.cb("r1")));
  EXPECT_FALSE(log->write(rec(log_level::info, "r2"), o.cb("r2")));
  EXPECT_FALSE(log->write(rec(log_level::info, "r3"), o.cb("r3")));
  loop.run_until_idle();
  // Only r0 reached the destination; its callback waits for the destination's.
  EXPECT_EQ(s->writes.size(), 1u);
  EXPECT_TRUE(o.seen.empty());
  EXPECT_EQ(log->writable_length(), 4u);
  EXPECT_LE(dest->writable_length(), s->writes[0].size());

  s->release_all();
  loop.run_until_idle();
  EXPECT_EQ(o.seen, (std::vector<std::string>{"r0:ok"}));
  // r1..r3 went out as one corked batch: the destination holds that batch and nothing more.
  const std::size_t line = std::string("2026-12-05T23:59:01.123Z INFO  r1\n").size();
  EXPECT_EQ(s->writes.size(), 2u);
  EXPECT_EQ(dest->writable_length(), 3 * line);
  EXPECT_EQ(log->writable_length(), 3u);
  EXPECT_EQ(drains, 0);
  while (!s->held.empty()) {
    s->release_all();
    loop.run_until_idle();
  }
  EXPECT_EQ(o.seen, (std::vector<std::string>{"r0:ok", "drain", "r1:ok", "r2:ok", "r3:ok"}));
  EXPECT_EQ(drains, 1);
  EXPECT_EQ(log->writable_length(), 0u);
  EXPECT_EQ(log->stats().written[std::size_t(log_level::info)], 4u);
  EXPECT_EQ(loop.timer_count(), 0u);
}

TEST(LogWriter, DestinationFailureFailsTheWriterWithItsCauseOnce) {
  manual_loop loop;
  const auto boom = std::make_error_code(std::errc::no_space_on_device);
  auto dest = sluice::make_writable<buffer>(
      loop, {.name = "disk", .write = [boom](sluice::writable<buffer>& self, buffer&&, auto cb) {
               self.fail(boom, "write 'disk.log'");
               cb(boom);
             }});
  auto log = sluice::make_log_writer(loop, dest, {.errors = nullptr});
  outcomes o;
  std::vector<std::error_code> errors;
  bool closed = false;
  log->on_error([&](std::error_code ec) { errors.push_back(ec); });
  log->on_close([&] { closed = true; });
  log->write(rec(log_level::info, "a"), o.cb("a"));
  log->write(rec(log_level::info, "b"), o.cb("b"));
  loop.run_until_idle();
  ASSERT_EQ(o.seen.size(), 2u);
  EXPECT_EQ(o.seen[0], "a:" + boom.message());
  EXPECT_EQ(log->errored(), boom);
  EXPECT_EQ(log->error_message(), "write 'disk.log': " + boom.message());
  EXPECT_EQ(errors, std::vector<std::error_code>{boom});
  EXPECT_TRUE(closed);
}

TEST(LogWriter, AnErrorsWritableFailingOnItsOwnFailsTheWriter) {
  manual_loop loop;
  auto out = std::make_shared<sink_state>();
  auto err = std::make_shared<sink_state>();
  auto err_w = make_sink(loop, err);
  auto log = sluice::make_log_writer(loop, make_sink(loop, out), {.errors = err_w});
  std::vector<std::error_code> errors;
  log->on_error([&](std::error_code ec) { errors.push_back(ec); });
  const auto broken = std::make_error_code(std::errc::broken_pipe);
  err_w->fail(broken, "write '<stderr>'");
  loop.run_until_idle();
  EXPECT_EQ(errors, std::vector<std::error_code>{broken});
  EXPECT_EQ(log->error_message(), "write '<stderr>': " + broken.message());
  // Its other destination is torn down with it.
  EXPECT_TRUE(log->destination()->destroyed());
}

TEST(LogWriter, EndAndDestroyInEveryState) {
  manual_loop loop;
  // Destroy before anything was written: the destination goes too, 'close' once.
  {
    auto s = std::make_shared<sink_state>();
    auto dest = make_sink(loop, s);
    auto log = sluice::make_log_writer(loop, dest, {.errors = nullptr});
    int closes = 0;
    log->on_close([&] { ++closes; });
    log->destroy();
    log->destroy();
    loop.run_until_idle();
    EXPECT_EQ(closes, 1);
    EXPECT_TRUE(dest->destroyed());
  }
  // Destroy with a batch held by the destination and one buffered: each callback once.
  {
    auto s = std::make_shared<sink_state>();
    s->hold = true;
    auto dest = make_sink(loop, s);
    auto log = sluice::make_log_writer(loop, dest, {.errors = nullptr});
    outcomes o;
    log->write(rec(log_level::info, "held"), o.cb("held"));
    log->write(rec(log_level::info, "buffered"), o.cb("buffered"));
    loop.run_until_idle();
    log->destroy();
    loop.run_until_idle();
    s->release_all();  // the destination's late completion
    loop.run_until_idle();
    ASSERT_EQ(o.seen.size(), 2u);
    EXPECT_EQ(o.seen[1],
              "buffered:" + sluice::make_error_code(sluice::errc::stream_destroyed).message());
    EXPECT_TRUE(dest->destroyed());
  }
  // End with a write in flight: 'finish' waits for it and for the destination's 'finish'.
  {
    auto s = std::make_shared<sink_state>();
    s->hold = true;
    auto dest = make_sink(loop, s);
    auto log = sluice::make_log_writer(loop, dest, {.errors = nullptr});
    outcomes o;
    log->write(rec(log_level::info, "x"), o.cb("x"));
    log->end(o.cb("end"));
    loop.run_until_idle();
    EXPECT_TRUE(o.seen.empty());
    s->release_all();
    loop.run_until_idle();
    EXPECT_EQ(o.seen, (std::vector<std::string>{"x:ok", "end:ok"}));
    EXPECT_TRUE(dest->finished());
    // Write after end.
    log->write(rec(log_level::info, "late"), o.cb("late"));
    loop.run_until_idle();
    EXPECT_EQ(o.seen.back(),
              "late:" + sluice::make_error_code(sluice::errc::write_after_end).message());
  }
  EXPECT_EQ(loop.timer_count(), 0u);
}

// ---- rotation ---------------------------------------------------------------------------------

struct file_run {
  manual_loop loop;
  temp_dir dir;
  fs::path path = dir / "app.log";
};

void write_sizes(sluice::writable<buffer>& w, std::initializer_list<std::size_t> sizes,
                 char first = 'a') {
  char c = first;
  for (auto n : sizes) w.write(buffer(std::string(n, c++)));
}

TEST(RotatingFile, ARecordThatExactlyFillsStaysTheNextRotates) {
  file_run f;
  auto w = sluice::make_rotating_file_writer(f.loop, {.path = f.path, .max_bytes = 100, .keep = 5});
  write_sizes(*w, {60, 40});
  f.loop.run_until_quiet();
  EXPECT_EQ(w->rotations(), 0u);
  EXPECT_EQ(fs::file_size(f.path), 100u);
  write_sizes(*w, {1}, 'c');
  bool done = false;
  w->end([&](std::error_code ec) { done = !ec; });
  f.loop.run_until_quiet();
  EXPECT_TRUE(done);
  EXPECT_EQ(w->rotations(), 1u);
  EXPECT_EQ(read_file(f.dir / "app.log.1"), std::string(60, 'a') + std::string(40, 'b'));
  EXPECT_EQ(read_file(f.path), "c");
  EXPECT_EQ(f.dir.entries(), (std::vector<std::string>{"app.log", "app.log.1"}));
}

TEST(RotatingFile, KeepsExactlyKeepRotatedFilesNewestFirst) {
  file_run f;
  auto w = sluice::make_rotating_file_writer(f.loop, {.path = f.path, .max_bytes = 10, .keep = 2});
  write_sizes(*w, {10, 10, 10, 10, 10});  // a..e: four rotations
  w->end();
  f.loop.run_until_quiet();
  EXPECT_EQ(w->rotations(), 4u);
  EXPECT_EQ(f.dir.entries(), (std::vector<std::string>{"app.log", "app.log.1", "app.log.2"}));
  EXPECT_EQ(read_file(f.path), std::string(10, 'e'));
  EXPECT_EQ(read_file(f.dir / "app.log.1"), std::string(10, 'd'));
  EXPECT_EQ(read_file(f.dir / "app.log.2"), std::string(10, 'c'));
}

TEST(RotatingFile, ARecordLargerThanMaxGoesAloneIntoAFreshFile) {
  file_run f;
  auto w = sluice::make_rotating_file_writer(f.loop, {.path = f.path, .max_bytes = 10, .keep = 5});
  write_sizes(*w, {5, 25, 3});
  w->end();
  f.loop.run_until_quiet();
  EXPECT_EQ(read_file(f.dir / "app.log.2"), std::string(5, 'a'));
  EXPECT_EQ(read_file(f.dir / "app.log.1"), std::string(25, 'b'));
  EXPECT_EQ(read_file(f.path), std::string(3, 'c'));
  // In an empty file it does not rotate first.
  file_run g;
  auto w2 = sluice::make_rotating_file_writer(g.loop, {.path = g.path, .max_bytes = 10});
  write_sizes(*w2, {25});
  w2->end();
  g.loop.run_until_quiet();
  EXPECT_EQ(w2->rotations(), 0u);
  EXPECT_EQ(g.dir.entries(), std::vector<std::string>{"app.log"});
}

TEST(RotatingFile, AnExistingFileIsAppendedToAndCountsTowardsTheLimit) {
  file_run f;
  sluice::test::write_file(f.path, "old\n");
  auto w = sluice::make_rotating_file_writer(f.loop, {.path = f.path, .max_bytes = 6});
  w->write(buffer(std::string("ab\n")));
  w->end();
  f.loop.run_until_quiet();
  EXPECT_EQ(read_file(f.dir / "app.log.1"), "old\n");
  EXPECT_EQ(read_file(f.path), "ab\n");
}

TEST(RotatingFile, KeepZeroKeepsNoRotatedFile) {
  file_run f;
  auto w = sluice::make_rotating_file_writer(f.loop, {.path = f.path, .max_bytes = 4, .keep = 0});
  write_sizes(*w, {4, 4});
  w->end();
  f.loop.run_until_quiet();
  EXPECT_EQ(f.dir.entries(), std::vector<std::string>{"app.log"});
  EXPECT_EQ(read_file(f.path), "bbbb");
}

// JSON records through rotation and gzip: read back with the real gzip -d and a JSON parser,
// oldest file first, they are every record, in order, each whole.
TEST(LogFile, GzippedRotatedFilesReadBackWithGzipHoldEveryRecordInOrder) {
  file_run f;
  auto log = sluice::make_log_file_writer(
      f.loop, {.path = f.path, .max_bytes = 400, .keep = 10, .gzip_rotated = true},
      {.errors = nullptr});
  constexpr int n = 40;
  for (int i = 0; i < n; ++i)
    log->write(rec(log_level::info, "record", {{"seq", i}, {"pad", std::string(i % 7, 'x')}}));
  bool finished = false;
  log->end([&](std::error_code ec) { finished = !ec; });
  f.loop.run_until_quiet();
  ASSERT_TRUE(finished) << log->error_message();
  auto file = std::dynamic_pointer_cast<sluice::rotating_file_writer>(log->destination());
  ASSERT_TRUE(file);
  ASSERT_GE(file->rotations(), 3u);
  EXPECT_EQ(log->stats().rotations, file->rotations());
  EXPECT_EQ(log->stats().written[std::size_t(log_level::info)], std::uint64_t(n));
  EXPECT_EQ(log->stats().bytes_written, file->bytes_written());
  EXPECT_EQ(file->gzipped(), file->rotations());
  std::string all;
  for (auto i = file->rotations(); i >= 1; --i) {
    const auto gz = f.dir / ("app.log." + std::to_string(i) + ".gz");
    ASSERT_TRUE(fs::exists(gz)) << gz;
    EXPECT_FALSE(fs::exists(f.dir / ("app.log." + std::to_string(i))));
    const std::string text = run("gzip -d -c '" + gz.string() + "'");
    EXPECT_LE(text.size(), 400u);
    all += text;
  }
  all += read_file(f.path);
  const auto lines = lines_of(all);
  ASSERT_EQ(lines.size(), std::size_t(n));
  for (int i = 0; i < n; ++i) {
    const auto o = boost::json::parse(lines[i]).as_object();
    EXPECT_EQ(o.at("seq").as_int64(), i);
  }
  // No temporary file left behind.
  for (const auto& e : f.dir.entries()) EXPECT_NE(e[0], '.') << e;
  EXPECT_EQ(f.loop.timer_count(), 0u);
}

TEST(LogFile, EndWhileAGzipRunsWaitsForIt) {
  file_run f;
  auto w = sluice::make_rotating_file_writer(
      f.loop, {.path = f.path, .max_bytes = 10, .keep = 3, .gzip_rotated = true});
  write_sizes(*w, {10});
  bool in_progress = false;
  bool finished = false;
  w->write(buffer(std::string(5, 'z')), [&](std::error_code ec) {
    ASSERT_FALSE(ec);
    in_progress = w->gzip_in_progress();
    w->end([&](std::error_code e) { finished = !e; });
  });
  f.loop.run_until_quiet();
  EXPECT_TRUE(in_progress);
  EXPECT_TRUE(finished);
  EXPECT_EQ(f.dir.entries(), (std::vector<std::string>{"app.log", "app.log.1.gz"}));
  EXPECT_EQ(run("gzip -d -c '" + (f.dir / "app.log.1.gz").string() + "'"), std::string(10, 'a'));
}

TEST(LogFile, DestroyWhileAGzipRunsKeepsTheUncompressedFile) {
  file_run f;
  auto w = sluice::make_rotating_file_writer(
      f.loop, {.path = f.path, .max_bytes = 10, .keep = 3, .gzip_rotated = true});
  write_sizes(*w, {10});
  bool in_progress = false;
  bool closed = false;
  w->on_close([&] { closed = true; });
  w->write(buffer(std::string(5, 'z')), [&](std::error_code ec) {
    ASSERT_FALSE(ec);
    in_progress = w->gzip_in_progress();
    w->destroy();
  });
  f.loop.run_until_quiet();
  EXPECT_TRUE(in_progress);
  EXPECT_TRUE(closed);
  EXPECT_FALSE(w->gzip_in_progress());
  // Nothing lost: the rotated data is still there, uncompressed; no partial .gz.
  EXPECT_EQ(f.dir.entries(), (std::vector<std::string>{"app.log", "app.log.1"}));
  EXPECT_EQ(read_file(f.dir / "app.log.1"), std::string(10, 'a'));
  EXPECT_EQ(read_file(f.path), std::string(5, 'z'));
}

TEST(LogFile, DestroyWhileARotationRunsCompletesTheWriteOnce) {
  file_run f;
  auto w = sluice::make_rotating_file_writer(f.loop, {.path = f.path, .max_bytes = 10});
  write_sizes(*w, {10});
  f.loop.run_until_quiet();
  std::vector<std::error_code> seen;
  w->write(buffer(std::string(5, 'z')), [&](std::error_code ec) { seen.push_back(ec); });
  f.loop.run_until_idle();  // the rotation job is on the pool now
  w->destroy();
  f.loop.run_until_quiet();
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_TRUE(w->closed());
  // Whatever the job had done is consistent: every byte is in one file or the other.
  std::string all;
  if (fs::exists(f.dir / "app.log.1")) all += read_file(f.dir / "app.log.1");
  all += read_file(f.path);
  EXPECT_EQ(all.substr(0, 10), std::string(10, 'a'));
}

TEST(LogFile, OpenErrorNamesThePath) {
  file_run f;
  const auto missing = f.dir / "no-such-dir" / "app.log";
  auto log = sluice::make_log_file_writer(f.loop, {.path = missing}, {.errors = nullptr});
  outcomes o;
  log->write(rec(log_level::info, "x"), o.cb("x"));
  f.loop.run_until_quiet();
  EXPECT_EQ(log->errored(), std::errc::no_such_file_or_directory);
  EXPECT_EQ(log->error_message(), "open '" + missing.string() + "': " + log->errored().message());
  ASSERT_EQ(o.seen.size(), 1u);
  EXPECT_NE(o.seen[0], "x:ok");
  EXPECT_TRUE(log->closed());
}

TEST(LogFile, RotationErrorNamesTheOperationAndThePath) {
  file_run f;
  // app.log.1 is a directory with something in it: keep=1 must remove it, and cannot.
  fs::create_directory(f.dir / "app.log.1");
  sluice::test::write_file(f.dir / "app.log.1" / "x", "x");
  auto w = sluice::make_rotating_file_writer(f.loop, {.path = f.path, .max_bytes = 4, .keep = 1});
  std::vector<std::error_code> seen;
  write_sizes(*w, {4});
  w->write(buffer(std::string("more")), [&](std::error_code ec) { seen.push_back(ec); });
  f.loop.run_until_quiet();
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0], std::errc::is_a_directory);
  EXPECT_EQ(w->errored(), seen[0]);
  EXPECT_EQ(w->error_context(), "remove '" + (f.dir / "app.log.1").string() + "'");
  // Nothing written so far was lost.
  EXPECT_EQ(read_file(f.path), "aaaa");
}

}  // namespace
