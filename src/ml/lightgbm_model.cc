#include "ml/lightgbm_model.h"

#include <charconv>
#include <cmath>
#include <fstream>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "core/error.h"

namespace slipway::ml {

namespace {

[[noreturn]] void Unsupported(const std::string& why) {
  throw Error(ErrorCode::kNotImplemented, "LightGBM model not evaluated natively: " + why);
}

[[noreturn]] void Malformed(const std::string& why) {
  ThrowInvalid("malformed LightGBM model: " + why);
}

using Section = std::map<std::string, std::string, std::less<>>;

std::vector<std::string_view> Split(std::string_view text, char sep) {
  std::vector<std::string_view> out;
  size_t start = 0;
  while (start <= text.size()) {
    size_t end = text.find(sep, start);
    if (end == std::string_view::npos) end = text.size();
    if (end > start) out.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

// LightGBM writes doubles with 17 significant digits; strtod reads them back
// exactly (from_chars for doubles needs a newer libstdc++ than Debian's).
double ParseDouble(std::string_view token, const std::string& what) {
  std::string copy(token);
  char* end = nullptr;
  const double v = std::strtod(copy.c_str(), &end);
  if (copy.empty() || end != copy.c_str() + copy.size())
    Malformed(what + ": '" + copy + "' is not a number");
  return v;
}

int64_t ParseInt(std::string_view token, const std::string& what) {
  int64_t v = 0;
  auto [ptr, ec] = std::from_chars(token.data(), token.data() + token.size(), v);
  if (ec != std::errc() || ptr != token.data() + token.size())
    Malformed(what + ": '" + std::string(token) + "' is not an integer");
  return v;
}

const std::string& Field(const Section& s, std::string_view key, const std::string& where) {
  auto it = s.find(key);
  if (it == s.end()) Malformed(where + " has no " + std::string(key));
  return it->second;
}

std::vector<double> Doubles(const Section& s, std::string_view key, size_t count,
                            const std::string& where) {
  std::vector<double> out;
  for (auto token : Split(Field(s, key, where), ' '))
    out.push_back(ParseDouble(token, where + " " + std::string(key)));
  if (out.size() != count)
    Malformed(where + " " + std::string(key) + " has " + std::to_string(out.size()) +
              " values, expected " + std::to_string(count));
  return out;
}

std::vector<int64_t> Ints(const Section& s, std::string_view key, size_t count,
                          const std::string& where) {
  std::vector<int64_t> out;
  for (auto token : Split(Field(s, key, where), ' '))
    out.push_back(ParseInt(token, where + " " + std::string(key)));
  if (count != std::numeric_limits<size_t>::max() && out.size() != count)
    Malformed(where + " " + std::string(key) + " has " + std::to_string(out.size()) +
              " values, expected " + std::to_string(count));
  return out;
}

// One "Tree=" block (LightGBM's Tree::Tree(const char*)): internal nodes
// 0..L-2 then the L leaves; a negative child ~j is leaf j.
TreeSpec ParseTree(const Section& s, size_t index, size_t num_features, TreeEnsembleSpec& spec) {
  const std::string where = "tree " + std::to_string(index);
  auto linear = s.find("is_linear");
  if (linear != s.end() && linear->second != "0") Unsupported("linear trees");
  const int64_t leaves = ParseInt(Field(s, "num_leaves", where), where + " num_leaves");
  if (leaves < 1 || leaves > (1 << 24)) Malformed(where + ": num_leaves out of range");
  const auto L = static_cast<size_t>(leaves);
  const std::vector<double> leaf_value = Doubles(s, "leaf_value", L, where);
  TreeSpec tree;
  if (L == 1) {
    tree.nodes.push_back({.leaf = true, .value = leaf_value[0]});
    return tree;
  }
  const size_t inner = L - 1;
  const auto feature = Ints(s, "split_feature", inner, where);
  const auto threshold = Doubles(s, "threshold", inner, where);
  const auto decision = Ints(s, "decision_type", inner, where);
  const auto left = Ints(s, "left_child", inner, where);
  const auto right = Ints(s, "right_child", inner, where);
  const int64_t num_cat = s.count("num_cat") ? ParseInt(s.at("num_cat"), where + " num_cat") : 0;
  std::vector<int64_t> boundaries, words;
  uint32_t bits_base = static_cast<uint32_t>(spec.category_bits.size());
  if (num_cat < 0) Malformed(where + ": num_cat is negative");
  if (num_cat > 0) {
    boundaries = Ints(s, "cat_boundaries", static_cast<size_t>(num_cat) + 1, where);
    words = Ints(s, "cat_threshold", std::numeric_limits<size_t>::max(), where);
    for (size_t i = 0; i < boundaries.size(); ++i)
      if (boundaries[i] < (i ? boundaries[i - 1] : 0) ||
          boundaries[i] > static_cast<int64_t>(words.size()))
        Malformed(where + ": cat_boundaries out of range");
    for (int64_t w : words) {
      if (w < 0 || w > std::numeric_limits<uint32_t>::max())
        Malformed(where + ": cat_threshold out of range");
      spec.category_bits.push_back(static_cast<uint32_t>(w));
    }
  }
  auto child = [&](int64_t c) -> int32_t {
    if (c >= 0) {
      if (c >= static_cast<int64_t>(inner))
        Malformed(where + ": child " + std::to_string(c) + " out of range");
      return static_cast<int32_t>(c);
    }
    const int64_t leaf = ~c;
    if (leaf >= static_cast<int64_t>(L))
      Malformed(where + ": leaf " + std::to_string(leaf) + " out of range");
    return static_cast<int32_t>(inner + static_cast<size_t>(leaf));
  };
  tree.nodes.resize(inner + L);
  for (size_t i = 0; i < inner; ++i) {
    TreeSpecNode& n = tree.nodes[i];
    if (feature[i] < 0 || feature[i] >= static_cast<int64_t>(num_features))
      Malformed(where + ": split_feature " + std::to_string(feature[i]) + " out of range");
    n.feature = static_cast<int32_t>(feature[i]);
    n.left = child(left[i]);
    n.right = child(right[i]);
    const int64_t d = decision[i];
    if (d < 0 || d > 255) Malformed(where + ": decision_type out of range");
    if (d & 2) n.flags |= TreeSpecNode::kDefaultLeft;
    const int64_t missing = (d >> 2) & 3;
    if (missing == 1) n.flags |= TreeSpecNode::kMissingZero;
    if (missing == 2) n.flags |= TreeSpecNode::kMissingNaN;
    if (d & 1) {
      n.flags |= TreeSpecNode::kCategorical;
      const double cat = threshold[i];
      if (!(cat >= 0 && cat < static_cast<double>(num_cat)) || cat != std::floor(cat))
        Malformed(where + ": categorical split " + std::to_string(i) + " has no category set");
      const auto c = static_cast<size_t>(cat);
      n.category_begin = bits_base + static_cast<uint32_t>(boundaries[c]);
      n.category_words = static_cast<uint32_t>(boundaries[c + 1] - boundaries[c]);
      n.value = 0;
    } else {
      n.value = threshold[i];
    }
  }
  for (size_t j = 0; j < L; ++j) {
    tree.nodes[inner + j].leaf = true;
    tree.nodes[inner + j].value = leaf_value[j];
  }
  return tree;
}

void SetObjective(std::string_view line, TreeEnsembleSpec& spec) {
  const auto tokens = Split(line, ' ');
  if (tokens.empty()) return;  // a custom objective: raw scores
  const std::string name(tokens[0]);
  double sigmoid = 1.0;
  bool sqrt = false;
  for (size_t i = 1; i < tokens.size(); ++i) {
    if (tokens[i].substr(0, 8) == "sigmoid:") sigmoid = ParseDouble(tokens[i].substr(8), "sigmoid");
    if (tokens[i] == "sqrt") sqrt = true;
  }
  using T = OutputTransform;
  if (name == "regression" || name == "regression_l1" || name == "huber" || name == "fair" ||
      name == "quantile" || name == "mape" || name == "lambdarank" || name == "rank_xendcg" ||
      name == "custom") {
    spec.transform = sqrt ? T::kSignedSquare : T::kIdentity;
  } else if (name == "binary" || name == "multiclassova") {
    spec.transform = T::kSigmoid;
    spec.sigmoid_scale = sigmoid;
  } else if (name == "cross_entropy") {
    spec.transform = T::kSigmoid;
  } else if (name == "multiclass") {
    spec.transform = T::kSoftmax;
  } else if (name == "poisson" || name == "gamma" || name == "tweedie") {
    spec.transform = T::kExp;
  } else {
    Unsupported("objective '" + name + "'");
  }
}

}  // namespace

LightGBMModel ParseLightGBMModel(std::string_view text) {
  if (text.substr(0, 4) != "tree") Malformed("it does not start with 'tree'");
  Section header;
  std::vector<Section> trees;
  Section* current = &header;
  std::string_view pandas_categorical;
  bool ended = false;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(pos, end - pos);
    pos = end + 1;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line == "end of trees") {
      ended = true;
      current = nullptr;
      continue;
    }
    if (line.substr(0, 19) == "pandas_categorical:") pandas_categorical = line.substr(19);
    if (current == nullptr || line.empty()) continue;
    if (line.substr(0, 5) == "Tree=") {
      trees.emplace_back();
      current = &trees.back();
      continue;
    }
    const size_t eq = line.find('=');
    if (eq == std::string_view::npos)
      (*current)[std::string(line)] = "";  // a flag such as average_output
    else
      (*current)[std::string(line.substr(0, eq))] = std::string(line.substr(eq + 1));
  }
  if (!ended) Malformed("it has no 'end of trees' (the file is truncated)");

  TreeEnsembleSpec spec;
  spec.semantics = TreeSemantics::kLightGBM;
  const int64_t max_feature =
      ParseInt(Field(header, "max_feature_idx", "the header"), "max_feature_idx");
  if (max_feature < 0 || max_feature >= (1 << 30)) Malformed("max_feature_idx out of range");
  spec.num_features = static_cast<size_t>(max_feature) + 1;
  const int64_t per_iteration =
      ParseInt(Field(header, "num_tree_per_iteration", "the header"), "num_tree_per_iteration");
  if (per_iteration < 1 || per_iteration > (1 << 20))
    Malformed("num_tree_per_iteration out of range");
  spec.num_outputs = static_cast<size_t>(per_iteration);
  spec.average_output = header.count("average_output") > 0;
  auto objective = header.find("objective");
  SetObjective(objective == header.end() ? "" : objective->second, spec);
  if (spec.transform == OutputTransform::kSoftmax && spec.num_outputs < 2)
    Malformed("multiclass with one tree per iteration");
  for (size_t t = 0; t < trees.size(); ++t) {
    TreeSpec tree = ParseTree(trees[t], t, spec.num_features, spec);
    tree.output = static_cast<uint32_t>(t % spec.num_outputs);
    spec.trees.push_back(std::move(tree));
  }
  if (spec.trees.size() % spec.num_outputs != 0)
    Malformed(std::to_string(spec.trees.size()) + " trees for " + std::to_string(spec.num_outputs) +
              " per iteration");

  LightGBMModel out;
  out.options.flavor = "lightgbm";
  std::vector<std::string_view> infos;
  if (auto names = header.find("feature_names"); names != header.end())
    for (auto name : Split(names->second, ' ')) out.options.feature_names.emplace_back(name);
  if (out.options.feature_names.size() != spec.num_features)
    Malformed("feature_names does not name every feature");
  if (auto it = header.find("feature_infos"); it != header.end()) infos = Split(it->second, ' ');

  // Booster.predict on a DataFrame maps its pandas category columns through
  // the categories stored at training (pandas_categorical, one list per
  // category column, in column order); an unknown category becomes NaN.
  if (!pandas_categorical.empty() && pandas_categorical != "[]" && pandas_categorical != "null") {
    nlohmann::json lists;
    try {
      lists = nlohmann::json::parse(pandas_categorical);
    } catch (const nlohmann::json::exception&) {
      Malformed("pandas_categorical is not JSON");
    }
    std::vector<size_t> categorical;
    for (size_t f = 0; f < infos.size(); ++f)
      if (!infos[f].empty() && infos[f][0] != '[' && infos[f] != "none") categorical.push_back(f);
    if (!lists.is_array() || lists.size() != categorical.size())
      Unsupported("pandas categories that do not line up with the categorical features");
    out.options.category_names.resize(spec.num_features);
    for (size_t i = 0; i < categorical.size(); ++i) {
      if (!lists[i].is_array()) Malformed("pandas_categorical holds a non-list");
      for (const auto& v : lists[i])
        out.options.category_names[categorical[i]].push_back(v.is_string() ? v.get<std::string>()
                                                                           : v.dump());
    }
    out.options.unknown_category_is_missing = true;
  }
  out.options.output = TreeOutput::kScores;
  out.ensemble = TreeEnsemble::Create(std::move(spec));
  return out;
}

std::unique_ptr<Model> LoadLightGBMFlavor(const MlModel& mlmodel) {
  const nlohmann::json& flavor = *mlmodel.Flavor("lightgbm");
  std::string model_class = "lightgbm.basic.Booster";
  if (flavor.is_object() && flavor.contains("model_class") && flavor["model_class"].is_string())
    model_class = flavor["model_class"].get<std::string>();
  if (model_class != "lightgbm.basic.Booster")
    Unsupported("model_class '" + model_class + "' is saved pickled; it runs through Python");
  if (flavor.is_object() && flavor.contains("code") && !flavor["code"].is_null())
    Unsupported("the model brings its own code");
  const auto path = mlmodel.FlavorFile("lightgbm");
  std::ifstream in(path, std::ios::binary);
  if (!in) ThrowInvalid("cannot read the LightGBM model file " + path.filename().string());
  std::ostringstream bytes;
  bytes << in.rdbuf();
  LightGBMModel parsed = ParseLightGBMModel(bytes.str());
  return MakeTreeModel(mlmodel, std::move(parsed.ensemble), std::move(parsed.options));
}

}  // namespace slipway::ml
