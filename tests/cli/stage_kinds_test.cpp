// Tests of the stage table (tools/sluice/stage_kinds.hpp): every kind is listed by
// `sluice run --help` and documented in docs/cli.md, parses, stands only where its role allows,
// and builds a stream with the sides its role needs. A kind added to the table without a sample
// below fails here, so it gets the same checks.
#include "stage_kinds.hpp"

#include <gtest/gtest.h>
#include <sys/wait.h>

#include <boost/asio/io_context.hpp>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <variant>
#include <vector>

#include "run_syntax.hpp"
#include "sluice/core/asio_loop.hpp"
#include "support/temp_files.hpp"

namespace {

using namespace sluice::cli;

// A valid way to write each kind (the file is created by the test before building).
const std::map<std::string, std::string>& samples() {
  static const std::map<std::string, std::string> m{
      {"read", "read in.txt"},
      {"stdin", "stdin"},
      {"write", "write out.txt"},
      {"stdout", "stdout"},
      {"gzip", "gzip --level 9 --engine isal --threads 2"},
      {"gunzip", "gunzip --engine zlib"},
      {"zstd", "zstd --level 5"},
      {"unzstd", "unzstd"},
      {"brotli", "brotli --level 4"},
      {"unbrotli", "unbrotli"},
      {"lines", "lines"},
      {"grep", "grep -v -i DEBUG"},
      {"head", "head -n 5"},
      {"count", "count -c"},
      {"throttle", "throttle 10M"},
      {"parallel", "parallel 2 grep -v -i DEBUG"},
      {"tcp-listen", "tcp-listen 127.0.0.1:0"},
      {"tcp-connect", "tcp-connect 127.0.0.1:9"},
      {"unix-connect", "unix-connect no-such.sock"},
      {"http-get", "http-get http://127.0.0.1:9/"},
      {"http-post", "http-post http://127.0.0.1:9/"},
      {"csv", "csv --header --sep ';' --ragged"},
      {"jsonl", "jsonl --nested-as-text"},
      {"to-csv", "to-csv --header --sep tab"},
      {"to-jsonl", "to-jsonl"},
      {"sqlite", "sqlite out.db events --create --batch 10"},
      {"sqlite-query", "sqlite-query in.db 'select 1'"},
      {"pg", "pg 'dbname=x' events --batch 5"},
      {"pg-query", "pg-query 'dbname=x' 'select 1'"},
      {"nats-pub", "nats-pub nats://127.0.0.1:9 events.app --stream EVENTS --replicas 3"},
      {"nats-sub", "nats-sub nats://127.0.0.1:9 EVENTS archive --count 10 --idle 1.5"},
  };
  return m;
}

std::string slurp(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

TEST(StageKinds, NamesAreUniqueAndEachHasHelpAndASample) {
  std::set<std::string_view> names;
  for (const auto& k : stage_kinds()) {
    EXPECT_TRUE(names.insert(k.name).second) << "twice: " << k.name;
    EXPECT_FALSE(k.help.empty()) << k.name;
    EXPECT_NE(k.parse, nullptr) << k.name;
    EXPECT_EQ(find_stage_kind(k.name), &k);
    EXPECT_TRUE(samples().contains(std::string(k.name)))
        << "no sample for the new stage kind '" << k.name << "' in this test";
  }
  EXPECT_EQ(names.size(), samples().size());
  EXPECT_EQ(find_stage_kind("gunzp"), nullptr);
}

TEST(StageKinds, HelpListsEveryKindWithItsArguments) {
  const std::string help = stage_help();
  for (const auto& k : stage_kinds()) {
    std::string line = "  " + std::string(k.name);
    if (!k.synopsis.empty()) line += " " + std::string(k.synopsis);
    EXPECT_NE(help.find(line), std::string::npos) << line;
    EXPECT_NE(help.find(k.help), std::string::npos) << k.help;
  }
  // And the binary shows the table's list, whole.
  const std::string out = testing::TempDir() + "/sluice-run-help.txt";
  const std::string cmd = std::string("'") + SLUICE_CLI_BINARY + "' run --help > '" + out + "'";
  ASSERT_EQ(std::system(cmd.c_str()), 0);
  EXPECT_NE(slurp(out).find(help), std::string::npos) << slurp(out);
  std::remove(out.c_str());
}

TEST(StageKinds, DocsDescribeEveryKind) {
  const std::string doc = slurp(std::filesystem::path(SLUICE_SOURCE_DIR) / "docs" / "cli.md");
  ASSERT_FALSE(doc.empty());
  for (const auto& k : stage_kinds())
    EXPECT_NE(doc.find("`" + std::string(k.name)), std::string::npos)
        << "docs/cli.md does not mention the stage '" << k.name << "'";
}

TEST(StageKinds, EachKindStandsOnlyWhereItsRoleAllows) {
  for (const auto& k : stage_kinds()) {
    const std::string sample = samples().at(std::string(k.name));
    // Alone, between an explicit source and sink, or as its own source or sink.
    std::string expr = sample;
    // A record stage stands in a record segment: after a parser, before a formatter.
    if (k.role == stage_role::record_parser) expr += " | to-jsonl";
    if (k.role == stage_role::record_formatter) expr = "csv | " + expr;
    // A record source starts a pipeline and a segment; a record sink ends both.
    if (k.role == stage_role::record_source) expr += " | to-jsonl";
    if (k.role == stage_role::record_sink) expr = "csv | " + expr;
    if (k.role != stage_role::source && k.role != stage_role::record_source)
      expr = "stdin | " + expr;
    if (k.role != stage_role::sink && k.role != stage_role::endpoint &&
        k.role != stage_role::record_sink)
      expr += " | stdout";
    auto ok = parse_run_expression(expr);
    ASSERT_TRUE(std::holds_alternative<std::vector<stage_spec>>(ok))
        << expr << ": " << std::get<syntax_error>(ok).message;
    // Out of place: a source second, a sink before the end.
    if (k.role == stage_role::source) {
      auto bad = parse_run_expression("stdin | " + sample);
      ASSERT_TRUE(std::holds_alternative<syntax_error>(bad)) << k.name;
      EXPECT_NE(std::get<syntax_error>(bad).message.find("first stage"), std::string::npos);
    }
    if (k.role == stage_role::sink) {
      auto bad = parse_run_expression(sample + " | stdout");
      ASSERT_TRUE(std::holds_alternative<syntax_error>(bad)) << k.name;
      EXPECT_NE(std::get<syntax_error>(bad).message.find("last stage"), std::string::npos);
    }
    if (k.role == stage_role::record_parser) {  // records where bytes are expected
      auto bad = parse_run_expression("stdin | " + sample + " | stdout");
      ASSERT_TRUE(std::holds_alternative<syntax_error>(bad)) << k.name;
      EXPECT_NE(std::get<syntax_error>(bad).message.find("gives records"), std::string::npos);
    }
    if (k.role == stage_role::record_formatter) {  // bytes where records are expected
      auto bad = parse_run_expression("stdin | " + sample + " | stdout");
      ASSERT_TRUE(std::holds_alternative<syntax_error>(bad)) << k.name;
      EXPECT_NE(std::get<syntax_error>(bad).message.find("takes records"), std::string::npos);
    }
    if (k.role == stage_role::record_source || k.role == stage_role::record_sink) {
      // Records where bytes are expected, on either side.
      auto bad = parse_run_expression(
          k.role == stage_role::record_source ? sample + " | gzip | stdout" : "stdin | " + sample);
      ASSERT_TRUE(std::holds_alternative<syntax_error>(bad)) << k.name;
    }
    if (k.role == stage_role::endpoint) {  // first or last, never between
      ASSERT_TRUE(std::holds_alternative<std::vector<stage_spec>>(
          parse_run_expression(sample + " | stdout")))
          << k.name;
      auto bad = parse_run_expression("stdin | " + sample + " | stdout");
      ASSERT_TRUE(std::holds_alternative<syntax_error>(bad)) << k.name;
      EXPECT_NE(std::get<syntax_error>(bad).message.find("first or the last"), std::string::npos);
    }
  }
}

TEST(StageKinds, EachKindBuildsAStreamWithTheSidesOfItsRole) {
  sluice::test::temp_dir dir;
  std::ofstream(dir.path() / "in.txt") << "hello\n";
  boost::asio::io_context io;
  sluice::asio_loop loop(io);
  auto handle = std::make_shared<sluice::pipeline_handle>();
  std::vector<sluice::byte_stage> built;
  for (const auto& k : stage_kinds()) {
    // (Record stages are built per segment: record_stages_test.cpp.)
    if (k.role == stage_role::record_parser || k.role == stage_role::record_formatter ||
        k.role == stage_role::record_source || k.role == stage_role::record_sink)
      continue;
    std::string sample = samples().at(std::string(k.name));
    for (const char* file : {"in.txt", "out.txt"})
      if (auto at = sample.find(file); at != std::string::npos)
        sample.replace(at, std::string(file).size(), (dir.path() / file).string());
    auto parsed = parse_run_expression(sample);
    ASSERT_TRUE(std::holds_alternative<std::vector<stage_spec>>(parsed)) << sample;
    const auto& specs = std::get<std::vector<stage_spec>>(parsed);
    const stage_spec& spec = k.role == stage_role::source || k.role == stage_role::endpoint
                                 ? specs.front()
                             : k.role == stage_role::sink ? specs.back()
                                                          : specs.at(1);
    run_hooks hooks;
    build_context ctx{loop, 1, spec.name, handle, nullptr, &hooks};
    sluice::byte_stage s = spec.config->build(ctx);
    ASSERT_NE(s.get(), nullptr) << k.name;
    EXPECT_EQ(s.name(), k.name);
    EXPECT_EQ(s.readable_side() != nullptr, k.role != stage_role::sink) << k.name;
    EXPECT_EQ(s.writable_side() != nullptr, k.role != stage_role::source) << k.name;
    built.push_back(std::move(s));
  }
  for (auto& s : built) s.get()->destroy();
  io.run();
  // Destroyed before it wrote anything: the atomic writer leaves no file behind.
  EXPECT_FALSE(std::filesystem::exists(dir.path() / "out.txt"));
}

}  // namespace
