// Evaluation artifacts: the curves against scikit-learn (the expected arrays
// were computed once with scikit-learn 1.9.1 on exactly these inputs:
// sklearn.metrics.roc_curve, precision_recall_curve, roc_auc_score(
// multi_class="ovr"), sklearn.calibration.calibration_curve), the SVG charts,
// the report's files, and the explanations of fitted XGBoost and linear
// models (SHAP values add up to the model's margin; the Python check of the
// same numbers is tests/integration/test_evaluate.py).
#include "training/evaluation.h"

#include <gtest/gtest.h>

#include <cmath>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "core/error.h"
#include "training/charts.h"
#include "training/explain.h"
#include "training/gates.h"
#include "training/metrics.h"
#include "training/spec.h"
#include "training/trainer.h"

namespace slipway::training {
namespace {

using nlohmann::json;

constexpr double kTol = 1e-12;
const double kInf = std::numeric_limits<double>::infinity();

const std::vector<double> kY = {0, 1, 1, 0, 1, 0, 1, 1, 0, 0};
const std::vector<double> kScore = {0.1, 0.8, 0.65, 0.3, 0.45, 0.45, 0.9, 0.2, 0.55, 0.05};

void ExpectNear(const std::vector<double>& got, const std::vector<double>& expected,
                const char* what) {
  ASSERT_EQ(got.size(), expected.size()) << what;
  for (size_t i = 0; i < got.size(); ++i) {
    if (std::isinf(expected[i])) {
      EXPECT_EQ(got[i], expected[i]) << what << "[" << i << "]";
    } else {
      EXPECT_NEAR(got[i], expected[i], kTol) << what << "[" << i << "]";
    }
  }
}

size_t Count(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

TEST(EvaluationCurvesTest, RocCurveMatchesScikitLearn) {
  const RocCurve roc = RocCurveOf(kY, kScore);
  // The tie at 0.45 is one point; collinear points are dropped.
  ExpectNear(roc.fpr, {0, 0, 0, 0.2, 0.4, 0.6, 0.6, 1}, "fpr");
  ExpectNear(roc.tpr, {0, 0.2, 0.6, 0.6, 0.8, 0.8, 1, 1}, "tpr");
  ExpectNear(roc.thresholds, {kInf, 0.9, 0.65, 0.55, 0.45, 0.3, 0.2, 0.05}, "thresholds");
}

TEST(EvaluationCurvesTest, PrCurveMatchesScikitLearn) {
  const PrCurve pr = PrCurveOf(kY, kScore);
  ExpectNear(pr.precision, {0.5, 5.0 / 9, 0.625, 4.0 / 7, 2.0 / 3, 0.75, 1, 1, 1, 1}, "precision");
  ExpectNear(pr.recall, {1, 1, 1, 0.8, 0.8, 0.6, 0.6, 0.4, 0.2, 0}, "recall");
  ExpectNear(pr.thresholds, {0.05, 0.1, 0.2, 0.3, 0.45, 0.55, 0.65, 0.8, 0.9}, "thresholds");
}

TEST(EvaluationCurvesTest, CalibrationCurveMatchesScikitLearn) {
  // 0.1 lies on the edge between the first two bins: numpy's searchsorted
  // puts it in the lower one (with 0.05, so the bin's mean is 0.075).
  const CalibrationCurve c = CalibrationCurveOf(kY, kScore, 10);
  ExpectNear(c.prob_true, {0, 1, 0, 0.5, 0, 1, 1, 1}, "prob_true");
  ExpectNear(c.prob_pred, {0.075, 0.2, 0.3, 0.45, 0.55, 0.65, 0.8, 0.9}, "prob_pred");
  EXPECT_EQ(c.counts, (std::vector<int64_t>{2, 1, 1, 2, 1, 1, 1, 1}));
  const CalibrationCurve three = CalibrationCurveOf(kY, kScore, 3);
  ExpectNear(three.prob_true, {0.25, 0.5, 1}, "prob_true (3 bins)");
  ExpectNear(three.prob_pred, {0.1625, 0.525, 0.85}, "prob_pred (3 bins)");
  // Sum of counts / rows * |prob_true - prob_pred| over the 10 bins.
  EXPECT_NEAR(CalibrationError(kY, kScore), 0.255, kTol);
  EXPECT_THROW(CalibrationCurveOf(kY, std::vector<double>(10, 1.5)), Error);
  EXPECT_TRUE(std::isnan(CalibrationError(kY, std::vector<double>(10, 1.5))));
}

TEST(EvaluationCurvesTest, MulticlassOneVsRestAucMatchesScikitLearn) {
  const std::vector<double> y = {0, 1, 2, 2, 1, 0, 2};
  const std::vector<double> p = {.7, .2,  .1, .1,  .6, .3, .2, .2, .6, .3, .4,
                                 .3, .25, .5, .25, .4, .4, .2, .1, .1, .8};
  EXPECT_NEAR(RocAucOvr(y, p, 3), 0.986111111111111, kTol);
  Matrix m{7, 3, p};
  const Evaluation e = Evaluate(Task::kMulticlass, 3, y, m);
  EXPECT_NEAR(e.metrics.at("roc_auc_ovr"), 0.986111111111111, kTol);
  EXPECT_TRUE(IsMetricOf(Task::kMulticlass, "roc_auc_ovr"));
  EXPECT_TRUE(IsMetricOf(Task::kBinary, "calibration_error"));
  EXPECT_FALSE(GreaterIsBetter("calibration_error"));
  EXPECT_TRUE(GreaterIsBetter("roc_auc_ovr"));
}

TEST(EvaluationGatesTest, GatesTakeTheEvaluationsMetrics) {
  const TrainingSpec spec = ParseSpec(
      "data: d\ntarget: y\ngates:\n  - {metric: calibration_error, max: 0.3}\n"
      "  - {champion: production, metric: calibration_error, margin: 0}\n",
      "s.yaml");
  Matrix p{kScore.size(), 1, kScore};
  const Evaluation e = Evaluate(Task::kBinary, 2, kY, p);
  // A smaller error is better: the champion gate's improvement is champion - candidate.
  Matrix worse{kScore.size(), 1, std::vector<double>(kScore.size(), 0.5)};
  const auto interval =
      BootstrapImprovement(Task::kBinary, 2, kY, p, worse, "calibration_error", 0.95, 1, 200);
  EXPECT_TRUE(std::isfinite(interval.first) && std::isfinite(interval.second));
  const std::vector<GateResult> results = EvaluateGates(spec.gates, e.metrics, [&](const Gate&) {
    ChampionMetric c;
    c.exists = true;
    c.version = "1";
    c.value = Evaluate(Task::kBinary, 2, kY, worse).metrics.at("calibration_error");
    return c;
  });
  ASSERT_EQ(results.size(), 2u);
  EXPECT_TRUE(results[0].passed) << results[0].detail;  // 0.255 <= 0.3
  EXPECT_EQ(results[0].rule, "calibration_error <= 0.3");
  // A constant 0.5 on half positives is calibrated: 0 < 0.255, the candidate loses.
  EXPECT_FALSE(results[1].passed) << results[1].detail;
  EXPECT_NE(results[1].rule.find("calibration_error <= champion@production"), std::string::npos);
  EXPECT_THROW(ParseSpec("data: d\ntarget: y\ntask: regression\ngates:\n"
                         "  - {metric: calibration_error, max: 0.1}\n",
                         "s.yaml"),
               Error);
}

TEST(EvaluationGatesTest, ThresholdGatesMayNameTheModelsExplanation) {
  const TrainingSpec spec = ParseSpec(
      "data: d\ntarget: y\ngates:\n  - {metric: shap.mean_abs.age, max: 0.05}\n"
      "  - {metric: importance.gain.plan:gold, min: 1}\n",
      "s.yaml");
  ASSERT_EQ(spec.gates.size(), 2u);
  EXPECT_EQ(spec.gates[1].metric, "importance.gain.plan:gold");
  const std::vector<GateResult> results =
      EvaluateGates(spec.gates, {{"shap.mean_abs.age", 0.2}, {"importance.gain.plan:gold", 3}});
  EXPECT_FALSE(results[0].passed);
  EXPECT_EQ(results[0].detail, "0.2000: short by 0.1500");
  EXPECT_TRUE(results[1].passed);
  auto error = [](const std::string& yaml) {
    try {
      ParseSpec(yaml, "s.yaml");
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_EQ(error("data: d\ntarget: y\ngates:\n"
                  "  - {champion: production, metric: shap.mean_abs.age}\n"),
            "s.yaml:4:36: gates[0].metric: a champion gate compares the models' predictions; "
            "'shap.mean_abs.age' describes the model: give min or max");
  EXPECT_NE(error("data: d\ntarget: y\ngates:\n  - {metric: shap.mean_abs., max: 1}\n")
                .find("unknown metric 'shap.mean_abs.'"),
            std::string::npos);
}

TEST(EvaluationChartsTest, TicksAreNiceNumbers) {
  EXPECT_EQ(NiceTicks(0, 1), (std::vector<double>{0, 0.2, 0.4, 0.6000000000000001, 0.8, 1}));
  EXPECT_EQ(NiceTicks(-3, 12), (std::vector<double>{0, 5, 10}));
  EXPECT_EQ(NiceTicks(0, 250), (std::vector<double>{0, 50, 100, 150, 200, 250}));
}

TEST(EvaluationChartsTest, AnXyChartHasAxesTicksLabelsAndALegend) {
  XyChart chart{"ROC <holdout> & more",
                "False positive rate",
                "True positive rate",
                std::pair{0.0, 1.0},
                std::pair{0.0, 1.0},
                {},
                "chance",
                {}};
  chart.series.push_back({"class a", {0, 0.5, 1}, {0, 0.8, 1}, ChartSeries::Style::kLine});
  chart.series.push_back({"class b", {0, 0.2, 1}, {0, 0.9, 1}, ChartSeries::Style::kLine});
  const std::string svg = XyChartSvg(chart);
  EXPECT_EQ(svg.rfind("<svg xmlns=\"http://www.w3.org/2000/svg\"", 0), 0u);
  EXPECT_NE(svg.find("</svg>"), std::string::npos);
  EXPECT_NE(svg.find("ROC &lt;holdout&gt; &amp; more"), std::string::npos);
  EXPECT_EQ(svg.find("<holdout>"), std::string::npos);
  EXPECT_NE(svg.find(">False positive rate</text>"), std::string::npos);
  EXPECT_NE(svg.find(">True positive rate</text>"), std::string::npos);
  EXPECT_EQ(Count(svg, "<polyline class=\"series\""), 2u);
  EXPECT_NE(svg.find(">class a</text>"), std::string::npos);
  EXPECT_NE(svg.find(">class b</text>"), std::string::npos);
  EXPECT_NE(svg.find(">chance</text>"), std::string::npos);
  // Six ticks per axis, labelled with one decimal.
  for (const char* tick : {">0.0<", ">0.2<", ">0.4<", ">0.6<", ">0.8<", ">1.0<"})
    EXPECT_EQ(Count(svg, tick), 2u) << tick;
  // The curve's points land inside the plot: x 0..1 maps onto 72..492.
  EXPECT_NE(svg.find("points=\"72.00,464.00 282.00,128.00 492.00,44.00\""), std::string::npos)
      << svg;
}

TEST(EvaluationChartsTest, ABarChartDrawsNegativeBarsLeftOfZero) {
  const std::string svg = BarChartSvg({"Coefficients", "Coefficient", {{"a", 2}, {"b", -1}}});
  EXPECT_EQ(Count(svg, "<rect x="), 2u);
  EXPECT_NE(svg.find(">a</text>"), std::string::npos);
  EXPECT_NE(svg.find("<title>b: -1</title>"), std::string::npos);
  EXPECT_NE(svg.find(">-1<"), std::string::npos);              // the axis reaches below 0
  EXPECT_NE(svg.find("fill=\"#e15759\""), std::string::npos);  // the negative bar's colour
}

TEST(EvaluationReportTest, BinaryWritesCurvesAsJsonAndSvg) {
  Matrix p{kScore.size(), 1, kScore};
  const EvaluationReport report =
      EvaluatePredictions({Task::kBinary, {"no", "yes"}, kY, &p, "test@1 holdout"});
  std::set<std::string> names;
  for (const EvaluationFile& f : report.files) names.insert(f.name);
  EXPECT_EQ(names, (std::set<std::string>{"metrics.json", "roc_curve.json", "roc_curve.svg",
                                          "pr_curve.json", "pr_curve.svg", "calibration_curve.json",
                                          "calibration_curve.svg"}));
  auto file = [&](const std::string& name) {
    for (const EvaluationFile& f : report.files)
      if (f.name == name) return f.bytes;
    return std::string();
  };
  const json roc = json::parse(file("roc_curve.json"));
  ASSERT_EQ(roc["curves"].size(), 1u);
  EXPECT_EQ(roc["curves"][0]["class"], "yes");
  EXPECT_TRUE(roc["curves"][0]["thresholds"][0].is_null());  // +infinity
  EXPECT_EQ(roc["curves"][0]["thresholds"][1], 0.9);
  EXPECT_NEAR(roc["curves"][0]["auc"].get<double>(), 0.82, kTol);
  const json metrics = json::parse(file("metrics.json"));
  EXPECT_EQ(metrics["rows"], 10);
  EXPECT_NEAR(metrics["metrics"]["calibration_error"].get<double>(), 0.255, kTol);
  EXPECT_EQ(metrics["confusion_matrix"], json::parse("[[4, 1], [2, 3]]"));
  EXPECT_NE(file("roc_curve.svg").find("class yes (AUC 0.820)"), std::string::npos);
  EXPECT_NE(file("roc_curve.svg").find("ROC curve: test@1 holdout"), std::string::npos);
  EXPECT_NE(file("pr_curve.svg").find("class yes (AP 0.858)"), std::string::npos);
  EXPECT_EQ(Count(file("calibration_curve.svg"), "<circle"), 8u);  // one per non-empty bin
}

TEST(EvaluationReportTest, MulticlassDrawsOneCurvePerClass) {
  const std::vector<double> y = {0, 1, 2, 2, 1, 0, 2};
  Matrix p{
      7, 3, {.7, .2, .1, .1, .6, .3, .2, .2, .6, .3, .4, .3, .25, .5, .25, .4, .4, .2, .1, .1, .8}};
  const EvaluationReport report =
      EvaluatePredictions({Task::kMulticlass, {"a", "b", "c"}, y, &p, ""});
  for (const EvaluationFile& f : report.files) {
    if (f.name == "roc_curve.svg" || f.name == "pr_curve.svg" ||
        f.name == "calibration_curve.svg") {
      EXPECT_EQ(Count(f.bytes, "<polyline class=\"series\""), 3u) << f.name;
    }
    if (f.name == "roc_curve.json") {
      const json roc = json::parse(f.bytes);
      ASSERT_EQ(roc["curves"].size(), 3u);
      EXPECT_EQ(roc["curves"][2]["class"], "c");
    }
  }
}

TEST(EvaluationReportTest, RegressionPlotsResiduals) {
  const std::vector<double> y = {3.0, -0.5, 2.0, 7.0, 4.2};
  Matrix p{5, 1, {2.5, 0.0, 2.1, 7.8, 3.9}};
  const EvaluationReport report = EvaluatePredictions({Task::kRegression, {}, y, &p, ""});
  ASSERT_EQ(report.files.size(), 3u);
  EXPECT_EQ(report.files[1].name, "residuals.json");
  const json residuals = json::parse(report.files[1].bytes);
  EXPECT_NEAR(residuals["residual"][0].get<double>(), 0.5, kTol);
  EXPECT_NEAR(residuals["residual"][3].get<double>(), -0.8, 1e-12);
  EXPECT_EQ(Count(report.files[2].bytes, "<circle"), 5u);
  EXPECT_NEAR(report.evaluation.metrics.at("r2"), 0.9594665271966527, kTol);
}

// y = 1 when a + b > 5; c is noise the trees may never use.
struct Planted {
  Matrix x{300, 3, {}};
  std::vector<double> y;
  Planted() {
    for (size_t i = 0; i < x.rows; ++i) {
      const double a = static_cast<double>((i * 37) % 50) / 5, b = static_cast<double>(i % 7);
      x.values.insert(x.values.end(), {a, b, static_cast<double>((i * 13) % 11)});
      y.push_back(a + b > 5 ? 1 : 0);
    }
  }
};

TEST(EvaluationExplainTest, XgboostShapAddsUpToTheMargin) {
  const Planted data;
  TrainerOptions options;
  options.feature_names = {"a", "b", "c=x"};
  options.params = {{"num_boost_round", 15.0}, {"max_depth", 2.0}};
  options.seed = 3;
  auto model = Trainer::Create(options)->Fit(data.x, data.y);
  const std::string bytes = model->Files()[0].bytes;
  const Matrix p = model->Predict(data.x);

  const ShapValues shap = XgboostShap(bytes, data.x);
  ASSERT_EQ(shap.rows, 300u);
  ASSERT_EQ(shap.groups, 1u);
  ASSERT_EQ(shap.width, 4u);
  for (size_t r = 0; r < shap.rows; ++r) {
    double margin = 0;
    for (size_t c = 0; c < shap.width; ++c) margin += shap(r, 0, c);
    EXPECT_NEAR(1 / (1 + std::exp(-margin)), p(r, 0), 1e-5) << r;
  }
  EXPECT_EQ(XgboostFeatureNames(bytes), (std::vector<std::string>{"a", "b", "c=x"}));
  const auto weight = XgboostImportance(bytes, "weight");
  const auto gain = XgboostImportance(bytes, "gain");
  ASSERT_TRUE(weight.count("a") && gain.count("a"));
  EXPECT_GT(gain.at("a"), 0);
  EXPECT_EQ(std::floor(weight.at("a")), weight.at("a"));  // a count of splits
  Matrix two{1, 2, {1, 2}};
  EXPECT_THROW(XgboostShap(bytes, two), Error);

  const Explanation e =
      Explain({Task::kBinary, {"0", "1"}, "model.ubj", bytes, true, &data.x, {}, 10, "planted"});
  std::set<std::string> names;
  for (const EvaluationFile& f : e.files) names.insert(f.name);
  EXPECT_EQ(names, (std::set<std::string>{"feature_importance.json", "feature_importance.svg",
                                          "shap_importance.json", "shap_importance.svg",
                                          "shap_values.csv"}));
  EXPECT_EQ(e.metrics.at("importance.gain.a"), gain.at("a"));
  // The one-hot style name becomes a key MLflow accepts.
  EXPECT_TRUE(e.metrics.count("shap.mean_abs.c:x"));
  double mean_abs_a = 0;
  for (size_t r = 0; r < shap.rows; ++r) mean_abs_a += std::abs(shap(r, 0, 0));
  EXPECT_NEAR(e.metrics.at("shap.mean_abs.a"), mean_abs_a / 300, 1e-9);
  for (const EvaluationFile& f : e.files) {
    if (f.name == "shap_values.csv") {
      EXPECT_EQ(f.bytes.substr(0, f.bytes.find('\n')), "row,a,b,c=x,bias");
      EXPECT_EQ(Count(f.bytes, "\n"), 11u);  // the header and max_shap_rows rows
    }
  }
}

TEST(EvaluationExplainTest, MulticlassShapHasAGroupPerClass) {
  Planted data;
  for (size_t i = 0; i < data.y.size(); ++i) data.y[i] = static_cast<double>(i % 3);
  TrainerOptions options;
  options.task = Task::kMulticlass;
  options.classes = 3;
  options.feature_names = {"a", "b", "c"};
  options.params = {{"num_boost_round", 5.0}, {"max_depth", 2.0}};
  auto model = Trainer::Create(options)->Fit(data.x, data.y);
  const ShapValues shap = XgboostShap(model->Files()[0].bytes, data.x);
  EXPECT_EQ(shap.groups, 3u);
  const Explanation e = Explain({Task::kMulticlass,
                                 {"x", "y", "z"},
                                 "model.ubj",
                                 model->Files()[0].bytes,
                                 true,
                                 &data.x,
                                 {},
                                 2,
                                 ""});
  for (const EvaluationFile& f : e.files) {
    if (f.name == "shap_importance.json") {
      const json j = json::parse(f.bytes);
      EXPECT_EQ(j["by_class"].size(), 3u);
      EXPECT_NEAR(j["mean_abs_shap"]["a"].get<double>(),
                  j["by_class"]["x"]["a"].get<double>() + j["by_class"]["y"]["a"].get<double>() +
                      j["by_class"]["z"]["a"].get<double>(),
                  1e-12);
    }
    if (f.name == "shap_values.csv") {
      EXPECT_EQ(Count(f.bytes, "\n"), 1u + 2 * 3);
    }
  }
}

TEST(EvaluationExplainTest, LinearModelsReportTheirCoefficients) {
  TrainerOptions options;
  options.model = ModelType::kLinear;
  options.task = Task::kRegression;
  options.feature_names = {"a", "b"};
  Matrix x{8, 2, {1, 0, 2, 1, 3, 1, 4, 2, 5, 1, 6, 3, 7, 2, 8, 3}};
  const std::vector<double> y = {3.1, 3.9, 6.2, 9.1, 9.8, 10.9, 14.2, 13.1};
  auto model = Trainer::Create(options)->Fit(x, y);
  const Matrix zero = model->Predict({1, 2, {0, 0}});
  const Matrix at_a = model->Predict({1, 2, {1, 0}});
  const Explanation e = Explain(
      {Task::kRegression, {}, "model.json", model->Files()[0].bytes, false, nullptr, {}, 1000, ""});
  EXPECT_NEAR(e.metrics.at("coefficient.a"), at_a.values[0] - zero.values[0], 1e-9);
  ASSERT_EQ(e.files.size(), 2u);
  const json c = json::parse(e.files[0].bytes);
  EXPECT_NEAR(c["intercept"].get<double>(), zero.values[0], 1e-9);
  EXPECT_NE(e.files[1].bytes.find(">a</text>"), std::string::npos);
}

}  // namespace
}  // namespace slipway::training
