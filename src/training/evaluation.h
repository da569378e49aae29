// The evaluation of a model's predictions on labelled rows (a training's
// holdout, or the rows `slipway evaluate` scores), as the artifacts a run
// keeps under `evaluation/`: the numbers as JSON and the charts people look
// at as SVG (charts.h).
//
//   metrics.json            every metric of the task (metrics.h), the rows,
//                           the classes and the confusion matrix
//   classification:
//     roc_curve.json/.svg          sklearn's roc_curve, one curve per class
//     pr_curve.json/.svg           precision_recall_curve      one-vs-rest
//     calibration_curve.json/.svg  calibration_curve, 10 uniform bins  (binary:
//                                  the positive class only)
//   regression:
//     residuals.json/.svg   predicted against residual (y - predicted)
//
// Explanations of the model itself (explain.h) are added by the caller:
// feature importance, coefficients, SHAP.
//
// Every curve's JSON holds the points as lists of doubles at full
// precision; +infinity (ROC's first threshold) is written as null.
//
// Pure functions; thread-safe.
#pragma once

#include <map>
#include <span>
#include <string>
#include <vector>

#include "training/metrics.h"
#include "training/spec.h"
#include "training/table.h"
#include "training/training_run.h"

namespace slipway::training {

// One file of an evaluation: its path under the run's `evaluation/` folder.
struct EvaluationFile {
  std::string name;  // "roc_curve.svg"
  std::string bytes;
};

struct EvaluationReport {
  Evaluation evaluation;                      // the metrics and the confusion matrix
  std::map<std::string, double> explanation;  // explain.h's metrics (importance, SHAP, ...)
  std::vector<EvaluationFile> files;
};

// What is evaluated: labels `y` (class indices, or values) of the rows the
// model predicted, `predictions` as metrics.h reads them, and the classes'
// labels (classification) for legends and JSON.
struct EvaluationInput {
  Task task = Task::kBinary;
  std::vector<std::string> classes;  // classification: index -> label
  std::span<const double> y;
  const Matrix* predictions = nullptr;
  std::string title;  // what the charts' titles name, e.g. "cancer@1 holdout"
};

// The metrics and every file listed above. INVALID_PARAMETER_VALUE when
// the predictions do not fit the task (Evaluate's errors).
EvaluationReport EvaluatePredictions(const EvaluationInput& input);

// The whole evaluation of a training's final model on its holdout rows:
// EvaluatePredictions of outcome.holdout_predictions, and Explain (explain.h)
// of the model with its holdout rows after the fitted preprocessing (SHAP
// rows named by their row in the dataset). `table` is the one the outcome
// was trained on.
EvaluationReport EvaluateTraining(const TrainingSpec& spec, const Table& table,
                                  const TrainingOutcome& outcome, const std::string& title);

// At most this many points of a residual plot are drawn (the JSON has all).
constexpr size_t kMaxResidualPoints = 5000;

}  // namespace slipway::training
