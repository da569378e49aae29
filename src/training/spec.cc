#include "training/spec.h"

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <optional>
#include <set>

#include "core/error.h"
#include "data/dataset_service.h"
#include "data/yaml_reader.h"
#include "training/fairness.h"
#include "training/robustness.h"

namespace slipway::training {
namespace {

using data::YamlEntry;
using data::YamlReader;

// What a model accepts as a parameter: its kind and range. The ranges are
// the libraries' own (XGBoost's documented parameter bounds).
struct ParamInfo {
  std::string_view name;
  enum class Kind { kInt, kReal, kText } kind;
  double min = 0;
  double max = std::numeric_limits<double>::infinity();
  bool min_open = false;  // (min, ...] rather than [min, ...]
  std::vector<std::string_view> texts = {};
};

using K = ParamInfo::Kind;
constexpr double kInf = std::numeric_limits<double>::infinity();

const std::vector<ParamInfo>& XgboostParams() {
  static const std::vector<ParamInfo> params = {
      {"num_boost_round", K::kInt, 1, 100000},
      {"early_stopping_rounds", K::kInt, 1, 100000},
      {"max_depth", K::kInt, 0, 64},
      {"max_leaves", K::kInt, 0, 1 << 20},
      {"max_bin", K::kInt, 2, 65536},
      {"eta", K::kReal, 0, 1, true},
      {"min_child_weight", K::kReal, 0, kInf},
      {"gamma", K::kReal, 0, kInf},
      {"max_delta_step", K::kReal, 0, kInf},
      {"subsample", K::kReal, 0, 1, true},
      {"colsample_bytree", K::kReal, 0, 1, true},
      {"colsample_bylevel", K::kReal, 0, 1, true},
      {"colsample_bynode", K::kReal, 0, 1, true},
      {"lambda", K::kReal, 0, kInf},
      {"alpha", K::kReal, 0, kInf},
      {"scale_pos_weight", K::kReal, 0, kInf, true},
      {"tree_method", K::kText, 0, 0, false, {"hist", "approx", "exact"}},
      {"grow_policy", K::kText, 0, 0, false, {"depthwise", "lossguide"}},
  };
  return params;
}

const std::vector<ParamInfo>& LinearParams() {
  static const std::vector<ParamInfo> params = {
      {"l2", K::kReal, 0, kInf},
      {"l1", K::kReal, 0, kInf},
      {"max_iter", K::kInt, 1, 1000000},
      {"tol", K::kReal, 0, 1, true},
  };
  return params;
}

const std::vector<ParamInfo>& ParamsOf(ModelType type) {
  return type == ModelType::kXgboost ? XgboostParams() : LinearParams();
}

const ParamInfo* FindParam(ModelType type, std::string_view name) {
  for (const ParamInfo& p : ParamsOf(type))
    if (p.name == name) return &p;
  return nullptr;
}

std::vector<std::string_view> ParamNames(ModelType type) {
  std::vector<std::string_view> names;
  for (const ParamInfo& p : ParamsOf(type)) names.push_back(p.name);
  return names;
}

std::string Number(double value) {
  if (value == kInf) return "infinity";
  std::string text = std::to_string(value);
  text.erase(text.find_last_not_of('0') + 1);
  if (!text.empty() && text.back() == '.') text.pop_back();
  return text;
}

// The range a parameter accepts, for messages: "[0, 64]", "(0, 1]", ">= 0".
std::string RangeText(const ParamInfo& p) {
  if (p.kind == K::kText) {
    std::string out = "one of: ";
    for (size_t i = 0; i < p.texts.size(); ++i) out += (i ? ", " : "") + std::string(p.texts[i]);
    return out;
  }
  if (p.max == kInf) return std::string(p.min_open ? "> " : ">= ") + Number(p.min);
  return std::string(p.min_open ? "(" : "[") + Number(p.min) + ", " + Number(p.max) + "]";
}

bool InRange(const ParamInfo& p, double v) {
  if (std::isnan(v) || v > p.max) return false;
  if (p.min_open ? v <= p.min : v < p.min) return false;
  return p.kind != K::kInt || std::floor(v) == v;
}

struct MetricInfo {
  std::string_view name;
  bool greater_is_better;
  bool binary, multiclass, regression;
};

constexpr MetricInfo kMetrics[] = {
    {"roc_auc", true, true, false, false},
    {"pr_auc", true, true, false, false},
    {"accuracy", true, true, true, false},
    {"f1", true, true, false, false},
    {"f1_macro", true, true, true, false},
    {"precision", true, true, false, false},
    {"recall", true, true, false, false},
    {"log_loss", false, true, true, false},
    {"brier", false, true, false, false},
    {"rmse", false, false, false, true},
    {"mae", false, false, false, true},
    {"r2", true, false, false, true},
    {"mape", false, false, false, true},
    // From the evaluation's curves (metrics.h): calibration and one-vs-rest AUC.
    {"calibration_error", false, true, false, false},
    {"roc_auc_ovr", true, false, true, false},
};

const MetricInfo* FindMetric(std::string_view name) {
  for (const MetricInfo& m : kMetrics)
    if (m.name == name) return &m;
  return nullptr;
}

std::string MetricsOf(Task task) {
  std::string out;
  for (const MetricInfo& m : kMetrics) {
    if (!IsMetricOf(task, m.name)) continue;
    if (!out.empty()) out += ", ";
    out += m.name;
  }
  return out;
}

// Sets "a.b.c" = `value` (read as YAML) in `root`, making mappings on the way.
void Override(YAML::Node& root, const std::string& setting) {
  const size_t eq = setting.find('=');
  if (eq == std::string::npos || eq == 0) {
    ThrowInvalid("--set " + setting + ": expected key.path=value, e.g. model.params.max_depth=4");
  }
  std::vector<std::string> keys;
  std::string_view path(setting.data(), eq);
  for (size_t start = 0;;) {
    const size_t dot = path.find('.', start);
    keys.emplace_back(path.substr(start, dot - start));
    if (keys.back().empty()) ThrowInvalid("--set " + setting + ": an empty key in the path");
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  YAML::Node value;
  try {
    value = YAML::Load(setting.substr(eq + 1));
  } catch (const YAML::ParserException& e) {
    ThrowInvalid("--set " + setting + ": the value is not valid YAML: " + e.msg);
  }
  if (!root.IsMap() && !root.IsNull())
    ThrowInvalid("--set " + setting + ": the spec is no mapping");
  // yaml-cpp's operator[] on a node of a const-free chain makes missing maps.
  std::vector<YAML::Node> chain{root};
  for (size_t i = 0; i + 1 < keys.size(); ++i) {
    YAML::Node next = chain.back()[keys[i]];
    if (!next.IsMap()) {
      if (next.IsDefined() && !next.IsNull()) {
        ThrowInvalid("--set " + setting + ": '" + keys[i] + "' is not a mapping in the spec");
      }
      next = YAML::Node(YAML::NodeType::Map);
      chain.back()[keys[i]] = next;
      next = chain.back()[keys[i]];
    }
    chain.push_back(next);
  }
  chain.back()[keys.back()] = value;
}

class SpecParser {
 public:
  explicit SpecParser(const std::string& source) : yaml_(source) { spec_.source = source; }

  TrainingSpec Parse(std::string_view text, const std::vector<std::string>& overrides) {
    YAML::Node root = yaml_.Load(text);
    for (const std::string& setting : overrides) Override(root, setting);
    if (root.IsNull() || !root.IsDefined()) {
      yaml_.Fail(YAML::Mark(), "", "the spec is empty; it needs at least data and target");
    }
    const std::vector<YamlEntry> entries = yaml_.Entries(root, "", root.Mark());
    // The model first: parameters and the search space are checked against it,
    // and the task: the metric and gates are checked against it.
    for (const YamlEntry& e : entries) {
      if (e.key == "task") spec_.task = TaskOf(e);
      if (e.key == "model") Model(e);
    }
    constexpr std::string_view kKeys[] = {
        "data", "target",  "features", "exclude", "task",     "preprocessing", "model", "search",
        "cv",   "holdout", "metric",   "seed",    "fairness", "robustness",    "gates", "register"};
    bool has_data = false, has_target = false;
    // Gates last: they may name the metrics of fairness and robustness.
    std::optional<YamlEntry> gates;
    for (const YamlEntry& e : entries) {
      if (e.key == "data") {
        spec_.data = NamedText(e);
        Checked(e, [&] { data::ParseDatasetRef(spec_.data.name); });
        has_data = true;
      } else if (e.key == "target") {
        spec_.target = NamedText(e);
        has_target = true;
      } else if (e.key == "features") {
        spec_.features = Names(e);
      } else if (e.key == "exclude") {
        spec_.exclude = Names(e);
      } else if (e.key == "fairness") {
        FairnessOf(e);
      } else if (e.key == "robustness") {
        RobustnessOf(e);
      } else if (e.key == "preprocessing") {
        PreprocessingOf(e);
      } else if (e.key == "search") {
        SearchOf(e);
      } else if (e.key == "cv") {
        CvOf(e);
      } else if (e.key == "holdout") {
        spec_.holdout = yaml_.Number(e);
        if (!(spec_.holdout > 0 && spec_.holdout < 1)) {
          yaml_.Fail(e, "expected a share of the rows in (0, 1), got " + Number(spec_.holdout));
        }
      } else if (e.key == "metric") {
        spec_.metric = MetricOf(e);
      } else if (e.key == "seed") {
        spec_.seed = static_cast<uint64_t>(yaml_.Count(e));
      } else if (e.key == "gates") {
        gates = e;
      } else if (e.key == "register") {
        RegisterOf(e);
      } else if (e.key != "task" && e.key != "model") {
        yaml_.UnknownKey(e, kKeys);
      }
    }
    if (!has_data)
      yaml_.Fail(root.Mark(), "", "missing key 'data': the dataset version, e.g. churn@2");
    if (!has_target) yaml_.Fail(root.Mark(), "", "missing key 'target': the column to predict");
    if (gates) GatesOf(*gates);
    if (spec_.metric.empty()) spec_.metric = DefaultMetric(spec_.task);
    if (spec_.task == Task::kRegression && spec_.cv.scheme == CvScheme::kStratified) {
      yaml_.Fail(cv_mark_, "cv.scheme", "stratified folds need classes; a regression uses kfold");
    }
    if (spec_.model == ModelType::kLogistic && spec_.task == Task::kRegression) {
      yaml_.Fail(model_mark_, "model.type",
                 "logistic regression is for classification; use linear");
    }
    if (spec_.model == ModelType::kLinear && spec_.task != Task::kRegression) {
      yaml_.Fail(model_mark_, "model.type", "linear is for regression; use logistic for classes");
    }
    if (spec_.robustness && spec_.robustness->missing && spec_.model != ModelType::kXgboost &&
        spec_.preprocessing.numeric == NumericImputation::kNone) {
      yaml_.Fail(robustness_mark_, "robustness.missing",
                 "each feature set missing reaches a " + std::string(ModelTypeName(spec_.model)) +
                     " model as is with impute.numeric: none, and it cannot take missing values; "
                     "impute with median or mean, or set missing: false");
    }
    return std::move(spec_);
  }

 private:
  template <class F>
  void Checked(const YamlEntry& e, F&& check) const {
    try {
      check();
    } catch (const Error& error) {
      yaml_.Fail(e, error.what());
    }
  }

  static Position PositionOf(const YAML::Mark& mark) {
    return mark.line < 0 ? Position{} : Position{mark.line + 1, mark.column + 1};
  }

  Named NamedText(const YamlEntry& e) const { return {yaml_.Text(e), PositionOf(e.Mark())}; }

  std::vector<Named> Names(const YamlEntry& e) const {
    std::vector<Named> out;
    const std::vector<std::string> names = yaml_.TextList(e);
    for (size_t i = 0; i < names.size(); ++i) {
      const YAML::Mark mark = e.value.IsSequence() ? e.value[i].Mark() : e.Mark();
      out.push_back({names[i], PositionOf(mark)});
    }
    return out;
  }

  // One of `words` (the enum's names, in its order).
  size_t Choice(const YamlEntry& e, std::initializer_list<std::string_view> words) const {
    if (YamlReader::Plain(e.value)) {
      size_t i = 0;
      for (std::string_view word : words) {
        if (e.value.Scalar() == word) return i;
        ++i;
      }
    }
    yaml_.Fail(e, "expected one of: " + YamlReader::KeyList({words.begin(), words.size()}) +
                      "; got " + YamlReader::Describe(e.value));
  }

  Task TaskOf(const YamlEntry& e) const {
    return static_cast<Task>(Choice(e, {"binary", "multiclass", "regression"}));
  }

  void Model(const YamlEntry& model) {
    model_mark_ = model.Mark();
    constexpr std::string_view kKeys[] = {"type", "params"};
    const std::vector<YamlEntry> entries = yaml_.Entries(model);
    for (const YamlEntry& e : entries) {
      if (e.key == "type") {
        spec_.model = static_cast<ModelType>(Choice(e, {"xgboost", "linear", "logistic"}));
      } else if (e.key != "params") {
        yaml_.UnknownKey(e, kKeys);
      }
    }
    for (const YamlEntry& e : entries) {
      if (e.key != "params") continue;
      for (const YamlEntry& p : yaml_.Entries(e)) spec_.params[p.key] = ParamOf(p);
    }
  }

  const ParamInfo& KnownParam(const YamlEntry& e, const std::string& name) const {
    const ParamInfo* info = FindParam(spec_.model, name);
    if (info == nullptr) {
      const std::vector<std::string_view> names = ParamNames(spec_.model);
      yaml_.Fail(e.key_node.Mark(), e.path,
                 "unknown parameter '" + name + "' for " + std::string(ModelTypeName(spec_.model)) +
                     "; expected one of: " + YamlReader::KeyList(names));
    }
    return *info;
  }

  // A value of parameter `info`, written at `node`.
  ParamValue ValueOf(const ParamInfo& info, const YAML::Node& node, const YAML::Mark& mark,
                     const std::string& path) const {
    if (info.kind == K::kText) {
      if (YamlReader::Plain(node) || node.IsScalar()) {
        for (std::string_view word : info.texts)
          if (node.Scalar() == word) return std::string(word);
      }
      yaml_.Fail(mark, path, "expected " + RangeText(info) + "; got " + YamlReader::Describe(node));
    }
    YamlEntry e{"", path, node, node};
    const double value = yaml_.Number(e);
    if (!InRange(info, value)) {
      yaml_.Fail(
          mark, path,
          std::string(info.kind == K::kInt ? "expected an integer in " : "expected a number in ") +
              RangeText(info) + "; got " + Number(value));
    }
    return value;
  }

  ParamValue ParamOf(const YamlEntry& e) const {
    return ValueOf(KnownParam(e, e.key), e.value, e.Mark(), e.path);
  }

  void PreprocessingOf(const YamlEntry& pre) {
    constexpr std::string_view kKeys[] = {"impute", "categorical", "scale"};
    for (const YamlEntry& e : yaml_.Entries(pre)) {
      if (e.key == "impute") {
        constexpr std::string_view kImpute[] = {"numeric", "categorical"};
        for (const YamlEntry& i : yaml_.Entries(e)) {
          if (i.key == "numeric") {
            spec_.preprocessing.numeric =
                static_cast<NumericImputation>(Choice(i, {"median", "mean", "none"}));
          } else if (i.key == "categorical") {
            spec_.preprocessing.categorical_missing = static_cast<CategoricalImputation>(
                Choice(i, {"most_frequent", "missing_category"}));
          } else {
            yaml_.UnknownKey(i, kImpute);
          }
        }
      } else if (e.key == "categorical") {
        spec_.preprocessing.categorical =
            static_cast<CategoricalEncoding>(Choice(e, {"onehot", "native"}));
      } else if (e.key == "scale") {
        spec_.preprocessing.scale = static_cast<Scaling>(Choice(e, {"none", "standard", "minmax"}));
      } else {
        yaml_.UnknownKey(e, kKeys);
      }
    }
    if (spec_.preprocessing.categorical == CategoricalEncoding::kNative &&
        spec_.model != ModelType::kXgboost) {
      yaml_.Fail(pre.Mark(), pre.path + ".categorical",
                 "native categorical handling is XGBoost's; linear models need onehot");
    }
  }

  void SearchOf(const YamlEntry& search) {
    constexpr std::string_view kKeys[] = {"algorithm", "trials", "space"};
    bool has_algorithm = false;
    for (const YamlEntry& e : yaml_.Entries(search)) {
      if (e.key == "algorithm") {
        spec_.search.algorithm =
            static_cast<SearchAlgorithm>(1 + Choice(e, {"random", "tpe", "halving"}));
        has_algorithm = true;
      } else if (e.key == "trials") {
        spec_.search.trials = yaml_.Count(e);
        if (spec_.search.trials < 1) yaml_.Fail(e, "expected at least 1 trial");
      } else if (e.key == "space") {
        for (const YamlEntry& d : yaml_.Entries(e)) spec_.search.space.push_back(DimensionOf(d));
      } else {
        yaml_.UnknownKey(e, kKeys);
      }
    }
    if (!has_algorithm) spec_.search.algorithm = SearchAlgorithm::kTpe;
    if (spec_.search.space.empty()) {
      yaml_.Fail(search.Mark(), search.path + ".space",
                 "a search needs a space: at least one parameter to vary");
    }
  }

  SearchDimension DimensionOf(const YamlEntry& d) const {
    const ParamInfo& info = KnownParam(d, d.key);
    if (spec_.params.count(d.key)) {
      yaml_.Fail(d.key_node.Mark(), d.path,
                 "'" + d.key + "' is both fixed in model.params and searched; keep one");
    }
    SearchDimension dim;
    dim.name = d.key;
    dim.at = PositionOf(d.key_node.Mark());
    const std::vector<YamlEntry> kinds = yaml_.Entries(d);
    constexpr std::string_view kKinds[] = {"int", "uniform", "log_uniform", "choice"};
    if (kinds.size() != 1) {
      yaml_.Fail(d, "expected one of " + YamlReader::KeyList(kKinds) +
                        ", e.g. {int: [2, 10]} or {choice: [a, b]}");
    }
    const YamlEntry& k = kinds.front();
    if (k.key == "choice") {
      dim.kind = SearchDimension::Kind::kChoice;
      if (!k.value.IsSequence() || k.value.size() == 0) {
        yaml_.Fail(k, "expected a non-empty list of values, got " + YamlReader::Describe(k.value));
      }
      for (size_t i = 0; i < k.value.size(); ++i) {
        dim.choices.push_back(
            ValueOf(info, k.value[i], k.value[i].Mark(), k.path + "[" + std::to_string(i) + "]"));
      }
      return dim;
    }
    if (k.key == "int") {
      dim.kind = SearchDimension::Kind::kInt;
    } else if (k.key == "uniform") {
      dim.kind = SearchDimension::Kind::kUniform;
    } else if (k.key == "log_uniform") {
      dim.kind = SearchDimension::Kind::kLogUniform;
    } else {
      yaml_.UnknownKey(k, kKinds);
    }
    if (info.kind == K::kText) {
      yaml_.Fail(k.key_node.Mark(), k.path,
                 "'" + d.key + "' takes names (" + RangeText(info) + "); search it with choice");
    }
    if (info.kind == K::kReal && dim.kind == SearchDimension::Kind::kInt) {
      yaml_.Fail(k.key_node.Mark(), k.path,
                 "'" + d.key + "' is a real number; search it with uniform or log_uniform");
    }
    if (!k.value.IsSequence() || k.value.size() != 2) {
      yaml_.Fail(k, "expected [low, high], got " + YamlReader::Describe(k.value));
    }
    dim.low = std::get<double>(ValueOf(info, k.value[0], k.value[0].Mark(), k.path + "[0]"));
    dim.high = std::get<double>(ValueOf(info, k.value[1], k.value[1].Mark(), k.path + "[1]"));
    if (dim.low > dim.high) {
      yaml_.Fail(k, "low " + Number(dim.low) + " is greater than high " + Number(dim.high) +
                        ": nothing to sample");
    }
    if (dim.kind == SearchDimension::Kind::kLogUniform && dim.low <= 0) {
      yaml_.Fail(k, "log_uniform needs low > 0, got " + Number(dim.low));
    }
    return dim;
  }

  void CvOf(const YamlEntry& cv) {
    cv_mark_ = cv.Mark();
    constexpr std::string_view kKeys[] = {"scheme", "folds", "group", "time"};
    for (const YamlEntry& e : yaml_.Entries(cv)) {
      if (e.key == "scheme") {
        spec_.cv.scheme =
            static_cast<CvScheme>(Choice(e, {"kfold", "stratified", "grouped", "time"}));
      } else if (e.key == "folds") {
        spec_.cv.folds = yaml_.Count(e);
        if (spec_.cv.folds < 2 || spec_.cv.folds > 100) {
          yaml_.Fail(e, "expected 2 to 100 folds, got " + std::to_string(spec_.cv.folds));
        }
      } else if (e.key == "group") {
        spec_.cv.group = NamedText(e);
      } else if (e.key == "time") {
        spec_.cv.time = NamedText(e);
      } else {
        yaml_.UnknownKey(e, kKeys);
      }
    }
    if (spec_.cv.scheme == CvScheme::kGrouped && !spec_.cv.group) {
      yaml_.Fail(cv, "grouped folds need group: the column whose rows stay together");
    }
    if (spec_.cv.scheme == CvScheme::kTime && !spec_.cv.time) {
      yaml_.Fail(cv, "time-ordered folds need time: the column that orders the rows");
    }
  }

  std::string MetricOf(const YamlEntry& e) const {
    const std::string name = yaml_.Text(e);
    if (!IsMetricOf(spec_.task, name)) {
      yaml_.Fail(e, "unknown metric '" + name + "' for a " + std::string(TaskName(spec_.task)) +
                        " task; expected one of: " + MetricsOf(spec_.task));
    }
    return name;
  }

  // `fairness:` is a list of sensitive columns or {sensitive, positive_class}.
  void FairnessOf(const YamlEntry& e) {
    Fairness fairness;
    if (e.value.IsMap()) {
      constexpr std::string_view kKeys[] = {"sensitive", "positive_class"};
      for (const YamlEntry& f : yaml_.Entries(e)) {
        if (f.key == "sensitive") {
          fairness.sensitive = Names(f);
        } else if (f.key == "positive_class") {
          fairness.positive_class = NamedText(f);
          if (spec_.task == Task::kRegression) yaml_.Fail(f, "a regression has no classes");
        } else {
          yaml_.UnknownKey(f, kKeys);
        }
      }
    } else {
      fairness.sensitive = Names(e);
    }
    if (fairness.sensitive.empty()) {
      yaml_.Fail(e, "fairness needs sensitive: the columns whose groups are compared");
    }
    if (!fairness.positive_class && spec_.task == Task::kMulticlass) {
      yaml_.Fail(e,
                 "a multiclass task needs fairness.positive_class: the class whose selection "
                 "is compared across groups");
    }
    spec_.fairness = std::move(fairness);
  }

  void RobustnessOf(const YamlEntry& e) {
    robustness_mark_ = e.Mark();
    Robustness robustness;
    constexpr std::string_view kKeys[] = {"noise", "missing"};
    for (const YamlEntry& r : yaml_.Entries(e)) {
      if (r.key == "noise") {
        robustness.noise = yaml_.Number(r);
        if (!(robustness.noise >= 0 && robustness.noise <= 10)) {
          yaml_.Fail(r, "expected a multiple of each feature's std in [0, 10], got " +
                            Number(robustness.noise));
        }
      } else if (r.key == "missing") {
        robustness.missing = yaml_.Bool(r);
      } else {
        yaml_.UnknownKey(r, kKeys);
      }
    }
    if (robustness.noise == 0 && !robustness.missing) {
      yaml_.Fail(e, "noise 0 and missing false leave nothing to assess; drop robustness");
    }
    spec_.robustness = robustness;
  }

  // A gate's metric: the task's, or one that fairness or robustness yields.
  std::string GateMetricOf(const YamlEntry& e) const {
    const std::string name = yaml_.Text(e);
    for (const auto& [prefix, section] :
         {std::pair{std::string_view("fairness."), std::string_view("fairness")},
          std::pair{std::string_view("robustness."), std::string_view("robustness")}}) {
      if (!name.starts_with(prefix)) continue;
      const bool fairness = section == "fairness";
      if (fairness ? !spec_.fairness : !spec_.robustness) {
        yaml_.Fail(e, "'" + name + "' needs a " + std::string(section) + ": section in the spec");
      }
      const std::vector<std::string> names =
          fairness ? FairnessMetricNames(spec_.task, *spec_.fairness)
                   : RobustnessMetricNames(spec_.task, *spec_.robustness);
      if (std::find(names.begin(), names.end(), name) == names.end() &&
          (fairness || !FeatureMetricOf(spec_.task, *spec_.robustness, name))) {
        std::string known;
        for (const std::string& n : names) known += (known.empty() ? "" : ", ") + n;
        if (!fairness) {
          known +=
              fmt::format(", or per feature robustness.<{}>.<feature>.<{}|metric_drop>",
                          spec_.robustness->noise > 0 && spec_.robustness->missing ? "noise|missing"
                          : spec_.robustness->missing                              ? "missing"
                                                                                   : "noise",
                          spec_.task == Task::kRegression ? "mean_abs_change" : "flip_rate");
        }
        yaml_.Fail(e, "unknown " + std::string(section) + " metric '" + name + "' for a " +
                          std::string(TaskName(spec_.task)) + " task; expected one of: " + known);
      }
      return name;
    }
    if (!IsMetricOf(spec_.task, name)) {
      std::string known = MetricsOf(spec_.task);
      if (spec_.fairness)
        for (const std::string& n : FairnessMetricNames(spec_.task, *spec_.fairness))
          known += ", " + n;
      if (spec_.robustness)
        for (const std::string& n : RobustnessMetricNames(spec_.task, *spec_.robustness))
          known += ", " + n;
      yaml_.Fail(e, "unknown metric '" + name + "' for a " + std::string(TaskName(spec_.task)) +
                        " task; expected one of: " + known);
    }
    return name;
  }

  void GatesOf(const YamlEntry& gates) {
    if (!gates.value.IsSequence()) {
      yaml_.Fail(gates, "expected a list of gates, got " + YamlReader::Describe(gates.value));
    }
    constexpr std::string_view kKeys[] = {"metric",   "min",    "max",
                                          "champion", "margin", "confidence"};
    for (size_t i = 0; i < gates.value.size(); ++i) {
      const std::string path = gates.path + "[" + std::to_string(i) + "]";
      const YAML::Node node = gates.value[i];
      Gate gate;
      gate.at = PositionOf(node.Mark());
      bool has_metric = false;
      std::optional<YamlEntry> explanation;  // a metric of the model, not of its predictions
      for (const YamlEntry& e : yaml_.Entries(node, path, node.Mark())) {
        if (e.key == "metric") {
          const std::string name = yaml_.Text(e);
          if (IsExplanationMetric(name)) {
            gate.metric = name;
            explanation = e;
          } else {
            gate.metric = GateMetricOf(e);
          }
          has_metric = true;
        } else if (e.key == "min") {
          gate.min = yaml_.Number(e);
        } else if (e.key == "max") {
          gate.max = yaml_.Number(e);
        } else if (e.key == "champion") {
          gate.champion = yaml_.Text(e);
        } else if (e.key == "margin") {
          gate.margin = yaml_.Number(e);
          if (gate.margin < 0) yaml_.Fail(e, "expected a margin >= 0, got " + Number(gate.margin));
        } else if (e.key == "confidence") {
          gate.confidence = yaml_.Number(e);
          if (!(gate.confidence > 0.5 && gate.confidence < 1)) {
            yaml_.Fail(e, "expected a confidence in (0.5, 1), got " + Number(gate.confidence));
          }
        } else {
          yaml_.UnknownKey(e, kKeys);
        }
      }
      if (!has_metric) yaml_.Fail(node.Mark(), path, "a gate needs a metric");
      if (explanation && gate.champion) {
        yaml_.Fail(*explanation, "a champion gate compares the models' predictions; '" +
                                     gate.metric + "' describes the model: give min or max");
      }
      if (gate.champion && !IsMetricOf(spec_.task, gate.metric)) {
        yaml_.Fail(
            node.Mark(), path,
            "a champion gate compares holdout metrics; '" + gate.metric + "' takes min or max");
      }
      if (!gate.champion && !gate.min && !gate.max) {
        yaml_.Fail(node.Mark(), path,
                   "a gate needs min, max, or champion (an alias to beat, e.g. production)");
      }
      if (gate.min && gate.max && *gate.min > *gate.max) {
        yaml_.Fail(node.Mark(), path,
                   "min " + Number(*gate.min) + " is greater than max " + Number(*gate.max));
      }
      spec_.gates.push_back(std::move(gate));
    }
  }

  void RegisterOf(const YamlEntry& reg) {
    constexpr std::string_view kKeys[] = {"model", "alias"};
    Registration out;
    bool has_model = false;
    for (const YamlEntry& e : yaml_.Entries(reg)) {
      if (e.key == "model") {
        out.model = yaml_.Text(e);
        has_model = true;
      } else if (e.key == "alias") {
        out.alias = yaml_.Text(e);
      } else {
        yaml_.UnknownKey(e, kKeys);
      }
    }
    if (!has_model) yaml_.Fail(reg, "register needs model: the registered model's name");
    spec_.register_as = std::move(out);
  }

  YamlReader yaml_;
  TrainingSpec spec_;
  YAML::Mark model_mark_;
  YAML::Mark cv_mark_;
  YAML::Mark robustness_mark_;
};

}  // namespace

std::string_view TaskName(Task task) {
  switch (task) {
    case Task::kBinary:
      return "binary";
    case Task::kMulticlass:
      return "multiclass";
    case Task::kRegression:
      return "regression";
  }
  return "?";
}

std::string_view ModelTypeName(ModelType type) {
  switch (type) {
    case ModelType::kXgboost:
      return "xgboost";
    case ModelType::kLinear:
      return "linear";
    case ModelType::kLogistic:
      return "logistic";
  }
  return "?";
}

std::string_view SearchAlgorithmName(SearchAlgorithm algorithm) {
  switch (algorithm) {
    case SearchAlgorithm::kNone:
      return "none";
    case SearchAlgorithm::kRandom:
      return "random";
    case SearchAlgorithm::kTpe:
      return "tpe";
    case SearchAlgorithm::kHalving:
      return "halving";
  }
  return "?";
}

std::string_view CvSchemeName(CvScheme scheme) {
  switch (scheme) {
    case CvScheme::kKFold:
      return "kfold";
    case CvScheme::kStratified:
      return "stratified";
    case CvScheme::kGrouped:
      return "grouped";
    case CvScheme::kTime:
      return "time";
  }
  return "?";
}

bool IsMetricOf(Task task, std::string_view metric) {
  const MetricInfo* m = FindMetric(metric);
  if (m == nullptr) return false;
  switch (task) {
    case Task::kBinary:
      return m->binary;
    case Task::kMulticlass:
      return m->multiclass;
    case Task::kRegression:
      return m->regression;
  }
  return false;
}

bool IsExplanationMetric(std::string_view metric) {
  for (std::string_view prefix : {"importance.weight.", "importance.gain.", "importance.cover.",
                                  "shap.mean_abs.", "coefficient."}) {
    if (metric.size() > prefix.size() && metric.substr(0, prefix.size()) == prefix) return true;
  }
  return false;
}

bool GreaterIsBetter(std::string_view metric) {
  const MetricInfo* m = FindMetric(metric);
  return m != nullptr && m->greater_is_better;
}

std::string_view DefaultMetric(Task task) {
  switch (task) {
    case Task::kBinary:
      return "roc_auc";
    case Task::kMulticlass:
      return "log_loss";
    case Task::kRegression:
      return "rmse";
  }
  return "";
}

TrainingSpec ParseSpec(std::string_view text, const std::string& source,
                       const std::vector<std::string>& overrides) {
  try {
    return SpecParser(source).Parse(text, overrides);
  } catch (const Error& error) {
    // A value from --set has no place in the file: its error names the
    // setting instead of the file's line 1 (where yaml-cpp marks it).
    const std::string message = error.what();
    const size_t path_at = message.find(": ", source.size());
    if (error.code() != ErrorCode::kInvalidParameterValue || path_at == std::string::npos) throw;
    const std::string_view rest = std::string_view(message).substr(path_at + 2);
    for (const std::string& setting : overrides) {
      const std::string_view key = std::string_view(setting).substr(0, setting.find('='));
      if (rest.substr(0, key.size()) == key && rest.size() > key.size() &&
          std::string_view(".[:").find(rest[key.size()]) != std::string_view::npos) {
        ThrowInvalid("--set " + setting + ": " + std::string(rest));
      }
    }
    throw;
  }
}

}  // namespace slipway::training
