#include "serving/rate_history.h"

#include <gtest/gtest.h>

#include "monitoring/metric_registry.h"

namespace slipway::serving {
namespace {

RateSample At(int64_t time_ms, double requests_per_s = 0) {
  RateSample sample;
  sample.time_ms = time_ms;
  VersionRates v;
  v.role = "primary";
  v.model_name = "churn";
  v.version = "3";
  v.rates.requests_per_s = requests_per_s;
  sample.versions.push_back(v);
  return sample;
}

std::vector<int64_t> Times(const std::vector<RateSample>& samples) {
  std::vector<int64_t> out;
  for (const RateSample& s : samples) out.push_back(s.time_ms);
  return out;
}

TEST(RateHistoryTest, KeepsTheNewestCapacitySamplesOldestFirst) {
  RateHistory history(3);
  EXPECT_TRUE(history.Since(0).empty());
  for (int64_t t = 1; t <= 5; ++t) history.Append(At(t * 5000, static_cast<double>(t)));
  std::vector<RateSample> all = history.Since(0);
  EXPECT_EQ(Times(all), (std::vector<int64_t>{15000, 20000, 25000}));
  EXPECT_DOUBLE_EQ(all.back().versions.at(0).rates.requests_per_s, 5);
  EXPECT_EQ(all.front().versions.at(0).version, "3");
}

TEST(RateHistoryTest, SinceKeepsTheSamplesStampedAfterIt) {
  RateHistory history;
  for (int64_t t = 1; t <= 10; ++t) history.Append(At(t * 5000));
  EXPECT_EQ(Times(history.Since(40000)), (std::vector<int64_t>{45000, 50000}));
  EXPECT_EQ(Times(history.Since(39999)), (std::vector<int64_t>{40000, 45000, 50000}));
  EXPECT_TRUE(history.Since(50000).empty());
  EXPECT_EQ(history.Since(-1).size(), 10u);
}

TEST(RateHistoryTest, StaysOrderedWhenTheClockStepsBack) {
  RateHistory history;
  history.Append(At(10000));
  history.Append(At(9000));  // the wall clock stepped back
  history.Append(At(10001));
  EXPECT_EQ(Times(history.Since(0)), (std::vector<int64_t>{10000, 10001, 10002}));
}

TEST(RateHistoryTest, DefaultsToAnHourOfFiveSecondSamples) {
  RateHistory history;
  EXPECT_EQ(history.capacity(), 720u);
  for (int64_t t = 0; t < 1000; ++t) history.Append(At(t));
  EXPECT_EQ(history.Since(-1).size(), 720u);
  EXPECT_EQ(history.Since(-1).front().time_ms, 280);
}

TEST(RateWindowTest, SampleAnswersTheIntervalSinceThePreviousSample) {
  monitoring::MetricRegistry registry;
  const ServableMetrics m = ServableMetrics::For(&registry, "churn", "primary", "churn", "3");
  RateWindow window;
  const auto t0 = RateWindow::Clock::now();
  EXPECT_FALSE(window.Sample(m, t0).has_value());  // the first has no interval
  for (int i = 0; i < 40; ++i) {
    m.ok->Increment();
    m.latency->Observe(0.002);
  }
  m.server_errors->Increment(10);
  m.rows->Increment(400);
  std::optional<RateWindow::Recent> interval = window.Sample(m, t0 + std::chrono::seconds(5));
  ASSERT_TRUE(interval.has_value());
  EXPECT_DOUBLE_EQ(interval->seconds, 5);
  EXPECT_EQ(interval->requests, 50u);
  EXPECT_DOUBLE_EQ(interval->requests_per_s, 10);
  EXPECT_DOUBLE_EQ(interval->errors_per_s, 2);
  EXPECT_DOUBLE_EQ(interval->rows_per_s, 80);
  EXPECT_GT(interval->latency_p99_ms, 0);

  // Nothing since: the next interval is quiet, whatever came before.
  interval = window.Sample(m, t0 + std::chrono::seconds(10));
  ASSERT_TRUE(interval.has_value());
  EXPECT_EQ(interval->requests, 0u);
  EXPECT_EQ(interval->latency_p99_ms, 0);
}

}  // namespace
}  // namespace slipway::serving
