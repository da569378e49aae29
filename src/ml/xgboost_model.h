// Native evaluation of the MLflow 'xgboost' flavor (placeholder interface; the
// evaluator lands with the tree-model work).
#pragma once

#include <memory>

#include "ml/model.h"

namespace slipway::ml {

// Loads the 'xgboost' flavor of `mlmodel` for evaluation in process.
std::unique_ptr<Model> LoadXGBoostFlavor(const MlModel& mlmodel);

}  // namespace slipway::ml
