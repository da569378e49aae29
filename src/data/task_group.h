// Work one caller fans out over a shared executor, arranged so that no
// mix of callers on one bounded executor can deadlock.
//
// A TaskGroup keeps its items in a queue of its own. The executor gets only
// helpers (at most `max_helpers` of the group at once), each of which runs
// one queued item and then, if more are queued, queues itself again behind
// whatever else the executor has, so concurrent groups share its threads
// in turn. The caller runs items too: WaitUntil() and Wait() take queued
// items on the calling thread, and sleep only while every item left is
// already running on another thread.
//
// Why that cannot deadlock: a thread that waits in a group waits only for
// items that have started, never for one queued behind other work, and
// items never wait for a queued item (the rule for what may be an item).
// Every wait therefore ends once running work ends, whether the executor's
// threads are free, busy with other groups' long items, or themselves the
// callers waiting (a group may be waited on from an executor thread, and
// groups may nest: an item may own and wait on a group of its own). With
// no executor, or a full executor queue, the items simply run on the
// waiting thread.
//
// Items must not throw into the group: what one throws is kept (the first)
// and rethrown by Wait(). Add, WaitUntil and Wait are thread-safe (items may
// Add). The destructor runs or waits for every item (dropping their errors),
// so items may refer to the caller's stack and members declared before
// the group.
#pragma once

#include <condition_variable>
#include <deque>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>

#include "core/executor.h"

namespace slipway::data {

class TaskGroup {
 public:
  // `executor` may be null: the waiting thread then runs every item.
  TaskGroup(core::Executor* executor, int max_helpers);
  ~TaskGroup();
  TaskGroup(const TaskGroup&) = delete;
  TaskGroup& operator=(const TaskGroup&) = delete;

  void Add(std::function<void()> item);

  // Runs queued items on this thread until `done()` is true; while nothing
  // is queued, sleeps until an item is added or ends. `done` is called with
  // the group's lock held (after every item and Add), so it must not call
  // into the group; state that items change before they end is seen.
  void WaitUntil(const std::function<bool()>& done);

  // Runs or waits for every item added so far, then rethrows the first
  // error an item threw (once).
  void Wait();

 private:
  // Shared with the helpers queued in the executor, which may run after
  // the group is gone (they then find nothing to do).
  struct State {
    core::Executor* executor = nullptr;
    int max_helpers = 0;
    std::mutex mu;                    // guards everything below
    std::condition_variable changed;  // an item was added or ended
    std::deque<std::function<void()>> queue;
    int running = 0;  // items running, on any thread
    int helpers = 0;  // helpers queued in the executor or running
    std::exception_ptr error;
  };

  // Posts a helper if the group may have another; call with the lock held.
  static void PostHelper(const std::shared_ptr<State>& state, std::unique_lock<std::mutex>& lock);
  static void Help(const std::shared_ptr<State>& state);
  // Runs the first queued item; called with the lock held, returns with it.
  static void RunOne(State& state, std::unique_lock<std::mutex>& lock);

  std::shared_ptr<State> state_;
};

}  // namespace slipway::data
