// Serving what `slipway train` makes: ml::Preprocessing applied to a request's
// Frame equals training's transform of the same rows; XGBoost's categorical
// splits evaluated natively equal XGBoost's own predictor (its C API, through
// training's trainer); model.json's linear evaluator equals the trainer's; and
// a trained model folder loaded by LoadModel answers the holdout with the
// predictions training computed for it.
#include "ml/slipway_model.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <tuple>

#include "core/error.h"
#include "ml/model_loader.h"
#include "ml/preprocessing.h"
#include "ml/xgboost_model.h"
#include "test_util/table_columns.h"
#include "test_util/temp_dir.h"
#include "training/model_folder.h"
#include "training/preprocessing.h"
#include "training/trainer.h"
#include "training/training_run.h"

namespace slipway::training {
namespace {

using slipway::testing::kNaN;
using slipway::testing::Numeric;
using slipway::testing::Text;

// `rows` of `table` as a request would carry them: numbers (booleans as
// kBoolean), text as strings with missing flags.
ml::Frame FrameOf(const Table& table, const std::vector<std::string>& names,
                  const std::vector<size_t>& rows) {
  ml::Frame frame;
  frame.rows = rows.size();
  for (const std::string& name : names) {
    const TableColumn& c = table.Get(name);
    ml::Column col;
    col.name = name;
    if (c.categorical) {
      col.type = ml::DataType::kString;
      for (size_t r : rows) {
        const bool missing = std::isnan(c.values[r]);
        col.strings.push_back(missing ? "" : c.categories[static_cast<size_t>(c.values[r])]);
        col.missing.push_back(missing ? 1 : 0);
      }
    } else {
      col.type = c.boolean ? ml::DataType::kBoolean : ml::DataType::kDouble;
      for (size_t r : rows) col.numbers.push_back(c.values[r]);
    }
    frame.columns.push_back(std::move(col));
  }
  return frame;
}

// Equal, NaN included.
void ExpectSame(const std::vector<double>& a, const std::vector<double>& b, double tolerance = 0) {
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::isnan(a[i]) || std::isnan(b[i])) {
      EXPECT_TRUE(std::isnan(a[i]) && std::isnan(b[i]))
          << "at " << i << ": " << a[i] << " " << b[i];
    } else if (tolerance == 0) {
      EXPECT_EQ(a[i], b[i]) << "at " << i;
    } else {
      EXPECT_NEAR(a[i], b[i], tolerance) << "at " << i;
    }
  }
}

// 300 rows: a numeric column with holes, a bool, a text column with holes
// whose category "violet" appears only after row 200 (unseen when fitting
// on the first 200), and a label that depends on all of them.
Table MixedTable() {
  Table t;
  t.rows = 300;
  std::mt19937 rng(7);
  std::normal_distribution<double> normal;
  std::vector<double> x, flag, label, amount;
  std::vector<std::string> color;
  const char* colors[] = {"red", "blue", "green", ""};
  for (size_t i = 0; i < t.rows; ++i) {
    const double v = normal(rng);
    x.push_back(i % 9 == 0 ? kNaN : v);
    flag.push_back(static_cast<double>(i % 5 == 0));
    amount.push_back(i % 13 == 0 ? kNaN : 100 + 40 * normal(rng));
    color.push_back(i >= 200 && i % 7 == 0 ? "violet" : colors[(i * 7 + i / 3) % 4]);
    const double score = v + (color.back() == "red" ? 1.0 : 0.0) - flag.back() +
                         (std::isnan(amount.back()) ? 0 : (amount.back() - 100) / 40) +
                         0.5 * normal(rng);
    label.push_back(score > 0.7 ? 2 : score > -0.3 ? 1 : 0);
  }
  t.columns = {Numeric("x", x), Numeric("flag", flag, true), Text("color", color),
               Numeric("amount", amount), Numeric("y", label)};
  return t;
}

std::vector<size_t> Range(size_t begin, size_t end) {
  std::vector<size_t> rows;
  for (size_t i = begin; i < end; ++i) rows.push_back(i);
  return rows;
}

TEST(SlipwayPreprocessingTest, ApplyOnAFrameEqualsTrainingsTransform) {
  const Table t = MixedTable();
  const std::vector<std::string> features = {"x", "flag", "color", "amount"};
  const std::vector<size_t> fit_rows = Range(0, 200), all = Range(0, 300);
  size_t cases = 0;
  for (auto encoding : {CategoricalEncoding::kOneHot, CategoricalEncoding::kNative})
    for (auto numeric :
         {NumericImputation::kMedian, NumericImputation::kMean, NumericImputation::kNone})
      for (auto missing :
           {CategoricalImputation::kMostFrequent, CategoricalImputation::kMissingCategory})
        for (auto scale : {Scaling::kNone, Scaling::kStandard, Scaling::kMinMax}) {
          Preprocessing options;
          options.categorical = encoding;
          options.numeric = numeric;
          options.categorical_missing = missing;
          options.scale = scale;
          const Preprocessor fitted = Preprocessor::Fit(t, fit_rows, features, options);
          // Serving reads it back from preprocessing.json.
          const ml::Preprocessing served = ml::Preprocessing::FromJson(fitted.ToJson());
          const Matrix expected = fitted.Transform(t, all);
          ExpectSame(served.Apply(FrameOf(t, features, all)), expected.values);
          ++cases;
        }
  EXPECT_EQ(cases, 36u);
}

TEST(SlipwayPreprocessingTest, UnseenAndMissingCategoriesAndColumnsByName) {
  const Table t = MixedTable();
  Preprocessing options;
  options.categorical = CategoricalEncoding::kNative;
  options.categorical_missing = CategoricalImputation::kMissingCategory;
  const ml::Preprocessing p = Preprocessor::Fit(t, Range(0, 200), {"color", "x"}, options).value();
  EXPECT_EQ(p.features()[0].categories,
            (std::vector<std::string>{"__missing__", "blue", "green", "red"}));
  // Columns found by name whatever their order; unseen -> NaN, missing -> __missing__.
  ml::Frame frame;
  frame.rows = 3;
  ml::Column x{"x", ml::DataType::kLong, 1, {1, 2, 3}, {}, {}};
  ml::Column color{"color", ml::DataType::kString, 1, {}, {"violet", "", "red"}, {0, 1, 0}};
  frame.columns = {x, color};
  const std::vector<double> rows = p.Apply(frame);
  ASSERT_EQ(rows.size(), 6u);
  EXPECT_TRUE(std::isnan(rows[0]));
  EXPECT_EQ(rows[2], 0);  // missing: __missing__ is category 0
  EXPECT_EQ(rows[4], 3);
  EXPECT_EQ(rows[5], 3);  // x kept as is: no imputation needed, no scaling
  // A missing column and a column of the wrong kind name the column.
  frame.columns = {x};
  try {
    p.Apply(frame);
    FAIL() << "a missing column was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("'color'"), std::string::npos) << e.what();
  }
  ml::Column text_x{"x", ml::DataType::kString, 1, {}, {"a", "b", "c"}, {}};
  frame.columns = {text_x, color};
  EXPECT_THROW(p.Apply(frame), Error);
}

// XGBoost's categorical splits (feature type `c`): a model trained through
// the C API on category codes with holes, evaluated natively and by XGBoost.
TEST(SlipwayXGBoostTest, CategoricalSplitsEqualXGBoostsPredictor) {
  const Table t = MixedTable();
  Preprocessing options;
  options.categorical = CategoricalEncoding::kNative;
  options.numeric = NumericImputation::kNone;
  for (auto [task, classes] : {std::pair{Task::kMulticlass, 3}, std::pair{Task::kRegression, 0}}) {
    const Preprocessor p =
        Preprocessor::Fit(t, Range(0, 200), {"x", "flag", "color", "amount"}, options);
    const Matrix train = p.Transform(t, Range(0, 200));
    const Matrix test = p.Transform(t, Range(0, 300));  // with unseen categories: NaN
    std::vector<double> y(t.Get("y").values.begin(), t.Get("y").values.begin() + 200);
    TrainerOptions trainer;
    trainer.model = ModelType::kXgboost;
    trainer.task = task;
    trainer.classes = classes;
    trainer.params = {{"num_boost_round", 30.0}, {"max_depth", 4.0}, {"max_cat_to_onehot", 1.0}};
    trainer.feature_names = p.OutputNames();
    trainer.categorical = p.OutputCategorical();
    const auto model = Trainer::Create(trainer)->Fit(train, y);
    const Matrix expected = model->Predict(test);
    const ml::XGBoostModel parsed =
        ml::ParseXGBoostModel(model->Files().front().bytes, "xgboost.core.Booster");
    // The model does split on sets of categories.
    const nlohmann::json doc = nlohmann::json::from_ubjson(model->Files().front().bytes);
    size_t set_splits = 0;
    for (const auto& tree : doc["learner"]["gradient_booster"]["model"]["trees"])
      if (tree.contains("categories_sizes"))
        for (const auto& size : tree["categories_sizes"]) set_splits += size.get<int>() > 1;
    EXPECT_GT(set_splits, 0u);
    std::vector<double> got(test.rows * parsed.ensemble->output_width());
    parsed.ensemble->Predict(test.values.data(), test.rows, test.cols, got.data());
    ExpectSame(got, expected.values, 1e-6);
  }
}

TEST(SlipwayLinearTest, ModelJsonEvaluatesAsTheTrainer) {
  const Table t = MixedTable();
  Preprocessing options;
  options.scale = Scaling::kStandard;
  const Preprocessor p =
      Preprocessor::Fit(t, Range(0, 200), {"x", "flag", "color", "amount"}, options);
  const Matrix train = p.Transform(t, Range(0, 200)), test = p.Transform(t, Range(0, 300));
  const std::vector<double>& labels = t.Get("y").values;
  for (auto [model_type, task, classes] :
       {std::tuple{ModelType::kLinear, Task::kRegression, 0},
        std::tuple{ModelType::kLogistic, Task::kBinary, 2},
        std::tuple{ModelType::kLogistic, Task::kMulticlass, 3}}) {
    std::vector<double> y(labels.begin(), labels.begin() + 200);
    if (task == Task::kBinary)
      for (double& v : y) v = v == 2 ? 1 : 0;
    TrainerOptions trainer;
    trainer.model = model_type;
    trainer.task = task;
    trainer.classes = classes;
    trainer.feature_names = p.OutputNames();
    trainer.categorical = p.OutputCategorical();
    const auto model = Trainer::Create(trainer)->Fit(train, y);
    const auto linear = ml::LinearEvaluator::Parse(model->Files().front().bytes, p.OutputNames());
    std::vector<double> got(test.rows * linear.num_outputs());
    linear.Predict(test.values.data(), test.rows, got.data());
    ExpectSame(got, model->Predict(test).values, 1e-12);
  }
  EXPECT_THROW(ml::LinearEvaluator::Parse(R"({"format_version": 1, "link": "logistic",
      "intercept": 0.5, "features": ["a"], "coefficients": {"b": 1}})",
                                          {"a"}),
               Error);
}

// A spec trained end to end (RunTraining), its folder written as the CLI
// logs it, loaded by LoadModel: on the holdout's raw rows the served model
// answers what training predicted there.
struct Case {
  const char* name;
  const char* spec;
  Task task;
};

class SlipwayFolderTest : public ::testing::TestWithParam<Case> {};

TEST_P(SlipwayFolderTest, ServesTheHoldoutPredictionsOfTraining) {
  const Case& c = GetParam();
  Table t = MixedTable();
  if (c.task == Task::kBinary)
    for (double& v : t.columns.back().values) v = v == 2 ? 1 : 0;
  const TrainingSpec spec = ParseSpec(c.spec, "spec.yaml");
  TrainingPlan plan;
  plan.features = {{"x", data::ColumnType::kFloat64, false, 0, 0},
                   {"flag", data::ColumnType::kBool, false, 0, 0},
                   {"color", data::ColumnType::kString, true, 0, 4},
                   {"amount", data::ColumnType::kFloat64, false, 0, 0}};
  const TrainingOutcome outcome = RunTraining(spec, plan, t, [](const FoldReport&) {});
  testing::TempDir dir("slipway-model");
  for (const ModelFile& f : ModelFolder(spec, outcome, {"r1", "model", "d@1", ""}))
    dir.Write(f.name, f.bytes);
  const auto model = ml::LoadModel(dir.path(), {});
  EXPECT_EQ(model->flavor(), "slipway");
  EXPECT_TRUE(model->native());
  ASSERT_TRUE(model->mlmodel().signature.has_value());
  const auto& inputs = model->mlmodel().signature->inputs.columns;
  ASSERT_EQ(inputs.size(), 4u);
  EXPECT_EQ(inputs[1].type, ml::DataType::kBoolean);
  EXPECT_EQ(inputs[2].type, ml::DataType::kString);

  const std::vector<size_t>& rows = outcome.split.holdout;
  const ml::Frame frame = ml::ConformToSchema(
      model->mlmodel().signature->inputs, FrameOf(t, {"amount", "color", "x", "flag", "y"}, rows));
  const Matrix& expected = outcome.holdout_predictions;
  // Every third holdout row with a color training never saw: served as
  // training's own transform and predictor take it.
  Table unseen = t;
  TableColumn& color = unseen.columns[2];
  color.categories.push_back("ultraviolet");
  for (size_t i = 0; i < rows.size(); i += 3)
    color.values[rows[i]] = static_cast<double>(color.categories.size() - 1);
  const Matrix expected_unseen =
      outcome.model->Predict(outcome.preprocessor.Transform(unseen, rows));
  const ml::Frame unseen_frame = ml::ConformToSchema(
      model->mlmodel().signature->inputs, FrameOf(unseen, {"x", "flag", "color", "amount"}, rows));
  ASSERT_EQ(expected_unseen.values.size(), expected.values.size());
  EXPECT_NE(expected_unseen.values, expected.values);
  size_t holes = 0;
  for (size_t r : rows)
    holes += std::isnan(t.Get("x").values[r]) + std::isnan(t.Get("color").values[r]);
  EXPECT_GT(holes, 5u);

  if (c.task == Task::kRegression) {
    const ml::Predictions p = model->Predict(frame, "");
    ExpectSame(p.frame.columns.at(0).numbers, expected.values, 1e-6);
    ExpectSame(model->Predict(unseen_frame, "").frame.columns.at(0).numbers, expected_unseen.values,
               1e-6);
    EXPECT_THROW(model->Predict(frame, R"({"predict_method": "predict_proba"})"), Error);
    return;
  }
  // Probabilities on request, in classes order.
  const ml::Predictions proba = model->Predict(frame, R"({"predict_method": "predict_proba"})");
  const ml::Column& col = proba.frame.columns.at(0);
  EXPECT_EQ(proba.layout, ml::OutputLayout::kMatrix);
  ASSERT_EQ(col.width, outcome.target.classes.size());
  // Binary: P(class 1), the second column; multiclass: every column.
  auto probabilities = [&](const ml::Column& column) {
    std::vector<double> got;
    for (size_t r = 0; r < rows.size(); ++r) {
      if (c.task == Task::kBinary) {
        EXPECT_NEAR(column.numbers[2 * r] + column.numbers[2 * r + 1], 1.0, 1e-12);
        got.push_back(column.numbers[2 * r + 1]);
      } else {
        for (size_t k = 0; k < column.width; ++k)
          got.push_back(column.numbers[r * column.width + k]);
      }
    }
    return got;
  };
  ExpectSame(probabilities(col), expected.values, 1e-6);
  ExpectSame(probabilities(model->Predict(unseen_frame, R"({"predict_method": "predict_proba"})")
                               .frame.columns.at(0)),
             expected_unseen.values, 1e-6);
  // Labels by default: the classes' values (0, 1, 2 here: numbers).
  const ml::Predictions labels = model->Predict(frame, "");
  const ml::Column& label = labels.frame.columns.at(0);
  EXPECT_EQ(labels.layout, ml::OutputLayout::kVector);
  EXPECT_EQ(label.type, ml::DataType::kLong);
  ASSERT_EQ(label.numbers.size(), rows.size());
  for (size_t r = 0; r < rows.size(); ++r) {
    const double* v = expected.values.data() + r * expected.cols;
    const double want =
        c.task == Task::kBinary ? (v[0] > 0.5 ? 1 : 0) : std::max_element(v, v + expected.cols) - v;
    EXPECT_EQ(label.numbers[r], want) << "row " << r;
  }
}

// What the loader refuses rather than serve the bare booster beside it.
TEST(SlipwayFolderLoadTest, NeverFallsBackToTheBareXGBoostFlavor) {
  Table t = MixedTable();
  const TrainingSpec spec = ParseSpec(
      "data: d@1\ntarget: y\ntask: multiclass\nmodel: {type: xgboost, params: "
      "{num_boost_round: 5}}\npreprocessing: {scale: standard}\n"
      "cv: {scheme: kfold, folds: 2}\nholdout: 0.3\nseed: 3\n",
      "spec.yaml");
  TrainingPlan plan;
  plan.features = {{"x", data::ColumnType::kFloat64, false, 0, 0},
                   {"color", data::ColumnType::kString, true, 0, 4}};
  const TrainingOutcome outcome = RunTraining(spec, plan, t, [](const FoldReport&) {});
  std::map<std::string, std::string> files;
  for (const ModelFile& f : ModelFolder(spec, outcome, {"r1", "model", "d@1", ""}))
    files[f.name] = f.bytes;
  auto load = [&](const std::string& from, const std::string& to, const std::string& file) {
    testing::TempDir dir("slipway-refused");
    for (auto [name, bytes] : files) {
      if (name == file) bytes.replace(bytes.find(from), from.size(), to);
      dir.Write(name, bytes);
    }
    try {
      ml::LoadModel(dir.path(), {});
    } catch (const Error& e) {
      return e;
    }
    ADD_FAILURE() << "loaded with '" << from << "' as '" << to << "' in " << file;
    return Error(ErrorCode::kInternalError, "");
  };
  EXPECT_EQ(load("model_type: xgboost", "model_type: forest", "MLmodel").code(),
            ErrorCode::kNotImplemented);
  EXPECT_EQ(load("format_version: 1", "format_version: 2", "MLmodel").code(),
            ErrorCode::kNotImplemented);
  // preprocessing.json that makes other columns than the model reads.
  const Error shifted = load("\"color=blue\"", "\"color=cyan\"", "preprocessing.json");
  EXPECT_EQ(shifted.code(), ErrorCode::kInvalidParameterValue);
  EXPECT_NE(std::string(shifted.what()).find("outputs"), std::string::npos) << shifted.what();
  EXPECT_EQ(load("preprocessing: preprocessing.json", "preprocessing: gone.json", "MLmodel").code(),
            ErrorCode::kInvalidParameterValue);
}

INSTANTIATE_TEST_SUITE_P(
    Specs, SlipwayFolderTest,
    ::testing::Values(
        Case{"xgboost_native_multiclass",
             "data: d@1\ntarget: y\ntask: multiclass\nmodel: {type: xgboost, params: "
             "{num_boost_round: 25, max_depth: 3}}\npreprocessing: {categorical: native, "
             "scale: standard, impute: {numeric: none, categorical: missing_category}}\n"
             "cv: {scheme: kfold, folds: 2}\nholdout: 0.3\nseed: 3\n",
             Task::kMulticlass},
        Case{"xgboost_onehot_binary",
             "data: d@1\ntarget: y\ntask: binary\nmodel: {type: xgboost, params: "
             "{num_boost_round: 20}}\npreprocessing: {scale: minmax}\n"
             "cv: {scheme: kfold, folds: 2}\nholdout: 0.3\nseed: 4\n",
             Task::kBinary},
        Case{"xgboost_regression",
             "data: d@1\ntarget: y\ntask: regression\nmodel: {type: xgboost, params: "
             "{num_boost_round: 20}}\npreprocessing: {categorical: native}\n"
             "cv: {scheme: kfold, folds: 2}\nholdout: 0.3\nseed: 5\n",
             Task::kRegression},
        Case{"logistic_multiclass",
             "data: d@1\ntarget: y\ntask: multiclass\nmodel: {type: logistic}\n"
             "preprocessing: {scale: standard, impute: {numeric: mean}}\n"
             "cv: {scheme: kfold, folds: 2}\nholdout: 0.3\nseed: 6\n",
             Task::kMulticlass},
        Case{"logistic_binary",
             "data: d@1\ntarget: y\ntask: binary\nmodel: {type: logistic}\n"
             "preprocessing: {scale: standard}\ncv: {scheme: kfold, folds: 2}\nholdout: 0.3\n"
             "seed: 7\n",
             Task::kBinary},
        Case{"linear_regression",
             "data: d@1\ntarget: y\ntask: regression\nmodel: {type: linear}\n"
             "preprocessing: {scale: minmax}\ncv: {scheme: kfold, folds: 2}\nholdout: 0.3\n"
             "seed: 8\n",
             Task::kRegression}),
    [](const ::testing::TestParamInfo<Case>& info) { return std::string(info.param.name); });

}  // namespace
}  // namespace slipway::training
