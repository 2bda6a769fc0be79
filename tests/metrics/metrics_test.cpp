// The metrics layer: a pipeline's figures in the Prometheus text format (checked line by line on
// the virtual clock, then by promtool), served at /metrics (curl as the client) and scraped by a
// real Prometheus server that answers a PromQL query about the running pipeline.
#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>
#include <chrono>
#include <map>
#include <memory>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "http/http_support.hpp"
#include "sluice/compose/pipeline.hpp"
#include "sluice/compose/supervise.hpp"
#include "sluice/core/loop.hpp"
#include "sluice/core/make.hpp"
#include "sluice/metrics.hpp"
#include "support/temp_files.hpp"

namespace {

using namespace std::chrono_literals;
using sluice::buffer;
using sluice::loop;
using sluice::manual_loop;
using sluice::monitor;
namespace metrics = sluice::metrics;

// A source of `chunks` chunks of `size` bytes ('x'), each pushed when asked for.
std::shared_ptr<sluice::readable<buffer>> counting_source(loop& l, std::string name, int chunks,
                                                          std::size_t size) {
  auto left = std::make_shared<int>(chunks);
  return sluice::make_readable<buffer>(
      l, {.high_water_mark = 4 * size,
          .name = std::move(name),
          .read = [left, size](sluice::readable<buffer>& r, std::size_t) {
            if (*left == 0) {
              r.push_eof();
              return;
            }
            --*left;
            r.push(buffer(std::string(size, 'x')));
          }});
}

// A sink whose every write takes `per_chunk` on the loop's clock.
std::shared_ptr<sluice::writable<buffer>> slow_sink(loop& l, std::size_t hwm,
                                                    loop::duration per_chunk) {
  return sluice::make_writable<buffer>(
      l, {.high_water_mark = hwm,
          .name = "sink",
          .write = [&l, per_chunk](sluice::writable<buffer>& w, buffer&&, auto cb) {
            l.start_timer(per_chunk, [keep = w.shared_from_this(), cb] { cb(); });
          }});
}

// The exposition's samples: "name{labels}" -> value. Fails the test on a line that is neither a
// comment nor a sample, on a sample of a family not declared before it (HELP and TYPE), and on
// a series given twice.
std::map<std::string, std::string> samples_of(const std::string& text) {
  std::map<std::string, std::string> out;
  std::set<std::string> declared;
  std::string family;
  std::istringstream in(text);
  std::string line;
  const std::regex sample(R"(^([a-z_]+)(\{.*\}) (\S+)$)");
  while (std::getline(in, line)) {
    if (line.rfind("# HELP ", 0) == 0) continue;
    if (line.rfind("# TYPE ", 0) == 0) {
      std::istringstream t(line.substr(7));
      std::string type;
      t >> family >> type;
      EXPECT_TRUE(declared.insert(family).second) << "family declared twice: " << line;
      continue;
    }
    std::smatch m;
    if (!std::regex_match(line, m, sample)) {
      ADD_FAILURE() << "not a sample: " << line;
      continue;
    }
    const std::string name = m[1];
    EXPECT_EQ(name.rfind(family, 0), 0u) << "sample outside its family: " << line;
    EXPECT_TRUE(out.emplace(name + m[2].str(), m[3]).second) << "series twice: " << line;
  }
  return out;
}

std::string labels(const std::string& pipeline, int stage, const std::string& name,
                   const std::string& extra = "") {
  return "{pipeline=\"" + pipeline + "\",stage=\"" + std::to_string(stage) + "\",stage_name=\"" +
         name + "\"" + extra + "}";
}

// Supervision's counters are exported with the rest: a source made again twice after failures,
// a transform that skipped two items.
TEST(Metrics, RestartsAndSkippedItemsAreExported) {
  manual_loop l;
  auto made = std::make_shared<int>(0);
  auto src = sluice::supervise_source<int>(
      l,
      [&l, made](const sluice::restart_context& c) {
        // Items from where the last instance stopped; the first two instances fail after 5.
        auto next = std::make_shared<int>(static_cast<int>(c.items));
        const int stop_at = ++*made <= 2 ? next.operator*() + 5 : -1;
        return sluice::make_readable<int>(
            l, {.read = [next, stop_at](sluice::readable<int>& self, std::size_t) {
              if (*next == stop_at)
                self.fail(std::make_error_code(std::errc::connection_reset), "feed");
              else if (*next < 30)
                self.push((*next)++);
              else
                self.push_eof();
            }});
      },
      {.jitter = false});
  src->set_name("feed");
  auto skip = sluice::skip_errors(
      sluice::make_transform<int>(l, {.name = "check",
                                      .transform =
                                          [](auto&, int&& x, auto cb) {
                                            if (x == 3 || x == 17)
                                              cb(std::make_error_code(std::errc::invalid_argument));
                                            else
                                              cb(x);
                                          }}),
      {});
  std::vector<int> out;
  auto sink =
      sluice::make_writable<int>(l, {.name = "out", .write = [&out](auto&, int&& x, auto cb) {
                                       out.push_back(x);
                                       cb();
                                     }});
  auto mon = monitor::create(l, {.tick = 100ms});
  mon->watch(src);
  mon->watch(skip);
  mon->watch(sink);
  metrics::registry reg;
  reg.add("supervised", mon);
  bool done = false;
  sluice::pipeline(src, skip, sink, [&](const sluice::pipeline_error& e) {
    EXPECT_FALSE(e) << e.message();
    done = true;
  });
  l.advance(10s);
  ASSERT_TRUE(done);
  EXPECT_EQ(out.size(), 28u);
  const auto s = samples_of(reg.prometheus_text());
  EXPECT_EQ(s.at("sluice_stage_restarts_total" + labels("supervised", 0, "feed")), "2");
  EXPECT_EQ(s.at("sluice_stage_items_skipped_total" + labels("supervised", 1, "check")), "2");
  EXPECT_EQ(s.at("sluice_stage_restarts_total" + labels("supervised", 1, "check")), "0");
  // Not for stages without both sides: a source or a sink skips nothing.
  EXPECT_EQ(s.count("sluice_stage_items_skipped_total" + labels("supervised", 2, "out")), 0u);
  const boost::json::value j = boost::json::parse(reg.json());
  const auto& stages = j.at("pipelines").at(0).at("stages").as_array();
  EXPECT_EQ(stages[0].at("restarts").to_number<int>(), 2);
  EXPECT_EQ(stages[1].at("items_skipped").to_number<int>(), 2);
}

TEST(Metrics, ThePrometheusTextHasEveryStageFigureAsTheStreamsCountedIt) {
  manual_loop l;
  // A name that needs escaping in a label value: quotes, a backslash, a newline.
  const std::string odd_name = "src \"a\"\\b\nc";
  auto src = counting_source(l, odd_name, 40, 1000);
  auto sink = slow_sink(l, 2000, 100ms);  // 10 chunks a second: backpressure all along
  auto mon = monitor::create(l, {.tick = 100ms});
  mon->watch(src);
  mon->watch(sink);
  metrics::registry reg;
  reg.add("load", mon);
  EXPECT_THROW(reg.add("load", mon), std::invalid_argument);
  src->pipe(sink);

  l.advance(1550ms);
  auto s = samples_of(reg.prometheus_text());
  const std::string src_l = labels("load", 0, "src \\\"a\\\"\\\\b\\nc");
  const std::string sink_l = labels("load", 1, "sink");
  EXPECT_EQ(s.at("sluice_stage_open" + src_l), "1");
  EXPECT_EQ(s.at("sluice_stage_open" + sink_l), "1");
  EXPECT_EQ(s.at("sluice_stage_items_in_total" + sink_l),
            std::to_string(sink->counters().chunks_in));
  EXPECT_EQ(s.at("sluice_stage_bytes_out_total" + src_l),
            std::to_string(src->counters().bytes_out));
  EXPECT_EQ(s.at("sluice_stage_buffered" + labels("load", 1, "sink", ",side=\"writable\"")),
            std::to_string(sink->writable_length()));
  EXPECT_EQ(s.at("sluice_stage_high_water_mark" + labels("load", 1, "sink", ",side=\"writable\"")),
            "2000");
  EXPECT_EQ(s.at("sluice_stage_high_water_mark" +
                 labels("load", 0, "src \\\"a\\\"\\\\b\\nc", ",side=\"readable\"")),
            "4000");
  // Sides a stage does not have are not there: the source has no writable side.
  EXPECT_EQ(s.count("sluice_stage_items_in_total" + src_l), 0u);
  EXPECT_EQ(s.count("sluice_stage_buffered" + labels("load", 1, "sink", ",side=\"readable\"")), 0u);
  // The sink is in an episode: its backpressured time counts the episode under way.
  const std::string sink_w = ",side=\"writable\"";
  const double bp_mid = std::stod(
      s.at("sluice_stage_backpressure_seconds_total" + labels("load", 1, "sink", sink_w)));
  EXPECT_GT(bp_mid, 0.0);
  EXPECT_LE(bp_mid, 1.55);

  l.advance(10s);  // 40 chunks at 10 a second: over at 4 s
  ASSERT_TRUE(sink->closed());
  s = samples_of(reg.prometheus_text());
  EXPECT_EQ(s.at("sluice_stage_open" + sink_l), "0");
  EXPECT_EQ(s.at("sluice_stage_items_in_total" + sink_l), "40");
  EXPECT_EQ(s.at("sluice_stage_bytes_in_total" + sink_l), "40000");
  EXPECT_EQ(s.at("sluice_stage_bytes_out_total" + src_l), "40000");
  const auto snap = mon->snapshot().streams[1];
  const std::uint64_t episodes = snap.writable_side.episodes;
  EXPECT_GT(episodes, 5u);
  EXPECT_EQ(s.at("sluice_stage_backpressure_episodes_total" + labels("load", 1, "sink", sink_w)),
            std::to_string(episodes));
  EXPECT_EQ(s.at("sluice_stage_drains_total" + sink_l), std::to_string(sink->counters().drains));
  // The histogram: cumulative buckets, +Inf = _count = every (finished) episode, _sum = the
  // backpressured time. Each episode here lasts 100 to 200 ms: all in the 0.5 s bucket, none
  // in the 0.1 s one.
  const std::string h = "sluice_stage_backpressure_episode_seconds";
  auto bucket = [&](const std::string& le) {
    return s.at(h + "_bucket" + labels("load", 1, "sink", sink_w + ",le=\"" + le + "\""));
  };
  EXPECT_EQ(bucket("0.05"), "0");
  EXPECT_EQ(bucket("0.5"), std::to_string(episodes));
  EXPECT_EQ(bucket("+Inf"), std::to_string(episodes));
  EXPECT_EQ(s.at(h + "_count" + labels("load", 1, "sink", sink_w)), std::to_string(episodes));
  EXPECT_DOUBLE_EQ(std::stod(s.at(h + "_sum" + labels("load", 1, "sink", sink_w))),
                   std::stod(s.at("sluice_stage_backpressure_seconds_total" +
                                  labels("load", 1, "sink", sink_w))));
  EXPECT_GT(std::stod(s.at(h + "_sum" + labels("load", 1, "sink", sink_w))), bp_mid);

  // The streams are gone: their last figures stay until the pipeline is removed.
  src.reset();
  sink.reset();
  s = samples_of(reg.prometheus_text());
  EXPECT_EQ(s.at("sluice_stage_bytes_in_total" + sink_l), "40000");
  EXPECT_TRUE(reg.remove("load"));
  EXPECT_FALSE(reg.remove("load"));
  EXPECT_EQ(samples_of(reg.prometheus_text()).size(), 0u);
}

TEST(Metrics, PromtoolAcceptsTheExposition) {
  const auto which = sluice::test::run_command("command -v promtool");
  if (which.exit_code != 0)
    GTEST_SKIP() << "no promtool (Debian package prometheus; scripts/setup.sh installs it)";
  manual_loop l;
  auto src = counting_source(l, "read \"in.csv\"", 30, 500);
  auto mid = sluice::make_transform<buffer>(
      l, {.name = "pass", .transform = [](auto&, buffer&& b, auto cb) { cb(std::move(b)); }});
  auto sink = slow_sink(l, 1000, 50ms);
  auto mon = monitor::create(l);
  mon->watch(src);
  mon->watch(mid);
  mon->watch(sink);
  metrics::registry reg;
  reg.add("first", mon);
  auto objects = monitor::create(l);
  auto items = sluice::make_writable<int>(
      l, {.name = "items", .write = [](auto&, int&&, auto cb) { cb(); }});
  objects->watch(items);
  reg.add("second\\pipeline", objects);
  src->pipe(mid)->pipe(sink);
  for (int i = 0; i < 5; ++i) (void)items->write(i);
  l.advance(700ms);  // mid-run: episodes under way
  sluice::test::temp_dir dir;
  const auto file = dir.path() / "metrics.txt";
  sluice::test::write_file(file, reg.prometheus_text());
  const auto r = sluice::test::run_command("promtool check metrics < '" + file.string() + "' 2>&1");
  EXPECT_EQ(r.exit_code, 0) << r.out << "\n" << reg.prometheus_text();
  l.advance(5s);  // over: every stage closed
  sluice::test::write_file(file, reg.prometheus_text());
  const auto r2 =
      sluice::test::run_command("promtool check metrics < '" + file.string() + "' 2>&1");
  EXPECT_EQ(r2.exit_code, 0) << r2.out;
}

// A pipeline that runs until stopped: a source of 16 KiB chunks into a sink that takes 2 ms
// per chunk, watched and registered as "live", and an HTTP server serving the registry.
class MetricsServed : public ::testing::Test {
 protected:
  void SetUp() override {
    src_ = sluice::make_readable<buffer>(
        loop_, {.name = "generate", .read = [](sluice::readable<buffer>& r, std::size_t) {
                  r.push(buffer(std::string(16 * 1024, 'y')));
                }});
    sink_ = slow_sink(loop_, 64 * 1024, 2ms);
    mon_ = monitor::create(loop_, {.tick = 100ms});
    mon_->watch(src_);
    mon_->watch(sink_);
    reg_->add("live", mon_);
    server_ = sluice::make_http_server(loop_, {}, metrics::metrics_handler(reg_));
    ASSERT_FALSE(server_->listen("127.0.0.1", 0)) << server_->error_message();
    base_ = "http://127.0.0.1:" + std::to_string(server_->port());
    src_->pipe(sink_);
  }
  void TearDown() override {
    src_->destroy();
    sink_->destroy();
    bool closed = false;
    server_->close([&](std::error_code) { closed = true; });
    sluice::test::run_until(io_, [&] { return closed; });
  }
  sluice::test::command_result run(const std::string& cmd) {
    return sluice::test::run_command_with(io_, cmd);
  }

  boost::asio::io_context io_;
  sluice::asio_loop loop_{io_};
  std::shared_ptr<sluice::readable<buffer>> src_;
  std::shared_ptr<sluice::writable<buffer>> sink_;
  std::shared_ptr<monitor> mon_;
  std::shared_ptr<metrics::registry> reg_ = std::make_shared<metrics::registry>();
  std::unique_ptr<sluice::http_server> server_;
  std::string base_;
};

TEST_F(MetricsServed, CurlGetsTheTextTheJsonAndClearAnswersForTheRest) {
  sluice::test::run_until(io_, [&] { return sink_->counters().chunks_in > 20; });
  auto r = run("curl -sS -D - " + base_ + "/metrics");
  ASSERT_EQ(r.exit_code, 0);
  EXPECT_NE(r.out.find("HTTP/1.1 200"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("Content-Type: text/plain; version=0.0.4; charset=utf-8"), std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("sluice_stage_bytes_in_total" + labels("live", 1, "sink") + " "),
            std::string::npos)
      << r.out;

  r = run("curl -sS " + base_ + "/metrics.json");
  ASSERT_EQ(r.exit_code, 0);
  const boost::json::value doc = boost::json::parse(r.out);
  const auto& stages = doc.at("pipelines").at(0).at("stages").as_array();
  ASSERT_EQ(stages.size(), 2u);
  EXPECT_EQ(stages[0].at("name").as_string(), "generate");
  EXPECT_GT(stages[1].at("bytes_in").to_number<std::uint64_t>(), 20u * 16 * 1024);
  EXPECT_EQ(stages[1].at("writable").at("high_water_mark").to_number<std::uint64_t>(), 64u * 1024);

  r = run("curl -sS -I " + base_ + "/metrics");  // HEAD: the head only
  EXPECT_NE(r.out.find("HTTP/1.1 200"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("sluice_stage"), std::string::npos) << r.out;
  r = run("curl -sS -D - -X POST " + base_ + "/metrics");
  EXPECT_NE(r.out.find("HTTP/1.1 405"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("Allow: GET, HEAD"), std::string::npos) << r.out;
  r = run("curl -sS -o /dev/null -w '%{http_code}' " + base_ + "/other");
  EXPECT_EQ(r.out, "404");
  r = run("curl -sS -o /dev/null -w '%{http_code}' '" + base_ + "/metrics?x=1'");
  EXPECT_EQ(r.out, "200");
}

TEST_F(MetricsServed, APrometheusServerScrapesThePipelineAndAnswersARateQuery) {
  const auto which = sluice::test::run_command("command -v prometheus");
  if (which.exit_code != 0)
    GTEST_SKIP() << "no prometheus (Debian package prometheus; scripts/setup.sh installs it)";
  const std::string script = std::string(SLUICE_SOURCE_DIR) + "/tests/metrics/prometheus-query.sh";
  const std::string query = "rate(sluice_stage_bytes_out_total{pipeline=\"live\"}[5s])";
  const auto r = run(script + " 127.0.0.1:" + std::to_string(server_->port()) + " " +
                     std::to_string(sluice::test::free_port()) + " '" + query + "' 60");
  ASSERT_EQ(r.exit_code, 0) << r.out;
  // The API's answer: one series, the source's, with its labels and a rate above zero.
  const boost::json::value doc = boost::json::parse(r.out);
  const auto& result = doc.at("data").at("result").as_array();
  ASSERT_EQ(result.size(), 1u) << r.out;
  EXPECT_EQ(result[0].at("metric").at("stage_name").as_string(), "generate");
  EXPECT_EQ(result[0].at("metric").at("stage").as_string(), "0");
  const double rate = std::stod(std::string(result[0].at("value").at(1).as_string()));
  // The sink takes a 16 KiB chunk each 2 ms at most: a rate above zero and below 8 MiB/s.
  EXPECT_GT(rate, 0.0) << r.out;
  EXPECT_LT(rate, 8.5 * 1024 * 1024) << r.out;
}

}  // namespace
