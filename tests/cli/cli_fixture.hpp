// The fixture of the end-to-end CLI tests: a temporary directory per test, shell commands run
// in it with $SLUICE naming the binary under test (SLUICE_CLI_OVERRIDE replaces it, to show a
// test failing on another build), and helpers to compare what a user would see.
#pragma once

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "text_gen.hpp"

namespace sluice::cli::testing {

namespace fs = std::filesystem;

struct result {
  int status = -1;
  std::string out;
  std::string err;
};

inline std::string slurp(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
}

inline void spit(const fs::path& p, const std::string& data) {
  std::ofstream f(p, std::ios::binary | std::ios::trunc);
  f.write(data.data(), static_cast<std::streamsize>(data.size()));
}

inline bool have(const char* tool) {
  return std::system((std::string("command -v ") + tool + " >/dev/null 2>&1").c_str()) == 0;
}

class CliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = fs::temp_directory_path() /
           (std::string("sluice-cli-") + info->name() + "-" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    const char* other = std::getenv("SLUICE_CLI_OVERRIDE");
    ::setenv("SLUICE", other != nullptr && *other != 0 ? other : SLUICE_CLI_BINARY, 1);
  }
  void TearDown() override {
    if (!HasFailure()) fs::remove_all(dir_);
  }

  // Runs `cmd` with bash in the test directory; stdin is empty unless the command redirects it.
  result sh(const std::string& cmd) {
    const std::string full =
        "cd '" + dir_.string() + "' && (" + cmd + ") </dev/null >.stdout 2>.stderr";
    const int raw = std::system(("bash -c " + quote(full)).c_str());
    result r;
    r.status = WIFEXITED(raw) ? WEXITSTATUS(raw) : -1;
    r.out = slurp(dir_ / ".stdout");
    r.err = slurp(dir_ / ".stderr");
    fs::remove(dir_ / ".stdout");
    fs::remove(dir_ / ".stderr");
    return r;
  }

  static std::string quote(const std::string& s) {
    std::string q = "'";
    for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
    return q + "'";
  }

  fs::path path(const std::string& name) const { return dir_ / name; }

  // Writes `size` bytes of log-like text to `name` and returns them.
  std::string make_text(const std::string& name, std::uint64_t size, std::uint64_t seed = 1) {
    std::string s;
    sluice::cli::generate_text(s, size, seed);
    spit(path(name), s);
    return s;
  }

  // The names in the test directory.
  std::set<std::string> files() const {
    std::set<std::string> out;
    for (const auto& e : fs::directory_iterator(dir_)) out.insert(e.path().filename().string());
    return out;
  }

  fs::path dir_;
};

// Compares two (possibly large) byte strings without printing them whole on failure.
inline ::testing::AssertionResult same_bytes(const std::string& got, const std::string& want) {
  if (got == want) return ::testing::AssertionSuccess();
  std::size_t i = 0;
  while (i < got.size() && i < want.size() && got[i] == want[i]) ++i;
  return ::testing::AssertionFailure() << "got " << got.size() << " bytes, want " << want.size()
                                       << "; first difference at byte " << i;
}

// A failure is reported as exactly one line naming the command and the failing stage.
inline void expect_one_line_error(const result& r, const std::string& prefix) {
  EXPECT_NE(r.status, 0);
  ASSERT_FALSE(r.err.empty());
  EXPECT_EQ(r.err.find('\n'), r.err.size() - 1) << r.err;
  EXPECT_EQ(r.err.rfind(prefix, 0), 0u) << r.err;
}

}  // namespace sluice::cli::testing
