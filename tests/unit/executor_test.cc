#include "core/executor.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>

namespace slipway::core {
namespace {

TEST(ExecutorTest, RunsEverythingSubmittedBeforeStop) {
  std::atomic<int> done{0};
  Executor executor({"test", 3, 1000});
  for (int i = 0; i < 500; ++i) {
    ASSERT_TRUE(executor.TrySubmit([&done] { ++done; }));
  }
  executor.Stop();
  EXPECT_EQ(done, 500);
  EXPECT_FALSE(executor.TrySubmit([] {}));
}

TEST(ExecutorTest, AFullQueueRefusesWork) {
  std::atomic<bool> release{false};
  Executor executor({"test", 1, 2});
  ASSERT_TRUE(executor.TrySubmit([&release] {
    while (!release) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }));
  // The thread may not have taken the first item yet: fill until refused.
  int accepted = 0;
  while (executor.TrySubmit([] {}) && accepted < 10) ++accepted;
  EXPECT_GE(accepted, 1);
  EXPECT_LE(accepted, 2);
  release = true;
}

TEST(ExecutorTest, AThrowingTaskDoesNotStopTheOthers) {
  std::atomic<int> done{0};
  Executor executor({"test", 1, 10});
  executor.TrySubmit([] { throw std::runtime_error("boom"); });
  executor.TrySubmit([&done] { ++done; });
  executor.Stop();
  EXPECT_EQ(done, 1);
}

}  // namespace
}  // namespace slipway::core
