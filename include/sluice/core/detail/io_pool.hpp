// sluice/core/detail/io_pool.hpp: threads that run blocking system calls for the I/O streams.
//
// File streams must never block their loop, and Linux offers no portable asynchronous file I/O
// short of io_uring (not among our dependencies; docs/files.md has the reasoning). So open(2),
// pread(2), pwritev(2), fsync(2), rename(2) and close(2) run on a small pool of threads, and
// their results come back to the stream's loop with loop::post(). While a call is in flight the
// loop counts it as outstanding work (loop::work_guard), so it is not considered idle.
//
//   - `io_pool`: a fixed set of threads taking jobs from one FIFO. `io_pool::shared()` is the
//     process-wide pool the file streams use (2 threads, created on first use, joined at exit).
//     Streams over pipes and terminals (sluice/io/stdio.hpp) own a one-thread pool instead, because
//     their reads and writes may block for ever; such a pool is detached, not joined, when it goes.
//   - `run_blocking()`: runs a function on a pool and hands its result to a callback on the loop.
#pragma once

#include <cstddef>
#include <memory>
#include <mutex>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include "sluice/core/loop.hpp"

namespace sluice::detail {

/// A fixed set of threads running jobs in FIFO order (with more than one thread, jobs may finish
/// out of order). Thread-safe.
class io_pool {
 public:
  /// What the destructor does with the threads.
  enum class on_destroy {
    join,    ///< run every queued job, then join the threads
    detach,  ///< drop queued jobs and detach: a thread blocked in a system call ends when it
             ///< returns
  };

  explicit io_pool(std::size_t threads, on_destroy mode = on_destroy::join);
  io_pool(const io_pool&) = delete;
  io_pool& operator=(const io_pool&) = delete;
  ~io_pool();

  /// The process-wide pool for file system calls: 2 threads, created on first use, joined when
  /// the program exits (after main returns).
  [[nodiscard]] static io_pool& shared();

  /// Queues `fn` (callable as void(), may be move-only) to run on one of the threads.
  template <class F>
  void submit(F&& fn) {
    struct impl final : job {
      explicit impl(F&& f) : f_(std::forward<F>(f)) {}
      void run() override { f_(); }
      std::decay_t<F> f_;
    };
    enqueue(std::make_unique<impl>(std::forward<F>(fn)));
  }

  [[nodiscard]] std::size_t thread_count() const noexcept { return threads_.size(); }

 private:
  struct job {
    virtual ~job() = default;
    virtual void run() = 0;
  };
  struct state;
  void enqueue(std::unique_ptr<job> j);
  static void worker(const std::shared_ptr<state>& s);

  std::shared_ptr<state> state_;
  std::vector<std::thread> threads_;
  on_destroy mode_;
};

/// Runs `work()` on `pool`, then `done(result)` on `l`'s thread (through loop::post), counting
/// as outstanding work on `l` in between. `done` and the result must be copyable (they travel as
/// a loop task); everything `done` captures is released on the loop thread. The loop must outlive
/// the call (loops wait for outstanding work when destroyed). `done` is never invoked from
/// within this function.
template <class Work, class Done>
void run_blocking(io_pool& pool, loop& l, Work work, Done done) {
  pool.submit(
      [&l, guard = loop::work_guard(l), work = std::move(work), done = std::move(done)]() mutable {
        auto result = work();
        l.post([done = std::move(done), result = std::move(result)]() mutable {
          done(std::move(result));
        });
        guard.reset();  // after the post: the loop never looks idle in between
      });
}

/// The way back to the loop for calls that may block for ever (a read from a terminal or a pipe):
/// shared by a stream and the jobs it submits, it lets the stream stop waiting. After abandon(),
/// a job still blocked in its call delivers nothing and never touches the loop again, so neither
/// the stream nor the loop has to wait for it. Thread-safe.
class loop_handoff {
 public:
  explicit loop_handoff(loop& l) : loop_(&l) {}

  /// Loop thread: a call is starting; it counts as outstanding work until deliver() or abandon().
  void begin() {
    std::lock_guard lk(mu_);
    if (loop_ != nullptr) guard_ = loop::work_guard(*loop_);
  }
  /// Any thread: posts `fn` to the loop unless abandoned, then ends the outstanding work. Returns
  /// false (and drops `fn` on the calling thread) if abandoned.
  bool deliver(task fn) {
    std::lock_guard lk(mu_);
    if (loop_ == nullptr) return false;
    loop_->post(std::move(fn));
    guard_.reset();
    return true;
  }
  /// Loop thread: delivers nothing from now on and ends the outstanding work now.
  void abandon() {
    std::lock_guard lk(mu_);
    loop_ = nullptr;
    guard_.reset();
  }

 private:
  std::mutex mu_;
  loop* loop_;
  loop::work_guard guard_;
};

}  // namespace sluice::detail
