#include "training/gates.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>

namespace slipway::training {

std::vector<GateResult> EvaluateGates(const std::vector<Gate>& gates,
                                      const std::map<std::string, double>& holdout,
                                      const std::function<ChampionMetric(const Gate&)>& champion) {
  std::vector<GateResult> results;
  for (const Gate& gate : gates) {
    GateResult r;
    r.gate = gate;
    const auto found = holdout.find(gate.metric);
    r.value = found == holdout.end() ? std::numeric_limits<double>::quiet_NaN() : found->second;
    const bool finite = std::isfinite(r.value);
    if (gate.champion) {
      const bool greater = GreaterIsBetter(gate.metric);
      r.rule = fmt::format("{} {} champion@{} {} {}", gate.metric,
                           greater ? ">=" : "<=", *gate.champion, greater ? "+" : "-", gate.margin);
      const ChampionMetric c = champion ? champion(gate) : ChampionMetric{};
      if (!c.exists) {
        r.passed = true;
        r.detail = fmt::format("{:.4f}; no champion", r.value);
      } else if (!c.unevaluated.empty()) {
        r.passed = false;
        r.detail = fmt::format("{:.4f}; champion version {} {}", r.value, c.version, c.unevaluated);
      } else {
        r.champion = c.value;
        r.passed = finite &&
                   (greater ? r.value >= c.value + gate.margin : r.value <= c.value - gate.margin);
        r.detail = fmt::format("{:.4f} vs {:.4f} (version {}): by {:+.4f}", r.value, c.value,
                               c.version, r.value - c.value);
        r.interval = c.interval;
        if (c.interval) {
          r.passed = r.passed && c.interval->first >= gate.margin;
          r.detail += fmt::format(", improvement {:.0f}% interval [{:+.4f}, {:+.4f}]",
                                  gate.confidence * 100, c.interval->first, c.interval->second);
        }
      }
    } else {
      if (gate.min && gate.max) {
        r.rule = fmt::format("{} <= {} <= {}", *gate.min, gate.metric, *gate.max);
      } else if (gate.min) {
        r.rule = fmt::format("{} >= {}", gate.metric, *gate.min);
      } else {
        r.rule = fmt::format("{} <= {}", gate.metric, gate.max.value_or(0));
      }
      r.passed =
          finite && (!gate.min || r.value >= *gate.min) && (!gate.max || r.value <= *gate.max);
      r.detail = finite ? fmt::format("{:.4f}", r.value) : "no value";
      if (finite && !r.passed) {
        const double bound = gate.min && r.value < *gate.min ? *gate.min : *gate.max;
        r.detail += fmt::format(": short by {:.4f}", std::abs(r.value - bound));
      }
    }
    results.push_back(std::move(r));
  }
  return results;
}

std::pair<double, double> BootstrapImprovement(Task task, int64_t classes,
                                               std::span<const double> y, const Matrix& candidate,
                                               const Matrix& champion, const std::string& metric,
                                               double confidence, uint64_t seed, int resamples) {
  const size_t n = y.size();
  const bool greater = GreaterIsBetter(metric);
  std::mt19937_64 rng(seed);
  std::vector<double> improvements;
  std::vector<double> ys(n);
  Matrix a{n, candidate.cols, std::vector<double>(n * candidate.cols)};
  Matrix b{n, champion.cols, std::vector<double>(n * champion.cols)};
  for (int draw = 0; draw < resamples && n > 0; ++draw) {
    for (size_t i = 0; i < n; ++i) {
      const size_t row = static_cast<size_t>(rng() % n);
      ys[i] = y[row];
      for (size_t c = 0; c < a.cols; ++c) a(i, c) = candidate(row, c);
      for (size_t c = 0; c < b.cols; ++c) b(i, c) = champion(row, c);
    }
    const double x = Evaluate(task, classes, ys, a).metrics.at(metric);
    const double z = Evaluate(task, classes, ys, b).metrics.at(metric);
    if (std::isfinite(x) && std::isfinite(z)) improvements.push_back(greater ? x - z : z - x);
  }
  if (improvements.empty()) {
    return {std::numeric_limits<double>::quiet_NaN(), std::numeric_limits<double>::quiet_NaN()};
  }
  std::sort(improvements.begin(), improvements.end());
  auto quantile = [&](double q) {
    const double at = q * static_cast<double>(improvements.size() - 1);
    const size_t lo = static_cast<size_t>(std::floor(at));
    const size_t hi = std::min(lo + 1, improvements.size() - 1);
    return improvements[lo] +
           (at - static_cast<double>(lo)) * (improvements[hi] - improvements[lo]);
  };
  return {quantile((1 - confidence) / 2), quantile((1 + confidence) / 2)};
}

bool AllPassed(const std::vector<GateResult>& results) {
  for (const GateResult& r : results)
    if (!r.passed) return false;
  return true;
}

}  // namespace slipway::training
