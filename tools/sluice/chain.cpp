// tools/sluice/chain.cpp: byte_chain.
#include "chain.hpp"

#include <cassert>

#include "sluice/error.hpp"

namespace sluice::cli {

std::string chain_result::message() const {
  if (!code) return {};
  std::string m = "stage " + std::to_string(stage) + " (" + stage_name + "): ";
  m += detail.empty() ? code.message() : detail;
  return m;
}

byte_chain::byte_chain(std::vector<chain_stage> stages, done_fn done)
    : stages_(std::move(stages)), done_(std::move(done)) {
  assert(stages_.size() >= 2);
  assert(stages_.front().out && stages_.back().in);
}

void byte_chain::start() {
  // The stages own the listeners and the chain owns the stages: the listeners hold the chain
  // weakly, so the caller's reference decides how long it lives.
  std::weak_ptr<byte_chain> weak = weak_from_this();
  for (std::size_t i = 0; i < stages_.size(); ++i) {
    stream& s = *stages_[i].owner;
    s.on_error([weak, i](std::error_code ec) {
      if (auto self = weak.lock()) self->on_stage_error(i, ec);
    });
    s.on_close([weak, i] {
      if (auto self = weak.lock()) self->on_stage_close(i);
    });
  }
  stages_.back().in->on_finish([weak] {
    if (auto self = weak.lock()) self->finish({});
  });
  for (std::size_t i = 0; i + 1 < stages_.size(); ++i) {
    auto dest = std::shared_ptr<writable<buffer>>(stages_[i + 1].owner, stages_[i + 1].in);
    stages_[i].out->pipe(dest);
  }
}

void byte_chain::stop_before(std::size_t index) {
  if (failed_ || done_called_ || index <= stopped_before_ || index >= stages_.size()) return;
  const std::size_t from = stopped_before_;
  stopped_before_ = index;
  stages_[index - 1].out->unpipe();
  for (std::size_t i = from; i < index; ++i) stages_[i].owner->destroy();
  stages_[index].in->end();
}

void byte_chain::abort(std::error_code ec, std::size_t index) {
  if (failed_ || done_called_) return;
  fail({ec, index, stages_[index].name, {}});
}

void byte_chain::on_stage_error(std::size_t i, std::error_code ec) {
  if (failed_ || done_called_) return;
  fail({ec, i, stages_[i].name, stages_[i].owner->error_message()});
}

void byte_chain::on_stage_close(std::size_t i) {
  if (failed_ || done_called_ || i < stopped_before_) return;
  const chain_stage& s = stages_[i];
  // A stage that closed before its work was done, without an error of its own (someone
  // destroyed it): the chain cannot complete.
  const bool out_done = !s.out || s.out->readable_ended();
  const bool in_done = !s.in || s.in->finished();
  if (!out_done || !in_done) fail({make_error_code(errc::premature_close), i, s.name, {}});
}

void byte_chain::fail(chain_result r) {
  failed_ = true;
  const std::error_code ec = r.code;
  for (auto& s : stages_) s.owner->destroy(ec);
  finish(std::move(r));
}

void byte_chain::finish(chain_result r) {
  if (done_called_) return;
  done_called_ = true;
  if (!done_) return;
  // Report on a later tick, once: the stages' own events of this tick have run by then.
  auto done = std::move(done_);
  done_ = nullptr;
  stages_.front().owner->get_loop().defer([done = std::move(done), r = std::move(r)] { done(r); });
}

}  // namespace sluice::cli
