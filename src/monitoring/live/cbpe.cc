#include "monitoring/live/cbpe.h"

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>
#include <numeric>

namespace slipway::monitoring::live {
namespace {

using nlohmann::json;

// numpy.round(x, 5): to the nearest, halves to even, at the fifth decimal.
double Round5(double x) { return std::nearbyint(x * 1e5) / 1e5; }

std::optional<double> RocAuc(const std::vector<double>& scores) {
  const size_t n = scores.size();
  if (n == 0) return std::nullopt;
  // numpy.argsort(p)[::-1]: ascending (ties by position), then reversed.
  std::vector<size_t> order(n);
  std::iota(order.begin(), order.end(), size_t{0});
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return scores[a] < scores[b]; });
  std::reverse(order.begin(), order.end());
  std::vector<double> tps(n + 1, 0.0), fps(n + 1, 0.0);
  double sum = 0;
  for (size_t k = 0; k < n; ++k) {
    sum += scores[order[k]];
    tps[k + 1] = sum;
    fps[k + 1] = static_cast<double>(k + 1) - sum;
  }
  for (size_t k = 0; k <= n; ++k) {
    tps[k] = Round5(tps[k]);
    fps[k] = Round5(fps[k]);
  }
  if (tps[n] == 0 || fps[n] == 0) return std::nullopt;
  double area = 0;
  for (size_t k = 0; k < n; ++k) {
    const double x0 = fps[k] / fps[n], x1 = fps[k + 1] / fps[n];
    const double y0 = tps[k] / tps[n], y1 = tps[k + 1] / tps[n];
    area += (x1 - x0) * (y0 + y1) / 2;
  }
  return area;
}

}  // namespace

json EstimatedPerformance::ToJson() const {
  auto value = [](const std::optional<double>& v) { return v ? json(*v) : json(nullptr); };
  return {{"method", "cbpe"},
          {"rows", rows},
          {"accuracy", value(accuracy)},
          {"roc_auc", value(roc_auc)}};
}

EstimatedPerformance EstimateBinary(const std::vector<double>& scores,
                                    const std::vector<int>& predicted) {
  EstimatedPerformance out;
  out.rows = static_cast<int64_t>(scores.size());
  if (scores.empty()) return out;
  double tp = 0, tn = 0;
  for (size_t i = 0; i < scores.size(); ++i) {
    if (predicted[i] == 1) {
      tp += scores[i];
    } else {
      tn += 1 - scores[i];
    }
  }
  out.accuracy = (tp + tn) / static_cast<double>(scores.size());
  out.roc_auc = RocAuc(scores);
  return out;
}

EstimatedPerformance EstimatePerformance(const std::vector<LoggedPrediction>& predictions) {
  std::vector<double> scores;
  std::vector<int> predicted;
  for (const LoggedPrediction& p : predictions) {
    const json rows = json::parse(p.predictions, nullptr, false);
    if (!rows.is_array()) continue;
    for (const json& row : rows) {
      if (!row.is_array() || row.size() != 2 || !row[0].is_number() || !row[1].is_number())
        continue;
      const double p0 = row[0].get<double>(), p1 = row[1].get<double>();
      if (!(p1 >= 0 && p1 <= 1)) continue;
      scores.push_back(p1);
      predicted.push_back(p1 > p0 ? 1 : 0);
    }
  }
  return EstimateBinary(scores, predicted);
}

}  // namespace slipway::monitoring::live
