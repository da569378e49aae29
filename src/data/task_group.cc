#include "data/task_group.h"

#include <utility>

namespace slipway::data {

TaskGroup::TaskGroup(core::Executor* executor, int max_helpers)
    : state_(std::make_shared<State>()) {
  state_->executor = executor;
  state_->max_helpers = max_helpers;
}

TaskGroup::~TaskGroup() {
  WaitUntil([this] { return state_->queue.empty() && state_->running == 0; });
}

void TaskGroup::Add(std::function<void()> item) {
  std::unique_lock lock(state_->mu);
  state_->queue.push_back(std::move(item));
  PostHelper(state_, lock);
  state_->changed.notify_all();
}

void TaskGroup::WaitUntil(const std::function<bool()>& done) {
  std::unique_lock lock(state_->mu);
  while (!done()) {
    if (!state_->queue.empty()) {
      RunOne(*state_, lock);
    } else {
      state_->changed.wait(lock);
    }
  }
}

void TaskGroup::Wait() {
  WaitUntil([this] { return state_->queue.empty() && state_->running == 0; });
  std::exception_ptr error;
  {
    std::lock_guard lock(state_->mu);
    error = std::exchange(state_->error, nullptr);
  }
  if (error) std::rethrow_exception(error);
}

void TaskGroup::PostHelper(const std::shared_ptr<State>& state, std::unique_lock<std::mutex>&) {
  if (state->executor == nullptr || state->helpers >= state->max_helpers) return;
  ++state->helpers;
  // A full (or stopping) executor refuses: the item waits for the caller.
  if (!state->executor->TrySubmit([state] { Help(state); })) --state->helpers;
}

void TaskGroup::Help(const std::shared_ptr<State>& state) {
  std::unique_lock lock(state->mu);
  if (!state->queue.empty()) RunOne(*state, lock);
  --state->helpers;
  // One item per turn: the rest go back in line behind the executor's
  // other work, so a group with a long stream of items does not keep a
  // thread from the others.
  if (!state->queue.empty()) PostHelper(state, lock);
}

void TaskGroup::RunOne(State& state, std::unique_lock<std::mutex>& lock) {
  std::function<void()> item = std::move(state.queue.front());
  state.queue.pop_front();
  ++state.running;
  lock.unlock();
  std::exception_ptr error;
  try {
    item();
  } catch (...) {
    error = std::current_exception();
  }
  item = nullptr;  // what it holds goes before the waiters hear it ended
  lock.lock();
  if (error && !state.error) state.error = error;
  --state.running;
  state.changed.notify_all();
}

}  // namespace slipway::data
