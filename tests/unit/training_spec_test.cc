// Training specs (src/training/spec.h) and their plans against a profile
// (plan.h): what parses, what is refused and where the error points.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "core/error.h"
#include "data/profile.h"
#include "training/plan.h"
#include "training/spec.h"

namespace slipway::training {
namespace {

namespace fs = std::filesystem;

constexpr const char* kSpec = R"(data: churn@2
target: churned
exclude: [id]
task: binary
preprocessing:
  impute: {numeric: mean, categorical: missing_category}
  scale: standard
model:
  type: xgboost
  params: {num_boost_round: 200, tree_method: hist}
search:
  algorithm: tpe
  trials: 30
  space:
    max_depth: {int: [2, 8]}
    eta: {log_uniform: [0.01, 0.3]}
    grow_policy: {choice: [depthwise, lossguide]}
cv: {scheme: stratified, folds: 3}
holdout: 0.25
metric: pr_auc
seed: 7
gates:
  - {metric: roc_auc, min: 0.8}
  - {metric: roc_auc, champion: production, margin: 0.01}
register: {model: churn, alias: candidate}
)";

// The message of the error `f` throws ("" if none).
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

std::string ParseError(const std::string& text, std::vector<std::string> overrides = {}) {
  return ErrorOf([&] { ParseSpec(text, "spec.yaml", overrides); });
}

TEST(TrainingSpecTest, ReadsEveryPart) {
  const TrainingSpec spec = ParseSpec(kSpec, "spec.yaml");
  EXPECT_EQ(spec.data.name, "churn@2");
  EXPECT_EQ(spec.data.at.line, 1);
  EXPECT_EQ(spec.data.at.column, 7);
  EXPECT_EQ(spec.target.name, "churned");
  ASSERT_EQ(spec.exclude.size(), 1u);
  EXPECT_EQ(spec.exclude[0].at.line, 3);
  EXPECT_EQ(spec.task, Task::kBinary);
  EXPECT_EQ(spec.preprocessing.numeric, NumericImputation::kMean);
  EXPECT_EQ(spec.preprocessing.categorical_missing, CategoricalImputation::kMissingCategory);
  EXPECT_EQ(spec.preprocessing.scale, Scaling::kStandard);
  EXPECT_EQ(std::get<double>(spec.params.at("num_boost_round")), 200);
  EXPECT_EQ(std::get<std::string>(spec.params.at("tree_method")), "hist");
  EXPECT_EQ(spec.search.algorithm, SearchAlgorithm::kTpe);
  EXPECT_EQ(spec.search.trials, 30);
  ASSERT_EQ(spec.search.space.size(), 3u);
  EXPECT_EQ(spec.search.space[0].kind, SearchDimension::Kind::kInt);
  EXPECT_EQ(spec.search.space[1].kind, SearchDimension::Kind::kLogUniform);
  EXPECT_DOUBLE_EQ(spec.search.space[1].high, 0.3);
  EXPECT_EQ(std::get<std::string>(spec.search.space[2].choices[1]), "lossguide");
  EXPECT_EQ(spec.cv.scheme, CvScheme::kStratified);
  EXPECT_EQ(spec.cv.folds, 3);
  EXPECT_DOUBLE_EQ(spec.holdout, 0.25);
  EXPECT_EQ(spec.metric, "pr_auc");
  EXPECT_EQ(spec.seed, 7u);
  ASSERT_EQ(spec.gates.size(), 2u);
  EXPECT_EQ(*spec.gates[0].min, 0.8);
  EXPECT_EQ(*spec.gates[1].champion, "production");
  EXPECT_DOUBLE_EQ(spec.gates[1].margin, 0.01);
  EXPECT_EQ(spec.register_as->alias, "candidate");
}

TEST(TrainingSpecTest, DefaultsFollowTheTask) {
  const TrainingSpec spec =
      ParseSpec("data: d\ntarget: y\ntask: regression\nmodel: {type: linear}\n", "s.yaml");
  EXPECT_EQ(spec.metric, "rmse");
  EXPECT_FALSE(GreaterIsBetter(spec.metric));
  EXPECT_EQ(spec.search.algorithm, SearchAlgorithm::kNone);
  EXPECT_EQ(spec.cv.scheme, CvScheme::kKFold);
  EXPECT_EQ(ParseSpec("data: d\ntarget: y\n", "s.yaml").metric, "roc_auc");
}

TEST(TrainingSpecTest, OverridesApplyOverTheFile) {
  const TrainingSpec spec =
      ParseSpec(kSpec, "spec.yaml",
                {"model.params.max_leaves=31", "holdout=0.1", "data=churn@7", "features=[a, b]"});
  EXPECT_EQ(std::get<double>(spec.params.at("max_leaves")), 31);
  EXPECT_DOUBLE_EQ(spec.holdout, 0.1);
  EXPECT_EQ(spec.data.name, "churn@7");
  ASSERT_EQ(spec.features.size(), 2u);
  EXPECT_EQ(spec.features[1].name, "b");
  EXPECT_NE(ParseError(kSpec, {"model.params"}).find("expected key.path=value"), std::string::npos);
  EXPECT_NE(ParseError(kSpec, {"model.params.depth=3"}).find("unknown parameter 'depth'"),
            std::string::npos);
  // An error in a value from --set names the setting, not a line of the file.
  EXPECT_EQ(ParseError(kSpec, {"model.params.eta=2"}),
            "--set model.params.eta=2: model.params.eta: expected a number in (0, 1]; got 2");
  EXPECT_EQ(ParseError(kSpec, {"cv.folds=1"}),
            "--set cv.folds=1: cv.folds: expected 2 to 100 folds, got 1");
}

TEST(TrainingSpecTest, BadSpecsNameTheLineAndWhat) {
  EXPECT_EQ(ParseError("data: d\ntarget: y\nmodel:\n  params: {max_depht: 3}\n"),
            "spec.yaml:4:12: model.params.max_depht: unknown parameter 'max_depht' for xgboost; "
            "expected one of: num_boost_round, early_stopping_rounds, max_depth, max_leaves, "
            "max_bin, eta, min_child_weight, gamma, max_delta_step, subsample, "
            "colsample_bytree, colsample_bylevel, colsample_bynode, lambda, alpha, "
            "scale_pos_weight, tree_method, grow_policy");
  EXPECT_EQ(ParseError("data: d\ntarget: y\nmodel: {params: {eta: 0}}\n"),
            "spec.yaml:3:23: model.params.eta: expected a number in (0, 1]; got 0");
  EXPECT_EQ(ParseError("data: d\ntarget: y\nmodel: {params: {max_depth: 2.5}}\n"),
            "spec.yaml:3:29: model.params.max_depth: expected an integer in [0, 64]; got 2.5");
  EXPECT_EQ(ParseError("data: d\ntarget: y\nsearch:\n  space:\n    eta: {uniform: [0.5, 0.1]}\n"),
            "spec.yaml:5:20: search.space.eta.uniform: low 0.5 is greater than high 0.1: "
            "nothing to sample");
  EXPECT_EQ(ParseError("data: d\ntarget: y\nsearch:\n  space:\n    eta: {int: [1, 2]}\n"),
            "spec.yaml:5:11: search.space.eta.int: 'eta' is a real number; search it with "
            "uniform or log_uniform");
  EXPECT_EQ(
      ParseError("data: d\ntarget: y\nsearch:\n  space:\n    lambda: {log_uniform: [0, 1]}\n"),
      "spec.yaml:5:27: search.space.lambda.log_uniform: log_uniform needs low > 0, got 0");
  EXPECT_EQ(ParseError("data: d\ntarget: y\nsearch: {trials: 5}\n"),
            "spec.yaml:3:9: search.space: a search needs a space: at least one parameter to vary");
  EXPECT_EQ(ParseError("data: d\ntarget: y\ntask: regression\nmetric: roc_auc\n"),
            "spec.yaml:4:9: metric: unknown metric 'roc_auc' for a regression task; expected "
            "one of: rmse, mae, r2, mape");
  EXPECT_EQ(ParseError("data: d\ntarget: y\ntask: binay\n"),
            "spec.yaml:3:7: task: expected one of: binary, multiclass, regression; got 'binay'");
  EXPECT_EQ(ParseError("data: d\ntarget: y\ngates:\n  - {metric: f1}\n"),
            "spec.yaml:4:5: gates[0]: a gate needs min, max, or champion (an alias to beat, "
            "e.g. production)");
  EXPECT_EQ(ParseError("target: y\n"),
            "spec.yaml:1:1: missing key 'data': the dataset version, e.g. churn@2");
  EXPECT_EQ(ParseError("data: 'bad name!'\ntarget: y\n").substr(0, 20), "spec.yaml:1:7: data:");
  EXPECT_EQ(ParseError("data: d\ntarget: y\ncv: {scheme: grouped}\n"),
            "spec.yaml:3:5: cv: grouped folds need group: the column whose rows stay together");
  EXPECT_EQ(ParseError("data: d\ntarget: y\nholdout: 1\n"),
            "spec.yaml:3:10: holdout: expected a share of the rows in (0, 1), got 1");
  EXPECT_EQ(ParseError("data: d\ntarget: y\nmodel: {type: linear}\n"),
            "spec.yaml:3:8: model.type: linear is for regression; use logistic for classes");
  EXPECT_EQ(ParseError("data: d\ntarget: [y\n").substr(0, 25), "spec.yaml:3:1: invalid YA");
  EXPECT_EQ(ParseError("data: d\ntarget: y\nfeatures: [a, a]\n"),
            "spec.yaml:3:15: features[1]: duplicate name 'a'");
}

class TrainingPlanTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("slipway_plan_test_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  // A version of `rows` customers: id, age (every 10th missing), plan, churned.
  data::DatasetProfile Customers(int rows, const std::string& churned_every = "3") {
    const fs::path path = dir_ / "customers.csv";
    std::ofstream out(path);
    out << "id,age,plan,churned,score\n";
    const int every = std::stoi(churned_every);
    for (int i = 0; i < rows; ++i) {
      out << i << "," << (i % 10 == 9 ? "" : std::to_string(20 + i % 50)) << ","
          << (i % 4 == 0 ? "pro" : "basic") << "," << (every > 0 && i % every == 0 ? 1 : 0) << ","
          << (i * 0.5) << "\n";
    }
    out.close();
    return data::ProfileCsv(path);
  }

  static data::DatasetVersion Version() {
    data::DatasetVersion v;
    v.name = "churn";
    v.version = 2;
    v.format = "csv";
    v.content_digest = std::string(64, 'a');
    return v;
  }

  std::string PlanError(const std::string& spec_text, const data::DatasetProfile& profile) {
    const TrainingSpec spec = ParseSpec(spec_text, "spec.yaml");
    return ErrorOf([&] { PlanTraining(spec, Version(), profile); });
  }

  fs::path dir_;
};

TEST_F(TrainingPlanTest, PlansFeaturesRowsAndFits) {
  const TrainingSpec spec = ParseSpec(kSpec, "spec.yaml");
  const TrainingPlan plan = PlanTraining(spec, Version(), Customers(400));
  EXPECT_EQ(plan.dataset, "churn@2");
  EXPECT_EQ(plan.rows, 400);
  EXPECT_EQ(plan.holdout_rows, 100);
  EXPECT_EQ(plan.training_rows, 300);
  ASSERT_EQ(plan.features.size(), 3u);  // age, plan, score: id excluded
  EXPECT_EQ(plan.features[0].name, "age");
  EXPECT_EQ(plan.features[0].missing, 40);
  EXPECT_TRUE(plan.features[1].categorical);
  EXPECT_EQ(plan.features[1].distinct, 2);
  ASSERT_EQ(plan.classes.size(), 2u);
  EXPECT_EQ(plan.classes[0].label, "0");
  EXPECT_EQ(plan.classes[0].rows, 266);
  EXPECT_EQ(plan.classes[1].rows, 134);
  EXPECT_EQ(plan.ignored, std::vector<std::string>{"id"});
  EXPECT_EQ(plan.fits, 30 * 3 + 1);
  const std::string text = FormatPlan(spec, plan);
  EXPECT_NE(text.find("classes 0 (266) 1 (134)"), std::string::npos) << text;
  EXPECT_NE(text.find("age                  int64, missing -> mean, standardized (40 missing)"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("gate      roc_auc beats @production by 0.01 (95% paired bootstrap"),
            std::string::npos)
      << text;
}

TEST_F(TrainingPlanTest, RefusesWhatTheDataRulesOut) {
  const data::DatasetProfile customers = Customers(400);
  EXPECT_EQ(PlanError("data: churn@2\ntarget: churn\n", customers).substr(0, 63),
            "spec.yaml:2:9: target: no column 'churn' in churn@2 (it has: id");
  EXPECT_EQ(PlanError("data: churn@2\ntarget: churned\nfeatures: [age, income]\n", customers)
                .substr(0, 55),
            "spec.yaml:3:17: features: no column 'income' in churn@2");
  EXPECT_EQ(PlanError("data: churn@2\ntarget: age\ntask: regression\n", customers),
            "spec.yaml:2:9: target: 'age' has 40 missing values in churn@2; drop or fill those "
            "rows first");
  EXPECT_EQ(PlanError("data: churn@2\ntarget: plan\ntask: regression\n", customers),
            "spec.yaml:2:9: target: 'plan' holds string values; a regression needs numbers");
  EXPECT_EQ(PlanError("data: churn@2\ntarget: churned\n", Customers(400, "0")),
            "spec.yaml:2:9: target: 'churned' has one class only (0) in churn@2: there is "
            "nothing to tell apart");
  EXPECT_EQ(PlanError("data: churn@2\ntarget: churned\ntask: multiclass\n", customers),
            "spec.yaml:2:9: target: 'churned' has 2 classes; use task: binary");
  EXPECT_EQ(PlanError("data: churn@2\ntarget: churned\nfeatures: [churned]\n", customers),
            "spec.yaml:3:12: features: 'churned' is the target; it cannot be a feature");
  EXPECT_EQ(PlanError("data: churn@2\ntarget: churned\ncv: {scheme: stratified, folds: 10}\n",
                      Customers(40, "20")),
            "spec.yaml:2:9: target: class '1' has 2 rows: too few for 10 stratified folds after "
            "the holdout (fewer folds, or cv.scheme: kfold)");
  EXPECT_EQ(PlanError("data: churn@2\ntarget: churned\ncv: {folds: 10}\n", Customers(12)),
            "spec.yaml:1:7: data: churn@2 has 12 rows: too few for a holdout of 0.2 and 10 "
            "folds");
}

}  // namespace
}  // namespace slipway::training
