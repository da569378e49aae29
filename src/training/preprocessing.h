// The preprocessing of a training spec, fitted on training rows and applied
// to any rows: imputation, categorical encoding, scaling.
//
// Fit sees only the rows it is given (a fold's training rows, or every row
// but the holdout for the final model), so nothing about validation or
// holdout rows leaks into the transform: medians, means, scales, the
// categories one-hot knows and the most frequent category all come from the
// training rows. Per feature, in the spec's feature order:
//
//   numeric      missing -> median | mean of the training values (or kept
//                NaN with impute.numeric: none); then scale: standard
//                (x - mean) / std (population std, as scikit-learn's
//                StandardScaler; a constant column keeps scale 1) or minmax
//                (x - min) / (max - min); imputed values count in the stats.
//   categorical  missing -> the most frequent training category (ties: the
//                smallest text), or a category of its own ("__missing__");
//                then onehot: one 0/1 column per training category, sorted
//                by text (a category unseen in training is all zeros), or
//                native: one column holding the category's index in that
//                sorted list (unseen: NaN), which XGBoost reads as a
//                categorical feature.
//
// A Preprocessor is the fitting side of ml::Preprocessing (ml/preprocessing.h),
// the value saved as `preprocessing.json`: it applies by category text, not
// by a Table's codes, with the per-value rules serving uses too, so a model
// served by Slipway sees exactly what it was trained on. Thread-safe to use.
#pragma once

#include <cstddef>
#include <nlohmann/json.hpp>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "ml/preprocessing.h"
#include "training/spec.h"
#include "training/table.h"

namespace slipway::training {

using ml::FeatureTransform;

class Preprocessor {
 public:
  static constexpr const char* kMissingCategory = ml::Preprocessing::kMissingCategory;

  // Fitted on `rows` of `table`, for the columns `features`.
  static Preprocessor Fit(const Table& table, std::span<const size_t> rows,
                          const std::vector<std::string>& features, const Preprocessing& options);

  // `rows` of `table` transformed: rows.size() x OutputNames().size().
  Matrix Transform(const Table& table, std::span<const size_t> rows) const;

  // The transformed columns' names: the feature's name, or "name=category"
  // for a one-hot column.
  std::vector<std::string> OutputNames() const { return value_.OutputNames(); }
  // Per transformed column: true where XGBoost should read a category index.
  std::vector<bool> OutputCategorical() const { return value_.OutputCategorical(); }

  const std::vector<FeatureTransform>& features() const { return value_.features(); }
  // What serving applies.
  const ml::Preprocessing& value() const { return value_; }

  nlohmann::json ToJson() const { return value_.ToJson(); }
  // INVALID_PARAMETER_VALUE naming the field on malformed input.
  static Preprocessor FromJson(const nlohmann::json& json);

 private:
  ml::Preprocessing value_;
};

}  // namespace slipway::training
