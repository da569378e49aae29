#include "core/executor.h"

#include <pthread.h>
#include <spdlog/spdlog.h>

#include <exception>

namespace slipway::core {

Executor::Executor(Options options) : options_(std::move(options)) {
  int count = options_.threads > 0 ? options_.threads : 1;
  threads_.reserve(count);
  for (int i = 0; i < count; ++i) {
    threads_.emplace_back([this] { Loop(); });
    pthread_setname_np(threads_.back().native_handle(), options_.name.substr(0, 15).c_str());
  }
}

Executor::~Executor() { Stop(); }

bool Executor::TrySubmit(std::function<void()> work) {
  {
    std::lock_guard lock(mu_);
    if (stopping_ || queue_.size() >= options_.max_queued) return false;
    queue_.push_back(std::move(work));
  }
  ready_.notify_one();
  return true;
}

void Executor::Stop() {
  {
    std::lock_guard lock(mu_);
    if (stopping_ && threads_.empty()) return;
    stopping_ = true;
  }
  ready_.notify_all();
  for (std::thread& thread : threads_) {
    if (thread.joinable()) thread.join();
  }
  std::lock_guard lock(mu_);
  threads_.clear();
}

size_t Executor::queued() const {
  std::lock_guard lock(mu_);
  return queue_.size();
}

void Executor::Loop() {
  for (;;) {
    std::function<void()> work;
    {
      std::unique_lock lock(mu_);
      ready_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping, and nothing left to run
      work = std::move(queue_.front());
      queue_.pop_front();
    }
    try {
      work();
    } catch (const std::exception& error) {
      spdlog::error("{}: background work failed: {}", options_.name, error.what());
    } catch (...) {
      spdlog::error("{}: background work failed", options_.name);
    }
  }
}

}  // namespace slipway::core
