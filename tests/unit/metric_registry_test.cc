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
