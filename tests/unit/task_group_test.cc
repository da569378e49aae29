#include "data/task_group.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <mutex>
#include <set>
#include <stdexcept>
#include <thread>
#include <vector>

#include "core/executor.h"
#include "test_util/executor_blocker.h"

namespace slipway::data {
namespace {

using test_util::ExecutorBlocker;
using test_util::ReadyWithin;

TEST(TaskGroupTest, WithoutAnExecutorTheWaitingThreadRunsEveryItemInOrder) {
  std::vector<int> order;
  TaskGroup group(nullptr, 4);
  for (int i = 0; i < 5; ++i) group.Add([&order, i] { order.push_back(i); });
  EXPECT_TRUE(order.empty());  // nothing runs until someone waits
  group.Wait();
  EXPECT_EQ(order, (std::vector<int>{0, 1, 2, 3, 4}));
}

TEST(TaskGroupTest, ItemsRunOnTheExecutorWithoutAnyoneWaiting) {
  core::Executor executor({"test", 2, 16});
  std::promise<std::thread::id> ran_on;
  std::future<std::thread::id> ran = ran_on.get_future();
  TaskGroup group(&executor, 1);
  group.Add([&] { ran_on.set_value(std::this_thread::get_id()); });
  ASSERT_TRUE(ReadyWithin(ran, 30));
  EXPECT_NE(ran.get(), std::this_thread::get_id());
  group.Wait();
}

TEST(TaskGroupTest, NoMoreThanMaxHelpersOfAGroupRunAtOnce) {
  core::Executor executor({"test", 4, 64});
  std::atomic<int> running{0};
  std::atomic<int> most{0};
  std::set<std::thread::id> threads;
  std::mutex threads_mu;  // guards threads
  TaskGroup group(&executor, 2);
  for (int i = 0; i < 200; ++i) {
    group.Add([&] {
      int now = ++running;
      int seen = most.load();
      while (now > seen && !most.compare_exchange_weak(seen, now)) {
      }
      {
        std::lock_guard lock(threads_mu);
        threads.insert(std::this_thread::get_id());
      }
      std::this_thread::sleep_for(std::chrono::microseconds(200));
      --running;
    });
  }
  group.Wait();
  // Two helpers, and the caller once it waits.
  EXPECT_LE(most.load(), 3);
  EXPECT_GE(threads.size(), 2u);
}

TEST(TaskGroupTest, FinishesOnTheCallersThreadWhenTheExecutorHasNoThreadToGive) {
  core::Executor executor({"test", 2, 16});
  ExecutorBlocker blocker(executor);
  std::future<int> done = std::async(std::launch::async, [&executor] {
    std::atomic<int> count{0};
    TaskGroup group(&executor, 2);
    for (int i = 0; i < 100; ++i) group.Add([&count] { ++count; });
    group.Wait();
    return count.load();
  });
  EXPECT_TRUE(ReadyWithin(done, 60)) << "the group waited for a queued helper";
  blocker.Release();
  EXPECT_EQ(done.get(), 100);
}

TEST(TaskGroupTest, GroupsWaitedOnFromEveryExecutorThreadDoNotDeadlock) {
  // Each outer item owns a group and waits on it from an executor thread:
  // with both threads waiting, the inner items can only run on them.
  core::Executor executor({"test", 2, 16});
  std::future<int> done = std::async(std::launch::async, [&executor] {
    std::atomic<int> count{0};
    TaskGroup outer(&executor, 2);
    for (int i = 0; i < 8; ++i) {
      outer.Add([&executor, &count] {
        TaskGroup inner(&executor, 2);
        for (int j = 0; j < 8; ++j) {
          inner.Add([&count] {
            std::this_thread::sleep_for(std::chrono::microseconds(100));
            ++count;
          });
        }
        inner.Wait();
      });
    }
    outer.Wait();
    return count.load();
  });
  ASSERT_TRUE(ReadyWithin(done, 60)) << "deadlock";
  EXPECT_EQ(done.get(), 64);
}

TEST(TaskGroupTest, WaitUntilRunsItemsUntilTheConditionHolds) {
  TaskGroup group(nullptr, 1);
  int ran = 0;
  for (int i = 0; i < 10; ++i) group.Add([&ran] { ++ran; });
  group.WaitUntil([&ran] { return ran >= 3; });
  EXPECT_EQ(ran, 3);
  group.Wait();
  EXPECT_EQ(ran, 10);
}

TEST(TaskGroupTest, WaitRethrowsTheFirstErrorOnceAndTheOtherItemsStillRun) {
  core::Executor executor({"test", 2, 16});
  std::atomic<int> ran{0};
  TaskGroup group(&executor, 2);
  group.Add([] { throw std::runtime_error("first"); });
  for (int i = 0; i < 10; ++i) group.Add([&ran] { ++ran; });
  EXPECT_THROW(group.Wait(), std::runtime_error);
  EXPECT_EQ(ran.load(), 10);
  EXPECT_NO_THROW(group.Wait());
}

TEST(TaskGroupTest, AFullExecutorQueueLeavesTheItemsToTheCaller) {
  core::Executor executor({"test", 1, 1});
  ExecutorBlocker blocker(executor);
  ASSERT_TRUE(executor.TrySubmit([] {}));  // the queue's one place
  int ran = 0;
  TaskGroup group(&executor, 4);
  for (int i = 0; i < 5; ++i) group.Add([&ran] { ++ran; });
  group.Wait();
  EXPECT_EQ(ran, 5);
}

}  // namespace
}  // namespace slipway::data
