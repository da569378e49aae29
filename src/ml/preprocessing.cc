#include "ml/preprocessing.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "core/error.h"

namespace slipway::ml {
namespace {

using nlohmann::json;

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

}  // namespace

double FeatureTransform::CategoryIndex(std::string_view text) const {
  auto it = std::lower_bound(categories.begin(), categories.end(), text);
  return it != categories.end() && *it == text ? static_cast<double>(it - categories.begin()) : -1;
}

double FeatureTransform::MissingIndex() const {
  return missing_as.empty() ? -1 : CategoryIndex(missing_as);
}

Preprocessing::Preprocessing(std::vector<FeatureTransform> features)
    : features_(std::move(features)) {
  for (const FeatureTransform& f : features_) output_width_ += f.width();
}

void Preprocessing::Write(const FeatureTransform& f, double x, double index, double* row) {
  if (!f.categorical) {
    row[0] = f.Numeric(x);
  } else if (f.native) {
    row[0] = index < 0 ? kNaN : index;
  } else if (index >= 0) {
    row[static_cast<size_t>(index)] = 1;
  }
}

std::vector<double> Preprocessing::Apply(const Frame& input) const {
  const size_t n = input.rows, width = output_width_;
  std::vector<double> out(n * width, 0.0);
  size_t col = 0;
  for (size_t i = 0; i < features_.size(); ++i) {
    const FeatureTransform& f = features_[i];
    const Column* column = input.Find(f.name, i);
    if (column == nullptr)
      ThrowInvalid("the input has no column '" + f.name + "', a model feature");
    if (column->width != 1)
      ThrowInvalid("input column '" + f.name + "' must hold one value per row");
    const bool numbers = IsNumeric(column->type);
    if (numbers ? column->numbers.size() < n : column->strings.size() < n)
      ThrowInvalid("input column '" + f.name + "' is short");
    if (!f.categorical) {
      if (!numbers)
        ThrowInvalid("input column '" + f.name + "' must be numeric, not " +
                     std::string(DataTypeName(column->type)));
      for (size_t r = 0; r < n; ++r) Write(f, column->numbers[r], -1, &out[r * width + col]);
      col += f.width();
      continue;
    }
    const double missing = f.MissingIndex();
    if (numbers) {
      // A column of nothing but missing values parses as numbers.
      for (size_t r = 0; r < n; ++r)
        if (!std::isnan(column->numbers[r]))
          ThrowInvalid("input column '" + f.name + "' must be of type string, not " +
                       std::string(DataTypeName(column->type)));
      for (size_t r = 0; r < n; ++r) Write(f, kNaN, missing, &out[r * width + col]);
    } else {
      const bool flags = column->missing.size() >= n;
      for (size_t r = 0; r < n; ++r) {
        const double index =
            flags && column->missing[r] ? missing : f.CategoryIndex(column->strings[r]);
        Write(f, kNaN, index, &out[r * width + col]);
      }
    }
    col += f.width();
  }
  return out;
}

std::vector<std::string> Preprocessing::OutputNames() const {
  std::vector<std::string> names;
  names.reserve(output_width_);
  for (const FeatureTransform& f : features_) {
    if (!f.categorical || f.native) {
      names.push_back(f.name);
    } else {
      for (const std::string& c : f.categories) names.push_back(f.name + "=" + c);
    }
  }
  return names;
}

std::vector<bool> Preprocessing::OutputCategorical() const {
  std::vector<bool> out;
  out.reserve(output_width_);
  for (const FeatureTransform& f : features_) out.insert(out.end(), f.width(), f.native);
  return out;
}

json Preprocessing::ToJson() const {
  json features = json::array();
  for (const FeatureTransform& f : features_) {
    if (f.categorical) {
      features.push_back({{"name", f.name},
                          {"kind", "categorical"},
                          {"encoding", f.native ? "native" : "onehot"},
                          {"categories", f.categories},
                          {"missing_as", f.missing_as}});
    } else {
      // JSON has no NaN: a fill that keeps values missing is null.
      json feature = {{"name", f.name},
                      {"kind", "numeric"},
                      {"fill", std::isnan(f.fill) ? json(nullptr) : json(f.fill)},
                      {"center", f.center},
                      {"scale", f.scale}};
      if (f.boolean) feature["boolean"] = true;
      features.push_back(std::move(feature));
    }
  }
  return {{"format_version", 1}, {"features", features}, {"outputs", OutputNames()}};
}

Preprocessing Preprocessing::FromJson(const json& in) {
  auto fail = [](const std::string& what) -> void { ThrowInvalid("preprocessing JSON: " + what); };
  if (!in.is_object() || in.value("format_version", 0) != 1) fail("expected format_version 1");
  if (!in.contains("features") || !in["features"].is_array()) fail("expected a features array");
  std::vector<FeatureTransform> features;
  try {
    for (const json& j : in["features"]) {
      FeatureTransform f;
      f.name = j.at("name").get<std::string>();
      const std::string kind = j.at("kind").get<std::string>();
      if (kind == "categorical") {
        f.categorical = true;
        const std::string encoding = j.at("encoding").get<std::string>();
        if (encoding != "native" && encoding != "onehot")
          fail("unknown encoding '" + encoding + "'");
        f.native = encoding == "native";
        f.categories = j.at("categories").get<std::vector<std::string>>();
        if (!std::is_sorted(f.categories.begin(), f.categories.end()))
          fail("the categories of '" + f.name + "' are not sorted");
        f.missing_as = j.at("missing_as").get<std::string>();
      } else if (kind == "numeric") {
        f.fill = j.at("fill").is_null() ? kNaN : j.at("fill").get<double>();
        f.center = j.at("center").get<double>();
        f.scale = j.at("scale").get<double>();
        if (!(f.scale != 0) || !std::isfinite(f.scale))
          fail("the scale of '" + f.name + "' is not a finite non-zero number");
        f.boolean = j.value("boolean", false);
      } else {
        fail("unknown kind '" + kind + "' of feature '" + f.name + "'");
      }
      features.push_back(std::move(f));
    }
  } catch (const json::exception& e) {
    fail(e.what());
  }
  Preprocessing p(std::move(features));
  if (in.contains("outputs") && in["outputs"] != json(p.OutputNames()))
    fail("'outputs' does not list the features' columns");
  return p;
}

}  // namespace slipway::ml
