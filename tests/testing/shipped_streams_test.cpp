// The conformance kit on the streams sluice ships: lambda streams (sync and async hooks, spec
// and typed forms), passthrough, file streams on the Asio loop, gzip/gunzip, and the writers of
// the sinks layer. Each must pass every rule; a rule skipped here names the finding it hides.
#include <gtest/gtest.h>

#include <chrono>
#include <cstddef>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <system_error>
#include <vector>

#include "sluice/codec/framing.hpp"
#include "sluice/codec/gzip.hpp"
#include "sluice/codec/lines.hpp"
#include "sluice/core/make.hpp"
#include "sluice/core/transform.hpp"
#include "sluice/io/file.hpp"
#include "sluice/sinks/adaptive_writer.hpp"
#include "sluice/sinks/batch_writer.hpp"
#include "sluice/sinks/buffered_writer.hpp"
#include "sluice/sinks/log_writer.hpp"
#include "sluice/sinks/multi_writer.hpp"
#include "sluice/sinks/validating_writer.hpp"
#include "sluice/testing.hpp"
#include "sluice/testing/gtest.hpp"
#include "support/temp_files.hpp"

namespace {

using namespace std::chrono_literals;
using sluice::buffer;
using sluice::callback;
using sluice::loop;
namespace kit = sluice::testing;

// A write or transform completion on a later tick, keeping the stream alive until then.
template <class Cb>
void later(sluice::stream& self, Cb cb) {
  self.get_loop().defer([keep = self.shared_from_this(), cb] { cb(); });
}

// ---- core: lambda streams -----------------------------------------------------------------

TEST(ConformanceShipped, WritableSyncHook) {
  SLUICE_EXPECT_CONFORMS(kit::check_writable([](loop& l) {
    return sluice::make_writable<int>(
        l, {.high_water_mark = 4, .write = [](sluice::writable<int>&, int&&, auto cb) { cb(); }});
  }));
}

TEST(ConformanceShipped, WritableAsyncHook) {
  SLUICE_EXPECT_CONFORMS(kit::check_writable([](loop& l) {
    return sluice::make_writable<int>(
        l, {.high_water_mark = 4, .write = [](sluice::writable<int>& self, int&&, auto cb) {
              later(self, [cb] { cb(); });
            }});
  }));
}

TEST(ConformanceShipped, WritableTimerHookWithWritevAndFinal) {
  // Byte mode: a 1 ms (virtual) write, gathered writes, an asynchronous final.
  SLUICE_EXPECT_CONFORMS(kit::check_writable([](loop& l) {
    return sluice::make_writable<buffer>(
        l, {.high_water_mark = 4096,
            .write =
                [](sluice::writable<buffer>& self, buffer&&, auto cb) {
                  (void)self.get_loop().start_timer(1ms,
                                                    [keep = self.shared_from_this(), cb] { cb(); });
                },
            .writev = [](sluice::writable<buffer>& self, std::vector<buffer>&,
                         auto cb) { later(self, [cb] { cb(); }); },
            .final = [](sluice::writable<buffer>& self,
                        callback cb) { later(self, [cb] { cb({}); }); }});
  }));
}

TEST(ConformanceShipped, WritableTypedForm) {
  SLUICE_EXPECT_CONFORMS(kit::check_writable([](loop& l) {
    return sluice::make_writable<std::string>(
        l, {.high_water_mark = 3}, [](sluice::writable<std::string>& self, std::string&&, auto cb) {
          later(self, [cb] { cb(); });
        });
  }));
}

// A source of `n` numbers; `async` pushes each on a later tick.
std::shared_ptr<sluice::readable<int>> counter(loop& l, int n, bool async) {
  auto next = std::make_shared<int>(0);
  return sluice::make_readable<int>(
      l, {.high_water_mark = 8, .read = [next, n, async](sluice::readable<int>& self, std::size_t) {
            auto step = [next, n, &self] {
              if (*next == n) {
                self.push_eof();
                return false;
              }
              return self.push((*next)++);
            };
            if (async)
              later(self, step);
            else
              while (step()) {
              }
          }});
}

TEST(ConformanceShipped, ReadableSyncHook) {
  SLUICE_EXPECT_CONFORMS(kit::check_readable([](loop& l) { return counter(l, 100, false); }));
}

TEST(ConformanceShipped, ReadableAsyncHook) {
  SLUICE_EXPECT_CONFORMS(kit::check_readable([](loop& l) { return counter(l, 100, true); }));
}

TEST(ConformanceShipped, ReadableTypedFormBytes) {
  SLUICE_EXPECT_CONFORMS(kit::check_readable([](loop& l) {
    auto left = std::make_shared<int>(40);
    return sluice::make_readable<buffer>(
        l, {.high_water_mark = 1000}, [left](sluice::readable<buffer>& self, std::size_t) {
          if (*left == 0) return self.push_eof();
          --*left;
          self.push(buffer::copy_of(std::string(300, static_cast<char>('a' + *left % 26))));
        });
  }));
}

TEST(ConformanceShipped, TransformSyncHook) {
  SLUICE_EXPECT_CONFORMS(kit::check_transform(
      [](loop& l) {
        return sluice::make_transform<int>(
            l, {.readable_high_water_mark = 4,
                .writable_high_water_mark = 4,
                .transform = [](sluice::transform<int>&, int&& x, auto cb) { cb(2 * x); }});
      },
      {.check_output = [](const std::vector<int>& in, const std::vector<int>& out) {
        for (std::size_t i = 0; i < in.size(); ++i)
          if (i >= out.size() || out[i] != 2 * in[i]) return "item " + std::to_string(i);
        return out.size() == in.size() ? std::string() : std::string("extra output");
      }}));
}

TEST(ConformanceShipped, TransformAsyncHookAndFlush) {
  // Each input is held back one tick; flush pushes a last item.
  SLUICE_EXPECT_CONFORMS(kit::check_transform(
      [](loop& l) {
        return sluice::make_transform<int, std::string>(
            l, {.transform = [](sluice::transform<int, std::string>& self, int&& x,
                                auto cb) { later(self, [cb, x] { cb(std::to_string(x)); }); },
                .flush =
                    [](sluice::transform<int, std::string>& self, callback cb) {
                      self.push("end");
                      cb({});
                    }});
      },
      {.check_output = [](const std::vector<int>& in, const std::vector<std::string>& out) {
        return out.size() == in.size() + 1 && out.back() == "end" ? std::string()
                                                                  : std::string("no 'end' item");
      }}));
}

TEST(ConformanceShipped, TransformTypedForm) {
  SLUICE_EXPECT_CONFORMS(kit::check_transform([](loop& l) {
    return sluice::make_transform<int>(l, {.readable_high_water_mark = 2},
                                       [](auto&, int&& x, auto cb) { cb(x + 1); });
  }));
}

TEST(ConformanceShipped, Passthrough) {
  SLUICE_EXPECT_CONFORMS(
      kit::check_transform([](loop& l) { return std::make_shared<sluice::passthrough<int>>(l); }));
  SLUICE_EXPECT_CONFORMS(kit::check_transform(
      [](loop& l) { return std::make_shared<sluice::passthrough<buffer>>(l); }));
}

// ---- io: files on the Asio loop -------------------------------------------------------------

TEST(ConformanceShipped, FileWriterOnAsio) {
  sluice::test::temp_dir dir;
  int n = 0;
  SLUICE_EXPECT_CONFORMS(kit::check_writable(
      [&](loop& l) { return sluice::make_file_writer(l, dir / ("out-" + std::to_string(n++))); },
      {.loop = kit::loop_kind::asio,
       .failing_factory = [&](loop& l) { return sluice::make_file_writer(l, dir / "no/such/dir"); },
       .name = "file_writer"}));
}

TEST(ConformanceShipped, FileReaderOnAsio) {
  sluice::test::temp_dir dir;
  const auto path = dir / "in";
  sluice::test::write_file(path, sluice::test::pattern(300 * 1024));
  SLUICE_EXPECT_CONFORMS(kit::check_readable(
      [&](loop& l) { return sluice::make_file_reader(l, path, {.high_water_mark = 16 * 1024}); },
      {.loop = kit::loop_kind::asio,
       .failing_factory = [&](loop& l) { return sluice::make_file_reader(l, dir / "missing"); },
       .name = "file_reader"}));
}

TEST(ConformanceShipped, FileReaderOnManualLoop) {
  sluice::test::temp_dir dir;
  const auto path = dir / "in";
  sluice::test::write_file(path, sluice::test::pattern(100 * 1024));
  SLUICE_EXPECT_CONFORMS(kit::check_readable(
      [&](loop& l) { return sluice::make_file_reader(l, path, {.high_water_mark = 8 * 1024}); }));
}

// ---- codec: gzip and gunzip -------------------------------------------------------------------

// Runs `input` through a fresh `make` transform on a loop of its own.
std::string run_through(
    const std::function<std::shared_ptr<sluice::transform<buffer, buffer>>(loop&)>& make,
    const std::string& input) {
  sluice::manual_loop l;
  std::string out;
  auto t = make(l);
  auto sink = sluice::make_writable<buffer>(l, {.write = [&out](auto&, buffer&& b, auto cb) {
                                              out += b.view();
                                              cb();
                                            }});
  t->pipe(sink);
  t->end(buffer::copy_of(input));
  l.run();
  return out;
}

std::string joined(const std::vector<buffer>& bs) {
  std::string s;
  for (const buffer& b : bs) s += b.view();
  return s;
}

TEST(ConformanceShipped, Gzip) {
  auto gzip = [](loop& l) { return sluice::make_gzip(l); };
  SLUICE_EXPECT_CONFORMS(kit::check_transform(
      gzip, {.check_output =
                 [](const std::vector<buffer>& in, const std::vector<buffer>& out) {
                   const std::string back =
                       run_through([](loop& l) { return sluice::make_gunzip(l); }, joined(out));
                   return back == joined(in) ? std::string() : "gunzip gives something else";
                 },
             .name = "gzip"}));
}

TEST(ConformanceShipped, Gunzip) {
  // Each sample item is a whole gzip member, so that every prefix of the items is valid input.
  auto member = [](std::size_t i) {
    const buffer raw = kit::default_items<buffer>()(i);
    return buffer::copy_of(
        run_through([](loop& l) { return sluice::make_gzip(l); }, std::string(raw.view())));
  };
  SLUICE_EXPECT_CONFORMS(kit::check_transform(
      [](loop& l) { return sluice::make_gunzip(l); },
      {.item = member,
       .provoke_error =
           [](sluice::transform<buffer, buffer>& t) {
             (void)t.write(buffer::copy_of("this is not gzip"));
           },
       .check_output =
           [](const std::vector<buffer>& in, const std::vector<buffer>& out) {
             std::string want;
             for (std::size_t i = 0; i < in.size(); ++i)
               want += kit::default_items<buffer>()(i).view();
             return joined(out) == want ? std::string() : "not the members' contents";
           },
       .name = "gunzip"}));
}

TEST(ConformanceShipped, LineSplitter) {
  // Items cut lines in two; the output must be every line, whole.
  auto text = [](std::size_t i) {
    return buffer::copy_of("line " + std::to_string(i) + "\nhalf of line " + std::to_string(i) +
                           "-");
  };
  SLUICE_EXPECT_CONFORMS(kit::check_transform(
      [](loop& l) { return std::make_shared<sluice::line_splitter>(l); },
      {.item = text,
       .check_output =
           [text](const std::vector<buffer>& in, const std::vector<std::string>& out) {
             std::string want;
             for (std::size_t i = 0; i < in.size(); ++i) want += text(i).view();
             std::string got;
             for (const std::string& line : out) got += line + "\n";
             if (!want.empty() && want.back() != '\n') got.pop_back();  // the last, unended
             return got == want ? std::string() : "lines lost or changed";
           },
       .name = "line_splitter"}));
}

// A length-prefixed frame holding `payload`.
std::string frame_of(const std::string& payload) {
  const auto n = static_cast<std::uint32_t>(payload.size());
  return std::string{static_cast<char>(n >> 24), static_cast<char>(n >> 16),
                     static_cast<char>(n >> 8), static_cast<char>(n)} +
         payload;
}

TEST(ConformanceShipped, FrameEncoder) {
  // A small limit, so that one long item provokes frame_too_large.
  SLUICE_EXPECT_CONFORMS(kit::check_transform(
      [](loop& l) {
        return sluice::make_frame_encoder<std::string>(l, {}, {.max_frame_size = 64});
      },
      {.provoke_error =
           [](sluice::transform<std::string, buffer>& t) { (void)t.write(std::string(65, 'x')); },
       .check_output =
           [](const std::vector<std::string>& in, const std::vector<buffer>& out) {
             std::string want;
             for (const auto& s : in) want += frame_of(s);
             return joined(out) == want ? std::string() : "not the items' frames";
           },
       .name = "frame_encoder"}));
}

TEST(ConformanceShipped, FrameDecoder) {
  // Each sample item is whole frames (two), so that every prefix of the items is valid input.
  auto frames = [](std::size_t i) {
    return buffer::copy_of(frame_of("item " + std::to_string(i)) +
                           frame_of(std::string(i % 3, 'p')));
  };
  SLUICE_EXPECT_CONFORMS(kit::check_transform(
      [](loop& l) { return sluice::make_frame_decoder<std::string>(l); },
      {.item = frames,
       .provoke_error =
           [](sluice::transform<buffer, std::string>& t) {
             (void)t.write(buffer::copy_of(std::string(4, '\xff')));  // 4 GiB - 1: over the limit
           },
       .check_output =
           [](const std::vector<buffer>& in, const std::vector<std::string>& out) {
             std::string want;
             std::string got;
             for (const auto& b : in) want += b.view();
             for (const auto& s : out) got += frame_of(s);
             return got == want ? std::string() : "frames lost or changed";
           },
       .name = "frame_decoder"}));
}

// ---- sinks: the writers ---------------------------------------------------------------------

// A destination that completes each write on a later tick.
template <class T>
std::shared_ptr<sluice::writable<T>> async_destination(loop& l) {
  return sluice::make_writable<T>(
      l, {.write = [](sluice::writable<T>& self, T&&, auto cb) { later(self, [cb] { cb(); }); }});
}

TEST(ConformanceShipped, BatchWriter) {
  SLUICE_EXPECT_CONFORMS(kit::check_writable(
      [](loop& l) {
        return sluice::make_batch_writer<int>(
            l,
            [&l](const sluice::write_batch<int>&, callback done) {
              (void)l.start_timer(2ms, [done] { done({}); });
            },
            {.max_items = 5, .max_delay = 10ms, .high_water_mark = 12});
      },
      {.name = "batch_writer"}));
}

TEST(ConformanceShipped, BatchWriterSynchronousFlush) {
  // A flush hook that completes at once, and batches that wait for a full batch or end().
  SLUICE_EXPECT_CONFORMS(kit::check_writable(
      [](loop& l) {
        return sluice::make_batch_writer<int>(
            l, [](const sluice::write_batch<int>&, callback done) { done({}); },
            {.max_items = 5, .max_delay = std::chrono::hours(1), .high_water_mark = 12});
      },
      // (Two findings of the kit, fixed in the core: destroyed while acknowledgements were still
      // queued, the open batch's writes failed before the acknowledged ones succeeded; and
      // end()'s callback failed while a queued 'finish' still came. Accept.Destroy* tests.)
      {.name = "batch_writer (synchronous flush)"}));
}

TEST(ConformanceShipped, BufferedWriter) {
  SLUICE_EXPECT_CONFORMS(kit::check_writable(
      [](loop& l) {
        return sluice::make_buffered_writer(l, async_destination<buffer>(l),
                                            {.buffer_size = 4096, .flush_interval = 5ms});
      },
      {.name = "buffered_writer"}));
}

TEST(ConformanceShipped, ValidatingWriter) {
  // (As its own type: the kit calls on_drain() on it, which a private member of the same name
  // used to hide; found by the kit.)
  SLUICE_EXPECT_CONFORMS(kit::check_writable(
      [](loop& l) {
        return sluice::make_validating_writer<int>(
            l, async_destination<int>(l),
            {.validator = [](const int& x) -> std::optional<std::string> {
              if (x < 0) return "negative";
              return std::nullopt;
            }});
      },
      {.provoke_error = [](sluice::writable<int>& w) { (void)w.write(-1); },
       .name = "validating_writer"}));
}

TEST(ConformanceShipped, MultiWriter) {
  SLUICE_EXPECT_CONFORMS(kit::check_writable(
      [](loop& l) {
        std::vector<sluice::multi_writer_target<int>> targets;
        targets.push_back({"a", async_destination<int>(l)});
        targets.push_back({"b", async_destination<int>(l)});
        return sluice::make_multi_writer<int>(l, std::move(targets));
      },
      {.name = "multi_writer"}));
}

TEST(ConformanceShipped, LogWriter) {
  SLUICE_EXPECT_CONFORMS(kit::check_writable(
      [](loop& l) {
        return sluice::make_log_writer(l, async_destination<buffer>(l),
                                       {.errors = nullptr, .high_water_mark = 8});
      },
      {.item =
           [](std::size_t i) {
             return sluice::log_record{.message = "record " + std::to_string(i)};
           },
       .name = "log_writer"}));
}

TEST(ConformanceShipped, AdaptiveWriter) {
  SLUICE_EXPECT_CONFORMS(kit::check_writable(
      [](loop& l) {
        return sluice::adaptive_writer<int>::create(l, async_destination<int>(l),
                                                    {.high_water_mark = 8, .initial_rate = 1000});
      },
      // (A finding of the kit, fixed in the core: the write the adaptive_writer held failed from
      // do_destroy() ahead of the success of the write completed just before it.)
      {.name = "adaptive_writer"}));
}

TEST(ConformanceShipped, RotatingFileWriterOnAsio) {
  sluice::test::temp_dir dir;
  int n = 0;
  SLUICE_EXPECT_CONFORMS(kit::check_writable(
      [&](loop& l) {
        return sluice::make_rotating_file_writer(
            l, {.path = dir / ("log-" + std::to_string(n++)), .max_bytes = 8 * 1024, .keep = 2});
      },
      // (destroy.ending found that a destroy() during end()'s close never completed: fixed.)
      {.loop = kit::loop_kind::asio, .name = "rotating_file_writer"}));
}

}  // namespace
