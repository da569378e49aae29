// Robustness of fitted models (src/training/robustness.h): the noise
// generator, the comparison of two sets of predictions, and real models
// (ridge, logistic, XGBoost) fitted on generated tables where one feature
// drives the target and another does nothing.
#include <gtest/gtest.h>

#include <cmath>
#include <numbers>
#include <random>
#include <string>
#include <vector>

#include "test_util/table_columns.h"
#include "training/metrics.h"
#include "training/preprocessing.h"
#include "training/robustness.h"
#include "training/trainer.h"

namespace slipway::training {
namespace {

using slipway::testing::kNaN;
using slipway::testing::Numeric;
using slipway::testing::Text;

TEST(TrainingRobustnessTest, GaussianNoiseIsStandardNormalAndFollowsTheSeed) {
  GaussianNoise a(7), b(7), c(8);
  double sum = 0, squares = 0, fourth = 0;
  bool differs = false;
  constexpr int kDraws = 200000;
  for (int i = 0; i < kDraws; ++i) {
    const double z = a.Next();
    ASSERT_EQ(z, b.Next());
    differs = differs || z != c.Next();
    ASSERT_TRUE(std::isfinite(z));
    sum += z;
    squares += z * z;
    fourth += z * z * z * z;
  }
  EXPECT_TRUE(differs);
  // Standard errors: mean 1/sqrt(n) ~ 0.0022, variance sqrt(2/n) ~ 0.0032.
  EXPECT_NEAR(sum / kDraws, 0, 0.011);
  EXPECT_NEAR(squares / kDraws, 1, 0.016);
  EXPECT_NEAR(fourth / kDraws, 3, 0.1);  // a normal's kurtosis, not a uniform's 1.8
}

TEST(TrainingRobustnessTest, ComparesLabelsAndMetrics) {
  const std::vector<double> y = {1, 0, 1, 0};
  const Matrix before{4, 1, {0.9, 0.2, 0.6, 0.4}};
  const Matrix after{4, 1, {0.9, 0.7, 0.4, 0.45}};  // rows 1 and 2 change class
  const double accuracy = Evaluate(Task::kBinary, 2, y, before).metrics.at("accuracy");
  EXPECT_EQ(accuracy, 1);
  PredictionChange c = ComparePredictions(Task::kBinary, 2, "accuracy", accuracy, y, before, after);
  EXPECT_DOUBLE_EQ(c.changed, 0.5);
  EXPECT_DOUBLE_EQ(c.metric, 0.5);
  EXPECT_DOUBLE_EQ(c.metric_drop, 0.5);  // greater is better: baseline - metric
  const double loss = Evaluate(Task::kBinary, 2, y, before).metrics.at("log_loss");
  c = ComparePredictions(Task::kBinary, 2, "log_loss", loss, y, before, after);
  EXPECT_GT(c.metric_drop, 0);  // a loss that grows is a drop too
  EXPECT_DOUBLE_EQ(c.metric_drop, c.metric - loss);
  // A prediction the model could not make: nothing to compare.
  c = ComparePredictions(Task::kBinary, 2, "accuracy", accuracy, y, before,
                         Matrix{4, 1, {0.9, kNaN, 0.4, 0.45}});
  EXPECT_TRUE(std::isnan(c.changed) && std::isnan(c.metric) && std::isnan(c.metric_drop));
  // Multiclass: the most probable class.
  const Matrix three{2, 3, {0.5, 0.3, 0.2, 0.1, 0.2, 0.7}};
  const Matrix moved{2, 3, {0.3, 0.5, 0.2, 0.1, 0.3, 0.6}};
  const std::vector<double> k = {0, 2};
  c = ComparePredictions(Task::kMulticlass, 3, "accuracy", 1, k, three, moved);
  EXPECT_DOUBLE_EQ(c.changed, 0.5);
  EXPECT_DOUBLE_EQ(c.metric_drop, 0.5);
  // Regression: the mean absolute change.
  const std::vector<double> r = {1, 2};
  c = ComparePredictions(Task::kRegression, 0, "mae", 0.5, r, Matrix{2, 1, {1.5, 2.5}},
                         Matrix{2, 1, {1, 4.5}});
  EXPECT_DOUBLE_EQ(c.changed, 1.25);
  EXPECT_DOUBLE_EQ(c.metric, 1.25);
  EXPECT_DOUBLE_EQ(c.metric_drop, 0.75);
}

// 600 rows: `signal` drives the target, `idle` does not, `color` is text.
struct Generated {
  Table table;
  std::vector<size_t> training, holdout;
  std::vector<double> holdout_y;
};

Generated Generate(bool classes) {
  std::mt19937_64 rng(3);
  std::normal_distribution<double> normal;  // test data only: no cross-platform promise needed
  Generated g;
  g.table.rows = 600;
  std::vector<double> signal, idle, y;
  std::vector<std::string> color;
  for (size_t i = 0; i < g.table.rows; ++i) {
    signal.push_back(i % 13 == 0 ? kNaN : 5 + 2 * normal(rng));
    idle.push_back(normal(rng));
    color.push_back(i % 3 == 0 ? "red" : "blue");
    const double s = std::isnan(signal.back()) ? 5 : signal.back();
    y.push_back(classes ? (s + 0.3 * normal(rng) > 5 ? 1 : 0) : 3 * s + 0.1 * normal(rng));
    (i % 4 == 0 ? g.holdout : g.training).push_back(i);
  }
  g.table.columns = {Numeric("signal", signal), Numeric("idle", idle), Text("color", color)};
  for (size_t row : g.holdout) g.holdout_y.push_back(y[row]);
  g.table.columns.push_back(Numeric("y", y));
  return g;
}

struct Fitted {
  Preprocessor preprocessor;
  std::unique_ptr<FittedModel> model;
};

Fitted Fit(const Generated& g, ModelType type, Task task, const Preprocessing& options = {}) {
  Fitted f;
  f.preprocessor = Preprocessor::Fit(g.table, g.training, {"signal", "idle", "color"}, options);
  TrainerOptions trainer;
  trainer.model = type;
  trainer.task = task;
  trainer.feature_names = f.preprocessor.OutputNames();
  trainer.categorical = f.preprocessor.OutputCategorical();
  if (type == ModelType::kLinear) trainer.params["l2"] = 1e-6;
  if (type == ModelType::kXgboost) trainer.params["num_boost_round"] = 30.0;
  std::vector<double> y;
  for (size_t row : g.training) y.push_back(g.table.Get("y").values[row]);
  f.model = Trainer::Create(trainer)->Fit(f.preprocessor.Transform(g.table, g.training), y);
  return f;
}

TEST(TrainingRobustnessTest, RidgeMovesWithTheFeatureThatDrivesIt) {
  const Generated g = Generate(false);
  const Fitted f = Fit(g, ModelType::kLinear, Task::kRegression);
  const RobustnessReport report =
      AssessRobustness({0.05, true}, 11, Task::kRegression, 0, "rmse", g.table, g.training,
                       g.holdout, g.holdout_y, f.preprocessor, *f.model);
  ASSERT_EQ(report.features.size(), 3u);
  const FeatureRobustness& signal = report.features[0];
  const FeatureRobustness& idle = report.features[1];
  const FeatureRobustness& color = report.features[2];
  EXPECT_TRUE(signal.numeric && idle.numeric && !color.numeric);
  ASSERT_TRUE(signal.noise && idle.noise && !color.noise && color.missing);
  // The noise's std is 0.05 x the training rows' population std of each feature.
  double sum = 0, squares = 0, n = 0;
  for (size_t row : g.training) {
    const double v = g.table.Get("signal").values[row];
    if (std::isnan(v)) continue;
    sum += v;
    ++n;
  }
  for (size_t row : g.training) {
    const double v = g.table.Get("signal").values[row];
    if (!std::isnan(v)) squares += (v - sum / n) * (v - sum / n);
  }
  EXPECT_NEAR(signal.noise_std, 0.05 * std::sqrt(squares / n), 1e-12);
  // y = 3 signal: noise of std s moves a prediction by 3 |N(0, s)|, whose
  // mean is 3 s sqrt(2 / pi), on the 92% of rows where signal is present.
  const double expected = 3 * signal.noise_std * std::sqrt(2 / std::numbers::pi) * 12.0 / 13;
  EXPECT_NEAR(signal.noise->changed, expected, 0.15 * expected);
  EXPECT_LT(idle.noise->changed, 0.01 * signal.noise->changed);
  EXPECT_GT(signal.noise->metric_drop, 0);
  // Missing signal -> its training median: predictions move by ~3 |signal - median| ~ 4.8.
  EXPECT_GT(signal.missing->changed, 3.5);
  EXPECT_LT(idle.missing->changed, 0.05);
  EXPECT_LT(color.missing->changed, 0.05);
  EXPECT_GT(signal.missing->metric_drop, 3);
  EXPECT_EQ(report.metrics.at("robustness.missing_mean_abs_change_max"), signal.missing->changed);
  EXPECT_EQ(report.metrics.at("robustness.missing.idle.mean_abs_change"), idle.missing->changed);
  EXPECT_EQ(report.metrics.at("robustness.noise_mean_abs_change"), report.noise_all->changed);
  // Every gateable name is in the report.
  for (const std::string& name : RobustnessMetricNames(Task::kRegression, {0.05, true}))
    EXPECT_TRUE(report.metrics.count(name)) << name;
  // The same seed gives the same report; another moves the noise only.
  const RobustnessReport again =
      AssessRobustness({0.05, true}, 11, Task::kRegression, 0, "rmse", g.table, g.training,
                       g.holdout, g.holdout_y, f.preprocessor, *f.model);
  EXPECT_EQ(again.ToJson(), report.ToJson());
  const RobustnessReport other =
      AssessRobustness({0.05, true}, 12, Task::kRegression, 0, "rmse", g.table, g.training,
                       g.holdout, g.holdout_y, f.preprocessor, *f.model);
  EXPECT_NE(other.noise_all->changed, report.noise_all->changed);
  EXPECT_EQ(other.features[0].missing->changed, signal.missing->changed);
}

TEST(TrainingRobustnessTest, ClassifierFlipsWhenItsSignalGoes) {
  const Generated g = Generate(true);
  const Fitted f = Fit(g, ModelType::kLogistic, Task::kBinary);
  const RobustnessReport small =
      AssessRobustness({0.05, true}, 1, Task::kBinary, 2, "roc_auc", g.table, g.training, g.holdout,
                       g.holdout_y, f.preprocessor, *f.model);
  const RobustnessReport large =
      AssessRobustness({1.0, false}, 1, Task::kBinary, 2, "roc_auc", g.table, g.training, g.holdout,
                       g.holdout_y, f.preprocessor, *f.model);
  // Without signal every row gets the same score from it: about half flip.
  EXPECT_GT(small.features[0].missing->changed, 0.3);
  EXPECT_LT(small.features[1].missing->changed, 0.05);
  EXPECT_GT(small.features[0].missing->metric_drop, 0.3);
  // Small noise flips only rows near the boundary; noise of a whole std many more.
  EXPECT_LT(small.noise_all->changed, 0.05);
  EXPECT_GT(large.noise_all->changed, 0.1);
  EXPECT_GT(large.noise_all->changed, 3 * small.noise_all->changed);
  EXPECT_GT(large.noise_all->metric_drop, small.noise_all->metric_drop);
  EXPECT_FALSE(large.features[0].missing);
  EXPECT_FALSE(large.metrics.count("robustness.missing_flip_rate_max"));
  EXPECT_EQ(small.metrics.at("robustness.noise_flip_rate"), small.noise_all->changed);
  EXPECT_EQ(small.metrics.at("robustness.missing_flip_rate_max"),
            small.features[0].missing->changed);
  const nlohmann::json json = small.ToJson();
  EXPECT_EQ(json["features"][0]["feature"], "signal");
  EXPECT_EQ(json["features"][2].count("noise"), 0u);  // color: text, no noise
  EXPECT_NE(FormatRobustness(small).find("(all numeric, noised)"), std::string::npos);
}

TEST(TrainingRobustnessTest, XgboostKeepsMissingValuesForItsOwnHandling) {
  const Generated g = Generate(true);
  Preprocessing keep;
  keep.numeric = NumericImputation::kNone;
  const Fitted f = Fit(g, ModelType::kXgboost, Task::kBinary, keep);
  EXPECT_TRUE(std::isnan(f.preprocessor.features()[0].fill));
  const RobustnessReport report =
      AssessRobustness({0.05, true}, 1, Task::kBinary, 2, "roc_auc", g.table, g.training, g.holdout,
                       g.holdout_y, f.preprocessor, *f.model);
  // XGBoost sends a missing signal down each split's learned default branch:
  // every row then scores alike, and the classes it separated are lost.
  EXPECT_GT(report.features[0].missing->changed, 0.3);
  EXPECT_GT(report.features[0].missing->metric_drop, 0.3);
  EXPECT_LT(report.features[1].missing->changed, 0.1);
}

}  // namespace
}  // namespace slipway::training
