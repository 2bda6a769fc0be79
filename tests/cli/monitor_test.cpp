// `sluice run --monitor` and `--metrics` with the real binary: a pipeline with a deliberately slow
// stage (throttle) must show that stage as the bottleneck, in the JSON lines written off a
// terminal and in the table drawn on one (a tmux pane, read back with capture-pane); the
// stages' figures are served at /metrics while the run goes on (curl as the scraper).
#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>
#include <chrono>
#include <filesystem>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "cli/cli_fixture.hpp"

namespace sluice::cli {
namespace {

using testing::CliTest;

class MonitorCli : public CliTest {
 protected:
  // 5 MiB through `throttle 2M`: a run of about 2.5 s, the throttle holding the reader back.
  static constexpr const char* slow_run = "'read in.txt | throttle 2M | write out.txt'";
  void SetUp() override {
    CliTest::SetUp();
    input_ = make_text("in.txt", 5u << 20);
  }
  std::string input_;
};

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);) out.push_back(l);
  return out;
}

TEST_F(MonitorCli, OffATerminalAJsonLineEachSecondNamesTheSlowStage) {
  const auto r = sh(std::string("$SLUICE run --monitor ") + slow_run);
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_TRUE(testing::same_bytes(testing::slurp(path("out.txt")), input_));
  const auto lines = lines_of(r.err);
  ASSERT_GE(lines.size(), 2u) << r.err;
  int named = 0;
  for (const std::string& l : lines) {
    const boost::json::value v = boost::json::parse(l);
    const auto& stages = v.at("stages").as_array();
    ASSERT_EQ(stages.size(), 3u) << l;
    EXPECT_EQ(stages[0].at("name").as_string(), "read");
    EXPECT_EQ(stages[1].at("name").as_string(), "throttle");
    EXPECT_EQ(stages[2].at("name").as_string(), "write");
    EXPECT_EQ(stages[1].at("in_unit").as_string(), "bytes");
    EXPECT_EQ(stages[0].at("out_unit").as_string(), "bytes");
    EXPECT_FALSE(stages[0].as_object().contains("in_unit"));
    EXPECT_EQ(stages[2].at("high_water_mark").to_number<std::uint64_t>(), 64u * 1024) << l;
    // When a stage is named, it is the throttle, never the stages around it.
    if (!v.at("bottleneck").is_null()) {
      EXPECT_EQ(v.at("bottleneck").to_number<int>(), 1) << l;
      EXPECT_TRUE(stages[1].at("bottleneck").as_bool()) << l;
      ++named;
    }
  }
  // Every full second of the run the throttle held the reader back.
  EXPECT_GE(named, static_cast<int>(lines.size()) - 1) << r.err;
}

TEST_F(MonitorCli, OnATerminalTheTableIsRedrawnInPlaceWithTheBottleneckMarked) {
  if (!testing::have("tmux")) GTEST_SKIP() << "no tmux (scripts/setup.sh installs it)";
  // A tmux server of the test's own (-L), a pane of 120 x 15; the command stays on screen after
  // the run until the server is killed.
  const std::string tmux = "tmux -L sluice-monitor-" + std::to_string(::getpid());
  // 5 MiB at 1 MiB/s: about 5 s, so the frames looked at below are drawn mid-run (the last
  // frame, drawn at the end, covers a part of a second that may hold no bottleneck).
  const std::string input = make_text("in.txt", 5u << 20);
  const std::string run = "cd " + quote(dir_.string()) +
                          " && \"$SLUICE\" run --monitor 'read in.txt | throttle 1M | write "
                          "out.txt'; sleep 60";
  ASSERT_EQ(sh(tmux + " new-session -d -x 120 -y 15 " + quote(run)).status, 0);
  struct kill_server {
    std::function<void()> fn;
    ~kill_server() { fn(); }
  } cleanup{[&] { (void)sh(tmux + " kill-server"); }};
  // Wait for the second frame or a later one, drawn while the run goes on (0:02 to 0:04).
  const auto mid_run = [](const std::string& p) {
    for (const char* t : {"--monitor  0:02", "--monitor  0:03", "--monitor  0:04"})
      if (p.find(t) != std::string::npos) return true;
    return false;
  };
  std::string pane;
  for (int i = 0; i < 150 && !mid_run(pane); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    pane = sh(tmux + " capture-pane -p").out;
  }
  ASSERT_TRUE(mid_run(pane)) << pane;
  // Drawn over the first frame: one header, one table.
  std::size_t headers = 0;
  std::size_t marked = 0;
  std::string marked_line;
  for (const std::string& l : lines_of(pane)) {
    if (l.find("sluice run --monitor") != std::string::npos) ++headers;
    if (l.find("<- bottleneck") != std::string::npos) {
      ++marked;
      marked_line = l;
    }
  }
  EXPECT_EQ(headers, 1u) << pane;
  EXPECT_EQ(marked, 1u) << pane;
  EXPECT_NE(marked_line.find(" 1  throttle "), std::string::npos) << pane;
  EXPECT_NE(pane.find(" 0  read "), std::string::npos) << pane;
  EXPECT_NE(pane.find(" 2  write "), std::string::npos) << pane;
  // The run goes on to its end: out.txt appears (renamed into place) holding the input. Waiting
  // for it also keeps the teardown from racing sluice, which the killed pane's hangup would make
  // remove its temporary file while the test directory is being removed.
  for (int i = 0; i < 150 && !std::filesystem::exists(path("out.txt")); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_TRUE(testing::same_bytes(testing::slurp(path("out.txt")), input));
}

TEST_F(MonitorCli, MetricsAreServedWhileThePipelineRuns) {
  if (!testing::have("curl")) GTEST_SKIP() << "no curl";
  // sluice in the background; its first line on stderr says where the metrics are.
  const auto r = sh(std::string("$SLUICE run --metrics 127.0.0.1:0 ") + slow_run +
                    " 2>err.txt & pid=$!; port=; for i in $(seq 100); do "
                    "port=$(sed -n 's|.*http://127.0.0.1:\\([0-9]*\\)/metrics$|\\1|p' err.txt); "
                    "[ -n \"$port\" ] && break; sleep 0.05; done; sleep 1; "
                    "curl -sS http://127.0.0.1:$port/metrics; wait $pid; echo \"status=$?\"");
  const std::string err = testing::slurp(path("err.txt"));
  EXPECT_NE(err.find("sluice: run: metrics at http://127.0.0.1:"), std::string::npos) << err;
  EXPECT_NE(r.out.find("status=0"), std::string::npos) << r.out << r.err << err;
  EXPECT_NE(r.out.find("# TYPE sluice_stage_bytes_in_total counter"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("sluice_stage_bytes_in_total{pipeline=\"run\",stage=\"1\",stage_name="
                       "\"throttle\"} "),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("sluice_stage_open{pipeline=\"run\",stage=\"2\",stage_name=\"write\"} 1"),
            std::string::npos)
      << r.out;
  EXPECT_TRUE(testing::same_bytes(testing::slurp(path("out.txt")), input_));

  const auto bad = sh("$SLUICE run --metrics nowhere 'read in.txt | write o.txt'");
  EXPECT_EQ(bad.status, 2);
  EXPECT_NE(bad.err.find("not HOST:PORT"), std::string::npos) << bad.err;
}

TEST_F(MonitorCli, RecordStagesCountRecordsAndByteStagesBytes) {
  // 200,000 rows into SQLite, then out as CSV behind a throttle: to-csv takes records and gives
  // bytes, and each of its rates is in its side's unit.
  std::string csv = "id,v\n";
  for (int i = 0; i < 200000; ++i) csv += std::to_string(i) + ",some text\n";
  testing::spit(path("rows.csv"), csv);
  ASSERT_EQ(sh("$SLUICE run 'read rows.csv | csv --header | sqlite rows.db t --create'").status, 0);
  const auto r =
      sh("$SLUICE run --monitor 'sqlite-query rows.db \"select * from t\" | to-csv | throttle 1M "
         "| write out.csv'");
  ASSERT_EQ(r.status, 0) << r.err;
  const auto lines = lines_of(r.err);
  ASSERT_GE(lines.size(), 2u) << r.err;
  const boost::json::value v = boost::json::parse(lines.front());  // a full second
  const auto& stages = v.at("stages").as_array();
  EXPECT_EQ(stages[0].at("out_unit").as_string(), "records");
  EXPECT_EQ(stages[1].at("in_unit").as_string(), "records");
  EXPECT_EQ(stages[1].at("out_unit").as_string(), "bytes");
  const auto in = stages[1].at("in_per_second").to_number<double>();
  const auto out = stages[1].at("out_per_second").to_number<double>();
  // About 16 bytes a row: what goes out in bytes is many times what comes in in records.
  EXPECT_GT(in, 0) << lines.front();
  EXPECT_GT(out, 5 * in) << lines.front();
  EXPECT_EQ(v.at("bottleneck").to_number<int>(), 2) << lines.front();
}

TEST_F(MonitorCli, ThrottleRefusesARateThatIsNotOne) {
  const auto r = sh("$SLUICE run 'read in.txt | throttle fast | write o.txt'");
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("throttle: not a rate in bytes per second: 'fast'"), std::string::npos)
      << r.err;
}

}  // namespace
}  // namespace sluice::cli
