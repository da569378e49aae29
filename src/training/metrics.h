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
