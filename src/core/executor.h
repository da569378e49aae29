// A fixed pool of threads that runs submitted work, with a bounded queue.
//
// Executor is the one place background and request work gets threads from:
// the HTTP server's handlers run on one, and background components (the WAL
// checkpointer, monitoring, training) are to share it rather than start
// threads of their own. Work is run in the order submitted; a full queue
// refuses new work (TrySubmit returns false) instead of growing without
// bound, so a caller can answer "busy" (503) rather than run out of memory.
//
// Thread-safe. Stop() runs what is already queued, then joins the threads;
// work submitted after Stop() is refused. The destructor calls Stop().
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace slipway::core {

class Executor {
 public:
  struct Options {
    std::string name = "worker";  // thread names, as `top -H` shows them (15 chars at most)
    int threads = 4;
    size_t max_queued = 4096;  // work waiting for a thread; TrySubmit refuses beyond
  };

  explicit Executor(Options options);
  ~Executor();
  Executor(const Executor&) = delete;
  Executor& operator=(const Executor&) = delete;

  // Queues `work`; false (and `work` dropped) when the queue is full or the
  // executor is stopping. `work` must not throw: it is caught and logged.
  bool TrySubmit(std::function<void()> work);

  // Runs what is queued, then joins every thread. Idempotent.
  void Stop();

  int threads() const { return static_cast<int>(threads_.size()); }
  size_t queued() const;

 private:
  void Loop();

  Options options_;
  mutable std::mutex mu_;  // guards queue_ and stopping_
  std::condition_variable ready_;
  std::deque<std::function<void()>> queue_;
  bool stopping_ = false;
  std::vector<std::thread> threads_;  // fixed after construction
};

}  // namespace slipway::core
