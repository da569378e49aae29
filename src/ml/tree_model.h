// The Model that serves a TreeEnsemble: from a Frame to the rows the
// ensemble reads, and from its outputs to what MLflow's pyfunc returns.
//
// Both tree loaders (xgboost_model.cc, lightgbm_model.cc) describe the model
// they read with TreeModelOptions and hand it here, so feature matching,
// category names and the shape of the answer are decided in one place.
// Immutable once built; Predict is thread-safe.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "ml/model.h"
#include "ml/tree_ensemble.h"

namespace slipway::ml {

// What pyfunc's predict returns for the model.
enum class TreeOutput {
  kScores,       // the ensemble's outputs: a vector, or a matrix for k > 1
  kBinaryLabel,  // XGBClassifier: 1 where the score is > 0.5, else 0
  kArgmaxLabel,  // XGBClassifier (multi-class): the index of the largest
  kIntLabel,     // XGBClassifier with multi:softmax: the score as an integer
};

struct TreeModelOptions {
  std::string flavor;  // "xgboost", "lightgbm"
  // The model's feature names in its own order; empty when it has none.
  std::vector<std::string> feature_names;
  // Per feature: the category names the model was trained with (a string
  // maps to its index), or empty (the column must hold numeric codes).
  std::vector<std::vector<std::string>> category_names;
  // A string not among category_names: NaN (LightGBM maps an unseen pandas
  // category to missing) or INVALID_PARAMETER_VALUE (XGBoost rejects it).
  bool unknown_category_is_missing = false;
  TreeOutput output = TreeOutput::kScores;
};

std::unique_ptr<Model> MakeTreeModel(MlModel mlmodel, std::shared_ptr<const TreeEnsemble> ensemble,
                                     TreeModelOptions options);

// Puts `input` into the row-major matrix `ensemble` reads (rows x
// num_features). Exposed for the tests and the benchmark.
std::vector<double> TreeModelRows(const Frame& input, size_t num_features,
                                  const TreeModelOptions& options);

}  // namespace slipway::ml
