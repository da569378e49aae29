// Periodic and delayed background tasks, run on an Executor.
//
// A Scheduler keeps the deadlines; the work itself runs on the Executor it
// is given, so background components (the metadata store's WAL checkpoint,
// the audit trail's refusal summaries, later monitoring and training) share
// a few threads instead of each starting its own. `Every(period, ...)` runs
// a task every period, the first time one period from now (fixed rate: the
// deadlines do not drift with the time a run takes); `After(delay, ...)`
// runs it once. Each returns a Handle that cancels the task when it is
// cancelled, reset or destroyed (RAII): a task lives exactly as long as its
// Handle, so an owner that holds the Handle next to what the task touches
// cannot be called back after it is gone.
//
// Guarantees:
// - A periodic task never runs twice at once. A tick that comes while the
//   previous run is still going is skipped (counted in Stats::skipped), not
//   queued: the next run starts at the next tick after the slow one ends.
//   Skipping, not coalescing, because every periodic task here checks what
//   there is to do when it runs (a checkpoint copies the whole WAL, a flush
//   writes every pending summary), so a second run right after a slow one
//   would find little to do and only take an executor thread.
// - What a task throws is logged and counted (Stats::failures); the task
//   keeps its schedule.
// - A Handle's Waker brings the next run forward, for work that becomes
//   due between ticks; it never doubles a run queued or under way.
// - A run the Executor refuses (its queue is full, or it is stopping) is
//   logged once per task and counted (Stats::refused); a periodic task tries
//   again at its next tick, a delayed one after Options::retry_delay.
// - Cancel() and Stop() return after a run under way has ended (unless
//   called from within that run, which they then do not wait for), and no
//   run starts after they return. A run still queued in the Executor is
//   dropped when its turn comes.
//
// Deadlines are kept by one timer thread waiting on a steady-clock condition
// variable, not by Asio timers: core does not depend on Boost, the work must
// run on the Executor rather than on the thread that waits, and an
// io_context would need a thread of its own all the same.
//
// Thread-safe. The Executor must outlive the Scheduler; a Handle may outlive
// both (it then cancels nothing). Stop() is idempotent; the destructor calls
// it.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "core/executor.h"

namespace slipway::core {

class Scheduler {
 public:
  struct Options {
    std::string name = "scheduler";  // in log lines, and the timer thread's name
    // When the Executor refuses a delayed task's run, it is tried again
    // after this long.
    std::chrono::milliseconds retry_delay{100};
  };

  struct Stats {
    int64_t runs = 0;      // runs that ended, failed ones included
    int64_t failures = 0;  // runs that threw
    int64_t skipped = 0;   // ticks of a periodic task that came while it ran
    int64_t refused = 0;   // runs the Executor did not take
  };

  // Defined in scheduler.cc.
  struct State;
  struct Task;

  // Cancels its task on destruction. Move-only; a default-constructed or
  // moved-from Handle holds no task. One Handle is used by one thread at a
  // time (its owner); different Handles may be used concurrently. Cancel
  // waits for a run under way, so a task must not block on something the
  // thread that cancels it holds.
  class Handle {
   public:
    Handle() = default;
    ~Handle() { Cancel(); }
    Handle(Handle&& other) noexcept = default;
    Handle& operator=(Handle&& other) noexcept;
    Handle(const Handle&) = delete;
    Handle& operator=(const Handle&) = delete;

    // No run starts after this returns, and a run under way has ended
    // (unless Cancel is called from within it). Idempotent.
    void Cancel();
    // Whether the task may still run: false once cancelled, once a delayed
    // task has run, and once the Scheduler has stopped.
    bool active() const;

    // A function that brings the task's next run forward to now, for work
    // that becomes due before its tick (the metadata store's WAL passing its
    // checkpoint threshold). While a run is queued or under way it does
    // nothing: runs never overlap, and the task looks for work when it runs.
    // A periodic task's later ticks keep their times. Cheap, callable from
    // any thread, and a no-op once the task is cancelled or the Scheduler
    // gone. Empty for a Handle without a task.
    std::function<void()> Waker() const;

   private:
    friend class Scheduler;
    Handle(std::shared_ptr<State> state, std::shared_ptr<Task> task)
        : state_(std::move(state)), task_(std::move(task)) {}

    std::shared_ptr<State> state_;
    std::shared_ptr<Task> task_;
  };

  explicit Scheduler(Executor& executor) : Scheduler(executor, Options()) {}
  Scheduler(Executor& executor, Options options);
  ~Scheduler();
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  // Runs `work` every `period` (more than zero), the first time one period
  // from now. `name` appears in the log lines about the task. After Stop(),
  // returns a Handle that is not active and `work` never runs.
  Handle Every(std::chrono::milliseconds period, std::string name, std::function<void()> work);
  // Runs `work` once, `delay` from now (zero or less: as soon as possible).
  Handle After(std::chrono::milliseconds delay, std::string name, std::function<void()> work);

  // Cancels every task, waits for the runs under way and ends the timer
  // thread. Idempotent; from within a task it waits for the other runs only.
  void Stop();

  Stats stats() const;

 private:
  Handle Schedule(std::chrono::steady_clock::duration first,
                  std::chrono::steady_clock::duration period, std::string name,
                  std::function<void()> work);

  std::shared_ptr<State> state_;
};

}  // namespace slipway::core
