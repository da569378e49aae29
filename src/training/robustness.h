// Robustness of a fitted model on its holdout rows (`robustness:` in
// spec.h): how much its predictions move under small noise on the numeric
// features, and with one feature missing at a time.
//
//   noise     each numeric feature (not a bool) gets Gaussian noise of std
//             noise x the feature's population std on the training rows;
//             missing values stay missing. Reported per feature (that
//             feature alone perturbed) and for all of them at once, with
//             the same draws: one standard normal per holdout row and
//             numeric feature, from std::mt19937_64 seeded with the spec's
//             seed, by Box-Muller (GaussianNoise), not std::normal_distribution,
//             whose algorithm each standard library picks.
//   missing   each feature in turn set missing on every holdout row, then
//             transformed by the model's own preprocessing: imputed (median,
//             mean, most frequent or the missing category, as fitted), or
//             kept missing for XGBoost's native handling (impute: none).
//
// For each perturbation: classification, the share of rows whose predicted
// class changes (flip rate; binary at P(class 1) > 0.5, multiclass the most
// probable class); regression, the mean absolute change of the prediction;
// and the drop of the spec's metric: how much worse it is than on the
// unperturbed rows (positive: worse, whichever way the metric points).
//
// The run's metrics (RobustnessMetricNames; gates name them):
//   robustness.noise_flip_rate            classification: all numeric features noised
//   robustness.noise_mean_abs_change      regression: the same
//   robustness.noise_metric_drop
//   robustness.missing_flip_rate_max      the feature whose absence moves most
//   robustness.missing_mean_abs_change_max
//   robustness.missing_metric_drop_max
// and per feature robustness.<noise|missing>.<feature>.<flip_rate|
// mean_abs_change|metric_drop> when the feature's name fits in a metric key
// (FeatureMetricOf; gates name these too, and the plan checks the feature).
//
// Pure functions; thread-safe (the model's Predict is).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "training/preprocessing.h"
#include "training/spec.h"
#include "training/table.h"
#include "training/trainer.h"

namespace slipway::training {

struct TrainingOutcome;

// The aggregate metrics a spec's `robustness:` yields, by the names gates
// and the run use.
std::vector<std::string> RobustnessMetricNames(Task task, const Robustness& robustness);

// A per-feature metric's name taken apart.
struct FeatureMetric {
  std::string feature;
  bool noise = false;  // else missing
};

// `name` as robustness.<noise|missing>.<feature>.<flip_rate|mean_abs_change|
// metric_drop>, for what `robustness` assesses in `task`; nullopt otherwise.
// Whether the feature exists is the plan's to say.
std::optional<FeatureMetric> FeatureMetricOf(Task task, const Robustness& robustness,
                                             std::string_view name);

// Standard normal draws: Box-Muller over std::mt19937_64's 53-bit uniforms.
// Not thread-safe.
class GaussianNoise {
 public:
  explicit GaussianNoise(uint64_t seed) : rng_(seed) {}
  double Next();

 private:
  std::mt19937_64 rng_;
  std::optional<double> spare_;
};

// How predictions moved under one perturbation.
struct PredictionChange {
  double changed = 0;  // classification: flip rate; regression: mean |change|
  double metric = 0;   // the spec's metric on the perturbed predictions
  double metric_drop = 0;
};

// `after` against `before` (predictions of the same rows, labels `y`);
// `baseline` is `metric` on `before`. All NaN when `after` holds a NaN.
PredictionChange ComparePredictions(Task task, int64_t classes, const std::string& metric,
                                    double baseline, std::span<const double> y,
                                    const Matrix& before, const Matrix& after);

struct FeatureRobustness {
  std::string feature;
  bool numeric = false;
  double noise_std = 0;                     // numeric: the noise's std on this feature
  std::optional<PredictionChange> noise;    // numeric features, when noise > 0
  std::optional<PredictionChange> missing;  // when missing: true
};

struct RobustnessReport {
  Task task = Task::kBinary;
  std::string metric;   // the spec's
  double baseline = 0;  // the metric on the unperturbed holdout
  double noise = 0;     // the spec's multiple of each feature's std
  bool missing = false;
  uint64_t seed = 0;
  size_t rows = 0;
  std::string scope = "holdout";              // which rows, as printed: "holdout", "evaluated"
  std::optional<PredictionChange> noise_all;  // every numeric feature noised at once
  std::vector<FeatureRobustness> features;    // in the model's feature order
  std::map<std::string, double> metrics;      // the run's; NaN where undefined

  // robustness/report.json: every number above, NaN as null.
  nlohmann::json ToJson() const;
};

// The robustness of `model` (with its fitted `preprocessor`) on `rows` of
// `table`, whose labels are `y`; feature stds come from `training_rows`.
RobustnessReport AssessRobustness(const Robustness& options, uint64_t seed, Task task,
                                  int64_t classes, const std::string& metric, const Table& table,
                                  std::span<const size_t> training_rows,
                                  std::span<const size_t> rows, std::span<const double> y,
                                  const Preprocessor& preprocessor, const FittedModel& model);

// What a model predicts of the rows assessed: `rows` holds only them (row
// i is the i-th assessed), one column per feature in the order given,
// perturbed or not. A Matrix holding a NaN is a model that could not
// predict them (ComparePredictions reports NaN).
using PredictTable = std::function<Matrix(const Table& rows)>;

// The same assessment of any model (`slipway evaluate`: one loaded as
// serving loads it) reading the columns `features` of `table`, predicted
// by `predict`; the first call predicts the unperturbed rows.
RobustnessReport AssessRobustness(const Robustness& options, uint64_t seed, Task task,
                                  int64_t classes, const std::string& metric, const Table& table,
                                  std::span<const size_t> training_rows,
                                  std::span<const size_t> rows, std::span<const double> y,
                                  const std::vector<std::string>& features,
                                  const PredictTable& predict);

// The final model's robustness on the holdout of `outcome`, as the spec asks.
RobustnessReport AssessRobustness(const TrainingSpec& spec, const Table& table,
                                  const TrainingOutcome& outcome);

// What `slipway train` prints: a line per feature.
std::string FormatRobustness(const RobustnessReport& report);

}  // namespace slipway::training
