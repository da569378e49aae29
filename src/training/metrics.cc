#include "training/metrics.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <numeric>

#include "core/error.h"

namespace slipway::training {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kEps = std::numeric_limits<double>::epsilon();

void SameSize(std::span<const double> a, std::span<const double> b) {
  if (a.size() != b.size() || a.empty()) {
    ThrowInvalid("metrics: " + std::to_string(a.size()) + " labels against " +
                 std::to_string(b.size()) + " predictions");
  }
}

// The ranking curve of scikit-learn's _binary_clf_curve: at each distinct
// score, from the highest down, the true and false positives above it.
struct CurvePoint {
  double tp = 0;
  double fp = 0;
};

std::vector<CurvePoint> BinaryCurve(std::span<const double> y, std::span<const double> score) {
  SameSize(y, score);
  std::vector<size_t> order(y.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return score[a] > score[b]; });
  std::vector<CurvePoint> curve;
  CurvePoint at;
  for (size_t i = 0; i < order.size(); ++i) {
    (y[order[i]] == 1 ? at.tp : at.fp) += 1;
    if (i + 1 == order.size() || score[order[i + 1]] != score[order[i]]) curve.push_back(at);
  }
  return curve;
}

struct Counts {
  double tp = 0, fp = 0, fn = 0;
};

Counts CountsOf(std::span<const double> y, std::span<const double> predicted, double positive) {
  SameSize(y, predicted);
  Counts c;
  for (size_t i = 0; i < y.size(); ++i) {
    const bool truth = y[i] == positive, said = predicted[i] == positive;
    c.tp += truth && said;
    c.fp += !truth && said;
    c.fn += truth && !said;
  }
  return c;
}

double Ratio(double num, double den) { return den > 0 ? num / den : 0; }

}  // namespace

double RocAuc(std::span<const double> y, std::span<const double> score) {
  const std::vector<CurvePoint> curve = BinaryCurve(y, score);
  const double positives = curve.back().tp, negatives = curve.back().fp;
  if (positives == 0 || negatives == 0) return kNaN;  // undefined with one class
  double area = 0;
  CurvePoint last;
  for (const CurvePoint& p : curve) {
    area += (p.fp - last.fp) * (p.tp + last.tp) / 2;
    last = p;
  }
  return area / (positives * negatives);
}

double AveragePrecision(std::span<const double> y, std::span<const double> score) {
  const std::vector<CurvePoint> curve = BinaryCurve(y, score);
  const double positives = curve.back().tp;
  if (positives == 0) return kNaN;
  double ap = 0, last_recall = 0;
  for (const CurvePoint& p : curve) {
    const double recall = p.tp / positives;
    ap += (recall - last_recall) * p.tp / (p.tp + p.fp);
    last_recall = recall;
  }
  return ap;
}

RocCurve RocCurveOf(std::span<const double> y, std::span<const double> score) {
  const std::vector<CurvePoint> curve = BinaryCurve(y, score);
  // The distinct scores, highest first: each point's threshold.
  std::vector<double> distinct(score.begin(), score.end());
  std::sort(distinct.begin(), distinct.end(), std::greater<>());
  distinct.erase(std::unique(distinct.begin(), distinct.end()), distinct.end());
  RocCurve roc;
  roc.fpr.push_back(0);
  roc.tpr.push_back(0);
  roc.thresholds.push_back(std::numeric_limits<double>::infinity());
  const size_t n = curve.size();
  for (size_t i = 0; i < n; ++i) {
    // sklearn keeps the ends and every point where the second difference
    // of fps or tps is not zero.
    if (n > 2 && i > 0 && i + 1 < n) {
      const CurvePoint &a = curve[i - 1], &b = curve[i], &c = curve[i + 1];
      if (c.fp - 2 * b.fp + a.fp == 0 && c.tp - 2 * b.tp + a.tp == 0) continue;
    }
    roc.fpr.push_back(curve[i].fp);
    roc.tpr.push_back(curve[i].tp);
    roc.thresholds.push_back(distinct[i]);
  }
  const double negatives = curve.back().fp, positives = curve.back().tp;
  for (double& v : roc.fpr) v = negatives > 0 ? v / negatives : kNaN;
  for (double& v : roc.tpr) v = positives > 0 ? v / positives : kNaN;
  return roc;
}

PrCurve PrCurveOf(std::span<const double> y, std::span<const double> score) {
  const std::vector<CurvePoint> curve = BinaryCurve(y, score);
  std::vector<double> distinct(score.begin(), score.end());
  std::sort(distinct.begin(), distinct.end());
  distinct.erase(std::unique(distinct.begin(), distinct.end()), distinct.end());
  PrCurve pr;
  const double positives = curve.back().tp;
  for (size_t i = curve.size(); i-- > 0;) {
    const CurvePoint& p = curve[i];
    pr.precision.push_back(p.tp + p.fp != 0 ? p.tp / (p.tp + p.fp) : 0);
    pr.recall.push_back(positives == 0 ? 1 : p.tp / positives);
  }
  pr.precision.push_back(1);
  pr.recall.push_back(0);
  pr.thresholds = std::move(distinct);
  return pr;
}

CalibrationCurve CalibrationCurveOf(std::span<const double> y, std::span<const double> p,
                                    int bins) {
  SameSize(y, p);
  if (bins < 1) ThrowInvalid("calibration: bins must be at least 1");
  const size_t k = static_cast<size_t>(bins);
  // numpy.linspace(0, 1, bins + 1): i * (1 / bins), the last edge exactly 1.
  const double step = 1.0 / static_cast<double>(bins);
  std::vector<double> edges(k + 1);
  for (size_t i = 0; i <= k; ++i) edges[i] = static_cast<double>(i) * step;
  edges[k] = 1;
  std::vector<double> sums(k, 0), trues(k, 0);
  std::vector<int64_t> totals(k, 0);
  for (size_t i = 0; i < y.size(); ++i) {
    if (!(p[i] >= 0 && p[i] <= 1)) ThrowInvalid("calibration: a probability outside [0, 1]");
    // numpy.searchsorted(edges[1:-1], p) (side left): inner edges below p.
    const size_t bin = static_cast<size_t>(
        std::lower_bound(edges.begin() + 1, edges.end() - 1, p[i]) - (edges.begin() + 1));
    sums[bin] += p[i];
    trues[bin] += y[i] == 1 ? 1 : 0;
    ++totals[bin];
  }
  CalibrationCurve curve;
  for (size_t b = 0; b < k; ++b) {
    if (totals[b] == 0) continue;
    const double n = static_cast<double>(totals[b]);
    curve.prob_true.push_back(trues[b] / n);
    curve.prob_pred.push_back(sums[b] / n);
    curve.counts.push_back(totals[b]);
    curve.bin_low.push_back(edges[b]);
    curve.bin_high.push_back(edges[b + 1]);
  }
  return curve;
}

double CalibrationError(std::span<const double> y, std::span<const double> p, int bins) {
  for (double v : p)
    if (!(v >= 0 && v <= 1)) return kNaN;  // not probabilities
  const CalibrationCurve curve = CalibrationCurveOf(y, p, bins);
  double error = 0;
  for (size_t b = 0; b < curve.counts.size(); ++b) {
    error += static_cast<double>(curve.counts[b]) / static_cast<double>(y.size()) *
             std::abs(curve.prob_true[b] - curve.prob_pred[b]);
  }
  return error;
}

double RocAucOvr(std::span<const double> y, std::span<const double> probabilities,
                 int64_t classes) {
  if (classes < 1 || probabilities.size() != y.size() * static_cast<size_t>(classes))
    ThrowInvalid("metrics: probabilities are not rows x classes");
  const size_t k = static_cast<size_t>(classes);
  std::vector<double> truth(y.size()), score(y.size());
  double sum = 0;
  for (size_t c = 0; c < k; ++c) {
    for (size_t i = 0; i < y.size(); ++i) {
      truth[i] = y[i] == static_cast<double>(c) ? 1 : 0;
      score[i] = probabilities[i * k + c];
    }
    sum += RocAuc(truth, score);
  }
  return sum / static_cast<double>(k);
}

double BrierScore(std::span<const double> y, std::span<const double> p) {
  SameSize(y, p);
  double sum = 0;
  for (size_t i = 0; i < y.size(); ++i) sum += (p[i] - y[i]) * (p[i] - y[i]);
  return sum / y.size();
}

double Accuracy(std::span<const double> y, std::span<const double> predicted) {
  SameSize(y, predicted);
  double right = 0;
  for (size_t i = 0; i < y.size(); ++i) right += y[i] == predicted[i];
  return right / y.size();
}

double Precision(std::span<const double> y, std::span<const double> predicted, double positive) {
  const Counts c = CountsOf(y, predicted, positive);
  return Ratio(c.tp, c.tp + c.fp);
}

double Recall(std::span<const double> y, std::span<const double> predicted, double positive) {
  const Counts c = CountsOf(y, predicted, positive);
  return Ratio(c.tp, c.tp + c.fn);
}

double F1(std::span<const double> y, std::span<const double> predicted, double positive) {
  const Counts c = CountsOf(y, predicted, positive);
  return Ratio(2 * c.tp, 2 * c.tp + c.fp + c.fn);
}

double F1Macro(std::span<const double> y, std::span<const double> predicted, int64_t classes) {
  double sum = 0;
  for (int64_t c = 0; c < classes; ++c) sum += F1(y, predicted, static_cast<double>(c));
  return sum / classes;
}

std::vector<std::vector<int64_t>> ConfusionMatrix(std::span<const double> y,
                                                  std::span<const double> predicted,
                                                  int64_t classes) {
  SameSize(y, predicted);
  std::vector<std::vector<int64_t>> counts(classes, std::vector<int64_t>(classes, 0));
  for (size_t i = 0; i < y.size(); ++i)
    ++counts[static_cast<size_t>(y[i])][static_cast<size_t>(predicted[i])];
  return counts;
}

double LogLoss(std::span<const double> y, std::span<const double> probabilities, int64_t classes) {
  if (probabilities.size() != y.size() * classes || y.empty())
    ThrowInvalid("metrics: probabilities are not rows x classes");
  double sum = 0;
  for (size_t i = 0; i < y.size(); ++i) {
    const double p = probabilities[i * classes + static_cast<size_t>(y[i])];
    sum -= std::log(std::clamp(p, kEps, 1 - kEps));
  }
  return sum / y.size();
}

double Rmse(std::span<const double> y, std::span<const double> predicted) {
  SameSize(y, predicted);
  double sum = 0;
  for (size_t i = 0; i < y.size(); ++i) sum += (y[i] - predicted[i]) * (y[i] - predicted[i]);
  return std::sqrt(sum / y.size());
}

double Mae(std::span<const double> y, std::span<const double> predicted) {
  SameSize(y, predicted);
  double sum = 0;
  for (size_t i = 0; i < y.size(); ++i) sum += std::abs(y[i] - predicted[i]);
  return sum / y.size();
}

double R2(std::span<const double> y, std::span<const double> predicted) {
  SameSize(y, predicted);
  const double mean = std::accumulate(y.begin(), y.end(), 0.0) / y.size();
  double residual = 0, total = 0;
  for (size_t i = 0; i < y.size(); ++i) {
    residual += (y[i] - predicted[i]) * (y[i] - predicted[i]);
    total += (y[i] - mean) * (y[i] - mean);
  }
  if (total == 0) return residual == 0 ? 1 : 0;
  return 1 - residual / total;
}

double Mape(std::span<const double> y, std::span<const double> predicted) {
  SameSize(y, predicted);
  double sum = 0;
  for (size_t i = 0; i < y.size(); ++i)
    sum += std::abs(y[i] - predicted[i]) / std::max(std::abs(y[i]), kEps);
  return sum / y.size();
}

Evaluation Evaluate(Task task, int64_t classes, std::span<const double> y,
                    const Matrix& predictions) {
  Evaluation out;
  const std::span<const double> values(predictions.values);
  if (task == Task::kRegression) {
    out.metrics = {{"rmse", Rmse(y, values)},
                   {"mae", Mae(y, values)},
                   {"r2", R2(y, values)},
                   {"mape", Mape(y, values)}};
    return out;
  }
  std::vector<double> labels(y.size());
  std::vector<double> probabilities;
  if (task == Task::kBinary) {
    // P(class 1) > 0.5, as XGBoost's and scikit-learn's classifiers predict.
    for (size_t i = 0; i < y.size(); ++i) labels[i] = values[i] > 0.5 ? 1 : 0;
    for (double p : values) probabilities.insert(probabilities.end(), {1 - p, p});
    out.metrics = {{"roc_auc", RocAuc(y, values)},
                   {"pr_auc", AveragePrecision(y, values)},
                   {"precision", Precision(y, labels, 1)},
                   {"recall", Recall(y, labels, 1)},
                   {"f1", F1(y, labels, 1)},
                   {"brier", BrierScore(y, values)},
                   {"calibration_error", CalibrationError(y, values)}};
  } else {
    // The most probable class; ties go to the lower index, as numpy's argmax.
    for (size_t i = 0; i < y.size(); ++i) {
      const double* row = &values[i * classes];
      labels[i] = static_cast<double>(std::max_element(row, row + classes) - row);
    }
    probabilities.assign(values.begin(), values.end());
    out.metrics["roc_auc_ovr"] = RocAucOvr(y, probabilities, classes);
  }
  out.metrics["accuracy"] = Accuracy(y, labels);
  out.metrics["f1_macro"] = F1Macro(y, labels, classes);
  out.metrics["log_loss"] = LogLoss(y, probabilities, classes);
  out.confusion = ConfusionMatrix(y, labels, classes);
  return out;
}

}  // namespace slipway::training
