// The fitted preprocessing of a model trained by `slipway train`, as a value:
// what `preprocessing.json` in its model folder says, and how it turns raw
// columns into the model's numeric inputs.
//
// Training fits it (training/preprocessing.h, Preprocessor::Fit, on the
// training rows only) and serving applies it (slipway_model.h) with the same
// per-value rules, which live here once so the two cannot drift apart (no
// training/serving skew). Per feature, in order:
//
//   numeric      missing (NaN) -> `fill` (NaN: kept missing), then
//                (x - center) / scale.
//   categorical  missing -> `missing_as`; then the category's index in the
//                sorted `categories`, looked up by text. onehot: one 0/1
//                column per category (an unseen category is all zeros);
//                native: one column holding the index (unseen: NaN), which
//                XGBoost reads as a categorical feature.
//
// The outputs are the features' columns in order (OutputNames).
//
// A Preprocessing is an immutable value; every method is const and
// thread-safe.
#pragma once

#include <cstddef>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "ml/frame.h"

namespace slipway::ml {

// What one input column becomes.
struct FeatureTransform {
  std::string name;
  bool categorical = false;
  // Numeric: the value a missing one takes (NaN: kept missing), then
  // (x - center) / scale.
  double fill = 0;
  double center = 0;
  double scale = 1;
  // Numeric: the raw column held booleans (0/1); callers send true/false.
  bool boolean = false;
  // Categorical: the training categories, sorted; native or onehot.
  std::vector<std::string> categories;
  bool native = false;
  // Categorical: a missing value becomes this category (the most frequent,
  // or "__missing__", which is then one of `categories`).
  std::string missing_as;

  // Numeric: the model's value for raw value `x` (NaN: missing).
  double Numeric(double x) const {
    if (x != x) x = fill;
    return (x - center) / scale;
  }
  // Categorical: the index of `text` in `categories`, or -1 when unseen.
  double CategoryIndex(std::string_view text) const;
  // Categorical: the index a missing value takes, or -1.
  double MissingIndex() const;
  // Columns this feature becomes: 1, or one per category (onehot).
  size_t width() const { return categorical && !native ? categories.size() : 1; }
};

class Preprocessing {
 public:
  static constexpr const char* kMissingCategory = "__missing__";

  Preprocessing() = default;
  explicit Preprocessing(std::vector<FeatureTransform> features);

  // The transformed columns' names: the feature's name, or "name=category"
  // for a one-hot column.
  std::vector<std::string> OutputNames() const;
  // Per transformed column: true where XGBoost should read a category index.
  std::vector<bool> OutputCategorical() const;
  size_t output_width() const { return output_width_; }

  const std::vector<FeatureTransform>& features() const { return features_; }

  // Writes feature `f`'s output columns for one value into `row` (the
  // feature's first column; onehot columns must be zero on entry). `index`
  // is the categorical value's CategoryIndex (or MissingIndex), ignored for
  // a numeric feature, whose raw value is `x`.
  static void Write(const FeatureTransform& f, double x, double index, double* row);

  // `input`'s rows as the model's row-major matrix: rows x output_width().
  // Columns are found by the features' names; a numeric feature reads any
  // numeric column (booleans as 0/1), a categorical one a string column
  // (a missing flag is a missing value). A missing column, or one of the
  // other kind, is INVALID_PARAMETER_VALUE naming it.
  std::vector<double> Apply(const Frame& input) const;

  nlohmann::json ToJson() const;
  // INVALID_PARAMETER_VALUE naming the field on malformed input.
  static Preprocessing FromJson(const nlohmann::json& json);

 private:
  std::vector<FeatureTransform> features_;
  size_t output_width_ = 0;
};

}  // namespace slipway::ml
