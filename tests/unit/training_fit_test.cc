// Training's parts below the CLI: preprocessing fitted on training rows only,
// the splits of each CV scheme, the trainers (against scikit-learn's
// numbers, and saved then loaded back), and RunTraining end to end on a
// generated table.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "core/error.h"
#include "test_util/table_columns.h"
#include "test_util/temp_dir.h"
#include "training/metrics.h"
#include "training/model_folder.h"
#include "training/preprocessing.h"
#include "training/splits.h"
#include "training/trainer.h"
#include "training/training_run.h"

namespace slipway::training {
namespace {

using slipway::testing::kNaN;
using slipway::testing::Numeric;
using slipway::testing::Text;

// Rows 0-3 train, rows 4-5 are "validation": values there must not move the fit.
Table SmallTable() {
  Table t;
  t.rows = 6;
  t.columns.push_back(Numeric("x", {1, kNaN, 3, 10, 1000, kNaN}));
  t.columns.push_back(Text("color", {"red", "blue", "red", "", "green", "green"}));
  return t;
}

const std::vector<size_t> kTrainRows = {0, 1, 2, 3};

TEST(TrainingPreprocessingTest, FitsOnTrainingRowsOnly) {
  const Table t = SmallTable();
  Preprocessing options;  // median, most frequent, one-hot
  const Preprocessor p = Preprocessor::Fit(t, kTrainRows, {"x", "color"}, options);
  ASSERT_EQ(p.features().size(), 2u);
  EXPECT_EQ(p.features()[0].fill, 3);  // median of 1, 3, 10: not of 1000
  // green appears only outside the training rows: not a category.
  EXPECT_EQ(p.features()[1].categories, (std::vector<std::string>{"blue", "red"}));
  EXPECT_EQ(p.features()[1].missing_as, "red");
  EXPECT_EQ(p.OutputNames(), (std::vector<std::string>{"x", "color=blue", "color=red"}));

  const std::vector<size_t> rows = {1, 3, 4};
  const Matrix m = p.Transform(t, rows);
  ASSERT_EQ(m.rows, 3u);
  ASSERT_EQ(m.cols, 3u);
  EXPECT_EQ(m.values, (std::vector<double>{3, 1, 0,        // missing x -> median
                                           10, 0, 1,       // missing color -> red
                                           1000, 0, 0}));  // unseen green: all zeros
}

TEST(TrainingPreprocessingTest, ScalesWithTrainingStatistics) {
  const Table t = SmallTable();
  Preprocessing options;
  options.numeric = NumericImputation::kMean;
  options.scale = Scaling::kStandard;
  const Preprocessor p = Preprocessor::Fit(t, kTrainRows, {"x"}, options);
  // Training values 1, 3, 10 and the imputed mean 14/3 (StandardScaler after
  // SimpleImputer: population std over what the model sees).
  const double mean = 14.0 / 3;
  double squares = 0;
  for (double v : {1.0, 3.0, 10.0, mean}) squares += (v - mean) * (v - mean);
  EXPECT_DOUBLE_EQ(p.features()[0].center, mean);
  EXPECT_DOUBLE_EQ(p.features()[0].scale, std::sqrt(squares / 4));

  options.scale = Scaling::kMinMax;
  const Preprocessor q = Preprocessor::Fit(t, kTrainRows, {"x"}, options);
  const Matrix m = q.Transform(t, std::vector<size_t>{0, 3, 4});
  EXPECT_EQ(m.values, (std::vector<double>{0, 1, (1000 - 1) / 9.0}));
}

TEST(TrainingPreprocessingTest, NativeCategoriesAndOwnMissingCategory) {
  const Table t = SmallTable();
  Preprocessing options;
  options.categorical = CategoricalEncoding::kNative;
  options.categorical_missing = CategoricalImputation::kMissingCategory;
  const Preprocessor p = Preprocessor::Fit(t, kTrainRows, {"color"}, options);
  EXPECT_EQ(p.features()[0].categories, (std::vector<std::string>{"__missing__", "blue", "red"}));
  EXPECT_EQ(p.OutputCategorical(), std::vector<bool>{true});
  const Matrix m = p.Transform(t, std::vector<size_t>{0, 1, 3, 4});
  EXPECT_EQ(m.values[0], 2);
  EXPECT_EQ(m.values[1], 1);
  EXPECT_EQ(m.values[2], 0);
  EXPECT_TRUE(std::isnan(m.values[3]));  // unseen: missing for XGBoost
}

TEST(TrainingPreprocessingTest, JsonRoundTripAppliesTheSame) {
  const Table t = SmallTable();
  Preprocessing options;
  options.numeric = NumericImputation::kNone;
  options.scale = Scaling::kStandard;
  const Preprocessor p = Preprocessor::Fit(t, kTrainRows, {"x", "color"}, options);
  const Preprocessor back = Preprocessor::FromJson(p.ToJson());
  EXPECT_EQ(back.ToJson(), p.ToJson());
  const std::vector<size_t> all = {0, 1, 2, 3, 4, 5};
  const Matrix a = p.Transform(t, all), b = back.Transform(t, all);
  ASSERT_EQ(a.values.size(), b.values.size());
  for (size_t i = 0; i < a.values.size(); ++i) {
    if (std::isnan(a.values[i])) {
      EXPECT_TRUE(std::isnan(b.values[i]));  // impute none keeps x missing
    } else {
      EXPECT_EQ(a.values[i], b.values[i]);
    }
  }
  EXPECT_THROW(Preprocessor::FromJson({{"format_version", 2}}), Error);
}

// --- reading a version's CSV

data::DatasetProfile ProfileOf(
    const std::vector<std::pair<std::string, data::ColumnType>>& columns) {
  data::DatasetProfile profile;
  for (const auto& [name, type] : columns) {
    profile.columns.emplace_back(name);
    profile.columns.back().type = type;
  }
  return profile;
}

TEST(TrainingTableTest, ReadsColumnsAsTheProfileTypesThem) {
  slipway::testing::TempDir dir("slipway-table-test");
  const auto csv = dir.Write("t.csv",
                             "x,color,flag,n,unused\n"
                             "1.5,red,true,3,a\n"
                             ",blue,false,,b\n"
                             "2,,true,7,c\n");
  const data::DatasetProfile profile = ProfileOf({{"x", data::ColumnType::kFloat64},
                                                  {"color", data::ColumnType::kString},
                                                  {"flag", data::ColumnType::kBool},
                                                  {"n", data::ColumnType::kInt64},
                                                  {"unused", data::ColumnType::kString}});
  const Table t = ReadTable(csv, profile, {"color", "x", "flag", "n"});
  ASSERT_EQ(t.rows, 3u);
  ASSERT_EQ(t.columns.size(), 4u);
  const TableColumn& color = t.Get("color");
  EXPECT_TRUE(color.categorical);
  EXPECT_EQ(color.categories, (std::vector<std::string>{"red", "blue"}));
  EXPECT_EQ(color.values[0], 0);
  EXPECT_EQ(color.values[1], 1);
  EXPECT_TRUE(std::isnan(color.values[2]));
  const TableColumn& x = t.Get("x");
  EXPECT_FALSE(x.categorical);
  EXPECT_EQ(x.values[0], 1.5);
  EXPECT_TRUE(std::isnan(x.values[1]));
  EXPECT_EQ(t.Get("flag").values, (std::vector<double>{1, 0, 1}));
  EXPECT_EQ(t.Get("n").values[2], 7);
  EXPECT_EQ(t.Find("unused"), nullptr);

  EXPECT_THROW(ReadTable(csv, profile, {"nothing"}), Error);
  // A value the profile's type does not hold names its line and column.
  try {
    ReadTable(csv, ProfileOf({{"unused", data::ColumnType::kInt64}}), {"unused"});
    FAIL() << "'a' read as int64";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("line 2: column 'unused': 'a' does not read as int64"),
              std::string::npos)
        << e.what();
  }
}

// --- splits

SplitColumns Classes(size_t rows, size_t every) {
  SplitColumns c;
  c.rows = rows;
  for (size_t i = 0; i < rows; ++i) c.classes.push_back(i % every == 0 ? 1 : 0);
  return c;
}

void ExpectPartition(const std::vector<Fold>& folds, const std::vector<size_t>& rows) {
  std::multiset<size_t> validated;
  for (const Fold& f : folds) {
    validated.insert(f.validation.begin(), f.validation.end());
    std::set<size_t> both(f.training.begin(), f.training.end());
    for (size_t r : f.validation) EXPECT_FALSE(both.count(r)) << "row " << r;
  }
  EXPECT_EQ(validated, std::multiset<size_t>(rows.begin(), rows.end()));
}

TEST(TrainingSplitsTest, StratificationKeepsClassRatios) {
  const SplitColumns c = Classes(1000, 4);  // 250 of class 1, 750 of class 0
  const Holdout h = SplitHoldout(c, CvScheme::kStratified, 0.2, 7);
  ASSERT_EQ(h.holdout.size(), 200u);
  size_t ones = 0;
  for (size_t r : h.holdout) ones += c.classes[r];
  EXPECT_EQ(ones, 50u);
  const std::vector<Fold> folds = SplitFolds(c, h.training, CvScheme::kStratified, 5, 7);
  ExpectPartition(folds, h.training);
  for (const Fold& f : folds) {
    size_t fold_ones = 0;
    for (size_t r : f.validation) fold_ones += c.classes[r];
    EXPECT_EQ(f.validation.size(), 160u);
    EXPECT_EQ(fold_ones, 40u);  // 200 ones / 5 folds
  }
  // Deterministic from the seed; another seed, other rows.
  EXPECT_EQ(SplitHoldout(c, CvScheme::kStratified, 0.2, 7).holdout, h.holdout);
  EXPECT_NE(SplitHoldout(c, CvScheme::kStratified, 0.2, 8).holdout, h.holdout);
}

TEST(TrainingSplitsTest, KFoldCoversEveryRowOnce) {
  SplitColumns c;
  c.rows = 103;
  const Holdout h = SplitHoldout(c, CvScheme::kKFold, 0.25, 1);
  EXPECT_EQ(h.holdout.size(), 26u);  // llround(25.75), as the plan counts
  const std::vector<Fold> folds = SplitFolds(c, h.training, CvScheme::kKFold, 4, 1);
  ExpectPartition(folds, h.training);
  for (const Fold& f : folds) EXPECT_GE(f.validation.size(), 19u);
}

TEST(TrainingSplitsTest, GroupedNeverSplitsAGroup) {
  SplitColumns c;
  c.rows = 300;
  for (size_t i = 0; i < c.rows; ++i) c.groups.push_back(static_cast<int64_t>((i * 7) % 23));
  const Holdout h = SplitHoldout(c, CvScheme::kGrouped, 0.2, 3);
  std::set<int64_t> held, kept;
  for (size_t r : h.holdout) held.insert(c.groups[r]);
  for (size_t r : h.training) kept.insert(c.groups[r]);
  for (int64_t g : held) EXPECT_FALSE(kept.count(g)) << "group " << g << " in both";
  EXPECT_GE(h.holdout.size(), 60u);
  const std::vector<Fold> folds = SplitFolds(c, h.training, CvScheme::kGrouped, 4, 3);
  ExpectPartition(folds, h.training);
  for (const Fold& f : folds) {
    std::set<int64_t> in_validation;
    for (size_t r : f.validation) in_validation.insert(c.groups[r]);
    for (size_t r : f.training) EXPECT_FALSE(in_validation.count(c.groups[r]));
  }
  SplitColumns few = c;
  for (int64_t& g : few.groups) g = g % 3;
  EXPECT_THROW(SplitFolds(few, h.training, CvScheme::kGrouped, 4, 3), Error);
}

TEST(TrainingSplitsTest, TimeOrderedNeverTrainsOnTheFuture) {
  SplitColumns c;
  c.rows = 120;
  // Times out of row order, with ties.
  for (size_t i = 0; i < c.rows; ++i) c.times.push_back(static_cast<double>((i * 37) % 60));
  const Holdout h = SplitHoldout(c, CvScheme::kTime, 0.2, 5);
  EXPECT_EQ(h.holdout.size(), 24u);
  double latest_training = -1, earliest_holdout = 1e9;
  for (size_t r : h.training) latest_training = std::max(latest_training, c.times[r]);
  for (size_t r : h.holdout) earliest_holdout = std::min(earliest_holdout, c.times[r]);
  EXPECT_LE(latest_training, earliest_holdout);
  const std::vector<Fold> folds = SplitFolds(c, h.training, CvScheme::kTime, 4, 5);
  ASSERT_EQ(folds.size(), 4u);
  size_t previous = 0;
  for (const Fold& f : folds) {
    double latest = -1, earliest = 1e9;
    for (size_t r : f.training) latest = std::max(latest, c.times[r]);
    for (size_t r : f.validation) earliest = std::min(earliest, c.times[r]);
    EXPECT_LE(latest, earliest);
    EXPECT_GT(f.training.size(), previous);  // each fold trains on more of the past
    previous = f.training.size();
    EXPECT_EQ(f.validation.size(), 96u / 5);
  }
}

// --- trainers

// Eight rows, two features; scikit-learn 1.9.1's Ridge(alpha=1.0) and
// LogisticRegression(C=1.0, tol=1e-12, max_iter=10000) on them gave the
// coefficients below (computed once, kept as literals).
Matrix EightRows() { return {8, 2, {1, 2, 2, 0.5, 3, 1.5, 4, 3, 5, 2.5, 6, 1, 7, 3.5, 8, 0}}; }

TEST(TrainingTrainerTest, RidgeMatchesScikitLearn) {
  TrainerOptions options;
  options.model = ModelType::kLinear;
  options.task = Task::kRegression;
  options.feature_names = {"a", "b"};
  const std::vector<double> y = {3.1, 3.9, 6.2, 9.1, 9.8, 10.9, 14.2, 13.1};
  auto model = Trainer::Create(options)->Fit(EightRows(), y);
  const Matrix at_zero = model->Predict({1, 2, {0, 0}});
  EXPECT_NEAR(at_zero.values[0], 0.4610837126960039, 1e-9);
  const Matrix at_a = model->Predict({1, 2, {1, 0}});
  EXPECT_NEAR(at_a.values[0] - at_zero.values[0], 1.5925897824987356, 1e-9);
  const Matrix at_b = model->Predict({1, 2, {0, 1}});
  EXPECT_NEAR(at_b.values[0] - at_zero.values[0], 0.6627212948912491, 1e-9);
}

TEST(TrainingTrainerTest, LogisticMatchesScikitLearnAndRoundTrips) {
  TrainerOptions options;
  options.model = ModelType::kLogistic;
  options.task = Task::kBinary;
  options.feature_names = {"a", "b"};
  const std::vector<double> y = {0, 0, 1, 0, 1, 1, 1, 0};
  auto model = Trainer::Create(options)->Fit(EightRows(), y);
  const std::vector<double> sklearn = {0.2880710504784577, 0.21172518090955347, 0.36532999810493283,
                                       0.6092968326788667, 0.6232549209238607,  0.5233829656901339,
                                       0.8262209858006636, 0.552718065523672};
  const Matrix p = model->Predict(EightRows());
  for (size_t i = 0; i < 8; ++i) EXPECT_NEAR(p.values[i], sklearn[i], 1e-6) << i;
  auto loaded = LoadFittedModel(options, model->Files());
  EXPECT_EQ(loaded->Predict(EightRows()).values, p.values);

  options.params["l1"] = 0.5;
  EXPECT_THROW(Trainer::Create(options), Error);
}

TEST(TrainingTrainerTest, MultinomialLogisticMatchesScikitLearnAndRoundTrips) {
  // scikit-learn 1.9.1's LogisticRegression(C=1.0, tol=1e-12,
  // max_iter=100000).predict_proba on these nine rows (multinomial, lbfgs).
  Matrix x{9, 2, {1, 2, 2, 0.5, 3, 1.5, 4, 3, 5, 2.5, 6, 1, 7, 3.5, 8, 0, 2.5, 2.5}};
  const std::vector<double> y = {0, 0, 1, 2, 1, 1, 2, 0, 2};
  const std::vector<double> sklearn = {
      0.4525350230840058,  0.2853620019218034,  0.2621029749941908,   0.7890527852467459,
      0.18068438439961804, 0.03026283035363601, 0.47150117678176046,  0.3579546335854656,
      0.17054418963277396, 0.0708539657153945,  0.27754411326961376,  0.6516019210149918,
      0.11272127170411701, 0.388354520569721,   0.49892420772616203,  0.39305073474585256,
      0.4917469941239339,  0.11520227113021346, 0.014124665990458847, 0.22084010721705952,
      0.7650352267924817,  0.49122388711971704, 0.4754248016809832,   0.03335131119929959,
      0.20493647736514908, 0.3220884630819583,  0.47297505955289265};
  TrainerOptions options;
  options.model = ModelType::kLogistic;
  options.task = Task::kMulticlass;
  options.classes = 3;
  options.feature_names = {"a", "b"};
  auto model = Trainer::Create(options)->Fit(x, y);
  const Matrix p = model->Predict(x);
  ASSERT_EQ(p.cols, 3u);
  for (size_t i = 0; i < sklearn.size(); ++i) EXPECT_NEAR(p.values[i], sklearn[i], 1e-6) << i;
  EXPECT_EQ(LoadFittedModel(options, model->Files())->Predict(x).values, p.values);
}

// The objective a logistic fit reports, recomputed from its saved model:
// the summed log loss of `p` (the model's probabilities of `x`) plus
// l2 / 2 * |coefficients|^2, per row.
double LogisticObjective(const FittedModel& model, const Matrix& p, const std::vector<double>& y,
                         double l2) {
  const nlohmann::json saved = nlohmann::json::parse(model.Files().front().bytes);
  double penalty = 0;
  for (const auto& [name, c] : saved.at("coefficients").items()) {
    if (c.is_array()) {
      for (double v : c) penalty += v * v;
    } else {
      penalty += c.get<double>() * c.get<double>();
    }
  }
  double loss = 0;
  for (size_t i = 0; i < p.rows; ++i) {
    const size_t label = static_cast<size_t>(y[i]);
    loss -= p.cols == 1 ? std::log(label == 1 ? p(i, 0) : 1 - p(i, 0)) : std::log(p(i, label));
  }
  return (loss + 0.5 * l2 * penalty) / static_cast<double>(p.rows);
}

TEST(TrainingTrainerTest, LogisticRecordsEachNewtonIteration) {
  TrainerOptions options;
  options.model = ModelType::kLogistic;
  options.task = Task::kBinary;
  options.feature_names = {"a", "b"};
  options.params["l2"] = 0.5;
  const std::vector<double> y = {0, 0, 1, 0, 1, 1, 1, 0};
  const Matrix watched{3, 2, {1, 1, 4, 2, 8, 3}};
  auto model = Trainer::Create(options)->Fit(EightRows(), y, {&watched, {}});
  const std::vector<SolverIteration> iterations = model->Iterations();
  ASSERT_GE(iterations.size(), 3u);  // Newton from zero takes a few steps
  for (size_t i = 1; i < iterations.size(); ++i)
    EXPECT_LE(iterations[i].objective, iterations[i - 1].objective + 1e-15) << i;
  // The first step leaves the objective at zero weights, log(2) per row.
  EXPECT_LT(iterations.front().objective, std::log(2.0));
  // The last iteration is the model: its predictions and its objective.
  const Matrix last = iterations.back().eval_predictions;
  const Matrix p = model->Predict(watched);
  ASSERT_EQ(last.rows, 3u);
  for (size_t i = 0; i < 3; ++i) EXPECT_NEAR(last.values[i], p.values[i], 1e-12) << i;
  EXPECT_NEAR(iterations.back().objective,
              LogisticObjective(*model, model->Predict(EightRows()), y, 0.5), 1e-12);
  // Unwatched: the objectives alone, the same ones.
  auto unwatched = Trainer::Create(options)->Fit(EightRows(), y);
  ASSERT_EQ(unwatched->Iterations().size(), iterations.size());
  EXPECT_EQ(unwatched->Iterations().back().objective, iterations.back().objective);
  EXPECT_EQ(unwatched->Iterations().back().eval_predictions.rows, 0u);
  // Ridge is closed form: no iterations.
  options.model = ModelType::kLinear;
  options.task = Task::kRegression;
  EXPECT_TRUE(Trainer::Create(options)->Fit(EightRows(), y)->Iterations().empty());
}

TEST(TrainingTrainerTest, MultinomialRecordsEachNewtonIteration) {
  Matrix x{9, 2, {1, 2, 2, 0.5, 3, 1.5, 4, 3, 5, 2.5, 6, 1, 7, 3.5, 8, 0, 2.5, 2.5}};
  const std::vector<double> y = {0, 0, 1, 2, 1, 1, 2, 0, 2};
  TrainerOptions options;
  options.model = ModelType::kLogistic;
  options.task = Task::kMulticlass;
  options.classes = 3;
  options.feature_names = {"a", "b"};
  auto model = Trainer::Create(options)->Fit(x, y, {&x, {}});
  const std::vector<SolverIteration> iterations = model->Iterations();
  ASSERT_GE(iterations.size(), 2u);
  EXPECT_LT(iterations.front().objective, std::log(3.0));
  for (size_t i = 1; i < iterations.size(); ++i)
    EXPECT_LE(iterations[i].objective, iterations[i - 1].objective + 1e-15) << i;
  const Matrix p = model->Predict(x);
  ASSERT_EQ(iterations.back().eval_predictions.cols, 3u);
  for (size_t i = 0; i < p.values.size(); ++i)
    EXPECT_NEAR(iterations.back().eval_predictions.values[i], p.values[i], 1e-12) << i;
  // The intercepts' 1e-10 ridge is left out of the recomputation: below 1e-9.
  EXPECT_NEAR(iterations.back().objective, LogisticObjective(*model, p, y, 1.0), 1e-9);
}

TEST(TrainingTrainerTest, XgboostRoundTripsAndFollowsTheSeed) {
  // y = 1 when a + b > 5, with a few missing values XGBoost routes itself.
  Matrix x{200, 2, {}};
  std::vector<double> y;
  for (size_t i = 0; i < x.rows; ++i) {
    const double a = static_cast<double>((i * 37) % 50) / 5, b = static_cast<double>(i % 7);
    x.values.push_back(i % 17 == 0 ? kNaN : a);
    x.values.push_back(b);
    y.push_back(a + b > 5 ? 1 : 0);
  }
  TrainerOptions options;
  options.feature_names = {"a", "b"};
  options.params = {{"num_boost_round", 20.0}, {"max_depth", 3.0}, {"subsample", 0.8}};
  options.seed = 11;
  auto model = Trainer::Create(options)->Fit(x, y);
  const Matrix p = model->Predict(x);
  ASSERT_EQ(p.cols, 1u);
  EXPECT_GT(RocAuc(y, p.values), 0.95);
  const std::vector<ModelFile> files = model->Files();
  ASSERT_EQ(files.size(), 1u);
  EXPECT_EQ(files[0].name, "model.ubj");
  EXPECT_EQ(model->Flavors()["xgboost"]["data"], "model.ubj");
  auto loaded = LoadFittedModel(options, files);
  EXPECT_EQ(loaded->Predict(x).values, p.values);
  // The same seed gives the same model file, byte for byte.
  EXPECT_EQ(Trainer::Create(options)->Fit(x, y)->Files()[0].bytes, files[0].bytes);

  options.task = Task::kMulticlass;
  options.classes = 3;
  for (size_t i = 0; i < y.size(); ++i) y[i] = static_cast<double>(i % 3);
  const Matrix q = Trainer::Create(options)->Fit(x, y)->Predict(x);
  ASSERT_EQ(q.cols, 3u);
  EXPECT_NEAR(q.values[0] + q.values[1] + q.values[2], 1, 1e-6);
}

TEST(TrainingTrainerTest, XgboostEarlyStoppingKeepsTheBestRounds) {
  // A noisy label: more rounds overfit, so the validation loss turns up.
  Matrix x{300, 2, {}}, valid{100, 2, {}};
  std::vector<double> y, valid_y;
  for (size_t i = 0; i < 400; ++i) {
    const double a = static_cast<double>((i * 37) % 101) / 10, b = static_cast<double>(i % 13);
    const double label = (a > 5) != (i % 4 == 0) ? 1 : 0;  // a quarter flipped
    Matrix& m = i < 300 ? x : valid;
    m.values.insert(m.values.end(), {a, b});
    (i < 300 ? y : valid_y).push_back(label);
  }
  TrainerOptions options;
  options.feature_names = {"a", "b"};
  options.params = {{"num_boost_round", 300.0},
                    {"max_depth", 6.0},
                    {"eta", 0.3},
                    {"early_stopping_rounds", 10.0}};
  const auto trainer = Trainer::Create(options);
  EXPECT_THROW(trainer->Fit(x, y), Error);  // nothing to watch
  auto model = trainer->Fit(x, y, {&valid, valid_y});
  EXPECT_GE(model->Rounds(), 1);
  EXPECT_LT(model->Rounds(), 300);
  // The kept model beats (or ties) the one boosted 10 rounds past its best.
  options.params.erase("early_stopping_rounds");
  options.params["num_boost_round"] = static_cast<double>(model->Rounds() + 10);
  const auto longer = Trainer::Create(options)->Fit(x, y);
  std::vector<double> pairs, longer_pairs;
  for (double p : model->Predict(valid).values) pairs.insert(pairs.end(), {1 - p, p});
  for (double p : longer->Predict(valid).values)
    longer_pairs.insert(longer_pairs.end(), {1 - p, p});
  EXPECT_LE(LogLoss(valid_y, pairs, 2), LogLoss(valid_y, longer_pairs, 2) + 1e-6);
  // The kept rounds survive the file.
  EXPECT_EQ(LoadFittedModel(options, model->Files())->Rounds(), model->Rounds());
}

// --- RunTraining

TEST(TrainingRunTest, ClassesAreSortedAsScikitLearnSortsThem) {
  const EncodedTarget numeric = EncodeTarget(Numeric("y", {1, 0, 2, 0}), Task::kMulticlass);
  EXPECT_EQ(numeric.classes, (std::vector<std::string>{"0", "1", "2"}));
  EXPECT_EQ(numeric.y, (std::vector<double>{1, 0, 2, 0}));
  // Text: by text, whatever the order of first appearance.
  const EncodedTarget text = EncodeTarget(Text("y", {"yes", "no", "yes"}), Task::kBinary);
  EXPECT_EQ(text.classes, (std::vector<std::string>{"no", "yes"}));
  EXPECT_EQ(text.y, (std::vector<double>{1, 0, 1}));
  TableColumn flag = Numeric("y", {1, 0});
  flag.boolean = true;
  EXPECT_EQ(EncodeTarget(flag, Task::kBinary).classes, (std::vector<std::string>{"false", "true"}));
  EXPECT_EQ(EncodeTarget(Numeric("y", {1.5, 2}), Task::kRegression).y,
            (std::vector<double>{1.5, 2}));
  EXPECT_THROW(EncodeTarget(Numeric("y", {1, kNaN}), Task::kBinary), Error);
}

TEST(TrainingRunTest, CrossValidatesAndEvaluatesTheHoldout) {
  Table t;
  t.rows = 400;
  std::vector<double> a, label;
  std::vector<std::string> color;
  for (size_t i = 0; i < t.rows; ++i) {
    a.push_back(i % 11 == 0 ? kNaN : static_cast<double>((i * 13) % 40));
    color.push_back(i % 3 == 0 ? "red" : i % 3 == 1 ? "blue" : "");
    label.push_back((i * 13) % 40 > 20 || i % 3 == 0 ? 1 : 0);
  }
  t.columns = {Numeric("a", a), Text("color", color), Numeric("y", label)};
  TrainingSpec spec = ParseSpec(
      "data: d@1\ntarget: y\nmodel: {type: logistic}\npreprocessing: {scale: standard}\n"
      "cv: {scheme: stratified, folds: 4}\nholdout: 0.25\nseed: 3\n",
      "spec.yaml");
  TrainingPlan plan;
  plan.features = {{"a", data::ColumnType::kFloat64, false, 0, 0},
                   {"color", data::ColumnType::kString, true, 0, 2}};
  std::vector<size_t> seen;
  const TrainingOutcome outcome =
      RunTraining(spec, plan, t, [&](const FoldReport& f) { seen.push_back(f.fold); });
  EXPECT_EQ(seen, (std::vector<size_t>{0, 1, 2, 3}));
  EXPECT_EQ(outcome.split.holdout.size(), 100u);
  EXPECT_EQ(outcome.target.classes, (std::vector<std::string>{"0", "1"}));
  EXPECT_GT(outcome.cv_mean.at("roc_auc"), 0.8);
  EXPECT_GE(outcome.cv_std.at("roc_auc"), 0);
  EXPECT_GT(outcome.holdout.metrics.at("roc_auc"), 0.8);
  EXPECT_EQ(outcome.holdout_predictions.rows, 100u);
  // The logged folder: the model, its preprocessing and an MLmodel naming both.
  const std::vector<ModelFile> files = ModelFolder(spec, outcome, {"r1", "model", "d@1", ""});
  std::map<std::string, std::string> by_name;
  for (const ModelFile& f : files) by_name[f.name] = f.bytes;
  ASSERT_TRUE(by_name.count("model.json") && by_name.count("preprocessing.json"));
  EXPECT_NE(by_name["MLmodel"].find("preprocessing: preprocessing.json"), std::string::npos);
  EXPECT_EQ(Preprocessor::FromJson(nlohmann::json::parse(by_name["preprocessing.json"])).ToJson(),
            outcome.preprocessor.ToJson());
}

TEST(TrainingRunTest, LogisticCrossValidationRecordsItsLearningCurve) {
  Table t;
  t.rows = 300;
  std::vector<double> a, b, label;
  for (size_t i = 0; i < t.rows; ++i) {
    a.push_back(static_cast<double>((i * 13) % 40));
    b.push_back(static_cast<double>((i * 7) % 17));
    label.push_back((i * 13) % 40 + (i * 7) % 17 > 27 ? 1 : 0);
  }
  t.columns = {Numeric("a", a), Numeric("b", b), Numeric("y", label)};
  const std::string text =
      "data: d@1\ntarget: y\nmodel: {type: logistic, params: {l2: 2}}\n"
      "preprocessing: {scale: standard}\ncv: {scheme: stratified, folds: 3}\nmetric: log_loss\n"
      "seed: 5\n";
  const TrainingSpec spec = ParseSpec(text, "spec.yaml");
  TrainingPlan plan;
  plan.features = {{"a", data::ColumnType::kFloat64, false, 0, 0},
                   {"b", data::ColumnType::kFloat64, false, 0, 0}};
  const PreparedTraining prepared = PrepareTraining(spec, t);
  const CvResult cv = CrossValidate(spec, plan, t, prepared, spec.params, 0, {}, {});
  ASSERT_GE(cv.curve.size(), 3u);
  ASSERT_EQ(cv.objective.size(), cv.curve.size());
  // The last point is every fold's final model: the folds' mean.
  EXPECT_NEAR(cv.curve.back(), cv.mean.at("log_loss"), 1e-12);
  EXPECT_GT(cv.curve.front(), cv.curve.back());  // the validation log loss falls
  for (size_t i = 1; i < cv.objective.size(); ++i)
    EXPECT_LE(cv.objective[i], cv.objective[i - 1] + 1e-15) << i;
  // Tuning's entry point gives the same for a family that does not boost.
  const CvResult by_round =
      CrossValidateByRound(spec, plan, t, prepared, spec.params, 0, {}, {}, {});
  EXPECT_EQ(by_round.curve, cv.curve);
  EXPECT_EQ(by_round.objective, cv.objective);
  // Ridge is closed form: no curve.
  const TrainingSpec ridge =
      ParseSpec("data: d@1\ntarget: y\ntask: regression\nmodel: {type: linear}\ncv: {folds: 3}\n",
                "spec.yaml");
  const CvResult closed =
      CrossValidate(ridge, plan, t, PrepareTraining(ridge, t), ridge.params, 0, {}, {});
  EXPECT_TRUE(closed.curve.empty());
  EXPECT_TRUE(closed.objective.empty());
}

TEST(TrainingRunTest, HoldoutOfIsTheTrainingsHoldout) {
  Table t;
  t.rows = 90;
  std::vector<double> a, label, group;
  for (size_t i = 0; i < t.rows; ++i) {
    a.push_back(static_cast<double>(i));
    label.push_back(i % 3 == 0 ? 1 : 0);
    group.push_back(static_cast<double>(i % 9));
  }
  t.columns = {Numeric("a", a), Numeric("y", label), Numeric("g", group)};
  for (const std::string cv :
       {"{scheme: stratified, folds: 3}", "{scheme: kfold, folds: 3}",
        "{scheme: grouped, group: g, folds: 3}", "{scheme: time, time: a, folds: 3}"}) {
    const TrainingSpec spec =
        ParseSpec("data: d@1\ntarget: y\ncv: " + cv + "\nholdout: 0.3\nseed: 9\n", "spec.yaml");
    const Holdout split = HoldoutOf(spec, t);
    EXPECT_EQ(split.holdout, PrepareTraining(spec, t).split.holdout) << cv;
    EXPECT_EQ(split.training, PrepareTraining(spec, t).split.training) << cv;
    EXPECT_FALSE(split.holdout.empty()) << cv;
  }
}

TEST(TrainingRunTest, RefusesWhatNoTrainerCanDoBeforeAnyFit) {
  TrainingPlan plan;
  plan.features = {{"a", data::ColumnType::kFloat64, false, 3, 10}};
  plan.classes = {{"0", 5}, {"1", 5}};
  const std::string base = "data: d@1\ntarget: y\nmodel: {type: logistic}\n";
  EXPECT_NO_THROW(CheckTrainable(ParseSpec(base, "s.yaml"), plan));
  try {
    CheckTrainable(ParseSpec(base + "preprocessing: {impute: {numeric: none}}\n", "s.yaml"), plan);
    FAIL() << "a logistic model on kept missing values";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("s.yaml: preprocessing.impute.numeric: 'a' has 3 "
                                         "missing values"),
              std::string::npos)
        << e.what();
  }
  // XGBoost takes missing values as they are.
  EXPECT_NO_THROW(CheckTrainable(
      ParseSpec("data: d@1\ntarget: y\npreprocessing: {impute: {numeric: none}}\n", "s.yaml"),
      plan));
}

}  // namespace
}  // namespace slipway::training
