#include "training/evaluation.h"

#include <fmt/format.h>

#include <cmath>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "training/charts.h"
#include "training/explain.h"

namespace slipway::training {
namespace {

using nlohmann::json;

// One-vs-rest views of the predictions: per curve, the label it is drawn
// for, 1/0 truth and the score.
struct BinaryView {
  std::string label;
  size_t index = 0;  // the class index
  std::vector<double> truth;
  std::vector<double> score;
};

std::vector<BinaryView> Views(const EvaluationInput& in, bool positive_only) {
  const Matrix& p = *in.predictions;
  std::vector<BinaryView> views;
  const size_t classes = in.classes.size();
  const size_t first = in.task == Task::kBinary ? 1 : 0;
  const size_t last = in.task == Task::kBinary ? 2 : classes;
  for (size_t c = first; c < last; ++c) {
    if (positive_only && in.task == Task::kBinary && c != 1) continue;
    BinaryView v;
    v.label = c < classes ? in.classes[c] : std::to_string(c);
    v.index = c;
    v.truth.reserve(p.rows);
    v.score.reserve(p.rows);
    for (size_t r = 0; r < p.rows; ++r) {
      v.truth.push_back(in.y[r] == static_cast<double>(c) ? 1 : 0);
      v.score.push_back(in.task == Task::kBinary ? p(r, 0) : p(r, c));
    }
    views.push_back(std::move(v));
  }
  return views;
}

// A legend's text for a class.
std::string ClassName(const EvaluationInput& in, const BinaryView& v) {
  return in.task == Task::kBinary ? fmt::format("class {}", v.label)
                                  : fmt::format("class {} vs rest", v.label);
}

std::string Title(const EvaluationInput& in, const std::string& what) {
  return in.title.empty() ? what : fmt::format("{}: {}", what, in.title);
}

// A number for JSON: NaN and infinities are null (JSON has neither).
json Number(double v) { return std::isfinite(v) ? json(v) : json(nullptr); }

json Numbers(const std::vector<double>& values) {
  json out = json::array();
  for (double v : values) out.push_back(Number(v));
  return out;
}

void AddCurves(const EvaluationInput& in, EvaluationReport& report) {
  const std::vector<BinaryView> views = Views(in, false);
  json roc_curves = json::array(), pr_curves = json::array();
  XyChart roc{Title(in, "ROC curve"),
              "False positive rate",
              "True positive rate",
              std::pair{0.0, 1.0},
              std::pair{0.0, 1.0},
              {},
              "chance",
              {}};
  XyChart pr{Title(in, "Precision-recall curve"),
             "Recall",
             "Precision",
             std::pair{0.0, 1.0},
             std::pair{0.0, 1.0},
             {},
             {},
             {}};
  for (const BinaryView& v : views) {
    const RocCurve r = RocCurveOf(v.truth, v.score);
    const double auc = RocAuc(v.truth, v.score);
    roc_curves.push_back({{"class", v.label},
                          {"class_index", v.index},
                          {"auc", Number(auc)},
                          {"fpr", Numbers(r.fpr)},
                          {"tpr", Numbers(r.tpr)},
                          {"thresholds", Numbers(r.thresholds)}});
    roc.series.push_back({fmt::format("{} (AUC {:.3f})", ClassName(in, v), auc), r.fpr, r.tpr,
                          ChartSeries::Style::kLine});
    const PrCurve p = PrCurveOf(v.truth, v.score);
    const double ap = AveragePrecision(v.truth, v.score);
    pr_curves.push_back({{"class", v.label},
                         {"class_index", v.index},
                         {"average_precision", Number(ap)},
                         {"precision", Numbers(p.precision)},
                         {"recall", Numbers(p.recall)},
                         {"thresholds", Numbers(p.thresholds)}});
    pr.series.push_back({fmt::format("{} (AP {:.3f})", ClassName(in, v), ap), p.recall, p.precision,
                         ChartSeries::Style::kLine});
  }
  report.files.push_back({"roc_curve.json", json({{"curves", roc_curves}}).dump(2)});
  report.files.push_back({"roc_curve.svg", XyChartSvg(roc)});
  report.files.push_back({"pr_curve.json", json({{"curves", pr_curves}}).dump(2)});
  report.files.push_back({"pr_curve.svg", XyChartSvg(pr)});

  constexpr int kBins = 10;
  json calibration = json::array();
  XyChart chart{Title(in, "Calibration curve"),
                "Mean predicted probability",
                "Fraction of positives",
                std::pair{0.0, 1.0},
                std::pair{0.0, 1.0},
                {},
                "perfectly calibrated",
                {}};
  for (const BinaryView& v : Views(in, true)) {
    bool probabilities = true;
    for (double s : v.score) probabilities = probabilities && s >= 0 && s <= 1;
    if (!probabilities) continue;  // scores, not probabilities: no calibration
    const CalibrationCurve c = CalibrationCurveOf(v.truth, v.score, kBins);
    calibration.push_back({{"class", v.label},
                           {"class_index", v.index},
                           {"calibration_error", CalibrationError(v.truth, v.score, kBins)},
                           {"prob_true", Numbers(c.prob_true)},
                           {"prob_pred", Numbers(c.prob_pred)},
                           {"counts", c.counts},
                           {"bin_low", Numbers(c.bin_low)},
                           {"bin_high", Numbers(c.bin_high)}});
    chart.series.push_back(
        {ClassName(in, v), c.prob_pred, c.prob_true, ChartSeries::Style::kLinePoints});
  }
  report.files.push_back(
      {"calibration_curve.json",
       json({{"bins", kBins}, {"strategy", "uniform"}, {"curves", calibration}}).dump(2)});
  report.files.push_back({"calibration_curve.svg", XyChartSvg(chart)});
}

void AddResiduals(const EvaluationInput& in, EvaluationReport& report) {
  const Matrix& p = *in.predictions;
  std::vector<double> predicted, residual;
  for (size_t r = 0; r < p.rows; ++r) {
    predicted.push_back(p(r, 0));
    residual.push_back(in.y[r] - p(r, 0));
  }
  report.files.push_back(
      {"residuals.json",
       json({{"predicted", Numbers(predicted)}, {"residual", Numbers(residual)}}).dump(2)});
  const size_t drawn = std::min(predicted.size(), kMaxResidualPoints);
  XyChart chart{
      Title(in, "Residuals"),
      "Predicted value",
      "Residual (actual - predicted)",
      {},
      {},
      {{drawn < predicted.size() ? fmt::format("first {} of {} rows", drawn, predicted.size()) : "",
        std::vector<double>(predicted.begin(), predicted.begin() + drawn),
        std::vector<double>(residual.begin(), residual.begin() + drawn),
        ChartSeries::Style::kPoints}},
      {},
      0.0};
  report.files.push_back({"residuals.svg", XyChartSvg(chart)});
}

}  // namespace

EvaluationReport EvaluatePredictions(const EvaluationInput& in) {
  if (in.predictions == nullptr) ThrowInvalid("evaluation: no predictions");
  const Matrix& p = *in.predictions;
  if (p.rows != in.y.size()) {
    ThrowInvalid(fmt::format("evaluation: {} labels against {} predictions", in.y.size(), p.rows));
  }
  const int64_t classes = static_cast<int64_t>(in.classes.size());
  EvaluationReport report;
  report.evaluation = Evaluate(in.task, classes, in.y, p);
  json metrics = json::object();
  for (const auto& [name, value] : report.evaluation.metrics) metrics[name] = Number(value);
  json summary = {{"task", std::string(TaskName(in.task))}, {"rows", p.rows}, {"metrics", metrics}};
  if (in.task != Task::kRegression) {
    summary["classes"] = in.classes;
    summary["confusion_matrix"] = report.evaluation.confusion;
  }
  report.files.push_back({"metrics.json", summary.dump(2)});
  if (in.task == Task::kRegression) {
    AddResiduals(in, report);
  } else {
    AddCurves(in, report);
  }
  return report;
}

EvaluationReport EvaluateTraining(const TrainingSpec& spec, const Table& table,
                                  const TrainingOutcome& outcome, const std::string& title) {
  std::vector<double> y;
  y.reserve(outcome.split.holdout.size());
  for (size_t row : outcome.split.holdout) y.push_back(outcome.target.y[row]);
  EvaluationReport report = EvaluatePredictions(
      {spec.task, outcome.target.classes, y, &outcome.holdout_predictions, title});
  if (!outcome.model) return report;
  const std::vector<ModelFile> files = outcome.model->Files();
  if (files.empty()) return report;
  const Matrix x = outcome.preprocessor.Transform(table, outcome.split.holdout);
  ExplanationInput in;
  in.task = spec.task;
  in.classes = outcome.target.classes;
  in.model_name = files.front().name;
  in.model_bytes = files.front().bytes;
  in.xgboost = spec.model == ModelType::kXgboost;
  in.x = &x;
  in.row_ids = outcome.split.holdout;
  in.title = title;
  Explanation explanation = Explain(in);
  report.explanation = std::move(explanation.metrics);
  for (EvaluationFile& f : explanation.files) report.files.push_back(std::move(f));
  return report;
}

}  // namespace slipway::training
