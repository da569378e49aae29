// Evaluation metrics against scikit-learn. The expected numbers were
// computed once with scikit-learn 1.9.1 on exactly these inputs
// (sklearn.metrics.roc_auc_score, average_precision_score, brier_score_loss,
// log_loss, accuracy_score, precision_score, recall_score, f1_score,
// confusion_matrix, mean_squared_error, mean_absolute_error, r2_score,
// mean_absolute_percentage_error; labels at score > 0.5, multiclass by
// argmax) and are kept here as literals.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "core/error.h"
#include "training/metrics.h"

namespace slipway::training {
namespace {

constexpr double kTol = 1e-12;

// Includes a tie (0.45 on a positive and a negative) that AUC counts as half.
const std::vector<double> kY = {0, 1, 1, 0, 1, 0, 1, 1, 0, 0};
const std::vector<double> kScore = {0.1, 0.8, 0.65, 0.3, 0.45, 0.45, 0.9, 0.2, 0.55, 0.05};

std::vector<double> Labels(const std::vector<double>& score) {
  std::vector<double> out;
  for (double s : score) out.push_back(s > 0.5 ? 1 : 0);
  return out;
}

TEST(TrainingMetricsTest, BinaryScoresMatchScikitLearn) {
  EXPECT_NEAR(RocAuc(kY, kScore), 0.8200000000000001, kTol);
  EXPECT_NEAR(AveragePrecision(kY, kScore), 0.8583333333333334, kTol);
  EXPECT_NEAR(BrierScore(kY, kScore), 0.17225000000000001, kTol);
  std::vector<double> probabilities;
  for (double p : kScore) probabilities.insert(probabilities.end(), {1 - p, p});
  EXPECT_NEAR(LogLoss(kY, probabilities, 2), 0.5076906042673863, kTol);
}

TEST(TrainingMetricsTest, BinaryLabelsMatchScikitLearn) {
  const std::vector<double> labels = Labels(kScore);
  EXPECT_NEAR(Accuracy(kY, labels), 0.7, kTol);
  EXPECT_NEAR(Precision(kY, labels, 1), 0.75, kTol);
  EXPECT_NEAR(Recall(kY, labels, 1), 0.6, kTol);
  EXPECT_NEAR(F1(kY, labels, 1), 0.6666666666666666, kTol);
  EXPECT_NEAR(F1Macro(kY, labels, 2), 0.696969696969697, kTol);
  const std::vector<std::vector<int64_t>> expected = {{4, 1}, {2, 3}};
  EXPECT_EQ(ConfusionMatrix(kY, labels, 2), expected);
}

TEST(TrainingMetricsTest, EvaluateBinaryNamesTheSpecsMetrics) {
  Matrix p{kScore.size(), 1, kScore};
  const Evaluation e = Evaluate(Task::kBinary, 2, kY, p);
  EXPECT_NEAR(e.metrics.at("roc_auc"), 0.8200000000000001, kTol);
  EXPECT_NEAR(e.metrics.at("pr_auc"), 0.8583333333333334, kTol);
  EXPECT_NEAR(e.metrics.at("log_loss"), 0.5076906042673863, kTol);
  EXPECT_NEAR(e.metrics.at("f1"), 0.6666666666666666, kTol);
  EXPECT_EQ(e.metrics.size(), 10u);
  for (std::string_view name : {"roc_auc", "pr_auc", "accuracy", "f1", "f1_macro", "precision",
                                "recall", "log_loss", "brier", "calibration_error"}) {
    EXPECT_TRUE(IsMetricOf(Task::kBinary, name)) << name;
    EXPECT_TRUE(e.metrics.count(std::string(name))) << name;
  }
}

TEST(TrainingMetricsTest, MulticlassMatchesScikitLearn) {
  const std::vector<double> y = {0, 1, 2, 2, 1, 0, 2};
  Matrix p{
      7, 3, {.7, .2, .1, .1, .6, .3, .2, .2, .6, .3, .4, .3, .25, .5, .25, .4, .4, .2, .1, .1, .8}};
  const Evaluation e = Evaluate(Task::kMulticlass, 3, y, p);
  EXPECT_NEAR(e.metrics.at("accuracy"), 0.8571428571428571, kTol);
  EXPECT_NEAR(e.metrics.at("f1_macro"), 0.8666666666666667, kTol);
  EXPECT_NEAR(e.metrics.at("log_loss"), 0.630697208506423, kTol);
  // Row 5 ties 0.4/0.4: the lower class, as numpy's argmax.
  const std::vector<std::vector<int64_t>> expected = {{2, 0, 0}, {0, 2, 0}, {0, 1, 2}};
  EXPECT_EQ(e.confusion, expected);
}

TEST(TrainingMetricsTest, RegressionMatchesScikitLearn) {
  const std::vector<double> y = {3.0, -0.5, 2.0, 7.0, 4.2};
  Matrix p{5, 1, {2.5, 0.0, 2.1, 7.8, 3.9}};
  const Evaluation e = Evaluate(Task::kRegression, 0, y, p);
  EXPECT_NEAR(e.metrics.at("rmse"), 0.49799598391954925, kTol);
  EXPECT_NEAR(e.metrics.at("mae"), 0.44000000000000006, kTol);
  EXPECT_NEAR(e.metrics.at("r2"), 0.9594665271966527, kTol);
  EXPECT_NEAR(e.metrics.at("mape"), 0.2804761904761905, kTol);
  EXPECT_TRUE(e.confusion.empty());
}

TEST(TrainingMetricsTest, UndefinedCasesFollowScikitLearn) {
  // One class only: AUC is undefined.
  EXPECT_TRUE(std::isnan(RocAuc(std::vector<double>{1, 1}, std::vector<double>{0.2, 0.9})));
  // Nothing predicted positive: precision 0, not a division by zero.
  EXPECT_EQ(Precision(std::vector<double>{1, 0}, std::vector<double>{0, 0}, 1), 0);
  // A constant target predicted exactly: R2 is 1.
  EXPECT_EQ(R2(std::vector<double>{2, 2}, std::vector<double>{2, 2}), 1);
  EXPECT_THROW(Accuracy(std::vector<double>{1}, std::vector<double>{1, 0}), Error);
}

}  // namespace
}  // namespace slipway::training
