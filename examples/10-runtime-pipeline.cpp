// 10-runtime-pipeline: a pipeline whose stages are chosen at run time, from the command line.
//
// Each argument names a codec (gzip, gunzip, zstd, unzstd, brotli, unbrotli); the program builds
// a std::vector<sluice::byte_stage>: a source of generated text, the codecs in the order given,
// and a sink that checks what arrives. With the default arguments the text goes through three
// compressors and back and must arrive unchanged. A chain that decompresses what was never
// compressed fails, and the error names the stage, as the variadic pipeline() would.
//
//   example-10-runtime-pipeline [CODEC...]     (default: gzip zstd brotli unbrotli unzstd gunzip)
#include <boost/asio/io_context.hpp>

#include <cstddef>
#include <cstdio>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <sluice/sluice.hpp>

namespace {

using codec_factory =
    std::function<std::shared_ptr<sluice::transform<sluice::buffer, sluice::buffer>>(
        sluice::loop&)>;

const std::map<std::string, codec_factory>& codecs() {
  static const std::map<std::string, codec_factory> m{
      {"gzip", [](sluice::loop& l) { return sluice::make_gzip(l); }},
      {"gunzip", [](sluice::loop& l) { return sluice::make_gunzip(l); }},
      {"zstd", [](sluice::loop& l) { return sluice::make_zstd_compress(l); }},
      {"unzstd", [](sluice::loop& l) { return sluice::make_zstd_decompress(l); }},
      {"brotli", [](sluice::loop& l) { return sluice::make_brotli_compress(l, {.quality = 5}); }},
      {"unbrotli", [](sluice::loop& l) { return sluice::make_brotli_decompress(l); }},
  };
  return m;
}

std::string make_text() {
  std::string text;
  for (int i = 0; i < 50000; ++i) text += "2026-12-04 INFO request " + std::to_string(i) + " ok\n";
  return text;
}

// Runs `text` through the named codecs; returns true when it arrived unchanged.
bool run(const std::vector<std::string>& names, const std::string& text) {
  boost::asio::io_context io;
  sluice::asio_loop loop(io);

  std::vector<sluice::byte_stage> stages;
  std::size_t sent = 0;
  stages.emplace_back(sluice::make_readable<sluice::buffer>(
                          loop, {.read =
                                     [&](auto& self, std::size_t) {
                                       if (sent == text.size()) return self.push_eof();
                                       const std::size_t n =
                                           std::min<std::size_t>(16384, text.size() - sent);
                                       self.push(sluice::buffer(text.substr(sent, n)));
                                       sent += n;
                                     }}),
                      "text");
  for (const auto& name : names) stages.emplace_back(codecs().at(name)(loop), name);
  std::string received;
  stages.emplace_back(
      sluice::make_writable<sluice::buffer>(loop, {.write =
                                                       [&](auto&, sluice::buffer&& b, auto done) {
                                                         received += b.to_string();
                                                         done();
                                                       }}),
      "check");

  bool ok = false;
  std::string chain = "text";
  for (const auto& n : names) chain += " -> " + n;
  sluice::pipeline(std::move(stages), [&](const sluice::pipeline_error& e) {
    if (e) {
      std::printf("%s -> check: failed: %s\n", chain.c_str(), e.message().c_str());
      return;
    }
    ok = received == text;
    std::printf("%s -> check: %zu bytes, %s\n", chain.c_str(), received.size(),
                ok ? "unchanged" : "CHANGED");
  });
  io.run();
  return ok;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> names(argv + 1, argv + argc);
  const bool defaults = names.empty();
  if (defaults) names = {"gzip", "zstd", "brotli", "unbrotli", "unzstd", "gunzip"};
  for (const auto& n : names) {
    if (!codecs().contains(n)) {
      std::fprintf(stderr, "unknown codec '%s' (gzip, gunzip, zstd, unzstd, brotli, unbrotli)\n",
                   n.c_str());
      return 2;
    }
  }
  const std::string text = make_text();
  const bool round_trip = run(names, text);
  if (!defaults) return round_trip ? 0 : 1;
  // Decompressing what was never compressed: "stage 2 (gunzip): gunzip at input byte ...".
  const bool wrong_chain = run({"gunzip"}, text);
  return round_trip && !wrong_chain ? 0 : 1;
}
