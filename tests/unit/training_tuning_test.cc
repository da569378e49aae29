// Tuning's parts: the samplers (the same params from the same seed and
// trial, within their ranges, log-uniform per decade, every choice drawn),
// successive halving's rungs and survivors, the gates, and RunTuning on a
// generated table (the best trial, resume without rerunning, max_new_trials,
// the same outcome on several threads).
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <map>
#include <set>

#include "core/error.h"
#include "core/executor.h"
#include "training/champion.h"
#include "training/gates.h"
#include "training/search.h"
#include "training/spec.h"
#include "training/tuning.h"

namespace slipway::training {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

std::vector<SearchDimension> Space() {
  SearchDimension depth{"max_depth", SearchDimension::Kind::kInt, 2, 5, {}, {}};
  SearchDimension eta{"eta", SearchDimension::Kind::kLogUniform, 0.001, 1, {}, {}};
  SearchDimension sub{"subsample", SearchDimension::Kind::kUniform, 0.5, 0.9, {}, {}};
  SearchDimension grow{"grow_policy",
                       SearchDimension::Kind::kChoice,
                       0,
                       0,
                       {std::string("depthwise"), std::string("lossguide"), 3.0},
                       {}};
  return {depth, eta, sub, grow};
}

TEST(TrainingSearchTest, SamplesAreTheSameForTheSameSeedAndTrial) {
  const auto space = Space();
  for (int64_t trial = 0; trial < 20; ++trial) {
    EXPECT_EQ(SampleParams(space, 7, trial), SampleParams(space, 7, trial));
  }
  // Another trial or another seed: other params (all four dimensions equal
  // by chance is next to impossible with a continuous one among them).
  EXPECT_NE(SampleParams(space, 7, 0), SampleParams(space, 7, 1));
  EXPECT_NE(SampleParams(space, 7, 0), SampleParams(space, 8, 0));
  // The sampler's output is part of the contract: a session resumed by
  // another build of Slipway must sample the params the first one did.
  const Params first = SampleParams(space, 7, 0);
  EXPECT_EQ(std::get<double>(first.at("max_depth")), 4);
  EXPECT_DOUBLE_EQ(std::get<double>(first.at("eta")), 0.001188879900382413);
}

TEST(TrainingSearchTest, SamplesStayInTheirRangesAndCoverThem) {
  const auto space = Space();
  std::set<double> depths;
  std::map<std::string, int> choices;
  int numeric_choice = 0;
  int below_01 = 0, decade[3] = {0, 0, 0};
  double low_sub = 1, high_sub = 0;
  const int n = 3000;
  for (int64_t trial = 0; trial < n; ++trial) {
    const Params p = SampleParams(space, 42, trial);
    const double depth = std::get<double>(p.at("max_depth"));
    EXPECT_EQ(depth, std::floor(depth));
    EXPECT_GE(depth, 2);
    EXPECT_LE(depth, 5);
    depths.insert(depth);
    const double eta = std::get<double>(p.at("eta"));
    EXPECT_GE(eta, 0.001);
    EXPECT_LE(eta, 1);
    if (eta < 0.01)
      ++decade[0];
    else if (eta < 0.1)
      ++decade[1];
    else
      ++decade[2];
    if (eta < 0.1) ++below_01;
    const double sub = std::get<double>(p.at("subsample"));
    EXPECT_GE(sub, 0.5);
    EXPECT_LT(sub, 0.9);
    low_sub = std::min(low_sub, sub);
    high_sub = std::max(high_sub, sub);
    const ParamValue& grow = p.at("grow_policy");
    if (std::holds_alternative<std::string>(grow)) {
      ++choices[std::get<std::string>(grow)];
    } else {
      EXPECT_EQ(std::get<double>(grow), 3.0);
      ++numeric_choice;
    }
  }
  EXPECT_EQ(depths, (std::set<double>{2, 3, 4, 5}));  // both ends reached
  // Log scale: each decade of [0.001, 1] gets about a third of the draws (a
  // uniform sampler would put 90% in the last one).
  for (int count : decade) EXPECT_NEAR(count, n / 3.0, n * 0.05);
  EXPECT_NEAR(below_01, 2 * n / 3.0, n * 0.05);
  EXPECT_LT(low_sub, 0.51);
  EXPECT_GT(high_sub, 0.89);
  EXPECT_NEAR(choices["depthwise"], n / 3.0, n * 0.05);
  EXPECT_NEAR(choices["lossguide"], n / 3.0, n * 0.05);
  EXPECT_NEAR(numeric_choice, n / 3.0, n * 0.05);
}

TEST(TrainingSearchTest, AOnePointRangeAlwaysGivesThatPoint) {
  std::vector<SearchDimension> space = {
      {"max_depth", SearchDimension::Kind::kInt, 4, 4, {}, {}},
      {"eta", SearchDimension::Kind::kLogUniform, 0.1, 0.1, {}, {}},
  };
  for (int64_t trial = 0; trial < 50; ++trial) {
    const Params p = SampleParams(space, 1, trial);
    EXPECT_EQ(std::get<double>(p.at("max_depth")), 4);
    EXPECT_EQ(std::get<double>(p.at("eta")), 0.1);
  }
}

TEST(TrainingHalvingTest, RungsGrowTheResourceAndKeepAThird) {
  const std::vector<Rung> rungs = HalvingRungs(20, 3, 3, 100);
  ASSERT_EQ(rungs.size(), 3u);
  EXPECT_EQ(rungs[0].trials, 20);
  EXPECT_EQ(rungs[1].trials, 6);
  EXPECT_EQ(rungs[2].trials, 2);
  EXPECT_EQ(rungs[0].resource, 11);
  EXPECT_EQ(rungs[1].resource, 33);
  EXPECT_EQ(rungs[2].resource, 100);
  // The smallest resource bounds the rungs: 5 folds from 1 fold up.
  const std::vector<Rung> folds = HalvingRungs(30, 3, 1, 5);
  ASSERT_EQ(folds.size(), 2u);
  EXPECT_EQ(folds[0].resource, 1);
  EXPECT_EQ(folds[1].resource, 5);
  EXPECT_EQ(folds[1].trials, 10);
  // Too few trials to halve: one rung with the full resource.
  const std::vector<Rung> one = HalvingRungs(2, 3, 1, 100);
  ASSERT_EQ(one.size(), 1u);
  EXPECT_EQ(one[0].trials, 2);
  EXPECT_EQ(one[0].resource, 100);
}

TEST(TrainingHalvingTest, SurvivorsAreTheBestWithNaNLastAndTiesToTheLowerIndex) {
  const std::vector<double> scores = {0.7, kNaN, 0.9, 0.8, 0.9, 0.1};
  EXPECT_EQ(Survivors(scores, 3, true), (std::vector<size_t>{2, 4, 3}));
  EXPECT_EQ(Survivors(scores, 2, false), (std::vector<size_t>{5, 0}));
  EXPECT_EQ(Survivors(scores, 10, true).back(), 1u);  // NaN last
  EXPECT_EQ(Survivors(scores, 10, false).back(), 1u);
}

Gate Threshold(std::string metric, std::optional<double> min, std::optional<double> max) {
  Gate g;
  g.metric = std::move(metric);
  g.min = min;
  g.max = max;
  return g;
}

TEST(TrainingGatesTest, ThresholdsPassWithinAndFailOutsideOrWithoutAValue) {
  const std::map<std::string, double> holdout = {
      {"roc_auc", 0.91}, {"log_loss", 0.35}, {"pr_auc", kNaN}};
  const auto results =
      EvaluateGates({Threshold("roc_auc", 0.9, {}), Threshold("roc_auc", 0.95, {}),
                     Threshold("log_loss", {}, 0.3), Threshold("log_loss", {}, 0.4),
                     Threshold("pr_auc", 0.1, {}), Threshold("roc_auc", 0.9, 0.92)},
                    holdout);
  ASSERT_EQ(results.size(), 6u);
  EXPECT_TRUE(results[0].passed);
  EXPECT_FALSE(results[1].passed);
  EXPECT_EQ(results[1].rule, "roc_auc >= 0.95");
  EXPECT_EQ(results[1].detail, "0.9100: short by 0.0400");
  EXPECT_FALSE(results[2].passed);
  EXPECT_EQ(results[2].rule, "log_loss <= 0.3");
  EXPECT_TRUE(results[3].passed);
  EXPECT_FALSE(results[4].passed);  // NaN never passes
  EXPECT_TRUE(results[5].passed);
  EXPECT_FALSE(AllPassed(results));
  EXPECT_TRUE(AllPassed({results[0], results[3]}));
}

TEST(TrainingGatesTest, ChampionGatesNeedTheMarginAndPassWithoutAChampion) {
  Gate g;
  g.metric = "roc_auc";
  g.champion = "production";
  g.margin = 0.01;
  Gate loss = g;
  loss.metric = "log_loss";
  const std::map<std::string, double> holdout = {{"roc_auc", 0.95}, {"log_loss", 0.30}};
  auto none = EvaluateGates({g}, holdout, [](const Gate&) { return ChampionMetric{}; });
  EXPECT_TRUE(none[0].passed);
  EXPECT_NE(none[0].detail.find("no champion"), std::string::npos);
  auto by = [](double v) {
    return [v](const Gate&) { return ChampionMetric{true, "3", v, "", {}}; };
  };
  const auto beaten = EvaluateGates({g}, holdout, by(0.94));
  EXPECT_TRUE(beaten[0].passed);
  EXPECT_EQ(beaten[0].champion, 0.94);
  EXPECT_EQ(beaten[0].detail, "0.9500 vs 0.9400 (version 3): by +0.0100");
  // A champion that exists but could not be evaluated never lets a candidate pass.
  const auto unknown = EvaluateGates({g}, holdout, [](const Gate&) {
    return ChampionMetric{true, "4", 0, "could not be evaluated: no column 'x'", {}};
  });
  EXPECT_FALSE(unknown[0].passed);
  EXPECT_FALSE(unknown[0].champion);
  EXPECT_NE(unknown[0].detail.find("champion version 4 could not be evaluated"), std::string::npos);
  EXPECT_FALSE(EvaluateGates({g}, holdout, by(0.945))[0].passed);  // wins by less than 0.01
  EXPECT_FALSE(EvaluateGates({g}, holdout, by(0.97))[0].passed);
  EXPECT_TRUE(EvaluateGates({loss}, holdout, by(0.32))[0].passed);  // a loss: smaller wins
  EXPECT_FALSE(EvaluateGates({loss}, holdout, by(0.305))[0].passed);
}

TEST(TrainingGatesTest, TheBootstrapIntervalKeepsANoisyWinFromPassing) {
  // 200 rows; the champion's scores are noise around the label, the
  // candidate's the same with a few rows moved either way: its AUC is a
  // little higher, by noise.
  std::vector<double> y;
  Matrix champion{200, 1, {}}, candidate{200, 1, {}}, strong{200, 1, {}};
  for (size_t i = 0; i < 200; ++i) {
    y.push_back(i % 2 == 0 ? 1 : 0);
    const double noise = static_cast<double>((i * 7919) % 101) / 100.0;
    champion.values.push_back(0.35 * y.back() + 0.65 * noise);
    // Rows of class 1 raised (helps) and of class 0 raised a little less (hurts).
    candidate.values.push_back(champion.values.back() + (i % 20 == 0   ? 0.2
                                                         : i % 20 == 1 ? 0.15
                                                                       : 0));
    strong.values.push_back(0.8 * y.back() + 0.2 * noise);
  }
  const auto auc = [&](const Matrix& m) {
    return Evaluate(Task::kBinary, 2, y, m).metrics.at("roc_auc");
  };
  ASSERT_GT(auc(candidate), auc(champion));  // a win by the point estimates ...
  const auto noisy =
      BootstrapImprovement(Task::kBinary, 2, y, candidate, champion, "roc_auc", 0.95, 1);
  EXPECT_LT(noisy.first, 0);  // ... whose interval holds 0
  EXPECT_GT(noisy.second, 0);
  EXPECT_EQ(noisy, BootstrapImprovement(Task::kBinary, 2, y, candidate, champion, "roc_auc", 0.95,
                                        1));  // deterministic from the seed
  const auto clear =
      BootstrapImprovement(Task::kBinary, 2, y, strong, champion, "roc_auc", 0.95, 1);
  EXPECT_GT(clear.first, 0.05);
  // A loss: improvement is champion - candidate, positive when the candidate is better.
  const auto loss = BootstrapImprovement(Task::kBinary, 2, y, strong, champion, "log_loss", 0.9, 1);
  EXPECT_GT(loss.first, 0);
  // The same model against itself: exactly no improvement.
  EXPECT_EQ(BootstrapImprovement(Task::kBinary, 2, y, champion, champion, "roc_auc", 0.95, 1),
            std::make_pair(0.0, 0.0));

  Gate g;
  g.metric = "roc_auc";
  g.champion = "production";
  g.margin = 0;
  const std::map<std::string, double> holdout = {{"roc_auc", auc(candidate)}};
  ChampionMetric c{true, "1", auc(champion), "", noisy};
  EXPECT_FALSE(EvaluateGates({g}, holdout, [&](const Gate&) { return c; })[0].passed);
  c.interval = clear;
  EXPECT_TRUE(EvaluateGates({g}, holdout, [&](const Gate&) { return c; })[0].passed);
  c.interval.reset();  // without an interval: the point estimates
  EXPECT_TRUE(EvaluateGates({g}, holdout, [&](const Gate&) { return c; })[0].passed);
}

TEST(TrainingChampionTest, HoldoutRowsBecomeAFrameAndProbabilitiesAMatrix) {
  Table t;
  t.rows = 3;
  TableColumn text{"color", true, false, {0, kNaN, 1}, {"red", "blue"}};
  TableColumn flag{"flag", false, true, {1, 0, 1}, {}};
  TableColumn x{"x", false, false, {0.5, kNaN, 2}, {}};
  t.columns = {text, flag, x};
  const ml::Frame f = FrameOf(t, {"x", "color", "flag"}, {2, 1});
  ASSERT_EQ(f.rows, 2u);
  ASSERT_EQ(f.columns.size(), 3u);
  EXPECT_EQ(f.columns[0].type, ml::DataType::kDouble);
  EXPECT_EQ(f.columns[0].numbers[0], 2);
  EXPECT_TRUE(std::isnan(f.columns[0].numbers[1]));
  EXPECT_EQ(f.columns[1].type, ml::DataType::kString);
  EXPECT_EQ(f.columns[1].strings[0], "blue");
  EXPECT_EQ(f.columns[1].missing, (std::vector<uint8_t>{0, 1}));
  EXPECT_EQ(f.columns[2].type, ml::DataType::kBoolean);
  EXPECT_EQ(f.columns[2].numbers, (std::vector<double>{1, 0}));

  ml::Predictions p;
  p.frame.rows = 2;
  p.frame.columns.push_back(
      {"predictions", ml::DataType::kDouble, 2, {0.9, 0.1, 0.3, 0.7}, {}, {}});
  const Matrix binary = MatrixOf(p, Task::kBinary, 2);
  EXPECT_EQ(binary.cols, 1u);
  EXPECT_EQ(binary.values, (std::vector<double>{0.1, 0.7}));  // P(class 1)
  const Matrix multi = MatrixOf(p, Task::kMulticlass, 2);
  EXPECT_EQ(multi.cols, 2u);
  EXPECT_EQ(multi.values, (std::vector<double>{0.9, 0.1, 0.3, 0.7}));
  EXPECT_THROW(MatrixOf(p, Task::kMulticlass, 3), Error);
  EXPECT_THROW(MatrixOf(p, Task::kRegression, 0), Error);
}

// --- RunTuning on a generated table

TableColumn Numeric(std::string name, std::vector<double> values) {
  return {std::move(name), false, false, std::move(values), {}};
}

struct Problem {
  Table table;
  TrainingPlan plan;
};

Problem MakeProblem() {
  Problem p;
  p.table.rows = 300;
  std::vector<double> a, b, y;
  for (size_t i = 0; i < p.table.rows; ++i) {
    a.push_back(static_cast<double>((i * 37) % 101));
    b.push_back(static_cast<double>((i * 17) % 53));
    y.push_back(((i * 37) % 101) + ((i * 17) % 53) * 0.5 + (i % 7) * 4 > 70 ? 1 : 0);
  }
  p.table.columns = {Numeric("a", a), Numeric("b", b), Numeric("y", y)};
  p.plan.features = {{"a", data::ColumnType::kFloat64, false, 0, 0},
                     {"b", data::ColumnType::kFloat64, false, 0, 0}};
  return p;
}

TrainingSpec TuningSpec(const std::string& algorithm, int trials) {
  return ParseSpec(
      "data: d@1\ntarget: y\nmodel: {type: xgboost, params: {num_boost_round: 27}}\n"
      "search: {algorithm: " +
          algorithm + ", trials: " + std::to_string(trials) +
          ", space: {max_depth: {int: [1, 4]}, eta: {log_uniform: [0.01, 0.5]}}}\n"
          "cv: {scheme: stratified, folds: 3}\nholdout: 0.2\nseed: 5\n",
      "spec.yaml");
}

TEST(TrainingTuningTest, RandomSearchKeepsTheBestAndResumesWithoutRerunning) {
  const Problem p = MakeProblem();
  const TrainingSpec spec = TuningSpec("random", 6);
  const PreparedTraining prepared = PrepareTraining(spec, p.table);
  TuningOptions options;
  std::vector<int64_t> lines;
  options.on_trial = [&](const TrialResult& t, const TuningProgress& progress) {
    lines.push_back(t.trial);
    EXPECT_EQ(progress.total, 6);
    ASSERT_NE(progress.best, nullptr);
    EXPECT_GE(progress.best->score, t.score);
  };
  const TuningOutcome full = RunTuning(spec, p.plan, p.table, prepared, options);
  ASSERT_TRUE(full.complete);
  ASSERT_EQ(full.trials.size(), 6u);
  EXPECT_EQ(lines, (std::vector<int64_t>{0, 1, 2, 3, 4, 5}));
  ASSERT_TRUE(full.best);
  for (const TrialResult& t : full.trials) {
    EXPECT_EQ(t.params, SampleParams(spec.search.space, spec.seed, t.trial));
    EXPECT_EQ(t.cv.folds.size(), 3u);
    EXPECT_LE(t.score, full.trials[*full.best].score);
  }

  // Interrupted after 2 new trials: incomplete.
  TuningOptions first;
  first.max_new_trials = 2;
  const TuningOutcome part = RunTuning(spec, p.plan, p.table, prepared, first);
  EXPECT_FALSE(part.complete);
  ASSERT_EQ(part.trials.size(), 2u);
  // Resumed: those 2 are not fitted again (their scores are taken as
  // given: a planted score shows it), the other 4 are.
  TuningOptions resume;
  resume.done = part.trials;
  resume.done[0].cv.mean["roc_auc"] = 2.0;
  resume.done[0].cv.folds.clear();
  const TuningOutcome rest = RunTuning(spec, p.plan, p.table, prepared, resume);
  ASSERT_TRUE(rest.complete);
  ASSERT_EQ(rest.trials.size(), 6u);
  int resumed = 0;
  for (const TrialResult& t : rest.trials) resumed += t.resumed;
  EXPECT_EQ(resumed, 2);
  EXPECT_EQ(rest.trials[*rest.best].trial, part.trials[0].trial);
  EXPECT_EQ(rest.trials[*rest.best].score, 2.0);
}

TEST(TrainingTuningTest, ParallelTrialsGiveTheSameScores) {
  const Problem p = MakeProblem();
  const TrainingSpec spec = TuningSpec("random", 5);
  const PreparedTraining prepared = PrepareTraining(spec, p.table);
  TuningOptions one;
  TuningOptions three;
  three.jobs = 3;
  const TuningOutcome a = RunTuning(spec, p.plan, p.table, prepared, one);
  const TuningOutcome b = RunTuning(spec, p.plan, p.table, prepared, three);
  std::map<int64_t, double> by_trial;
  for (const TrialResult& t : a.trials) by_trial[t.trial] = t.score;
  ASSERT_EQ(b.trials.size(), 5u);
  for (const TrialResult& t : b.trials) EXPECT_NEAR(by_trial.at(t.trial), t.score, 1e-12);
  EXPECT_EQ(a.trials[*a.best].trial, b.trials[*b.best].trial);
}

TEST(TrainingTuningTest, HalvingPromotesTheBestOfEachRungWithMoreRounds) {
  const Problem p = MakeProblem();
  const TrainingSpec spec = TuningSpec("halving", 9);
  const PreparedTraining prepared = PrepareTraining(spec, p.table);
  const TuningOutcome outcome = RunTuning(spec, p.plan, p.table, prepared, {});
  EXPECT_EQ(outcome.resource, HalvingResource::kRounds);
  ASSERT_EQ(outcome.rungs.size(), 3u);  // 9 trials x 3 rounds, 3 x 9, 1 x 27
  EXPECT_EQ(outcome.rungs[0].resource, 3);
  EXPECT_EQ(outcome.rungs[2].resource, 27);
  ASSERT_EQ(outcome.trials.size(), 13u);
  std::map<int64_t, std::vector<const TrialResult*>> by_rung;
  for (const TrialResult& t : outcome.trials) by_rung[t.rung].push_back(&t);
  ASSERT_EQ(by_rung[1].size(), 3u);
  // Rung 1's trials are rung 0's three best.
  std::vector<double> scores;
  std::vector<int64_t> ids;
  for (const TrialResult* t : by_rung[0]) {
    scores.push_back(t->score);
    ids.push_back(t->trial);
    EXPECT_EQ(std::get<double>(TrialParams(spec, *t).at("num_boost_round")), 3);
  }
  std::set<int64_t> best3;
  for (size_t i : Survivors(scores, 3, true)) best3.insert(ids[i]);
  std::set<int64_t> promoted;
  for (const TrialResult* t : by_rung[1]) promoted.insert(t->trial);
  EXPECT_EQ(promoted, best3);
  ASSERT_TRUE(outcome.best);
  EXPECT_EQ(outcome.trials[*outcome.best].rung, 2);
  EXPECT_EQ(
      std::get<double>(TrialParams(spec, outcome.trials[*outcome.best]).at("num_boost_round")), 27);
}

TEST(TrainingTpeTest, StartsRandomThenFollowsTheHistoryDeterministically) {
  const auto space = Space();
  std::vector<Observation> history;
  for (int64_t trial = 0; trial < 9; ++trial) {
    EXPECT_EQ(SampleTpe(space, 3, trial, history, true), SampleParams(space, 3, trial));
    history.push_back({SampleParams(space, 3, trial), static_cast<double>(trial)});
  }
  history.push_back({SampleParams(space, 3, 9), kNaN});
  const Params a = SampleTpe(space, 3, 10, history, true);
  EXPECT_EQ(a, SampleTpe(space, 3, 10, history, true));
  EXPECT_NE(a, SampleParams(space, 3, 10));
  // In range, integers whole, choices among the choices.
  for (int64_t trial = 10; trial < 200; ++trial) {
    const Params p = SampleTpe(space, 3, trial, history, trial % 2 == 0);
    const double depth = std::get<double>(p.at("max_depth"));
    EXPECT_EQ(depth, std::floor(depth));
    EXPECT_GE(depth, 2);
    EXPECT_LE(depth, 5);
    const double eta = std::get<double>(p.at("eta"));
    EXPECT_GE(eta, 0.001);
    EXPECT_LE(eta, 1);
    const double sub = std::get<double>(p.at("subsample"));
    EXPECT_GE(sub, 0.5);
    EXPECT_LE(sub, 0.9);
  }
}

// On a known objective TPE's proposals come closer to the optimum than
// random search's with the same budget.
TEST(TrainingTpeTest, ConcentratesWhereTheObjectiveIsGood) {
  std::vector<SearchDimension> space = {
      {"eta", SearchDimension::Kind::kLogUniform, 0.001, 1, {}, {}},
      {"subsample", SearchDimension::Kind::kUniform, 0, 1, {}, {}},
      {"grow_policy",
       SearchDimension::Kind::kChoice,
       0,
       0,
       {std::string("a"), std::string("b"), std::string("c"), std::string("d")},
       {}},
  };
  // A loss (smaller is better): eta best at 0.03, subsample at 0.7, choice "c".
  auto loss = [](const Params& p) {
    const double e = std::log10(std::get<double>(p.at("eta"))) - std::log10(0.03);
    const double s = std::get<double>(p.at("subsample")) - 0.7;
    return e * e + 4 * s * s + (std::get<std::string>(p.at("grow_policy")) == "c" ? 0 : 1);
  };
  double tpe_late = 0, random_late = 0;
  for (uint64_t seed = 1; seed <= 5; ++seed) {
    std::vector<Observation> history;
    for (int64_t trial = 0; trial < 60; ++trial) {
      const Params p = SampleTpe(space, seed, trial, history, false);
      history.push_back({p, loss(p)});
      if (trial >= 40) {
        tpe_late += loss(p);
        random_late += loss(SampleParams(space, seed, trial));
      }
    }
  }
  EXPECT_LT(tpe_late, random_late * 0.5) << tpe_late << " vs " << random_late;
}

TEST(TrainingTuningTest, TpeRunsOneAtATimeAndResumesWithTheSameProposals) {
  const TrainingSpec spec = TuningSpec("tpe", 12);
  const Problem p = MakeProblem();
  const PreparedTraining prepared = PrepareTraining(spec, p.table);
  const TuningOutcome full = RunTuning(spec, p.plan, p.table, prepared, {});
  ASSERT_TRUE(full.complete);
  ASSERT_EQ(full.trials.size(), 12u);
  for (size_t i = 0; i < 12; ++i) EXPECT_EQ(full.trials[i].trial, static_cast<int64_t>(i));
  EXPECT_NE(full.trials[11].params, SampleParams(spec.search.space, spec.seed, 11));
  TuningOptions first;
  first.max_new_trials = 11;
  const TuningOutcome part = RunTuning(spec, p.plan, p.table, prepared, first);
  EXPECT_FALSE(part.complete);
  TuningOptions resume;
  resume.done = part.trials;
  for (TrialResult& t : resume.done) t.cv.folds.clear();  // as read back from the server
  const TuningOutcome rest = RunTuning(spec, p.plan, p.table, prepared, resume);
  ASSERT_TRUE(rest.complete);
  EXPECT_TRUE(rest.trials[10].resumed);
  EXPECT_FALSE(rest.trials[11].resumed);
  EXPECT_EQ(rest.trials[11].params, full.trials[11].params);
  EXPECT_EQ(rest.trials[*rest.best].trial, full.trials[*full.best].trial);
}

}  // namespace
}  // namespace slipway::training

// --- Parallel TPE, learning curves, stops inside a rung (issue 14)

namespace slipway::training {
namespace {

TEST(TrainingTpeTest, PendingTrialsCountAsWorstAndNotTowardsTheStartup) {
  const auto space = Space();
  std::vector<Observation> history;
  for (int64_t trial = 0; trial < 9; ++trial)
    history.push_back({SampleParams(space, 3, trial), static_cast<double>(trial)});
  // 9 finished and 3 running: still random search's trial.
  std::vector<Observation> with_pending = history;
  for (int64_t trial = 9; trial < 12; ++trial)
    with_pending.push_back({SampleParams(space, 3, trial), 0, true});
  EXPECT_EQ(SampleTpe(space, 3, 12, with_pending, true), SampleParams(space, 3, 12));
  // 21 finished and one running: the running one proposes as a finished
  // one with the worst score would (gamma of 21 and of 22 is 3 either way).
  for (int64_t trial = 9; trial < 21; ++trial)
    history.push_back({SampleParams(space, 3, trial), static_cast<double>(trial % 7)});
  std::vector<Observation> running = history, failed = history;
  running.push_back({SampleParams(space, 3, 21), 100, true});  // its score is not read
  failed.push_back({SampleParams(space, 3, 21), kNaN});
  EXPECT_EQ(SampleTpe(space, 3, 22, running, true), SampleTpe(space, 3, 22, failed, true));
  // And not as a finished one with its (here best) score.
  std::vector<Observation> finished = history;
  finished.push_back({SampleParams(space, 3, 21), 100});
  EXPECT_NE(SampleTpe(space, 3, 22, running, true), SampleTpe(space, 3, 22, finished, true));
}

// The constant liar spreads the proposals made while others run: with the
// running trials counted as worst, the next proposal keeps away from them.
TEST(TrainingTpeTest, TheConstantLiarKeepsParallelProposalsApart) {
  std::vector<SearchDimension> space = {{"eta", SearchDimension::Kind::kUniform, 0, 1, {}, {}}};
  auto loss = [](const Params& p) { return std::abs(std::get<double>(p.at("eta")) - 0.3); };
  double spread_liar = 0, spread_blind = 0;
  for (uint64_t seed = 1; seed <= 20; ++seed) {
    std::vector<Observation> history;
    for (int64_t trial = 0; trial < 20; ++trial) {
      const Params p = SampleParams(space, seed, trial);
      history.push_back({p, loss(p)});
    }
    // Four proposals while the earlier ones run: told of them, or not.
    std::vector<Observation> liar = history;
    std::vector<double> told, blind;
    for (int64_t k = 0; k < 4; ++k) {
      const Params p = SampleTpe(space, seed, 20 + k, liar, false);
      liar.push_back({p, 0, true});
      told.push_back(std::get<double>(p.at("eta")));
      // Not told: the same history each time, but each trial its own draws.
      blind.push_back(std::get<double>(SampleTpe(space, seed, 20 + k, history, false).at("eta")));
    }
    for (size_t a = 0; a < 4; ++a)
      for (size_t b = a + 1; b < 4; ++b) {
        spread_liar += std::abs(told[a] - told[b]);
        spread_blind += std::abs(blind[a] - blind[b]);
      }
  }
  EXPECT_GT(spread_liar, spread_blind) << spread_liar << " vs " << spread_blind;
}

TEST(TrainingSearchTest, ParamsReadBackFromTheirTextAreTheSame) {
  const auto space = Space();
  for (int64_t trial = 0; trial < 50; ++trial) {
    const Params p = SampleParams(space, 9, trial);
    std::map<std::string, std::string> text;
    for (const auto& [name, value] : p) text["model.params." + name] = ParamValueText(value);
    EXPECT_EQ(ParseParams(space, text, "model.params."), p);
  }
  std::map<std::string, std::string> text = {
      {"max_depth", "3"}, {"eta", "0.1"}, {"subsample", "0.6"}, {"grow_policy", "lossguide"}};
  EXPECT_EQ(ParseParams(space, text, "").size(), 4u);
  text["grow_policy"] = "oblivious";  // not a choice
  EXPECT_TRUE(ParseParams(space, text, "").empty());
  text["grow_policy"] = "3";  // the numeric choice
  EXPECT_EQ(std::get<double>(ParseParams(space, text, "").at("grow_policy")), 3.0);
  text["max_depth"] = "9";  // out of range
  EXPECT_TRUE(ParseParams(space, text, "").empty());
  text.erase("max_depth");
  EXPECT_TRUE(ParseParams(space, text, "").empty());
}

TEST(TrainingTuningTest, ParallelTpeIsDeterministicAndResumesWithTheSameProposals) {
  const TrainingSpec spec = TuningSpec("tpe", 16);
  const Problem p = MakeProblem();
  const PreparedTraining prepared = PrepareTraining(spec, p.table);
  TuningOptions three;
  three.jobs = 3;
  int64_t calls = 0;
  three.on_trial = [&](const TrialResult&, const TuningProgress& progress) {
    ++calls;
    ASSERT_NE(progress.best, nullptr);
  };
  const TuningOutcome a = RunTuning(spec, p.plan, p.table, prepared, three);
  ASSERT_TRUE(a.complete);
  ASSERT_EQ(a.trials.size(), 16u);
  EXPECT_EQ(calls, 16);
  EXPECT_NE(a.note.find("constant liar"), std::string::npos);
  three.on_trial = nullptr;
  const TuningOutcome b = RunTuning(spec, p.plan, p.table, prepared, three);
  std::map<int64_t, const TrialResult*> by_trial_a, by_trial_b;
  for (const TrialResult& t : a.trials) by_trial_a[t.trial] = &t;
  for (const TrialResult& t : b.trials) by_trial_b[t.trial] = &t;
  ASSERT_EQ(by_trial_a.size(), 16u);
  for (const auto& [trial, t] : by_trial_a) {
    EXPECT_EQ(t->params, by_trial_b.at(trial)->params) << trial;
    EXPECT_NEAR(t->score, by_trial_b.at(trial)->score, 1e-12);
  }
  // With 3 at once, 10 finished trials come with trial 12: 0..11 are random
  // search's, and TPE's proposals start there.
  for (int64_t trial = 0; trial < 12; ++trial)
    EXPECT_EQ(by_trial_a.at(trial)->params, SampleParams(spec.search.space, spec.seed, trial));
  EXPECT_NE(by_trial_a.at(12)->params, SampleParams(spec.search.space, spec.seed, 12));
  // The best is the best score.
  for (const TrialResult& t : a.trials) EXPECT_LE(t.score, a.trials[*a.best].score);

  // Stopped after 13 new trials, resumed with the params read back: the
  // rest proposed as in the whole run.
  TuningOptions first = three;
  first.max_new_trials = 13;
  const TuningOutcome part = RunTuning(spec, p.plan, p.table, prepared, first);
  EXPECT_FALSE(part.complete);
  EXPECT_EQ(part.trials.size(), 13u);
  TuningOptions resume = three;
  resume.done = part.trials;
  for (TrialResult& t : resume.done) t.cv.folds.clear();
  const TuningOutcome rest = RunTuning(spec, p.plan, p.table, prepared, resume);
  ASSERT_TRUE(rest.complete);
  ASSERT_EQ(rest.trials.size(), 16u);
  for (const TrialResult& t : rest.trials) {
    EXPECT_EQ(t.resumed, t.trial < 13) << t.trial;
    EXPECT_EQ(t.params, by_trial_a.at(t.trial)->params) << t.trial;
  }
}

TEST(TrainingTuningTest, TheLearningCurveEndsAtTheFoldsMeanAndCanBeCutShort) {
  const Problem p = MakeProblem();
  TrainingSpec spec = TuningSpec("random", 1);
  const PreparedTraining prepared = PrepareTraining(spec, p.table);
  Params params = spec.params;
  params["max_depth"] = 3.0;
  params["eta"] = 0.2;
  const CvResult plain = CrossValidate(spec, p.plan, p.table, prepared, params, 0, {}, {});
  EXPECT_TRUE(plain.curve.empty());
  std::vector<int64_t> rounds;
  const CvResult by_round = CrossValidateByRound(spec, p.plan, p.table, prepared, params, 0, {},
                                                 {5, 9, 27, 40}, [&](int64_t r, double mean) {
                                                   rounds.push_back(r);
                                                   EXPECT_GT(mean, 0.5);
                                                   return true;
                                                 });
  ASSERT_EQ(by_round.curve.size(), 27u);                // num_boost_round
  EXPECT_EQ(rounds, (std::vector<int64_t>{5, 9, 27}));  // 40: every fold ended before
  EXPECT_EQ(by_round.stopped_at, 0);
  // The same folds and models as one fold at a time.
  ASSERT_EQ(by_round.folds.size(), plain.folds.size());
  for (const auto& [name, value] : plain.mean) EXPECT_NEAR(by_round.mean.at(name), value, 1e-12);
  EXPECT_NEAR(by_round.curve.back(), by_round.mean.at("roc_auc"), 1e-12);
  // A curve that learns: later rounds better than the first.
  EXPECT_GT(by_round.curve.back(), by_round.curve.front());
  // Round 5's point is the mean of the folds' models cut at 5 rounds.
  Params five = params;
  five["num_boost_round"] = 5.0;
  const CvResult short_cv = CrossValidate(spec, p.plan, p.table, prepared, five, 0, {}, {});
  EXPECT_NEAR(by_round.curve[4], short_cv.mean.at("roc_auc"), 1e-12);
  // Stopped at round 5: the folds keep 5 rounds, the metrics are round 5's.
  const CvResult cut = CrossValidateByRound(spec, p.plan, p.table, prepared, params, 0, {},
                                            {2, 5, 9}, [](int64_t r, double) { return r < 5; });
  EXPECT_EQ(cut.stopped_at, 5);
  ASSERT_EQ(cut.curve.size(), 5u);
  for (const FoldReport& f : cut.folds) EXPECT_EQ(f.rounds, 5);
  EXPECT_NEAR(cut.mean.at("roc_auc"), short_cv.mean.at("roc_auc"), 1e-12);
  // With early stopping the curve still ends at the folds' mean.
  Params early = params;
  early["num_boost_round"] = 200.0;
  early["early_stopping_rounds"] = 3.0;
  const CvResult stopped =
      CrossValidateByRound(spec, p.plan, p.table, prepared, early, 0, {}, {}, {});
  const CvResult stopped_plain = CrossValidate(spec, p.plan, p.table, prepared, early, 0, {}, {});
  EXPECT_LT(stopped.curve.size(), 200u);
  EXPECT_NEAR(stopped.curve.back(), stopped.mean.at("roc_auc"), 1e-12);
  for (size_t i = 0; i < stopped.folds.size(); ++i)
    EXPECT_EQ(stopped.folds[i].rounds, stopped_plain.folds[i].rounds);
  // A logistic model has no rounds: its curve is by Newton iteration, and
  // also ends at the folds' mean.
  TrainingSpec linear = ParseSpec(
      "data: d@1\ntarget: y\nmodel: {type: logistic}\ncv: {scheme: stratified, folds: 3}\n",
      "spec.yaml");
  const PreparedTraining linear_prepared = PrepareTraining(linear, p.table);
  const CvResult newton =
      CrossValidateByRound(linear, p.plan, p.table, linear_prepared, linear.params, 0, {}, {}, {});
  ASSERT_FALSE(newton.curve.empty());
  EXPECT_EQ(newton.objective.size(), newton.curve.size());
  EXPECT_NEAR(newton.curve.back(), newton.mean.at("roc_auc"), 1e-12);
  // The folds boosted at once on an executor: the same curve and scores.
  core::Executor folds({"folds", 2, 16});
  FitOptions parallel;
  parallel.folds = &folds;
  parallel.nthread = 1;
  const CvResult at_once =
      CrossValidateByRound(spec, p.plan, p.table, prepared, params, 0, parallel, {}, {});
  ASSERT_EQ(at_once.curve.size(), by_round.curve.size());
  for (size_t i = 0; i < at_once.curve.size(); ++i)
    EXPECT_NEAR(at_once.curve[i], by_round.curve[i], 1e-12);
  for (const auto& [name, value] : by_round.mean) EXPECT_NEAR(at_once.mean.at(name), value, 1e-12);
}

TEST(TrainingHalvingTest, CheckpointsAreTheRungsRoundsOverThreeDownToRungZeros) {
  const TrainingSpec spec = ParseSpec(
      "data: d@1\ntarget: y\nmodel: {type: xgboost, params: {num_boost_round: 81}}\n"
      "search: {algorithm: halving, trials: 27, space: {max_depth: {int: [1, 4]}}}\n",
      "spec.yaml");
  const std::vector<Rung> rungs = TuningRungs(spec);
  ASSERT_EQ(rungs.size(), 4u);  // 27 x 3, 9 x 9, 3 x 27, 1 x 81
  EXPECT_TRUE(RungCheckpoints(spec, 0).empty());
  EXPECT_EQ(RungCheckpoints(spec, 1), (std::vector<int64_t>{3}));
  EXPECT_EQ(RungCheckpoints(spec, 2), (std::vector<int64_t>{3, 9}));
  EXPECT_EQ(RungCheckpoints(spec, 3), (std::vector<int64_t>{3, 9, 27}));
  EXPECT_TRUE(RungCheckpoints(TuningSpec("random", 9), 1).empty());
}

// Each trial stopped inside its rung had, at a checkpoint, as many trials
// before it in the rung doing better as the rung promotes; none that ran
// on had; and the stops are the same on one thread and on three.
TEST(TrainingHalvingTest, ATrialClearlyBehindAtACheckpointStopsInsideItsRung) {
  const Problem p = MakeProblem();
  const TrainingSpec spec = ParseSpec(
      "data: d@1\ntarget: y\nmodel: {type: xgboost, params: {num_boost_round: 81}}\n"
      "search: {algorithm: halving, trials: 27, space: {max_depth: {int: [1, 4]}, "
      "eta: {log_uniform: [0.001, 0.5]}}}\n"
      "cv: {scheme: stratified, folds: 3}\nholdout: 0.2\nseed: 5\n",
      "spec.yaml");
  const PreparedTraining prepared = PrepareTraining(spec, p.table);
  const TuningOutcome one = RunTuning(spec, p.plan, p.table, prepared, {});
  ASSERT_TRUE(one.complete);
  EXPECT_GT(one.stopped, 0);
  std::map<int64_t, std::vector<const TrialResult*>> by_rung;  // in the order they ran
  for (const TrialResult& t : one.trials) by_rung[t.rung].push_back(&t);
  int64_t stopped = 0;
  for (const auto& [rung, trials] : by_rung) {
    const std::vector<int64_t> checkpoints = RungCheckpoints(spec, static_cast<size_t>(rung));
    const size_t keep =
        static_cast<size_t>(rung) + 1 < one.rungs.size() ? one.rungs[rung + 1].trials : 1;
    for (size_t pos = 0; pos < trials.size(); ++pos) {
      const TrialResult& t = *trials[pos];
      const int64_t rounds = t.resource;
      // Where it should have stopped: the first checkpoint with `keep` better before it.
      int64_t expected = 0;
      for (int64_t c : checkpoints) {
        size_t better = 0;
        for (size_t q = 0; q < pos; ++q) {
          const auto& curve = trials[q]->cv.curve;
          if (static_cast<int64_t>(curve.size()) >= c && curve[c - 1] > t.cv.curve[c - 1]) ++better;
        }
        if (better >= keep) {
          expected = c;
          break;
        }
      }
      EXPECT_EQ(t.stopped_at, expected) << "rung " << rung << " trial " << t.trial;
      EXPECT_EQ(static_cast<int64_t>(t.cv.curve.size()), expected ? expected : rounds);
      if (t.stopped_at > 0) {
        ++stopped;
        EXPECT_NEAR(t.score, t.cv.curve.back(), 1e-12);
      }
    }
  }
  EXPECT_EQ(stopped, one.stopped);
  // The best ran its whole resource, in the last rung.
  ASSERT_TRUE(one.best);
  EXPECT_EQ(one.trials[*one.best].stopped_at, 0);
  EXPECT_EQ(one.trials[*one.best].rung, 3);

  TuningOptions three;
  three.jobs = 3;
  const TuningOutcome par = RunTuning(spec, p.plan, p.table, prepared, three);
  std::map<std::pair<int64_t, int64_t>, int64_t> stops_one, stops_par;
  for (const TrialResult& t : one.trials) stops_one[{t.rung, t.trial}] = t.stopped_at;
  for (const TrialResult& t : par.trials) stops_par[{t.rung, t.trial}] = t.stopped_at;
  EXPECT_EQ(stops_one, stops_par);
  EXPECT_EQ(one.trials[*one.best].trial, par.trials[*par.best].trial);
}

}  // namespace
}  // namespace slipway::training

// --- TPE's Parzen estimator held to Optuna's (issue 14, "Speed and quality")

namespace slipway::training {
namespace {

// The same observations as the Python below builds: max_depth, eta, subsample
// and grow_policy (its choice by index) of observation i.
std::vector<Params> GoldenPoints(int n) {
  const auto space = Space();
  std::vector<Params> points;
  for (int i = 0; i < n; ++i) {
    const int choice = i % 4 ? (i * 5) % 3 : 1;
    points.push_back({{"max_depth", 2.0 + (i * 7) % 4},
                      {"eta", 0.001 + 0.999 * ((i * 37) % 30) / 29},
                      {"subsample", 0.5 + 0.4 * ((i * 11) % 13) / 12},
                      {"grow_policy", space[3].choices[static_cast<size_t>(choice)]}});
  }
  return points;
}

// Expected values from optuna 5.1.0's _ParzenEstimator with TPESampler()'s
// defaults (prior_weight 1, magic clip, consider_endpoints False,
// default_weights) on Space() and GoldenPoints(n):
//
//   pe = _ParzenEstimator(points(n), space,
//                         _ParzenEstimatorParameters(1.0, True, False, default_weights, True))
//   pe.log_pdf(queries)
//
// n = 30 covers the ramp of the oldest weights and the clip of narrow widths;
// max_depth the bins of an int, grow_policy the choice kernels. Its 30
// observations tie (max_depth has 4 values), and which of tied observations
// gets which width is left to numpy's argsort (quicksort, not stable) in
// Optuna and is trial order in Slipway: its expected values are Optuna's with
// np.argsort made stable (kind="stable"); n = 0, 1, 3 are stock Optuna's.
TEST(TrainingTpeTest, ParzenDensityMatchesOptunas) {
  const auto space = Space();
  const std::vector<Params> queries = {
      {{"max_depth", 2.0},
       {"eta", 0.001},
       {"subsample", 0.5},
       {"grow_policy", space[3].choices[0]}},
      {{"max_depth", 3.0}, {"eta", 0.03}, {"subsample", 0.6}, {"grow_policy", space[3].choices[1]}},
      {{"max_depth", 4.0}, {"eta", 0.2}, {"subsample", 0.75}, {"grow_policy", space[3].choices[2]}},
      {{"max_depth", 5.0}, {"eta", 1.0}, {"subsample", 0.9}, {"grow_policy", space[3].choices[0]}},
      {{"max_depth", 5.0}, {"eta", 0.5}, {"subsample", 0.55}, {"grow_policy", space[3].choices[1]}},
  };
  const std::map<int, std::vector<double>> optuna = {
      {0,
       {-3.7008757837895407, -3.4199796804621827, -3.4321602702937293, -3.7008757837895407,
        -3.6010510099727355}},
      {1,
       {-3.632285370393692, -2.9711644387757303, -3.750333944240488, -4.138075065822778,
        -3.4083474033661982}},
      {3,
       {-4.2894386668997875, -3.219727588755543, -3.065665653352819, -3.289833669983225,
        -2.963027167587311}},
      {30,
       {-6.584876983951598, -6.341314138474876, -1.4915019405590966, -1.8803160144927025,
        -5.916448762144308}},
  };
  for (const auto& [n, expected] : optuna) {
    const std::vector<Params> points = GoldenPoints(n);
    for (size_t q = 0; q < queries.size(); ++q)
      EXPECT_NEAR(TpeLogDensity(space, points, queries[q]), expected[q], 1e-9)
          << n << " observations, query " << q;
  }
}

// An int's density is its bin's mass, a choice's its probability: each sums
// to 1 over the values, however narrow the kernels (many tied observations
// clip the widths to range / 100).
TEST(TrainingTpeTest, IntAndChoiceDensitiesAreProbabilities) {
  const std::vector<SearchDimension> depth = {
      {"max_depth", SearchDimension::Kind::kInt, 2, 8, {}, {}}};
  const std::vector<SearchDimension> choice = {
      {"booster",
       SearchDimension::Kind::kChoice,
       0,
       0,
       {std::string("gbtree"), std::string("dart"), std::string("gblinear")},
       {}}};
  for (int n : {1, 5, 45, 120}) {
    std::vector<Params> depths, boosters;
    for (int i = 0; i < n; ++i) {
      depths.push_back({{"max_depth", 3.0 + (i % 3 == 0 ? 4 : 0)}});
      boosters.push_back({{"booster", choice[0].choices[static_cast<size_t>(i % 5 == 0)]}});
    }
    double sum = 0;
    for (double v = 2; v <= 8; ++v)
      sum += std::exp(TpeLogDensity(depth, depths, {{"max_depth", v}}));
    EXPECT_NEAR(sum, 1, 1e-9) << n;
    sum = 0;
    for (const ParamValue& c : choice[0].choices)
      sum += std::exp(TpeLogDensity(choice, boosters, {{"booster", c}}));
    EXPECT_NEAR(sum, 1, 1e-9) << n;
  }
  // Choice kernels sharpen with the observations, as Optuna's: ten times
  // "gbtree" give it (1 + 1/11) / (1 + 3/11) in each observation's kernel.
  const std::vector<Params> ten(10, Params{{"booster", choice[0].choices[0]}});
  const double kernel = (1 + 1.0 / 11) / (1 + 3.0 / 11);
  EXPECT_NEAR(std::exp(TpeLogDensity(choice, ten, {{"booster", choice[0].choices[0]}})),
              (10 * kernel + 1.0 / 3) / 11, 1e-12);
}

}  // namespace
}  // namespace slipway::training
