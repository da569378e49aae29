// Estimated performance before labels arrive: NannyML's confidence-based
// performance estimation (CBPE) for binary classifiers whose predictions
// carry class probabilities.
//
// Each row whose prediction is two class probabilities [p0, p1] counts,
// with p = p1 the score of class 1 and the predicted class the index of
// the larger (argmax, ties to class 0, as live accuracy reads it). As
// NannyML's estimators (nannyml/performance_estimation/confidence_based/
// metrics.py, BinaryClassificationAccuracy._estimate and
// estimate_roc_auc) compute them:
//
//   accuracy = (sum of p over rows predicted 1 + sum of 1 - p over rows
//               predicted 0) / rows
//   ROC AUC  = the area (trapezoids) under the curve of
//              tpr = tps / tps[n], fpr = fps / fps[n], where the rows are
//              sorted by p, largest first, tps[k] = p(1) + ... + p(k),
//              fps[k] = k - tps[k], tps[0] = fps[0] = 0, each rounded to 5
//              decimals; none when tps[n] or fps[n] is 0.
//
// The probabilities are taken as calibrated: NannyML first calibrates them
// on reference data that holds the model's predictions and their labels
// (isotonic regression); a monitor has no such data, so this is CBPE with
// calibration off. The estimate is as good as the model's probabilities
// are calibrated.
//
// Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <vector>

#include "monitoring/live/monitor_store.h"

namespace slipway::monitoring::live {

struct EstimatedPerformance {
  int64_t rows = 0;  // rows with two class probabilities
  std::optional<double> accuracy;
  std::optional<double> roc_auc;

  // {"method": "cbpe", "rows", "accuracy", "roc_auc"}; absent values null.
  nlohmann::json ToJson() const;
};

// Over the rows of kept predictions (labelled or not).
EstimatedPerformance EstimatePerformance(const std::vector<LoggedPrediction>& predictions);

// Over class-1 scores and predicted classes (0 or 1), one per row.
EstimatedPerformance EstimateBinary(const std::vector<double>& scores,
                                    const std::vector<int>& predicted);

}  // namespace slipway::monitoring::live
