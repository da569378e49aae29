#include "core/cpus.h"

#include <gtest/gtest.h>
#include <sched.h>

#include <thread>

namespace {

TEST(CpusTest, CpuMaxQuotaRoundsUpToWholeCores) {
  EXPECT_EQ(slipway::core::CoresOfCpuMax("200000 100000\n"), 2);
  EXPECT_EQ(slipway::core::CoresOfCpuMax("150000 100000"), 2);  // 1.5 cores: two threads
  EXPECT_EQ(slipway::core::CoresOfCpuMax("50000 100000\n"), 1);
  EXPECT_EQ(slipway::core::CoresOfCpuMax("max 100000\n"), 0);  // no quota
  EXPECT_EQ(slipway::core::CoresOfCpuMax(""), 0);
  EXPECT_EQ(slipway::core::CoresOfCpuMax("100000"), 0);
  EXPECT_EQ(slipway::core::CoresOfCpuMax("-5 100000"), 0);
  EXPECT_EQ(slipway::core::CoresOfCpuMax("100000 0"), 0);
}

TEST(CpusTest, UsableCoresFollowsTheAffinityMask) {
  cpu_set_t saved;
  ASSERT_EQ(sched_getaffinity(0, sizeof saved, &saved), 0);
  const int all = slipway::core::UsableCores();
  EXPECT_GE(all, 1);
  EXPECT_LE(all, CPU_COUNT(&saved));
  // Pinned to one CPU (this thread's mask is what sched_getaffinity(0) reads).
  int first = 0;
  while (!CPU_ISSET(first, &saved)) ++first;
  cpu_set_t one;
  CPU_ZERO(&one);
  CPU_SET(first, &one);
  ASSERT_EQ(sched_setaffinity(0, sizeof one, &one), 0);
  EXPECT_EQ(slipway::core::UsableCores(), 1);
  ASSERT_EQ(sched_setaffinity(0, sizeof saved, &saved), 0);
  EXPECT_EQ(slipway::core::UsableCores(), all);
}

}  // namespace
