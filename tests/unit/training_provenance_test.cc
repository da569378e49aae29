// Reproducibility (training/provenance.h), the model card
// (training/model_card.h), the pyfunc files of the model folder
// (training/model_folder.h) and the git commit of a working tree
// (cli/git_commit.h).
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "cli/git_commit.h"
#include "ml/model_loader.h"
#include "test_util/table_columns.h"
#include "test_util/temp_dir.h"
#include "training/gates.h"
#include "training/model_card.h"
#include "training/model_folder.h"
#include "training/provenance.h"
#include "training/slipway_pyfunc_source.h"
#include "training/training_run.h"

namespace slipway::training {
namespace {

using slipway::testing::kNaN;
using slipway::testing::Numeric;
using slipway::testing::TempDir;
using slipway::testing::Text;

Table ShopTable() {
  Table t;
  t.rows = 300;
  std::vector<double> price, label;
  std::vector<std::string> color;
  const char* colors[] = {"red", "blue", "green", "amber", ""};
  for (size_t i = 0; i < t.rows; ++i) {
    price.push_back(i % 13 == 0 ? kNaN : static_cast<double>((i * 37) % 101));
    color.push_back(colors[(i * 7) % 5]);
    label.push_back(((i * 37) % 101 > 50) != (i % 5 == 0) ? 1 : 0);
  }
  t.columns = {Numeric("price", price), Text("color", color), Numeric("y", label)};
  return t;
}

TrainingPlan ShopPlan() {
  TrainingPlan plan;
  plan.features = {{"price", data::ColumnType::kFloat64, false, 24, 0},
                   {"color", data::ColumnType::kString, true, 60, 4}};
  return plan;
}

std::string Fixed4(double value) {
  char text[32];
  std::snprintf(text, sizeof text, "%.4f", value);
  return text;
}

std::map<std::string, std::string> ByName(const std::vector<ModelFile>& files) {
  std::map<std::string, std::string> out;
  for (const ModelFile& f : files) out[f.name] = f.bytes;
  return out;
}

TEST(TrainingProvenanceTest, TheSameSpecDataAndSeedMakeTheSameFilesOnAnyThreads) {
  const Table table = ShopTable();
  const TrainingPlan plan = ShopPlan();
  const TrainingSpec spec = ParseSpec(
      "data: shop@1\ntarget: y\n"
      "preprocessing: {categorical: native, scale: standard, impute: {numeric: none}}\n"
      "model: {type: xgboost, params: {num_boost_round: 15, max_depth: 3, subsample: 0.7, "
      "colsample_bytree: 0.5}}\ncv: {scheme: stratified, folds: 3}\nseed: 4\n",
      "spec.yaml");
  auto train = [&](int nthread) {
    PreparedTraining prepared = PrepareTraining(spec, table);
    CvResult cv = CrossValidate(spec, plan, table, prepared, spec.params, 0, {nthread}, {});
    const TrainingOutcome outcome = FinishTraining(spec, plan, table, std::move(prepared),
                                                   spec.params, std::move(cv), {nthread});
    return ModelFolder(spec, outcome, {"", "model", "shop@1", ""});
  };
  const auto one = ModelFileDigests(train(1));
  EXPECT_EQ(one.size(), 3u);  // model.ubj, preprocessing.json, code/slipway_pyfunc.py
  EXPECT_FALSE(one.count("MLmodel"));
  EXPECT_EQ(ModelFileDigests(train(4)), one);
  EXPECT_EQ(ModelFileDigests(train(0)), one);

  // Another seed samples other rows and columns: another model file.
  TrainingSpec other = spec;
  other.seed = 5;
  PreparedTraining prepared = PrepareTraining(spec, table);  // the same rows, only XGBoost's seed
  CvResult cv = CrossValidate(other, plan, table, prepared, other.params, 1, {}, {});
  const auto reseeded = ModelFileDigests(ModelFolder(
      other, FinishTraining(other, plan, table, std::move(prepared), other.params, std::move(cv)),
      {"", "model", "shop@1", ""}));
  EXPECT_NE(reseeded.at("model.ubj"), one.at("model.ubj"));
  EXPECT_EQ(reseeded.at("preprocessing.json"), one.at("preprocessing.json"));
}

TEST(TrainingProvenanceTest, ComparesEveryFileOfEitherSide) {
  const auto matches =
      CompareModelFiles({{"a", "1"}, {"b", "2"}, {"c", "3"}}, {{"a", "1"}, {"b", "9"}, {"d", "4"}});
  ASSERT_EQ(matches.size(), 4u);
  EXPECT_TRUE(matches[0].match());                                    // a
  EXPECT_FALSE(matches[1].match());                                   // b: other bytes
  EXPECT_TRUE(!matches[2].match() && matches[2].reproduced.empty());  // c: not made
  EXPECT_TRUE(!matches[3].match() && matches[3].recorded.empty());    // d: not in the run
  EXPECT_FALSE((FileMatch{"e", "", ""}.match()));
}

TEST(TrainingProvenanceTest, TagsNameTheVersionsAndTheCommitOnlyWhenThereIsOne) {
  Provenance p = BuildProvenance();
  EXPECT_EQ(p.slipway_version, SlipwayVersion());
  EXPECT_FALSE(p.slipway_version.empty());
  EXPECT_EQ(p.eigen_version.substr(0, 2), "3.");
  EXPECT_FALSE(p.xgboost_version.empty());
  p.overrides = {"seed=3", "data=d@2"};
  std::map<std::string, std::string> tags;
  for (const auto& [k, v] : ProvenanceTags(p)) tags[k] = v;
  EXPECT_EQ(tags.at(kOverridesTag), R"(["seed=3","data=d@2"])");
  EXPECT_FALSE(tags.count(kGitCommitTag) || tags.count("mlflow.source.git.commit"));
  p.git_commit = std::string(40, 'a');
  tags.clear();
  for (const auto& [k, v] : ProvenanceTags(p)) tags[k] = v;
  EXPECT_EQ(tags.at(kGitCommitTag), std::string(40, 'a'));
  EXPECT_EQ(tags.at("mlflow.source.git.commit"), std::string(40, 'a'));
}

TEST(TrainingModelFolderTest, ShipsThePyfuncLoaderAndServingStillTypesTheInputs) {
  const Table table = ShopTable();
  const TrainingSpec spec =
      ParseSpec("data: shop@1\ntarget: y\nmodel: {type: logistic}\ncv: {scheme: kfold, folds: 2}\n",
                "spec.yaml");
  const TrainingOutcome outcome = RunTraining(spec, ShopPlan(), table, {});
  const auto files = ByName(ModelFolder(spec, outcome, {"r1", "model", "shop@1", ""}));
  EXPECT_EQ(files.at("code/slipway_pyfunc.py"), kSlipwayPyfuncSource);
  EXPECT_NE(files.at("code/slipway_pyfunc.py").find("def _load_pyfunc(path):"), std::string::npos);
  const std::string& mlmodel = files.at("MLmodel");
  EXPECT_NE(mlmodel.find("loader_module: slipway_pyfunc"), std::string::npos) << mlmodel;
  EXPECT_NE(mlmodel.find("predict_method"), std::string::npos) << mlmodel;

  // Slipway's loader reads the slipway flavor; the params-only signature
  // leaves the inputs to the preprocessing: price double, color string.
  TempDir dir("slipway-folder");
  for (const auto& [name, bytes] : files) {
    std::filesystem::create_directories((dir.path() / name).parent_path());
    dir.Write(name, bytes);
  }
  const auto model = ml::LoadModel(dir.path(), {});
  EXPECT_EQ(model->flavor(), "slipway");
  ASSERT_TRUE(model->mlmodel().signature);
  const auto& columns = model->mlmodel().signature->inputs.columns;
  ASSERT_EQ(columns.size(), 2u);
  EXPECT_EQ(columns[0].name, "price");
  EXPECT_EQ(columns[0].type, ml::DataType::kDouble);
  EXPECT_EQ(columns[1].name, "color");
  EXPECT_EQ(columns[1].type, ml::DataType::kString);
}

TEST(TrainingModelCardTest, HoldsTheDataTheMetricsTheGatesAndTheLineage) {
  const Table table = ShopTable();
  const TrainingSpec spec = ParseSpec(
      "data: shop@1\ntarget: y\nmodel: {type: logistic}\ncv: {scheme: kfold, folds: 2}\n"
      "gates:\n  - {metric: roc_auc, min: 0.5}\n  - {metric: roc_auc, champion: production, "
      "margin: 0.01}\nregister: {model: shop}\n",
      "specs/shop.yaml");
  const TrainingOutcome outcome = RunTraining(spec, ShopPlan(), table, {});
  ChampionMetric champion;
  champion.exists = true;
  champion.version = "3";
  champion.value = outcome.holdout.metrics.at("roc_auc") - 0.05;
  champion.interval = std::make_pair(0.02, 0.08);
  const auto gates =
      EvaluateGates(spec.gates, outcome.holdout.metrics, [&](const Gate&) { return champion; });
  ASSERT_TRUE(gates[1].interval);
  Provenance p = BuildProvenance();
  p.spec_sha256 = std::string(64, 'b');
  p.dataset = "shop@1";
  p.dataset_sha256 = std::string(64, 'c');
  p.git_commit = std::string(40, 'd');
  const std::string card = ModelCard(spec, outcome, gates, {"run42", p, {}, {}});
  EXPECT_EQ(card.rfind("# Model card: shop.yaml\n", 0), 0u) << card;
  EXPECT_NE(card.find("| dataset version | shop@1 |"), std::string::npos);
  EXPECT_NE(card.find("| content sha256 | `" + std::string(64, 'c') + "` |"), std::string::npos);
  const std::string auc = Fixed4(outcome.holdout.metrics.at("roc_auc"));
  EXPECT_NE(card.find("| roc_auc * | "), std::string::npos);
  EXPECT_NE(card.find("**PASSED**"), std::string::npos) << card;
  EXPECT_NE(card.find("| roc_auc >= 0.5 | " + auc + " | >= 0.5 |  | yes |"), std::string::npos)
      << card;
  EXPECT_NE(card.find("| roc_auc >= champion@production + 0.01 | " + auc +
                      " | champion@production + 0.01 (champion " + Fixed4(champion.value) +
                      ") | [+0.0200, +0.0800] (95%) | yes |"),
            std::string::npos)
      << card;
  EXPECT_NE(card.find("| run | run42 |"), std::string::npos);
  EXPECT_NE(card.find("| git commit | `" + std::string(40, 'd') + "` |"), std::string::npos);
  EXPECT_NE(card.find("| Slipway | " + p.slipway_version + " |"), std::string::npos);

  // A champion whose win is noise: the interval reaches below the margin.
  champion.interval = std::make_pair(-0.01, 0.08);
  const auto noisy =
      EvaluateGates(spec.gates, outcome.holdout.metrics, [&](const Gate&) { return champion; });
  const std::string failed = ModelCard(spec, outcome, noisy, {"run43", p, {}, {}});
  EXPECT_NE(failed.find("**FAILED**"), std::string::npos);
  EXPECT_NE(failed.find("[-0.0100, +0.0800] (95%) | **no** |"), std::string::npos) << failed;
}

}  // namespace
}  // namespace slipway::training

namespace slipway::cli {
namespace {

using slipway::testing::TempDir;

const std::string kA(40, 'a'), kB(40, 'b'), kC(40, 'c');

TEST(GitCommitTest, ReadsHeadLooseAndPackedRefsAndLinkedWorktrees) {
  TempDir dir("slipway-git");
  const auto root = dir.path();
  EXPECT_FALSE(GitCommitOf(root));  // no repository (unless the temp folder is in one)
  std::filesystem::create_directories(root / "repo/.git/refs/heads");
  std::filesystem::create_directories(root / "repo/specs/deep");
  dir.Write("repo/.git/HEAD", "ref: refs/heads/main\n");
  EXPECT_FALSE(GitCommitOf(root / "repo"));  // a branch with no commit yet
  dir.Write("repo/.git/refs/heads/main", kA + "\n");
  EXPECT_EQ(GitCommitOf(root / "repo/specs/deep"), kA);  // found from below
  // Packed: no loose ref.
  std::filesystem::remove(root / "repo/.git/refs/heads/main");
  dir.Write("repo/.git/packed-refs", "# pack-refs with: peeled fully-peeled sorted\n" + kC +
                                         " refs/heads/other\n" + kB + " refs/heads/main\n^" + kC +
                                         "\n");
  EXPECT_EQ(GitCommitOf(root / "repo/specs"), kB);
  // Detached.
  dir.Write("repo/.git/HEAD", kC + "\n");
  EXPECT_EQ(GitCommitOf(root / "repo"), kC);
  // A linked worktree: .git is a file; its HEAD names a branch whose ref
  // lives in the common folder.
  dir.Write("repo/.git/HEAD", "ref: refs/heads/main\n");
  std::filesystem::create_directories(root / "repo/.git/worktrees/side");
  std::filesystem::create_directories(root / "side");
  dir.Write("side/.git", "gitdir: " + (root / "repo/.git/worktrees/side").string() + "\n");
  dir.Write("repo/.git/worktrees/side/commondir", "../..\n");
  dir.Write("repo/.git/worktrees/side/HEAD", "ref: refs/heads/other\n");
  EXPECT_EQ(GitCommitOf(root / "side"), kC);
  // Not a commit: nothing claimed.
  dir.Write("repo/.git/HEAD", "garbage\n");
  EXPECT_FALSE(GitCommitOf(root / "repo"));
}

}  // namespace
}  // namespace slipway::cli
