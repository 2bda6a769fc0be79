// pipeline(): the type-erased state behind it, its error message, default stage names.
#include "sluice/compose/pipeline.hpp"

#include <cxxabi.h>

#include <cstdlib>
#include <string>
#include <string_view>

namespace sluice {

std::string pipeline_error::message() const {
  if (!code) return {};
  std::string d = detail.empty() ? code.message() : detail;
  if (stage == 0) return d;
  return "stage " + std::to_string(stage) + " (" + stage_name + "): " + d;
}

namespace detail {

std::string chunk_type_name(const std::type_info& t) {
  if (t == typeid(buffer)) return "buffer";
  if (t == typeid(std::string)) return "string";
  int status = 0;
  char* raw = abi::__cxa_demangle(t.name(), nullptr, nullptr, &status);
  std::string name = status == 0 && raw ? raw : t.name();
  std::free(raw);  // NOLINT(cppcoreguidelines-no-malloc): __cxa_demangle allocates with malloc
  return name;
}

void pipeline_state::listen_for_errors(std::size_t i) {
  std::weak_ptr<pipeline_state> w = weak_from_this();
  stages_[i].error_id = stages_[i].s->on_error([w, i](std::error_code ec) {
    if (auto st = w.lock()) st->on_stage_error(i, ec);
  });
}

std::function<void(std::error_code)> pipeline_state::done_callback(std::size_t i) {
  return [w = weak_from_this(), i](std::error_code ec) {
    if (auto st = w.lock()) st->on_stage_done(i, ec);
  };
}

void pipeline_state::stop_before(std::size_t stage) {
  if (!running() || error_.code || destroying_) return;
  if (stage < 2 || stage > stages_.size() || stage - 1 <= stopped_before_) return;
  const std::size_t first = stopped_before_, at = stage - 1;
  stopped_before_ = at;
  // What is upstream of `at` stops quietly: no watch or error listener of ours is left on it
  // when it is destroyed, and it counts as done (cleanly, so nothing destroys it again).
  if (stages_[at - 1].unpipe) stages_[at - 1].unpipe();
  for (std::size_t i = first; i < at; ++i) {
    stage_entry& e = stages_[i];
    detach(e);
    if (!e.done) {
      e.done = true;
      e.clean = true;
      ++done_count_;
    }
  }
  // stages_ keeps them alive while they tear down (nothing clears it before `at` completes).
  for (std::size_t i = first; i < at; ++i)
    if (!stages_[i].s->destroyed()) stages_[i].s->destroy();
  if (stages_[at].end) stages_[at].end();
  if (done_count_ == stages_.size() && running()) complete();
}

void pipeline_state::on_stage_error(std::size_t i, std::error_code ec) {
  // An 'error' after the stage's watch completed (Node's onError in pipeline.js); errors
  // reported through the watch are recorded there first, so this adds nothing for them.
  if (!running() || ec == errc::premature_close || ec == errc::aborted) return;
  record(i, ec);
  if (error_) destroy_all();
}

void pipeline_state::on_stage_done(std::size_t i, std::error_code ec) {
  stage_entry& e = stages_[i];
  if (e.done) return;
  e.done = true;
  e.clean = !ec;
  ++done_count_;
  if (ec) {
    record(i, ec);
    destroy_all();
  } else if (i + 1 < stages_.size() && e.s && e.s->destroyed()) {
    // A stage destroyed after its last push but before its 'end' was emitted counts as complete
    // (finished() says so, as Node's eos does: everything it pushed was handed on), but its
    // 'end', which the pipe turns into the next stage's end(), never comes: end the next stage
    // here, or the pipeline waits for ever. (Found by the randomized pipeline test, seeds 6679,
    // 20425, 27317. After a normal 'end' the next stage is already ending: nothing happens.)
    stage_entry& next = stages_[i + 1];
    if (!next.done && next.end) next.end();
  }
  if (done_count_ == stages_.size()) complete();
}

void pipeline_state::record(std::size_t i, std::error_code ec) {
  // The first real error wins; a premature close only holds the place until one comes.
  if (!ec) return;
  if (error_.code && !(error_.code == errc::premature_close && ec != errc::premature_close)) return;
  const stage_entry& e = stages_[i];
  error_.code = ec;
  error_.stage = i + 1;
  error_.stage_name = e.name;
  error_.detail = e.s && e.s->errored() == ec ? e.s->error_message() : ec.message();
}

void pipeline_state::destroy_all() {
  if (destroying_) return;  // a stage's destroy may report synchronously into record()
  destroying_ = true;
  for (auto& e : stages_) {
    if (!e.s || e.clean || e.s->destroyed()) continue;
    e.s->destroy(error_.code);
  }
  destroying_ = false;
}

void pipeline_state::abort(std::error_code ec) {
  if (!running()) return;
  if (!error_.code || error_.code == errc::premature_close) error_ = pipeline_error{ec, 0, {}, {}};
  destroy_all();
}

void pipeline_state::set_stop(std::stop_token token) {
  std::weak_ptr<pipeline_state> w = weak_from_this();
  if (token.stop_requested()) {  // already stopped: abort before any data moves
    abort(make_error_code(errc::aborted));
    return;
  }
  // request_stop() may run on any thread, and runs the callback there: the abort itself is
  // posted to the loop's thread (loop::post is the loop's one thread-safe entry point).
  stop_.emplace(std::move(token), std::function<void()>([w, l = loop_] {
                  l->post([w] {
                    if (auto s = w.lock()) s->abort(make_error_code(errc::aborted));
                  });
                }));
}

void pipeline_state::detach(stage_entry& e) noexcept {
  e.watch.cancel();
  if (e.error_id && e.s) e.s->off(e.error_id);
  e.error_id = {};
}

void pipeline_state::remove_listeners() noexcept {
  for (auto& e : stages_) detach(e);
}

std::size_t pipeline_state::listener_count() const noexcept {
  std::size_t n = 0;
  for (const auto& e : stages_) n += (e.error_id ? 1 : 0) + (e.watch.active() ? 1 : 0);
  return n;
}

void pipeline_state::complete() {
  remove_listeners();
  // Release the stop callback, the stages and ourselves before the callback runs, so that a
  // user who drops their own references sees every stream freed by then.
  auto keep = std::move(self_);
  stop_.reset();
  stages_.clear();
  loop_->defer([cb = std::move(cb_), err = std::move(error_)] {
    if (cb) cb(err);
  });
}

void pipeline_state::abandon() noexcept {
  remove_listeners();
  for (auto& e : stages_)
    if (e.s && !e.s->destroyed()) e.s->destroy(make_error_code(errc::aborted));
  stop_.reset();
  stages_.clear();
  cb_ = nullptr;
  self_.reset();
}

void pipeline_state::fail_setup(std::size_t stage, std::string what) {
  error_ = pipeline_error{make_error_code(errc::invalid_argument), stage, {}, std::move(what)};
  error_.stage_name = stages_[stage - 1].name;
  for (auto& e : stages_)
    if (e.s && !e.s->destroyed()) e.s->destroy(error_.code);
  complete();
}

}  // namespace detail
}  // namespace sluice
