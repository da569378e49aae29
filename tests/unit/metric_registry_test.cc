#include "monitoring/metric_registry.h"

#include <gtest/gtest.h>

namespace slipway::monitoring {
namespace {

TEST(MetricRegistryTest, RendersCountersWithEscapedLabels) {
  MetricRegistry registry;
  registry.GetCounter("requests_total", "Requests.", {{"route", "a\"b\\c\nd"}}).Increment(2);
  std::string text = registry.Render();
  EXPECT_NE(text.find("# HELP requests_total Requests.\n"), std::string::npos);
  EXPECT_NE(text.find("# TYPE requests_total counter\n"), std::string::npos);
  EXPECT_NE(text.find("requests_total{route=\"a\\\"b\\\\c\\nd\"} 2\n"), std::string::npos);
}

TEST(MetricRegistryTest, HistogramBucketsAreCumulativeAndEndWithInf) {
  MetricRegistry registry;
  static const std::vector<double> kBounds = {0.1, 1};
  Histogram& h = registry.GetHistogram("latency", "Latency.", kBounds, {{"route", "r"}});
  h.Observe(0.05);
  h.Observe(0.5);
  h.Observe(5);
  std::string text = registry.Render();
  EXPECT_NE(text.find("latency_bucket{route=\"r\",le=\"0.10000000000000001\"} 1\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("latency_bucket{route=\"r\",le=\"1\"} 2\n"), std::string::npos) << text;
  EXPECT_NE(text.find("latency_bucket{route=\"r\",le=\"+Inf\"} 3\n"), std::string::npos) << text;
  EXPECT_NE(text.find("latency_count{route=\"r\"} 3\n"), std::string::npos) << text;
  EXPECT_NE(text.find("latency_sum{route=\"r\"} 5.5"), std::string::npos) << text;
}

TEST(MetricRegistryTest, SameLabelsGiveTheSameSeries) {
  MetricRegistry registry;
  Counter& a = registry.GetCounter("c", "C.", {{"x", "1"}});
  Counter& b = registry.GetCounter("c", "C.", {{"x", "1"}});
  EXPECT_EQ(&a, &b);
}

}  // namespace
}  // namespace slipway::monitoring

namespace slipway::monitoring {
namespace {

TEST(MetricRegistryTest, GaugesGoUpAndDown) {
  MetricRegistry registry;
  Gauge& depth = registry.GetGauge("queue_depth", "Requests waiting.", {{"deployment", "churn"}});
  depth.Add(3);
  depth.Add(-1);
  EXPECT_EQ(&depth,
            &registry.GetGauge("queue_depth", "Requests waiting.", {{"deployment", "churn"}}));
  std::string text = registry.Render();
  EXPECT_NE(text.find("# TYPE queue_depth gauge\n"), std::string::npos) << text;
  EXPECT_NE(text.find("queue_depth{deployment=\"churn\"} 2\n"), std::string::npos) << text;
  depth.Set(0);
  EXPECT_NE(registry.Render().find("queue_depth{deployment=\"churn\"} 0\n"), std::string::npos);
}

}  // namespace
}  // namespace slipway::monitoring

namespace slipway::monitoring {
namespace {

TEST(MetricRegistryTest, RemoveSeriesTakesOnlyTheMatchingSeriesOut) {
  MetricRegistry registry;
  Gauge& churn = registry.GetGauge("slipway_monitor_drift_psi", "PSI.",
                                   {{"deployment", "churn"}, {"feature", "age"}});
  churn.Set(0.5);
  registry
      .GetGauge("slipway_monitor_drift_psi", "PSI.", {{"deployment", "fraud"}, {"feature", "age"}})
      .Set(0.25);
  registry.GetGauge("slipway_monitor_window_rows", "Rows.", {{"deployment", "churn"}}).Set(7);
  registry.GetGauge("queue_depth", "Requests waiting.", {{"deployment", "churn"}}).Set(3);

  EXPECT_EQ(registry.RemoveSeries("slipway_monitor_", "deployment", "churn"), 2u);
  const std::string text = registry.Render();
  EXPECT_EQ(text.find("deployment=\"churn\",feature"), std::string::npos) << text;
  EXPECT_EQ(text.find("slipway_monitor_window_rows"), std::string::npos) << text;  // family gone
  EXPECT_NE(text.find("slipway_monitor_drift_psi{deployment=\"fraud\",feature=\"age\"} 0.25\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("queue_depth{deployment=\"churn\"} 3\n"), std::string::npos) << text;
  // A reference taken before stays usable; asking again makes a new series.
  churn.Set(0.75);
  EXPECT_EQ(registry.Render().find("0.75"), std::string::npos);
  registry
      .GetGauge("slipway_monitor_drift_psi", "PSI.", {{"deployment", "churn"}, {"feature", "age"}})
      .Set(0.125);
  EXPECT_NE(registry.Render().find(
                "slipway_monitor_drift_psi{deployment=\"churn\",feature=\"age\"} 0.125\n"),
            std::string::npos);
}

}  // namespace
}  // namespace slipway::monitoring
