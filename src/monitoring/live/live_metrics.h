// Live accuracy: metrics of a deployment's predictions against the ground
// truth that arrived later as feedback, over any set of joined records.
//
// Each joined record is one prediction request: its rows' predictions and
// their labels, one per row. The task is the monitor's, or, when it names
// none, classification if any label or prediction is text or a boolean, a
// prediction is a list of class probabilities, or every label and
// prediction is a whole number; regression otherwise.
//
// Classification: a prediction that is a list of probabilities predicts
// the index of its largest; labels and predicted labels are compared as
// values (1 and 1.0 are one class). Accuracy, F1 (binary: of the larger
// class in sorted order, "1" of 0/1, "yes" of no/yes; more classes: macro
// F1), and ROC AUC when the predictions are two-class probabilities and the
// labels are 0 and 1 (both present). Regression: RMSE and MAE. Computed
// with training/metrics.h, as scikit-learn computes them.
//
// Label delay: feedback time minus prediction time, per request; the
// median and the 90th percentile (nearest rank), in seconds.
//
// Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <vector>

#include "monitoring/live/monitor_store.h"

namespace slipway::monitoring::live {

struct LiveAccuracy {
  std::string task;      // "classification", "regression", "" with no labeled rows
  int64_t requests = 0;  // joined requests
  int64_t rows = 0;      // labeled rows
  std::optional<double> accuracy;
  std::optional<double> f1;
  std::optional<double> roc_auc;
  std::optional<double> rmse;
  std::optional<double> mae;
  std::optional<double> label_delay_p50_seconds;
  std::optional<double> label_delay_p90_seconds;

  // Every field; absent metrics are null.
  nlohmann::json ToJson() const;
};

// `task`: "classification", "regression" or "" (decide, see above).
LiveAccuracy ComputeAccuracy(const std::vector<JoinedRecord>& records, const std::string& task);

}  // namespace slipway::monitoring::live
