// A training spec: the YAML file `slipway train` reads. It names the dataset
// version, the target and features, the task, the preprocessing, the model
// with its fixed parameters and search space, the validation scheme, the
// metric to optimise, the gates, and the registered model to create.
//
//   data: churn@2                 # or churn@latest, churn
//   target: churned
//   features: [age, plan, income] # default: every other column
//   exclude: [customer_id]
//   task: binary                  # binary | multiclass | regression
//   preprocessing:
//     impute: {numeric: median, categorical: most_frequent}
//     categorical: onehot         # onehot | native
//     scale: none                 # none | standard | minmax
//   model:
//     type: xgboost               # xgboost | linear | logistic
//     params: {max_depth: 6, eta: 0.1, num_boost_round: 200}
//   search:
//     algorithm: tpe              # random | tpe | halving
//     trials: 50
//     space:
//       max_depth: {int: [2, 10]}
//       eta: {log_uniform: [0.01, 0.3]}
//       grow_policy: {choice: [depthwise, lossguide]}
//   cv: {scheme: stratified, folds: 5}   # kfold | stratified | grouped (group:) | time (time:)
//   holdout: 0.2
//   metric: roc_auc
//   seed: 7
//   fairness:                     # per-group metrics on the holdout (fairness.h)
//     sensitive: [gender, age_band]
//     positive_class: 1           # binary default: the second class
//   robustness: {noise: 0.05, missing: true}   # robustness.h
//   gates:
//     - {metric: roc_auc, min: 0.8}
//     - {champion: production, metric: roc_auc, margin: 0.01}
//     - {metric: fairness.demographic_parity_difference, max: 0.1}
//   register: {model: churn, alias: candidate}
//
// What `slipway train` does with a spec today: the folds and the holdout
// (training_run.h); `search:` with random search, TPE or successive
// halving, trials resumable from the tracking server (tuning.h); `gates:`
// on the holdout, champion gates against the model at the alias with a
// paired bootstrap interval at `confidence` (gates.h); `register:` when
// every gate passes (the CLI); `fairness:` and `robustness:` on the final
// model's holdout predictions, their metrics gateable by name
// (fairness.demographic_parity_difference, robustness.noise_flip_rate).
// The trained model travels as an MLflow Model folder whose `slipway` flavor
// names the fitted preprocessing (preprocessing.json) beside the model file:
// see model_folder.h.
//
// ParseSpec checks everything the file alone can tell (keys, types, ranges,
// parameters the model knows, metrics the task has, a search space that can
// be sampled); PlanTraining (plan.h) checks it against the data. Every error
// names the file, line and column. Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace slipway::training {

// Where a value was written, for errors found after parsing (a column the
// data does not have). line and column count from 1; 0 when unknown.
struct Position {
  int line = 0;
  int column = 0;
};

// A name and where it was written.
struct Named {
  std::string name;
  Position at;
};

enum class Task { kBinary, kMulticlass, kRegression };
enum class ModelType { kXgboost, kLinear, kLogistic };
enum class NumericImputation { kMedian, kMean, kNone };
enum class CategoricalImputation { kMostFrequent, kMissingCategory };
enum class CategoricalEncoding { kOneHot, kNative };
enum class Scaling { kNone, kStandard, kMinMax };
enum class SearchAlgorithm { kNone, kRandom, kTpe, kHalving };
enum class CvScheme { kKFold, kStratified, kGrouped, kTime };

std::string_view TaskName(Task task);
std::string_view ModelTypeName(ModelType type);
std::string_view SearchAlgorithmName(SearchAlgorithm algorithm);
std::string_view CvSchemeName(CvScheme scheme);

struct Preprocessing {
  NumericImputation numeric = NumericImputation::kMedian;
  CategoricalImputation categorical_missing = CategoricalImputation::kMostFrequent;
  CategoricalEncoding categorical = CategoricalEncoding::kOneHot;
  Scaling scale = Scaling::kNone;
};

// A fixed parameter's value: a number or a text (tree_method: hist).
using ParamValue = std::variant<double, std::string>;

// One dimension of the search space.
struct SearchDimension {
  enum class Kind { kInt, kUniform, kLogUniform, kChoice };
  std::string name;
  Kind kind = Kind::kUniform;
  double low = 0;  // kInt, kUniform, kLogUniform: inclusive bounds
  double high = 0;
  std::vector<ParamValue> choices;  // kChoice
  Position at;
};

struct Search {
  SearchAlgorithm algorithm = SearchAlgorithm::kNone;
  int64_t trials = 1;
  std::vector<SearchDimension> space;
};

struct CrossValidation {
  CvScheme scheme = CvScheme::kKFold;
  int64_t folds = 5;
  std::optional<Named> group;  // kGrouped: rows of a group stay in one fold
  std::optional<Named> time;   // kTime: folds follow this column's order
};

// A gate: a threshold on a metric of the candidate on the holdout, or
// (champion) the candidate against the model at `models:/<register.model>@<champion>`.
struct Gate {
  std::string metric;
  std::optional<double> min;
  std::optional<double> max;
  std::optional<std::string> champion;  // an alias
  double margin = 0;                    // champion: by at least this much
  double confidence = 0.95;             // champion: of the paired bootstrap interval
  Position at;
};

// `fairness:`: the holdout's metrics per group of each sensitive column
// (fairness.h). A list of names is short for {sensitive: [...]}. Sensitive
// columns are read whether or not they are features (`exclude` keeps them
// out of the model).
struct Fairness {
  std::vector<Named> sensitive;
  // Classification: the class whose selection is compared (its label as the
  // data writes it). Binary default: the second class (1 of 0/1, true of a
  // bool); a multiclass task must name one.
  std::optional<Named> positive_class;
};

// `robustness:`: the final model's holdout predictions under small noise on
// each numeric feature and with each feature missing in turn (robustness.h).
struct Robustness {
  double noise = 0.05;  // noise std = noise x the feature's std on the training rows; 0: off
  bool missing = true;  // each feature set missing in turn
};

struct Registration {
  std::string model;
  std::string alias;  // set when every gate passes; "" sets none
};

struct TrainingSpec {
  std::string source;  // the file's name, for messages
  Named data;          // a dataset reference, e.g. "churn@2"
  Named target;
  std::vector<Named> features;  // empty: every column but the target and `exclude`
  std::vector<Named> exclude;
  std::optional<Fairness> fairness;
  std::optional<Robustness> robustness;
  Task task = Task::kBinary;
  Preprocessing preprocessing;
  ModelType model = ModelType::kXgboost;
  std::map<std::string, ParamValue> params;  // fixed parameters
  Search search;
  CrossValidation cv;
  double holdout = 0.2;  // share of rows kept out of training and tuning
  std::string metric;    // optimised; default by task
  uint64_t seed = 0;
  std::vector<Gate> gates;
  std::optional<Registration> register_as;
};

// The spec in `text`; `source` names it in errors. `overrides` are
// "dotted.key=value" settings applied over the file (`--set`), the value
// read as YAML (model.params.max_depth=4, holdout=0.25, features=[a, b]).
// INVALID_PARAMETER_VALUE with "source:line:column: key.path: what".
TrainingSpec ParseSpec(std::string_view text, const std::string& source,
                       const std::vector<std::string>& overrides = {});

// Metrics by task, and whether greater is better.
bool IsMetricOf(Task task, std::string_view metric);
// A metric of the model's explanation (training/explain.h), which a
// threshold gate may name but nothing optimises or compares with a
// champion: importance.weight.<feature>, importance.gain.<feature>,
// importance.cover.<feature>, shap.mean_abs.<feature>, coefficient.<feature>
// (a feature after preprocessing, with explain.h's MetricKeyPart).
bool IsExplanationMetric(std::string_view metric);
bool GreaterIsBetter(std::string_view metric);
std::string_view DefaultMetric(Task task);

}  // namespace slipway::training
