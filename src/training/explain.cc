#include "training/explain.h"

#include <fmt/format.h>
#include <xgboost/c_api.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <limits>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "ml/xgboost_model.h"
#include "training/charts.h"

namespace slipway::training {
namespace {

using nlohmann::json;

constexpr size_t kMaxBars = 20;
// Global SHAP importance is taken over at most this many rows (TreeSHAP
// costs rows x trees x leaves x depth^2).
constexpr size_t kMaxShapImportanceRows = 10000;

void Check(int status, const char* what) {
  if (status != 0) {
    throw Error(ErrorCode::kInternalError, fmt::format("XGBoost: {}: {}", what, XGBGetLastError()));
  }
}

// A booster loaded from a model file's bytes (UBJSON, JSON or the old binary
// format: XGBoost tells them apart). Owns its handle; one thread at a time.
class Booster {
 public:
  explicit Booster(const std::string& bytes) {
    Check(XGBoosterCreate(nullptr, 0, &handle_), "creating a booster");
    if (XGBoosterLoadModelFromBuffer(handle_, bytes.data(), bytes.size()) != 0) {
      const std::string why = XGBGetLastError();
      XGBoosterFree(handle_);
      ThrowInvalid("XGBoost cannot load the model file: " + why);
    }
  }
  ~Booster() { XGBoosterFree(handle_); }
  Booster(const Booster&) = delete;
  Booster& operator=(const Booster&) = delete;

  BoosterHandle get() const { return handle_; }

  size_t NumFeatures() const {
    bst_ulong n = 0;
    Check(XGBoosterGetNumFeature(handle_, &n), "counting features");
    return static_cast<size_t>(n);
  }

  // The booster's string feature info `field` (feature_name, feature_type); empty when unset.
  std::vector<std::string> Info(const char* field) const {
    bst_ulong length = 0;
    const char** values = nullptr;
    Check(XGBoosterGetStrFeatureInfo(handle_, field, &length, &values), field);
    return std::vector<std::string>(values, values + length);
  }

 private:
  BoosterHandle handle_ = nullptr;
};

// The model's base margin per output as the file states it. libxgboost 1.7
// reads one base_score; XGBoost 3 writes a vector ("[5E-1]", one per class,
// estimated from the data), which 1.7 misreads. Slipway's own parser of the
// file (ml/xgboost_model.h, what serving evaluates) reads both; the margins
// are then given to XGBoost as the rows' base_margin, so predictions and the
// SHAP bias are the file's. Empty when that parser does not take the model.
std::vector<double> BaseMargins(const std::string& bytes) {
  try {
    return ml::ParseXGBoostModel(bytes, "xgboost.core.Booster").ensemble->base_margin();
  } catch (const Error&) {
    return {};
  }
}

class DMatrix {
 public:
  DMatrix(const Matrix& x, const Booster& booster, const std::vector<double>& base_margin) {
    std::vector<float> values(x.values.begin(), x.values.end());
    Check(XGDMatrixCreateFromMat(values.data(), x.rows, x.cols,
                                 std::numeric_limits<float>::quiet_NaN(), &handle_),
          "creating a DMatrix");
    // The booster's names and types, so categorical splits read categories.
    for (const char* field : {"feature_name", "feature_type"}) {
      const std::vector<std::string> info = booster.Info(field);
      if (info.size() != x.cols) continue;
      std::vector<const char*> pointers;
      for (const std::string& s : info) pointers.push_back(s.c_str());
      Check(XGDMatrixSetStrFeatureInfo(handle_, field, pointers.data(), x.cols), field);
    }
    if (!base_margin.empty() && x.rows > 0) {
      std::vector<float> margins;
      margins.reserve(x.rows * base_margin.size());
      for (size_t r = 0; r < x.rows; ++r)
        for (double m : base_margin) margins.push_back(static_cast<float>(m));
      Check(XGDMatrixSetFloatInfo(handle_, "base_margin", margins.data(), margins.size()),
            "setting the base margin");
    }
  }
  ~DMatrix() { XGDMatrixFree(handle_); }
  DMatrix(const DMatrix&) = delete;
  DMatrix& operator=(const DMatrix&) = delete;

  DMatrixHandle get() const { return handle_; }

 private:
  DMatrixHandle handle_ = nullptr;
};

std::vector<std::string> NamesOf(const Booster& booster) {
  std::vector<std::string> names = booster.Info("feature_name");
  if (names.empty()) {
    const size_t n = booster.NumFeatures();
    for (size_t i = 0; i < n; ++i) names.push_back("f" + std::to_string(i));
  }
  return names;
}

std::map<std::string, double> ImportanceOf(const Booster& booster, const std::string& type) {
  const std::string config = json({{"importance_type", type}, {"feature_map", ""}}).dump();
  bst_ulong n = 0, dim = 0;
  const char** features = nullptr;
  const bst_ulong* shape = nullptr;
  const float* scores = nullptr;
  Check(XGBoosterFeatureScore(booster.get(), config.c_str(), &n, &features, &dim, &shape, &scores),
        "scoring features");
  std::map<std::string, double> out;
  if (dim != 1) return out;  // a linear booster's per-class weights: not a tree model
  for (bst_ulong i = 0; i < n; ++i) out[features[i]] = scores[i];
  return out;
}

// Bars of the `kMaxBars` largest values (by |value|), largest first.
std::vector<Bar> TopBars(std::vector<Bar> bars) {
  std::stable_sort(bars.begin(), bars.end(), [](const Bar& a, const Bar& b) {
    return std::abs(a.value) > std::abs(b.value);
  });
  if (bars.size() > kMaxBars) bars.resize(kMaxBars);
  return bars;
}

std::string Titled(const std::string& what, const std::string& title, size_t shown, size_t total) {
  std::string out = what;
  if (shown < total) out += fmt::format(" (top {} of {})", shown, total);
  if (!title.empty()) out += ": " + title;
  return out;
}

std::string CsvField(const std::string& text) {
  if (text.find_first_of(",\"\r\n") == std::string::npos) return text;
  std::string out = "\"";
  for (char c : text) out += c == '"' ? std::string("\"\"") : std::string(1, c);
  return out + "\"";
}

void ExplainXgboost(const ExplanationInput& in, Explanation& out) {
  const Booster booster(in.model_bytes);
  const std::vector<std::string> names = NamesOf(booster);

  json importance = {{"features", names}};
  for (const char* type : {"weight", "gain", "cover"}) {
    const std::map<std::string, double> scores = ImportanceOf(booster, type);
    importance[type] = scores;
    // A feature no tree splits on is absent from XGBoost's scores: 0 here.
    for (const std::string& feature : names) {
      const auto found = scores.find(feature);
      out.metrics[fmt::format("importance.{}.{}", type, MetricKeyPart(feature))] =
          found == scores.end() ? 0 : found->second;
    }
    if (std::string_view(type) == "gain") {
      std::vector<Bar> bars;
      for (const auto& [feature, value] : scores) bars.push_back({feature, value});
      const size_t total = bars.size();
      bars = TopBars(std::move(bars));
      out.files.push_back(
          {"feature_importance.svg",
           BarChartSvg({Titled("Feature importance", in.title, bars.size(), total),
                        "Mean gain per split (XGBoost importance_type=gain)", bars})});
    }
  }
  out.files.push_back({"feature_importance.json", importance.dump(2)});

  if (in.x == nullptr || in.x->rows == 0) return;
  Matrix x = *in.x;
  if (x.rows > kMaxShapImportanceRows) {
    x.rows = kMaxShapImportanceRows;
    x.values.resize(x.rows * x.cols);
  }
  const ShapValues shap = XgboostShap(in.model_bytes, x);
  const size_t features = shap.width - 1;
  // Mean |SHAP| per group and feature.
  std::vector<std::vector<double>> mean(shap.groups, std::vector<double>(features, 0));
  for (size_t r = 0; r < shap.rows; ++r)
    for (size_t g = 0; g < shap.groups; ++g)
      for (size_t f = 0; f < features; ++f) mean[g][f] += std::abs(shap(r, g, f));
  std::vector<double> overall(features, 0);
  for (size_t g = 0; g < shap.groups; ++g) {
    for (size_t f = 0; f < features; ++f) {
      mean[g][f] /= static_cast<double>(shap.rows);
      overall[f] += mean[g][f];
    }
  }
  json summary = {{"rows", shap.rows}, {"features", names}};
  json overall_json = json::object();
  std::vector<Bar> bars;
  for (size_t f = 0; f < features; ++f) {
    const std::string& name = f < names.size() ? names[f] : "f" + std::to_string(f);
    overall_json[name] = overall[f];
    bars.push_back({name, overall[f]});
    out.metrics["shap.mean_abs." + MetricKeyPart(name)] = overall[f];
  }
  summary["mean_abs_shap"] = overall_json;
  if (shap.groups > 1) {
    json by_class = json::object();
    for (size_t g = 0; g < shap.groups; ++g) {
      json per = json::object();
      for (size_t f = 0; f < features; ++f) per[f < names.size() ? names[f] : ""] = mean[g][f];
      by_class[g < in.classes.size() ? in.classes[g] : std::to_string(g)] = per;
    }
    summary["by_class"] = by_class;
  }
  out.files.push_back({"shap_importance.json", summary.dump(2)});
  const size_t total = bars.size();
  bars = TopBars(std::move(bars));
  out.files.push_back(
      {"shap_importance.svg",
       BarChartSvg({Titled("Mean |SHAP value|", in.title, bars.size(), total),
                    shap.groups > 1 ? "Mean |SHAP value| (log-odds), summed over classes"
                    : in.task == Task::kRegression ? "Mean |SHAP value| (target units)"
                                                   : "Mean |SHAP value| (log-odds)",
                    bars})});

  // Per prediction: the first rows.
  const size_t rows = std::min(shap.rows, in.max_shap_rows);
  std::string csv = "row";
  if (shap.groups > 1) csv += ",class";
  for (size_t f = 0; f < features; ++f)
    csv += "," + CsvField(f < names.size() ? names[f] : "f" + std::to_string(f));
  csv += ",bias\n";
  for (size_t r = 0; r < rows; ++r) {
    for (size_t g = 0; g < shap.groups; ++g) {
      csv += std::to_string(r < in.row_ids.size() ? in.row_ids[r] : r);
      if (shap.groups > 1) csv += "," + CsvField(g < in.classes.size() ? in.classes[g] : "");
      for (size_t c = 0; c < shap.width; ++c) csv += fmt::format(",{:.9g}", shap(r, g, c));
      csv += "\n";
    }
  }
  out.files.push_back({"shap_values.csv", csv});
}

void ExplainLinear(const ExplanationInput& in, Explanation& out) {
  json model;
  try {
    model = json::parse(in.model_bytes);
  } catch (const json::exception& e) {
    ThrowInvalid(in.model_name + ": " + e.what());
  }
  if (!model.contains("coefficients") || !model.contains("features") ||
      !model.contains("intercept")) {
    ThrowInvalid(in.model_name + ": not a linear model (no features, intercept, coefficients)");
  }
  const std::vector<std::string> features = model.at("features");
  const json& coefficients = model.at("coefficients");
  const bool per_class = model.at("intercept").is_array();
  json report = {{"link", model.value("link", "")},
                 {"features", features},
                 {"note", "coefficients of the features after preprocessing (scaled, one-hot)"}};
  std::vector<Bar> bars;
  if (!per_class) {
    report["intercept"] = model.at("intercept");
    json by_feature = json::object();
    for (const std::string& f : features) {
      const double value = coefficients.at(f).get<double>();
      by_feature[f] = value;
      bars.push_back({f, value});
      out.metrics["coefficient." + MetricKeyPart(f)] = value;
    }
    report["coefficients"] = by_feature;
  } else {
    const std::vector<double> intercept = model.at("intercept");
    json intercepts = json::object(), by_class = json::object();
    for (size_t c = 0; c < intercept.size(); ++c) {
      const std::string label = c < in.classes.size() ? in.classes[c] : std::to_string(c);
      intercepts[label] = intercept[c];
      json per = json::object();
      for (const std::string& f : features) {
        const double value = coefficients.at(f).at(c).get<double>();
        per[f] = value;
        bars.push_back({fmt::format("{} (class {})", f, label), value});
        out.metrics[fmt::format("coefficient.{}.{}", MetricKeyPart(label), MetricKeyPart(f))] =
            value;
      }
      by_class[label] = per;
    }
    report["classes"] = in.classes;
    report["intercept"] = intercepts;
    report["coefficients"] = by_class;
  }
  out.files.push_back({"coefficients.json", report.dump(2)});
  const size_t total = bars.size();
  bars = TopBars(std::move(bars));
  out.files.push_back(
      {"coefficients.svg", BarChartSvg({Titled("Coefficients", in.title, bars.size(), total),
                                        "Coefficient (on the scaled, encoded features)", bars})});
}

// XGBoosterPredictFromDMatrix of `data` with prediction type `type` (0
// values, 2 contributions), strict shapes; the result is XGBoost's.
void PredictFromDMatrix(const Booster& booster, const DMatrix& data, int type,
                        const bst_ulong** shape, bst_ulong* dim, const float** result) {
  const std::string config =
      fmt::format(R"({{"type": {}, "training": false, "iteration_begin": 0, "iteration_end": 0, )"
                  R"("strict_shape": true}})",
                  type);
  Check(XGBoosterPredictFromDMatrix(booster.get(), data.get(), config.c_str(), shape, dim, result),
        type == 2 ? "predicting contributions" : "predicting");
}

}  // namespace

std::string MetricKeyPart(const std::string& name) {
  std::string out = name;
  for (char& c : out) {
    const unsigned char u = static_cast<unsigned char>(c);
    if (c == '=') {
      c = ':';
    } else if (!(std::isalnum(u) || c == '_' || c == '-' || c == '.' || c == ' ' || c == ':' ||
                 c == '/' || u >= 0x80)) {
      c = '_';
    }
  }
  // Keys must stay normalised paths: no empty segment, no leading or trailing slash.
  std::replace(out.begin(), out.end(), '/', '_');
  return out.empty() ? "_" : out;
}

std::vector<std::string> XgboostFeatureNames(const std::string& model_bytes) {
  return NamesOf(Booster(model_bytes));
}

std::map<std::string, double> XgboostImportance(const std::string& model_bytes,
                                                const std::string& type) {
  return ImportanceOf(Booster(model_bytes), type);
}

ShapValues XgboostShap(const std::string& model_bytes, const Matrix& x) {
  const Booster booster(model_bytes);
  const size_t features = booster.NumFeatures();
  if (x.cols != features) {
    ThrowInvalid(
        fmt::format("SHAP: the model has {} features, the rows {} columns", features, x.cols));
  }
  ShapValues out;
  out.rows = x.rows;
  out.width = features + 1;
  if (x.rows == 0) return out;
  const DMatrix data(x, booster, BaseMargins(model_bytes));
  const bst_ulong* shape = nullptr;
  bst_ulong dim = 0;
  const float* result = nullptr;
  PredictFromDMatrix(booster, data, 2, &shape, &dim, &result);
  if (dim != 3 || shape[0] != x.rows || shape[2] != out.width) {
    throw Error(ErrorCode::kInternalError,
                fmt::format("XGBoost: contributions of shape {} dims, not rows x groups x {}", dim,
                            out.width));
  }
  out.groups = static_cast<size_t>(shape[1]);
  out.values.assign(result, result + out.rows * out.groups * out.width);
  return out;
}

Matrix XgboostPredict(const std::string& model_bytes, const Matrix& x) {
  const Booster booster(model_bytes);
  if (x.cols != booster.NumFeatures()) {
    ThrowInvalid(fmt::format("the model has {} features, the rows {} columns",
                             booster.NumFeatures(), x.cols));
  }
  Matrix out;
  out.rows = x.rows;
  if (x.rows == 0) return out;
  const DMatrix data(x, booster, BaseMargins(model_bytes));
  const bst_ulong* shape = nullptr;
  bst_ulong dim = 0;
  const float* result = nullptr;
  PredictFromDMatrix(booster, data, 0, &shape, &dim, &result);
  if (dim != 2 || shape[0] != x.rows) {
    throw Error(ErrorCode::kInternalError, "XGBoost: predictions are not rows x outputs");
  }
  out.cols = static_cast<size_t>(shape[1]);
  out.values.assign(result, result + out.rows * out.cols);
  return out;
}

Explanation Explain(const ExplanationInput& in) {
  Explanation out;
  if (in.xgboost) {
    ExplainXgboost(in, out);
  } else {
    ExplainLinear(in, out);
  }
  return out;
}

}  // namespace slipway::training
