#include "ml/xgboost_model.h"

#include <cctype>
#include <cmath>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "core/error.h"

namespace slipway::ml {

namespace {

using nlohmann::json;

[[noreturn]] void Unsupported(const std::string& why) {
  throw Error(ErrorCode::kNotImplemented, "XGBoost model not evaluated natively: " + why);
}

[[noreturn]] void Malformed(const std::string& why) {
  ThrowInvalid("malformed XGBoost model: " + why);
}

const json& Member(const json& object, const char* key, const char* where) {
  if (!object.is_object()) Malformed(std::string(where) + " is not an object");
  auto it = object.find(key);
  if (it == object.end()) Malformed(std::string(where) + " has no '" + key + "'");
  return *it;
}

const json& Array(const json& object, const char* key, const char* where) {
  const json& value = Member(object, key, where);
  if (!value.is_array()) Malformed(std::string(where) + "." + key + " is not an array");
  return value;
}

// XGBoost writes most parameters as strings ("3", "5E-1"), and numbers in
// arrays as ints, floats or (default_left) booleans depending on the version.
double Number(const json& value, const std::string& what) {
  if (value.is_number()) return value.get<double>();
  if (value.is_boolean()) return value.get<bool>() ? 1.0 : 0.0;
  if (value.is_string()) {
    const std::string& text = value.get_ref<const std::string&>();
    char* end = nullptr;
    const double parsed = std::strtod(text.c_str(), &end);
    if (!text.empty() && end == text.c_str() + text.size()) return parsed;
  }
  Malformed(what + " is not a number");
}

int64_t Integer(const json& value, const std::string& what, int64_t min, int64_t max) {
  const double v = Number(value, what);
  if (!(v >= static_cast<double>(min) && v <= static_cast<double>(max)) || v != std::floor(v))
    Malformed(what + " is out of range");
  return static_cast<int64_t>(v);
}

std::string Param(const json& object, const char* key, const char* fallback) {
  if (!object.is_object()) return fallback;
  auto it = object.find(key);
  if (it == object.end()) return fallback;
  if (it->is_string()) return it->get<std::string>();
  return it->dump();
}

// 3.x writes base_score as a vector "[5E-1]" or "[0E0,0E0,0E0]"; 1.7 as "5E-1".
std::vector<float> BaseScores(const std::string& text) {
  std::vector<float> out;
  std::string body = text;
  if (!body.empty() && body.front() == '[') {
    if (body.back() != ']') Malformed("base_score '" + text + "' is not a vector");
    body = body.substr(1, body.size() - 2);
  }
  std::stringstream in(body);
  std::string item;
  while (std::getline(in, item, ','))
    out.push_back(static_cast<float>(Number(json(item), "base_score")));
  if (out.empty()) Malformed("base_score is empty");
  return out;
}

struct Objective {
  OutputTransform transform;
  enum class Link { kIdentity, kLogit, kLog } link;
};

Objective ObjectiveFor(const std::string& name) {
  using T = OutputTransform;
  using L = Objective::Link;
  if (name == "reg:squarederror" || name == "reg:linear" || name == "reg:squaredlogerror" ||
      name == "reg:absoluteerror" || name == "reg:pseudohubererror" ||
      name == "reg:quantileerror" || name == "rank:pairwise" || name == "rank:ndcg" ||
      name == "rank:map")
    return {T::kIdentity, L::kIdentity};
  // logitraw keeps base_score as a margin (LogisticRaw::ProbToMargin).
  if (name == "binary:logitraw") return {T::kIdentity, L::kIdentity};
  if (name == "binary:logistic" || name == "reg:logistic") return {T::kSigmoid, L::kLogit};
  if (name == "count:poisson" || name == "reg:gamma" || name == "reg:tweedie" ||
      name == "survival:cox")
    return {T::kExp, L::kLog};
  if (name == "multi:softprob") return {T::kSoftmax, L::kIdentity};
  if (name == "multi:softmax") return {T::kSoftmaxLabel, L::kIdentity};
  Unsupported("objective '" + name + "'");
}

// base_score is stored as a prediction; the trees add to its margin
// (ObjFunction::ProbToMargin), computed in float as XGBoost does.
float Margin(float base, Objective::Link link) {
  switch (link) {
    case Objective::Link::kIdentity:
      return base;
    case Objective::Link::kLogit:
      return -std::log(1.0f / base - 1.0f);
    case Objective::Link::kLog:
      return std::log(base);
  }
  return base;
}

// Category names 3.x keeps for each feature trained on a pandas category
// (gbtree model "cats": per feature, string bytes cut at `offsets`).
std::vector<std::vector<std::string>> CategoryNames(const json& cats, size_t num_features) {
  std::vector<std::vector<std::string>> names(num_features);
  if (!cats.is_object() || !cats.contains("enc")) return names;
  const json& enc = cats["enc"];
  if (!enc.is_array()) Malformed("cats.enc is not an array");
  if (enc.size() != num_features) return names;  // not one per feature: not a layout we know
  for (size_t f = 0; f < enc.size(); ++f) {
    const json& e = enc[f];
    if (!e.is_object()) Malformed("cats.enc[" + std::to_string(f) + "] is not an object");
    const json* values = e.contains("values") ? &e["values"] : nullptr;
    if (values == nullptr || !values->is_array() || values->empty()) continue;
    if (!e.contains("offsets") || !e["offsets"].is_array() || e["offsets"].empty())
      Unsupported("feature " + std::to_string(f) + " has numeric category values");
    const json& offsets = e["offsets"];
    std::string bytes;
    bytes.reserve(values->size());
    for (const json& b : *values)
      bytes.push_back(static_cast<char>(Integer(b, "cats.enc.values", 0, 255)));
    int64_t previous = 0;
    for (size_t i = 1; i < offsets.size(); ++i) {
      const int64_t end =
          Integer(offsets[i], "cats.enc.offsets", previous, static_cast<int64_t>(bytes.size()));
      names[f].push_back(
          bytes.substr(static_cast<size_t>(previous), static_cast<size_t>(end - previous)));
      previous = end;
    }
  }
  return names;
}

// One tree of a gbtree model (src/tree/tree_model.cc, RegTree::LoadModel).
TreeSpec ParseTree(const json& tree, size_t index, float weight, TreeEnsembleSpec& spec) {
  const std::string where = "tree " + std::to_string(index);
  const json& param = Member(tree, "tree_param", where.c_str());
  if (Param(param, "size_leaf_vector", "1") != "1" && Param(param, "size_leaf_vector", "1") != "0")
    Unsupported("vector leaves (multi_strategy=multi_output_tree)");
  const json& left = Array(tree, "left_children", where.c_str());
  const json& right = Array(tree, "right_children", where.c_str());
  const json& feature = Array(tree, "split_indices", where.c_str());
  const json& cond = Array(tree, "split_conditions", where.c_str());
  const json& default_left = Array(tree, "default_left", where.c_str());
  const size_t n = left.size();
  if (n == 0 || right.size() != n || feature.size() != n || cond.size() != n ||
      default_left.size() != n)
    Malformed(where + ": node arrays differ in length");
  const json* split_type = tree.contains("split_type") ? &tree["split_type"] : nullptr;
  if (split_type != nullptr && (!split_type->is_array() || split_type->size() != n))
    Malformed(where + ": split_type differs in length");

  TreeSpec out;
  out.nodes.resize(n);
  const int64_t max_node = static_cast<int64_t>(n) - 1;
  for (size_t i = 0; i < n; ++i) {
    TreeSpecNode& node = out.nodes[i];
    const int64_t l = Integer(left[i], where + " left_children", -1, max_node);
    // The value is a float in XGBoost; keep exactly that value.
    const float value = static_cast<float>(Number(cond[i], where + " split_conditions"));
    if (l == -1) {
      node.leaf = true;
      // dart scales each tree's output by its weight, in float.
      node.value = static_cast<double>(value * weight);
      continue;
    }
    node.left = static_cast<int32_t>(l);
    node.right = static_cast<int32_t>(Integer(right[i], where + " right_children", 0, max_node));
    node.feature = static_cast<int32_t>(
        Integer(feature[i], where + " split_indices", 0, std::numeric_limits<int32_t>::max()));
    node.value = static_cast<double>(value);
    if (Number(default_left[i], where + " default_left") != 0)
      node.flags |= TreeSpecNode::kDefaultLeft;
    if (split_type != nullptr && Integer((*split_type)[i], where + " split_type", 0, 1) == 1)
      node.flags |= TreeSpecNode::kCategorical;
  }

  // Categorical splits: node categories_nodes[j] sends the categories
  // categories[segments[j] .. + sizes[j]] right.
  if (tree.contains("categories_nodes")) {
    const json& nodes = Array(tree, "categories_nodes", where.c_str());
    const json& segments = Array(tree, "categories_segments", where.c_str());
    const json& sizes = Array(tree, "categories_sizes", where.c_str());
    const json& categories = Array(tree, "categories", where.c_str());
    if (segments.size() != nodes.size() || sizes.size() != nodes.size())
      Malformed(where + ": category arrays differ in length");
    const int64_t total = static_cast<int64_t>(categories.size());
    for (size_t j = 0; j < nodes.size(); ++j) {
      const auto node =
          static_cast<size_t>(Integer(nodes[j], where + " categories_nodes", 0, max_node));
      const int64_t begin = Integer(segments[j], where + " categories_segments", 0, total);
      const int64_t size = Integer(sizes[j], where + " categories_sizes", 0, total - begin);
      TreeSpecNode& spec_node = out.nodes[node];
      if (spec_node.leaf || !(spec_node.flags & TreeSpecNode::kCategorical))
        Malformed(where + ": categories for node " + std::to_string(node) +
                  ", which is not a categorical split");
      // Categories are < 2^24 in XGBoost; a bitset of 64 K words covers 2^21.
      constexpr int64_t kMaxCategory = 65535 * 32 - 1;
      int64_t max_category = -1;
      for (int64_t c = begin; c < begin + size; ++c)
        max_category = std::max(max_category, Integer(categories[static_cast<size_t>(c)],
                                                      where + " categories", 0, kMaxCategory));
      const uint32_t words = static_cast<uint32_t>(max_category / 32 + 1);
      spec_node.category_begin = static_cast<uint32_t>(spec.category_bits.size());
      spec_node.category_words = words;
      spec.category_bits.resize(spec.category_bits.size() + words, 0);
      uint32_t* bits = spec.category_bits.data() + spec_node.category_begin;
      for (int64_t c = begin; c < begin + size; ++c) {
        const auto v = static_cast<uint32_t>(categories[static_cast<size_t>(c)].get<double>());
        bits[v / 32] |= 1u << (v % 32);
      }
    }
  }
  // A categorical split without a segment has an empty set: every valid
  // category goes left, which category_words = 0 expresses.
  return out;
}

json ParseDocument(std::string_view bytes) {
  size_t start = 0;
  while (start < bytes.size() && std::isspace(static_cast<unsigned char>(bytes[start]))) ++start;
  if (start == bytes.size()) Malformed("the file is empty");
  if (bytes[start] != '{')
    Unsupported(
        "the file is not JSON or UBJSON; it looks like XGBoost's legacy binary format "
        "(xgboost < 2.1 writing '.xgb' or '.bst'), which Slipway does not read: save the "
        "model as JSON or UBJSON");
  try {
    // UBJSON's object marker is '{' too; in JSON a quote (or '}') follows
    // it, in UBJSON the type marker of a key's length.
    size_t next = start + 1;
    while (next < bytes.size() && std::isspace(static_cast<unsigned char>(bytes[next]))) ++next;
    const bool text = next < bytes.size() && (bytes[next] == '"' || bytes[next] == '}');
    // nlohmann reads UBJSON's optimized (typed, counted) arrays, which is
    // all XGBoost writes beyond plain values.
    if (text) return json::parse(bytes.begin() + static_cast<std::ptrdiff_t>(start), bytes.end());
    return json::from_ubjson(bytes.begin() + static_cast<std::ptrdiff_t>(start), bytes.end());
  } catch (const json::exception& e) {
    Malformed(std::string("cannot parse: ") + e.what());
  }
}

}  // namespace

XGBoostModel ParseXGBoostModel(std::string_view bytes, std::string_view model_class) {
  const json doc = ParseDocument(bytes);
  const json& learner = Member(doc, "learner", "the model");
  const json& model_param = Member(learner, "learner_model_param", "learner");
  const json& objective_json = Member(learner, "objective", "learner");
  const std::string objective_name = Param(objective_json, "name", "");
  const Objective objective = ObjectiveFor(objective_name);

  const auto num_feature = static_cast<size_t>(Integer(
      Member(model_param, "num_feature", "learner_model_param"), "num_feature", 0, 1 << 30));
  const auto num_class = static_cast<size_t>(
      Integer(json(Param(model_param, "num_class", "0")), "num_class", 0, 1 << 20));
  if (Integer(json(Param(model_param, "num_target", "1")), "num_target", 0, 1 << 20) > 1)
    Unsupported("multi-target models");
  const size_t num_outputs = std::max<size_t>(1, num_class);

  // gbtree, or dart whose trees sit in `gbtree` with a weight each.
  const json& booster = Member(learner, "gradient_booster", "learner");
  const std::string booster_name = Param(booster, "name", "");
  const json* gbtree = &booster;
  std::vector<float> weights;
  if (booster_name == "dart") {
    gbtree = &Member(booster, "gbtree", "dart booster");
    for (const json& w : Array(booster, "weight_drop", "dart booster"))
      weights.push_back(static_cast<float>(Number(w, "weight_drop")));
  } else if (booster_name != "gbtree") {
    Unsupported("booster '" + booster_name + "' (only gbtree and dart are)");
  }
  const json& model = Member(*gbtree, "model", "gradient_booster");
  const json& trees = Array(model, "trees", "gradient_booster.model");
  const json& tree_info = Array(model, "tree_info", "gradient_booster.model");
  if (tree_info.size() != trees.size()) Malformed("tree_info and trees differ in length");
  if (!weights.empty() && weights.size() != trees.size())
    Malformed("weight_drop and trees differ in length");
  const json& tree_param = Member(model, "gbtree_model_param", "gradient_booster.model");
  const auto parallel = static_cast<size_t>(
      Integer(json(Param(tree_param, "num_parallel_tree", "1")), "num_parallel_tree", 1, 1 << 20));

  // The scikit-learn wrappers predict with the trees up to best_iteration
  // (XGBModel._get_iteration_range); a Booster's predict uses all of them.
  const bool sklearn = model_class.find("xgboost.sklearn.") == 0;
  size_t tree_count = trees.size();
  const json* attributes = learner.contains("attributes") ? &learner["attributes"] : nullptr;
  if (sklearn && attributes != nullptr && attributes->is_object() &&
      attributes->contains("best_iteration")) {
    const auto best =
        static_cast<size_t>(Integer((*attributes)["best_iteration"], "best_iteration", 0, 1 << 30));
    const json* indptr = model.contains("iteration_indptr") ? &model["iteration_indptr"] : nullptr;
    if (indptr != nullptr && indptr->is_array() && best + 1 < indptr->size())
      tree_count = static_cast<size_t>(
          Integer((*indptr)[best + 1], "iteration_indptr", 0, static_cast<int64_t>(trees.size())));
    else
      tree_count = std::min(trees.size(), (best + 1) * parallel * num_outputs);
  }

  TreeEnsembleSpec spec;
  spec.semantics = TreeSemantics::kXGBoost;
  spec.num_features = num_feature;
  spec.num_outputs = num_outputs;
  spec.transform = objective.transform;
  for (float base : BaseScores(Param(model_param, "base_score", "0.5")))
    spec.base_margin.push_back(static_cast<double>(Margin(base, objective.link)));
  spec.trees.reserve(tree_count);
  for (size_t t = 0; t < tree_count; ++t) {
    TreeSpec tree = ParseTree(trees[t], t, weights.empty() ? 1.0f : weights[t], spec);
    tree.output = static_cast<uint32_t>(
        Integer(tree_info[t], "tree_info", 0, static_cast<int64_t>(num_outputs) - 1));
    spec.trees.push_back(std::move(tree));
  }

  XGBoostModel out;
  out.options.flavor = "xgboost";
  if (learner.contains("feature_names") && learner["feature_names"].is_array()) {
    for (const json& name : learner["feature_names"]) {
      if (!name.is_string()) Malformed("a feature name is not a string");
      out.options.feature_names.push_back(name.get<std::string>());
    }
    if (!out.options.feature_names.empty() && out.options.feature_names.size() != num_feature)
      Malformed("feature_names has " + std::to_string(out.options.feature_names.size()) +
                " names for " + std::to_string(num_feature) + " features");
  }
  out.options.category_names =
      CategoryNames(model.contains("cats") ? model["cats"] : json(), num_feature);

  if (model_class.empty() || model_class == "xgboost.core.Booster" ||
      model_class == "xgboost.sklearn.XGBRegressor" ||
      model_class == "xgboost.sklearn.XGBRFRegressor" ||
      model_class == "xgboost.sklearn.XGBRanker") {
    out.options.output = TreeOutput::kScores;
  } else if (model_class == "xgboost.sklearn.XGBClassifier" ||
             model_class == "xgboost.sklearn.XGBRFClassifier") {
    // XGBClassifier.predict: argmax of the class probabilities, the class of
    // multi:softmax, else 1 where the (transformed) score is > 0.5.
    if (objective.transform == OutputTransform::kSoftmaxLabel)
      out.options.output = TreeOutput::kIntLabel;
    else if (num_outputs > 2)
      out.options.output = TreeOutput::kArgmaxLabel;
    else if (num_outputs == 1)
      out.options.output = TreeOutput::kBinaryLabel;
    else
      Unsupported("a two-output classifier");
  } else {
    Unsupported("model_class '" + std::string(model_class) + "'");
  }
  out.ensemble = TreeEnsemble::Create(std::move(spec));
  return out;
}

std::unique_ptr<Model> LoadXGBoostFlavor(const MlModel& mlmodel) {
  const nlohmann::json& flavor = *mlmodel.Flavor("xgboost");
  const std::string model_class =
      flavor.is_object() && flavor.contains("model_class") && flavor["model_class"].is_string()
          ? flavor["model_class"].get<std::string>()
          : "xgboost.core.Booster";
  if (flavor.is_object() && flavor.contains("code") && !flavor["code"].is_null())
    Unsupported("the model brings its own code");
  const auto path = mlmodel.FlavorFile("xgboost");
  std::ifstream in(path, std::ios::binary);
  if (!in) ThrowInvalid("cannot read the XGBoost model file " + path.filename().string());
  std::ostringstream bytes;
  bytes << in.rdbuf();
  XGBoostModel parsed = ParseXGBoostModel(bytes.str(), model_class);
  return MakeTreeModel(mlmodel, std::move(parsed.ensemble), std::move(parsed.options));
}

}  // namespace slipway::ml
