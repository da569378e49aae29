// Counters and histograms exposed in the Prometheus text format (0.0.4).
//
// A MetricRegistry owns metric families; a family owns one series per label
// set. Series are created on first use and live as long as the registry, so a
// caller may keep the returned reference. All methods are thread-safe;
// incrementing a series is lock-free.
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace slipway::monitoring {

using Labels = std::vector<std::pair<std::string, std::string>>;

class Counter {
 public:
  void Increment(double by = 1.0);
  double Value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0.0};
};

// A value that goes up and down (queue depth, loaded models).
class Gauge {
 public:
  void Add(double by);
  void Set(double value) { value_.store(value, std::memory_order_relaxed); }
  double Value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0.0};
};

class Histogram {
 public:
  explicit Histogram(const std::vector<double>* bounds);
  void Observe(double value);

  // Cumulative count per bound (the `le` buckets), then +Inf.
  std::vector<uint64_t> CumulativeCounts() const;
  double Sum() const { return sum_.load(std::memory_order_relaxed); }

 private:
  const std::vector<double>* bounds_;
  std::unique_ptr<std::atomic<uint64_t>[]> counts_;  // one per bound, plus +Inf
  std::atomic<double> sum_{0.0};
};

class MetricRegistry {
 public:
  // Default latency buckets in seconds: 100 us to 10 s.
  static const std::vector<double>& LatencyBuckets();

  Counter& GetCounter(const std::string& name, const std::string& help, const Labels& labels);
  Gauge& GetGauge(const std::string& name, const std::string& help, const Labels& labels);
  Histogram& GetHistogram(const std::string& name, const std::string& help,
                          const std::vector<double>& bounds, const Labels& labels);

  // Every family in the text exposition format.
  std::string Render() const;

  // One series' labels and current value.
  struct Sample {
    Labels labels;
    double value = 0;
  };
  // The current value of every series of the counter or gauge family `name`
  // (empty when there is none, or it is a histogram), for readers that
  // evaluate rules over the registry (monitoring/alerts.h). Holds the lock
  // once, for a copy of that family only; increments never wait for it.
  std::vector<Sample> Snapshot(const std::string& name) const;
  // "counter", "gauge", "histogram", or "" when there is no family `name`.
  std::string TypeOf(const std::string& name) const;

  // Takes out of the exposition every series of the families whose name
  // starts with `name_prefix` that has the label `label` = `value` (the
  // gauges of a deleted monitor), and the families left empty. The series'
  // objects stay allocated for the registry's lifetime, so a reference a
  // caller still holds stays valid (it just no longer shows); asking for
  // the same series again makes a new one. Returns the series removed.
  size_t RemoveSeries(const std::string& name_prefix, const std::string& label,
                      const std::string& value);

 private:
  struct Family {
    std::string help;
    std::string type;  // "counter", "gauge" or "histogram"
    std::vector<double> bounds;
    std::map<std::string, std::unique_ptr<Counter>> counters;  // by rendered labels
    std::map<std::string, std::unique_ptr<Gauge>> gauges;
    std::map<std::string, std::unique_ptr<Histogram>> histograms;
    std::map<std::string, Labels> labels;  // each series' labels, by rendered labels
  };

  mutable std::mutex mu_;  // guards families_ (the map and each family's maps) and retired_
  std::map<std::string, Family> families_;
  // Series taken out by RemoveSeries, kept alive for references still held.
  struct Retired {
    std::vector<std::unique_ptr<Counter>> counters;
    std::vector<std::unique_ptr<Gauge>> gauges;
    std::vector<std::unique_ptr<Histogram>> histograms;
  };
  Retired retired_;
};

// `{a="x",b="y"}` with values escaped as the exposition format requires
// (backslash, double quote, newline); empty labels render as "".
std::string RenderLabels(const Labels& labels);

}  // namespace slipway::monitoring
