// Fairness of a model's holdout predictions across the groups of the spec's
// sensitive columns (`fairness:` in spec.h): metrics per group, and how far
// apart the groups are, as fairlearn defines it.
//
// A group is one value of a sensitive column (its text; a number as the data
// writes it; "(missing)" for a missing value). Each sensitive column is
// assessed on its own; the run's top-level metrics are the worst over the
// columns (the largest difference, the smallest ratio). Intersections of
// columns are not formed.
//
// Classification, with the spec's positive class (binary: predicted when
// P(class 1) > 0.5; multiclass: the most probable class, one-vs-rest):
//
//   per group   count, selection rate (share predicted positive), accuracy,
//               true positive rate, false positive rate, precision
//   demographic_parity_difference   max - min selection rate
//   disparate_impact_ratio          min / max selection rate (fairlearn's
//                                   demographic_parity_ratio; NaN when no
//                                   group is selected at all)
//   equal_opportunity_difference    max - min true positive rate
//   equalized_odds_difference       the larger of the TPR and FPR spreads
//
// As in fairlearn (whose rates come from scikit-learn's normalised
// confusion matrix), a group with no positive rows has a true positive rate
// of 0, and one with no negative rows a false positive rate of 0; the
// report keeps each group's positives and negatives so such a group shows.
// Precision of a group that selects nobody is 0 (scikit-learn's default).
//
// Regression: per group count, MAE, RMSE, mean prediction and mean target;
// mae_difference and rmse_difference (max - min over the groups).
//
// The metrics the run logs and gates name are "fairness.<name>" (the worst
// column) and "fairness.<column>.<name>" (FairnessMetricNames). Pure
// functions; thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "training/spec.h"
#include "training/table.h"

namespace slipway::training {

struct TrainingOutcome;

// The group of a missing value of a sensitive column.
inline constexpr const char* kMissingGroup = "(missing)";

// The most groups a sensitive column may have (PlanTraining refuses more):
// a column with more is an identifier or a measurement, and its groups'
// rates over a few holdout rows each would say little. Bin it first.
inline constexpr int kMaxSensitiveGroups = 50;

// Whether a column's name can sit between the dots of a metric key
// (letters, digits, '_', '-', ' '): a column with other characters is in
// the JSON reports but not in the run's metrics.
bool FitsInMetricKey(std::string_view name);

// The metrics a spec's `fairness:` yields, by the names gates and the run
// use: "fairness.<name>" and, for each sensitive column whose name fits in
// a metric key (letters, digits, '_', '-', ' '), "fairness.<column>.<name>".
std::vector<std::string> FairnessMetricNames(Task task, const Fairness& fairness);

// The rows of one sensitive column in groups: names in report order
// (numbers by value, texts by text, missing last) and each row's group.
struct GroupedRows {
  std::vector<std::string> names;
  std::vector<size_t> group_of_row;  // an index into names, per row
};

// `rows` of `column` grouped by value.
GroupedRows GroupRows(const TableColumn& column, std::span<const size_t> rows);

struct GroupMetrics {
  std::string group;
  int64_t count = 0;
  // Classification.
  int64_t positives = 0;  // rows whose true class is the positive class
  int64_t negatives = 0;
  int64_t selected = 0;  // rows predicted as the positive class
  double selection_rate = 0;
  double accuracy = 0;
  double true_positive_rate = 0;
  double false_positive_rate = 0;
  double precision = 0;
  // Regression.
  double mae = 0;
  double rmse = 0;
  double mean_prediction = 0;
  double mean_target = 0;
};

struct SensitiveColumnFairness {
  std::string column;
  bool feature = false;  // the model reads the column
  GroupMetrics overall;  // every row, as one group
  std::vector<GroupMetrics> groups;
  // demographic_parity_difference, ... (regression: mae_difference, ...).
  std::map<std::string, double> disparities;
};

// One column's groups. Classification: `y` and `predicted` are class indices
// and `positive` the positive class's; regression: values (`positive`
// unused).
SensitiveColumnFairness AssessGroups(Task task, const std::string& column,
                                     const GroupedRows& grouped, std::span<const double> y,
                                     std::span<const double> predicted, double positive);

struct FairnessReport {
  Task task = Task::kBinary;
  std::string positive_class;  // classification: its label
  size_t rows = 0;
  std::string scope = "holdout";  // which rows, as printed: "holdout", "evaluated"
  std::vector<SensitiveColumnFairness> columns;
  // The run's metrics (FairnessMetricNames); NaN where undefined.
  std::map<std::string, double> metrics;

  // fairness/report.json: every number above, NaN as null.
  nlohmann::json ToJson() const;
};

// Predicted labels of a prediction matrix (metrics.h's shapes): binary
// P(class 1) > 0.5, multiclass the most probable class (ties: the lower
// index), regression the values themselves.
std::vector<double> PredictedLabels(Task task, const Matrix& predictions);

// The index of `label` in `classes`: the same text, the same number ("1"
// and "1.0") or the same bool ("true" and "True"); nullopt when none is.
std::optional<size_t> ClassIndex(const std::vector<std::string>& classes, std::string_view label);

// The spec's fairness on `rows` of `table` (which holds the sensitive
// columns) with labels `y` and `predictions` of those rows; `classes` the
// target's (EncodedTarget's). INVALID_PARAMETER_VALUE naming the spec's line
// when the positive class is none of them.
FairnessReport AssessFairness(const TrainingSpec& spec, const std::vector<std::string>& features,
                              const std::vector<std::string>& classes, const Table& table,
                              std::span<const size_t> rows, std::span<const double> y,
                              const Matrix& predictions);

// The final model's fairness on the holdout of `outcome`.
FairnessReport AssessFairness(const TrainingSpec& spec, const Table& table,
                              const TrainingOutcome& outcome);

// What `slipway train` prints: a table of groups per sensitive column.
std::string FormatFairness(const FairnessReport& report);

}  // namespace slipway::training
