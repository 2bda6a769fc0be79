// tools/sluice/chain.hpp: runs a chain of byte stages whose length is known only at run time.
//
// `sluice run` builds its stages from an expression, so it cannot use the variadic pipeline();
// byte_chain does the same job for a vector: it pipes stage i into stage i + 1, and reports
// exactly once, on a later tick, either success (the last stage finished) or the first failure
// with the index and name of the stage that failed. On failure every other stage is destroyed
// with the same error (an atomic file writer then removes its temporary file).
//
// Two ways to end early without a failure: stop_before(i) (what `head` asks for once it has
// enough: stages 0..i-1 are destroyed quietly and stage i is ended), and a failure that the
// caller classifies as quiet (EPIPE on stdout), which still tears everything down.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <system_error>
#include <vector>

#include "sluice/buffer.hpp"
#include "sluice/readable.hpp"
#include "sluice/writable.hpp"

namespace sluice::cli {

/// One stage: the stream, its byte sides (null where it has none) and a name for messages.
struct chain_stage {
  std::shared_ptr<stream> owner;
  readable<buffer>* out = nullptr;  ///< null for the last stage (a sink)
  writable<buffer>* in = nullptr;   ///< null for the first stage (a source)
  std::string name;

  /// A source (readable only).
  template <class R>
  static chain_stage source(std::shared_ptr<R> r, std::string name) {
    return {r, r.get(), nullptr, std::move(name)};
  }
  /// A transform or duplex in the middle.
  template <class D>
  static chain_stage middle(std::shared_ptr<D> d, std::string name) {
    return {d, d.get(), d.get(), std::move(name)};
  }
  /// A sink (writable only).
  template <class W>
  static chain_stage sink(std::shared_ptr<W> w, std::string name) {
    return {w, nullptr, w.get(), std::move(name)};
  }
};

/// How a chain ended.
struct chain_result {
  std::error_code code;    ///< empty on success
  std::size_t stage = 0;   ///< the failing stage's index (0 = the source)
  std::string stage_name;  ///< its name ("gunzip")
  std::string detail;      ///< the stream's error_message() ("gunzip at input byte 12: ...")
  /// "stage 1 (gunzip): <detail>", or "" on success.
  [[nodiscard]] std::string message() const;
  explicit operator bool() const noexcept { return static_cast<bool>(code); }
};

class byte_chain : public std::enable_shared_from_this<byte_chain> {
 public:
  using done_fn = std::function<void(const chain_result&)>;

  /// Needs at least two stages: a source first and a sink last.
  byte_chain(std::vector<chain_stage> stages, done_fn done);

  /// Connects the stages and starts the data flowing. The caller keeps the chain alive (hold
  /// the shared_ptr until the loop has run out of work); the stages refer to it weakly.
  void start();
  /// Ends the chain early without an error: stages before `index` are unpiped and destroyed,
  /// stage `index` is ended, and the rest finish normally.
  void stop_before(std::size_t index);
  /// Fails the chain with `ec` (as if stage `index` had failed): everything is destroyed.
  void abort(std::error_code ec, std::size_t index = 0);

  [[nodiscard]] const std::vector<chain_stage>& stages() const noexcept { return stages_; }
  [[nodiscard]] bool done() const noexcept { return done_called_; }

 private:
  void on_stage_error(std::size_t i, std::error_code ec);
  void on_stage_close(std::size_t i);
  void fail(chain_result r);
  void finish(chain_result r);

  std::vector<chain_stage> stages_;
  done_fn done_;
  std::size_t stopped_before_ = 0;  // stages [0, stopped_before_) were stopped on purpose
  bool failed_ = false;
  bool done_called_ = false;
};

}  // namespace sluice::cli
