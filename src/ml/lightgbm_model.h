// Native evaluation of the MLflow 'lightgbm' flavor.
//
// mlflow.lightgbm saves a lightgbm.Booster as LightGBM's text model
// (`model.lgb`); this reads it into a TreeEnsemble and answers what the
// Booster's predict does (probabilities for binary, a matrix for multiclass,
// scores for regression). A scikit-learn wrapper (LGBMClassifier...) is
// pickled by MLflow and is NOT_IMPLEMENTED here, so the loader serves it
// through Python; so are linear trees and objectives not listed in the .cc.
#pragma once

#include <memory>
#include <string_view>

#include "ml/model.h"
#include "ml/tree_ensemble.h"
#include "ml/tree_model.h"

namespace slipway::ml {

// Loads the 'lightgbm' flavor of `mlmodel` for evaluation in process.
std::unique_ptr<Model> LoadLightGBMFlavor(const MlModel& mlmodel);

struct LightGBMModel {
  std::shared_ptr<const TreeEnsemble> ensemble;
  TreeModelOptions options;
};

// Parses a LightGBM text model. Throws INVALID_PARAMETER_VALUE for a
// malformed model, NOT_IMPLEMENTED for a variant not evaluated natively.
LightGBMModel ParseLightGBMModel(std::string_view text);

}  // namespace slipway::ml
