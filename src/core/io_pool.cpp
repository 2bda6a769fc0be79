// The blocking-call thread pool behind the file and stdio streams.
#include "sluice/core/detail/io_pool.hpp"

#include <pthread.h>

#include <condition_variable>
#include <deque>
#include <mutex>

namespace sluice::detail {

struct io_pool::state {
  std::mutex mu;
  std::condition_variable cv;
  std::deque<std::unique_ptr<job>> jobs;
  bool stopping = false;
  bool drop_queued = false;  // detach mode: queued jobs are abandoned
};

io_pool::io_pool(std::size_t threads, on_destroy mode)
    : state_(std::make_shared<state>()), mode_(mode) {
  if (threads == 0) threads = 1;
  threads_.reserve(threads);
  for (std::size_t i = 0; i < threads; ++i) {
    // The thread holds the state too: a detached thread may outlive the pool object.
    threads_.emplace_back([s = state_] { worker(s); });
    pthread_setname_np(threads_.back().native_handle(), "sluice-io");
  }
}

io_pool::~io_pool() {
  std::deque<std::unique_ptr<job>> dropped;
  {
    std::lock_guard lk(state_->mu);
    state_->stopping = true;
    if (mode_ == on_destroy::detach) {
      state_->drop_queued = true;
      dropped.swap(state_->jobs);
    }
  }
  state_->cv.notify_all();
  for (auto& t : threads_) {
    if (mode_ == on_destroy::join)
      t.join();
    else
      t.detach();
  }
}

io_pool& io_pool::shared() {
  static io_pool pool(2);
  return pool;
}

void io_pool::enqueue(std::unique_ptr<job> j) {
  {
    std::lock_guard lk(state_->mu);
    state_->jobs.push_back(std::move(j));
  }
  state_->cv.notify_one();
}

void io_pool::worker(const std::shared_ptr<state>& s) {
  for (;;) {
    std::unique_ptr<job> j;
    {
      std::unique_lock lk(s->mu);
      s->cv.wait(lk, [&] { return s->stopping || !s->jobs.empty(); });
      if (s->jobs.empty() || s->drop_queued) return;
      j = std::move(s->jobs.front());
      s->jobs.pop_front();
    }
    j->run();
  }
}

}  // namespace sluice::detail
