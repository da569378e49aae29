// Takes every thread of a core::Executor until Release(), for tests that
// show work on that executor still finishes when it has no thread to give
// (the data pipeline's TaskGroup: the caller then does the work).
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <future>
#include <mutex>

#include "core/executor.h"

namespace slipway::test_util {

class ExecutorBlocker {
 public:
  explicit ExecutorBlocker(core::Executor& executor) {
    for (int i = 0; i < executor.threads(); ++i) {
      EXPECT_TRUE(executor.TrySubmit([this] {
        std::unique_lock lock(mu_);
        ++taken_;
        changed_.notify_all();
        changed_.wait(lock, [this] { return released_; });
        ++left_;
        changed_.notify_all();
      }));
    }
    std::unique_lock lock(mu_);
    changed_.wait(lock, [&] { return taken_ == executor.threads(); });
  }
  // Waits until every blocking task has left its wait: a task still waking
  // up would otherwise lock a mutex this destructor has destroyed.
  ~ExecutorBlocker() {
    Release();
    std::unique_lock lock(mu_);
    changed_.wait(lock, [this] { return left_ == taken_; });
  }
  ExecutorBlocker(const ExecutorBlocker&) = delete;
  ExecutorBlocker& operator=(const ExecutorBlocker&) = delete;

  void Release() {
    std::lock_guard lock(mu_);
    released_ = true;
    changed_.notify_all();
  }

 private:
  std::mutex mu_;  // guards taken_, left_ and released_
  std::condition_variable changed_;
  int taken_ = 0;
  int left_ = 0;
  bool released_ = false;
};

// Whether `future` is ready within `seconds`: a test of "no deadlock" waits
// this long, then frees what blocks so it never hangs either way.
template <typename T>
bool ReadyWithin(std::future<T>& future, int seconds) {
  return future.wait_for(std::chrono::seconds(seconds)) == std::future_status::ready;
}

}  // namespace slipway::test_util
