#include "core/scheduler.h"

#include <pthread.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <condition_variable>
#include <exception>
#include <map>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "core/error.h"

namespace slipway::core {

using Clock = std::chrono::steady_clock;

struct Scheduler::Task {
  uint64_t id = 0;
  std::string name;
  Clock::duration period{};  // zero: run once
  // Read without the lock by the run under way only; moved out (released)
  // under the lock once the task is done and no run has started.
  std::function<void()> work;

  // Guarded by State::mu.
  std::multimap<Clock::time_point, std::shared_ptr<Task>>::iterator slot;  // while armed
  bool armed = false;      // waiting in State::timers
  bool queued = false;     // handed to the Executor, not started yet
  bool started = false;    // work() under way
  std::thread::id runner;  // the thread running work(), while started
  bool done = false;       // cancelled, or a delayed task that ran: never runs again
  // Set when a Waker brought a periodic task's run forward: its next tick,
  // kept instead of one period after the early run.
  std::optional<Clock::time_point> resume_at;
  bool refusal_logged = false;
};

struct Scheduler::State {
  Executor* executor = nullptr;
  Options options;

  mutable std::mutex mu;             // guards what is below and the guarded fields of every Task
  std::condition_variable wake;      // the timer thread: a new deadline, or stopping
  std::condition_variable finished;  // a run has ended
  std::multimap<Clock::time_point, std::shared_ptr<Task>> timers;  // armed tasks by deadline
  std::map<uint64_t, std::shared_ptr<Task>> live;                  // tasks not done
  uint64_t next_id = 1;
  int started = 0;  // runs under way
  bool stopping = false;
  Stats stats;

  std::mutex join_mu;  // guards timer: one Stop joins it
  std::thread timer;
};

namespace {

// The scheduler whose task this thread is running, if any: Stop() called
// from a task must not wait for that task.
thread_local const Scheduler::State* current_state = nullptr;

}  // namespace

// Helpers that need the private nested types; they run with State::mu held.
class SchedulerInternals {
 public:
  using State = Scheduler::State;
  using Task = Scheduler::Task;

  static void Arm(State& s, const std::shared_ptr<Task>& task, Clock::time_point when) {
    task->slot = s.timers.emplace(when, task);
    task->armed = true;
  }

  // Marks `task` done: it leaves the timers and the live tasks.
  static void Finish(State& s, Task& task) {
    task.done = true;
    if (task.armed) {
      s.timers.erase(task.slot);
      task.armed = false;
    }
    s.live.erase(task.id);
  }

  // A task's deadline has come (it is no longer armed): re-arm a periodic
  // task for its next tick, and hand a run to the Executor unless one is
  // under way.
  static void Dispatch(const std::shared_ptr<State>& state, const std::shared_ptr<Task>& task,
                       Clock::time_point due, Clock::time_point now) {
    State& s = *state;
    if (task->done) return;
    if (task->period > Clock::duration::zero()) {
      Clock::time_point next = task->resume_at.value_or(due + task->period);
      task->resume_at.reset();
      // Ticks the timer thread slept through are not made up for.
      if (next <= now) next += ((now - next) / task->period + 1) * task->period;
      Arm(s, task, next);
    }
    if (task->queued || task->started) {
      ++s.stats.skipped;
      return;
    }
    task->queued = true;
    if (s.executor->TrySubmit([state, task] { Run(state, task); })) return;
    task->queued = false;
    ++s.stats.refused;
    if (!task->refusal_logged) {
      task->refusal_logged = true;
      spdlog::warn("{}: the executor refused a run of '{}' (its queue is full or it is stopping)",
                   s.options.name, task->name);
    }
    if (task->period == Clock::duration::zero()) Arm(s, task, now + s.options.retry_delay);
  }

  // One run of `task`, on an Executor thread.
  static void Run(const std::shared_ptr<State>& state, const std::shared_ptr<Task>& task) {
    State& s = *state;
    std::function<void()> release;
    {
      std::lock_guard lock(s.mu);
      task->queued = false;
      if (task->done) {  // cancelled while it waited in the Executor's queue
        release = std::move(task->work);
        return;
      }
      task->started = true;
      task->runner = std::this_thread::get_id();
      ++s.started;
    }
    bool failed = false;
    const State* outer = current_state;
    current_state = &s;
    try {
      task->work();
    } catch (const std::exception& error) {
      failed = true;
      spdlog::error("{}: task '{}' failed: {}", s.options.name, task->name, error.what());
    } catch (...) {
      failed = true;
      spdlog::error("{}: task '{}' failed", s.options.name, task->name);
    }
    current_state = outer;
    std::unique_lock lock(s.mu);
    ++s.stats.runs;
    if (failed) ++s.stats.failures;
    if (task->period == Clock::duration::zero()) Finish(s, *task);
    if (task->done) {
      // Destroyed before the run counts as ended, so that whoever waits for
      // it (Cancel, Stop) returns after the closure is gone.
      release = std::move(task->work);
      lock.unlock();
      release = nullptr;
      lock.lock();
    }
    task->started = false;
    task->runner = {};
    --s.started;
    s.finished.notify_all();
  }

  static void TimerLoop(const std::shared_ptr<State>& state) {
    State& s = *state;
    std::unique_lock lock(s.mu);
    while (!s.stopping) {
      if (s.timers.empty()) {
        s.wake.wait(lock);
        continue;
      }
      Clock::time_point now = Clock::now();
      auto first = s.timers.begin();
      // A copy: wait_until reads it again after waking, when the timer it
      // came from may have been cancelled and freed.
      const Clock::time_point due = first->first;
      if (due > now) {
        s.wake.wait_until(lock, due);
        continue;
      }
      std::shared_ptr<Task> task = std::move(first->second);
      s.timers.erase(first);
      task->armed = false;
      Dispatch(state, task, due, now);
    }
  }
};

Scheduler::Scheduler(Executor& executor, Options options) : state_(std::make_shared<State>()) {
  state_->executor = &executor;
  state_->options = std::move(options);
  state_->timer = std::thread([state = state_] { SchedulerInternals::TimerLoop(state); });
  pthread_setname_np(state_->timer.native_handle(), state_->options.name.substr(0, 15).c_str());
}

Scheduler::~Scheduler() { Stop(); }

Scheduler::Handle Scheduler::Every(std::chrono::milliseconds period, std::string name,
                                   std::function<void()> work) {
  if (period <= std::chrono::milliseconds::zero()) {
    throw Error(ErrorCode::kInvalidParameterValue,
                "the period of task '" + name + "' must be more than zero");
  }
  return Schedule(period, period, std::move(name), std::move(work));
}

Scheduler::Handle Scheduler::After(std::chrono::milliseconds delay, std::string name,
                                   std::function<void()> work) {
  return Schedule(std::max(delay, std::chrono::milliseconds::zero()), Clock::duration::zero(),
                  std::move(name), std::move(work));
}

Scheduler::Handle Scheduler::Schedule(Clock::duration first, Clock::duration period,
                                      std::string name, std::function<void()> work) {
  auto task = std::make_shared<Task>();
  task->name = std::move(name);
  task->period = period;
  task->work = std::move(work);
  {
    std::lock_guard lock(state_->mu);
    if (state_->stopping) {
      task->done = true;
    } else {
      task->id = state_->next_id++;
      state_->live.emplace(task->id, task);
      SchedulerInternals::Arm(*state_, task, Clock::now() + first);
    }
  }
  if (task->done) return Handle();  // `work` is destroyed with `task`, outside the lock
  state_->wake.notify_one();
  return Handle(state_, std::move(task));
}

void Scheduler::Stop() {
  State& s = *state_;
  std::vector<std::function<void()>> released;  // destroyed last, outside the lock
  {
    std::lock_guard lock(s.mu);
    s.stopping = true;
    for (auto& [id, task] : s.live) {
      task->done = true;
      if (task->armed) {
        s.timers.erase(task->slot);
        task->armed = false;
      }
      if (!task->started) released.push_back(std::move(task->work));
    }
    s.live.clear();
  }
  s.wake.notify_all();
  {
    std::lock_guard join(s.join_mu);
    if (s.timer.joinable()) s.timer.join();
  }
  std::unique_lock lock(s.mu);
  const int own = current_state == &s ? 1 : 0;
  s.finished.wait(lock, [&] { return s.started <= own; });
}

Scheduler::Stats Scheduler::stats() const {
  std::lock_guard lock(state_->mu);
  return state_->stats;
}

Scheduler::Handle& Scheduler::Handle::operator=(Handle&& other) noexcept {
  if (this != &other) {
    Cancel();
    state_ = std::move(other.state_);
    task_ = std::move(other.task_);
  }
  return *this;
}

void Scheduler::Handle::Cancel() {
  if (!task_) return;
  std::function<void()> release;  // destroyed after the lock is released
  {
    std::unique_lock lock(state_->mu);
    SchedulerInternals::Finish(*state_, *task_);
    if (task_->started && task_->runner != std::this_thread::get_id()) {
      state_->finished.wait(lock, [&] { return !task_->started; });
    }
    if (!task_->started) release = std::move(task_->work);
  }
  task_.reset();
  state_.reset();
}

std::function<void()> Scheduler::Handle::Waker() const {
  if (!task_) return {};
  return [weak_state = std::weak_ptr<State>(state_), weak_task = std::weak_ptr<Task>(task_)] {
    std::shared_ptr<State> state = weak_state.lock();
    std::shared_ptr<Task> task = weak_task.lock();
    if (!state || !task) return;
    {
      std::lock_guard lock(state->mu);
      if (task->done || task->queued || task->started || !task->armed) return;
      Clock::time_point now = Clock::now();
      if (task->slot->first <= now) return;  // already due
      // The run comes now; a periodic task's next tick stays where it was.
      Clock::time_point next = task->slot->first;
      state->timers.erase(task->slot);
      SchedulerInternals::Arm(*state, task, now);
      if (task->period > Clock::duration::zero()) task->resume_at = next;
    }
    state->wake.notify_one();
  };
}

bool Scheduler::Handle::active() const {
  if (!task_) return false;
  std::lock_guard lock(state_->mu);
  return !task_->done;
}

}  // namespace slipway::core
