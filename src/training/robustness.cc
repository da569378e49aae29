#include "training/robustness.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numbers>
#include <numeric>

#include "training/fairness.h"
#include "training/metrics.h"
#include "training/training_run.h"

namespace slipway::training {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

std::string_view ChangeName(Task task) {
  return task == Task::kRegression ? "mean_abs_change" : "flip_rate";
}

// Population std of the column's present values on `rows` (0 with none).
double StdOf(const TableColumn& column, std::span<const size_t> rows) {
  double sum = 0, squares = 0;
  size_t n = 0;
  for (size_t row : rows) {
    const double v = column.values[row];
    if (std::isnan(v)) continue;
    sum += v;
    ++n;
  }
  if (n == 0) return 0;
  const double mean = sum / static_cast<double>(n);
  for (size_t row : rows) {
    const double v = column.values[row];
    if (!std::isnan(v)) squares += (v - mean) * (v - mean);
  }
  return std::sqrt(squares / static_cast<double>(n));
}

// NaN if any is, else the largest.
double WorstOf(const std::vector<double>& values) {
  if (values.empty()) return kNaN;
  double worst = values.front();
  for (double v : values) {
    if (std::isnan(v)) return kNaN;
    worst = std::max(worst, v);
  }
  return worst;
}

nlohmann::json Finite(double value) {
  return std::isfinite(value) ? nlohmann::json(value) : nlohmann::json(nullptr);
}

nlohmann::json ChangeJson(Task task, const PredictionChange& c) {
  return {{std::string(ChangeName(task)), Finite(c.changed)},
          {"metric", Finite(c.metric)},
          {"metric_drop", Finite(c.metric_drop)}};
}

}  // namespace

std::vector<std::string> RobustnessMetricNames(Task task, const Robustness& robustness) {
  std::vector<std::string> names;
  if (robustness.noise > 0) {
    names.push_back(fmt::format("robustness.noise_{}", ChangeName(task)));
    names.push_back("robustness.noise_metric_drop");
  }
  if (robustness.missing) {
    names.push_back(fmt::format("robustness.missing_{}_max", ChangeName(task)));
    names.push_back("robustness.missing_metric_drop_max");
  }
  return names;
}

std::optional<FeatureMetric> FeatureMetricOf(Task task, const Robustness& robustness,
                                             std::string_view name) {
  constexpr std::string_view kPrefix = "robustness.";
  if (!name.starts_with(kPrefix)) return std::nullopt;
  name.remove_prefix(kPrefix.size());
  const size_t first = name.find('.');
  const size_t last = name.rfind('.');
  if (first == std::string_view::npos || first == last) return std::nullopt;
  FeatureMetric out;
  const std::string_view kind = name.substr(0, first);
  const std::string_view what = name.substr(last + 1);
  out.feature = std::string(name.substr(first + 1, last - first - 1));
  out.noise = kind == "noise";
  if (out.noise ? robustness.noise <= 0 : (kind != "missing" || !robustness.missing)) {
    return std::nullopt;
  }
  if (what != ChangeName(task) && what != "metric_drop") return std::nullopt;
  if (!FitsInMetricKey(out.feature)) return std::nullopt;
  return out;
}

double GaussianNoise::Next() {
  if (spare_) {
    const double z = *spare_;
    spare_.reset();
    return z;
  }
  constexpr double kUnit = 1.0 / 9007199254740992.0;                  // 2^-53
  const double u1 = static_cast<double>((rng_() >> 11) + 1) * kUnit;  // (0, 1]: log is finite
  const double u2 = static_cast<double>(rng_() >> 11) * kUnit;        // [0, 1)
  const double radius = std::sqrt(-2 * std::log(u1));
  const double angle = 2 * std::numbers::pi * u2;
  spare_ = radius * std::sin(angle);
  return radius * std::cos(angle);
}

PredictionChange ComparePredictions(Task task, int64_t classes, const std::string& metric,
                                    double baseline, std::span<const double> y,
                                    const Matrix& before, const Matrix& after) {
  PredictionChange change;
  if (std::any_of(after.values.begin(), after.values.end(),
                  [](double p) { return std::isnan(p); })) {
    // A model that cannot take what it was given (a missing value no
    // preprocessing filled): nothing to compare.
    return {kNaN, kNaN, kNaN};
  }
  const std::vector<double> a = PredictedLabels(task, before);
  const std::vector<double> b = PredictedLabels(task, after);
  double total = 0;
  for (size_t i = 0; i < a.size(); ++i)
    total += task == Task::kRegression ? std::abs(b[i] - a[i]) : (a[i] != b[i] ? 1 : 0);
  change.changed = a.empty() ? kNaN : total / static_cast<double>(a.size());
  change.metric = Evaluate(task, classes, y, after).metrics.at(metric);
  change.metric_drop =
      GreaterIsBetter(metric) ? baseline - change.metric : change.metric - baseline;
  return change;
}

RobustnessReport AssessRobustness(const Robustness& options, uint64_t seed, Task task,
                                  int64_t classes, const std::string& metric, const Table& table,
                                  std::span<const size_t> training_rows,
                                  std::span<const size_t> rows, std::span<const double> y,
                                  const Preprocessor& preprocessor, const FittedModel& model) {
  std::vector<std::string> features;
  for (const FeatureTransform& f : preprocessor.features()) features.push_back(f.name);
  std::vector<size_t> all(rows.size());
  std::iota(all.begin(), all.end(), size_t{0});
  return AssessRobustness(
      options, seed, task, classes, metric, table, training_rows, rows, y, features,
      [&](const Table& t) { return model.Predict(preprocessor.Transform(t, all)); });
}

RobustnessReport AssessRobustness(const Robustness& options, uint64_t seed, Task task,
                                  int64_t classes, const std::string& metric, const Table& table,
                                  std::span<const size_t> training_rows,
                                  std::span<const size_t> rows, std::span<const double> y,
                                  const std::vector<std::string>& features,
                                  const PredictTable& predict) {
  RobustnessReport report;
  report.task = task;
  report.metric = metric;
  report.noise = options.noise;
  report.missing = options.missing;
  report.seed = seed;
  report.rows = rows.size();

  // The rows assessed, alone in a table of the model's features: row i is rows[i].
  Table local;
  local.rows = rows.size();
  for (const std::string& name : features) {
    const TableColumn& source = table.Get(name);
    TableColumn column{source.name, source.categorical, source.boolean, {}, source.categories};
    column.values.reserve(rows.size());
    for (size_t row : rows) column.values.push_back(source.values[row]);
    local.columns.push_back(std::move(column));
  }
  const Matrix before = predict(local);
  report.baseline = Evaluate(task, classes, y, before).metrics.at(metric);
  const auto compare = [&](const Table& t) {
    return ComparePredictions(task, classes, metric, report.baseline, y, before, predict(t));
  };
  // Column j holding `values` for one comparison, then its own again.
  const auto with_column = [&](size_t j, std::vector<double> values) {
    std::swap(local.columns[j].values, values);
    const PredictionChange change = compare(local);
    std::swap(local.columns[j].values, values);
    return change;
  };

  for (size_t j = 0; j < features.size(); ++j) {
    FeatureRobustness f;
    f.feature = features[j];
    f.numeric = !local.columns[j].categorical && !local.columns[j].boolean;
    if (f.numeric) f.noise_std = options.noise * StdOf(table.Get(f.feature), training_rows);
    report.features.push_back(std::move(f));
  }

  if (options.noise > 0) {
    // One draw per row and numeric feature, row after row: the same draws
    // serve each feature alone and all of them at once.
    std::vector<size_t> numeric;
    for (size_t j = 0; j < report.features.size(); ++j)
      if (report.features[j].numeric) numeric.push_back(j);
    std::vector<double> draws(local.rows * numeric.size());
    GaussianNoise noise(seed);
    for (double& z : draws) z = noise.Next();
    Table noisy = local;
    for (size_t k = 0; k < numeric.size(); ++k) {
      const size_t j = numeric[k];
      FeatureRobustness& f = report.features[j];
      std::vector<double>& values = noisy.columns[j].values;
      for (size_t i = 0; i < local.rows; ++i)
        if (!std::isnan(values[i])) values[i] += f.noise_std * draws[i * numeric.size() + k];
      f.noise = with_column(j, values);
    }
    if (!numeric.empty()) report.noise_all = compare(noisy);
  }
  if (options.missing) {
    for (size_t j = 0; j < report.features.size(); ++j)
      report.features[j].missing = with_column(j, std::vector<double>(local.rows, kNaN));
  }

  const std::string change(ChangeName(task));
  if (report.noise_all) {
    report.metrics["robustness.noise_" + change] = report.noise_all->changed;
    report.metrics["robustness.noise_metric_drop"] = report.noise_all->metric_drop;
  }
  if (options.missing && !report.features.empty()) {
    std::vector<double> changed, drops;
    for (const FeatureRobustness& f : report.features) {
      changed.push_back(f.missing->changed);
      drops.push_back(f.missing->metric_drop);
    }
    report.metrics["robustness.missing_" + change + "_max"] = WorstOf(changed);
    report.metrics["robustness.missing_metric_drop_max"] = WorstOf(drops);
  }
  for (const FeatureRobustness& f : report.features) {
    if (!FitsInMetricKey(f.feature)) continue;
    for (const auto& [kind, c] : {std::pair{"noise", f.noise}, std::pair{"missing", f.missing}}) {
      if (!c) continue;
      report.metrics[fmt::format("robustness.{}.{}.{}", kind, f.feature, change)] = c->changed;
      report.metrics[fmt::format("robustness.{}.{}.metric_drop", kind, f.feature)] = c->metric_drop;
    }
  }
  return report;
}

RobustnessReport AssessRobustness(const TrainingSpec& spec, const Table& table,
                                  const TrainingOutcome& outcome) {
  std::vector<double> y;
  y.reserve(outcome.split.holdout.size());
  for (size_t row : outcome.split.holdout) y.push_back(outcome.target.y[row]);
  return AssessRobustness(*spec.robustness, spec.seed, spec.task,
                          static_cast<int64_t>(outcome.target.classes.size()), spec.metric, table,
                          outcome.split.training, outcome.split.holdout, y, outcome.preprocessor,
                          *outcome.model);
}

nlohmann::json RobustnessReport::ToJson() const {
  nlohmann::json out = {{"task", std::string(TaskName(task))},
                        {"metric", metric},
                        {"baseline", Finite(baseline)},
                        {"rows", rows},
                        {"noise", noise},
                        {"missing", missing},
                        {"seed", seed}};
  if (noise_all) out["noise_all"] = ChangeJson(task, *noise_all);
  out["features"] = nlohmann::json::array();
  for (const FeatureRobustness& f : features) {
    nlohmann::json feature = {{"feature", f.feature}, {"numeric", f.numeric}};
    if (f.noise) {
      feature["noise_std"] = f.noise_std;
      feature["noise"] = ChangeJson(task, *f.noise);
    }
    if (f.missing) feature["missing"] = ChangeJson(task, *f.missing);
    out["features"].push_back(std::move(feature));
  }
  out["metrics"] = nlohmann::json::object();
  for (const auto& [name, value] : metrics) out["metrics"][name] = Finite(value);
  return out;
}

std::string FormatRobustness(const RobustnessReport& report) {
  const bool regression = report.task == Task::kRegression;
  const std::string change = regression ? "mean |change|" : "flip rate";
  std::string out = fmt::format("\nrobustness on {} {} rows: {} {:.4f} unperturbed", report.rows,
                                report.scope, report.metric, report.baseline);
  if (report.noise > 0) out += fmt::format("; noise {} x each feature's std", report.noise);
  const std::string drop = report.metric + " drop";
  out += fmt::format("\n  {:<24} {:>20} {:>16} {:>22} {:>16}\n", "feature", "noise " + change, drop,
                     "missing " + change, drop);
  const auto cell = [](const std::optional<PredictionChange>& c, bool drop) {
    return c ? fmt::format("{:.4f}", drop ? c->metric_drop : c->changed) : std::string("-");
  };
  for (const FeatureRobustness& f : report.features) {
    out += fmt::format("  {:<24} {:>20} {:>16} {:>22} {:>16}\n", f.feature, cell(f.noise, false),
                       cell(f.noise, true), cell(f.missing, false), cell(f.missing, true));
  }
  if (report.noise_all) {
    out += fmt::format("  {:<24} {:>20} {:>16}\n", "(all numeric, noised)",
                       cell(report.noise_all, false), cell(report.noise_all, true));
  }
  return out;
}

}  // namespace slipway::training
