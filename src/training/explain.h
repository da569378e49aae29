// Explanations of a fitted model, logged beside its evaluation
// (evaluation.h) under a run's `evaluation/` folder:
//
//   XGBoost (a model file XGBoost loads: model.ubj, model.json, model.xgb)
//     feature_importance.json  XGBoost's own scores (XGBoosterFeatureScore)
//                              of every type: weight (splits), gain and
//                              cover (means per split), as
//                              Booster.get_score(importance_type=...) gives
//     feature_importance.svg   gain, the 20 largest
//     shap_importance.json     mean |SHAP value| per feature over the rows
//                              (multiclass: per class, and summed over classes)
//     shap_importance.svg      the same, the 20 largest
//     shap_values.csv          TreeSHAP contributions of the first
//                              `max_shap_rows` rows: one line per row (and
//                              class), one column per feature, then `bias`;
//                              the row's contributions sum to its margin
//   linear and logistic (model.json of linear_trainer.cc)
//     coefficients.json/.svg   intercept and coefficients: on the features
//                              as the model sees them (after scaling and
//                              one-hot encoding)
//
// SHAP values are XGBoost's TreeSHAP through its C API
// (XGBoosterPredictFromDMatrix, type 2 "contribs"), the numbers Python's
// Booster.predict(pred_contribs=True) gives on the same file and rows.
//
// The metrics (Explanation::metrics) name the scores for the tracking
// server and for gates (spec.h, IsExplanationMetric): importance.gain.<feature>
// (0 for a feature no tree splits on), importance.weight.<feature>,
// importance.cover.<feature>, shap.mean_abs.<feature>, coefficient.<feature>
// (multiclass: coefficient.<class>.<feature>); a feature's name with
// characters MLflow refuses in a key has them replaced ('=' by ':', others by
// '_').
//
// Pure functions; thread-safe (each call loads its own booster).
#pragma once

#include <cstddef>
#include <map>
#include <string>
#include <vector>

#include "training/evaluation.h"
#include "training/spec.h"
#include "training/table.h"

namespace slipway::training {

// TreeSHAP contributions: rows x groups x width, width the model's features
// plus one (the bias, last); groups 1, or one per class (multiclass).
struct ShapValues {
  size_t rows = 0;
  size_t groups = 0;
  size_t width = 0;
  std::vector<double> values;
  double operator()(size_t row, size_t group, size_t column) const {
    return values[(row * groups + group) * width + column];
  }
};

// An XGBoost model file's own feature names (f0, f1, ... when it has none).
std::vector<std::string> XgboostFeatureNames(const std::string& model_bytes);

// XGBoost's importance of `type` (weight, gain, cover, total_gain,
// total_cover) per feature it splits on, by feature name.
std::map<std::string, double> XgboostImportance(const std::string& model_bytes,
                                                const std::string& type);

// TreeSHAP of the rows of `x` (the model's columns, NaN missing).
// INVALID_PARAMETER_VALUE when x has another number of columns.
ShapValues XgboostShap(const std::string& model_bytes, const Matrix& x);

// The model's predictions of the rows of `x` (XGBoost's type 0: P(class 1),
// class probabilities, or values): rows x outputs, as metrics.h reads them.
// What `slipway evaluate` uses for an XGBClassifier logged with
// mlflow.xgboost, whose served answer is a label, not a probability.
Matrix XgboostPredict(const std::string& model_bytes, const Matrix& x);

struct ExplanationInput {
  Task task = Task::kBinary;
  std::vector<std::string> classes;  // classification: index -> label
  std::string model_name;            // the model file's name: model.ubj, model.json, ...
  std::string model_bytes;
  bool xgboost = true;  // false: a linear model's model.json
  // SHAP (XGBoost): the rows explained as the model sees them, and what each
  // is called in shap_values.csv (e.g. its row in the dataset).
  const Matrix* x = nullptr;
  std::vector<size_t> row_ids;
  size_t max_shap_rows = 1000;
  std::string title;  // what the charts' titles name
};

struct Explanation {
  std::vector<EvaluationFile> files;
  std::map<std::string, double> metrics;
};

Explanation Explain(const ExplanationInput& input);

// `name` as a metric key's part MLflow accepts (see above).
std::string MetricKeyPart(const std::string& name);

}  // namespace slipway::training
