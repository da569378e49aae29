#include "training/fairness.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <limits>
#include <map>

#include "training/plan.h"
#include "training/training_run.h"

namespace slipway::training {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

constexpr std::string_view kClassificationDisparities[] = {
    "demographic_parity_difference", "disparate_impact_ratio", "equal_opportunity_difference",
    "equalized_odds_difference"};
constexpr std::string_view kRegressionDisparities[] = {"mae_difference", "rmse_difference"};

std::span<const std::string_view> DisparitiesOf(Task task) {
  if (task == Task::kRegression) return kRegressionDisparities;
  return kClassificationDisparities;
}

// A ratio is better when larger; the worst column has the smallest.
bool IsRatio(std::string_view name) { return name.ends_with("_ratio"); }

std::optional<double> AsNumber(std::string_view text) {
  double value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

// A bool as the CSV reader reads one (true, True, TRUE; false, ...): the
// profile keeps the text, EncodeTarget writes true and false.
std::optional<bool> AsBool(std::string_view text) {
  if (text == "true" || text == "True" || text == "TRUE") return true;
  if (text == "false" || text == "False" || text == "FALSE") return false;
  return std::nullopt;
}

// max - min over the groups (0 for one group).
double Spread(const std::vector<GroupMetrics>& groups, double GroupMetrics::*field) {
  if (groups.empty()) return kNaN;
  double low = groups.front().*field, high = low;
  for (const GroupMetrics& g : groups) {
    low = std::min(low, g.*field);
    high = std::max(high, g.*field);
  }
  return high - low;
}

double Rate(int64_t part, int64_t whole) {
  return whole == 0 ? 0 : static_cast<double>(part) / static_cast<double>(whole);
}

// The metrics of the rows in `members`.
GroupMetrics MetricsOf(Task task, std::string name, const std::vector<size_t>& members,
                       std::span<const double> y, std::span<const double> predicted,
                       double positive) {
  GroupMetrics g;
  g.group = std::move(name);
  g.count = static_cast<int64_t>(members.size());
  if (members.empty()) return g;
  if (task == Task::kRegression) {
    double abs_sum = 0, square_sum = 0, prediction_sum = 0, target_sum = 0;
    for (size_t i : members) {
      const double error = y[i] - predicted[i];
      abs_sum += std::abs(error);
      square_sum += error * error;
      prediction_sum += predicted[i];
      target_sum += y[i];
    }
    const double n = static_cast<double>(members.size());
    g.mae = abs_sum / n;
    g.rmse = std::sqrt(square_sum / n);
    g.mean_prediction = prediction_sum / n;
    g.mean_target = target_sum / n;
    return g;
  }
  int64_t correct = 0, true_positives = 0, false_positives = 0;
  for (size_t i : members) {
    const bool actual = y[i] == positive;
    const bool chosen = predicted[i] == positive;
    correct += y[i] == predicted[i];
    g.positives += actual;
    g.selected += chosen;
    true_positives += actual && chosen;
    false_positives += !actual && chosen;
  }
  g.negatives = g.count - g.positives;
  g.selection_rate = Rate(g.selected, g.count);
  g.accuracy = Rate(correct, g.count);
  g.true_positive_rate = Rate(true_positives, g.positives);
  g.false_positive_rate = Rate(false_positives, g.negatives);
  g.precision = Rate(true_positives, g.selected);
  return g;
}

// A number as JSON; NaN and infinities as null.
nlohmann::json Finite(double value) {
  return std::isfinite(value) ? nlohmann::json(value) : nlohmann::json(nullptr);
}

nlohmann::json GroupJson(Task task, const GroupMetrics& g) {
  nlohmann::json out = {{"group", g.group}, {"count", g.count}};
  if (task == Task::kRegression) {
    out["mae"] = Finite(g.mae);
    out["rmse"] = Finite(g.rmse);
    out["mean_prediction"] = Finite(g.mean_prediction);
    out["mean_target"] = Finite(g.mean_target);
    return out;
  }
  out["positives"] = g.positives;
  out["negatives"] = g.negatives;
  out["selected"] = g.selected;
  out["selection_rate"] = Finite(g.selection_rate);
  out["accuracy"] = Finite(g.accuracy);
  out["true_positive_rate"] = Finite(g.true_positive_rate);
  out["false_positive_rate"] = Finite(g.false_positive_rate);
  out["precision"] = Finite(g.precision);
  return out;
}

}  // namespace

bool FitsInMetricKey(std::string_view name) {
  if (name.empty()) return false;
  for (unsigned char c : name) {
    if (!std::isalnum(c) && c != '_' && c != '-' && c != ' ') return false;
  }
  return true;
}

std::vector<std::string> FairnessMetricNames(Task task, const Fairness& fairness) {
  std::vector<std::string> names;
  for (std::string_view d : DisparitiesOf(task)) names.push_back(fmt::format("fairness.{}", d));
  for (const Named& column : fairness.sensitive) {
    if (!FitsInMetricKey(column.name)) continue;
    for (std::string_view d : DisparitiesOf(task))
      names.push_back(fmt::format("fairness.{}.{}", column.name, d));
  }
  return names;
}

GroupedRows GroupRows(const TableColumn& column, std::span<const size_t> rows) {
  // Group keys: a category's text or a number; missing sorts last.
  struct Key {
    bool missing = false;
    double number = 0;
    std::string text;
    bool operator<(const Key& o) const {
      if (missing != o.missing) return o.missing;
      if (number != o.number) return number < o.number;
      return text < o.text;
    }
  };
  std::map<Key, std::vector<size_t>> members;
  for (size_t i = 0; i < rows.size(); ++i) {
    const double v = column.values[rows[i]];
    Key key;
    if (std::isnan(v)) {
      key.missing = true;
    } else if (column.categorical) {
      key.text = column.categories[static_cast<size_t>(v)];
    } else {
      key.number = v;
    }
    members[key].push_back(i);
  }
  GroupedRows grouped;
  grouped.group_of_row.resize(rows.size());
  for (const auto& [key, positions] : members) {
    for (size_t i : positions) grouped.group_of_row[i] = grouped.names.size();
    if (key.missing) {
      grouped.names.push_back(kMissingGroup);
    } else if (column.categorical) {
      grouped.names.push_back(key.text);
    } else if (column.boolean) {
      grouped.names.push_back(key.number == 1 ? "true" : "false");
    } else {
      grouped.names.push_back(fmt::format("{}", key.number));
    }
  }
  return grouped;
}

SensitiveColumnFairness AssessGroups(Task task, const std::string& column,
                                     const GroupedRows& grouped, std::span<const double> y,
                                     std::span<const double> predicted, double positive) {
  SensitiveColumnFairness out;
  out.column = column;
  std::vector<std::vector<size_t>> members(grouped.names.size());
  std::vector<size_t> everyone(grouped.group_of_row.size());
  for (size_t i = 0; i < grouped.group_of_row.size(); ++i) {
    members[grouped.group_of_row[i]].push_back(i);
    everyone[i] = i;
  }
  out.overall = MetricsOf(task, "overall", everyone, y, predicted, positive);
  for (size_t g = 0; g < members.size(); ++g) {
    if (members[g].empty()) continue;
    out.groups.push_back(MetricsOf(task, grouped.names[g], members[g], y, predicted, positive));
  }
  if (task == Task::kRegression) {
    out.disparities["mae_difference"] = Spread(out.groups, &GroupMetrics::mae);
    out.disparities["rmse_difference"] = Spread(out.groups, &GroupMetrics::rmse);
    return out;
  }
  double low = kNaN, high = kNaN;
  for (const GroupMetrics& g : out.groups) {
    low = std::isnan(low) ? g.selection_rate : std::min(low, g.selection_rate);
    high = std::isnan(high) ? g.selection_rate : std::max(high, g.selection_rate);
  }
  const double tpr = Spread(out.groups, &GroupMetrics::true_positive_rate);
  const double fpr = Spread(out.groups, &GroupMetrics::false_positive_rate);
  out.disparities["demographic_parity_difference"] = high - low;
  out.disparities["disparate_impact_ratio"] = high > 0 ? low / high : kNaN;
  out.disparities["equal_opportunity_difference"] = tpr;
  out.disparities["equalized_odds_difference"] = std::max(tpr, fpr);
  return out;
}

std::vector<double> PredictedLabels(Task task, const Matrix& predictions) {
  std::vector<double> labels(predictions.rows);
  for (size_t i = 0; i < predictions.rows; ++i) {
    if (task == Task::kRegression) {
      labels[i] = predictions(i, 0);
    } else if (task == Task::kBinary) {
      labels[i] = predictions(i, 0) > 0.5 ? 1 : 0;
    } else {
      const double* row = &predictions.values[i * predictions.cols];
      labels[i] = static_cast<double>(std::max_element(row, row + predictions.cols) - row);
    }
  }
  return labels;
}

std::optional<size_t> ClassIndex(const std::vector<std::string>& classes, std::string_view label) {
  for (size_t i = 0; i < classes.size(); ++i)
    if (classes[i] == label) return i;
  if (const std::optional<double> number = AsNumber(label)) {
    for (size_t i = 0; i < classes.size(); ++i)
      if (AsNumber(classes[i]) == number) return i;
  }
  if (const std::optional<bool> flag = AsBool(label)) {
    for (size_t i = 0; i < classes.size(); ++i)
      if (AsBool(classes[i]) == flag) return i;
  }
  return std::nullopt;
}

FairnessReport AssessFairness(const TrainingSpec& spec, const std::vector<std::string>& features,
                              const std::vector<std::string>& classes, const Table& table,
                              std::span<const size_t> rows, std::span<const double> y,
                              const Matrix& predictions) {
  FairnessReport report;
  report.task = spec.task;
  report.rows = rows.size();
  double positive = 0;
  if (spec.task != Task::kRegression) {
    size_t index = 1;  // binary default: the second class
    if (spec.fairness->positive_class) {
      const Named& named = *spec.fairness->positive_class;
      const std::optional<size_t> found = ClassIndex(classes, named.name);
      if (!found) {
        std::string known;
        for (const std::string& c : classes) known += (known.empty() ? "" : ", ") + c;
        FailAt(spec, named.at, "fairness.positive_class",
               "no class '" + named.name + "' in the target (its classes: " + known + ")");
      }
      index = *found;
    }
    positive = static_cast<double>(index);
    report.positive_class = classes.at(index);
  }
  const std::vector<double> predicted = PredictedLabels(spec.task, predictions);
  for (const Named& name : spec.fairness->sensitive) {
    const TableColumn& column = table.Get(name.name);
    SensitiveColumnFairness assessed =
        AssessGroups(spec.task, name.name, GroupRows(column, rows), y, predicted, positive);
    assessed.feature = std::find(features.begin(), features.end(), name.name) != features.end();
    report.columns.push_back(std::move(assessed));
  }
  for (std::string_view d : DisparitiesOf(spec.task)) {
    const std::string key(d);
    double worst = report.columns.empty() ? kNaN : report.columns.front().disparities.at(key);
    for (const SensitiveColumnFairness& c : report.columns) {
      const double v = c.disparities.at(key);
      if (std::isnan(v) || std::isnan(worst)) {
        worst = kNaN;
      } else {
        worst = IsRatio(d) ? std::min(worst, v) : std::max(worst, v);
      }
      if (FitsInMetricKey(c.column)) report.metrics[fmt::format("fairness.{}.{}", c.column, d)] = v;
    }
    report.metrics[fmt::format("fairness.{}", d)] = worst;
  }
  return report;
}

FairnessReport AssessFairness(const TrainingSpec& spec, const Table& table,
                              const TrainingOutcome& outcome) {
  std::vector<double> y;
  y.reserve(outcome.split.holdout.size());
  for (size_t row : outcome.split.holdout) y.push_back(outcome.target.y[row]);
  std::vector<std::string> features;
  for (const FeatureTransform& f : outcome.preprocessor.features()) features.push_back(f.name);
  return AssessFairness(spec, features, outcome.target.classes, table, outcome.split.holdout, y,
                        outcome.holdout_predictions);
}

nlohmann::json FairnessReport::ToJson() const {
  nlohmann::json out = {{"task", std::string(TaskName(task))}, {"rows", rows}};
  if (task != Task::kRegression) out["positive_class"] = positive_class;
  out["columns"] = nlohmann::json::array();
  for (const SensitiveColumnFairness& c : columns) {
    nlohmann::json column = {{"column", c.column},
                             {"feature", c.feature},
                             {"overall", GroupJson(task, c.overall)},
                             {"groups", nlohmann::json::array()}};
    for (const GroupMetrics& g : c.groups) column["groups"].push_back(GroupJson(task, g));
    for (const auto& [name, value] : c.disparities) column[name] = Finite(value);
    out["columns"].push_back(std::move(column));
  }
  out["metrics"] = nlohmann::json::object();
  for (const auto& [name, value] : metrics) out["metrics"][name] = Finite(value);
  return out;
}

std::string FormatFairness(const FairnessReport& report) {
  std::string out;
  const bool regression = report.task == Task::kRegression;
  for (const SensitiveColumnFairness& c : report.columns) {
    out += fmt::format("\nfairness of '{}'{} on {} {} rows{}\n", c.column,
                       c.feature ? "" : " (not a feature)", report.rows, report.scope,
                       regression ? "" : ", positive class " + report.positive_class);
    if (regression) {
      out += fmt::format("  {:<20} {:>7} {:>10} {:>10} {:>12}\n", "group", "rows", "mae", "rmse",
                         "mean pred");
    } else {
      out += fmt::format("  {:<20} {:>7} {:>9} {:>9} {:>9} {:>9} {:>9}\n", "group", "rows",
                         "selected", "accuracy", "tpr", "fpr", "precision");
    }
    for (const GroupMetrics& g : c.groups) {
      if (regression) {
        out += fmt::format("  {:<20} {:>7} {:>10.4f} {:>10.4f} {:>12.4f}\n", g.group, g.count,
                           g.mae, g.rmse, g.mean_prediction);
      } else {
        out += fmt::format("  {:<20} {:>7} {:>9.4f} {:>9.4f} {:>9.4f} {:>9.4f} {:>9.4f}\n", g.group,
                           g.count, g.selection_rate, g.accuracy, g.true_positive_rate,
                           g.false_positive_rate, g.precision);
      }
    }
    std::string line = " ";
    for (const auto& [name, value] : c.disparities) line += fmt::format(" {} {:.4f}", name, value);
    out += line + "\n";
  }
  return out;
}

}  // namespace slipway::training
