#include "core/scheduler.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <stdexcept>
#include <thread>

#include "core/error.h"

namespace slipway::core {
namespace {

using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

// Waits (at most 10 s, generous for sanitizer builds) until `done` holds.
template <typename Predicate>
bool WaitFor(Predicate done) {
  auto deadline = Clock::now() + std::chrono::seconds(10);
  while (!done()) {
    if (Clock::now() > deadline) return false;
    std::this_thread::sleep_for(milliseconds(1));
  }
  return true;
}

class SchedulerTest : public ::testing::Test {
 protected:
  Executor executor_{{"sched-test", 4, 64}};
};

TEST_F(SchedulerTest, PeriodicTaskRunsEveryPeriod) {
  Scheduler scheduler(executor_);
  std::atomic<int> runs{0};
  auto started = Clock::now();
  Scheduler::Handle handle = scheduler.Every(milliseconds(20), "tick", [&] { ++runs; });
  ASSERT_TRUE(WaitFor([&] { return runs >= 5; }));
  // Five ticks 20 ms apart, the first one period after Every.
  EXPECT_GE(Clock::now() - started, milliseconds(100));
  EXPECT_TRUE(handle.active());
  handle.Cancel();
  EXPECT_FALSE(handle.active());
  EXPECT_GE(scheduler.stats().runs, 5);
  EXPECT_EQ(scheduler.stats().failures, 0);
}

TEST_F(SchedulerTest, DelayedTaskRunsOnceAfterItsDelay) {
  Scheduler scheduler(executor_);
  std::atomic<int> runs{0};
  Clock::time_point ran_at;
  auto started = Clock::now();
  Scheduler::Handle handle = scheduler.After(milliseconds(50), "once", [&] {
    ran_at = Clock::now();
    ++runs;
  });
  ASSERT_TRUE(WaitFor([&] { return runs == 1; }));
  EXPECT_GE(ran_at - started, milliseconds(50));
  std::this_thread::sleep_for(milliseconds(100));
  EXPECT_EQ(runs, 1);
  EXPECT_TRUE(WaitFor([&] { return !handle.active(); }));
}

TEST_F(SchedulerTest, CancelledOrDroppedTasksNeverRun) {
  Scheduler scheduler(executor_);
  std::atomic<int> runs{0};
  Scheduler::Handle cancelled = scheduler.After(milliseconds(30), "cancelled", [&] { ++runs; });
  cancelled.Cancel();
  cancelled.Cancel();  // idempotent
  {
    Scheduler::Handle dropped = scheduler.Every(milliseconds(30), "dropped", [&] { ++runs; });
  }  // the handle's destruction cancels the task
  Scheduler::Handle replaced = scheduler.Every(milliseconds(30), "replaced", [&] { ++runs; });
  replaced = Scheduler::Handle();  // assigning over a handle cancels its task too
  std::atomic<int> control{0};
  Scheduler::Handle kept = scheduler.Every(milliseconds(30), "kept", [&] { ++control; });
  ASSERT_TRUE(WaitFor([&] { return control >= 4; }));
  EXPECT_EQ(runs, 0);
  EXPECT_FALSE(cancelled.active());
}

TEST_F(SchedulerTest, CancellingTheDeadlineTheTimerWaitsForLeavesTheOthers) {
  Scheduler scheduler(executor_);
  std::atomic<int> runs{0};
  Scheduler::Handle first = scheduler.After(milliseconds(100), "first", [&] { runs += 100; });
  Scheduler::Handle second = scheduler.After(milliseconds(150), "second", [&] { ++runs; });
  std::this_thread::sleep_for(milliseconds(20));  // the timer thread now waits for `first`
  first.Cancel();
  ASSERT_TRUE(WaitFor([&] { return runs > 0; }));
  std::this_thread::sleep_for(milliseconds(100));
  EXPECT_EQ(runs, 1);
}

TEST_F(SchedulerTest, CancelWaitsForTheRunUnderWay) {
  Scheduler scheduler(executor_);
  std::atomic<bool> inside{false};
  std::atomic<int> runs{0};
  Scheduler::Handle handle = scheduler.Every(milliseconds(5), "slow", [&] {
    inside = true;
    std::this_thread::sleep_for(milliseconds(100));
    ++runs;
    inside = false;
  });
  ASSERT_TRUE(WaitFor([&] { return inside.load(); }));
  handle.Cancel();
  EXPECT_FALSE(inside);
  int after_cancel = runs;
  EXPECT_EQ(after_cancel, 1);
  std::this_thread::sleep_for(milliseconds(50));
  EXPECT_EQ(runs, after_cancel);
}

TEST_F(SchedulerTest, APeriodicTaskNeverOverlapsItself) {
  Scheduler scheduler(executor_);
  std::atomic<int> running{0};
  std::atomic<int> most{0};
  std::atomic<int> runs{0};
  // Ticks every 2 ms, runs take 20 ms: with four executor threads free,
  // only the rule keeps the runs apart.
  Scheduler::Handle handle = scheduler.Every(milliseconds(2), "overlap", [&] {
    int now = ++running;
    int seen = most.load();
    while (now > seen && !most.compare_exchange_weak(seen, now)) {
    }
    std::this_thread::sleep_for(milliseconds(20));
    --running;
    ++runs;
  });
  ASSERT_TRUE(WaitFor([&] { return runs >= 5; }));
  handle.Cancel();
  EXPECT_EQ(most, 1);
  // The ticks that came during a run were skipped, not queued.
  EXPECT_GT(scheduler.stats().skipped, 0);
}

TEST_F(SchedulerTest, AThrowingTaskKeepsItsSchedule) {
  Scheduler scheduler(executor_);
  std::atomic<int> calls{0};
  Scheduler::Handle handle = scheduler.Every(milliseconds(5), "flaky", [&] {
    int call = ++calls;
    if (call == 1) throw Error(ErrorCode::kInternalError, "first run fails");
    if (call == 2) throw 42;  // not even an exception type
  });
  ASSERT_TRUE(WaitFor([&] { return calls >= 5; }));
  handle.Cancel();
  Scheduler::Stats stats = scheduler.stats();
  EXPECT_EQ(stats.failures, 2);
  EXPECT_GE(stats.runs, 5);
  // The executor's threads survived too.
  std::atomic<bool> ran{false};
  ASSERT_TRUE(executor_.TrySubmit([&] { ran = true; }));
  EXPECT_TRUE(WaitFor([&] { return ran.load(); }));
}

TEST_F(SchedulerTest, StopWaitsForRunsUnderWayAndCancelsTheRest) {
  std::atomic<bool> inside{false};
  std::atomic<bool> finished{false};
  std::atomic<int> pending_runs{0};
  Scheduler scheduler(executor_);
  Scheduler::Handle slow = scheduler.After(milliseconds(0), "slow", [&] {
    inside = true;
    std::this_thread::sleep_for(milliseconds(200));
    finished = true;
  });
  Scheduler::Handle pending =
      scheduler.After(milliseconds(300), "pending", [&] { ++pending_runs; });
  Scheduler::Handle periodic =
      scheduler.Every(milliseconds(300), "periodic", [&] { ++pending_runs; });
  ASSERT_TRUE(WaitFor([&] { return inside.load(); }));
  scheduler.Stop();
  EXPECT_TRUE(finished);  // Stop returned after the run ended
  EXPECT_FALSE(pending.active());
  EXPECT_FALSE(periodic.active());
  scheduler.Stop();  // idempotent
  // Nothing runs after Stop, not even what is scheduled then.
  Scheduler::Handle late = scheduler.After(milliseconds(0), "late", [&] { ++pending_runs; });
  EXPECT_FALSE(late.active());
  std::this_thread::sleep_for(milliseconds(400));
  EXPECT_EQ(pending_runs, 0);
}

TEST_F(SchedulerTest, ATaskMayCancelItselfOrStopItsScheduler) {
  Scheduler scheduler(executor_);
  std::atomic<int> runs{0};
  Scheduler::Handle self;
  std::atomic<bool> armed{false};
  self = scheduler.Every(milliseconds(5), "self", [&] {
    if (!armed) return;  // `self` is being assigned
    self.Cancel();       // from within its own run: does not wait for itself
    ++runs;
  });
  armed = true;
  ASSERT_TRUE(WaitFor([&] { return runs >= 1; }));
  std::this_thread::sleep_for(milliseconds(50));
  EXPECT_EQ(runs, 1);

  std::atomic<bool> stopped{false};
  Scheduler::Handle stopper = scheduler.After(milliseconds(0), "stopper", [&] {
    scheduler.Stop();
    stopped = true;
  });
  EXPECT_TRUE(WaitFor([&] { return stopped.load(); }));
}

TEST_F(SchedulerTest, RunsTheExecutorRefusesAreCountedAndRetried) {
  Executor single({"sched-one", 1, 1});
  std::atomic<bool> release{false};
  // Occupy the thread, then the one queue slot.
  ASSERT_TRUE(single.TrySubmit([&] {
    while (!release) std::this_thread::sleep_for(milliseconds(1));
  }));
  ASSERT_TRUE(WaitFor([&] { return single.queued() == 0; }));
  ASSERT_TRUE(single.TrySubmit([] {}));
  Scheduler scheduler(single);
  std::atomic<int> runs{0};
  Scheduler::Handle once = scheduler.After(milliseconds(0), "refused", [&] { ++runs; });
  ASSERT_TRUE(WaitFor([&] { return scheduler.stats().refused >= 2; }));
  EXPECT_EQ(runs, 0);
  release = true;
  // Retried until the executor takes it, then run exactly once.
  ASSERT_TRUE(WaitFor([&] { return runs == 1; }));
  std::this_thread::sleep_for(milliseconds(250));
  EXPECT_EQ(runs, 1);
}

TEST_F(SchedulerTest, AWakerBringsTheNextRunForward) {
  Scheduler scheduler(executor_);
  std::atomic<int> runs{0};
  Scheduler::Handle handle = scheduler.Every(std::chrono::hours(1), "hourly", [&] { ++runs; });
  std::function<void()> wake = handle.Waker();
  ASSERT_TRUE(wake);
  wake();
  ASSERT_TRUE(WaitFor([&] { return runs == 1; }));
  wake();
  ASSERT_TRUE(WaitFor([&] { return runs == 2; }));
  // Still hourly: no run comes by itself after the early ones.
  std::this_thread::sleep_for(milliseconds(100));
  EXPECT_EQ(runs, 2);
  EXPECT_TRUE(handle.active());
  handle.Cancel();
  wake();  // a no-op now
  std::this_thread::sleep_for(milliseconds(50));
  EXPECT_EQ(runs, 2);
  EXPECT_FALSE(Scheduler::Handle().Waker());
}

TEST_F(SchedulerTest, AWakerDoesNotDoubleARunUnderWay) {
  Scheduler scheduler(executor_);
  std::atomic<bool> inside{false};
  std::atomic<bool> release{false};
  std::atomic<int> runs{0};
  Scheduler::Handle handle = scheduler.Every(std::chrono::hours(1), "slow", [&] {
    inside = true;
    while (!release) std::this_thread::sleep_for(milliseconds(1));
    ++runs;
    inside = false;
  });
  std::function<void()> wake = handle.Waker();
  wake();
  ASSERT_TRUE(WaitFor([&] { return inside.load(); }));
  for (int i = 0; i < 10; ++i) wake();
  release = true;
  ASSERT_TRUE(WaitFor([&] { return runs == 1; }));
  std::this_thread::sleep_for(milliseconds(100));
  EXPECT_EQ(runs, 1);
}

TEST_F(SchedulerTest, AHandleMayOutliveItsScheduler) {
  Scheduler::Handle handle;
  {
    Scheduler scheduler(executor_);
    handle = scheduler.Every(milliseconds(10), "orphan", [] {});
  }
  EXPECT_FALSE(handle.active());
  handle.Waker()();  // a no-op
  handle.Cancel();
}

TEST_F(SchedulerTest, APeriodMustBePositive) {
  Scheduler scheduler(executor_);
  EXPECT_THROW(scheduler.Every(milliseconds(0), "zero", [] {}), Error);
}

}  // namespace
}  // namespace slipway::core
