// The native tree evaluators against the libraries themselves.
//
// The suite's set-up runs testdata/make_tree_models.py, which trains models
// with xgboost, lightgbm (and Debian's xgboost 1.7 through its C API), saves
// them with mlflow's own save_model, and records what mlflow.pyfunc and the
// raw boosters predict; every case must match within 1e-6. The generated
// folder is keyed by the script's content and shared by the test processes
// (ctest runs each test in its own), so it is written once per change.
// Hand-written models cover single rules (default_left, category bitsets,
// missing types) without Python, and mutated files check that a corrupt
// model is an Error, never a crash.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/file.h>
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <sstream>
#include <thread>

#include "core/error.h"
#include "ml/lightgbm_model.h"
#include "ml/mlmodel.h"
#include "ml/model_loader.h"
#include "ml/tree_ensemble.h"
#include "ml/tree_model.h"
#include "ml/xgboost_model.h"
#include "test_util/temp_dir.h"

namespace slipway::ml {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr double kTolerance = 1e-6;
const double kNaN = std::nan("");

std::string ReadFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

// Runs the generator once for this version of the script; later test
// processes reuse its output. A lock keeps parallel processes from racing.
fs::path GeneratedModels() {
  const std::string script = SLIPWAY_TREE_MODELS_SCRIPT;
  const size_t key = std::hash<std::string>{}(ReadFile(script));
  const fs::path dir = fs::temp_directory_path() / ("slipway-tree-models-" + std::to_string(key));
  const fs::path lock_path = dir.string() + ".lock";
  const int lock = ::open(lock_path.c_str(), O_CREAT | O_RDWR, 0600);
  if (lock < 0 || ::flock(lock, LOCK_EX) != 0) ADD_FAILURE() << "cannot lock " << lock_path;
  if (!fs::exists(dir / "manifest.json")) {
    fs::remove_all(dir);
    const std::string command =
        "python3 " + script + " " + dir.string() + " > " + dir.string() + ".log 2>&1";
    const int status = std::system(command.c_str());
    if (status != 0)
      ADD_FAILURE() << "the generator failed (" << status
                    << "): " << ReadFile(dir.string() + ".log");
  }
  if (lock >= 0) ::close(lock);
  return dir;
}

Frame FrameFromJson(const json& input) {
  Frame frame;
  for (const json& c : input["columns"]) {
    Column col;
    col.name = c["name"];
    const std::string type = c["type"];
    if (type == "string") {
      col.type = DataType::kString;
      for (const json& v : c["values"]) col.strings.push_back(v.get<std::string>());
    } else {
      col.type = type == "long" ? DataType::kLong : DataType::kDouble;
      for (const json& v : c["values"]) col.numbers.push_back(v.is_null() ? kNaN : v.get<double>());
    }
    frame.rows = std::max(col.numbers.size(), col.strings.size());
    frame.columns.push_back(std::move(col));
  }
  return frame;
}

void ExpectValues(const json& expected, const std::vector<double>& got, size_t width,
                  const std::string& what) {
  const auto& values = expected["values"];
  EXPECT_EQ(expected["width"].get<size_t>(), width) << what;
  ASSERT_EQ(values.size(), got.size()) << what;
  size_t bad = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    if (std::abs(values[i].get<double>() - got[i]) > kTolerance && ++bad <= 3)
      ADD_FAILURE() << what << ": value " << i << " is " << got[i] << ", expected " << values[i];
  }
  EXPECT_EQ(bad, 0u) << what;
}

class TreeModelsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new fs::path(GeneratedModels());
    manifest_ = new json(json::parse(ReadFile(*dir_ / "manifest.json")));
  }
  static void TearDownTestSuite() {
    delete dir_;
    delete manifest_;
  }
  static const json& cases() { return (*manifest_)["cases"]; }
  static const json& Case(const std::string& name) {
    for (const json& c : cases())
      if (c["name"] == name) return c;
    throw std::runtime_error("no case " + name);
  }

  static fs::path* dir_;
  static json* manifest_;
};
fs::path* TreeModelsTest::dir_ = nullptr;
json* TreeModelsTest::manifest_ = nullptr;

TEST_F(TreeModelsTest, GeneratorWroteEveryKindOfModel) {
  std::set<std::string> names;
  for (const json& c : cases()) names.insert(c["name"].get<std::string>());
  for (const char* name : {"xgb_booster_binary_logistic_json",
                           "xgb_booster_multi_softprob_ubj",
                           "xgb_booster_reg_squarederror_ubj",
                           "xgb_booster_dart_json",
                           "xgb_classifier_binary_ubj",
                           "xgb_classifier_multi_json",
                           "xgb_regressor_early_stop_json",
                           "xgb_classifier_categorical_ubj",
                           "xgb_booster_categorical_json",
                           "lgb_binary",
                           "lgb_multiclass",
                           "lgb_regression",
                           "lgb_categorical_codes",
                           "lgb_sklearn_classifier",
                           "xgb17_binary_logistic",
                           "xgb17_multi_softprob",
                           "xgb17_reg_squarederror",
                           "xgb17_binary_logistic_ubj",
                           "xgb17_binary_logitraw",
                           "lgb_pandas_categorical"})
    EXPECT_TRUE(names.count(name)) << name;
}

// What a deployment does: LoadModel, conform to the signature, Predict; the
// answer must be what mlflow.pyfunc's predict gave.
TEST_F(TreeModelsTest, MatchesMlflowPyfunc) {
  size_t checked = 0;
  for (const json& c : cases()) {
    if (!c["native"].get<bool>()) continue;
    const std::string name = c["name"];
    SCOPED_TRACE(name);
    std::unique_ptr<Model> model;
    try {
      model = LoadModel(c["model_dir"].get<std::string>(), LoadOptions{});
    } catch (const Error& e) {
      ADD_FAILURE() << name << ": " << e.what();
      continue;
    }
    ASSERT_TRUE(model->native()) << name;
    EXPECT_EQ(model->flavor(), name.rfind("lgb", 0) == 0 ? "lightgbm" : "xgboost");
    Frame input = FrameFromJson(c["input"]);
    if (model->mlmodel().signature)
      input = ConformToSchema(model->mlmodel().signature->inputs, input);
    const Predictions out = model->Predict(input, "");
    ASSERT_EQ(out.frame.columns.size(), 1u);
    const Column& col = out.frame.columns[0];
    const json& expected = c["expected"];
    EXPECT_EQ(out.layout,
              expected["layout"] == "matrix" ? OutputLayout::kMatrix : OutputLayout::kVector);
    ExpectValues(expected, col.numbers, col.width, name);
    ++checked;
  }
  EXPECT_GE(checked, 25u);
}

// The ensemble alone against the raw booster (predict_proba for the
// classifiers), below the pyfunc layer.
TEST_F(TreeModelsTest, MatchesRawBoosters) {
  for (const json& c : cases()) {
    if (c["raw"].is_null() || !c["native"].get<bool>()) continue;
    const std::string name = c["name"];
    SCOPED_TRACE(name);
    const fs::path dir = c["model_dir"].get<std::string>();
    const MlModel mlmodel = MlModel::Read(dir);
    std::shared_ptr<const TreeEnsemble> ensemble;
    TreeModelOptions options;
    if (mlmodel.Flavor("xgboost")) {
      auto parsed =
          ParseXGBoostModel(ReadFile(mlmodel.FlavorFile("xgboost")), "xgboost.core.Booster");
      ensemble = parsed.ensemble;
      options = parsed.options;
    } else {
      auto parsed = ParseLightGBMModel(ReadFile(mlmodel.FlavorFile("lightgbm")));
      ensemble = parsed.ensemble;
      options = parsed.options;
    }
    const Frame input = FrameFromJson(c["input"]);
    const std::vector<double> rows = TreeModelRows(input, ensemble->num_features(), options);
    std::vector<double> out(input.rows * ensemble->output_width());
    ensemble->Predict(rows.data(), input.rows, ensemble->num_features(), out.data());
    ExpectValues(c["raw"], out, ensemble->output_width(), name);
  }
}

TEST_F(TreeModelsTest, PickledLightGBMWrapperRunsThroughPython) {
  const MlModel mlmodel =
      MlModel::Read(Case("lgb_sklearn_classifier")["model_dir"].get<std::string>());
  try {
    LoadLightGBMFlavor(mlmodel);
    FAIL() << "a pickled LGBMClassifier loaded natively";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kNotImplemented);
    EXPECT_NE(std::string(e.what()).find("LGBMClassifier"), std::string::npos) << e.what();
  }
}

// What Debian's xgboost 1.7 writes for a name without .json/.ubj: the
// legacy binary format, recognised by its bytes and left to Python.
TEST_F(TreeModelsTest, Xgboost17LegacyBinaryIsNotImplemented) {
  const fs::path file =
      Case("xgb17_binary_logistic")["model_dir"].get<std::string>() + "/model.bin";
  const std::string bytes = ReadFile(file);
  ASSERT_FALSE(bytes.empty()) << file;
  try {
    ParseXGBoostModel(bytes, "xgboost.core.Booster");
    FAIL() << "parsed a legacy binary model";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kNotImplemented);
    EXPECT_NE(std::string(e.what()).find("legacy binary"), std::string::npos) << e.what();
  }
}

// LightGBM maps a category it never saw to NaN, as Booster.predict does
// with pandas codes of -1.
TEST_F(TreeModelsTest, UnknownLightGBMCategoryIsMissing) {
  const json& c = Case("lgb_pandas_categorical");
  auto model = LoadModel(c["model_dir"].get<std::string>(), {});
  Frame unknown = FrameFromJson(c["input"]);
  Frame missing = unknown;
  for (Column& col : unknown.columns)
    if (col.name == "shape") col.strings[0] = "hexagon";
  for (Column& col : missing.columns)
    if (col.name == "shape") col.missing.assign(missing.rows, 0), col.missing[0] = 1;
  const auto a = model->Predict(unknown, "").frame.columns[0].numbers;
  const auto b = model->Predict(missing, "").frame.columns[0].numbers;
  EXPECT_EQ(a, b);
  EXPECT_NE(a, model->Predict(FrameFromJson(c["input"]), "").frame.columns[0].numbers);
}

TEST_F(TreeModelsTest, MissingFeatureIsNamed) {
  auto model =
      LoadModel(Case("xgb_booster_binary_logistic_json")["model_dir"].get<std::string>(), {});
  Frame input = FrameFromJson(Case("xgb_booster_binary_logistic_json")["input"]);
  input.columns.erase(input.columns.begin() + 2);  // f2
  try {
    model->Predict(input, "");
    FAIL() << "predicted without f2";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidParameterValue);
    EXPECT_NE(std::string(e.what()).find("'f2'"), std::string::npos) << e.what();
  }
}

TEST_F(TreeModelsTest, FeaturesMatchByNameNotPosition) {
  const json& c = Case("lgb_regression");
  auto model = LoadModel(c["model_dir"].get<std::string>(), {});
  Frame input = FrameFromJson(c["input"]);
  const auto before = model->Predict(input, "").frame.columns[0].numbers;
  std::reverse(input.columns.begin(), input.columns.end());
  EXPECT_EQ(model->Predict(input, "").frame.columns[0].numbers, before);
}

TEST_F(TreeModelsTest, UnknownXGBoostCategoryIsAnError) {
  const json& c = Case("xgb_classifier_categorical_ubj");
  auto model = LoadModel(c["model_dir"].get<std::string>(), {});
  Frame input = FrameFromJson(c["input"]);
  for (Column& col : input.columns)
    if (col.name == "color") col.strings[3] = "purple";
  try {
    model->Predict(input, "");
    FAIL() << "an unseen category was accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidParameterValue);
    EXPECT_NE(std::string(e.what()).find("purple"), std::string::npos) << e.what();
  }
}

TEST_F(TreeModelsTest, PredictIsThreadSafe) {
  const json& c = Case("xgb_booster_multi_softprob_ubj");
  std::shared_ptr<const Model> model = LoadModel(c["model_dir"].get<std::string>(), {});
  const Frame input = FrameFromJson(c["input"]);
  const auto expected = model->Predict(input, "").frame.columns[0].numbers;
  std::vector<std::thread> threads;
  std::atomic<int> mismatches{0};
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&] {
      for (int i = 0; i < 20; ++i)
        if (model->Predict(input, "").frame.columns[0].numbers != expected) ++mismatches;
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(mismatches.load(), 0);
}

// Random truncations and byte flips of real model files: each parse either
// succeeds (and then predicts) or throws slipway::Error.
TEST_F(TreeModelsTest, CorruptModelsAreErrorsNotCrashes) {
  const Frame input = FrameFromJson(Case("xgb_booster_binary_logistic_json")["input"]);
  std::mt19937 rng(11);
  struct File {
    std::string name, path;
    bool lightgbm;
  };
  const std::vector<File> files = {
      {"json",
       Case("xgb_booster_binary_logistic_json")["model_dir"].get<std::string>() + "/model.json",
       false},
      {"ubj", Case("xgb_classifier_categorical_ubj")["model_dir"].get<std::string>() + "/model.ubj",
       false},
      {"dart", Case("xgb_booster_dart_json")["model_dir"].get<std::string>() + "/model.json",
       false},
      {"lgb", Case("lgb_categorical_codes")["model_dir"].get<std::string>() + "/model.lgb", true},
  };
  for (const File& file : files) {
    const std::string original = ReadFile(file.path);
    ASSERT_FALSE(original.empty()) << file.path;
    size_t errors = 0, parsed = 0;
    for (int i = 0; i < 300; ++i) {
      std::string bytes = original;
      if (i % 3 == 0) {
        bytes.resize(std::uniform_int_distribution<size_t>(0, bytes.size() - 1)(rng));
      } else {
        const int flips = 1 + i % 4;
        for (int f = 0; f < flips; ++f) {
          const size_t at = std::uniform_int_distribution<size_t>(0, bytes.size() - 1)(rng);
          bytes[at] = static_cast<char>(std::uniform_int_distribution<int>(0, 255)(rng));
        }
      }
      try {
        std::shared_ptr<const TreeEnsemble> ensemble;
        if (file.lightgbm)
          ensemble = ParseLightGBMModel(bytes).ensemble;
        else
          ensemble = ParseXGBoostModel(bytes, "xgboost.core.Booster").ensemble;
        ++parsed;
        // Rows of the right width, whatever the (mutated) feature count.
        std::vector<double> rows(16 * ensemble->num_features(), 0.5);
        for (size_t r = 0; r < rows.size(); r += 3) rows[r] = kNaN;
        std::vector<double> out(16 * ensemble->output_width());
        ensemble->Predict(rows.data(), 16, ensemble->num_features(), out.data());
      } catch (const Error& e) {
        ++errors;
        EXPECT_TRUE(e.code() == ErrorCode::kInvalidParameterValue ||
                    e.code() == ErrorCode::kNotImplemented)
            << e.what();
      }
    }
    EXPECT_GT(errors, 50u) << file.name;
    (void)parsed;
  }
}

// ---- Hand-written models: one rule each, no Python needed. ----

// One XGBoost tree: node 0 splits f0 < 1 (missing goes left), node 2 is a
// categorical split on f1 sending categories {1, 3, 40} right.
constexpr const char* kSmallXGBoost = R"({
 "learner": {
  "attributes": {}, "feature_names": ["a", "b"], "feature_types": ["float", "c"],
  "learner_model_param": {"base_score": "[5E-1]", "num_class": "0", "num_feature": "2", "num_target": "1"},
  "objective": {"name": "reg:squarederror"},
  "gradient_booster": {"name": "gbtree", "model": {
   "gbtree_model_param": {"num_parallel_tree": "1", "num_trees": "1"},
   "tree_info": [0],
   "trees": [{
    "id": 0, "tree_param": {"num_nodes": "5", "size_leaf_vector": "1", "num_feature": "2"},
    "left_children": [1, -1, 3, -1, -1], "right_children": [2, -1, 4, -1, -1],
    "split_indices": [0, 0, 1, 0, 0], "split_conditions": [1.0, 10.0, 0.0, 20.0, 30.0],
    "default_left": [1, 0, 0, 0, 0], "split_type": [0, 0, 1, 0, 0],
    "categories_nodes": [2], "categories_segments": [0], "categories_sizes": [3], "categories": [1, 3, 40]
   }]}}},
 "version": [3, 2, 0]})";

std::vector<double> Evaluate(const TreeEnsemble& e, const std::vector<std::vector<double>>& rows) {
  std::vector<double> flat;
  for (const auto& r : rows) flat.insert(flat.end(), r.begin(), r.end());
  std::vector<double> out(rows.size() * e.output_width());
  e.Predict(flat.data(), rows.size(), e.num_features(), out.data());
  return out;
}

TEST(TreeEnsembleTest, XGBoostDefaultLeftAndCategoricalSets) {
  const auto model = ParseXGBoostModel(kSmallXGBoost, "xgboost.core.Booster");
  // 0.5 base score + leaf.
  EXPECT_EQ(
      Evaluate(*model.ensemble, {{0.0, 0},
                                 {kNaN, 0},
                                 {1.0, 0},
                                 {1.0, 1},
                                 {1.0, 3},
                                 {1.0, 40},
                                 {1.0, 2},
                                 {1.0, 41},
                                 {1.0, -1},
                                 {1.0, kNaN},
                                 {1.0, 3.7}}),
      (std::vector<double>{10.5, 10.5, 20.5, 30.5, 30.5, 30.5, 20.5, 20.5, 20.5, 30.5, 30.5}));
  // x < threshold in float: 0.99999999 rounds to 1.0f and goes right.
  EXPECT_EQ(Evaluate(*model.ensemble, {{0.99999999, 0}}), (std::vector<double>{20.5}));
}

// A random XGBoost-style tree of at most `depth` levels, lopsided on
// purpose (leaves at every level), over `features` features.
TreeSpec RandomTree(std::mt19937_64& rng, uint32_t depth, size_t features, uint32_t output) {
  TreeSpec tree;
  tree.output = output;
  std::uniform_real_distribution<double> value(-2, 2);
  std::function<int32_t(uint32_t)> grow = [&](uint32_t level) -> int32_t {
    const int32_t at = static_cast<int32_t>(tree.nodes.size());
    tree.nodes.emplace_back();
    if (level == depth || (level > 0 && rng() % 4 == 0)) {
      tree.nodes[at].leaf = true;
      tree.nodes[at].value = static_cast<float>(value(rng));
      return at;
    }
    TreeSpecNode split;
    split.feature = static_cast<int32_t>(rng() % features);
    split.value = static_cast<float>(value(rng));
    split.flags = rng() % 2 ? TreeSpecNode::kDefaultLeft : 0;
    const int32_t left = grow(level + 1);
    const int32_t right = grow(level + 1);
    split.left = left;
    split.right = right;
    tree.nodes[at] = split;
    return at;
  };
  grow(0);
  return tree;
}

// XGBoost's rules, walked node by node from the spec: the reference the
// compiled layouts must agree with exactly.
double WalkSpec(const TreeEnsembleSpec& spec, const double* row, uint32_t output) {
  float margin = static_cast<float>(spec.base_margin.empty() ? 0.0 : spec.base_margin[0]);
  for (const TreeSpec& tree : spec.trees) {
    if (tree.output != output) continue;
    int32_t i = 0;
    while (!tree.nodes[i].leaf) {
      const TreeSpecNode& n = tree.nodes[i];
      const double x = row[n.feature];
      bool right;
      if (std::isnan(x))
        right = !(n.flags & TreeSpecNode::kDefaultLeft);
      else
        right = !(static_cast<float>(x) < static_cast<float>(n.value));
      i = right ? n.right : n.left;
    }
    margin += static_cast<float>(tree.nodes[i].value);
  }
  return margin;
}

TEST(TreeEnsembleTest, EveryLayoutAgreesWithTheNodeWalk) {
  // The perfect-tree layout (depth <= 8), its AVX-512 walk (depth <= 6, up
  // to 32 features, where the CPU has it) and the node walk (deeper trees)
  // against a plain walk of the spec: the same leaves, added in the same
  // order, so the margins are equal, not merely close.
  std::mt19937_64 rng(20261206);
  for (size_t features : {1, 7, 16, 17, 30, 32, 33, 64}) {
    for (uint32_t max_depth : {0u, 3u, 6u, 7u, 10u}) {
      TreeEnsembleSpec spec;
      spec.semantics = TreeSemantics::kXGBoost;
      spec.num_features = features;
      spec.num_outputs = 3;
      spec.base_margin = {0.25};
      for (uint32_t t = 0; t < 30; ++t)
        spec.trees.push_back(
            RandomTree(rng, std::min<uint32_t>(max_depth, t % 11), features, t % 3));
      const size_t rows = 150;  // more than a block, not a multiple of one
      std::vector<double> values(rows * features);
      std::normal_distribution<double> normal;
      for (double& v : values) v = rng() % 10 == 0 ? kNaN : normal(rng);
      std::vector<double> scalar(rows * 3), wide(rows * 3);
      TreeEnsemble::Create(spec, /*allow_wide=*/false)
          ->Predict(values.data(), rows, features, scalar.data(), /*margin=*/true);
      TreeEnsemble::Create(spec)->Predict(values.data(), rows, features, wide.data(), true);
      for (size_t r = 0; r < rows; ++r) {
        for (uint32_t o = 0; o < 3; ++o) {
          const double expected = WalkSpec(spec, values.data() + r * features, o);
          ASSERT_EQ(scalar[r * 3 + o], expected)
              << features << " features, depth " << max_depth << ", row " << r << ", output " << o;
          ASSERT_EQ(wide[r * 3 + o], expected)
              << features << " features, depth " << max_depth << ", row " << r << ", output " << o;
        }
      }
    }
  }
}

TEST(TreeEnsembleTest, XGBoostBadChildIsRejected) {
  std::string text = kSmallXGBoost;
  text.replace(text.find("[1, -1, 3, -1, -1]"), 18, "[1, -1, 9, -1, -1]");
  EXPECT_THROW(ParseXGBoostModel(text, "xgboost.core.Booster"), Error);
  text = kSmallXGBoost;
  text.replace(text.find("[1, -1, 3, -1, -1]"), 18, "[1, -1, 0, -1, -1]");  // a cycle
  EXPECT_THROW(ParseXGBoostModel(text, "xgboost.core.Booster"), Error);
  text = kSmallXGBoost;
  text.replace(text.find("\"split_indices\": [0, 0, 1"), 25, "\"split_indices\": [0, 0, 7");
  EXPECT_THROW(ParseXGBoostModel(text, "xgboost.core.Booster"), Error);
  text = kSmallXGBoost;
  text.replace(text.find("\"categories_sizes\": [3]"), 23, "\"categories_sizes\": [4]");
  EXPECT_THROW(ParseXGBoostModel(text, "xgboost.core.Booster"), Error);
}

TEST(TreeEnsembleTest, XGBoostUnsupportedVariantsAreNotImplemented) {
  std::string text = kSmallXGBoost;
  text.replace(text.find("reg:squarederror"), 16, "binary:hinge");
  try {
    ParseXGBoostModel(text, "xgboost.core.Booster");
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kNotImplemented);
    EXPECT_NE(std::string(e.what()).find("binary:hinge"), std::string::npos);
  }
  // xgboost 1.x's legacy binary format: not JSON, not UBJSON.
  try {
    ParseXGBoostModel(std::string("binf\0\0\0?", 8), "xgboost.core.Booster");
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kNotImplemented);
    EXPECT_NE(std::string(e.what()).find("legacy binary"), std::string::npos);
  }
}

// An optimized UBJSON array of nulls takes no bytes per value: a corrupt
// count must not make the parser build 2^60 of them.
TEST(TreeEnsembleTest, XGBoostUbjsonCountBombIsRejected) {
  std::string bomb = "{i\x07learner[$Z#L";
  bomb += std::string("\x00\x00\x01\x00\x00\x00\x00\x00", 8);  // 2^40
  bomb += "}";
  try {
    ParseXGBoostModel(bomb, "xgboost.core.Booster");
    FAIL() << "parsed";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidParameterValue);
    EXPECT_NE(std::string(e.what()).find("more values than the file has bytes"), std::string::npos)
        << e.what();
  }
}

TEST(TreeEnsembleTest, XGBoostUbjsonEqualsJson) {
  const json doc = json::parse(kSmallXGBoost);
  const std::vector<uint8_t> ubj = json::to_ubjson(doc, true, true);
  const auto a = ParseXGBoostModel(kSmallXGBoost, "xgboost.core.Booster");
  const auto b = ParseXGBoostModel(std::string(ubj.begin(), ubj.end()), "xgboost.core.Booster");
  const std::vector<std::vector<double>> rows = {{0.0, 0}, {kNaN, 0}, {1.0, 3}, {1.0, 2}};
  EXPECT_EQ(Evaluate(*a.ensemble, rows), Evaluate(*b.ensemble, rows));
}

// A LightGBM tree: node 0 is categorical on feature 1 (categories {0, 2, 33}
// go left), node 1 splits feature 0 <= 0.5 with zeros missing (go right),
// node 2 splits feature 0 <= -1 with NaN missing (go left).
constexpr const char* kSmallLightGBM = R"(tree
version=v4
num_class=1
num_tree_per_iteration=1
label_index=0
max_feature_idx=1
objective=regression
feature_names=x code
feature_infos=[-5:5] 0:2:33

Tree=0
num_leaves=4
num_cat=1
split_feature=1 0 0
threshold=0 0.5 -1
decision_type=1 4 10
left_child=1 -1 -3
right_child=2 -2 -4
leaf_value=1 2 3 4
cat_boundaries=0 2
cat_threshold=5 2
is_linear=0
shrinkage=1


end of trees

pandas_categorical:null
)";

TEST(TreeEnsembleTest, LightGBMMissingTypesAndCategoryBitsets) {
  const auto model = ParseLightGBMModel(kSmallLightGBM);
  EXPECT_EQ(Evaluate(*model.ensemble, {{0.2, 0},    // code 0 in set, 0.2 <= 0.5
                                       {0.7, 2},    // in set, right
                                       {0.0, 33},   // in set (word 1, bit 1), zero missing: right
                                       {kNaN, 0},   // NaN -> 0 -> zero missing: right
                                       {-2, 1},     // not in set; -2 <= -1
                                       {kNaN, 1},   // NaN missing, default left
                                       {0.0, 1},    // 0 > -1
                                       {-2, kNaN},  // NaN category goes right
                                       {-2, -3},    // negative category goes right
                                       {-2, 34}}),  // beyond the bitset
            (std::vector<double>{1, 2, 2, 2, 3, 3, 4, 3, 3, 3}));
}

TEST(TreeEnsembleTest, LightGBMBadCategorySegmentIsRejected) {
  std::string text = kSmallLightGBM;
  text.replace(text.find("cat_boundaries=0 2"), 18, "cat_boundaries=0 3");
  EXPECT_THROW(ParseLightGBMModel(text), Error);
  text = kSmallLightGBM;
  text.replace(text.find("left_child=1 -1 -3"), 18, "left_child=1 -1 -9");
  EXPECT_THROW(ParseLightGBMModel(text), Error);
  text = kSmallLightGBM;
  text.replace(text.find("end of trees"), 12, "end of tree");
  EXPECT_THROW(ParseLightGBMModel(text), Error);
}

TEST(TreeEnsembleTest, StringsNeedStoredCategories) {
  const auto model = ParseLightGBMModel(kSmallLightGBM);
  Frame input;
  input.rows = 1;
  input.columns.resize(2);
  input.columns[0].name = "x";
  input.columns[0].numbers = {0.2};
  input.columns[1].name = "code";
  input.columns[1].type = DataType::kString;
  input.columns[1].strings = {"red"};
  try {
    TreeModelRows(input, 2, model.options);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("numeric codes"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace slipway::ml
