// tools/sluice/codec_messages.cpp: gzip-style messages for bad compressed input.
#include "codec_messages.hpp"

#include <charconv>
#include <string_view>

#include "sluice/codec/compression.hpp"
#include "stage_kinds.hpp"

namespace sluice::cli {
namespace {

std::string_view format_of(codec_kind k) noexcept {
  switch (k) {
    case codec_kind::gzip:
    case codec_kind::gunzip:
      return "gzip";
    case codec_kind::zstd:
    case codec_kind::unzstd:
      return "zstd";
    case codec_kind::brotli:
    case codec_kind::unbrotli:
      return "brotli";
  }
  return "compressed";
}

// The offset in a codec's error context, "<stage> at input byte N" (the form compression.hpp
// documents), or nothing.
std::optional<std::uint64_t> offset_in(std::string_view detail) {
  constexpr std::string_view marker = " at input byte ";
  const auto at = detail.find(marker);
  if (at == std::string_view::npos) return std::nullopt;
  const char* first = detail.data() + at + marker.size();
  std::uint64_t n = 0;
  const auto [end, ec] = std::from_chars(first, detail.data() + detail.size(), n);
  if (ec != std::errc{} || end == first) return std::nullopt;
  return n;
}

// What the codec of stage `index` (0-based) read: a file, stdin, or an earlier stage (empty).
std::string input_of(const std::vector<stage_spec>& stages, std::size_t index) {
  if (index != 1) return {};
  const stage_config* source = stages.front().config.get();
  if (const auto* r = dynamic_cast<const read_stage*>(source); r && r->paths.size() == 1)
    return r->paths.front();
  if (dynamic_cast<const stdin_stage*>(source) != nullptr) return "stdin";
  return {};
}

std::string size_of_window(int log) {
  if (log >= 30) return std::to_string(1 << (log - 30)) + " GiB";
  if (log >= 20) return std::to_string(1 << (log - 20)) + " MiB";
  return std::to_string(1 << (log - 10)) + " KiB";
}

std::string stage_prefix(const pipeline_error& e, const std::string& command) {
  if (e.stage == 0 || e.stage_name == command) return {};
  return "stage " + std::to_string(e.stage) + " (" + e.stage_name + "): ";
}

}  // namespace

std::optional<std::string> codec_error_message(const std::vector<stage_spec>& stages,
                                               const pipeline_error& e,
                                               const std::string& command) {
  if (e.stage == 0 || e.stage > stages.size() || e.code.category() != compress_category())
    return std::nullopt;
  const auto* codec = dynamic_cast<const codec_stage*>(stages[e.stage - 1].config.get());
  if (codec == nullptr) return std::nullopt;

  std::string what;
  switch (static_cast<compress_errc>(e.code.value())) {
    case compress_errc::wrong_format:
      what = "not in " + std::string(format_of(codec->kind)) + " format";
      break;
    case compress_errc::window_too_large:
      // As zstd says it, with the limit in force and the flags that raise it.
      what = "window size larger than maximum (" +
             size_of_window(codec->window_log != 0 ? codec->window_log : default_long_window_log) +
             "); use --long=31 or --memory=SIZE";
      break;
    default:
      what = e.code.message();
      if (const auto at = offset_in(e.detail))
        what += " (at input byte " + std::to_string(*at) + ")";
      break;
  }
  std::string out = stage_prefix(e, command);
  if (const std::string input = input_of(stages, e.stage - 1); !input.empty()) out += input + ": ";
  return out + what;
}

std::string failure_message(const std::vector<stage_spec>& stages, const pipeline_error& e,
                            const std::string& command) {
  if (auto m = codec_error_message(stages, e, command)) return *m;
  if (e.stage != 0 && e.stage_name == command)
    return e.detail.empty() ? e.code.message() : e.detail;
  return e.message();
}

}  // namespace sluice::cli
