// Fairness of holdout predictions (src/training/fairness.h): per-group
// metrics and disparities held to fairlearn 0.15's values on the same
// inputs (the numbers in the comments are what fairlearn.metrics printed),
// the spec's `fairness:` section and its gates, and the plan's checks.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "core/error.h"
#include "data/profile.h"
#include "test_util/table_columns.h"
#include "test_util/temp_dir.h"
#include "training/fairness.h"
#include "training/plan.h"
#include "training/robustness.h"
#include "training/spec.h"

namespace slipway::training {
namespace {

using slipway::testing::kNaN;
using slipway::testing::Numeric;
using slipway::testing::TempDir;
using slipway::testing::Text;

template <class F>
std::string ErrorOf(F&& f) {
  try {
    f();
  } catch (const Error& error) {
    EXPECT_EQ(error.code(), ErrorCode::kInvalidParameterValue) << error.what();
    return error.what();
  }
  return "";
}

std::string ParseError(const std::string& text) {
  return ErrorOf([&] { ParseSpec(text, "spec.yaml"); });
}

const GroupMetrics& GroupOf(const SensitiveColumnFairness& c, const std::string& name) {
  for (const GroupMetrics& g : c.groups)
    if (g.group == name) return g;
  ADD_FAILURE() << "no group " << name;
  return c.overall;
}

// Ten rows in three groups of a text column with holes:
//   y     1 1 0 0 | 1 0 0 | 1 0 1
//   pred  1 0 1 0 | 1 1 1 | 0 0 1
//   sex   F F F F | M M M | - - -
TEST(TrainingFairnessTest, BinaryGroupsAgreeWithFairlearn) {
  const TableColumn sex = Text("sex", {"F", "F", "F", "F", "M", "M", "M", "", "", ""});
  const std::vector<size_t> rows = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9};
  const std::vector<double> y = {1, 1, 0, 0, 1, 0, 0, 1, 0, 1};
  const std::vector<double> predicted = {1, 0, 1, 0, 1, 1, 1, 0, 0, 1};
  const GroupedRows grouped = GroupRows(sex, rows);
  EXPECT_EQ(grouped.names, (std::vector<std::string>{"F", "M", "(missing)"}));
  const SensitiveColumnFairness c = AssessGroups(Task::kBinary, "sex", grouped, y, predicted, 1);
  ASSERT_EQ(c.groups.size(), 3u);
  // fairlearn MetricFrame.by_group: sel, tpr, fpr, acc, precision (zero_division=0), count
  //   (missing)  0.333333  0.5  0.0  0.666667  1.000000  3
  //   F          0.500000  0.5  0.5  0.500000  0.500000  4
  //   M          1.000000  1.0  1.0  0.333333  0.333333  3
  const GroupMetrics& f = GroupOf(c, "F");
  EXPECT_EQ(f.count, 4);
  EXPECT_DOUBLE_EQ(f.selection_rate, 0.5);
  EXPECT_DOUBLE_EQ(f.true_positive_rate, 0.5);
  EXPECT_DOUBLE_EQ(f.false_positive_rate, 0.5);
  EXPECT_DOUBLE_EQ(f.accuracy, 0.5);
  EXPECT_DOUBLE_EQ(f.precision, 0.5);
  const GroupMetrics& m = GroupOf(c, "M");
  EXPECT_EQ(m.count, 3);
  EXPECT_DOUBLE_EQ(m.selection_rate, 1);
  EXPECT_DOUBLE_EQ(m.true_positive_rate, 1);
  EXPECT_DOUBLE_EQ(m.false_positive_rate, 1);
  EXPECT_NEAR(m.accuracy, 1.0 / 3, 1e-15);
  EXPECT_NEAR(m.precision, 1.0 / 3, 1e-15);
  const GroupMetrics& missing = GroupOf(c, "(missing)");
  EXPECT_EQ(missing.positives, 2);
  EXPECT_EQ(missing.negatives, 1);
  EXPECT_NEAR(missing.selection_rate, 1.0 / 3, 1e-15);
  EXPECT_DOUBLE_EQ(missing.false_positive_rate, 0);
  EXPECT_DOUBLE_EQ(missing.precision, 1);
  EXPECT_EQ(c.overall.count, 10);
  EXPECT_DOUBLE_EQ(c.overall.selection_rate, 0.6);
  // demographic_parity_difference 0.6666666666666667, demographic_parity_ratio
  // 0.3333333333333333, equal_opportunity_difference 0.5, equalized_odds_difference 1.0
  EXPECT_NEAR(c.disparities.at("demographic_parity_difference"), 0.6666666666666667, 1e-15);
  EXPECT_NEAR(c.disparities.at("disparate_impact_ratio"), 0.3333333333333333, 1e-15);
  EXPECT_DOUBLE_EQ(c.disparities.at("equal_opportunity_difference"), 0.5);
  EXPECT_DOUBLE_EQ(c.disparities.at("equalized_odds_difference"), 1.0);
}

TEST(TrainingFairnessTest, UndefinedRatesFollowFairlearn) {
  // Group a has no positive rows: its TPR is 0 (fairlearn's, through
  // scikit-learn's normalised confusion matrix); b has no negatives: FPR 0.
  // fairlearn: equal_opportunity_difference 0.5, equalized_odds_difference 0.5.
  GroupedRows grouped{{"a", "b"}, {0, 0, 1, 1}};
  const std::vector<double> y = {0, 0, 1, 1};
  SensitiveColumnFairness c =
      AssessGroups(Task::kBinary, "g", grouped, y, std::vector<double>{1, 0, 1, 0}, 1);
  EXPECT_EQ(c.groups[0].positives, 0);
  EXPECT_DOUBLE_EQ(c.groups[0].true_positive_rate, 0);
  EXPECT_DOUBLE_EQ(c.disparities.at("equal_opportunity_difference"), 0.5);
  EXPECT_DOUBLE_EQ(c.disparities.at("equalized_odds_difference"), 0.5);
  // Nobody selected: demographic_parity_ratio is nan in fairlearn too.
  c = AssessGroups(Task::kBinary, "g", grouped, y, std::vector<double>{0, 0, 0, 0}, 1);
  EXPECT_DOUBLE_EQ(c.disparities.at("demographic_parity_difference"), 0);
  EXPECT_TRUE(std::isnan(c.disparities.at("disparate_impact_ratio")));
  EXPECT_DOUBLE_EQ(c.groups[0].precision, 0);  // selects nobody: scikit-learn's 0
  // One group: no spread.
  c = AssessGroups(Task::kBinary, "g", GroupedRows{{"a"}, {0, 0, 0, 0}}, y,
                   std::vector<double>{0, 1, 1, 0}, 1);
  EXPECT_DOUBLE_EQ(c.disparities.at("demographic_parity_difference"), 0);
  EXPECT_DOUBLE_EQ(c.disparities.at("disparate_impact_ratio"), 1);
}

TEST(TrainingFairnessTest, GroupsSortNumbersByValueAndNameBooleans) {
  const std::vector<size_t> rows = {0, 1, 2, 3, 4};
  EXPECT_EQ(GroupRows(Numeric("band", {10, 2, kNaN, 2, 1.5}), rows).names,
            (std::vector<std::string>{"1.5", "2", "10", "(missing)"}));
  EXPECT_EQ(GroupRows(Numeric("flag", {1, 0, 1, 1, 0}, true), rows).names,
            (std::vector<std::string>{"false", "true"}));
  const GroupedRows text = GroupRows(Text("c", {"b", "a", "b", "c", "a"}), {{1, 3, 4}});
  EXPECT_EQ(text.names, (std::vector<std::string>{"a", "c"}));  // only the rows asked
  EXPECT_EQ(text.group_of_row, (std::vector<size_t>{0, 1, 0}));
}

TEST(TrainingFairnessTest, MulticlassComparesOneClassAgainstTheRest) {
  // Classes 0, 1, 2; positive class 2.
  GroupedRows grouped{{"x", "y"}, {0, 0, 0, 1, 1, 1}};
  const std::vector<double> y = {2, 0, 1, 2, 2, 1};
  const std::vector<double> predicted = {2, 2, 0, 1, 2, 1};
  const SensitiveColumnFairness c = AssessGroups(Task::kMulticlass, "g", grouped, y, predicted, 2);
  EXPECT_NEAR(c.groups[0].selection_rate, 2.0 / 3, 1e-15);
  EXPECT_DOUBLE_EQ(c.groups[0].true_positive_rate, 1);
  EXPECT_DOUBLE_EQ(c.groups[0].false_positive_rate, 0.5);
  EXPECT_NEAR(c.groups[0].accuracy, 1.0 / 3, 1e-15);  // every class must match
  EXPECT_NEAR(c.groups[1].selection_rate, 1.0 / 3, 1e-15);
  EXPECT_DOUBLE_EQ(c.groups[1].true_positive_rate, 0.5);
  EXPECT_NEAR(c.disparities.at("demographic_parity_difference"), 1.0 / 3, 1e-15);
  EXPECT_DOUBLE_EQ(c.disparities.at("equal_opportunity_difference"), 0.5);
  EXPECT_DOUBLE_EQ(c.disparities.at("equalized_odds_difference"), 0.5);
}

TEST(TrainingFairnessTest, RegressionGroupsHaveTheirErrors) {
  GroupedRows grouped{{"a", "b"}, {0, 0, 1, 1, 1}};
  const std::vector<double> y = {1, 3, 0, 0, 0};
  const std::vector<double> predicted = {2, 1, 3, 0, 0};
  const SensitiveColumnFairness c = AssessGroups(Task::kRegression, "g", grouped, y, predicted, 0);
  EXPECT_DOUBLE_EQ(c.groups[0].mae, 1.5);
  EXPECT_DOUBLE_EQ(c.groups[0].rmse, std::sqrt(2.5));
  EXPECT_DOUBLE_EQ(c.groups[0].mean_prediction, 1.5);
  EXPECT_DOUBLE_EQ(c.groups[0].mean_target, 2);
  EXPECT_DOUBLE_EQ(c.groups[1].mae, 1);
  EXPECT_DOUBLE_EQ(c.groups[1].rmse, std::sqrt(3.0));
  EXPECT_DOUBLE_EQ(c.disparities.at("mae_difference"), 0.5);
  EXPECT_DOUBLE_EQ(c.disparities.at("rmse_difference"), std::sqrt(3.0) - std::sqrt(2.5));
  EXPECT_FALSE(c.disparities.count("demographic_parity_difference"));
}

TEST(TrainingFairnessTest, PredictedLabelsAndClassIndex) {
  EXPECT_EQ(PredictedLabels(Task::kBinary, {3, 1, {0.2, 0.5, 0.51}}),
            (std::vector<double>{0, 0, 1}));  // P > 0.5, as Evaluate
  EXPECT_EQ(PredictedLabels(Task::kMulticlass, {2, 3, {0.2, 0.4, 0.4, 0.5, 0.3, 0.2}}),
            (std::vector<double>{1, 0}));  // ties: the lower index
  const std::vector<std::string> classes = {"0", "1"};
  EXPECT_EQ(ClassIndex(classes, "1"), 1u);
  EXPECT_EQ(ClassIndex(classes, "1.0"), 1u);
  EXPECT_EQ(ClassIndex(classes, "yes"), std::nullopt);
  EXPECT_EQ(ClassIndex({"no", "yes"}, "yes"), 1u);
  EXPECT_EQ(ClassIndex({"False", "True"}, "true"), 1u);  // a profile's text, the spec's bool
  EXPECT_EQ(ClassIndex({"false", "true"}, "FALSE"), 0u);
  EXPECT_EQ(ClassIndex({"no", "yes"}, "true"), std::nullopt);
}

// Two sensitive columns: the top-level metrics are the worse column's.
TEST(TrainingFairnessTest, ReportTakesTheWorstColumnAndNamesWhatGatesMayUse) {
  const TrainingSpec spec = ParseSpec(
      "data: d@1\ntarget: y\nfairness: {sensitive: [sex, age band, 'region(eu)']}\n", "s.yaml");
  Table t;
  t.rows = 6;
  t.columns = {Text("sex", {"F", "F", "F", "M", "M", "M"}),
               Text("age band", {"a", "b", "a", "b", "a", "b"}),
               Text("region(eu)", {"n", "n", "n", "n", "n", "n"})};
  const std::vector<size_t> rows = {0, 1, 2, 3, 4, 5};
  const std::vector<double> y = {1, 0, 1, 0, 1, 0};
  const Matrix p{6, 1, {0.9, 0.8, 0.7, 0.1, 0.6, 0.2}};  // selects 0, 1, 2, 4
  const FairnessReport report = AssessFairness(spec, {"sex"}, {"0", "1"}, t, rows, y, p);
  EXPECT_EQ(report.positive_class, "1");
  ASSERT_EQ(report.columns.size(), 3u);
  EXPECT_TRUE(report.columns[0].feature);
  EXPECT_FALSE(report.columns[1].feature);
  // sex: F 3/3, M 1/3 -> 2/3; age band: a 3/3, b 1/3 -> 2/3 as well but
  // TPR: sex F 2/2, M 1/1 -> 0; age band a 3/3, b 0/0 (no positives) -> 1.
  EXPECT_NEAR(report.metrics.at("fairness.sex.demographic_parity_difference"), 2.0 / 3, 1e-15);
  EXPECT_DOUBLE_EQ(report.metrics.at("fairness.sex.equal_opportunity_difference"), 0);
  EXPECT_DOUBLE_EQ(report.metrics.at("fairness.age band.equal_opportunity_difference"), 1);
  EXPECT_DOUBLE_EQ(report.metrics.at("fairness.equal_opportunity_difference"), 1);
  // region has one group: ratio 1, but the worst column's is 1/3.
  EXPECT_NEAR(report.metrics.at("fairness.disparate_impact_ratio"), 1.0 / 3, 1e-15);
  // A column whose name cannot be in a metric key is in the JSON only.
  EXPECT_FALSE(report.metrics.count("fairness.region(eu).demographic_parity_difference"));
  const std::vector<std::string> names = FairnessMetricNames(spec.task, *spec.fairness);
  for (const auto& [name, value] : report.metrics)
    EXPECT_NE(std::find(names.begin(), names.end(), name), names.end()) << name;
  EXPECT_EQ(names.size(), report.metrics.size());
  const nlohmann::json json = report.ToJson();
  EXPECT_EQ(json["columns"][2]["column"], "region(eu)");
  EXPECT_EQ(json["columns"][0]["groups"][1]["group"], "M");
  EXPECT_EQ(json["columns"][0]["groups"][1]["selected"], 1);
  const std::string text = FormatFairness(report);
  EXPECT_NE(text.find("fairness of 'age band' (not a feature) on 6 holdout rows, positive class 1"),
            std::string::npos)
      << text;
}

TEST(TrainingFairnessTest, NobodySelectedIsNullInTheReport) {
  const TrainingSpec spec = ParseSpec("data: d@1\ntarget: y\nfairness: [g]\n", "s.yaml");
  Table t;
  t.rows = 4;
  t.columns = {Text("g", {"a", "a", "b", "b"})};
  const FairnessReport report =
      AssessFairness(spec, {}, {"0", "1"}, t, std::vector<size_t>{0, 1, 2, 3},
                     std::vector<double>{0, 1, 0, 1}, Matrix{4, 1, {0.1, 0.2, 0.3, 0.4}});
  EXPECT_TRUE(std::isnan(report.metrics.at("fairness.disparate_impact_ratio")));
  EXPECT_TRUE(report.ToJson()["metrics"]["fairness.disparate_impact_ratio"].is_null());
}

// --- the spec

TEST(TrainingFairnessSpecTest, ReadsTheSectionAndItsShortForm) {
  TrainingSpec spec = ParseSpec(
      "data: d\ntarget: y\nfairness:\n  sensitive: [sex, age_band]\n  positive_class: yes\n"
      "gates:\n  - {metric: fairness.demographic_parity_difference, max: 0.1}\n"
      "  - {metric: fairness.sex.disparate_impact_ratio, min: 0.8}\n",
      "spec.yaml");
  ASSERT_TRUE(spec.fairness);
  ASSERT_EQ(spec.fairness->sensitive.size(), 2u);
  EXPECT_EQ(spec.fairness->sensitive[1].name, "age_band");
  EXPECT_EQ(spec.fairness->sensitive[1].at.line, 4);
  ASSERT_TRUE(spec.fairness->positive_class);
  EXPECT_EQ(spec.fairness->positive_class->name, "yes");
  ASSERT_EQ(spec.gates.size(), 2u);
  EXPECT_EQ(spec.gates[0].metric, "fairness.demographic_parity_difference");
  EXPECT_EQ(*spec.gates[1].min, 0.8);
  // Gates may come before the section they name.
  spec = ParseSpec(
      "data: d\ntarget: y\ngates: [{metric: fairness.equal_opportunity_difference, max: 0.2}]\n"
      "fairness: [sex]\n",
      "spec.yaml");
  EXPECT_EQ(spec.fairness->sensitive[0].name, "sex");
  EXPECT_FALSE(spec.fairness->positive_class);
  EXPECT_FALSE(ParseSpec("data: d\ntarget: y\n", "spec.yaml").fairness);
}

TEST(TrainingFairnessSpecTest, BadSectionsAndGatesNameTheLine) {
  EXPECT_EQ(ParseError("data: d\ntarget: y\nfairness: {sensitiv: [a]}\n"),
            "spec.yaml:3:12: fairness.sensitiv: unknown key 'sensitiv'; expected one of: "
            "sensitive, positive_class");
  EXPECT_EQ(ParseError("data: d\ntarget: y\nfairness: {positive_class: 1}\n"),
            "spec.yaml:3:11: fairness: fairness needs sensitive: the columns whose groups are "
            "compared");
  EXPECT_EQ(ParseError("data: d\ntarget: y\ntask: multiclass\nfairness: [a]\n"),
            "spec.yaml:4:11: fairness: a multiclass task needs fairness.positive_class: the "
            "class whose selection is compared across groups");
  EXPECT_EQ(ParseError("data: d\ntarget: y\ntask: regression\nfairness: "
                       "{sensitive: [a], positive_class: 1}\n"),
            "spec.yaml:4:44: fairness.positive_class: a regression has no classes");
  EXPECT_EQ(
      ParseError("data: d\ntarget: y\ngates:\n  - {metric: fairness.demographic_parity_difference, "
                 "max: 0.1}\n"),
      "spec.yaml:4:14: gates[0].metric: 'fairness.demographic_parity_difference' needs a "
      "fairness: section in the spec");
  EXPECT_EQ(ParseError("data: d\ntarget: y\nfairness: [sex]\ngates:\n"
                       "  - {metric: fairness.age.demographic_parity_difference, max: 0.1}\n"),
            "spec.yaml:5:14: gates[0].metric: unknown fairness metric "
            "'fairness.age.demographic_parity_difference' for a binary task; expected one of: "
            "fairness.demographic_parity_difference, fairness.disparate_impact_ratio, "
            "fairness.equal_opportunity_difference, fairness.equalized_odds_difference, "
            "fairness.sex.demographic_parity_difference, fairness.sex.disparate_impact_ratio, "
            "fairness.sex.equal_opportunity_difference, fairness.sex.equalized_odds_difference");
  EXPECT_EQ(ParseError("data: d\ntarget: y\ntask: regression\nfairness: [sex]\ngates:\n"
                       "  - {metric: fairness.demographic_parity_difference, max: 0.1}\n")
                .substr(0, 151),
            "spec.yaml:6:14: gates[0].metric: unknown fairness metric "
            "'fairness.demographic_parity_difference' for a regression task; expected one of: "
            "fairness.mae_");
  EXPECT_EQ(ParseError("data: d\ntarget: y\nfairness: [sex]\ngates:\n"
                       "  - {metric: fairness.demographic_parity_difference, champion: prod}\n"),
            "spec.yaml:5:5: gates[0]: a champion gate compares holdout metrics; "
            "'fairness.demographic_parity_difference' takes min or max");
  // The bare name: the message offers the prefixed ones.
  EXPECT_NE(ParseError("data: d\ntarget: y\nfairness: [sex]\ngates:\n"
                       "  - {metric: demographic_parity_difference, max: 0.1}\n")
                .find("unknown metric 'demographic_parity_difference' for a binary task; "
                      "expected one of: roc_auc"),
            std::string::npos);
  EXPECT_NE(ParseError("data: d\ntarget: y\nfairness: [sex]\ngates:\n"
                       "  - {metric: demographic_parity_difference, max: 0.1}\n")
                .find(", fairness.demographic_parity_difference,"),
            std::string::npos);
}

TEST(TrainingFairnessSpecTest, RobustnessSectionAndGates) {
  TrainingSpec spec = ParseSpec(
      "data: d\ntarget: y\nrobustness: {noise: 0.1}\n"
      "gates: [{metric: robustness.noise_flip_rate, max: 0.05}]\n",
      "spec.yaml");
  ASSERT_TRUE(spec.robustness);
  EXPECT_EQ(spec.robustness->noise, 0.1);
  EXPECT_TRUE(spec.robustness->missing);
  spec = ParseSpec("data: d\ntarget: y\nrobustness: {}\n", "spec.yaml");
  EXPECT_EQ(spec.robustness->noise, 0.05);
  EXPECT_EQ(ParseError("data: d\ntarget: y\nrobustness: {noise: -1}\n"),
            "spec.yaml:3:21: robustness.noise: expected a multiple of each feature's std in "
            "[0, 10], got -1");
  EXPECT_EQ(ParseError("data: d\ntarget: y\nmodel: {type: logistic}\n"
                       "preprocessing: {impute: {numeric: none}}\nrobustness: {noise: 0.1}\n"),
            "spec.yaml:5:13: robustness.missing: each feature set missing reaches a logistic "
            "model as is with impute.numeric: none, and it cannot take missing values; impute "
            "with median or mean, or set missing: false");
  EXPECT_TRUE(ParseSpec("data: d\ntarget: y\npreprocessing: {impute: {numeric: none}}\n"
                        "robustness: {noise: 0.1}\n",
                        "spec.yaml")
                  .robustness);  // XGBoost takes them
  EXPECT_EQ(ParseError("data: d\ntarget: y\nrobustness: {noise: 0, missing: false}\n"),
            "spec.yaml:3:13: robustness: noise 0 and missing false leave nothing to assess; "
            "drop robustness");
  EXPECT_EQ(ParseError("data: d\ntarget: y\ntask: regression\nrobustness: {}\n"
                       "gates: [{metric: robustness.noise_flip_rate, max: 0.05}]\n"),
            "spec.yaml:5:18: gates[0].metric: unknown robustness metric "
            "'robustness.noise_flip_rate' for a regression task; expected one of: "
            "robustness.noise_mean_abs_change, robustness.noise_metric_drop, "
            "robustness.missing_mean_abs_change_max, robustness.missing_metric_drop_max, or "
            "per feature robustness.<noise|missing>.<feature>.<mean_abs_change|metric_drop>");
  EXPECT_EQ(ParseError("data: d\ntarget: y\nrobustness: {noise: 0}\n"
                       "gates: [{metric: robustness.noise_metric_drop, max: 0.05}]\n"),
            "spec.yaml:4:18: gates[0].metric: unknown robustness metric "
            "'robustness.noise_metric_drop' for a binary task; expected one of: "
            "robustness.missing_flip_rate_max, robustness.missing_metric_drop_max, or per "
            "feature robustness.<missing>.<feature>.<flip_rate|metric_drop>");
  // One feature's metrics: the feature is the plan's to check.
  spec = ParseSpec(
      "data: d\ntarget: y\nrobustness: {}\ngates:\n"
      "  - {metric: robustness.missing.age.flip_rate, max: 0.1}\n"
      "  - {metric: robustness.noise.income.metric_drop, max: 0.01}\n",
      "spec.yaml");
  EXPECT_EQ(spec.gates[1].metric, "robustness.noise.income.metric_drop");
  EXPECT_NE(ParseError("data: d\ntarget: y\nrobustness: {}\n"
                       "gates: [{metric: robustness.missing.age.mean_abs_change, max: 1}]\n"),
            "");  // a regression's name in a binary task
  EXPECT_NE(ParseError("data: d\ntarget: y\nrobustness: {}\n"
                       "gates: [{metric: robustness.drift.age.flip_rate, max: 1}]\n"),
            "");
}

TEST(TrainingRobustnessNamesTest, FeatureMetricsTakeNamesApart) {
  const Robustness both{0.05, true};
  const std::optional<FeatureMetric> m =
      FeatureMetricOf(Task::kBinary, both, "robustness.noise.age band.flip_rate");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->feature, "age band");
  EXPECT_TRUE(m->noise);
  EXPECT_FALSE(FeatureMetricOf(Task::kBinary, both, "robustness.noise_flip_rate"));
  EXPECT_FALSE(FeatureMetricOf(Task::kBinary, both, "robustness.noise.a.b.flip_rate"));
  EXPECT_FALSE(FeatureMetricOf(Task::kBinary, both, "robustness.missing..flip_rate"));
  EXPECT_FALSE(FeatureMetricOf(Task::kBinary, {0, true}, "robustness.noise.age.flip_rate"));
  EXPECT_FALSE(FeatureMetricOf(Task::kBinary, {0.1, false}, "robustness.missing.age.flip_rate"));
  EXPECT_TRUE(FeatureMetricOf(Task::kRegression, both, "robustness.missing.age.mean_abs_change"));
}

// --- the plan

class TrainingFairnessPlanTest : public ::testing::Test {
 protected:
  // 200 people: id, sex (with holes), age, band, approved.
  data::DatasetProfile People() {
    std::string csv = "id,sex,age,band,approved\n";
    for (int i = 0; i < 200; ++i) {
      csv += std::to_string(i) + "," +
             (i % 17 == 0 ? ""
              : i % 2     ? "F"
                          : "M") +
             "," + std::to_string(18 + i % 60) + "," + std::to_string(i % 3) + "," +
             (i % 3 == 0 ? "1" : "0") + "\n";
    }
    return data::ProfileCsv(dir_.Write("people.csv", csv));
  }

  static data::DatasetVersion Version() {
    data::DatasetVersion v;
    v.name = "people";
    v.version = 1;
    v.format = "csv";
    v.content_digest = std::string(64, 'b');
    return v;
  }

  std::string PlanError(const std::string& spec_text) {
    const TrainingSpec spec = ParseSpec(spec_text, "spec.yaml");
    return ErrorOf([&] { PlanTraining(spec, Version(), People()); });
  }

  TempDir dir_{"slipway-fairness-plan"};
};

TEST_F(TrainingFairnessPlanTest, SensitiveColumnsAreReadAndPrinted) {
  const TrainingSpec spec = ParseSpec(
      "data: people@1\ntarget: approved\nexclude: [id, sex]\nfairness: [sex, band]\n"
      "robustness: {noise: 0.1}\n",
      "spec.yaml");
  const TrainingPlan plan = PlanTraining(spec, Version(), People());
  ASSERT_EQ(plan.features.size(), 2u);  // age, band
  EXPECT_EQ(plan.ignored, std::vector<std::string>{"id"});
  const std::string text = FormatPlan(spec, plan);
  EXPECT_NE(text.find("fairness  groups of sex (not a feature), band on the holdout, positive "
                      "class 1\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("robustness noise of 0.1 x each numeric feature's std, each feature "
                      "missing in turn on the holdout\n"),
            std::string::npos)
      << text;
}

TEST_F(TrainingFairnessPlanTest, UnknownColumnsFailBeforeTrainingWithTheLine) {
  EXPECT_EQ(PlanError("data: people@1\ntarget: approved\nfairness:\n  sensitive: [sex, gender]\n")
                .substr(0, 80),
            "spec.yaml:4:20: fairness.sensitive: no column 'gender' in people@1 (it has: id, ");
  EXPECT_EQ(PlanError("data: people@1\ntarget: approved\nfairness: [approved]\n"),
            "spec.yaml:3:12: fairness.sensitive: 'approved' is the target; a sensitive column "
            "groups the rows");
  // The profile's distinct count is an estimate (~199 of 200 here).
  const std::string many = PlanError("data: people@1\ntarget: approved\nfairness: [id]\n");
  EXPECT_EQ(many.substr(0, 48), "spec.yaml:3:12: fairness.sensitive: 'id' has ~19") << many;
  EXPECT_TRUE(many.ends_with(
      " distinct values: too many groups to compare (at most 50); bin it into a column of bands "
      "first"))
      << many;
  EXPECT_EQ(PlanError("data: people@1\ntarget: approved\n"
                      "fairness: {sensitive: [sex], positive_class: yes}\n"),
            "spec.yaml:3:46: fairness.positive_class: no class 'yes' in 'approved' (its "
            "classes: 0, 1)");
  // Gates on one feature's robustness name a feature; noise, a numeric one.
  EXPECT_EQ(PlanError("data: people@1\ntarget: approved\nrobustness: {}\ngates:\n"
                      "  - {metric: robustness.missing.income.flip_rate, max: 0.1}\n")
                .substr(0, 108),
            "spec.yaml:5:5: gates[0].metric: 'income' is not a feature of the model (its "
            "features: id, sex, age, band)");
  EXPECT_EQ(PlanError("data: people@1\ntarget: approved\nrobustness: {}\ngates:\n"
                      "  - {metric: robustness.noise.sex.flip_rate, max: 0.1}\n"),
            "spec.yaml:5:5: gates[0].metric: 'sex' is not numeric: noise goes on numeric "
            "features only");
  EXPECT_EQ(PlanError("data: people@1\ntarget: approved\nrobustness: {}\ngates:\n"
                      "  - {metric: robustness.noise.age.flip_rate, max: 0.1}\n"
                      "  - {metric: robustness.missing.sex.metric_drop, max: 0.1}\n"),
            "");
  // A number written another way is the same class.
  EXPECT_EQ(PlanError("data: people@1\ntarget: approved\n"
                      "fairness: {sensitive: [sex], positive_class: 1.0}\n"),
            "");
}

}  // namespace
}  // namespace slipway::training
