// sluice/compose/run_pipeline.hpp: run_pipeline(factory), a whole program's one pipeline in one
// call (what `await pipeline(...)` from Node's stream/promises is to a script).
//
// pipeline() (pipeline.hpp) needs a loop, stages built on it, a callback and a run of the loop.
// A program that is just one pipeline wants none of that: run_pipeline() makes an io_context and
// an asio_loop on it, asks the factory for the stages, runs the pipeline to completion and
// returns its pipeline_error, whose message() names the failing stage and its cause:
//
//   const auto err = sluice::run_pipeline([&](sluice::loop& loop) {
//     return std::tuple{sluice::make_file_reader(loop, "in"), sluice::make_gzip(loop),
//                       sluice::make_file_writer(loop, "in.gz")};
//   });
//   if (err) std::fprintf(stderr, "%s\n", err.message().c_str());
//
// Use pipeline() or async_pipeline() instead when a program runs more than one pipeline, or
// other work, on its loop.
#pragma once

#include <boost/asio/io_context.hpp>
#include <concepts>
#include <cstddef>
#include <functional>
#include <tuple>
#include <type_traits>
#include <utility>

#include "sluice/compose/pipeline.hpp"
#include "sluice/compose/runtime_pipeline.hpp"
#include "sluice/core/asio_loop.hpp"
#include "sluice/core/error.hpp"

namespace sluice {

namespace detail {

template <class R>
concept tuple_like = requires {
  std::tuple_size<std::remove_cvref_t<R>>::value;
};

}  // namespace detail

/// Runs one pipeline on a loop of its own, to completion, and returns how it ended.
///
/// `make_stages(loop)` is called once with an asio_loop over a new io_context; it returns the
/// stages, either as a std::tuple (or std::pair) of std::shared_ptr stages, checked at compile
/// time as pipeline() checks them, or as a std::vector of pipeline_stage (runtime_pipeline.hpp).
/// The io_context is run on the calling thread until every stage has reported; the stages are
/// released before this returns. The result is empty (false) on success; otherwise its code,
/// stage index, stage name and message() say what failed ("stage 1 (file_reader): open 'x':
/// No such file or directory"). If the loop runs out of work before the pipeline completes (a
/// stage that waits for something that never comes), the pipeline is aborted (every stage
/// destroyed) and the result is errc::premature_close.
/// Exceptions from the factory, or from pipeline()'s setup, propagate (the stages are destroyed
/// first).
template <class Factory>
requires std::invocable<Factory&, asio_loop&>
[[nodiscard]] pipeline_error run_pipeline(Factory&& make_stages) {
  boost::asio::io_context io;
  asio_loop loop(io);
  pipeline_error result;
  bool done = false;
  auto on_done = [&result, &done](const pipeline_error& e) {
    result = e;
    done = true;
  };
  pipeline_handle handle;
  {
    // Only the pipeline holds the stages once it runs: it releases them as it completes.
    auto stages = std::invoke(make_stages, loop);
    if constexpr (detail::tuple_like<decltype(stages)>)
      handle = std::apply([&](auto&... s) { return pipeline(s..., on_done); }, stages);
    else
      handle = pipeline(std::move(stages), on_done);
  }
  io.run();
  if (!done) {
    // Stuck: tear the stages down (on this loop, while it still exists), then report it.
    handle.abort();
    io.restart();
    io.run();
    result = pipeline_error{};
    result.code = make_error_code(errc::premature_close);
    result.detail = "run_pipeline: the loop ran out of work before the pipeline completed";
  }
  return result;
}

}  // namespace sluice
