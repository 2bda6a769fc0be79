// 04-gzip: compression transforms in a pipe chain.
//
// Generates a few MiB of log-like text, pipes it through gzip (zlib or ISA-L; on the loop thread,
// or in blocks on THREADS pool threads, 0 meaning one per core) and straight back through gunzip,
// checks that the bytes came back, and prints the sizes. Then feeds gunzip a damaged stream and
// prints the error it reports: which stage failed, at which input byte.
//
//   example-04-gzip [zlib|isal] [THREADS]
#include <boost/asio/io_context.hpp>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>

#include <sluice/codec.hpp>

namespace {

std::string make_text() {
  std::string text;
  for (int i = 0; i < 100000; ++i)
    text += "2026-11-21T12:00:" + std::to_string(i % 60) + "Z GET /items/" + std::to_string(i * 7) +
            " 200 " + std::to_string(100 + i % 900) + "us\n";
  return text;
}

// A readable that hands out `data` in 64 KiB slices (no copies: slices share the buffer).
std::shared_ptr<sluice::readable<sluice::buffer>> source_of(sluice::loop& loop,
                                                            sluice::buffer data) {
  auto pos = std::make_shared<std::size_t>(0);
  return sluice::make_readable<sluice::buffer>(
      loop, {.read = [data, pos](sluice::readable<sluice::buffer>& self, std::size_t) {
        if (*pos == data.size()) {
          self.push_eof();
          return;
        }
        const std::size_t n = std::min<std::size_t>(64 * 1024, data.size() - *pos);
        self.push(data.slice(*pos, n));
        *pos += n;
      }});
}

// A writable that appends everything to `out`.
std::shared_ptr<sluice::writable<sluice::buffer>> sink_into(sluice::loop& loop, std::string& out) {
  return sluice::make_writable<sluice::buffer>(
      loop, {.write = [&out](sluice::writable<sluice::buffer>&, sluice::buffer&& b, auto cb) {
        out.append(b.view());
        cb();
      }});
}

}  // namespace

int main(int argc, char** argv) {
  sluice::gzip_options options;
  if (argc > 1 && std::strcmp(argv[1], "isal") == 0) options.engine = sluice::gzip_engine::isal;
  if (argc > 2) options.threads = static_cast<unsigned>(std::strtoul(argv[2], nullptr, 10));

  boost::asio::io_context io;
  sluice::asio_loop loop(io);

  // 1. text → gzip → (count the compressed bytes) → gunzip → text again.
  const std::string text = make_text();
  std::uint64_t compressed = 0;
  auto gzip = sluice::make_gzip(loop, options);
  auto gunzip = sluice::make_gunzip(loop);
  gzip->on_data([&compressed](sluice::buffer&& b) { compressed += b.size(); });
  std::string back;
  // The source must outlive the run: a pipe keeps its destination alive, not its source, and with
  // threads gzip's write completes later, from the pool, when nothing else refers to the source.
  auto source = source_of(loop, sluice::buffer::copy_of(text));
  source->pipe(gzip)->pipe(gunzip)->pipe(sink_into(loop, back));
  io.run();
  std::printf("%zu bytes -> gzip (%s, threads %u) -> %llu bytes -> gunzip -> %zu bytes: %s\n",
              text.size(), options.engine == sluice::gzip_engine::isal ? "isal" : "zlib",
              options.threads, static_cast<unsigned long long>(compressed), back.size(),
              back == text ? "identical" : "DIFFERENT");

  // 2. A damaged stream: gunzip fails and says where.
  io.restart();
  std::string packed;
  auto gzip2 = sluice::make_gzip(loop);
  source_of(loop, sluice::buffer::copy_of(text))->pipe(gzip2)->pipe(sink_into(loop, packed));
  io.run();
  packed[packed.size() / 2] = static_cast<char>(packed[packed.size() / 2] ^ 0xff);
  io.restart();
  std::string ignored;
  auto gunzip2 = sluice::make_gunzip(loop);
  gunzip2->on_error([&gunzip2](std::error_code) {
    std::printf("gunzip failed: %s\n", gunzip2->error_message().c_str());
  });
  source_of(loop, sluice::buffer(std::move(packed)))->pipe(gunzip2)->pipe(sink_into(loop, ignored));
  io.run();
  return back == text && gunzip2->errored() ? 0 : 1;
}
