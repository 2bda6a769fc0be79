// Helpers shared by the sluice-bench subcommands: loops, timing summaries, sizes.
#include <boost/asio/io_context.hpp>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <limits>

#include "bench.hpp"
#include "sluice/core/asio_loop.hpp"

namespace sluice_bench {

const char* to_string(loop_kind k) noexcept { return k == loop_kind::manual ? "manual" : "asio"; }

run_result with_loop(loop_kind k, const scenario& body) {
  if (k == loop_kind::manual) {
    sluice::manual_loop loop;
    return body(loop, [&loop] { loop.run(); });
  }
  boost::asio::io_context io;
  sluice::asio_loop loop(io);
  return body(loop, [&io] { io.run(); });
}

timing_summary summarize(std::vector<double> seconds) {
  timing_summary s;
  if (seconds.empty()) return s;
  std::sort(seconds.begin(), seconds.end());
  s.best_seconds = seconds.front();
  const std::size_t n = seconds.size();
  s.median_seconds = n % 2 == 1 ? seconds[n / 2] : (seconds[n / 2 - 1] + seconds[n / 2]) / 2;
  return s;
}

std::optional<std::uint64_t> parse_size(std::string_view text) {
  std::uint64_t value = 0;
  std::size_t i = 0;
  constexpr std::uint64_t max = std::numeric_limits<std::uint64_t>::max();
  for (; i < text.size() && std::isdigit(static_cast<unsigned char>(text[i])) != 0; ++i) {
    const auto digit = static_cast<std::uint64_t>(text[i] - '0');
    if (value > (max - digit) / 10) return std::nullopt;
    value = value * 10 + digit;
  }
  if (i == 0) return std::nullopt;
  std::string_view suffix = text.substr(i);
  unsigned shift = 0;
  if (!suffix.empty()) {
    switch (std::toupper(static_cast<unsigned char>(suffix.front()))) {
      case 'K':
        shift = 10;
        break;
      case 'M':
        shift = 20;
        break;
      case 'G':
        shift = 30;
        break;
      case 'T':
        shift = 40;
        break;
      default:
        break;
    }
    if (shift != 0) {
      suffix.remove_prefix(1);
      if (!suffix.empty() && std::toupper(static_cast<unsigned char>(suffix.front())) == 'I')
        suffix.remove_prefix(1);
    }
    if (!suffix.empty() && std::toupper(static_cast<unsigned char>(suffix.front())) == 'B')
      suffix.remove_prefix(1);
    if (!suffix.empty()) return std::nullopt;
  }
  if (shift != 0 && value > (max >> shift)) return std::nullopt;
  return value << shift;
}

std::string format_size(std::uint64_t bytes) {
  static constexpr const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  std::size_t u = 0;
  while (u + 1 < std::size(units) && bytes != 0 && bytes % 1024 == 0) {
    bytes /= 1024;
    ++u;
  }
  return std::to_string(bytes) + " " + units[u];
}

std::string fixed(double value, int decimals) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, value);
  return buf;
}

}  // namespace sluice_bench
