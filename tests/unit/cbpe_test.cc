// CBPE (monitoring/live/cbpe.h) against NannyML's formulas on the same
// data. The expected values were computed with NannyML's own estimators,
// transcribed from nannyml/performance_estimation/confidence_based/
// metrics.py (BinaryClassificationAccuracy._estimate: (TP + TN) / n with
// TP the scores of rows predicted 1 and TN one minus the scores of rows
// predicted 0; estimate_roc_auc: cumulative scores in descending order,
// rounded to 5 decimals, sklearn.metrics.auc of fpr and tpr), run with
// numpy and scikit-learn on these ten scores:
//   accuracy 0.74, ROC AUC 0.8191489361702127.
#include "monitoring/live/cbpe.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace slipway::monitoring::live {
namespace {

const std::vector<double> kScores = {0.9, 0.8, 0.35, 0.6, 0.1, 0.45, 0.7, 0.2, 0.55, 0.05};

TEST(Cbpe, EqualsNannyMlsEstimatesOnTheSameScores) {
  std::vector<int> predicted;
  for (double p : kScores) predicted.push_back(p > 0.5 ? 1 : 0);
  const EstimatedPerformance e = EstimateBinary(kScores, predicted);
  EXPECT_EQ(e.rows, 10);
  EXPECT_NEAR(*e.accuracy, 0.74, 1e-12);
  EXPECT_NEAR(*e.roc_auc, 0.8191489361702127, 1e-12);
}

TEST(Cbpe, ReadsTwoClassProbabilitiesOfKeptPredictions) {
  // The same scores as [p0, p1] rows over three requests, plus rows that
  // are not two probabilities (a label, three classes), which do not count.
  std::vector<LoggedPrediction> kept;
  nlohmann::json a = nlohmann::json::array(), b = nlohmann::json::array();
  for (size_t i = 0; i < kScores.size(); ++i) {
    (i < 4 ? a : b).push_back({1 - kScores[i], kScores[i]});
  }
  kept.push_back({"a", 1, a.dump(), ""});
  kept.push_back({"b", 2, b.dump(), ""});
  kept.push_back({"c", 3, "[1, [0.2, 0.3, 0.5], null]", ""});
  const EstimatedPerformance e = EstimatePerformance(kept);
  EXPECT_EQ(e.rows, 10);
  EXPECT_NEAR(*e.accuracy, 0.74, 1e-12);
  EXPECT_NEAR(*e.roc_auc, 0.8191489361702127, 1e-12);
  EXPECT_EQ(e.ToJson()["method"], "cbpe");
}

TEST(Cbpe, NothingToEstimateGivesNoValues) {
  const EstimatedPerformance none = EstimatePerformance({{"x", 1, "[0, 1]", ""}});
  EXPECT_EQ(none.rows, 0);
  EXPECT_FALSE(none.accuracy);
  EXPECT_TRUE(none.ToJson()["accuracy"].is_null());
  // One class only (every score 1): no ROC AUC, as NannyML divides by zero.
  const EstimatedPerformance sure = EstimateBinary({1.0, 1.0}, {1, 1});
  EXPECT_DOUBLE_EQ(*sure.accuracy, 1.0);
  EXPECT_FALSE(sure.roc_auc);
}

}  // namespace
}  // namespace slipway::monitoring::live
