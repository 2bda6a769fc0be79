// 31-metrics: a running pipeline's figures served for Prometheus.
//
// A source of 64 KiB chunks feeds a sink that takes 5 ms a chunk (about 12 MiB/s: the sink is
// the bottleneck, the source is held back). A sluice::monitor watches both stages; a
// sluice::metrics::registry exports it as pipeline "example", and sluice's own HTTP server
// serves /metrics (Prometheus text format 0.0.4) and /metrics.json.
//
//   example-31-metrics              runs 1.5 s, fetches its own /metrics, prints the lines about
//                                   the sink, and checks them
//   example-31-metrics PORT [SECS]  serves http://127.0.0.1:PORT/metrics for SECS seconds
//                                   (default 60), for a Prometheus server to scrape:
//                                     scrape_configs:
//                                       - job_name: sluice
//                                         static_configs: [{targets: ['127.0.0.1:PORT']}]
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <cstdio>
#include <memory>
#include <sluice/core/monitor.hpp>
#include <sluice/metrics.hpp>
#include <sstream>
#include <string>

int main(int argc, char** argv) {
  using namespace std::chrono_literals;
  const bool demo = argc == 1;
  boost::asio::io_context io;
  sluice::asio_loop loop(io);

  auto source = sluice::make_readable<sluice::buffer>(
      loop, {.name = "source", .read = [](sluice::readable<sluice::buffer>& r, std::size_t) {
               r.push(sluice::buffer(std::string(64 * 1024, 'x')));
             }});
  auto sink = sluice::make_writable<sluice::buffer>(
      loop, {.name = "slow sink", .write = [&loop](auto& w, sluice::buffer&&, auto cb) {
               loop.start_timer(5ms, [keep = w.shared_from_this(), cb] { cb(); });
             }});
  auto mon = sluice::monitor::create(loop);
  mon->watch_pipeline(source, sink);
  auto registry = std::make_shared<sluice::metrics::registry>();
  registry->add("example", mon);
  auto server = sluice::make_http_server(loop, {}, sluice::metrics::metrics_handler(registry));
  const auto port = demo ? 0 : std::stoi(argv[1]);
  if (server->listen("127.0.0.1", static_cast<std::uint16_t>(port))) {
    std::fprintf(stderr, "%s\n", server->error_message().c_str());
    return 1;
  }
  source->pipe(sink);
  const std::string url = "http://127.0.0.1:" + std::to_string(server->port()) + "/metrics";
  std::fprintf(stderr, "serving %s\n", url.c_str());

  // The end: stop the pipeline and the server, so io.run() returns.
  auto stop = [&] {
    source->destroy();
    sink->destroy();
    server->close();
  };
  if (!demo) {
    const auto secs = argc > 2 ? std::stoi(argv[2]) : 60;
    auto t = loop.start_timer(std::chrono::seconds(secs), stop);
    io.run();
    return 0;
  }

  // Self-check: after 1.5 s, GET our own /metrics and show the sink's lines.
  int status = 1;
  auto t = loop.start_timer(1500ms, [&] {
    sluice::http_fetch(loop, {.url = url}, [&](std::error_code ec, auto res) {
      if (ec) {
        std::fprintf(stderr, "GET %s: %s\n", url.c_str(), ec.message().c_str());
        return stop();
      }
      auto text = std::make_shared<std::string>();
      res->body()->on_data([text](sluice::buffer&& b) { text->append(b.view()); });
      res->body()->on_end([&, text] {
        std::istringstream in(*text);
        bool episodes = false;
        for (std::string line; std::getline(in, line);) {
          if (line.find("stage_name=\"slow sink\"") == std::string::npos) continue;
          std::printf("%s\n", line.c_str());
          if (line.rfind("sluice_stage_backpressure_episodes_total", 0) == 0 &&
              line.substr(line.rfind(' ') + 1) != "0")
            episodes = true;
        }
        // The sink held the source back: it went through backpressure episodes.
        status = episodes ? 0 : 1;
        stop();
      });
    });
  });
  io.run();
  return status;
}
