// fuzz/driver.hpp: what every sluice fuzz harness shares. A harness feeds its input through the
// real stream, not a bare parsing function: the input is pushed in chunks cut at points the
// input chooses, into the stage under test, whose output goes to a sink that completes its
// writes at once or later (virtual time) as the input chooses, so backpressure, holding back and
// the stage's teardown are all exercised. The checks (fuzz_check) abort, so libFuzzer reports
// them as crashes with the input that broke them:
//
// - exactly one outcome: the sink finished, or the stage failed with an error whose message
//   names it; never both, never neither (a hang or a lost callback);
// - the stage emitted 'close' exactly once;
// - the stage's readable side never held more than its highWaterMark plus two output chunks;
// - output stays bounded: past `max_output` bytes the driver destroys the stage (a small input
//   that inflates without end is cut there, which also exercises destroy() mid-stream).
//
// The first byte of the input is the control byte: it picks the input chunk sizes, the
// highWaterMarks and how often the sink pauses; a generator seeded with it and the input's size
// draws the rest. The remaining bytes are the payload (fuzz/README.md).
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include "sluice/core/buffer.hpp"
#include "sluice/core/loop.hpp"
#include "sluice/core/make.hpp"
#include "sluice/core/transform.hpp"

/// Aborts (a crash libFuzzer reports with its input) when `cond` is false.
#define fuzz_check(cond)                                                                 \
  do {                                                                                   \
    if (!(cond)) {                                                                       \
      std::fprintf(stderr, "%s:%d: fuzz check failed: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                                      \
    }                                                                                    \
  } while (false)

namespace sluice::fuzz {

/// The control byte and the payload of one input, and the choices drawn from them.
class input {
 public:
  input(const std::uint8_t* data, std::size_t size) {
    if (size > 0) {
      control_ = data[0];
      payload_ = std::string_view(reinterpret_cast<const char*>(data) + 1, size - 1);
    }
    state_ = 0x9e3779b97f4a7c15ULL ^ (std::uint64_t{control_} << 32) ^ size;
  }

  [[nodiscard]] std::string_view payload() const noexcept { return payload_; }
  [[nodiscard]] std::uint8_t control() const noexcept { return control_; }

  /// The next number of the generator (splitmix64).
  std::uint64_t next() noexcept {
    std::uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  /// A number in [0, n).
  std::size_t below(std::size_t n) noexcept { return n == 0 ? 0 : next() % n; }

  /// Bytes per input chunk: the low two bits of the control byte pick the scale (single bytes,
  /// a few, hundreds, whole), the generator the size within it.
  std::size_t chunk_size() noexcept {
    switch (control_ & 3) {
      case 0:
        return 1 + below(3);
      case 1:
        return 1 + below(64);
      case 2:
        return 1 + below(4096);
      default:
        return 64 * 1024;
    }
  }
  /// Whether the sink completes this write later (bits 2-3: never, 1 in 4, 1 in 2, always).
  bool pause() noexcept {
    const unsigned mode = (control_ >> 2) & 3;
    return mode == 3 || (mode != 0 && below(mode == 1 ? 4 : 2) == 0);
  }
  /// A highWaterMark for bytes (bits 4-5: 0, 1, 1 KiB, 64 KiB).
  [[nodiscard]] std::size_t byte_hwm() const noexcept {
    static constexpr std::size_t marks[] = {0, 1, 1024, 64 * 1024};
    return marks[(control_ >> 4) & 3];
  }
  /// A highWaterMark for items (bits 4-5: 0, 1, 3, 16).
  [[nodiscard]] std::size_t item_hwm() const noexcept {
    static constexpr std::size_t marks[] = {0, 1, 3, 16};
    return marks[(control_ >> 4) & 3];
  }
  /// Bits 6-7, for the harness's own choices (an option, an engine).
  [[nodiscard]] unsigned variant() const noexcept { return control_ >> 6; }

 private:
  std::uint8_t control_ = 0;
  std::string_view payload_;
  std::uint64_t state_ = 0;
};

/// What came out of one run of a stage.
template <class Out>
struct outcome {
  std::vector<Out> items;    ///< what the sink received, in order
  std::size_t bytes = 0;     ///< their total size (size_of)
  std::size_t largest = 0;   ///< the largest one
  bool finished = false;     ///< the sink emitted 'finish'
  bool cut = false;          ///< the driver destroyed the stage at max_output
  std::error_code ec;        ///< the stage's error, if it failed
  std::string message;       ///< its error_message()
  int closes = 0;            ///< 'close' events of the stage
  std::size_t peak_out = 0;  ///< the stage's peak readable length

  /// Everything received, joined (for byte streams).
  [[nodiscard]] std::string joined() const requires std::is_same_v<Out, buffer> {
    std::string s;
    s.reserve(bytes);
    for (const auto& b : items) s.append(b.view());
    return s;
  }
};

/// How drive() runs.
struct drive_options {
  std::size_t max_output = 8 << 20;   ///< bytes (or items) after which the stage is destroyed
  std::size_t sink_hwm = 16;          ///< the sink's highWaterMark
  std::size_t out_chunk = 16 * 1024;  ///< the stage's largest regular output chunk (for the bound)
  std::size_t out_hwm = 16;           ///< the stage's readable highWaterMark
};

inline std::size_t size_of_item(const buffer& b) { return b.size(); }
template <class T>
std::size_t size_of_item(const T&) {
  return 1;
}

/// Runs `stage` between a source whose read hook calls `next` (which pushes the next piece, or
/// returns false at the end) and a sink, until nothing is left to do, and checks the contract of
/// the file header. The stage is fresh and not yet piped.
template <class In, class Out>
outcome<Out> drive_source(manual_loop& loop, const std::shared_ptr<transform<In, Out>>& stage,
                          const std::function<bool(readable<In>&)>& next, std::size_t source_hwm,
                          input& in, const drive_options& o) {
  outcome<Out> r;
  auto source = make_readable<In>(
      loop, {.high_water_mark = source_hwm, .read = [&](readable<In>& self, std::size_t) {
               if (!next(self)) self.push_eof();
             }});
  std::weak_ptr<transform<In, Out>> weak = stage;
  auto sink = make_writable<Out>(
      loop, {.high_water_mark = o.sink_hwm, .write = [&](writable<Out>&, Out&& item, auto cb) {
               const std::size_t n = size_of_item(item);
               r.bytes += n;
               r.largest = std::max(r.largest, n);
               r.items.push_back(std::move(item));
               if (r.bytes > o.max_output && !r.cut) {
                 r.cut = true;
                 if (auto s = weak.lock()) s->destroy();
               }
               if (in.pause()) {
                 loop.start_timer(std::chrono::milliseconds(1), [cb] { cb(); });
               } else {
                 cb();
               }
             }});
  sink->on_finish([&r] { r.finished = true; });
  stage->on_error([&r, &stage](std::error_code ec) {
    if (!r.ec) {
      r.ec = ec;
      r.message = stage->error_message();
    }
  });
  stage->on_close([&r] { ++r.closes; });
  source->pipe(stage)->pipe(sink);
  loop.run();

  r.peak_out = stage->counters().peak_readable_length;
  fuzz_check(r.closes == 1);
  if (!r.cut) {
    fuzz_check(r.finished != static_cast<bool>(r.ec));  // exactly one outcome
    if (r.ec) fuzz_check(!r.message.empty());
  }
  const std::size_t chunk = std::max(r.largest, o.out_chunk);  // the bound allows two of these
  if (r.peak_out > o.out_hwm + 2 * chunk) {
    std::fprintf(stderr,
                 "stage held %zu on its readable side: highWaterMark %zu, largest output %zu\n",
                 r.peak_out, o.out_hwm, chunk);
    fuzz_check(r.peak_out <= o.out_hwm + 2 * chunk);
  }
  return r;
}

/// drive_source() with `bytes` pushed in chunks `in` chooses.
template <class Out>
outcome<Out> drive(manual_loop& loop, const std::shared_ptr<transform<buffer, Out>>& stage,
                   std::string_view bytes, input& in, const drive_options& o) {
  const buffer all = buffer::copy_of(bytes);
  std::size_t pos = 0;
  return drive_source<buffer, Out>(
      loop, stage,
      [&](readable<buffer>& self) {
        if (pos >= all.size()) return false;
        const std::size_t n = std::min(in.chunk_size(), all.size() - pos);
        self.push(all.slice(pos, n));
        pos += n;
        return true;
      },
      in.byte_hwm(), in, o);
}

/// drive_source() with `items` pushed one to three at a time (object mode).
template <class In, class Out>
outcome<Out> drive_items(manual_loop& loop, const std::shared_ptr<transform<In, Out>>& stage,
                         std::vector<In> items, input& in, const drive_options& o) {
  std::size_t pos = 0;
  return drive_source<In, Out>(
      loop, stage,
      [&](readable<In>& self) {
        if (pos >= items.size()) return false;
        for (std::size_t k = 1 + in.below(3); k > 0 && pos < items.size(); --k)
          self.push(std::move(items[pos++]));
        return true;
      },
      in.item_hwm(), in, o);
}

}  // namespace sluice::fuzz
