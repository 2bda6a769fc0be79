// Record stages of `sluice run` (tools/sluice/record_stages.hpp): csv, jsonl, to-csv, to-jsonl
// end to end with the real binary (output checked by Python's json module), compressed input,
// errors with line and column and no output file left, bytes and records mixed up as syntax
// errors naming both stages, --stats per stage, and a stand-in record sink run through
// run_stages() the way a database sink will be.
#include <gtest/gtest.h>

#include <cstdio>
#include <memory>
#include <string>
#include <variant>
#include <vector>

#include "cli/cli_fixture.hpp"
#include "record_stages.hpp"
#include "run_syntax.hpp"
#include "sluice/core/writable.hpp"
#include "stages.hpp"
#include "support/temp_files.hpp"

namespace sluice::cli {
namespace {

using testing::CliTest;
using testing::expect_one_line_error;

class RecordCli : public CliTest {};

const char* const nasty_csv =
    "id,name,note\n"
    "1,\"Ann, B\",\"two\nlines\"\n"
    "2,,\"\"\n"
    "3,\"say \"\"hi\"\"\",é\r\n";

TEST_F(RecordCli, CsvToJsonlIsJsonThatPythonReadsBack) {
  if (!testing::have("python3")) GTEST_SKIP() << "no python3";
  testing::spit(path("a.csv"), nasty_csv);
  const auto r = sh("$SLUICE run 'read a.csv | csv --header | to-jsonl | write out.jsonl'");
  ASSERT_EQ(r.status, 0) << r.err;
  const auto check =
      sh("python3 -c 'import json; rows = [json.loads(l) for l in open(\"out.jsonl\", "
         "encoding=\"utf-8\")]; print(json.dumps(rows, sort_keys=True, ensure_ascii=True))'");
  ASSERT_EQ(check.status, 0) << check.err;
  EXPECT_EQ(check.out,
            "[{\"id\": \"1\", \"name\": \"Ann, B\", \"note\": \"two\\nlines\"}, "
            "{\"id\": \"2\", \"name\": null, \"note\": \"\"}, "
            "{\"id\": \"3\", \"name\": \"say \\\"hi\\\"\", \"note\": \"\\u00e9\"}]\n");
}

TEST_F(RecordCli, GzippedCsvThroughGunzipBackToCsv) {
  if (!testing::have("gzip")) GTEST_SKIP() << "no gzip";
  testing::spit(path("a.csv"), nasty_csv);
  ASSERT_EQ(sh("gzip -k a.csv").status, 0);
  const auto r =
      sh("$SLUICE run 'read a.csv.gz | gunzip | csv --header | to-csv --header --sep \";\"'");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out, "id;name;note\n1;Ann, B;\"two\nlines\"\n2;;\"\"\n3;\"say \"\"hi\"\"\";é\n");
}

TEST_F(RecordCli, JsonlToCsvWithHeader) {
  testing::spit(path("in.jsonl"), "{\"a\":1,\"b\":\"x,y\"}\n\n{\"b\":null,\"a\":2.5}\n");
  const auto r = sh("$SLUICE run 'read in.jsonl | jsonl | to-csv --header'");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out, "a,b\n1,\"x,y\"\n2.5,\n");
}

TEST_F(RecordCli, MalformedCsvNamesLineAndColumnAndLeavesNoOutput) {
  std::string text = "a,b\n";
  for (int i = 0; i < 20000; ++i) text += std::to_string(i) + ",ok\n";  // some output first
  text += "x,\"y\"z\n";
  testing::spit(path("bad.csv"), text);
  const auto r = sh("$SLUICE run 'read bad.csv | csv | to-jsonl | write out.jsonl'");
  expect_one_line_error(r, "sluice: run: ");
  EXPECT_EQ(r.err,
            "sluice: run: stage 2 (csv): csv: line 20002, column 6: unexpected character after a "
            "closing quote\n");
  EXPECT_EQ(files(), (std::set<std::string>{"bad.csv"}));  // nothing under out.jsonl
  const auto j = sh("echo '{\"a\":1}{' | $SLUICE run 'jsonl | to-csv'");
  EXPECT_EQ(j.status, 1);
  EXPECT_TRUE(j.err.starts_with("sluice: run: stage 2 (jsonl): jsonl: line 1, byte ")) << j.err;
}

TEST_F(RecordCli, BytesAndRecordsMixedUpAreSyntaxErrorsNamingBothStages) {
  auto r = sh("$SLUICE run 'read a.csv | csv | gzip'");
  EXPECT_EQ(r.status, 2);
  EXPECT_EQ(r.err,
            "sluice: run: 'gzip' takes bytes, but 'csv' gives records (put to-csv or to-jsonl "
            "before it)\n  read a.csv | csv | gzip\n                     ^^^^\n");
  r = sh("$SLUICE run 'read a.csv | to-jsonl'");
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("'to-jsonl' takes records, but 'read' gives bytes"), std::string::npos);
  r = sh("$SLUICE run 'csv'");
  EXPECT_NE(r.err.find("'csv' gives records: end with to-csv, to-jsonl or a record sink"),
            std::string::npos);
}

TEST_F(RecordCli, StatsHaveALinePerRecordStage) {
  testing::spit(path("a.csv"), nasty_csv);
  const auto r = sh("$SLUICE run --stats 'read a.csv | csv --header | to-jsonl | write o.jsonl'");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.err.find("\n1  csv "), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("\n2  to-jsonl "), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("\n3  write "), std::string::npos) << r.err;
}

// ---- A stand-in record sink, as a database table stage will be ----------------------------------

// Takes records with a small highWaterMark and acknowledges each on a later tick (as a database
// acknowledges after its commit).
class slow_sink final : public writable<db::record> {
 public:
  slow_sink(sluice::loop& l, std::vector<db::record>& rows)
      : writable<db::record>(l, {.high_water_mark = 2}), rows_(rows) {}

 protected:
  void do_write(db::record&& r, write_callback cb) override {
    rows_.push_back(std::move(r));
    get_loop().defer([cb] { cb(); });
  }

 private:
  std::vector<db::record>& rows_;
};

struct slow_sink_stage final : record_sink_config {
  std::vector<db::record>* rows = nullptr;
  std::shared_ptr<slow_sink>* made = nullptr;
  std::shared_ptr<writable<db::record>> make(build_context& ctx) const override {
    *made = std::make_shared<slow_sink>(ctx.loop, *rows);
    return *made;
  }
};

TEST(RecordSegment, ARecordSinkTakesEveryRowWithItsBackpressureAndIsEnded) {
  sluice::test::temp_dir dir;
  std::string text = "n,s\n";
  for (int i = 0; i < 1000; ++i) text += std::to_string(i) + ",row " + std::to_string(i) + "\n";
  sluice::test::write_file(dir / "in.csv", text);
  auto parsed =
      parse_run_expression("read '" + (dir / "in.csv").string() + "' | csv --header | to-jsonl");
  ASSERT_TRUE(std::holds_alternative<std::vector<stage_spec>>(parsed));
  auto specs = std::get<std::vector<stage_spec>>(parsed);
  std::vector<db::record> rows;
  std::shared_ptr<slow_sink> sink;
  auto stand_in = std::make_shared<slow_sink_stage>();
  stand_in->rows = &rows;
  stand_in->made = &sink;
  specs[2] = stage_spec{stand_in, "test-sink", 0, 0, false};  // in the place of to-jsonl
  specs.back() = stage_spec{std::make_shared<write_stage>(), "write", 0, 0, false};
  const_cast<write_stage&>(specs.back().as<write_stage>()).path = (dir / "empty.out").string();
  std::FILE* err = std::tmpfile();
  const int status =
      run_stages(specs, {.command = "run", .quiet = true, .stats = true, .err = err});
  std::rewind(err);
  char buf[4096] = {};
  const std::size_t n = std::fread(buf, 1, sizeof buf - 1, err);
  std::fclose(err);
  const std::string stats(buf, n);
  ASSERT_EQ(status, 0) << stats;
  ASSERT_EQ(rows.size(), 1000u);
  for (std::size_t i = 0; i < rows.size(); ++i)
    ASSERT_EQ(std::get<std::string>(rows[i].values[0]), std::to_string(i));
  EXPECT_EQ(rows[0].column_name(1), "s");
  ASSERT_TRUE(sink);
  EXPECT_TRUE(sink->finished());                       // ended, and every write acknowledged
  EXPECT_GT(sink->counters().write_backpressure, 0u);  // its highWaterMark was felt
  EXPECT_NE(stats.find("test-sink"), std::string::npos) << stats;
  EXPECT_EQ(sluice::test::read_file(dir / "empty.out"), "");  // a sink gives no bytes
}

}  // namespace
}  // namespace sluice::cli
