// Evaluation metrics of a model's predictions, computed as scikit-learn
// computes them (the unit tests hold each to sklearn's value on fixed
// inputs). Written here rather than taken from a library: Debian packages
// no C++ library with these definitions, and each is a few lines over a
// sorted vector.
//
// Labels are class indices 0..k-1 as doubles (binary: 1 is the positive
// class); binary scores are P(class 1); multiclass probabilities are a
// row-major rows x k matrix. Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <vector>

#include "training/spec.h"
#include "training/table.h"

namespace slipway::training {

// Binary classification (threshold 0.5 for the label metrics).
double RocAuc(std::span<const double> y, std::span<const double> score);
// Average precision: sum over thresholds of (R_n - R_n-1) * P_n (sklearn's
// average_precision_score, which the spec calls pr_auc).
double AveragePrecision(std::span<const double> y, std::span<const double> score);
double BrierScore(std::span<const double> y, std::span<const double> p);

// Class labels against predicted labels.
double Accuracy(std::span<const double> y, std::span<const double> predicted);
// Of class `positive` (binary: 1). 0 when undefined, as sklearn's default.
double Precision(std::span<const double> y, std::span<const double> predicted, double positive);
double Recall(std::span<const double> y, std::span<const double> predicted, double positive);
double F1(std::span<const double> y, std::span<const double> predicted, double positive);
// Unweighted mean of each class's F1 over `classes` classes.
double F1Macro(std::span<const double> y, std::span<const double> predicted, int64_t classes);
// counts[true class][predicted class].
std::vector<std::vector<int64_t>> ConfusionMatrix(std::span<const double> y,
                                                  std::span<const double> predicted,
                                                  int64_t classes);

// Mean negative log-likelihood; `probabilities` row-major rows x classes,
// clipped to [eps, 1 - eps] with eps the double's machine epsilon, as sklearn.
double LogLoss(std::span<const double> y, std::span<const double> probabilities, int64_t classes);

// Regression.
double Rmse(std::span<const double> y, std::span<const double> predicted);
double Mae(std::span<const double> y, std::span<const double> predicted);
// 1 - SS_res / SS_tot; a constant `y` gives 1 when predicted exactly, else 0 (sklearn).
double R2(std::span<const double> y, std::span<const double> predicted);
// mean(|y - p| / max(|y|, eps)), a fraction, not a percentage (sklearn).
double Mape(std::span<const double> y, std::span<const double> predicted);

// Curves of a binary score, as scikit-learn draws them: `y` holds 1 for the
// positive class and 0 for the others (one-vs-rest for a class of many).
struct RocCurve {
  std::vector<double> fpr, tpr;
  std::vector<double> thresholds;  // thresholds[0] is +infinity: the curve starts at (0, 0)
};
// sklearn.metrics.roc_curve (drop_intermediate=True: points collinear with
// their neighbours are left out; the area is the same). One class only:
// the missing side's rates are NaN, as sklearn's.
RocCurve RocCurveOf(std::span<const double> y, std::span<const double> score);

struct PrCurve {
  std::vector<double> precision, recall;  // one longer than thresholds: (1, 0) closes it
  std::vector<double> thresholds;         // increasing
};
// sklearn.metrics.precision_recall_curve (drop_intermediate=False).
PrCurve PrCurveOf(std::span<const double> y, std::span<const double> score);

struct CalibrationCurve {
  std::vector<double> prob_true;  // per non-empty bin: the share of positives
  std::vector<double> prob_pred;  // and the mean predicted probability
  std::vector<int64_t> counts;    // rows in the bin
  std::vector<double> bin_low;    // the bin's edges
  std::vector<double> bin_high;
};
// sklearn.calibration.calibration_curve(strategy="uniform", n_bins=bins):
// bins of equal width over [0, 1], a probability on an inner edge going to
// the lower bin; empty bins are left out.
CalibrationCurve CalibrationCurveOf(std::span<const double> y, std::span<const double> p,
                                    int bins = 10);
// The expected calibration error: sum over those bins of
// counts / rows * |prob_true - prob_pred|.
double CalibrationError(std::span<const double> y, std::span<const double> p, int bins = 10);
// Multiclass: the unweighted mean over classes of each class's one-vs-rest
// ROC AUC (sklearn's roc_auc_score(multi_class="ovr")); NaN when a class
// is missing from `y`.
double RocAucOvr(std::span<const double> y, std::span<const double> probabilities, int64_t classes);

// A model's predictions: binary one column (P(class 1)), multiclass k
// columns (probabilities), regression one column (values).
struct Evaluation {
  std::map<std::string, double> metrics;        // the spec's metric names
  std::vector<std::vector<int64_t>> confusion;  // classification only
};

// Every metric of `task` (spec.h's names) for labels `y` and `predictions`.
Evaluation Evaluate(Task task, int64_t classes, std::span<const double> y,
                    const Matrix& predictions);

}  // namespace slipway::training
