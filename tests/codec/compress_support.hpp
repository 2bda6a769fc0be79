// Helpers for the compression tests: deterministic test data, running bytes through a chain of
// codec transforms (a make_readable source piped through the stages into a make_writable sink),
// temp files, and the real command-line tools.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <random>
#include <sstream>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include "sluice/codec.hpp"
#include "sluice/core/buffer.hpp"
#include "sluice/core/loop.hpp"
#include "sluice/core/make.hpp"

namespace sluice::test {

using codec_ptr = std::shared_ptr<transform<buffer, buffer>>;

/// What run_slow() saw: the peak buffered sizes along source → codec → slow sink.
struct peaks {
  std::size_t source = 0;      ///< source's readable buffer
  std::size_t codec_in = 0;    ///< codec's writable buffer
  std::size_t codec_out = 0;   ///< codec's readable buffer
  std::size_t read_ahead = 0;  ///< most input the source produced beyond what the codec took
  std::string out;             ///< everything the sink got
  bool finished = false;       ///< the sink emitted 'finish'
};

/// Pipes `input` (in `in_chunk` pieces) through `codec` into a sink that takes 1 ms (virtual) per
/// chunk, and reports the peak buffered sizes.
inline peaks run_slow(manual_loop& loop, const codec_ptr& codec, const std::string& input,
                      std::size_t in_chunk) {
  peaks p;
  std::size_t pos = 0;
  const buffer all = buffer::copy_of(input);
  auto source = sluice::make_readable<buffer>(
      loop, {.read = [&](sluice::readable<buffer>& self, std::size_t) {
        if (pos >= all.size()) {
          self.push_eof();
          return;
        }
        const std::size_t n = std::min(in_chunk, all.size() - pos);
        self.push(all.slice(pos, n));
        pos += n;
      }});
  auto sink = sluice::make_writable<buffer>(
      loop,
      {.high_water_mark = 16 * 1024, .write = [&](sluice::writable<buffer>&, buffer&& b, auto cb) {
         p.out.append(b.view());
         p.read_ahead = std::max<std::size_t>(p.read_ahead, pos - codec->counters().bytes_in);
         loop.start_timer(std::chrono::milliseconds(1), [cb] { cb(); });
       }});
  sink->on_finish([&p] { p.finished = true; });
  source->pipe(codec)->pipe(sink);
  loop.run();
  p.source = source->counters().peak_readable_length;
  p.codec_in = codec->counters().peak_writable_length;
  p.codec_out = codec->counters().peak_readable_length;
  return p;
}

/// `n` bytes alternating runs of word-like text and random binary, the same for the same seed.
inline std::string mixed_data(std::size_t n, std::uint32_t seed = 1) {
  static constexpr std::string_view words[] = {
      "stream ",   "backpressure ",  "buffer ",    "sluice ", "the ", "of ",
      "drain\n",   "pipe ",          "transform ", "zlib ",   "a ",   "writable ",
      "readable ", "highWaterMark ", "\t",         "end.\n"};
  std::mt19937 rng(seed);
  std::string out;
  out.reserve(n);
  while (out.size() < n) {
    const std::size_t run = 64 + rng() % 4096;
    if (rng() % 4 == 0) {
      for (std::size_t i = 0; i < run && out.size() < n; ++i)
        out.push_back(static_cast<char>(rng()));
    } else {
      while (out.size() < n && run > 0) {
        const auto w = words[rng() % std::size(words)];
        out.append(w.substr(0, std::min(w.size(), n - out.size())));
        if (rng() % 64 == 0) break;
      }
    }
  }
  return out;
}

/// What came out of a chain.
struct run_result {
  std::string out;
  std::vector<std::size_t> chunk_sizes;  // sizes of the chunks the sink received
  bool finished = false;                 // the sink saw 'finish'
  std::error_code ec;                    // the first error of any stage
  std::string message;                   // that stage's error_message()
};

/// Feeds `input` in `in_chunk`-byte pieces through `stages` (piped in order) into a sink and runs
/// the loop until nothing is left to do.
inline run_result run_chain(manual_loop& loop, const std::vector<codec_ptr>& stages,
                            std::string_view input, std::size_t in_chunk = 64 * 1024) {
  auto result = std::make_shared<run_result>();
  std::size_t pos = 0;
  const buffer all = buffer::copy_of(input);
  auto source = make_readable<buffer>(
      loop, {.read = [&pos, all, in_chunk](readable<buffer>& self, std::size_t) {
        if (pos >= all.size()) {
          self.push_eof();
          return;
        }
        const std::size_t n = std::min(in_chunk, all.size() - pos);
        self.push(all.slice(pos, n));
        pos += n;
      }});
  auto sink =
      make_writable<buffer>(loop, {.write = [result](writable<buffer>&, buffer&& b, auto cb) {
                              result->out.append(b.view());
                              result->chunk_sizes.push_back(b.size());
                              cb();
                            }});
  sink->on_finish([result] { result->finished = true; });
  for (const auto& s : stages) {
    s->on_error([result, raw = s.get()](std::error_code ec) {
      if (result->ec) return;
      result->ec = ec;
      result->message = raw->error_message();
    });
  }
  std::shared_ptr<readable<buffer>> upstream = source;
  for (const auto& s : stages) upstream = upstream->pipe(s);
  upstream->pipe(sink);
  loop.run();
  return std::move(*result);
}

/// One stage.
inline run_result run_codec(const codec_ptr& codec, std::string_view input, manual_loop& loop,
                            std::size_t in_chunk = 64 * 1024) {
  return run_chain(loop, {codec}, input, in_chunk);
}

/// A directory under the system temp dir, removed with everything in it at scope exit.
class temp_dir {
 public:
  temp_dir() {
    std::random_device rd;
    path_ = std::filesystem::temp_directory_path() /
            ("sluice-compress-" + std::to_string(rd()) + "-" + std::to_string(rd()));
    std::filesystem::create_directories(path_);
  }
  ~temp_dir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;
  [[nodiscard]] std::filesystem::path operator/(std::string_view name) const {
    return path_ / name;
  }

 private:
  std::filesystem::path path_;
};

inline void write_file(const std::filesystem::path& p, std::string_view bytes) {
  std::ofstream f(p, std::ios::binary);
  f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

inline std::string read_file(const std::filesystem::path& p) {
  std::ifstream f(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
}

/// Runs a shell command; returns its exit status (or -1).
inline int shell(const std::string& cmd) {
  const int rc = std::system(cmd.c_str());
  return rc == -1 ? -1 : WEXITSTATUS(rc);
}

/// The command's standard output.
inline std::string shell_output(const std::string& cmd) {
  std::string out;
  if (FILE* p = ::popen(cmd.c_str(), "r")) {
    char buf[65536];
    std::size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
    ::pclose(p);
  }
  return out;
}

inline bool have_tool(const std::string& name) {
  return shell("command -v " + name + " >/dev/null 2>&1") == 0;
}

inline std::string quoted(const std::filesystem::path& p) { return "'" + p.string() + "'"; }

}  // namespace sluice::test
