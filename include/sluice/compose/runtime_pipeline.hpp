// sluice/compose/runtime_pipeline.hpp: pipeline() over a std::vector of stages, for chains whose
// length and stages are known only at run time (built from a configuration file or a command
// line, as `sluice run` does).
//
//   std::vector<sluice::byte_stage> stages;
//   stages.emplace_back(sluice::make_file_reader(loop, in));
//   for (const auto& step : config) stages.emplace_back(make_codec(loop, step), step.name);
//   stages.emplace_back(sluice::make_file_writer(loop, out));
//   sluice::pipeline(std::move(stages), [](const sluice::pipeline_error& e) { ... });
//
// pipeline_stage<T> holds one stream type-erased: any readable<T>, writable<T>, duplex<T, T> or
// transform<T, T> (or a class derived from one), by shared_ptr, with its name for errors.
// byte_stage is pipeline_stage<buffer>; object stages of one type T work the same way.
//
// The pipeline runs on the same state as the variadic pipeline() of pipeline.hpp: the same
// completion (once, on a later tick, after every stage reported), the same teardown (every
// stage not yet complete destroyed once with the first real error), the same pipeline_error
// and pipeline_handle, including stop_before() for an early end without an error. What the
// compiler checks for the variadic form is checked when the pipeline starts: a stage that
// cannot stand where it stands fails the pipeline with errc::invalid_argument naming it.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <stop_token>
#include <string>
#include <system_error>
#include <type_traits>
#include <utility>
#include <vector>

#include "sluice/compose/finished.hpp"
#include "sluice/compose/pipeline.hpp"
#include "sluice/core/buffer.hpp"
#include "sluice/core/error.hpp"

namespace sluice {

/// One stage of a runtime pipeline carrying T: a stream held by shared_ptr, with the sides it
/// has of type T (readable_side(), writable_side(); null where it has none) and a name for
/// pipeline_error. Copyable; copies share the stream.
template <class T>
class pipeline_stage {
 public:
  /// Takes any stream with a readable<T> side, a writable<T> side or both. `name` is what
  /// pipeline_error::stage_name reports; empty: the stream's name() when the pipeline starts,
  /// else its type ("transform<buffer, buffer>"). A null `s` is accepted here and reported by
  /// pipeline() (errc::invalid_argument), as the variadic pipeline() does.
  template <class S>
  requires std::derived_from<S, stream> &&
      (std::is_same_v<detail::output_of<S>, T> || std::is_same_v<detail::input_of<S>, T>)
          pipeline_stage(std::shared_ptr<S> s, std::string name = {})  // NOLINT: implicit
      : stream_(s), name_(std::move(name)), type_name_(&detail::default_stage_name<S>) {
    if (!s) return;
    if constexpr (std::is_same_v<detail::output_of<S>, T>) out_ = s.get();
    if constexpr (std::is_same_v<detail::input_of<S>, T>) in_ = s.get();
    watch_ = [s](finished_options o, std::function<void(std::error_code)> cb) {
      return finished(s, o, std::move(cb));
    };
  }

  /// The stream (null if constructed from a null pointer).
  [[nodiscard]] const std::shared_ptr<stream>& get() const noexcept { return stream_; }
  /// Its readable<T> side: null for a stage that can only be the last.
  [[nodiscard]] readable<T>* readable_side() const noexcept { return out_; }
  /// Its writable<T> side: null for a stage that can only be the first.
  [[nodiscard]] writable<T>* writable_side() const noexcept { return in_; }
  /// The name pipeline_error reports for this stage.
  [[nodiscard]] std::string name() const {
    if (!name_.empty()) return name_;
    if (stream_ && !stream_->name().empty()) return stream_->name();
    return type_name_();
  }

 private:
  friend struct detail::pipeline_access;
  std::shared_ptr<stream> stream_;
  readable<T>* out_ = nullptr;
  writable<T>* in_ = nullptr;
  std::string name_;
  std::string (*type_name_)();  // "transform<buffer, buffer>", made only when a name is needed
  // Starts finished() on the stream with its real type (the sides of a duplex, a transform's
  // flush): the only part of a stage that needs the type it was made from.
  detail::pipeline_state::watch_fn watch_;
};

/// A stage of a byte pipeline (file readers and writers, codecs, stdio).
using byte_stage = pipeline_stage<buffer>;

namespace detail {

struct pipeline_access {
  static pipeline_handle handle(std::weak_ptr<pipeline_state> s) {
    return pipeline_handle(std::move(s));
  }

  // Why `stage` (0-based) of `n` cannot stand where it stands, or "" when it can.
  template <class T>
  static std::string misplaced(const pipeline_stage<T>& stage, std::size_t i, std::size_t n) {
    if (!stage.stream_) return "stage " + std::to_string(i + 1) + " is null";
    const bool first = i == 0, last = i + 1 == n;
    // pipeline_error::message() puts "stage N (name): " in front: the detail does not repeat it.
    if (!first && !stage.in_)
      return "no writable side of the pipeline's type: it can only be the first stage";
    if (!last && !stage.out_)
      return "no readable side of the pipeline's type: it can only be the last stage";
    return {};
  }

  template <class T>
  static pipeline_handle start(std::stop_token stop, std::vector<pipeline_stage<T>> stages,
                               std::function<void(const pipeline_error&)> cb) {
    const std::size_t n = stages.size();
    loop* l = nullptr;
    for (const auto& s : stages)
      if (s.stream_) {
        l = &s.stream_->get_loop();
        break;
      }
    if (n < 2 || !l)
      throw std::system_error(
          make_error_code(errc::invalid_argument),
          n < 2 ? "pipeline: needs at least two stages" : "pipeline: every stage is null");
    auto state = std::make_shared<pipeline_state>(*l, std::move(cb));
    for (const auto& s : stages) state->add_stage(s.stream_, s.name());
    for (std::size_t i = 0; i < n; ++i) {
      std::string why = misplaced(stages[i], i, n);
      if (why.empty()) continue;
      state->fail_setup(i + 1, std::move(why));
      return handle(state);
    }
    try {
      state->start();
      for (std::size_t i = 0; i < n; ++i) {
        const pipeline_stage<T>& s = stages[i];
        const finished_options opts{.readable = i + 1 < n, .writable = i > 0};
        std::function<void()> unpipe, end;
        if (s.out_) unpipe = [p = s.out_] { p->unpipe(); };
        if (s.in_) end = pipeline_state::end_hook<T>(s.in_);
        state->watch(i, s.watch_, opts, std::move(unpipe), std::move(end));
      }
      // Pipe each stage into the next; each destination is held through its own stream.
      for (std::size_t i = 0; i + 1 < n; ++i)
        stages[i].out_->pipe(
            std::shared_ptr<writable<T>>(stages[i + 1].stream_, stages[i + 1].in_));
      if (stop.stop_possible()) state->set_stop(std::move(stop));
    } catch (...) {
      state->abandon();
      throw;
    }
    return handle(state);
  }
};

}  // namespace detail

/// pipeline(stages, cb) and pipeline(stop_token, stages, cb): the stages of a vector, in order.
///
/// Pipes stages[0] into stages[1], ..., and calls `cb` exactly once, on a later tick, as the
/// variadic pipeline() does (pipeline.hpp): success after every stage completed, or the first
/// real error with the failing stage (1-based, pipeline_error::stage) once every stage has
/// reported; `cb` is invocable with (const pipeline_error&) or (std::error_code). The first
/// stage needs a readable<T> side, the last a writable<T> side, every other stage both: a stage
/// that is null or lacks a side it needs destroys every stage and reports
/// errc::invalid_argument with its index and what is wrong. Fewer than two stages, or only null
/// ones, throw std::system_error(errc::invalid_argument) (there is no loop to report on). The
/// returned handle aborts the pipeline or ends it early (pipeline_handle::stop_before).
template <class T, class F>
pipeline_handle pipeline(std::stop_token stop, std::vector<pipeline_stage<T>> stages, F&& cb) {
  return detail::pipeline_access::start(std::move(stop), std::move(stages),
                                        detail::make_pipeline_callback(std::forward<F>(cb)));
}

template <class T, class F>
pipeline_handle pipeline(std::vector<pipeline_stage<T>> stages, F&& cb) {
  return pipeline(std::stop_token{}, std::move(stages), std::forward<F>(cb));
}

}  // namespace sluice
