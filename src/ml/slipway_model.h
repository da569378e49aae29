// Native evaluation of the `slipway` flavor: models trained by `slipway
// train` (training/model_folder.h), served with the preprocessing they were
// trained with.
//
// The folder's `preprocessing.json` (preprocessing.h) turns a request's raw
// columns into the model's inputs with the same per-value rules training
// used, then the model runs natively: `model.ubj` through the tree evaluator
// (tree_ensemble.h, categorical splits included), `model.json` through
// LinearEvaluator below. The bare `xgboost` flavor beside it expects the
// columns after preprocessing, which is why the loader reads `slipway` first.
//
// What a request gets back, by the flavor's task:
//   regression   the predicted values (a list).
//   binary,      the predicted class's label, from the flavor's `classes`
//   multiclass   (the label of P(class 1) > 0.5, or of the most probable
//                class): a list, as an XGBClassifier served through
//                mlflow.xgboost answers, with labels in place of indexes.
//                Labels are numbers when every class is an integer, booleans
//                for the classes false and true, else strings.
//                With inference params {"predict_method": "predict_proba"}:
//                one list of class probabilities per row, in `classes`
//                order (binary: [P(class 0), P(class 1)]), as scikit-learn's
//                predict_proba.
// The model's signature is the MLmodel's, or (a trained model has none) one
// made from the flavor's inputs: numeric columns as double (boolean for a
// bool column), categorical ones as string; so a missing column or a value
// of the wrong type is refused before the model, naming the column.
//
// Immutable once loaded; Predict is thread-safe.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "ml/model.h"

namespace slipway::ml {

// Loads the `slipway` flavor of `mlmodel`. Throws INVALID_PARAMETER_VALUE for
// a malformed folder (naming the file and what is wrong), NOT_IMPLEMENTED
// for a model type or format version Slipway does not know.
std::unique_ptr<Model> LoadSlipwayFlavor(const MlModel& mlmodel);

// A linear model's `model.json` (training's linear_trainer.cc): per output k,
// z_k = intercept_k + sum_j x_j * coefficient_jk, then the link: identity,
// logistic (one output) or softmax (one output per class). Immutable;
// Predict is thread-safe.
class LinearEvaluator {
 public:
  enum class Link { kIdentity, kLogistic, kSoftmax };

  // Parses `text`, taking the coefficients in the order `features` names
  // them (the model's columns after preprocessing). INVALID_PARAMETER_VALUE
  // when the file is malformed or does not cover exactly those features.
  static LinearEvaluator Parse(std::string_view text, const std::vector<std::string>& features);

  size_t num_features() const { return num_features_; }
  size_t num_outputs() const { return intercept_.size(); }
  Link link() const { return link_; }

  // `n` rows of num_features() values each (row-major) to n * num_outputs()
  // values in `out`.
  void Predict(const double* rows, size_t n, double* out) const;

 private:
  Link link_ = Link::kIdentity;
  size_t num_features_ = 0;
  std::vector<double> intercept_;     // one per output
  std::vector<double> coefficients_;  // num_features x num_outputs, row-major
};

}  // namespace slipway::ml
