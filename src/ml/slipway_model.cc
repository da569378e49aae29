#include "ml/slipway_model.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <utility>

#include "core/error.h"
#include "ml/preprocessing.h"
#include "ml/tree_ensemble.h"
#include "ml/xgboost_model.h"

namespace slipway::ml {

namespace {

using nlohmann::json;

[[noreturn]] void Malformed(const std::string& why) {
  ThrowInvalid("malformed Slipway model: " + why);
}

std::string ReadFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) Malformed("cannot read " + path.filename().string());
  std::ostringstream bytes;
  bytes << in.rdbuf();
  return bytes.str();
}

std::vector<std::string> Strings(const json& flavor, const char* key) {
  if (!flavor.contains(key) || !flavor[key].is_array())
    Malformed(std::string("no '") + key + "' list");
  std::vector<std::string> out;
  for (const json& item : flavor[key]) {
    // YAML may have read a label such as 1 or true as a number or a bool.
    if (item.is_string())
      out.push_back(item.get<std::string>());
    else if (item.is_primitive() && !item.is_null())
      out.push_back(item.dump());
    else
      Malformed(std::string("'") + key + "' holds a value that is not text");
  }
  return out;
}

enum class Task { kBinary, kMulticlass, kRegression };

Task TaskNamed(const std::string& name) {
  if (name == "binary") return Task::kBinary;
  if (name == "multiclass") return Task::kMulticlass;
  if (name == "regression") return Task::kRegression;
  throw Error(ErrorCode::kNotImplemented,
              "Slipway model task '" + name + "' is not one this build serves");
}

bool IsInteger(const std::string& text) {
  if (text.empty()) return false;
  size_t i = text[0] == '-' ? 1 : 0;
  if (i == text.size() || text.size() > 18) return false;
  for (; i < text.size(); ++i)
    if (text[i] < '0' || text[i] > '9') return false;
  return true;
}

// The column of labels: numbers, booleans or text (see the header).
class Labels {
 public:
  explicit Labels(std::vector<std::string> classes) : classes_(std::move(classes)) {
    bool integers = !classes_.empty();
    for (const std::string& c : classes_) integers = integers && IsInteger(c);
    if (integers) {
      type_ = DataType::kLong;
      for (const std::string& c : classes_) numbers_.push_back(std::stod(c));
    } else if (classes_ == std::vector<std::string>{"false", "true"}) {
      type_ = DataType::kBoolean;
      numbers_ = {0, 1};
    }
  }

  Column Make(const std::vector<size_t>& index) const {
    Column col;
    col.name = "predictions";
    col.type = type_;
    if (IsNumeric(type_)) {
      col.numbers.reserve(index.size());
      for (size_t i : index) col.numbers.push_back(numbers_[i]);
    } else {
      col.strings.reserve(index.size());
      for (size_t i : index) col.strings.push_back(classes_[i]);
    }
    return col;
  }

  size_t size() const { return classes_.size(); }

 private:
  std::vector<std::string> classes_;
  DataType type_ = DataType::kString;
  std::vector<double> numbers_;
};

// What the inference params ask for: labels (predict) or probabilities.
bool WantsProbabilities(std::string_view params_json) {
  if (params_json.empty()) return false;
  json params;
  try {
    params = json::parse(params_json);
  } catch (const json::exception& e) {
    ThrowInvalid("the inference params are not valid JSON: " + std::string(e.what()));
  }
  if (!params.is_object() || !params.contains("predict_method")) return false;
  const json& method = params["predict_method"];
  if (method == "predict") return false;
  if (method == "predict_proba") return true;
  ThrowInvalid("params.predict_method must be \"predict\" or \"predict_proba\", not " +
               method.dump());
}

Signature SignatureOf(const Preprocessing& preprocessing) {
  Signature signature;
  for (const FeatureTransform& f : preprocessing.features()) {
    ColumnSpec spec;
    spec.name = f.name;
    spec.type = f.categorical ? DataType::kString
                : f.boolean   ? DataType::kBoolean
                              : DataType::kDouble;
    signature.inputs.columns.push_back(std::move(spec));
  }
  return signature;
}

class SlipwayModel final : public Model {
 public:
  SlipwayModel(MlModel mlmodel, Task task, Preprocessing preprocessing, Labels labels,
               std::shared_ptr<const TreeEnsemble> ensemble, std::optional<LinearEvaluator> linear)
      : mlmodel_(std::move(mlmodel)),
        task_(task),
        preprocessing_(std::move(preprocessing)),
        labels_(std::move(labels)),
        ensemble_(std::move(ensemble)),
        linear_(std::move(linear)) {}

  Predictions Predict(const Frame& input, std::string_view params_json) const override {
    const bool probabilities = WantsProbabilities(params_json);
    if (probabilities && task_ == Task::kRegression)
      ThrowInvalid("params.predict_method predict_proba: the model is a regression");
    const std::vector<double> rows = preprocessing_.Apply(input);
    const size_t n = input.rows, width = Width();
    std::vector<double> scores(n * width);
    if (n > 0) {
      if (ensemble_)
        ensemble_->Predict(rows.data(), n, preprocessing_.output_width(), scores.data());
      else
        linear_->Predict(rows.data(), n, scores.data());
    }

    Predictions out;
    out.frame.rows = n;
    Column col;
    col.name = "predictions";
    col.type = DataType::kDouble;
    if (task_ == Task::kRegression) {
      col.numbers = std::move(scores);
    } else if (probabilities) {
      col.width = labels_.size();
      if (task_ == Task::kBinary) {
        col.numbers.resize(2 * n);
        for (size_t r = 0; r < n; ++r) {
          col.numbers[2 * r] = 1.0 - scores[r];
          col.numbers[2 * r + 1] = scores[r];
        }
      } else {
        col.numbers = std::move(scores);
      }
    } else {
      std::vector<size_t> index(n);
      for (size_t r = 0; r < n; ++r) {
        const double* v = scores.data() + r * width;
        index[r] = task_ == Task::kBinary ? (v[0] > 0.5 ? 1 : 0)
                                          : static_cast<size_t>(std::max_element(v, v + width) - v);
      }
      col = labels_.Make(index);
    }
    out.layout = col.width > 1 ? OutputLayout::kMatrix : OutputLayout::kVector;
    out.frame.columns.push_back(std::move(col));
    return out;
  }

  const MlModel& mlmodel() const override { return mlmodel_; }
  std::string_view flavor() const override { return "slipway"; }
  bool native() const override { return true; }

 private:
  size_t Width() const { return ensemble_ ? ensemble_->output_width() : linear_->num_outputs(); }

  MlModel mlmodel_;
  Task task_;
  Preprocessing preprocessing_;
  Labels labels_;
  std::shared_ptr<const TreeEnsemble> ensemble_;  // or
  std::optional<LinearEvaluator> linear_;
};

}  // namespace

LinearEvaluator LinearEvaluator::Parse(std::string_view text,
                                       const std::vector<std::string>& features) {
  LinearEvaluator e;
  try {
    const json model = json::parse(text);
    if (model.value("format_version", 0) != 1) Malformed("model.json: expected format_version 1");
    const std::string link = model.at("link").get<std::string>();
    if (link == "identity")
      e.link_ = Link::kIdentity;
    else if (link == "logistic")
      e.link_ = Link::kLogistic;
    else if (link == "softmax")
      e.link_ = Link::kSoftmax;
    else
      Malformed("model.json: unknown link '" + link + "'");
    auto values = [](const json& v) {
      return v.is_array() ? v.get<std::vector<double>>() : std::vector<double>{v.get<double>()};
    };
    e.intercept_ = values(model.at("intercept"));
    const size_t k = e.intercept_.size();
    if (k == 0) Malformed("model.json: no intercept");
    if ((e.link_ == Link::kSoftmax) != (k > 1))
      Malformed("model.json: link " + link + " with " + std::to_string(k) + " outputs");
    const json& coefficients = model.at("coefficients");
    if (!coefficients.is_object() || coefficients.size() != features.size())
      Malformed("model.json: " + std::to_string(coefficients.size()) + " coefficients for " +
                std::to_string(features.size()) + " features");
    e.num_features_ = features.size();
    e.coefficients_.reserve(features.size() * k);
    for (const std::string& name : features) {
      auto it = coefficients.find(name);
      if (it == coefficients.end()) Malformed("model.json: no coefficient for '" + name + "'");
      const std::vector<double> row = values(*it);
      if (row.size() != k)
        Malformed("model.json: '" + name + "' has " + std::to_string(row.size()) +
                  " coefficients for " + std::to_string(k) + " outputs");
      e.coefficients_.insert(e.coefficients_.end(), row.begin(), row.end());
    }
  } catch (const json::exception& ex) {
    Malformed(std::string("model.json: ") + ex.what());
  }
  return e;
}

void LinearEvaluator::Predict(const double* rows, size_t n, double* out) const {
  const size_t k = intercept_.size(), m = num_features_;
  for (size_t r = 0; r < n; ++r) {
    const double* x = rows + r * m;
    double* z = out + r * k;
    std::fill(z, z + k, 0.0);
    for (size_t j = 0; j < m; ++j)
      for (size_t c = 0; c < k; ++c) z[c] += x[j] * coefficients_[j * k + c];
    for (size_t c = 0; c < k; ++c) z[c] += intercept_[c];
    switch (link_) {
      case Link::kIdentity:
        break;
      case Link::kLogistic:
        z[0] = 1.0 / (1.0 + std::exp(-z[0]));
        break;
      case Link::kSoftmax: {
        const double max = *std::max_element(z, z + k);
        double sum = 0;
        for (size_t c = 0; c < k; ++c) sum += (z[c] = std::exp(z[c] - max));
        for (size_t c = 0; c < k; ++c) z[c] /= sum;
        break;
      }
    }
  }
}

std::unique_ptr<Model> LoadSlipwayFlavor(const MlModel& mlmodel) {
  const json& flavor = *mlmodel.Flavor("slipway");
  if (!flavor.is_object()) Malformed("the slipway flavor is not a mapping");
  const json version = flavor.value("format_version", json());
  if (!version.is_number_integer() || version.get<int64_t>() != 1)
    throw Error(ErrorCode::kNotImplemented,
                "Slipway model format_version " + version.dump() + " is not one this build reads");
  const std::string model_type = flavor.value("model_type", "");
  const std::string task_name = flavor.value("task", "");
  const Task task = TaskNamed(task_name);

  Preprocessing preprocessing;
  {
    const auto path = mlmodel.FlavorFile("slipway", "preprocessing");
    try {
      preprocessing = Preprocessing::FromJson(json::parse(ReadFile(path)));
    } catch (const json::exception& e) {
      Malformed(path.filename().string() + ": " + e.what());
    }
  }
  // The flavor's inputs and outputs must be what the preprocessing reads and makes.
  std::vector<std::string> inputs;
  for (const FeatureTransform& f : preprocessing.features()) inputs.push_back(f.name);
  if (Strings(flavor, "inputs") != inputs)
    Malformed("the flavor's inputs are not the features of its preprocessing");
  const std::vector<std::string> outputs = Strings(flavor, "outputs");
  if (outputs != preprocessing.OutputNames())
    Malformed("the flavor's outputs are not the columns its preprocessing makes");
  std::vector<std::string> classes =
      flavor.contains("classes") ? Strings(flavor, "classes") : std::vector<std::string>{};
  const size_t k = task == Task::kMulticlass ? classes.size() : 1;
  if (task == Task::kBinary && classes.size() != 2)
    Malformed("a binary model with " + std::to_string(classes.size()) + " classes");
  if (task == Task::kMulticlass && classes.size() < 2)
    Malformed("a multiclass model with " + std::to_string(classes.size()) + " classes");

  const std::string bytes = ReadFile(mlmodel.FlavorFile("slipway", "data"));
  std::shared_ptr<const TreeEnsemble> ensemble;
  std::optional<LinearEvaluator> linear;
  if (model_type == "xgboost") {
    XGBoostModel parsed = ParseXGBoostModel(bytes, "xgboost.core.Booster");
    ensemble = std::move(parsed.ensemble);
    if (ensemble->num_features() != outputs.size())
      Malformed("the XGBoost model takes " + std::to_string(ensemble->num_features()) +
                " features, the preprocessing makes " + std::to_string(outputs.size()));
    if (ensemble->output_width() != k)
      Malformed("the XGBoost model has " + std::to_string(ensemble->output_width()) +
                " outputs for a " + task_name + " task");
    const auto t = ensemble->transform();
    const bool fits = task == Task::kRegression ? t == OutputTransform::kIdentity
                      : task == Task::kBinary   ? t == OutputTransform::kSigmoid
                                                : t == OutputTransform::kSoftmax;
    if (!fits) Malformed("the XGBoost model's objective does not fit a " + task_name + " task");
  } else if (model_type == "linear" || model_type == "logistic") {
    linear = LinearEvaluator::Parse(bytes, outputs);
    if (linear->num_outputs() != k)
      Malformed("model.json has " + std::to_string(linear->num_outputs()) + " outputs for a " +
                task_name + " task");
    const auto link = linear->link();
    const bool fits = task == Task::kRegression ? link == LinearEvaluator::Link::kIdentity
                      : task == Task::kBinary   ? link == LinearEvaluator::Link::kLogistic
                                                : link == LinearEvaluator::Link::kSoftmax;
    if (!fits) Malformed("model.json's link does not fit a " + task_name + " task");
  } else {
    throw Error(ErrorCode::kNotImplemented,
                "Slipway model type '" + model_type + "' is not one this build serves");
  }

  MlModel described = mlmodel;
  // A trained model's MLmodel holds a signature of params only (pyfunc's
  // predict_method): its inputs are the preprocessing's.
  if (!described.signature || described.signature->inputs.empty()) {
    Signature made = SignatureOf(preprocessing);
    if (described.signature) made.outputs = std::move(described.signature->outputs);
    described.signature = std::move(made);
  }
  return std::make_unique<SlipwayModel>(std::move(described), task, std::move(preprocessing),
                                        Labels(std::move(classes)), std::move(ensemble),
                                        std::move(linear));
}

}  // namespace slipway::ml
