#include "monitoring/metric_registry.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <iterator>

namespace slipway::monitoring {
namespace {

void AtomicAdd(std::atomic<double>& target, double by) {
  double current = target.load(std::memory_order_relaxed);
  while (!target.compare_exchange_weak(current, current + by, std::memory_order_relaxed)) {
  }
}

std::string FormatNumber(double value) {
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  if (std::isnan(value)) return "NaN";
  char text[32];
  std::snprintf(text, sizeof text, "%.17g", value);
  return text;
}

// Adds `le` to already-rendered labels `{a="x"}` -> `{a="x",le="0.5"}`.
std::string WithBucket(const std::string& labels, const std::string& le) {
  std::string bucket = "le=\"" + le + "\"";
  if (labels.empty()) return "{" + bucket + "}";
  return labels.substr(0, labels.size() - 1) + "," + bucket + "}";
}

}  // namespace

void Counter::Increment(double by) { AtomicAdd(value_, by); }

void Gauge::Add(double by) { AtomicAdd(value_, by); }

Histogram::Histogram(const std::vector<double>* bounds)
    : bounds_(bounds), counts_(new std::atomic<uint64_t>[bounds->size() + 1]) {
  for (size_t i = 0; i <= bounds_->size(); ++i) counts_[i].store(0);
}

void Histogram::Observe(double value) {
  size_t i = 0;
  while (i < bounds_->size() && value > (*bounds_)[i]) ++i;
  counts_[i].fetch_add(1, std::memory_order_relaxed);
  AtomicAdd(sum_, value);
}

std::vector<uint64_t> Histogram::CumulativeCounts() const {
  std::vector<uint64_t> out(bounds_->size() + 1);
  uint64_t total = 0;
  for (size_t i = 0; i <= bounds_->size(); ++i) {
    total += counts_[i].load(std::memory_order_relaxed);
    out[i] = total;
  }
  return out;
}

const std::vector<double>& MetricRegistry::LatencyBuckets() {
  static const std::vector<double> kBuckets = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005,
                                               0.01,   0.025,   0.05,   0.1,   0.25,   0.5,
                                               1,      2.5,     5,      10};
  return kBuckets;
}

Counter& MetricRegistry::GetCounter(const std::string& name, const std::string& help,
                                    const Labels& labels) {
  std::string key = RenderLabels(labels);
  std::lock_guard lock(mu_);
  Family& family = families_[name];
  if (family.type.empty()) {
    family.type = "counter";
    family.help = help;
  }
  auto& slot = family.counters[key];
  if (!slot) {
    slot = std::make_unique<Counter>();
    family.labels[key] = labels;
  }
  return *slot;
}

Gauge& MetricRegistry::GetGauge(const std::string& name, const std::string& help,
                                const Labels& labels) {
  std::string key = RenderLabels(labels);
  std::lock_guard lock(mu_);
  Family& family = families_[name];
  if (family.type.empty()) {
    family.type = "gauge";
    family.help = help;
  }
  auto& slot = family.gauges[key];
  if (!slot) {
    slot = std::make_unique<Gauge>();
    family.labels[key] = labels;
  }
  return *slot;
}

Histogram& MetricRegistry::GetHistogram(const std::string& name, const std::string& help,
                                        const std::vector<double>& bounds, const Labels& labels) {
  std::string key = RenderLabels(labels);
  std::lock_guard lock(mu_);
  Family& family = families_[name];
  if (family.type.empty()) {
    family.type = "histogram";
    family.help = help;
    family.bounds = bounds;
  }
  auto& slot = family.histograms[key];
  if (!slot) slot = std::make_unique<Histogram>(&family.bounds);
  return *slot;
}

size_t MetricRegistry::RemoveSeries(const std::string& name_prefix, const std::string& label,
                                    const std::string& value) {
  const std::pair<std::string, std::string> wanted{label, value};
  std::lock_guard lock(mu_);
  size_t removed = 0;
  auto retire = [&](auto& series, auto& into, const std::string& key) {
    auto found = series.find(key);
    if (found == series.end()) return;
    into.push_back(std::move(found->second));
    series.erase(found);
  };
  for (auto it = families_.lower_bound(name_prefix);
       it != families_.end() && it->first.starts_with(name_prefix);) {
    Family& family = it->second;
    for (auto series = family.labels.begin(); series != family.labels.end();) {
      if (std::find(series->second.begin(), series->second.end(), wanted) == series->second.end()) {
        ++series;
        continue;
      }
      retire(family.counters, retired_.counters, series->first);
      retire(family.gauges, retired_.gauges, series->first);
      retire(family.histograms, retired_.histograms, series->first);
      series = family.labels.erase(series);
      ++removed;
    }
    // (A histogram family stays: its retired series point at its bounds.)
    const bool empty = family.labels.empty() && family.type != "histogram";
    it = empty ? families_.erase(it) : std::next(it);
  }
  return removed;
}

std::string MetricRegistry::Render() const {
  std::string out;
  std::lock_guard lock(mu_);
  for (const auto& [name, family] : families_) {
    out += "# HELP " + name + " " + family.help + "\n";
    out += "# TYPE " + name + " " + family.type + "\n";
    for (const auto& [labels, counter] : family.counters) {
      out += name + labels + " " + FormatNumber(counter->Value()) + "\n";
    }
    for (const auto& [labels, gauge] : family.gauges) {
      out += name + labels + " " + FormatNumber(gauge->Value()) + "\n";
    }
    for (const auto& [labels, histogram] : family.histograms) {
      std::vector<uint64_t> counts = histogram->CumulativeCounts();
      for (size_t i = 0; i < family.bounds.size(); ++i) {
        out += name + "_bucket" + WithBucket(labels, FormatNumber(family.bounds[i])) + " " +
               std::to_string(counts[i]) + "\n";
      }
      out += name + "_bucket" + WithBucket(labels, "+Inf") + " " + std::to_string(counts.back()) +
             "\n";
      out += name + "_sum" + labels + " " + FormatNumber(histogram->Sum()) + "\n";
      out += name + "_count" + labels + " " + std::to_string(counts.back()) + "\n";
    }
  }
  return out;
}

std::vector<MetricRegistry::Sample> MetricRegistry::Snapshot(const std::string& name) const {
  std::vector<Sample> out;
  std::lock_guard lock(mu_);
  auto it = families_.find(name);
  if (it == families_.end()) return out;
  const Family& family = it->second;
  out.reserve(family.counters.size() + family.gauges.size());
  for (const auto& [key, counter] : family.counters) {
    out.push_back({family.labels.at(key), counter->Value()});
  }
  for (const auto& [key, gauge] : family.gauges) {
    out.push_back({family.labels.at(key), gauge->Value()});
  }
  return out;
}

std::string MetricRegistry::TypeOf(const std::string& name) const {
  std::lock_guard lock(mu_);
  auto it = families_.find(name);
  return it == families_.end() ? "" : it->second.type;
}

std::string RenderLabels(const Labels& labels) {
  if (labels.empty()) return "";
  std::string out = "{";
  for (size_t i = 0; i < labels.size(); ++i) {
    if (i > 0) out += ",";
    out += labels[i].first + "=\"";
    for (char c : labels[i].second) {
      if (c == '\\') {
        out += "\\\\";
      } else if (c == '"') {
        out += "\\\"";
      } else if (c == '\n') {
        out += "\\n";
      } else {
        out += c;
      }
    }
    out += "\"";
  }
  return out + "}";
}

}  // namespace slipway::monitoring
